/* natter-chat-protocol.h: delivery and reconciliation of one peer session's chat channel. */
#pragma once

#include <glib-object.h>

#include "natter-types.h"
#include "natter-message.h"

G_BEGIN_DECLS

/* What the protocol needs from the channel under it: a real NatterPeerSession
 * in the client, an in-memory pipe in unit tests. */
typedef struct
{
  gboolean (*send)     (gpointer   data,
                        GBytes    *frame,
                        GError   **error);
  guint64  (*buffered) (gpointer   data);
} NatterChatTransport;

/* Stop queueing frames into the channel above this many buffered bytes. */
#define NATTER_CHAT_HIGH_WATER (1024 * 1024)

#define NATTER_TYPE_CHAT_PROTOCOL (natter_chat_protocol_get_type ())
G_DECLARE_FINAL_TYPE (NatterChatProtocol, natter_chat_protocol, NATTER, CHAT_PROTOCOL, GObject)

NatterChatProtocol *natter_chat_protocol_new              (NatterStore               *store,
                                                           NatterHlc                 *hlc,
                                                           const char                *local_peer_id,
                                                           const char                *remote_peer_id,
                                                           const NatterChatTransport *transport,
                                                           gpointer                   transport_data);
void                natter_chat_protocol_add_conversation (NatterChatProtocol        *self,
                                                           const char                *conversation,
                                                           const char * const        *members);
void                natter_chat_protocol_start            (NatterChatProtocol        *self);
gboolean            natter_chat_protocol_receive          (NatterChatProtocol        *self,
                                                           GBytes                    *frame,
                                                           GError                   **error);
void                natter_chat_protocol_pump             (NatterChatProtocol        *self);
void                natter_chat_protocol_message_added    (NatterChatProtocol        *self,
                                                           NatterMessage             *message);
gboolean            natter_chat_protocol_send_typing      (NatterChatProtocol        *self,
                                                           const char                *conversation,
                                                           gboolean                   typing,
                                                           GError                   **error);
gboolean            natter_chat_protocol_send_read        (NatterChatProtocol        *self,
                                                           const char                *conversation,
                                                           gint64                     upto,
                                                           GError                   **error);
gboolean            natter_chat_protocol_is_synced        (NatterChatProtocol        *self,
                                                           const char                *conversation);
guint64             natter_chat_protocol_get_bytes_sent   (NatterChatProtocol        *self);
guint64             natter_chat_protocol_get_frames_sent  (NatterChatProtocol        *self);
guint64             natter_chat_protocol_get_rejected     (NatterChatProtocol        *self);

G_END_DECLS
