/* natter-message-list.h: one conversation's messages as a lazy GListModel in display order. */
#pragma once

#include <gio/gio.h>

#include "natter-types.h"
#include "natter-message.h"

G_BEGIN_DECLS

#define NATTER_TYPE_MESSAGE_LIST (natter_message_list_get_type ())
G_DECLARE_FINAL_TYPE (NatterMessageList, natter_message_list, NATTER, MESSAGE_LIST, GObject)

NatterMessageList *natter_message_list_new          (NatterStore       *store,
                                                     const char        *conversation,
                                                     GError           **error);
const char        *natter_message_list_get_conversation (NatterMessageList *self);
guint              natter_message_list_insert       (NatterMessageList *self,
                                                     NatterMessage     *message);
NatterMessage     *natter_message_list_lookup       (NatterMessageList *self,
                                                     const char        *id);

G_END_DECLS
