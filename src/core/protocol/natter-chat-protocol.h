/* natter-chat-protocol.h: delivery and reconciliation of one peer session's chat channel. */
#pragma once

#include <json-glib/json-glib.h>

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

/* Keep-alive: a ping when we have sent nothing for the interval; the peer is
 * declared gone ("peer-timeout") when nothing arrived for the timeout. */
#define NATTER_CHAT_KEEPALIVE_INTERVAL_MS 5000
#define NATTER_CHAT_KEEPALIVE_TIMEOUT_MS  15000

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
/* Sends a "file" frame (the transfer layer's control messages) whose members
 * besides "t" and "conv" are @fields. Received ones are emitted unchecked as
 * "file-frame" (conversation, JsonObject); their receiver validates them. */
gboolean            natter_chat_protocol_send_file        (NatterChatProtocol        *self,
                                                           const char                *conversation,
                                                           JsonObject                *fields,
                                                           GError                   **error);
/* 0 disables; both default to the NATTER_CHAT_KEEPALIVE_* values, scaled by
 * the environment variable NATTER_KEEPALIVE_SCALE (tests). */
void                natter_chat_protocol_set_keepalive    (NatterChatProtocol        *self,
                                                           guint                      interval_ms,
                                                           guint                      timeout_ms);
guint64             natter_chat_protocol_get_bytes_sent   (NatterChatProtocol        *self);
guint64             natter_chat_protocol_get_frames_sent  (NatterChatProtocol        *self);
guint64             natter_chat_protocol_get_rejected     (NatterChatProtocol        *self);

G_END_DECLS
