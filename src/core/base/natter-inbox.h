/* natter-inbox.h: events posted from any thread, handled in order on one main context. */
#pragma once

#include <glib-object.h>

G_BEGIN_DECLS

typedef struct _NatterInbox NatterInbox;

/**
 * NatterInboxHandler:
 * @owner: a strong reference to the inbox's owner, held for the call
 * @inbox: the inbox the event came from; owners compare it with the one
 *   they hold now, so events of a replaced inbox are recognised
 * @event: the event; the inbox frees it after the call
 *
 * Runs on the inbox's main context, never inside natter_inbox_post().
 */
typedef void (*NatterInboxHandler) (GObject     *owner,
                                    NatterInbox *inbox,
                                    gpointer     event);

/* At most this many events are handled per main-loop dispatch, so a flood
 * from a streaming thread cannot starve the rest of the main loop. */
#define NATTER_INBOX_MAX_PER_DISPATCH 64

GType        natter_inbox_get_type (void) G_GNUC_CONST;
#define NATTER_TYPE_INBOX (natter_inbox_get_type ())

NatterInbox *natter_inbox_new      (GMainContext       *context,
                                    int                 priority,
                                    const char         *name,
                                    GObject            *owner,
                                    NatterInboxHandler  handler,
                                    GDestroyNotify      event_free,
                                    gboolean            gated);
NatterInbox *natter_inbox_ref      (NatterInbox        *inbox);
void         natter_inbox_unref    (NatterInbox        *inbox);
void         natter_inbox_post     (NatterInbox        *inbox,
                                    gpointer            event);
void         natter_inbox_activate (NatterInbox        *inbox);
void         natter_inbox_close    (NatterInbox        *inbox);
gboolean     natter_inbox_is_closed (NatterInbox       *inbox);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (NatterInbox, natter_inbox_unref)

G_END_DECLS
