/* natter-peer-session.c: a contact's WebRTC session: its state, the public API, the GObject. */
#define G_LOG_DOMAIN "natter-peer-session"
#define GST_USE_UNSTABLE_API

#include "natter-peer-session-private.h"

#include <string.h>

#include "natter-channel-private.h"
#include "natter-error.h"

G_DEFINE_FINAL_TYPE (NatterPeerSession, natter_peer_session, G_TYPE_OBJECT)

enum {
  PROP_0,
  PROP_LOCAL_PEER_ID,
  PROP_REMOTE_PEER_ID,
  PROP_ICE_CONFIG,
  PROP_STATE,
  PROP_CONNECT_TIMEOUT,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];
guint _natter_peer_session_signals[N_SIGNALS];

/* ---- session state ------------------------------------------------------ */

void
_natter_peer_session_set_state (NatterPeerSession  *self,
                                NatterSessionState  state)
{
  if (self->state == state)
    return;

  g_debug (LOG_PAIR ": %s", self->local_peer_id, self->remote_peer_id,
           g_enum_get_value (g_type_class_peek (NATTER_TYPE_SESSION_STATE), state)->value_nick);
  self->state = state;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_STATE]);
}

/* Removes and returns the candidates that arrived for @session_id before its
 * offer (or answer) did. */
GPtrArray *
_natter_peer_session_take_early_ice (NatterPeerSession *self,
                                     const char        *session_id)
{
  GList *link = g_queue_find_custom (&self->early_order, session_id, (GCompareFunc) g_strcmp0);
  gpointer key = NULL;
  gpointer candidates = NULL;

  if (link == NULL)
    return NULL;

  g_queue_delete_link (&self->early_order, link);
  g_hash_table_steal_extended (self->early_ice, session_id, &key, &candidates);
  g_free (key);
  return candidates;
}

gboolean
_natter_peer_session_is_retired (NatterPeerSession *self,
                                 const char        *session_id)
{
  return g_queue_find_custom (&self->retired, session_id, (GCompareFunc) g_strcmp0) != NULL;
}

void
_natter_peer_session_retire (NatterPeerSession *self,
                             const char        *session_id)
{
  g_autoptr(GPtrArray) early = NULL;

  if (_natter_peer_session_is_retired (self, session_id))
    return;

  g_queue_push_tail (&self->retired, g_strdup (session_id));
  while (self->retired.length > MAX_RETIRED_SESSIONS)
    g_free (g_queue_pop_head (&self->retired));

  /* Candidates buffered for it are stale too. */
  early = _natter_peer_session_take_early_ice (self, session_id);
}

/* Drops the current attempt (if any). Its session id becomes stale. */
static void
session_drop_attempt (NatterPeerSession *self)
{
  Attempt *attempt = g_steal_pointer (&self->attempt);

  if (attempt == NULL)
    return;

  _natter_peer_session_retire (self, attempt->session_id);
  _natter_peer_attempt_shutdown (attempt);
  _natter_peer_attempt_unref (attempt);
}

void
_natter_peer_session_end_attempt (NatterPeerSession  *self,
                                  NatterSessionState  state)
{
  session_drop_attempt (self);
  _natter_peer_session_set_state (self, state);
}

void
_natter_peer_session_emit_signal_out (NatterPeerSession *self,
                                      const char        *type,
                                      const char        *session_id,
                                      JsonObject        *body)
{
  g_autoptr(JsonObject) owned = body;

  g_debug (LOG_PAIR ": %s %.8s", self->local_peer_id, self->remote_peer_id, type, session_id);
  g_signal_emit (self, _natter_peer_session_signals[SIGNAL_OUT], 0, type, session_id, owned);
}

void
_natter_peer_session_fail (NatterPeerSession *self,
                           const char        *why)
{
  g_message (LOG_PAIR ": failed: %s", self->local_peer_id, self->remote_peer_id, why);
  g_free (self->failure_reason);
  self->failure_reason = g_strdup (why);
  _natter_peer_session_end_attempt (self, NATTER_SESSION_FAILED);
}

/* Starts a fresh attempt (a new webrtcbin) and makes it current. */
Attempt *
_natter_peer_session_start_attempt (NatterPeerSession *self,
                                    const char        *session_id,
                                    gboolean           offerer)
{
  g_autoptr(GError) error = NULL;

  session_drop_attempt (self);
  g_clear_pointer (&self->local_fingerprint, g_free);
  g_clear_pointer (&self->remote_fingerprint, g_free);
  g_clear_pointer (&self->failure_reason, g_free);

  self->attempt = _natter_peer_attempt_new (self, session_id, offerer, &error);
  if (self->attempt == NULL)
    {
      _natter_peer_session_fail (self, error->message);
      return NULL;
    }

  _natter_peer_session_set_state (self, NATTER_SESSION_CONNECTING);
  return self->attempt;
}

/* ---- public API ---------------------------------------------------------- */

/**
 * natter_peer_session_new:
 * @local_peer_id: our peer id
 * @remote_peer_id: the contact's peer id (must differ)
 * @ice: (nullable): ICE settings; %NULL for defaults (host candidates only)
 */
NatterPeerSession *
natter_peer_session_new (const char      *local_peer_id,
                         const char      *remote_peer_id,
                         NatterIceConfig *ice)
{
  g_return_val_if_fail (local_peer_id != NULL && *local_peer_id != '\0', NULL);
  g_return_val_if_fail (remote_peer_id != NULL && *remote_peer_id != '\0', NULL);
  g_return_val_if_fail (g_strcmp0 (local_peer_id, remote_peer_id) != 0, NULL);

  return g_object_new (NATTER_TYPE_PEER_SESSION,
                       "local-peer-id", local_peer_id,
                       "remote-peer-id", remote_peer_id,
                       "ice-config", ice,
                       NULL);
}

/**
 * natter_peer_session_connect:
 *
 * Starts a fresh attempt with our own offer. Does nothing while connecting
 * or connected; after DISCONNECTED or FAILED it builds a new webrtcbin.
 */
void
natter_peer_session_connect (NatterPeerSession *self)
{
  g_autofree char *session_id = NULL;
  g_autoptr(GstPromise) promise = NULL;
  Attempt *attempt;

  g_return_if_fail (NATTER_IS_PEER_SESSION (self));
  g_return_if_fail (self->state != NATTER_SESSION_CLOSED);

  if (self->state == NATTER_SESSION_CONNECTING || self->state == NATTER_SESSION_CONNECTED)
    return;

  session_id = g_uuid_string_random ();
  attempt = _natter_peer_session_start_attempt (self, session_id, TRUE);
  if (attempt == NULL)
    return;

  promise = _natter_peer_attempt_new_promise (attempt, EVENT_OFFER_CREATED);
  g_signal_emit_by_name (attempt->webrtc, "create-offer", NULL, promise);
}

/**
 * natter_peer_session_send:
 * @frame: at most %NATTER_MAX_FRAME_SIZE bytes
 *
 * Queues @frame on the chat channel. Never blocks: watch
 * natter_peer_session_get_buffered_amount() for backpressure.
 */
gboolean
natter_peer_session_send (NatterPeerSession  *self,
                          GBytes             *frame,
                          GError            **error)
{
  g_return_val_if_fail (NATTER_IS_PEER_SESSION (self), FALSE);
  g_return_val_if_fail (frame != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (g_bytes_get_size (frame) > NATTER_MAX_FRAME_SIZE)
    {
      g_set_error (error, NATTER_ERROR, NATTER_ERROR_TOO_LARGE,
                   "A frame may be at most %d bytes", NATTER_MAX_FRAME_SIZE);
      return FALSE;
    }

  if (self->state != NATTER_SESSION_CONNECTED || self->attempt == NULL ||
      !self->attempt->channel_open)
    {
      g_set_error (error, NATTER_ERROR, NATTER_ERROR_NOT_CONNECTED, "Not connected to the peer");
      return FALSE;
    }

  return natter_channel_send (self->attempt->chat, frame, error);
}

/**
 * natter_peer_session_get_buffered_amount:
 *
 * Bytes queued on the chat channel but not yet handed to SCTP; 0 when not
 * connected.
 */
guint64
natter_peer_session_get_buffered_amount (NatterPeerSession *self)
{
  guint64 amount = 0;

  g_return_val_if_fail (NATTER_IS_PEER_SESSION (self), 0);

  if (self->attempt != NULL && self->attempt->chat != NULL)
    amount = natter_channel_get_buffered_amount (self->attempt->chat);
  return amount;
}

/**
 * natter_peer_session_set_buffered_amount_low_threshold:
 *
 * "buffered-amount-low" is emitted when the buffered amount falls to
 * @threshold; it applies to this and every later attempt.
 */
void
natter_peer_session_set_buffered_amount_low_threshold (NatterPeerSession *self,
                                                       guint64            threshold)
{
  g_return_if_fail (NATTER_IS_PEER_SESSION (self));

  self->low_threshold = threshold;
  if (self->attempt != NULL && self->attempt->chat != NULL)
    natter_channel_set_buffered_amount_low_threshold (self->attempt->chat, threshold);
}

/**
 * natter_peer_session_close:
 *
 * Says "bye" to the peer (if an attempt is under way), tears the connection
 * down and ends in CLOSED for good.
 */
void
natter_peer_session_close (NatterPeerSession *self)
{
  g_return_if_fail (NATTER_IS_PEER_SESSION (self));

  if (self->state == NATTER_SESSION_CLOSED)
    return;

  if (self->attempt != NULL)
    _natter_peer_session_emit_signal_out (self, "bye", self->attempt->session_id,
                                          json_object_new ());
  _natter_peer_session_end_attempt (self, NATTER_SESSION_CLOSED);
}

/**
 * natter_peer_session_set_connect_timeout:
 * @timeout_ms: how long an attempt may take to open the chat channel
 *
 * An attempt that takes longer ends in FAILED. Applies from the next attempt.
 */
void
natter_peer_session_set_connect_timeout (NatterPeerSession *self,
                                         guint              timeout_ms)
{
  g_return_if_fail (NATTER_IS_PEER_SESSION (self));
  g_return_if_fail (timeout_ms > 0);

  if (self->connect_timeout_ms == timeout_ms)
    return;

  self->connect_timeout_ms = timeout_ms;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_CONNECT_TIMEOUT]);
}

guint
natter_peer_session_get_connect_timeout (NatterPeerSession *self)
{
  g_return_val_if_fail (NATTER_IS_PEER_SESSION (self), 0);

  return self->connect_timeout_ms;
}

NatterSessionState
natter_peer_session_get_state (NatterPeerSession *self)
{
  g_return_val_if_fail (NATTER_IS_PEER_SESSION (self), NATTER_SESSION_CLOSED);

  return self->state;
}

/**
 * natter_peer_session_is_polite:
 *
 * The peer with the lexicographically lower peer id is polite: in glare it
 * drops its own offer and answers.
 */
gboolean
natter_peer_session_is_polite (NatterPeerSession *self)
{
  g_return_val_if_fail (NATTER_IS_PEER_SESSION (self), FALSE);

  return self->polite;
}

const char *
natter_peer_session_get_local_peer_id (NatterPeerSession *self)
{
  g_return_val_if_fail (NATTER_IS_PEER_SESSION (self), NULL);

  return self->local_peer_id;
}

const char *
natter_peer_session_get_remote_peer_id (NatterPeerSession *self)
{
  g_return_val_if_fail (NATTER_IS_PEER_SESSION (self), NULL);

  return self->remote_peer_id;
}

/**
 * natter_peer_session_get_session_id:
 *
 * Returns: (nullable): the id of the current attempt
 */
const char *
natter_peer_session_get_session_id (NatterPeerSession *self)
{
  g_return_val_if_fail (NATTER_IS_PEER_SESSION (self), NULL);

  return self->attempt != NULL ? self->attempt->session_id : NULL;
}

/**
 * natter_peer_session_get_local_fingerprint:
 *
 * Returns: (nullable): the `a=fingerprint` value ("sha-256 AB:…") of our
 *   current local description
 */
const char *
natter_peer_session_get_local_fingerprint (NatterPeerSession *self)
{
  g_return_val_if_fail (NATTER_IS_PEER_SESSION (self), NULL);

  return self->local_fingerprint;
}

/**
 * natter_peer_session_get_remote_fingerprint:
 *
 * Returns: (nullable): the `a=fingerprint` value of the peer's current
 *   description, to compare with the DTLS certificate it presents
 */
const char *
natter_peer_session_get_remote_fingerprint (NatterPeerSession *self)
{
  g_return_val_if_fail (NATTER_IS_PEER_SESSION (self), NULL);

  return self->remote_fingerprint;
}

/**
 * natter_peer_session_get_failure_reason:
 *
 * Returns: (nullable): why the last attempt failed, in words for a log or a
 *   details page; %NULL when it did not
 */
const char *
natter_peer_session_get_failure_reason (NatterPeerSession *self)
{
  g_return_val_if_fail (NATTER_IS_PEER_SESSION (self), NULL);

  return self->failure_reason;
}

/**
 * natter_peer_session_create_channel:
 * @label: at most 64 bytes, not "chat"
 *
 * Opens an extra reliable, ordered data channel on the connected session.
 *
 * Returns: (transfer full): the channel (CONNECTING until the peer
 *   acknowledges it), or %NULL with @error set
 */
NatterChannel *
natter_peer_session_create_channel (NatterPeerSession  *self,
                                    const char         *label,
                                    GError            **error)
{
  g_autoptr(GstStructure) options = NULL;
  g_autoptr(GstWebRTCDataChannel) dc = NULL;
  NatterChannel *channel;
  Attempt *attempt;

  g_return_val_if_fail (NATTER_IS_PEER_SESSION (self), NULL);
  g_return_val_if_fail (label != NULL, NULL);

  attempt = self->attempt;
  if (self->state != NATTER_SESSION_CONNECTED || attempt == NULL || !attempt->channel_open)
    {
      g_set_error_literal (error, NATTER_ERROR, NATTER_ERROR_NOT_CONNECTED,
                           "The session is not connected");
      return NULL;
    }
  if (*label == '\0' || strlen (label) > MAX_CHANNEL_LABEL_LEN ||
      g_str_equal (label, CHAT_CHANNEL_LABEL) || !g_utf8_validate (label, -1, NULL))
    {
      g_set_error_literal (error, NATTER_ERROR, NATTER_ERROR_INVALID_INPUT,
                           "Invalid channel label");
      return NULL;
    }
  if (attempt->channels->len >= MAX_CHANNELS)
    {
      g_set_error_literal (error, NATTER_ERROR, NATTER_ERROR_TOO_LARGE,
                           "Too many channels on one session");
      return NULL;
    }

  options = gst_structure_new ("application/data-channel",
                               "ordered", G_TYPE_BOOLEAN, TRUE,
                               NULL);
  g_signal_emit_by_name (attempt->webrtc, "create-data-channel", label, options, &dc);
  if (dc == NULL)
    {
      g_set_error_literal (error, NATTER_ERROR, NATTER_ERROR_FAILED,
                           "webrtcbin could not create the channel");
      return NULL;
    }
  channel = natter_channel_new_internal (dc, attempt->context, G_PRIORITY_DEFAULT_IDLE);
  g_ptr_array_add (attempt->channels, g_object_ref (channel));
  natter_channel_activate_internal (channel);
  return channel;
}

/* ---- GObject ------------------------------------------------------------- */

static void
natter_peer_session_constructed (GObject *object)
{
  NatterPeerSession *self = NATTER_PEER_SESSION (object);

  G_OBJECT_CLASS (natter_peer_session_parent_class)->constructed (object);

  self->polite = g_strcmp0 (self->local_peer_id, self->remote_peer_id) < 0;
  if (self->ice == NULL)
    self->ice = natter_ice_config_new ();
}

static void
natter_peer_session_dispose (GObject *object)
{
  NatterPeerSession *self = NATTER_PEER_SESSION (object);

  /* No "bye" here: only close() speaks to the peer. */
  session_drop_attempt (self);

  G_OBJECT_CLASS (natter_peer_session_parent_class)->dispose (object);
}

static void
natter_peer_session_finalize (GObject *object)
{
  NatterPeerSession *self = NATTER_PEER_SESSION (object);

  g_queue_clear (&self->early_order);
  g_clear_pointer (&self->early_ice, g_hash_table_unref);
  g_queue_clear_full (&self->retired, g_free);
  g_clear_pointer (&self->ice, natter_ice_config_unref);
  g_clear_pointer (&self->context, g_main_context_unref);
  g_free (self->local_peer_id);
  g_free (self->remote_peer_id);
  g_free (self->local_fingerprint);
  g_free (self->remote_fingerprint);
  g_free (self->failure_reason);

  G_OBJECT_CLASS (natter_peer_session_parent_class)->finalize (object);
}

static void
natter_peer_session_get_property (GObject    *object,
                                  guint       prop_id,
                                  GValue     *value,
                                  GParamSpec *pspec)
{
  NatterPeerSession *self = NATTER_PEER_SESSION (object);

  switch (prop_id)
    {
    case PROP_LOCAL_PEER_ID:
      g_value_set_string (value, self->local_peer_id);
      break;

    case PROP_REMOTE_PEER_ID:
      g_value_set_string (value, self->remote_peer_id);
      break;

    case PROP_ICE_CONFIG:
      g_value_set_boxed (value, self->ice);
      break;

    case PROP_STATE:
      g_value_set_enum (value, self->state);
      break;

    case PROP_CONNECT_TIMEOUT:
      g_value_set_uint (value, self->connect_timeout_ms);
      break;

    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
natter_peer_session_set_property (GObject      *object,
                                  guint         prop_id,
                                  const GValue *value,
                                  GParamSpec   *pspec)
{
  NatterPeerSession *self = NATTER_PEER_SESSION (object);

  switch (prop_id)
    {
    case PROP_LOCAL_PEER_ID:
      self->local_peer_id = g_value_dup_string (value);
      break;

    case PROP_REMOTE_PEER_ID:
      self->remote_peer_id = g_value_dup_string (value);
      break;

    case PROP_ICE_CONFIG:
      self->ice = g_value_dup_boxed (value);
      break;

    case PROP_CONNECT_TIMEOUT:
      natter_peer_session_set_connect_timeout (self, g_value_get_uint (value));
      break;

    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
natter_peer_session_class_init (NatterPeerSessionClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->constructed = natter_peer_session_constructed;
  object_class->dispose = natter_peer_session_dispose;
  object_class->finalize = natter_peer_session_finalize;
  object_class->get_property = natter_peer_session_get_property;
  object_class->set_property = natter_peer_session_set_property;

  properties[PROP_LOCAL_PEER_ID] =
    g_param_spec_string ("local-peer-id", NULL, NULL, NULL,
                         G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);
  properties[PROP_REMOTE_PEER_ID] =
    g_param_spec_string ("remote-peer-id", NULL, NULL, NULL,
                         G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);
  properties[PROP_ICE_CONFIG] =
    g_param_spec_boxed ("ice-config", NULL, NULL, NATTER_TYPE_ICE_CONFIG,
                        G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);
  properties[PROP_STATE] =
    g_param_spec_enum ("state", NULL, NULL, NATTER_TYPE_SESSION_STATE, NATTER_SESSION_NEW,
                       G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  properties[PROP_CONNECT_TIMEOUT] =
    g_param_spec_uint ("connect-timeout", NULL, NULL,
                       1, G_MAXUINT, NATTER_PEER_SESSION_CONNECT_TIMEOUT_MS,
                       G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, properties);

  /**
   * NatterPeerSession::signal-out:
   * @type: "offer", "answer", "ice" or "bye"
   * @session_id: the attempt it belongs to
   * @body: the JSON body
   *
   * A signaling message the owner must deliver to the peer, whose side feeds
   * it to natter_peer_session_handle_signal().
   */
  _natter_peer_session_signals[SIGNAL_OUT] =
    g_signal_new ("signal-out", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 3,
                  G_TYPE_STRING, G_TYPE_STRING, JSON_TYPE_OBJECT);

  /**
   * NatterPeerSession::frame-received:
   * @frame: one chat-channel message
   *
   * Emitted on the main context, in the order the peer sent them.
   */
  _natter_peer_session_signals[FRAME_RECEIVED] =
    g_signal_new ("frame-received", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 1, G_TYPE_BYTES);

  /**
   * NatterPeerSession::channel-open:
   *
   * The chat channel of a new connection is open (state is CONNECTED).
   */
  _natter_peer_session_signals[CHANNEL_OPEN] =
    g_signal_new ("channel-open", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 0);

  /**
   * NatterPeerSession::buffered-amount-low:
   *
   * The chat channel's send queue fell to the configured threshold.
   */
  _natter_peer_session_signals[BUFFERED_AMOUNT_LOW] =
    g_signal_new ("buffered-amount-low", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 0);

  /**
   * NatterPeerSession::channel-added:
   * @channel: a data channel the peer opened on the verified connection
   *
   * Keep a reference to use it; it closes when the connection ends.
   */
  _natter_peer_session_signals[CHANNEL_ADDED] =
    g_signal_new ("channel-added", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 1, NATTER_TYPE_CHANNEL);

  /* Sessions are the first thing in the core that needs GStreamer. */
  gst_init (NULL, NULL);
}

static void
natter_peer_session_init (NatterPeerSession *self)
{
  self->context = g_main_context_ref_thread_default ();
  self->connect_timeout_ms = NATTER_PEER_SESSION_CONNECT_TIMEOUT_MS;
  self->early_ice = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                           (GDestroyNotify) g_ptr_array_unref);
  g_queue_init (&self->early_order);
  g_queue_init (&self->retired);
}
