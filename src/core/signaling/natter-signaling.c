/* natter-signaling.c: the NatterSignaling object, its properties and accessors; how its pieces fit. */
#define G_LOG_DOMAIN "natter-signaling"

/*
 * How libmosquitto is driven
 * ==========================
 *
 * The code is split over files that share natter-signaling-private.h:
 * natter-signaling-watch.c drives the socket, natter-signaling-connect.c
 * connects, reconnects and stops, natter-signaling-in.c checks what arrives,
 * natter-signaling-out.c publishes; this file holds the object itself.
 *
 * No libmosquitto thread and no polling: one GSource watches mosquitto_socket()
 * and calls mosquitto_loop_read() on G_IO_IN and mosquitto_loop_write() on
 * G_IO_OUT, asking for G_IO_OUT only while mosquitto_want_write(); a 1 s timer
 * calls mosquitto_loop_misc() (keepalive) while connected. Every function that
 * hands libmosquitto a packet re-computes the watched condition afterwards.
 *
 * libmosquitto's callbacks only record events in a queue; the queue is drained
 * after the libmosquitto call returns. So our signal handlers never run inside
 * libmosquitto (a handler may publish, stop us or drop its last reference) and
 * publishing from them writes at once instead of waiting for the next wake-up.
 *
 * Sessions: clean_session = true, and we re-subscribe after every CONNACK. A
 * persistent session would keep messages for us while we are away, but every
 * envelope expires after NATTER_SIGNALING_TS_WINDOW_MS anyway, it would need a
 * client id that is stable per identity (two processes of one profile would
 * then kick each other off the broker forever), and it leaves state on a broker
 * we do not own. Peers resend when presence says we are back. Messages that
 * were in flight (QoS 1, no PUBACK) when the link died are resent by
 * libmosquitto after the reconnect; duplicates are dropped by the nonce cache.
 *
 * Presence: on every connection we pick a new epoch (milliseconds, strictly
 * increasing in this process), set a Last Will "offline" for it and, once
 * connected, publish a retained "online" for it. A receiver orders presence by
 * (epoch, seq) and treats "offline" as final for its epoch, so a stale retained
 * message or a late will of an older connection never hides a newer "online".
 */

#include <errno.h>

#include "natter-broker-url.h"
#include "natter-signaling-private.h"

/* Our own topics, the ones natter_signaling_topic_for_type() maps onto. */
const char * const _natter_signaling_direct_kinds[] = {
  "offer", "answer", "ice", "contact-request"
};

G_DEFINE_FINAL_TYPE (NatterSignaling, natter_signaling, G_TYPE_OBJECT)

G_DEFINE_ENUM_TYPE (NatterSignalingState, natter_signaling_state,
  G_DEFINE_ENUM_VALUE (NATTER_SIGNALING_DISCONNECTED, "disconnected"),
  G_DEFINE_ENUM_VALUE (NATTER_SIGNALING_CONNECTING, "connecting"),
  G_DEFINE_ENUM_VALUE (NATTER_SIGNALING_CONNECTED, "connected"))

GParamSpec *_natter_signaling_properties[N_PROPS];
guint _natter_signaling_signals[N_SIGNALS];

/* ------------------------------------------------------------------------ */
/* Small helpers                                                            */
/* ------------------------------------------------------------------------ */

void
_natter_signaling_event_free (Event *event)
{
  g_free (event->topic);
  g_clear_pointer (&event->payload, g_bytes_unref);
  g_free (event);
}

void
_natter_signaling_outgoing_free (Outgoing *out)
{
  g_free (out->to);
  g_free (out->type);
  g_free (out->session);
  g_clear_pointer (&out->body, json_object_unref);
  g_free (out);
}

void
_natter_signaling_replay_entry_free (ReplayEntry *entry)
{
  g_free (entry->key);
  g_free (entry);
}

void
_natter_signaling_clear_source (GSource **source)
{
  if (*source == NULL)
    return;
  g_source_destroy (*source);
  g_clear_pointer (source, g_source_unref);
}

const char *
_natter_signaling_own_id (NatterSignaling *self)
{
  return natter_identity_get_peer_id (self->identity);
}

char *
_natter_signaling_topic_for (const char *peer_id,
                             const char *kind)
{
  return g_strconcat (TOPIC_ROOT, peer_id, "/", kind, NULL);
}

gint64
_natter_signaling_now_ms (void)
{
  return g_get_real_time () / 1000;
}

const char *
_natter_signaling_mosq_error_string (int rc)
{
  if (rc == MOSQ_ERR_ERRNO)
    return g_strerror (errno);
  return mosquitto_strerror (rc);
}

/**
 * natter_signaling_topic_for_type:
 * @type: an envelope type
 *
 * Returns: (nullable): the last topic level that envelopes of @type travel
 *   on, or %NULL for an unknown type
 */
const char *
natter_signaling_topic_for_type (const char *type)
{
  g_return_val_if_fail (type != NULL, NULL);

  if (g_str_equal (type, "offer") || g_str_equal (type, "bye"))
    return "offer";
  if (g_str_equal (type, "answer"))
    return "answer";
  if (g_str_equal (type, "ice"))
    return "ice";
  if (g_str_equal (type, "contact-request") ||
      g_str_equal (type, "contact-accept") ||
      g_str_equal (type, "contact-decline"))
    return "contact-request";
  if (g_str_equal (type, "presence"))
    return "presence";
  return NULL;
}

/**
 * natter_signaling_parse_broker_url:
 * @url: mqtt://host[:port][/] or mqtts://host[:port][/]
 * @host: (out) (optional): the host name or address (IPv6 without brackets)
 * @port: (out) (optional): the port; 1883 or 8883 when the URL has none
 * @tls: (out) (optional): whether the scheme is mqtts
 * @error: return location for a #GError
 *
 * The same as natter_broker_url_parse(), which new code calls.
 *
 * Returns: %TRUE if @url is a broker URL, else %FALSE with
 *   NATTER_ERROR_INVALID_INPUT
 */
gboolean
natter_signaling_parse_broker_url (const char  *url,
                                   char       **host,
                                   guint16     *port,
                                   gboolean    *tls,
                                   GError     **error)
{
  return natter_broker_url_parse (url, host, port, tls, error);
}

/* ------------------------------------------------------------------------ */
/* GObject                                                                  */
/* ------------------------------------------------------------------------ */

static void
natter_signaling_dispose (GObject *object)
{
  NatterSignaling *self = (NatterSignaling *)object;

  /* Say goodbye properly rather than leaving it to the will. */
  if (self->running)
    natter_signaling_stop (self);

  _natter_signaling_clear_source (&self->misc_source);
  _natter_signaling_clear_source (&self->retry_source);
  _natter_signaling_clear_source (&self->connect_timeout_source);
  _natter_signaling_clear_source (&self->close_timeout_source);
  _natter_signaling_clear_source (&self->confirm_source);
  _natter_signaling_cancel_resolve (self);
  _natter_signaling_destroy_mosq (self);
  _natter_signaling_clear_source (&self->io_source);

  G_OBJECT_CLASS (natter_signaling_parent_class)->dispose (object);
}

static void
natter_signaling_finalize (GObject *object)
{
  NatterSignaling *self = (NatterSignaling *)object;

  g_clear_object (&self->identity);
  g_free (self->host);
  g_free (self->username);
  g_free (self->password);
  g_free (self->ca_file);
  g_free (self->epoch_str);
  g_free (self->last_error);
  g_hash_table_unref (self->followed);
  g_hash_table_unref (self->inflight);
  g_hash_table_unref (self->replay);
  g_queue_clear_full (&self->replay_order, (GDestroyNotify) _natter_signaling_replay_entry_free);
  g_queue_clear_full (&self->events, (GDestroyNotify) _natter_signaling_event_free);
  g_queue_clear_full (&self->outbox, (GDestroyNotify) _natter_signaling_outgoing_free);

  G_OBJECT_CLASS (natter_signaling_parent_class)->finalize (object);
}

static void
natter_signaling_get_property (GObject    *object,
                               guint       prop_id,
                               GValue     *value,
                               GParamSpec *pspec)
{
  NatterSignaling *self = NATTER_SIGNALING (object);

  switch (prop_id)
    {
    case PROP_IDENTITY:
      g_value_set_object (value, self->identity);
      break;
    case PROP_STATE:
      g_value_set_enum (value, self->state);
      break;
    case PROP_NEXT_RETRY:
      g_value_set_int64 (value, self->next_retry);
      break;
    case PROP_BACKOFF_SCALE:
      g_value_set_double (value, self->backoff_scale);
      break;
    case PROP_REJECTED_COUNT:
      g_value_set_uint (value, self->rejected_count);
      break;
    case PROP_LAST_ERROR:
      g_value_set_string (value, self->last_error);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
natter_signaling_set_property (GObject      *object,
                               guint         prop_id,
                               const GValue *value,
                               GParamSpec   *pspec)
{
  NatterSignaling *self = NATTER_SIGNALING (object);

  switch (prop_id)
    {
    case PROP_IDENTITY:
      self->identity = g_value_dup_object (value);
      break;
    case PROP_BACKOFF_SCALE:
      natter_signaling_set_backoff_scale (self, g_value_get_double (value));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
natter_signaling_constructed (GObject *object)
{
  NatterSignaling *self = (NatterSignaling *)object;

  G_OBJECT_CLASS (natter_signaling_parent_class)->constructed (object);

  g_assert (NATTER_IS_IDENTITY (self->identity));
}

static void
natter_signaling_class_init (NatterSignalingClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->constructed = natter_signaling_constructed;
  object_class->dispose = natter_signaling_dispose;
  object_class->finalize = natter_signaling_finalize;
  object_class->get_property = natter_signaling_get_property;
  object_class->set_property = natter_signaling_set_property;

  _natter_signaling_properties[PROP_IDENTITY] =
    g_param_spec_object ("identity", NULL, NULL,
                         NATTER_TYPE_IDENTITY,
                         (G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS));

  /**
   * NatterSignaling:state:
   *
   * Whether we are connected to the broker.
   */
  _natter_signaling_properties[PROP_STATE] =
    g_param_spec_enum ("state", NULL, NULL,
                       NATTER_TYPE_SIGNALING_STATE,
                       NATTER_SIGNALING_DISCONNECTED,
                       (G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS));

  /**
   * NatterSignaling:next-retry:
   *
   * g_get_monotonic_time() of the next reconnect attempt, or 0 when none is
   * scheduled (for a "reconnecting in N s" banner).
   */
  _natter_signaling_properties[PROP_NEXT_RETRY] =
    g_param_spec_int64 ("next-retry", NULL, NULL,
                        0, G_MAXINT64, 0,
                        (G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS));

  /**
   * NatterSignaling:last-error:
   *
   * Why the last connection attempt failed, in words for the user; %NULL
   * while connected or before the first failure.
   */
  _natter_signaling_properties[PROP_LAST_ERROR] =
    g_param_spec_string ("last-error", NULL, NULL, NULL,
                         (G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS));

  /**
   * NatterSignaling:backoff-scale:
   *
   * Multiplies every reconnect delay; tests shrink it. The environment
   * variable NATTER_BACKOFF_SCALE sets the initial value.
   */
  _natter_signaling_properties[PROP_BACKOFF_SCALE] =
    g_param_spec_double ("backoff-scale", NULL, NULL,
                         0.001, 100.0, 1.0,
                         (G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS));

  /**
   * NatterSignaling:rejected-count:
   *
   * How many received envelopes were refused (malformed, forged, stale,
   * replayed, misaddressed).
   */
  _natter_signaling_properties[PROP_REJECTED_COUNT] =
    g_param_spec_uint ("rejected-count", NULL, NULL,
                       0, G_MAXUINT, 0,
                       (G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS));

  g_object_class_install_properties (object_class, N_PROPS, _natter_signaling_properties);

  /**
   * NatterSignaling::envelope-received:
   * @self: the signaling client
   * @envelope: a verified, fresh, first-seen envelope addressed to us
   *
   * Emitted for every accepted envelope on our own topics (not presence).
   * Whether the sender is a contact is for the handler to decide.
   */
  _natter_signaling_signals[ENVELOPE_RECEIVED] =
    g_signal_new ("envelope-received",
                  G_TYPE_FROM_CLASS (klass),
                  G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL,
                  G_TYPE_NONE, 1, NATTER_TYPE_ENVELOPE);

  /**
   * NatterSignaling::presence-changed:
   * @self: the signaling client
   * @peer_id: a followed peer
   * @online: whether it is online
   * @epoch: the epoch of the connection the news is about; a new epoch while
   *   online means the peer reconnected
   *
   * Emitted when a followed peer's presence is first known or changes.
   */
  _natter_signaling_signals[PRESENCE_CHANGED] =
    g_signal_new ("presence-changed",
                  G_TYPE_FROM_CLASS (klass),
                  G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL,
                  G_TYPE_NONE, 3, G_TYPE_STRING, G_TYPE_BOOLEAN, G_TYPE_INT64);

  mosquitto_lib_init ();
}

static void
natter_signaling_init (NatterSignaling *self)
{
  const char *scale = g_getenv ("NATTER_BACKOFF_SCALE");

  self->state = NATTER_SIGNALING_DISCONNECTED;
  self->backoff_scale = 1.0;
  if (scale != NULL)
    {
      double value = g_ascii_strtod (scale, NULL);

      if (value >= 0.001 && value <= 100.0)
        self->backoff_scale = value;
    }
  self->io_fd = -1;
  self->followed = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  self->replay = g_hash_table_new (g_str_hash, g_str_equal);
  self->inflight = g_hash_table_new (NULL, NULL);
  g_queue_init (&self->replay_order);
  g_queue_init (&self->events);
  g_queue_init (&self->outbox);

  self->io_source = g_source_new (&_natter_signaling_io_source_funcs, sizeof (IoSource));
  ((IoSource *) self->io_source)->self = self;
  g_source_set_static_name (self->io_source, "NatterSignaling socket");
  g_source_attach (self->io_source, g_main_context_get_thread_default ());
}

/* ------------------------------------------------------------------------ */
/* Public API                                                               */
/* ------------------------------------------------------------------------ */

/* The rest of it: natter_signaling_set_broker(), _start() and _stop() in
 * natter-signaling-connect.c; natter_signaling_send() and _flush() in
 * natter-signaling-out.c. */

/**
 * natter_signaling_new:
 * @identity: who we are
 *
 * Creates a signaling client on the thread-default main context. It does
 * nothing until natter_signaling_set_broker() and natter_signaling_start().
 *
 * Returns: (transfer full): a new #NatterSignaling
 */
NatterSignaling *
natter_signaling_new (NatterIdentity *identity)
{
  g_return_val_if_fail (NATTER_IS_IDENTITY (identity), NULL);

  return g_object_new (NATTER_TYPE_SIGNALING, "identity", identity, NULL);
}

NatterIdentity *
natter_signaling_get_identity (NatterSignaling *self)
{
  g_return_val_if_fail (NATTER_IS_SIGNALING (self), NULL);

  return self->identity;
}

/**
 * natter_signaling_get_last_error:
 *
 * Returns: (nullable): why the last connection attempt failed, for the user
 */
const char *
natter_signaling_get_last_error (NatterSignaling *self)
{
  g_return_val_if_fail (NATTER_IS_SIGNALING (self), NULL);
  return self->last_error;
}

NatterSignalingState
natter_signaling_get_state (NatterSignaling *self)
{
  g_return_val_if_fail (NATTER_IS_SIGNALING (self), NATTER_SIGNALING_DISCONNECTED);

  return self->state;
}

/**
 * natter_signaling_get_next_retry:
 * @self: a #NatterSignaling
 *
 * Returns: the g_get_monotonic_time() of the next reconnect attempt, or 0
 */
gint64
natter_signaling_get_next_retry (NatterSignaling *self)
{
  g_return_val_if_fail (NATTER_IS_SIGNALING (self), 0);

  return self->next_retry;
}

double
natter_signaling_get_backoff_scale (NatterSignaling *self)
{
  g_return_val_if_fail (NATTER_IS_SIGNALING (self), 1.0);

  return self->backoff_scale;
}

void
natter_signaling_set_backoff_scale (NatterSignaling *self,
                                    double           scale)
{
  g_return_if_fail (NATTER_IS_SIGNALING (self));
  g_return_if_fail (scale >= 0.001 && scale <= 100.0);

  if (self->backoff_scale == scale)
    return;
  self->backoff_scale = scale;
  g_object_notify_by_pspec (G_OBJECT (self), _natter_signaling_properties[PROP_BACKOFF_SCALE]);
}

/**
 * natter_signaling_get_epoch:
 * @self: a #NatterSignaling
 *
 * Returns: (nullable): the epoch of the current (or last) connection, in
 *   decimal; it grows with every connection. %NULL before the first one.
 */
const char *
natter_signaling_get_epoch (NatterSignaling *self)
{
  g_return_val_if_fail (NATTER_IS_SIGNALING (self), NULL);

  return self->epoch_str;
}

/**
 * natter_signaling_follow_presence:
 * @self: a #NatterSignaling
 * @peer_id: a contact
 *
 * Subscribes to @peer_id's presence, now and after every reconnect;
 * #NatterSignaling::presence-changed reports it.
 */
void
natter_signaling_follow_presence (NatterSignaling *self,
                                  const char      *peer_id)
{
  g_return_if_fail (NATTER_IS_SIGNALING (self));
  g_return_if_fail (natter_peer_id_is_valid (peer_id));

  if (g_str_equal (peer_id, _natter_signaling_own_id (self)) ||
      g_hash_table_contains (self->followed, peer_id))
    return;

  g_hash_table_insert (self->followed, g_strdup (peer_id), g_new0 (Presence, 1));
  if (self->state == NATTER_SIGNALING_CONNECTED)
    {
      _natter_signaling_subscribe (self, peer_id, "presence");
      _natter_signaling_after_io (self);
    }
}

void
natter_signaling_unfollow_presence (NatterSignaling *self,
                                    const char      *peer_id)
{
  g_return_if_fail (NATTER_IS_SIGNALING (self));
  g_return_if_fail (peer_id != NULL);

  if (!g_hash_table_remove (self->followed, peer_id))
    return;
  if (self->state == NATTER_SIGNALING_CONNECTED)
    {
      g_autofree char *topic = _natter_signaling_topic_for (peer_id, "presence");

      mosquitto_unsubscribe (self->mosq, NULL, topic);
      _natter_signaling_after_io (self);
    }
}

/**
 * natter_signaling_is_online:
 * @self: a #NatterSignaling
 * @peer_id: a followed peer
 *
 * Returns: whether the last presence we accepted from @peer_id said online
 */
gboolean
natter_signaling_is_online (NatterSignaling *self,
                            const char      *peer_id)
{
  Presence *presence;

  g_return_val_if_fail (NATTER_IS_SIGNALING (self), FALSE);
  g_return_val_if_fail (peer_id != NULL, FALSE);

  presence = g_hash_table_lookup (self->followed, peer_id);
  return presence != NULL && presence->known && presence->online;
}

/**
 * natter_signaling_get_rejected_count:
 * @self: a #NatterSignaling
 *
 * Returns: how many received envelopes were refused, replays included
 */
guint
natter_signaling_get_rejected_count (NatterSignaling *self)
{
  g_return_val_if_fail (NATTER_IS_SIGNALING (self), 0);

  return self->rejected_count;
}

/**
 * natter_signaling_get_replay_count:
 * @self: a #NatterSignaling
 *
 * Returns: how many received envelopes were refused as already seen
 *   (duplicate QoS 1 deliveries or replays)
 */
guint
natter_signaling_get_replay_count (NatterSignaling *self)
{
  g_return_val_if_fail (NATTER_IS_SIGNALING (self), 0);

  return self->replay_count;
}
