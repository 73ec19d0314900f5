/* natter-conversation-view.h: one conversation: header, timeline, composer and search. */
#pragma once

#include <adwaita.h>

#include "natter-client.h"

G_BEGIN_DECLS

#define NATTER_TYPE_CONVERSATION_VIEW (natter_conversation_view_get_type ())
G_DECLARE_FINAL_TYPE (NatterConversationView, natter_conversation_view, NATTER, CONVERSATION_VIEW, AdwBin)

GtkWidget     *natter_conversation_view_new         (NatterClient           *client);
NatterClient  *natter_conversation_view_get_client  (NatterConversationView *self);
NatterContact *natter_conversation_view_get_contact (NatterConversationView *self);
void           natter_conversation_view_set_contact (NatterConversationView *self,
                                                     NatterContact          *contact);
gboolean       natter_conversation_view_get_folded  (NatterConversationView *self);
void           natter_conversation_view_set_folded  (NatterConversationView *self,
                                                     gboolean                folded);
void           natter_conversation_view_set_banner  (NatterConversationView *self,
                                                     const char             *text);

G_END_DECLS
