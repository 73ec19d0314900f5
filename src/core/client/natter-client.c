/* natter-client.c: one account: owns identity, store, signaling and a session per contact. */
#define G_LOG_DOMAIN "natter-client"

#include "natter-client.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "natter-chat-frame.h"
#include "natter-chat-protocol.h"
#include "natter-error.h"
#include "natter-hlc.h"
#include "natter-identity.h"
#include "natter-message-list.h"
#include "natter-store.h"
#include "natter-transfer-manager.h"

#define MAX_NAME_LEN 128
#define PREVIEW_LEN  80
/* A peer may ask to become a contact at most this often. */
#define CONTACT_REQUEST_INTERVAL_US (10 * G_USEC_PER_SEC)
/* Requests from new senders: a burst of this many, then one per interval,
 * and never more than MAX_PENDING_REQUESTS unanswered ones stored. A
 * flood of fresh keys costs the broker, not our disk. */
#define NEW_REQUEST_BURST       10
#define NEW_REQUEST_INTERVAL_US (6 * G_USEC_PER_SEC)
#define MAX_PENDING_REQUESTS    64
/* Profile metadata key: the broker password stays with the account it
 * belongs to, in the 0700 profile directory, never in dconf. */
#define BROKER_PASSWORD_KEY "broker-password"

typedef struct
{
  NatterClient       *client;        /* borrowed: the client owns the peer */
  char               *peer_id;
  char               *conversation;
  NatterPeerSession  *session;
  NatterChatProtocol *protocol;
  guint               retry_source;
  guint               retry_attempt;
  gint64              last_request_us;
} Peer;

struct _NatterClient
{
  GObject          parent_instance;

  char            *profile_dir;
  NatterClientFlags flags;
  int              lock_fd;
  NatterIdentity  *identity;
  NatterStore     *store;
  NatterHlc       *hlc;
  NatterSignaling *signaling;
  NatterIceConfig *ice;
  GListStore      *contacts;
  GHashTable      *peers;           /* peer id → Peer */
  GHashTable      *message_lists;   /* conversation → NatterMessageList */
  NatterTransferManager *transfers; /* file transfers (issue 7) */
  guint            save_hlc_source;
  gboolean         auto_accept;
  gboolean         started;
  double           request_tokens;
  gint64           request_tokens_us;
};

enum {
  PROP_0,
  PROP_SIGNALING_STATE,
  PROP_SIGNALING_NEXT_RETRY,
  PROP_SIGNALING_LAST_ERROR,
  N_PROPS
};

enum {
  CONTACT_REQUEST,
  CONTACT_CHANGED,
  MESSAGE_RECEIVED,
  MESSAGE_STATE_CHANGED,
  SESSION_STATE_CHANGED,
  PRESENCE_CHANGED,
  TYPING,
  SYNCED,
  TRANSFER_ADDED,
  BROKER_PASSWORD_CHANGED,
  N_SIGNALS
};

static GParamSpec *properties[N_PROPS];
static guint signals[N_SIGNALS];

G_DEFINE_FINAL_TYPE (NatterClient, natter_client, G_TYPE_OBJECT)

static void peer_schedule_retry (Peer *peer);
static void peer_connect (Peer *peer);
static void transfers_init (NatterClient *self);

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

/* ---- helpers ---- */

static NatterMessageList *
lookup_list (NatterClient *self,
             const char   *conversation)
{
  return g_hash_table_lookup (self->message_lists, conversation);
}

static void
touch_contact (NatterClient  *self,
               const char    *peer_id,
               NatterMessage *message,
               gboolean       incoming)
{
  NatterContact *contact = natter_client_lookup_contact (self, peer_id);
  g_autofree char *preview = NULL;
  const char *body;

  if (contact == NULL)
    return;
  body = natter_message_get_body (message);
  preview = g_utf8_substring (body, 0, MIN (g_utf8_strlen (body, -1), PREVIEW_LEN));
  natter_contact_set_last_message_preview (contact, preview);
  natter_contact_set_last_activity (contact,
                                    MAX (natter_contact_get_last_activity (contact),
                                         natter_message_get_hlc_l (message)));
  if (incoming)
    natter_contact_set_unread_count (contact, natter_contact_get_unread_count (contact) + 1);
}

static gboolean
save_hlc_cb (gpointer user_data)
{
  NatterClient *self = user_data;
  NatterHlcStamp last = natter_hlc_get_last (self->hlc);
  g_autofree char *value = g_strdup_printf ("%" G_GINT64_FORMAT ":%" G_GINT64_FORMAT,
                                            last.l, last.c);
  g_autoptr(GError) error = NULL;

  self->save_hlc_source = 0;
  if (!natter_store_set_meta (self->store, "hlc", value, &error))
    g_warning ("Cannot save the clock: %s", error->message);
  return G_SOURCE_REMOVE;
}

static void
hlc_advanced_cb (NatterClient *self)
{
  /* Coalesced: a restart also restores from the newest stored message. */
  if (self->save_hlc_source == 0 && !(self->flags & NATTER_CLIENT_READ_ONLY))
    self->save_hlc_source = g_idle_add (save_hlc_cb, self);
}

static void
restore_hlc (NatterClient *self)
{
  g_autofree char *value = natter_store_get_meta (self->store, "hlc", NULL);
  guint n = g_list_model_get_n_items (G_LIST_MODEL (self->contacts));

  if (value != NULL)
    {
      g_auto(GStrv) parts = g_strsplit (value, ":", 2);

      if (g_strv_length (parts) == 2)
        natter_hlc_restore (self->hlc, (NatterHlcStamp) {
          g_ascii_strtoll (parts[0], NULL, 10), g_ascii_strtoll (parts[1], NULL, 10) });
    }
  for (guint i = 0; i < n; i++)
    {
      g_autoptr(NatterContact) contact = g_list_model_get_item (G_LIST_MODEL (self->contacts), i);
      g_autofree char *conv = natter_client_conversation_for (self,
                                                              natter_contact_get_peer_id (contact));
      g_autoptr(NatterMessage) last = natter_store_get_last_message (self->store, conv, NULL);

      /* A stamp that was quarantined on arrival must not move the clock now either. */
      if (last != NULL &&
          natter_message_get_hlc_l (last) <= g_get_real_time () / 1000 + NATTER_HLC_MAX_AHEAD_MS)
        natter_hlc_restore (self->hlc, (NatterHlcStamp) { natter_message_get_hlc_l (last),
                                                          natter_message_get_hlc_c (last) });
    }
}

static void
emit_contact_changed (NatterClient  *self,
                      NatterContact *contact)
{
  g_signal_emit (self, signals[CONTACT_CHANGED], 0, contact);
}

static gboolean
save_contact (NatterClient   *self,
              NatterContact  *contact,
              GError        **error)
{
  if (!natter_store_save_contact (self->store, contact, error))
    return FALSE;
  emit_contact_changed (self, contact);
  return TRUE;
}

/* ---- peers and sessions ---- */

static void session_signal_out_cb (NatterPeerSession *session,
                                   const char        *type,
                                   const char        *session_id,
                                   JsonObject        *body,
                                   Peer              *peer);

static void
peer_free (Peer *peer)
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

static Peer *
lookup_peer (NatterClient *self,
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

static gboolean
contact_is_accepted (NatterClient *self,
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
  NatterMessageList *list = lookup_list (self, natter_message_get_conversation (message));

  if (list != NULL)
    natter_message_list_insert (list, message);
  touch_contact (self, peer->peer_id, message, TRUE);
  g_signal_emit (self, signals[MESSAGE_RECEIVED], 0, message);
}

static void
protocol_state_changed_cb (NatterChatProtocol *protocol,
                           const char         *id,
                           NatterMessageState  state,
                           Peer               *peer)
{
  NatterClient *self = peer->client;
  NatterMessageList *list = lookup_list (self, peer->conversation);
  NatterMessage *message = list ? natter_message_list_lookup (list, id) : NULL;

  if (message != NULL)
    natter_message_set_state (message, state);
  g_signal_emit (self, signals[MESSAGE_STATE_CHANGED], 0, id, state);
}

static void
protocol_typing_cb (NatterChatProtocol *protocol,
                    const char         *conversation,
                    gboolean            typing,
                    Peer               *peer)
{
  NatterContact *contact = natter_client_lookup_contact (peer->client, peer->peer_id);

  if (contact != NULL)
    g_signal_emit (peer->client, signals[TYPING], 0, contact, typing);
}

static void
protocol_synced_cb (NatterChatProtocol *protocol,
                    const char         *conversation,
                    Peer               *peer)
{
  g_signal_emit (peer->client, signals[SYNCED], 0, peer->peer_id);
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

static char *
read_upto_key (const char *conversation)
{
  return g_strconcat ("read-upto:", conversation, NULL);
}

/* The highest seq of the peer's messages we told (or will tell) it we read. */
static gint64
read_upto (NatterClient *self,
           const char   *conversation)
{
  g_autofree char *key = read_upto_key (conversation);
  g_autofree char *value = natter_store_get_meta (self->store, key, NULL);

  return value != NULL ? g_ascii_strtoll (value, NULL, 10) : 0;
}

static gboolean
store_read_upto (NatterClient  *self,
                 Peer          *peer,
                 gint64         upto,
                 GError       **error)
{
  g_autofree char *key = read_upto_key (peer->conversation);
  g_autofree char *value = g_strdup_printf ("%" G_GINT64_FORMAT, upto);

  return natter_store_set_meta (self->store, key, value, error);
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
    gint64 upto = read_upto (self, peer->conversation);
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
    g_signal_emit (self, signals[SESSION_STATE_CHANGED], 0, contact, (int) state);
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

static NatterPeerSession *
peer_ensure_session (Peer *peer)
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

static void
peer_connect (Peer *peer)
{
  NatterPeerSession *session = peer_ensure_session (peer);
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
      contact_is_accepted (peer->client, peer->peer_id))
    peer_connect (peer);
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

/* ---- signaling ---- */

static void
send_contact_envelope (NatterClient *self,
                       const char   *peer_id,
                       const char   *type)
{
  g_autoptr(JsonObject) body = json_object_new ();
  g_autofree char *name = natter_client_dup_display_name (self);
  g_autoptr(GError) error = NULL;

  if (name != NULL)
    json_object_set_string_member (body, "name", name);
  if (!natter_signaling_send (self->signaling, peer_id, type, NULL, body, &error))
    g_info ("Cannot send %s: %s", type, error->message);
}

static char *
sanitize_name (JsonObject *body)
{
  const char *name = NULL;
  GString *clean;

  if (body == NULL || !json_object_has_member (body, "name"))
    return NULL;
  if (JSON_NODE_HOLDS_VALUE (json_object_get_member (body, "name")) &&
      json_node_get_value_type (json_object_get_member (body, "name")) == G_TYPE_STRING)
    name = json_object_get_string_member (body, "name");
  if (name == NULL || !g_utf8_validate (name, -1, NULL))
    return NULL;

  /* No control characters, bounded length: it ends up in lists and notifications. */
  clean = g_string_new (NULL);
  for (const char *p = name; *p && g_utf8_strlen (clean->str, -1) < MAX_NAME_LEN;
       p = g_utf8_next_char (p))
    {
      gunichar ch = g_utf8_get_char (p);

      /* Format characters (bidi overrides, zero-width joiners) let one
       * name look like another. */
      if (!g_unichar_iscntrl (ch) && g_unichar_type (ch) != G_UNICODE_FORMAT)
        g_string_append_unichar (clean, ch);
    }
  g_strstrip (clean->str);
  if (clean->str[0] == '\0')
    return g_string_free (clean, TRUE);
  return g_string_free (clean, FALSE);
}

static void
follow_contact (NatterClient  *self,
                NatterContact *contact)
{
  natter_signaling_follow_presence (self->signaling, natter_contact_get_peer_id (contact));
}

static char *
name_key (const char *name)
{
  g_autofree char *normalized = g_utf8_normalize (name, -1, G_NORMALIZE_ALL);

  return normalized != NULL ? g_utf8_casefold (normalized, -1) : NULL;
}

/* Whether @name reads like our own name or another contact's. */
static gboolean
name_is_taken (NatterClient *self,
               const char   *name,
               const char   *requester)
{
  g_autofree char *key = name_key (name);
  g_autofree char *own = natter_client_dup_display_name (self);
  g_autofree char *own_key = own != NULL ? name_key (own) : NULL;
  guint n = g_list_model_get_n_items (G_LIST_MODEL (self->contacts));

  if (key == NULL || g_strcmp0 (key, own_key) == 0)
    return TRUE;
  for (guint i = 0; i < n; i++)
    {
      g_autoptr(NatterContact) other = g_list_model_get_item (G_LIST_MODEL (self->contacts), i);
      const char *other_name = natter_contact_get_name (other);
      g_autofree char *other_key = NULL;

      if (other_name == NULL || g_str_equal (natter_contact_get_peer_id (other), requester))
        continue;
      other_key = name_key (other_name);
      if (g_strcmp0 (key, other_key) == 0)
        return TRUE;
    }
  return FALSE;
}

static guint
count_pending_requests (NatterClient *self)
{
  guint n = g_list_model_get_n_items (G_LIST_MODEL (self->contacts));
  guint pending = 0;

  for (guint i = 0; i < n; i++)
    {
      g_autoptr(NatterContact) contact = g_list_model_get_item (G_LIST_MODEL (self->contacts), i);

      if (natter_contact_get_state (contact) == NATTER_CONTACT_PENDING_IN)
        pending++;
    }
  return pending;
}

/* Token bucket over requests from senders we have never seen. */
static gboolean
take_new_request_token (NatterClient *self)
{
  gint64 now = g_get_monotonic_time ();

  if (self->request_tokens_us == 0)
    self->request_tokens = NEW_REQUEST_BURST;
  else
    self->request_tokens = MIN (NEW_REQUEST_BURST,
                                self->request_tokens +
                                (double) (now - self->request_tokens_us) / NEW_REQUEST_INTERVAL_US);
  self->request_tokens_us = now;
  if (self->request_tokens < 1.0)
    return FALSE;
  self->request_tokens -= 1.0;
  return TRUE;
}

static void
handle_contact_request (NatterClient   *self,
                        NatterEnvelope *envelope)
{
  const char *from = natter_envelope_get_from (envelope);
  NatterContact *contact = natter_client_lookup_contact (self, from);
  g_autofree char *name = sanitize_name (natter_envelope_get_body (envelope));
  Peer *peer;

  if (contact != NULL)
    {
      switch (natter_contact_get_state (contact))
        {
        case NATTER_CONTACT_BLOCKED:
          return;
        case NATTER_CONTACT_PENDING_OUT:
          /* Both asked: that is consent on both sides. */
          natter_client_accept_contact (self, from, NULL);
          return;
        case NATTER_CONTACT_ACCEPTED:
          /* They lost our acceptance (a new install): say it again. */
          send_contact_envelope (self, from, "contact-accept");
          return;
        case NATTER_CONTACT_PENDING_IN:
        case NATTER_CONTACT_DECLINED:
        default:
          break;
        }
    }

  peer = lookup_peer (self, from);
  if (peer->last_request_us != 0 &&
      g_get_monotonic_time () - peer->last_request_us < CONTACT_REQUEST_INTERVAL_US)
    {
      g_info ("Rate-limited a contact request from %.8s…", from);
      return;
    }
  peer->last_request_us = g_get_monotonic_time ();

  if (name != NULL && name_is_taken (self, name, from))
    {
      /* Someone new calling themselves "Alice" must not pass for the
       * Alice we know: the key's short form goes with the name. */
      g_autofree char *marked = g_strdup_printf ("%s (%.8s)", name, from);

      g_free (name);
      name = g_steal_pointer (&marked);
    }

  if (contact == NULL)
    {
      g_autoptr(NatterContact) created = NULL;

      if (count_pending_requests (self) >= MAX_PENDING_REQUESTS || !take_new_request_token (self))
        {
          g_info ("Dropped a contact request from %.8s…: too many requests", from);
          return;
        }
      created = natter_contact_new (from);
      natter_contact_set_name (created, name);
      natter_contact_set_state (created, NATTER_CONTACT_PENDING_IN);
      if (!save_contact (self, created, NULL))
        return;
      g_list_store_append (self->contacts, created);
      contact = created;
    }
  else
    {
      if (natter_contact_get_name (contact) == NULL)
        natter_contact_set_name (contact, name);
      natter_contact_set_state (contact, NATTER_CONTACT_PENDING_IN);
      save_contact (self, contact, NULL);
    }

  g_signal_emit (self, signals[CONTACT_REQUEST], 0, contact);
  if (self->auto_accept)
    natter_client_accept_contact (self, from, NULL);
}

static void
envelope_received_cb (NatterClient    *self,
                      NatterEnvelope  *envelope,
                      NatterSignaling *signaling)
{
  const char *type = natter_envelope_get_type_name (envelope);
  const char *from = natter_envelope_get_from (envelope);
  NatterContact *contact;

  if (g_str_equal (type, "contact-request"))
    {
      handle_contact_request (self, envelope);
      return;
    }

  contact = natter_client_lookup_contact (self, from);
  if (contact == NULL || natter_contact_get_state (contact) == NATTER_CONTACT_BLOCKED)
    {
      g_info ("Dropped %s from a peer who is not a contact", type);
      return;
    }

  if (g_str_equal (type, "contact-accept") || g_str_equal (type, "contact-decline"))
    {
      if (natter_contact_get_state (contact) != NATTER_CONTACT_PENDING_OUT &&
          natter_contact_get_state (contact) != NATTER_CONTACT_ACCEPTED)
        return;
      natter_contact_set_state (contact, g_str_equal (type, "contact-accept")
                                         ? NATTER_CONTACT_ACCEPTED : NATTER_CONTACT_DECLINED);
      save_contact (self, contact, NULL);
      if (natter_contact_get_state (contact) == NATTER_CONTACT_ACCEPTED &&
          natter_signaling_is_online (self->signaling, from))
        peer_connect (lookup_peer (self, from));
      return;
    }

  if (natter_contact_get_state (contact) != NATTER_CONTACT_ACCEPTED)
    {
      g_info ("Dropped %s from a contact not yet accepted", type);
      return;
    }
  /* Negotiation always names the attempt it belongs to. */
  if (natter_envelope_get_session (envelope) == NULL)
    {
      g_info ("Dropped %s without a session id", type);
      return;
    }
  natter_peer_session_handle_signal (peer_ensure_session (lookup_peer (self, from)), type,
                                     natter_envelope_get_session (envelope),
                                     natter_envelope_get_body (envelope));
}

static void
presence_changed_cb (NatterClient    *self,
                     const char      *peer_id,
                     gboolean         online,
                     gint64           epoch,
                     NatterSignaling *signaling)
{
  NatterContact *contact = natter_client_lookup_contact (self, peer_id);
  Peer *peer;

  if (contact == NULL)
    return;
  natter_contact_set_online (contact, online);
  if (!online)
    natter_contact_set_last_seen (contact, g_get_real_time () / G_USEC_PER_SEC);
  g_signal_emit (self, signals[PRESENCE_CHANGED], 0, contact, online);

  peer = lookup_peer (self, peer_id);
  if (!online)
    {
      /* No retries towards someone who is away; presence restarts them. */
      g_clear_handle_id (&peer->retry_source, g_source_remove);
      peer->retry_attempt = 0;
      return;
    }

  switch (natter_contact_get_state (contact))
    {
    case NATTER_CONTACT_PENDING_OUT:
      send_contact_envelope (self, peer_id, "contact-request");
      break;
    case NATTER_CONTACT_ACCEPTED:
      peer_connect (peer);
      break;
    case NATTER_CONTACT_PENDING_IN:
    case NATTER_CONTACT_DECLINED:
    case NATTER_CONTACT_BLOCKED:
    default:
      break;
    }
}

static void
signaling_state_cb (NatterClient    *self,
                    GParamSpec      *pspec,
                    NatterSignaling *signaling)
{
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_SIGNALING_STATE]);
}

/* NatterSignaling notifies only real changes; so do these. */
static void
signaling_next_retry_cb (NatterClient    *self,
                         GParamSpec      *pspec,
                         NatterSignaling *signaling)
{
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_SIGNALING_NEXT_RETRY]);
}

static void
signaling_last_error_cb (NatterClient    *self,
                         GParamSpec      *pspec,
                         NatterSignaling *signaling)
{
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_SIGNALING_LAST_ERROR]);
}

/* ---- GObject ---- */

static void
natter_client_dispose (GObject *object)
{
  NatterClient *self = (NatterClient *) object;

  natter_client_stop (self);
  if (self->save_hlc_source != 0)
    {
      g_clear_handle_id (&self->save_hlc_source, g_source_remove);
      save_hlc_cb (self);
    }
  g_clear_pointer (&self->peers, g_hash_table_unref);
  g_clear_pointer (&self->message_lists, g_hash_table_unref);
  g_clear_object (&self->transfers);
  if (self->signaling != NULL)
    g_signal_handlers_disconnect_by_data (self->signaling, self);
  g_clear_object (&self->signaling);
  g_clear_object (&self->contacts);

  G_OBJECT_CLASS (natter_client_parent_class)->dispose (object);
}

static void
natter_client_finalize (GObject *object)
{
  NatterClient *self = (NatterClient *) object;

  g_clear_object (&self->hlc);
  g_clear_object (&self->store);
  g_clear_object (&self->identity);
  g_clear_pointer (&self->ice, natter_ice_config_unref);
  if (self->lock_fd >= 0)
    close (self->lock_fd);
  g_free (self->profile_dir);

  G_OBJECT_CLASS (natter_client_parent_class)->finalize (object);
}

static void
natter_client_get_property (GObject    *object,
                            guint       prop_id,
                            GValue     *value,
                            GParamSpec *pspec)
{
  NatterClient *self = NATTER_CLIENT (object);

  switch (prop_id)
    {
    case PROP_SIGNALING_STATE:
      g_value_set_enum (value, self->signaling ? natter_signaling_get_state (self->signaling)
                                               : NATTER_SIGNALING_DISCONNECTED);
      break;
    case PROP_SIGNALING_NEXT_RETRY:
      g_value_set_int64 (value, natter_client_get_signaling_next_retry (self));
      break;
    case PROP_SIGNALING_LAST_ERROR:
      g_value_set_string (value, natter_client_get_signaling_last_error (self));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
natter_client_class_init (NatterClientClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = natter_client_dispose;
  object_class->finalize = natter_client_finalize;
  object_class->get_property = natter_client_get_property;

  properties[PROP_SIGNALING_STATE] =
    g_param_spec_enum ("signaling-state", NULL, NULL,
                       NATTER_TYPE_SIGNALING_STATE, NATTER_SIGNALING_DISCONNECTED,
                       G_PARAM_READABLE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);
  /**
   * NatterClient:signaling-next-retry:
   *
   * g_get_monotonic_time() of the next attempt to reach the broker, or 0
   * when none is scheduled (NatterSignaling:next-retry).
   */
  properties[PROP_SIGNALING_NEXT_RETRY] =
    g_param_spec_int64 ("signaling-next-retry", NULL, NULL,
                        0, G_MAXINT64, 0,
                        G_PARAM_READABLE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);
  /**
   * NatterClient:signaling-last-error:
   *
   * Why the last attempt to reach the broker failed, in words for the user;
   * %NULL while connected or before the first failure
   * (NatterSignaling:last-error).
   */
  properties[PROP_SIGNALING_LAST_ERROR] =
    g_param_spec_string ("signaling-last-error", NULL, NULL, NULL,
                         G_PARAM_READABLE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);
  g_object_class_install_properties (object_class, N_PROPS, properties);

  /**
   * NatterClient::contact-request:
   * @contact: a peer who asked to become a contact (state pending-in)
   */
  signals[CONTACT_REQUEST] = g_signal_new ("contact-request", G_TYPE_FROM_CLASS (klass),
                                           G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                                           G_TYPE_NONE, 1, NATTER_TYPE_CONTACT);
  /**
   * NatterClient::contact-changed:
   * @contact: a contact whose stored state changed
   */
  signals[CONTACT_CHANGED] = g_signal_new ("contact-changed", G_TYPE_FROM_CLASS (klass),
                                           G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                                           G_TYPE_NONE, 1, NATTER_TYPE_CONTACT);
  /**
   * NatterClient::message-received:
   * @message: a new message from a contact, committed to the store
   */
  signals[MESSAGE_RECEIVED] = g_signal_new ("message-received", G_TYPE_FROM_CLASS (klass),
                                            G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                                            G_TYPE_NONE, 1, NATTER_TYPE_MESSAGE);
  /**
   * NatterClient::message-state-changed:
   * @id: one of our messages
   * @state: its new delivery state, committed
   */
  signals[MESSAGE_STATE_CHANGED] = g_signal_new ("message-state-changed",
                                                 G_TYPE_FROM_CLASS (klass),
                                                 G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                                                 G_TYPE_NONE, 2,
                                                 G_TYPE_STRING, NATTER_TYPE_MESSAGE_STATE);
  /**
   * NatterClient::session-state-changed:
   * @contact: the contact
   * @state: the #NatterSessionState of the direct connection
   */
  signals[SESSION_STATE_CHANGED] = g_signal_new ("session-state-changed",
                                                 G_TYPE_FROM_CLASS (klass),
                                                 G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                                                 G_TYPE_NONE, 2, NATTER_TYPE_CONTACT, G_TYPE_INT);
  /**
   * NatterClient::presence-changed:
   * @contact: the contact
   * @online: whether the contact is online, per its signed presence
   */
  signals[PRESENCE_CHANGED] = g_signal_new ("presence-changed",
                                            G_TYPE_FROM_CLASS (klass),
                                            G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                                            G_TYPE_NONE, 2, NATTER_TYPE_CONTACT, G_TYPE_BOOLEAN);
  /**
   * NatterClient::typing:
   * @contact: the contact
   * @typing: whether they are typing
   */
  signals[TYPING] = g_signal_new ("typing", G_TYPE_FROM_CLASS (klass),
                                  G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                                  G_TYPE_NONE, 2, NATTER_TYPE_CONTACT, G_TYPE_BOOLEAN);
  /**
   * NatterClient::synced:
   * @peer_id: the contact whose history now matches ours after a (re)connect
   */
  signals[SYNCED] = g_signal_new ("synced", G_TYPE_FROM_CLASS (klass),
                                  G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                                  G_TYPE_NONE, 1, G_TYPE_STRING);
  /**
   * NatterClient::transfer-added:
   * @transfer: a file we started sending, or an offer that just arrived
   */
  signals[TRANSFER_ADDED] = g_signal_new ("transfer-added", G_TYPE_FROM_CLASS (klass),
                                          G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                                          G_TYPE_NONE, 1, NATTER_TYPE_TRANSFER);
  /**
   * NatterClient::broker-password-changed:
   *
   * natter_client_set_broker_password() stored a password: whoever
   * configures the broker (natter_client_set_broker()) applies it.
   */
  signals[BROKER_PASSWORD_CHANGED] = g_signal_new ("broker-password-changed",
                                                   G_TYPE_FROM_CLASS (klass),
                                                   G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                                                   G_TYPE_NONE, 0);
}

static void
natter_client_init (NatterClient *self)
{
  self->lock_fd = -1;
  self->contacts = g_list_store_new (NATTER_TYPE_CONTACT);
  self->peers = g_hash_table_new_full (g_str_hash, g_str_equal, NULL, (GDestroyNotify) peer_free);
  self->message_lists = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_object_unref);
  self->hlc = natter_hlc_new ();
  self->ice = natter_ice_config_new ();
}

/* One writer per profile: a second one gets a clear error instead of a race. */
static gboolean
lock_profile (NatterClient  *self,
              GError       **error)
{
  g_autofree char *path = g_build_filename (self->profile_dir, "lock", NULL);

  if (g_mkdir_with_parents (self->profile_dir, 0700) != 0)
    {
      int saved_errno = errno;

      g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (saved_errno),
                   "Cannot create the profile directory %s: %s", self->profile_dir,
                   g_strerror (saved_errno));
      return FALSE;
    }
  self->lock_fd = g_open (path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (self->lock_fd < 0)
    {
      int saved_errno = errno;

      g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (saved_errno),
                   "Cannot open %s: %s", path, g_strerror (saved_errno));
      return FALSE;
    }
  if (flock (self->lock_fd, LOCK_EX | LOCK_NB) != 0)
    {
      g_set_error (error, NATTER_ERROR, NATTER_ERROR_PROFILE_LOCKED,
                   "The profile %s is in use by another Natter process", self->profile_dir);
      return FALSE;
    }
  return TRUE;
}

static void
load_contacts (NatterClient *self)
{
  g_autoptr(GPtrArray) contacts = natter_store_list_contacts (self->store, NULL);

  if (contacts == NULL)
    return;
  for (guint i = 0; i < contacts->len; i++)
    g_list_store_append (self->contacts, g_ptr_array_index (contacts, i));
}

/**
 * natter_client_new:
 * @profile_dir: the profile: identity, history and lock live here
 *
 * Opens (creating on first use, unless read-only) a profile. A writer takes
 * the profile's lock: a second writer gets %NATTER_ERROR_PROFILE_LOCKED.
 *
 * Returns: (transfer full): the client, or %NULL with @error set
 */
NatterClient *
natter_client_new (const char         *profile_dir,
                   NatterClientFlags   flags,
                   GError            **error)
{
  g_autoptr(NatterClient) self = NULL;
  g_autofree char *db_path = NULL;
  gboolean read_only = (flags & NATTER_CLIENT_READ_ONLY) != 0;

  g_return_val_if_fail (profile_dir != NULL, NULL);

  self = g_object_new (NATTER_TYPE_CLIENT, NULL);
  self->profile_dir = g_strdup (profile_dir);
  self->flags = flags;

  if (!read_only && !lock_profile (self, error))
    return NULL;
  self->identity = read_only ? natter_identity_load (profile_dir, error)
                             : natter_identity_load_or_create (profile_dir, error);
  if (self->identity == NULL)
    return NULL;
  db_path = g_build_filename (profile_dir, "history.db", NULL);
  self->store = natter_store_open (db_path, read_only ? NATTER_STORE_READ_ONLY : NATTER_STORE_NONE,
                                   error);
  if (self->store == NULL)
    return NULL;

  load_contacts (self);
  restore_hlc (self);
  g_signal_connect_swapped (self->hlc, "advanced", G_CALLBACK (hlc_advanced_cb), self);
  transfers_init (self);

  if (!read_only)
    {
      self->signaling = natter_signaling_new (self->identity);
      g_signal_connect_swapped (self->signaling, "envelope-received",
                                G_CALLBACK (envelope_received_cb), self);
      g_signal_connect_swapped (self->signaling, "presence-changed",
                                G_CALLBACK (presence_changed_cb), self);
      g_signal_connect_swapped (self->signaling, "notify::state",
                                G_CALLBACK (signaling_state_cb), self);
      g_signal_connect_swapped (self->signaling, "notify::next-retry",
                                G_CALLBACK (signaling_next_retry_cb), self);
      g_signal_connect_swapped (self->signaling, "notify::last-error",
                                G_CALLBACK (signaling_last_error_cb), self);
    }
  return g_steal_pointer (&self);
}

NatterIdentity *
natter_client_get_identity (NatterClient *self)
{
  g_return_val_if_fail (NATTER_IS_CLIENT (self), NULL);
  return self->identity;
}

const char *
natter_client_get_peer_id (NatterClient *self)
{
  g_return_val_if_fail (NATTER_IS_CLIENT (self), NULL);
  return natter_identity_get_peer_id (self->identity);
}

NatterStore *
natter_client_get_store (NatterClient *self)
{
  g_return_val_if_fail (NATTER_IS_CLIENT (self), NULL);
  return self->store;
}

NatterSignaling *
natter_client_get_signaling (NatterClient *self)
{
  g_return_val_if_fail (NATTER_IS_CLIENT (self), NULL);
  return self->signaling;
}

NatterHlc *
natter_client_get_hlc (NatterClient *self)
{
  g_return_val_if_fail (NATTER_IS_CLIENT (self), NULL);
  return self->hlc;
}

char *
natter_client_dup_display_name (NatterClient *self)
{
  g_return_val_if_fail (NATTER_IS_CLIENT (self), NULL);
  return natter_store_get_meta (self->store, "display-name", NULL);
}

gboolean
natter_client_set_display_name (NatterClient  *self,
                                const char    *name,
                                GError       **error)
{
  g_return_val_if_fail (NATTER_IS_CLIENT (self), FALSE);
  g_return_val_if_fail (name != NULL, FALSE);

  if (!g_utf8_validate (name, -1, NULL) || g_utf8_strlen (name, -1) > MAX_NAME_LEN)
    {
      g_set_error (error, NATTER_ERROR, NATTER_ERROR_INVALID_INPUT,
                   "A name is at most %d characters of text", MAX_NAME_LEN);
      return FALSE;
    }
  return natter_store_set_meta (self->store, "display-name", name, error);
}

gboolean
natter_client_set_broker (NatterClient  *self,
                          const char    *url,
                          const char    *username,
                          const char    *password,
                          const char    *ca_file,
                          GError       **error)
{
  g_return_val_if_fail (NATTER_IS_CLIENT (self), FALSE);
  g_return_val_if_fail (self->signaling != NULL, FALSE);

  return natter_signaling_set_broker (self->signaling, url, username, password, ca_file, error);
}

/**
 * natter_client_check_broker_url:
 * @url: what the user typed
 *
 * Whether natter_client_set_broker() would take @url (mqtt://HOST:PORT or
 * mqtts://HOST:PORT); whether the broker answers is another matter.
 */
gboolean
natter_client_check_broker_url (const char  *url,
                                GError     **error)
{
  g_autofree char *host = NULL;
  guint16 port;
  gboolean tls;

  g_return_val_if_fail (url != NULL, FALSE);

  return natter_signaling_parse_broker_url (url, &host, &port, &tls, error);
}

/**
 * natter_client_dup_broker_password:
 *
 * Returns: (nullable) (transfer full): the broker password stored in the
 *   profile
 */
char *
natter_client_dup_broker_password (NatterClient *self)
{
  g_return_val_if_fail (NATTER_IS_CLIENT (self), NULL);
  return natter_store_get_meta (self->store, BROKER_PASSWORD_KEY, NULL);
}

/**
 * natter_client_set_broker_password:
 * @password: the password; empty for none
 *
 * Stores the password in the profile (not in settings) and emits
 * #NatterClient::broker-password-changed.
 */
gboolean
natter_client_set_broker_password (NatterClient  *self,
                                   const char    *password,
                                   GError       **error)
{
  g_return_val_if_fail (NATTER_IS_CLIENT (self), FALSE);
  g_return_val_if_fail (password != NULL, FALSE);

  if (!natter_store_set_meta (self->store, BROKER_PASSWORD_KEY, password, error))
    return FALSE;
  g_signal_emit (self, signals[BROKER_PASSWORD_CHANGED], 0);
  return TRUE;
}

/**
 * natter_client_get_signaling_state:
 *
 * Returns: whether we are connected to the broker (#NatterClient:signaling-state)
 */
NatterSignalingState
natter_client_get_signaling_state (NatterClient *self)
{
  g_return_val_if_fail (NATTER_IS_CLIENT (self), NATTER_SIGNALING_DISCONNECTED);
  return self->signaling ? natter_signaling_get_state (self->signaling)
                         : NATTER_SIGNALING_DISCONNECTED;
}

/**
 * natter_client_get_signaling_next_retry:
 *
 * Returns: #NatterClient:signaling-next-retry
 */
gint64
natter_client_get_signaling_next_retry (NatterClient *self)
{
  g_return_val_if_fail (NATTER_IS_CLIENT (self), 0);
  return self->signaling ? natter_signaling_get_next_retry (self->signaling) : 0;
}

/**
 * natter_client_get_signaling_last_error:
 *
 * Returns: (nullable): #NatterClient:signaling-last-error
 */
const char *
natter_client_get_signaling_last_error (NatterClient *self)
{
  g_return_val_if_fail (NATTER_IS_CLIENT (self), NULL);
  return self->signaling ? natter_signaling_get_last_error (self->signaling) : NULL;
}

/**
 * natter_client_flush_signaling:
 * @timeout_ms: how long to wait at most
 *
 * Waits until the broker acknowledged everything we published (see
 * natter_signaling_flush()); for command-line tools that send and exit.
 *
 * Returns: %TRUE if everything was acknowledged in time
 */
gboolean
natter_client_flush_signaling (NatterClient *self,
                               guint         timeout_ms)
{
  g_return_val_if_fail (NATTER_IS_CLIENT (self), FALSE);
  g_return_val_if_fail (self->signaling != NULL, FALSE);

  return natter_signaling_flush (self->signaling, timeout_ms);
}

void
natter_client_set_ice_config (NatterClient    *self,
                              NatterIceConfig *ice)
{
  g_return_if_fail (NATTER_IS_CLIENT (self));
  g_return_if_fail (ice != NULL);

  g_clear_pointer (&self->ice, natter_ice_config_unref);
  self->ice = natter_ice_config_ref (ice);
}

/**
 * natter_client_set_auto_accept:
 *
 * Accept every contact request (for bots and tests).
 */
void
natter_client_set_auto_accept (NatterClient *self,
                               gboolean      auto_accept)
{
  g_return_if_fail (NATTER_IS_CLIENT (self));
  self->auto_accept = !!auto_accept;
}

/**
 * natter_client_start:
 *
 * Goes online: connects to the broker (retrying with backoff), follows the
 * contacts' presence and opens sessions to those online.
 */
void
natter_client_start (NatterClient *self)
{
  guint n;

  g_return_if_fail (NATTER_IS_CLIENT (self));
  g_return_if_fail (self->signaling != NULL);

  if (self->started)
    return;
  self->started = TRUE;
  n = g_list_model_get_n_items (G_LIST_MODEL (self->contacts));
  for (guint i = 0; i < n; i++)
    {
      g_autoptr(NatterContact) contact = g_list_model_get_item (G_LIST_MODEL (self->contacts), i);
      NatterContactState state = natter_contact_get_state (contact);

      if (state == NATTER_CONTACT_ACCEPTED || state == NATTER_CONTACT_PENDING_OUT)
        follow_contact (self, contact);
    }
  natter_signaling_start (self->signaling);
}

void
natter_client_stop (NatterClient *self)
{
  g_return_if_fail (NATTER_IS_CLIENT (self));

  if (!self->started)
    return;
  self->started = FALSE;
  g_hash_table_remove_all (self->peers);
  natter_signaling_stop (self->signaling);
}

GListModel *
natter_client_get_contacts (NatterClient *self)
{
  g_return_val_if_fail (NATTER_IS_CLIENT (self), NULL);
  return G_LIST_MODEL (self->contacts);
}

/**
 * natter_client_lookup_contact:
 *
 * Returns: (transfer none) (nullable): the contact with @peer_id
 */
NatterContact *
natter_client_lookup_contact (NatterClient *self,
                              const char   *peer_id)
{
  guint n;

  g_return_val_if_fail (NATTER_IS_CLIENT (self), NULL);

  n = g_list_model_get_n_items (G_LIST_MODEL (self->contacts));
  for (guint i = 0; i < n; i++)
    {
      NatterContact *contact = g_list_model_get_item (G_LIST_MODEL (self->contacts), i);

      g_object_unref (contact);  /* the store keeps it alive */
      if (g_str_equal (natter_contact_get_peer_id (contact), peer_id))
        return contact;
    }
  return NULL;
}

/**
 * natter_client_add_contact:
 * @name: (nullable): a local name for the contact
 *
 * Asks @peer_id to become a contact; the request is sent now and again each
 * time the peer comes online until answered.
 *
 * Returns: (transfer none): the contact, or %NULL with @error
 */
NatterContact *
natter_client_add_contact (NatterClient  *self,
                           const char    *peer_id,
                           const char    *name,
                           GError       **error)
{
  NatterContact *contact;

  g_return_val_if_fail (NATTER_IS_CLIENT (self), NULL);
  g_return_val_if_fail (peer_id != NULL, NULL);

  if (!natter_peer_id_is_valid (peer_id))
    {
      g_set_error_literal (error, NATTER_ERROR, NATTER_ERROR_INVALID_INPUT,
                           "That is not a valid Natter peer id");
      return NULL;
    }
  if (g_str_equal (peer_id, natter_client_get_peer_id (self)))
    {
      g_set_error_literal (error, NATTER_ERROR, NATTER_ERROR_INVALID_INPUT,
                           "That is your own peer id");
      return NULL;
    }

  contact = natter_client_lookup_contact (self, peer_id);
  if (contact != NULL && natter_contact_get_state (contact) == NATTER_CONTACT_PENDING_IN)
    return natter_client_accept_contact (self, peer_id, error) ? contact : NULL;
  if (contact != NULL && natter_contact_get_state (contact) == NATTER_CONTACT_ACCEPTED)
    return contact;

  if (contact == NULL)
    {
      g_autoptr(NatterContact) created = natter_contact_new (peer_id);

      g_list_store_append (self->contacts, created);
      contact = created;
    }
  if (name != NULL)
    natter_contact_set_name (contact, name);
  natter_contact_set_state (contact, NATTER_CONTACT_PENDING_OUT);
  if (!save_contact (self, contact, error))
    return NULL;

  if (self->signaling != NULL)
    {
      follow_contact (self, contact);
      send_contact_envelope (self, peer_id, "contact-request");
    }
  return contact;
}

static gboolean
answer_contact (NatterClient        *self,
                const char          *peer_id,
                NatterContactState   state,
                const char          *reply,
                GError             **error)
{
  NatterContact *contact;

  g_return_val_if_fail (NATTER_IS_CLIENT (self), FALSE);
  g_return_val_if_fail (peer_id != NULL, FALSE);

  contact = natter_client_lookup_contact (self, peer_id);
  if (contact == NULL)
    {
      g_set_error_literal (error, NATTER_ERROR, NATTER_ERROR_NOT_CONTACT,
                           "No contact or request with that peer id");
      return FALSE;
    }
  natter_contact_set_state (contact, state);
  if (!save_contact (self, contact, error))
    return FALSE;
  if (self->signaling == NULL)
    return TRUE;

  if (reply != NULL)
    send_contact_envelope (self, peer_id, reply);
  if (state == NATTER_CONTACT_ACCEPTED)
    {
      follow_contact (self, contact);
      if (natter_signaling_is_online (self->signaling, peer_id))
        peer_connect (lookup_peer (self, peer_id));
    }
  else
    {
      natter_signaling_unfollow_presence (self->signaling, peer_id);
      g_hash_table_remove (self->peers, peer_id);
    }
  return TRUE;
}

gboolean
natter_client_accept_contact (NatterClient  *self,
                              const char    *peer_id,
                              GError       **error)
{
  return answer_contact (self, peer_id, NATTER_CONTACT_ACCEPTED, "contact-accept", error);
}

gboolean
natter_client_decline_contact (NatterClient  *self,
                               const char    *peer_id,
                               GError       **error)
{
  return answer_contact (self, peer_id, NATTER_CONTACT_DECLINED, "contact-decline", error);
}

/**
 * natter_client_block_contact:
 *
 * Stops sessions and signaling with @peer_id; the history is kept.
 */
gboolean
natter_client_block_contact (NatterClient  *self,
                             const char    *peer_id,
                             GError       **error)
{
  return answer_contact (self, peer_id, NATTER_CONTACT_BLOCKED, NULL, error);
}

/**
 * natter_client_conversation_for:
 *
 * Returns: (transfer full): the id of the direct conversation with @peer_id
 */
char *
natter_client_conversation_for (NatterClient *self,
                                const char   *peer_id)
{
  g_return_val_if_fail (NATTER_IS_CLIENT (self), NULL);
  return natter_conversation_id_direct (natter_client_get_peer_id (self), peer_id);
}

/**
 * natter_client_get_messages:
 *
 * Returns: (transfer none): the conversation with @peer_id in display order
 */
GListModel *
natter_client_get_messages (NatterClient  *self,
                            const char    *peer_id,
                            GError       **error)
{
  g_autofree char *conv = NULL;
  NatterMessageList *list;

  g_return_val_if_fail (NATTER_IS_CLIENT (self), NULL);

  conv = natter_client_conversation_for (self, peer_id);
  list = lookup_list (self, conv);
  if (list == NULL)
    {
      list = natter_message_list_new (self->store, conv, error);
      if (list == NULL)
        return NULL;
      g_hash_table_insert (self->message_lists, g_steal_pointer (&conv), list);
    }
  return G_LIST_MODEL (list);
}

/* Whether @message goes out in one chat frame: the one check behind both
 * natter_client_send_message() and natter_client_message_fits(). */
static gboolean
message_fits_frame (const char     *conversation,
                    const char     *author,
                    NatterMessage  *message,
                    GError        **error)
{
  g_autoptr(GPtrArray) single = g_ptr_array_new ();
  g_autoptr(GBytes) frame = NULL;
  guint next = 0;

  g_ptr_array_add (single, message);
  frame = natter_chat_frame_build_messages (conversation, author, single, 0, &next, error);
  return frame != NULL;
}

/**
 * natter_client_message_fits:
 *
 * Whether natter_client_send_message() would take @body for @peer_id, as
 * far as its size goes (it refuses what cannot fit in one chat frame with
 * %NATTER_ERROR_TOO_LARGE). Cheap enough to ask on every keystroke: bodies
 * far below the limit are decided by length alone, JSON escaping at most
 * sextuples a byte. Near the limit the answer errs on the safe side by the
 * few bytes a larger sequence number or clock would add.
 */
gboolean
natter_client_message_fits (NatterClient *self,
                            const char   *peer_id,
                            const char   *body)
{
  g_autoptr(NatterMessage) probe = NULL;
  g_autofree char *conv = NULL;
  g_autofree char *id = NULL;
  const char *me;
  gint64 now_ms;
  gsize len;

  g_return_val_if_fail (NATTER_IS_CLIENT (self), FALSE);
  g_return_val_if_fail (peer_id != NULL, FALSE);
  g_return_val_if_fail (body != NULL, FALSE);

  len = strlen (body);
  if (len <= (NATTER_MAX_FRAME_SIZE - 2048) / 6)
    return TRUE;
  if (len > NATTER_MAX_FRAME_SIZE)
    return FALSE;

  /* The largest sequence number and clock a message can carry. */
  me = natter_client_get_peer_id (self);
  conv = natter_client_conversation_for (self, peer_id);
  now_ms = g_get_real_time () / 1000;
  id = natter_message_compute_id (me, G_MAXINT32, now_ms, G_MAXUINT16, body);
  probe = natter_message_new (id, conv, me, G_MAXINT32, now_ms, G_MAXUINT16, body, NULL,
                              NATTER_MESSAGE_QUEUED, FALSE, now_ms / 1000);
  return message_fits_frame (conv, me, probe, NULL);
}

/**
 * natter_client_search:
 * @peer_id: (nullable): whose conversation to search, or %NULL for all
 * @query: what the user typed, taken as plain words (each a prefix)
 *
 * Returns: (transfer container) (element-type NatterMessage): the newest
 *   @limit messages containing every word, in display order; %NULL with
 *   @error on failure
 */
GPtrArray *
natter_client_search (NatterClient  *self,
                      const char    *peer_id,
                      const char    *query,
                      guint          limit,
                      GError       **error)
{
  g_autofree char *conv = NULL;

  g_return_val_if_fail (NATTER_IS_CLIENT (self), NULL);
  g_return_val_if_fail (query != NULL, NULL);

  if (peer_id != NULL)
    conv = natter_client_conversation_for (self, peer_id);
  return natter_store_search (self->store, conv, query, limit, error);
}

/**
 * natter_client_message_position:
 *
 * Where @message sorts in its conversation: the number of stored messages
 * before it in display order, which is its position in the conversation's
 * natter_client_get_messages() list.
 *
 * Returns: the position, -1 with @error on failure
 */
gint64
natter_client_message_position (NatterClient  *self,
                                NatterMessage *message,
                                GError       **error)
{
  g_return_val_if_fail (NATTER_IS_CLIENT (self), -1);
  g_return_val_if_fail (NATTER_IS_MESSAGE (message), -1);

  return natter_store_message_position (self->store, message, error);
}

/**
 * natter_client_send_message:
 * @reply_to: (nullable): id of the message this answers
 *
 * Stores a new message as queued and sends it as soon as a session is open.
 * A body that cannot fit in one chat frame is refused with
 * %NATTER_ERROR_TOO_LARGE and nothing is stored.
 *
 * Returns: (transfer full): the message; watch notify::state for delivery
 */
NatterMessage *
natter_client_send_message (NatterClient  *self,
                            const char    *peer_id,
                            const char    *body,
                            const char    *reply_to,
                            GError       **error)
{
  g_autoptr(NatterMessage) message = NULL;
  g_autofree char *conv = NULL;
  g_autofree char *id = NULL;
  NatterMessageList *list;
  NatterHlcStamp stamp;
  const char *me;
  gboolean inserted = FALSE;
  Peer *peer;
  gint64 seq;

  g_return_val_if_fail (NATTER_IS_CLIENT (self), NULL);
  g_return_val_if_fail (peer_id != NULL, NULL);
  g_return_val_if_fail (body != NULL, NULL);

  if (!contact_is_accepted (self, peer_id))
    {
      g_set_error_literal (error, NATTER_ERROR, NATTER_ERROR_NOT_CONTACT,
                           "Messages can only be sent to accepted contacts");
      return NULL;
    }
  if (!g_utf8_validate (body, -1, NULL) || body[0] == '\0')
    {
      g_set_error_literal (error, NATTER_ERROR, NATTER_ERROR_INVALID_INPUT,
                           "A message must be non-empty text");
      return NULL;
    }

  me = natter_client_get_peer_id (self);
  conv = natter_client_conversation_for (self, peer_id);
  seq = natter_store_max_seq (self->store, conv, me, error) + 1;
  if (seq <= 0)
    return NULL;
  stamp = natter_hlc_send (self->hlc);
  id = natter_message_compute_id (me, seq, stamp.l, stamp.c, body);
  message = natter_message_new (id, conv, me, seq, stamp.l, stamp.c, body, reply_to,
                                NATTER_MESSAGE_QUEUED, FALSE,
                                g_get_real_time () / G_USEC_PER_SEC);

  /* Refuse now what could never be sent, rather than queue it forever. */
  if (!message_fits_frame (conv, me, message, error))
    return NULL;

  /* State updates reach the returned object only through the
   * conversation's list, so make sure there is one; it must read the
   * store before the message is in it, or it would list it twice. */
  list = NATTER_MESSAGE_LIST (natter_client_get_messages (self, peer_id, error));
  if (list == NULL)
    return NULL;

  if (!natter_store_add_message (self->store, message, &inserted, error))
    return NULL;

  natter_message_list_insert (list, message);
  touch_contact (self, peer_id, message, FALSE);

  peer = g_hash_table_lookup (self->peers, peer_id);
  if (peer != NULL && peer->protocol != NULL)
    natter_chat_protocol_message_added (peer->protocol, message);
  return g_steal_pointer (&message);
}

/**
 * natter_client_mark_read:
 *
 * Marks the conversation with @peer_id read and tells the peer.
 */
gboolean
natter_client_mark_read (NatterClient  *self,
                         const char    *peer_id,
                         GError       **error)
{
  NatterContact *contact;
  Peer *peer;
  gint64 upto;

  g_return_val_if_fail (NATTER_IS_CLIENT (self), FALSE);

  contact = natter_client_lookup_contact (self, peer_id);
  if (contact == NULL)
    return TRUE;
  natter_contact_set_unread_count (contact, 0);
  peer = lookup_peer (self, peer_id);
  /* Only what we hold without gaps counts as read. Stored, so a receipt
   * written while no session is up goes out on the next connection. */
  upto = natter_store_contiguous_seq (self->store, peer->conversation, peer_id, error);
  if (upto < 0)
    return FALSE;
  if (upto > read_upto (self, peer->conversation) && !store_read_upto (self, peer, upto, error))
    return FALSE;
  if (peer->protocol == NULL)
    return TRUE;
  return natter_chat_protocol_send_read (peer->protocol, peer->conversation, upto, error);
}

gboolean
natter_client_set_typing (NatterClient  *self,
                          const char    *peer_id,
                          gboolean       typing,
                          GError       **error)
{
  Peer *peer;

  g_return_val_if_fail (NATTER_IS_CLIENT (self), FALSE);

  peer = g_hash_table_lookup (self->peers, peer_id);
  if (peer == NULL || peer->protocol == NULL)
    {
      g_set_error_literal (error, NATTER_ERROR, NATTER_ERROR_NOT_CONNECTED,
                           "No direct connection to this contact");
      return FALSE;
    }
  return natter_chat_protocol_send_typing (peer->protocol, peer->conversation, typing, error);
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

  if (self->signaling != NULL && contact_is_accepted (self, peer_id))
    peer_connect (lookup_peer (self, peer_id));
}

/* ---- contact management (UI) ---- */

static NatterContact *
require_contact (NatterClient  *self,
                 const char    *peer_id,
                 GError       **error)
{
  NatterContact *contact = natter_client_lookup_contact (self, peer_id);

  if (contact == NULL)
    g_set_error_literal (error, NATTER_ERROR, NATTER_ERROR_NOT_CONTACT,
                         "No contact with that peer id");
  return contact;
}

/**
 * natter_client_rename_contact:
 * @name: (nullable): the local name; %NULL or blank goes back to the short id
 *
 * Renames a contact for this profile only; the peer never learns it.
 */
gboolean
natter_client_rename_contact (NatterClient  *self,
                              const char    *peer_id,
                              const char    *name,
                              GError       **error)
{
  g_autofree char *clean = NULL;
  NatterContact *contact;

  g_return_val_if_fail (NATTER_IS_CLIENT (self), FALSE);
  g_return_val_if_fail (peer_id != NULL, FALSE);

  if (name != NULL)
    {
      if (!g_utf8_validate (name, -1, NULL) || g_utf8_strlen (name, -1) > MAX_NAME_LEN)
        {
          g_set_error (error, NATTER_ERROR, NATTER_ERROR_INVALID_INPUT,
                       "A name is at most %d characters of text", MAX_NAME_LEN);
          return FALSE;
        }
      for (const char *p = name; *p != '\0'; p = g_utf8_next_char (p))
        {
          /* Names end up in lists and notifications: no line breaks or escapes. */
          if (g_unichar_iscntrl (g_utf8_get_char (p)))
            {
              g_set_error_literal (error, NATTER_ERROR, NATTER_ERROR_INVALID_INPUT,
                                   "A name cannot contain control characters");
              return FALSE;
            }
        }
      clean = g_strstrip (g_strdup (name));
      if (clean[0] == '\0')
        g_clear_pointer (&clean, g_free);
    }

  if ((contact = require_contact (self, peer_id, error)) == NULL)
    return FALSE;
  if (g_strcmp0 (natter_contact_get_name (contact), clean) == 0)
    return TRUE;
  natter_contact_set_name (contact, clean);
  return save_contact (self, contact, error);
}

/**
 * natter_client_delete_contact:
 * @keep_history: %FALSE to also delete the conversation's messages
 *
 * Ends the session with @peer_id, stops following its presence and forgets
 * the contact. A later contact request from the peer arrives as a new one.
 */
gboolean
natter_client_delete_contact (NatterClient  *self,
                              const char    *peer_id,
                              gboolean       keep_history,
                              GError       **error)
{
  g_autoptr(NatterContact) contact = NULL;
  g_autofree char *conv = NULL;
  NatterContact *found;
  guint position;

  g_return_val_if_fail (NATTER_IS_CLIENT (self), FALSE);
  g_return_val_if_fail (peer_id != NULL, FALSE);

  found = require_contact (self, peer_id, error);
  if (found == NULL)
    return FALSE;
  /* Kept alive until the model no longer lists it. */
  contact = g_object_ref (found);
  conv = natter_client_conversation_for (self, peer_id);

  /* Contact and history go together or not at all. */
  if (!natter_store_begin (self->store, error))
    return FALSE;
  if (!natter_store_delete_contact (self->store, peer_id, error) ||
      (!keep_history && !natter_store_delete_conversation (self->store, conv, error)) ||
      !natter_store_commit (self->store, error))
    {
      natter_store_rollback (self->store);
      return FALSE;
    }

  if (self->signaling != NULL)
    natter_signaling_unfollow_presence (self->signaling, peer_id);
  g_hash_table_remove (self->peers, peer_id);
  if (!keep_history)
    g_hash_table_remove (self->message_lists, conv);
  if (g_list_store_find (self->contacts, contact, &position))
    g_list_store_remove (self->contacts, position);
  return TRUE;
}

/**
 * natter_client_set_contact_verified:
 *
 * Records that the user compared the safety number with @peer_id (or
 * withdraws that).
 */
gboolean
natter_client_set_contact_verified (NatterClient  *self,
                                    const char    *peer_id,
                                    gboolean       verified,
                                    GError       **error)
{
  NatterContact *contact;

  g_return_val_if_fail (NATTER_IS_CLIENT (self), FALSE);
  g_return_val_if_fail (peer_id != NULL, FALSE);

  if ((contact = require_contact (self, peer_id, error)) == NULL)
    return FALSE;
  if (natter_contact_get_verified (contact) == !!verified)
    return TRUE;
  natter_contact_set_verified (contact, verified);
  if (!save_contact (self, contact, error))
    {
      natter_contact_set_verified (contact, !verified);
      return FALSE;
    }
  return TRUE;
}

/**
 * natter_client_dup_safety_number:
 *
 * Returns: (transfer full) (nullable): the safety number of this profile and
 *   @peer_id as 12 groups of 5 digits, the same on both sides; %NULL if
 *   @peer_id is not a valid peer id
 */
char *
natter_client_dup_safety_number (NatterClient *self,
                                 const char   *peer_id)
{
  guint8 key[NATTER_PUBLIC_KEY_SIZE];
  g_autofree char *digits = NULL;

  g_return_val_if_fail (NATTER_IS_CLIENT (self), NULL);
  g_return_val_if_fail (peer_id != NULL, NULL);

  if (!natter_peer_id_to_public_key (peer_id, key, NULL))
    return NULL;
  digits = natter_safety_number (natter_identity_get_public_key (self->identity), key);
  return natter_safety_number_format (digits);
}

/**
 * natter_client_load_contact_summaries:
 *
 * Fills each contact's last message preview and last activity from the
 * store, so a freshly opened profile lists its conversations by activity
 * before any new message arrives. (Not the unread count: our own reading
 * is not stored yet, so the store cannot tell it.)
 */
void
natter_client_load_contact_summaries (NatterClient *self)
{
  guint n;

  g_return_if_fail (NATTER_IS_CLIENT (self));

  n = g_list_model_get_n_items (G_LIST_MODEL (self->contacts));
  for (guint i = 0; i < n; i++)
    {
      g_autoptr(NatterContact) contact = g_list_model_get_item (G_LIST_MODEL (self->contacts), i);
      const char *peer_id = natter_contact_get_peer_id (contact);
      g_autofree char *conv = natter_client_conversation_for (self, peer_id);
      g_autoptr(NatterMessage) last = natter_store_get_last_message (self->store, conv, NULL);

      if (last != NULL)
        touch_contact (self, peer_id, last, FALSE);
    }
}

/* ---- file transfers (issue 7) ---- */

static void
transfer_added_cb (NatterClient   *self,
                   NatterTransfer *transfer)
{
  g_signal_emit (self, signals[TRANSFER_ADDED], 0, transfer);
}

static void
transfers_init (NatterClient *self)
{
  g_autofree char *state_dir = g_build_filename (self->profile_dir, "transfers", NULL);

  self->transfers = natter_transfer_manager_new (self->store, self->hlc,
                                                 natter_client_get_peer_id (self), state_dir);
  g_signal_connect_swapped (self->transfers, "transfer-added",
                            G_CALLBACK (transfer_added_cb), self);
}

/**
 * natter_client_get_transfer_manager:
 *
 * Returns: (transfer none): the manager behind the transfer calls below
 */
NatterTransferManager *
natter_client_get_transfer_manager (NatterClient *self)
{
  g_return_val_if_fail (NATTER_IS_CLIENT (self), NULL);
  return self->transfers;
}

/**
 * natter_client_get_transfers:
 *
 * Returns: (transfer none): every file transfer, oldest first; each is also
 *   a 'file' event in its conversation's timeline in the store
 */
GListModel *
natter_client_get_transfers (NatterClient *self)
{
  g_return_val_if_fail (NATTER_IS_CLIENT (self), NULL);
  return natter_transfer_manager_get_transfers (self->transfers);
}

/**
 * natter_client_lookup_transfer:
 *
 * Returns: (transfer none) (nullable): the transfer with @id
 */
NatterTransfer *
natter_client_lookup_transfer (NatterClient *self,
                               const char   *id)
{
  g_return_val_if_fail (NATTER_IS_CLIENT (self), NULL);
  return natter_transfer_manager_lookup (self->transfers, id);
}

/**
 * natter_client_send_file:
 *
 * Offers @file to an accepted contact. The file is hashed in a worker
 * thread (state "preparing"), offered when the contact is connected, and
 * resumed after interruptions, restarts included, until it is done,
 * declined or cancelled.
 *
 * Returns: (transfer full): the transfer, or %NULL with @error
 */
NatterTransfer *
natter_client_send_file (NatterClient  *self,
                         const char    *peer_id,
                         GFile         *file,
                         GError       **error)
{
  g_autofree char *conv = NULL;

  g_return_val_if_fail (NATTER_IS_CLIENT (self), NULL);
  g_return_val_if_fail (peer_id != NULL, NULL);
  g_return_val_if_fail (G_IS_FILE (file), NULL);

  if (!contact_is_accepted (self, peer_id))
    {
      g_set_error_literal (error, NATTER_ERROR, NATTER_ERROR_NOT_CONTACT,
                           "Files can only be sent to accepted contacts");
      return NULL;
    }
  conv = natter_client_conversation_for (self, peer_id);
  return natter_transfer_manager_send_file (self->transfers, peer_id, conv, file, error);
}

/**
 * natter_client_accept_transfer:
 * @directory: (nullable): where to save the file; the download folder if %NULL
 */
gboolean
natter_client_accept_transfer (NatterClient    *self,
                               NatterTransfer  *transfer,
                               GFile           *directory,
                               GError         **error)
{
  g_autofree char *path = NULL;

  g_return_val_if_fail (NATTER_IS_CLIENT (self), FALSE);

  if (directory != NULL && (path = g_file_get_path (directory)) == NULL)
    {
      g_set_error_literal (error, NATTER_ERROR, NATTER_ERROR_INVALID_INPUT,
                           "Files can only be saved to a local folder");
      return FALSE;
    }
  return natter_transfer_manager_accept (self->transfers, transfer, path, error);
}

gboolean
natter_client_decline_transfer (NatterClient    *self,
                                NatterTransfer  *transfer,
                                GError         **error)
{
  g_return_val_if_fail (NATTER_IS_CLIENT (self), FALSE);
  return natter_transfer_manager_decline (self->transfers, transfer, error);
}

gboolean
natter_client_pause_transfer (NatterClient    *self,
                              NatterTransfer  *transfer,
                              GError         **error)
{
  g_return_val_if_fail (NATTER_IS_CLIENT (self), FALSE);
  return natter_transfer_manager_pause (self->transfers, transfer, error);
}

/**
 * natter_client_resume_transfer:
 *
 * Continues a paused transfer or retries a failed one.
 */
gboolean
natter_client_resume_transfer (NatterClient    *self,
                               NatterTransfer  *transfer,
                               GError         **error)
{
  g_return_val_if_fail (NATTER_IS_CLIENT (self), FALSE);
  return natter_transfer_manager_resume (self->transfers, transfer, error);
}

gboolean
natter_client_cancel_transfer (NatterClient    *self,
                               NatterTransfer  *transfer,
                               GError         **error)
{
  g_return_val_if_fail (NATTER_IS_CLIENT (self), FALSE);
  return natter_transfer_manager_cancel (self->transfers, transfer, error);
}

/**
 * natter_client_set_download_dir:
 *
 * Where accepted files go unless the accept names a folder (default: the
 * XDG download folder).
 */
void
natter_client_set_download_dir (NatterClient *self,
                                const char   *directory)
{
  g_return_if_fail (NATTER_IS_CLIENT (self));
  natter_transfer_manager_set_download_dir (self->transfers, directory);
}

/**
 * natter_client_set_auto_accept_files:
 * @directory: (nullable): accept every offer into this folder; %NULL to ask
 *
 * For bots and tests (`natter-cli run --accept-files DIR`).
 */
void
natter_client_set_auto_accept_files (NatterClient *self,
                                     const char   *directory)
{
  g_return_if_fail (NATTER_IS_CLIENT (self));
  natter_transfer_manager_set_auto_accept_dir (self->transfers, directory);
}
