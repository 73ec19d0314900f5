/* natter-message.h: one immutable chat message, its id and its display order. */
#pragma once

#include <glib-object.h>

#include "natter-types.h"

G_BEGIN_DECLS

/* Stored as integers in the database: never renumber.  A message only
 * moves forward through these states. */
typedef enum
{
  NATTER_MESSAGE_QUEUED    = 0,
  NATTER_MESSAGE_SENT      = 1,
  NATTER_MESSAGE_DELIVERED = 2, /* the peer committed it */
  NATTER_MESSAGE_READ      = 3,
} NatterMessageState;

#define NATTER_TYPE_MESSAGE_STATE (natter_message_state_get_type ())
GType natter_message_state_get_type (void);

#define NATTER_TYPE_MESSAGE (natter_message_get_type ())
G_DECLARE_FINAL_TYPE (NatterMessage, natter_message, NATTER, MESSAGE, GObject)

NatterMessage      *natter_message_new              (const char         *id,
                                                     const char         *conversation,
                                                     const char         *author,
                                                     gint64              seq,
                                                     gint64              hlc_l,
                                                     gint64              hlc_c,
                                                     const char         *body,
                                                     const char         *reply_to,
                                                     NatterMessageState  state,
                                                     gboolean            late,
                                                     gint64              received_at);

const char         *natter_message_get_id           (NatterMessage      *self);
const char         *natter_message_get_conversation (NatterMessage      *self);
const char         *natter_message_get_author       (NatterMessage      *self);
gint64              natter_message_get_seq          (NatterMessage      *self);
gint64              natter_message_get_hlc_l        (NatterMessage      *self);
gint64              natter_message_get_hlc_c        (NatterMessage      *self);
const char         *natter_message_get_body         (NatterMessage      *self);
const char         *natter_message_get_reply_to     (NatterMessage      *self);
gint64              natter_message_get_received_at  (NatterMessage      *self);
NatterMessageState  natter_message_get_state        (NatterMessage      *self);
void                natter_message_set_state        (NatterMessage      *self,
                                                     NatterMessageState  state);
gboolean            natter_message_get_late         (NatterMessage      *self);
void                natter_message_set_late         (NatterMessage      *self,
                                                     gboolean            late);

int                 natter_message_compare          (NatterMessage      *a,
                                                     NatterMessage      *b);

char               *natter_message_compute_id       (const char         *author,
                                                     gint64              seq,
                                                     gint64              hlc_l,
                                                     gint64              hlc_c,
                                                     const char         *body);

char               *natter_conversation_id_direct   (const char         *peer_a,
                                                     const char         *peer_b);

G_END_DECLS
