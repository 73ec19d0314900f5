/* natter-contact.h: one contact, its stored fields and the runtime state the UI shows. */
#pragma once

#include <glib-object.h>

#include "natter-enums.h"
#include "natter-types.h"

G_BEGIN_DECLS

/* Stored as integers in the database: never renumber. */
typedef enum
{
  NATTER_CONTACT_PENDING_OUT = 0, /* we asked, they have not answered */
  NATTER_CONTACT_PENDING_IN  = 1, /* they asked, we have not answered */
  NATTER_CONTACT_ACCEPTED    = 2,
  NATTER_CONTACT_DECLINED    = 3,
  NATTER_CONTACT_BLOCKED     = 4,
} NatterContactState;

#define NATTER_TYPE_CONTACT_STATE (natter_contact_state_get_type ())
GType natter_contact_state_get_type (void);

#define NATTER_TYPE_CONTACT (natter_contact_get_type ())
G_DECLARE_FINAL_TYPE (NatterContact, natter_contact, NATTER, CONTACT, GObject)

NatterContact      *natter_contact_new                      (const char         *peer_id);

const char         *natter_contact_get_peer_id              (NatterContact      *self);
const char         *natter_contact_get_short_id             (NatterContact      *self);
const char         *natter_contact_get_display_name         (NatterContact      *self);

const char         *natter_contact_get_name                 (NatterContact      *self);
void                natter_contact_set_name                 (NatterContact      *self,
                                                             const char         *name);
NatterContactState  natter_contact_get_state                (NatterContact      *self);
void                natter_contact_set_state                (NatterContact      *self,
                                                             NatterContactState  state);
gboolean            natter_contact_get_verified             (NatterContact      *self);
void                natter_contact_set_verified             (NatterContact      *self,
                                                             gboolean            verified);
gint64              natter_contact_get_last_seen            (NatterContact      *self);
void                natter_contact_set_last_seen            (NatterContact      *self,
                                                             gint64              last_seen);

/* Runtime only: never stored. */
gboolean            natter_contact_get_online               (NatterContact      *self);
void                natter_contact_set_online               (NatterContact      *self,
                                                             gboolean            online);
NatterSessionState  natter_contact_get_session_state        (NatterContact      *self);
void                natter_contact_set_session_state        (NatterContact      *self,
                                                             NatterSessionState  session_state);
int                 natter_contact_get_unread_count         (NatterContact      *self);
void                natter_contact_set_unread_count         (NatterContact      *self,
                                                             int                 unread_count);
gint64              natter_contact_get_last_activity        (NatterContact      *self);
void                natter_contact_set_last_activity        (NatterContact      *self,
                                                             gint64              last_activity);
const char         *natter_contact_get_last_message_preview (NatterContact      *self);
void                natter_contact_set_last_message_preview (NatterContact      *self,
                                                             const char         *preview);

G_END_DECLS
