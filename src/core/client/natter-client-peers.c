/* natter-client-peers.c: a session and chat protocol per contact, retries, the chat transport. */
#define G_LOG_DOMAIN "natter-client"

#include "natter-client-private.h"
#include "natter-chat-protocol.h"
#include "natter-error.h"
#include "natter-transfer-manager.h"

static void peer_schedule_retry (Peer *peer);

/* ---- chat channel transport over the peer session ---- */

static gboolean
session_transport_send (gpointer   data,
                        GBytes    *frame,
                        GError   **error)
{
  Peer *peer = data;

  if (peer->session == NULL)
    {
      g_set_error_literal (error, NATTER_ERROR, NATTER_ERROR_NOT_CONNECTED, "No session");
      return FALSE;
    }
  return natter_peer_session_send (peer->session, frame, error);
}

static guint64
session_transport_buffered (gpointer data)
{
  Peer *peer = data;

  return peer->session ? natter_peer_session_get_buffered_amount (peer->session) : 0;
}

static const NatterChatTransport session_transport = {
  session_transport_send,
  session_transport_buffered,
};

/* ---- peers and sessions ---- */

static void session_signal_out_cb (NatterPeerSession *session,
                                   const char        *type,
                                   const char        *session_id,
                                   JsonObject        *body,
                                   Peer              *peer);

void
_natter_client_peer_free (Peer *peer)
{
  g_clear_handle_id (&peer->retry_source, g_source_remove);
  g_clear_object (&peer->protocol);
  if (peer->session != NULL)
    {
      /* Only the "bye" may still go out: the peer learns at once that this
       * connection is over instead of waiting for its keep-alive. */
      g_signal_handlers_disconnect_matched (peer->session, G_SIGNAL_MATCH_DATA, 0, 0, NULL, NULL,
                                            peer);
      g_signal_connect (peer->session, "signal-out", G_CALLBACK (session_signal_out_cb), peer);
      natter_peer_session_close (peer->session);
      g_signal_handlers_disconnect_by_data (peer->session, peer);
      g_clear_object (&peer->session);
    }
  g_free (peer->peer_id);
  g_free (peer->conversation);
  g_free (peer);
}

Peer *
_natter_client_lookup_peer (NatterClient *self,
                            const char   *peer_id)
{
  Peer *peer = g_hash_table_lookup (self->peers, peer_id);

  if (peer == NULL)
    {
      peer = g_new0 (Peer, 1);
      peer->client = self;
      peer->peer_id = g_strdup (peer_id);
      peer->conversation = natter_client_conversation_for (self, peer_id);
      g_hash_table_insert (self->peers, peer->peer_id, peer);
    }
  return peer;
}

gboolean
_natter_client_contact_is_accepted (NatterClient *self,
                                    const char   *peer_id)
{
  NatterContact *contact = natter_client_lookup_contact (self, peer_id);

  return contact != NULL && natter_contact_get_state (contact) == NATTER_CONTACT_ACCEPTED;
}

static void
protocol_message_received_cb (NatterChatProtocol *protocol,
                              NatterMessage      *message,
                              Peer               *peer)
{
  NatterClient *self = peer->client;
  NatterMessageList *list = _natter_client_lookup_list (self,
                                                        natter_message_get_conversation (message));

  if (list != NULL)
    natter_message_list_insert (list, message);
  _natter_client_touch_contact (self, peer->peer_id, message, TRUE);
  g_signal_emit (self, _natter_client_signals[MESSAGE_RECEIVED], 0, message);
}

static void
protocol_state_changed_cb (NatterChatProtocol *protocol,
                           const char         *id,
                           NatterMessageState  state,
                           Peer               *peer)
{
  NatterClient *self = peer->client;
  NatterMessageList *list = _natter_client_lookup_list (self, peer->conversation);
  NatterMessage *message = list ? natter_message_list_lookup (list, id) : NULL;

  if (message != NULL)
    natter_message_set_state (message, state);
  g_signal_emit (self, _natter_client_signals[MESSAGE_STATE_CHANGED], 0, id, state);
}

static void
protocol_typing_cb (NatterChatProtocol *protocol,
                    const char         *conversation,
                    gboolean            typing,
                    Peer               *peer)
{
  NatterContact *contact = natter_client_lookup_contact (peer->client, peer->peer_id);

  if (contact != NULL)
    g_signal_emit (peer->client, _natter_client_signals[TYPING], 0, contact, typing);
}

static void
protocol_synced_cb (NatterChatProtocol *protocol,
                    const char         *conversation,
                    Peer               *peer)
{
  g_signal_emit (peer->client, _natter_client_signals[SYNCED], 0, peer->peer_id);
}

static void
session_frame_received_cb (NatterPeerSession *session,
                           GBytes            *frame,
                           Peer              *peer)
{
  g_autoptr(GError) error = NULL;

  if (peer->protocol == NULL)
    return;
  /* A bad frame is refused alone; the session stays up. */
  if (!natter_chat_protocol_receive (peer->protocol, frame, &error))
    g_info ("Refused a frame from %.8s…: %s", peer->peer_id, error->message);
}

static void
session_buffered_low_cb (NatterPeerSession *session,
                         Peer              *peer)
{
  if (peer->protocol != NULL)
    natter_chat_protocol_pump (peer->protocol);
}

static gboolean
reconnect_idle_cb (gpointer user_data)
{
  Peer *peer = user_data;

  peer->retry_source = 0;
  if (peer->session != NULL)
    natter_peer_session_close (peer->session);
  peer->retry_attempt = 0;
  peer_schedule_retry (peer);
  return G_SOURCE_REMOVE;
}

static void
protocol_peer_timeout_cb (NatterChatProtocol *protocol,
                          Peer               *peer)
{
  g_info ("No sign of life from %.8s… within the keep-alive timeout; reconnecting",
          peer->peer_id);
  /* Not from inside the protocol's own signal: closing drops the protocol. */
  g_clear_handle_id (&peer->retry_source, g_source_remove);
  peer->retry_source = g_idle_add (reconnect_idle_cb, peer);
}

static void
start_protocol (Peer *peer)
{
  NatterClient *self = peer->client;
  const char *members[] = { natter_client_get_peer_id (self), peer->peer_id, NULL };

  g_clear_object (&peer->protocol);
  peer->protocol = natter_chat_protocol_new (self->store, self->hlc,
                                             natter_client_get_peer_id (self), peer->peer_id,
                                             &session_transport, peer);
  natter_chat_protocol_add_conversation (peer->protocol, peer->conversation, members);
  g_signal_connect (peer->protocol, "message-received",
                    G_CALLBACK (protocol_message_received_cb), peer);
  g_signal_connect (peer->protocol, "message-state-changed",
                    G_CALLBACK (protocol_state_changed_cb), peer);
  g_signal_connect (peer->protocol, "typing", G_CALLBACK (protocol_typing_cb), peer);
  g_signal_connect (peer->protocol, "synced", G_CALLBACK (protocol_synced_cb), peer);
  g_signal_connect (peer->protocol, "peer-timeout", G_CALLBACK (protocol_peer_timeout_cb), peer);
  natter_chat_protocol_start (peer->protocol);
  natter_transfer_manager_attach (self->transfers, peer->peer_id, peer->conversation,
                                  peer->session, peer->protocol);

  /* Receipts are idempotent; repeating the last one costs a frame per
   * connection and repairs one lost with an earlier channel. */
  {
    gint64 upto = _natter_client_read_upto (self, peer->conversation);
    g_autoptr(GError) error = NULL;

    if (upto > 0 &&
        !natter_chat_protocol_send_read (peer->protocol, peer->conversation, upto, &error))
      g_debug ("Cannot repeat the read receipt: %s", error->message);
  }
}

static void
session_state_cb (NatterPeerSession *session,
                  GParamSpec        *pspec,
                  Peer              *peer)
{
  NatterClient *self = peer->client;
  NatterSessionState state = natter_peer_session_get_state (session);
  NatterContact *contact = natter_client_lookup_contact (self, peer->peer_id);

  g_debug ("Session with %.8s… is now %d", peer->peer_id, state);
  if (contact != NULL)
    natter_contact_set_session_state (contact, state);

  switch (state)
    {
    case NATTER_SESSION_CONNECTED:
      peer->retry_attempt = 0;
      g_clear_handle_id (&peer->retry_source, g_source_remove);
      start_protocol (peer);
      break;

    case NATTER_SESSION_DISCONNECTED:
    case NATTER_SESSION_FAILED:
      g_clear_object (&peer->protocol);
      peer_schedule_retry (peer);
      break;

    case NATTER_SESSION_CONNECTING:
    case NATTER_SESSION_CLOSED:
      /* A new offer replaced a connected attempt (the peer restarted) or
       * the session was closed: the channel under the protocol is gone. */
      g_clear_object (&peer->protocol);
      break;

    case NATTER_SESSION_NEW:
    default:
      break;
    }

  if (contact != NULL)
    g_signal_emit (self, _natter_client_signals[SESSION_STATE_CHANGED], 0, contact, (int) state);
}

static void
session_signal_out_cb (NatterPeerSession *session,
                       const char        *type,
                       const char        *session_id,
                       JsonObject        *body,
                       Peer              *peer)
{
  g_autoptr(GError) error = NULL;

  if (!natter_signaling_send (peer->client->signaling, peer->peer_id, type, session_id, body,
                              &error))
    g_info ("Cannot send %s to %.8s…: %s", type, peer->peer_id, error->message);
}

NatterPeerSession *
_natter_client_peer_ensure_session (Peer *peer)
{
  NatterClient *self = peer->client;

  if (peer->session != NULL &&
      natter_peer_session_get_state (peer->session) == NATTER_SESSION_CLOSED)
    {
      g_signal_handlers_disconnect_by_data (peer->session, peer);
      g_clear_object (&peer->session);
    }
  if (peer->session == NULL)
    {
      peer->session = natter_peer_session_new (natter_client_get_peer_id (self), peer->peer_id,
                                               self->ice);
      g_signal_connect (peer->session, "signal-out", G_CALLBACK (session_signal_out_cb), peer);
      g_signal_connect (peer->session, "frame-received",
                        G_CALLBACK (session_frame_received_cb), peer);
      g_signal_connect (peer->session, "buffered-amount-low",
                        G_CALLBACK (session_buffered_low_cb), peer);
      g_signal_connect (peer->session, "notify::state", G_CALLBACK (session_state_cb), peer);
      /* webrtcbin's default threshold of 0 never fires: resume well before the buffer drains. */
      natter_peer_session_set_buffered_amount_low_threshold (peer->session,
                                                             NATTER_CHAT_HIGH_WATER / 4);
    }
  return peer->session;
}

void
_natter_client_peer_connect (Peer *peer)
{
  NatterPeerSession *session = _natter_client_peer_ensure_session (peer);
  NatterSessionState state = natter_peer_session_get_state (session);

  if (state == NATTER_SESSION_CONNECTED || state == NATTER_SESSION_CONNECTING)
    return;
  natter_peer_session_connect (session);
}

static gboolean
retry_cb (gpointer user_data)
{
  Peer *peer = user_data;

  peer->retry_source = 0;
  if (natter_signaling_is_online (peer->client->signaling, peer->peer_id) &&
      _natter_client_contact_is_accepted (peer->client, peer->peer_id))
    _natter_client_peer_connect (peer);
  return G_SOURCE_REMOVE;
}

/* Retries back off 1, 2, 4, 8, 16 s and only while the contact is online. */
static void
peer_schedule_retry (Peer *peer)
{
  guint delay_s;

  if (peer->retry_source != 0 || !peer->client->started ||
      !natter_signaling_is_online (peer->client->signaling, peer->peer_id))
    return;
  delay_s = MIN (1u << MIN (peer->retry_attempt, 4u), NATTER_CLIENT_RETRY_MAX_S);
  peer->retry_attempt++;
  peer->retry_source = g_timeout_add_seconds (delay_s, retry_cb, peer);
}

/**
 * natter_client_get_session:
 *
 * Returns: (transfer none) (nullable): the session with @peer_id, if any
 */
NatterPeerSession *
natter_client_get_session (NatterClient *self,
                           const char   *peer_id)
{
  Peer *peer;

  g_return_val_if_fail (NATTER_IS_CLIENT (self), NULL);

  peer = g_hash_table_lookup (self->peers, peer_id);
  return peer ? peer->session : NULL;
}

/**
 * natter_client_get_chat_protocol:
 *
 * Returns: (transfer none) (nullable): the open chat protocol with @peer_id
 */
NatterChatProtocol *
natter_client_get_chat_protocol (NatterClient *self,
                                 const char   *peer_id)
{
  Peer *peer;

  g_return_val_if_fail (NATTER_IS_CLIENT (self), NULL);

  peer = g_hash_table_lookup (self->peers, peer_id);
  return peer ? peer->protocol : NULL;
}

/**
 * natter_client_connect:
 *
 * Opens a session to an accepted contact now, without waiting for presence.
 */
void
natter_client_connect (NatterClient *self,
                       const char   *peer_id)
{
  g_return_if_fail (NATTER_IS_CLIENT (self));

  if (self->signaling != NULL && _natter_client_contact_is_accepted (self, peer_id))
    _natter_client_peer_connect (_natter_client_lookup_peer (self, peer_id));
}
