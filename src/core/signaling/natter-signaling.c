/* natter-signaling.c: libmosquitto driven by the GLib main loop: topics, presence, reconnect. */
#define G_LOG_DOMAIN "natter-signaling"

/*
 * How libmosquitto is driven
 * ==========================
 *
 * No libmosquitto thread and no polling: one GSource watches mosquitto_socket()
 * and calls mosquitto_loop_read() on G_IO_IN and mosquitto_loop_write() on
 * G_IO_OUT, asking for G_IO_OUT only while mosquitto_want_write(); a 1 s timer
 * calls mosquitto_loop_misc() (keepalive) while connected. Every function here
 * that hands libmosquitto a packet re-computes the watched condition afterwards.
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
#include <string.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <glib-unix.h>
#include <glib/gi18n-lib.h>
#include <mosquitto.h>

#include "natter-error.h"
#include "natter-signaling.h"

#define TOPIC_ROOT            "natter/v1/user/"
#define KEEPALIVE_S           30
#define CONNECT_TIMEOUT_MS    10000
#define CLOSE_TIMEOUT_MS      2000
/* How long after our reconnect a followed peer's presence must reappear. */
#define PRESENCE_CONFIRM_MS   3000
#define BACKOFF_CAP_S         30u
#define BACKOFF_JITTER        0.2
#define DEFAULT_PORT          1883
#define DEFAULT_TLS_PORT      8883
#define SYSTEM_CA_PATH        "/etc/ssl/certs"

/* Our own topics, the ones natter_signaling_topic_for_type() maps onto. */
static const char * const direct_kinds[] = { "offer", "answer", "ice", "contact-request" };

typedef enum
{
  EVENT_CONNACK,
  EVENT_DISCONNECT,
  EVENT_MESSAGE,
  EVENT_PUBACK,
} EventKind;

typedef struct
{
  EventKind  kind;
  guint      generation;   /* which connection it belongs to */
  int        rc;
  char      *topic;
  GBytes    *payload;
} Event;

typedef struct
{
  char       *to;
  char       *type;
  char       *session;
  JsonObject *body;
} Outgoing;

typedef struct
{
  gboolean known;
  gboolean unconfirmed;   /* online before our reconnect, not heard of since */
  gboolean online;
  gint64   epoch;
  gint64   seq;
} Presence;

typedef struct
{
  char   *key;
  gint64  expires_ms;
} ReplayEntry;

typedef enum
{
  REJECT_EMPTY,
  REJECT_UNDECODABLE,
  REJECT_TYPE_MISMATCH,
  REJECT_NOT_FOR_US,
  REJECT_FROM_SELF,
  REJECT_STALE,
  REJECT_REPLAY,
  REJECT_WRONG_SENDER,
  REJECT_BAD_PRESENCE,
} RejectReason;

static const char * const reject_reasons[] = {
  [REJECT_EMPTY] = "empty payload",
  [REJECT_UNDECODABLE] = "undecodable",
  [REJECT_TYPE_MISMATCH] = "type does not match topic",
  [REJECT_NOT_FOR_US] = "not addressed to us",
  [REJECT_FROM_SELF] = "claims to be from us",
  [REJECT_STALE] = "timestamp outside the window",
  [REJECT_REPLAY] = "nonce seen before",
  [REJECT_WRONG_SENDER] = "sender is not the topic owner",
  [REJECT_BAD_PRESENCE] = "malformed presence body",
};

struct _NatterSignaling
{
  GObject               parent_instance;

  /* owned references */
  NatterIdentity       *identity;
  struct mosquitto     *mosq;
  GSource              *io_source;
  GSource              *misc_source;
  GSource              *retry_source;
  GSource              *connect_timeout_source;
  GSource              *close_timeout_source;
  GSource              *confirm_source;
  GCancellable         *resolve_cancellable;
  char                 *host;
  char                 *username;
  char                 *password;
  char                 *ca_file;
  char                 *epoch_str;
  GHashTable           *followed;        /* peer id → Presence */
  GHashTable           *inflight;        /* mids of our QoS 1 publishes not yet acknowledged */
  GHashTable           *replay;          /* "from nonce" → ReplayEntry (owned by replay_order) */
  GQueue                replay_order;
  GQueue                events;
  GQueue                outbox;

  /* the watched socket */
  gpointer              io_tag;
  int                   io_fd;
  GIOCondition          io_condition;
  gboolean              saw_writable;    /* this connection's TCP handshake finished */

  guint16               port;
  gboolean              tls;
  gboolean              running;         /* between start and stop */
  gboolean              closing;         /* flushing the DISCONNECT after stop */
  gboolean              processing;
  NatterSignalingState  state;
  guint                 generation;
  guint                 attempt;
  gint64                next_retry;
  char                 *last_error;
  gboolean              refused;       /* this attempt ended in a refused CONNACK */
  double                backoff_scale;
  gint64                epoch;
  gint64                presence_seq;
  guint                 rejected_count;
  guint                 replay_count;
};

G_DEFINE_FINAL_TYPE (NatterSignaling, natter_signaling, G_TYPE_OBJECT)

G_DEFINE_ENUM_TYPE (NatterSignalingState, natter_signaling_state,
  G_DEFINE_ENUM_VALUE (NATTER_SIGNALING_DISCONNECTED, "disconnected"),
  G_DEFINE_ENUM_VALUE (NATTER_SIGNALING_CONNECTING, "connecting"),
  G_DEFINE_ENUM_VALUE (NATTER_SIGNALING_CONNECTED, "connected"))

enum {
  PROP_0,
  PROP_IDENTITY,
  PROP_STATE,
  PROP_NEXT_RETRY,
  PROP_BACKOFF_SCALE,
  PROP_REJECTED_COUNT,
  PROP_LAST_ERROR,
  N_PROPS
};

enum {
  ENVELOPE_RECEIVED,
  PRESENCE_CHANGED,
  N_SIGNALS
};

static GParamSpec *properties[N_PROPS];
static guint signals[N_SIGNALS];

static void after_io (NatterSignaling *self);

/* ------------------------------------------------------------------------ */
/* Small helpers                                                            */
/* ------------------------------------------------------------------------ */

static void
event_free (Event *event)
{
  g_free (event->topic);
  g_clear_pointer (&event->payload, g_bytes_unref);
  g_free (event);
}

static void
outgoing_free (Outgoing *out)
{
  g_free (out->to);
  g_free (out->type);
  g_free (out->session);
  g_clear_pointer (&out->body, json_object_unref);
  g_free (out);
}

static void
replay_entry_free (ReplayEntry *entry)
{
  g_free (entry->key);
  g_free (entry);
}

static void
clear_source (GSource **source)
{
  if (*source == NULL)
    return;
  g_source_destroy (*source);
  g_clear_pointer (source, g_source_unref);
}

static GSource *
add_timeout (NatterSignaling *self,
             guint            ms,
             GSourceFunc      func)
{
  GSource *source = g_timeout_source_new (ms);

  /* @self is not referenced: dispose destroys every source first. */
  g_source_set_callback (source, func, self, NULL);
  g_source_attach (source, g_main_context_get_thread_default ());
  return source;
}

static const char *
own_id (NatterSignaling *self)
{
  return natter_identity_get_peer_id (self->identity);
}

static char *
topic_for (const char *peer_id,
           const char *kind)
{
  return g_strconcat (TOPIC_ROOT, peer_id, "/", kind, NULL);
}

static gint64
now_ms (void)
{
  return g_get_real_time () / 1000;
}

static const char *
mosq_error_string (int rc)
{
  if (rc == MOSQ_ERR_ERRNO)
    return g_strerror (errno);
  return mosquitto_strerror (rc);
}

static void
set_state (NatterSignaling      *self,
           NatterSignalingState  state)
{
  if (self->state == state)
    return;
  self->state = state;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_STATE]);
}

/* In words for the user (a banner, natter-cli's "broker" event); no secrets. */
static void
set_last_error (NatterSignaling *self,
                const char      *message)
{
  if (g_strcmp0 (self->last_error, message) == 0)
    return;
  g_free (self->last_error);
  self->last_error = g_strdup (message);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_LAST_ERROR]);
}

static void
set_connection_error (NatterSignaling *self,
                      int              rc)
{
  g_autofree char *message = NULL;

  switch (rc)
    {
    case MOSQ_ERR_TLS:
    case MOSQ_ERR_TLS_HANDSHAKE:
      message = g_strdup (_("Secure connection to the server failed: its certificate could not be "
                            "verified, or it does not speak TLS"));
      break;
    case MOSQ_ERR_TIMEOUT:
      message = g_strdup (_("The server did not answer in time"));
      break;
    case MOSQ_ERR_CONN_REFUSED:
    case MOSQ_ERR_AUTH:
    case MOSQ_ERR_NOT_SUPPORTED:
      message = g_strdup (_("The server refused the connection"));
      break;
    default:
      message = g_strdup_printf (_("Cannot reach the server: %s"), mosq_error_string (rc));
      break;
    }
  set_last_error (self, message);
}

static void
set_next_retry (NatterSignaling *self,
                gint64           next_retry)
{
  if (self->next_retry == next_retry)
    return;
  self->next_retry = next_retry;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_NEXT_RETRY]);
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
 * Credentials do not belong in the URL (they would end up in settings and
 * logs in the clear), so a user-info part is refused like any other extra.
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
  g_autoptr(GUri) uri = NULL;
  const char *scheme;
  const char *path;
  const char *uri_host;
  gboolean is_tls;
  int uri_port;

  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (url == NULL || *url == '\0')
    {
      g_set_error_literal (error, NATTER_ERROR, NATTER_ERROR_INVALID_INPUT,
                           "The broker address is empty");
      return FALSE;
    }

  uri = g_uri_parse (url, G_URI_FLAGS_NON_DNS, NULL);
  if (uri == NULL)
    {
      g_set_error_literal (error, NATTER_ERROR, NATTER_ERROR_INVALID_INPUT,
                           "The broker address is not a valid URL");
      return FALSE;
    }

  scheme = g_uri_get_scheme (uri);
  if (g_ascii_strcasecmp (scheme, "mqtt") == 0)
    is_tls = FALSE;
  else if (g_ascii_strcasecmp (scheme, "mqtts") == 0)
    is_tls = TRUE;
  else
    {
      g_set_error_literal (error, NATTER_ERROR, NATTER_ERROR_INVALID_INPUT,
                           "The broker address must start with mqtt:// or mqtts://");
      return FALSE;
    }

  uri_host = g_uri_get_host (uri);
  if (uri_host == NULL || *uri_host == '\0')
    {
      g_set_error_literal (error, NATTER_ERROR, NATTER_ERROR_INVALID_INPUT,
                           "The broker address has no host");
      return FALSE;
    }
  /* G_URI_FLAGS_NON_DNS keeps the host as written; refuse anything that
   * getaddrinfo() would not take as a host name or address literal. */
  for (const char *p = uri_host; *p != '\0'; p++)
    {
      if (!g_ascii_isalnum (*p) && strchr (".-_:", *p) == NULL)
        {
          g_set_error_literal (error, NATTER_ERROR, NATTER_ERROR_INVALID_INPUT,
                               "The broker host name contains invalid characters");
          return FALSE;
        }
    }

  if (g_uri_get_userinfo (uri) != NULL)
    {
      g_set_error_literal (error, NATTER_ERROR, NATTER_ERROR_INVALID_INPUT,
                           "Put the broker user name and password in their own fields, not in the address");
      return FALSE;
    }

  path = g_uri_get_path (uri);
  if ((path[0] != '\0' && !g_str_equal (path, "/")) ||
      g_uri_get_query (uri) != NULL || g_uri_get_fragment (uri) != NULL)
    {
      g_set_error_literal (error, NATTER_ERROR, NATTER_ERROR_INVALID_INPUT,
                           "The broker address must not have a path, query or fragment");
      return FALSE;
    }

  uri_port = g_uri_get_port (uri);
  if (uri_port == -1)
    uri_port = is_tls ? DEFAULT_TLS_PORT : DEFAULT_PORT;
  if (uri_port < 1 || uri_port > G_MAXUINT16)
    {
      g_set_error_literal (error, NATTER_ERROR, NATTER_ERROR_INVALID_INPUT,
                           "The broker port must be between 1 and 65535");
      return FALSE;
    }

  if (host != NULL)
    *host = g_strdup (uri_host);
  if (port != NULL)
    *port = (guint16) uri_port;
  if (tls != NULL)
    *tls = is_tls;
  return TRUE;
}

/* ------------------------------------------------------------------------ */
/* libmosquitto callbacks: record only (see the top of the file)             */
/* ------------------------------------------------------------------------ */

static void
push_event (NatterSignaling *self,
            EventKind        kind,
            int              rc,
            const char      *topic,
            GBytes          *payload)
{
  Event *event = g_new0 (Event, 1);

  event->kind = kind;
  event->generation = self->generation;
  event->rc = rc;
  event->topic = g_strdup (topic);
  event->payload = payload;
  g_queue_push_tail (&self->events, event);
}

static void
on_connect (struct mosquitto *mosq,
            void             *user_data,
            int               rc)
{
  push_event (user_data, EVENT_CONNACK, rc, NULL, NULL);
}

static void
on_disconnect (struct mosquitto *mosq,
               void             *user_data,
               int               rc)
{
  push_event (user_data, EVENT_DISCONNECT, rc, NULL, NULL);
}

static void
on_publish (struct mosquitto *mosq,
            void             *user_data,
            int               mid)
{
  push_event (user_data, EVENT_PUBACK, mid, NULL, NULL);
}

static void
on_message (struct mosquitto                *mosq,
            void                            *user_data,
            const struct mosquitto_message  *message)
{
  GBytes *payload;

  if (message->topic == NULL || message->payloadlen < 0)
    return;
  payload = g_bytes_new (message->payload, (gsize) message->payloadlen);
  push_event (user_data, EVENT_MESSAGE, 0, message->topic, payload);
}

/* ------------------------------------------------------------------------ */
/* The socket watch                                                         */
/* ------------------------------------------------------------------------ */

typedef struct
{
  GSource          source;
  NatterSignaling *self;   /* unowned: dispose destroys the source */
} IoSource;

static void handle_io (NatterSignaling *self,
                       GIOCondition     revents);

static gboolean
io_source_dispatch (GSource     *source,
                    GSourceFunc  callback,
                    gpointer     user_data)
{
  NatterSignaling *self = ((IoSource *) source)->self;
  GIOCondition revents = 0;

  if (self->io_tag != NULL)
    revents = g_source_query_unix_fd (source, self->io_tag);
  if (revents != 0)
    handle_io (self, revents);
  return G_SOURCE_CONTINUE;
}

static GSourceFuncs io_source_funcs = {
  .dispatch = io_source_dispatch,
};

/* Whether the socket is ours to drive: a connection we gave up on (timeout,
 * failed TLS) keeps its descriptor inside libmosquitto until the next
 * connect, but we stop listening to it. */
static gboolean
io_active (NatterSignaling *self)
{
  return self->mosq != NULL &&
         (self->state != NATTER_SIGNALING_DISCONNECTED || self->closing);
}

static void
update_io (NatterSignaling *self)
{
  GIOCondition condition = G_IO_IN | G_IO_HUP | G_IO_ERR;
  gboolean tls_handshake;
  int fd = -1;

  if (io_active (self))
    fd = mosquitto_socket (self->mosq);

  if (fd != self->io_fd && self->io_tag != NULL)
    {
      g_source_remove_unix_fd (self->io_source, self->io_tag);
      self->io_tag = NULL;
    }
  self->io_fd = fd;
  if (fd < 0)
    return;

  /* While a TLS handshake runs, libmosquitto keeps saying it wants to write
   * (its flag is only cleared by the first application write), which would
   * make us spin on a writable socket. Writability matters only until the
   * TCP connection is up; after that the handshake waits for the broker. */
  tls_handshake = self->tls && self->state == NATTER_SIGNALING_CONNECTING;
  if (tls_handshake ? !self->saw_writable : mosquitto_want_write (self->mosq))
    condition |= G_IO_OUT;

  if (self->io_tag == NULL)
    self->io_tag = g_source_add_unix_fd (self->io_source, fd, condition);
  else if (condition != self->io_condition)
    g_source_modify_unix_fd (self->io_source, self->io_tag, condition);
  self->io_condition = condition;
}

/* A libmosquitto call failed. Most failures also reach on_disconnect(), but
 * not all (a failed TLS handshake does not), so record one in any case; the
 * handler ignores the second. */
static void
check_rc (NatterSignaling *self,
          int              rc)
{
  if (rc != MOSQ_ERR_SUCCESS)
    push_event (self, EVENT_DISCONNECT, rc, NULL, NULL);
}

/* The broker leaves Nagle on, so its PUBACK for our second publish waits
 * for our delayed ACK (~40 ms) and an answer queued behind it waits too.
 * Linux clears TCP_QUICKACK after use, so it is re-armed after every read. */
static void
quick_ack (NatterSignaling *self)
{
#ifdef TCP_QUICKACK
  int fd = mosquitto_socket (self->mosq);
  int one = 1;

  if (fd >= 0)
    setsockopt (fd, IPPROTO_TCP, TCP_QUICKACK, &one, sizeof one);
#endif
}

static void
handle_io (NatterSignaling *self,
           GIOCondition     revents)
{
  g_autoptr(NatterSignaling) keep = g_object_ref (self);
  gboolean tls_handshake = self->tls && self->state == NATTER_SIGNALING_CONNECTING;

  if (revents & G_IO_OUT)
    self->saw_writable = TRUE;

  /* libmosquitto runs its TLS handshake from loop_read (whatever the socket
   * is ready for), and the queued CONNECT goes out once it has finished. */
  if (((revents & (G_IO_IN | G_IO_HUP | G_IO_ERR)) || tls_handshake) &&
      mosquitto_socket (self->mosq) >= 0)
    {
      check_rc (self, mosquitto_loop_read (self->mosq, 1));
      quick_ack (self);
    }
  if (((revents & G_IO_OUT) || tls_handshake) && mosquitto_socket (self->mosq) >= 0)
    check_rc (self, mosquitto_loop_write (self->mosq, 1));

  after_io (self);
}

/* ------------------------------------------------------------------------ */
/* Presence and envelopes out                                               */
/* ------------------------------------------------------------------------ */

static GBytes *
build_presence (NatterSignaling *self,
                const char      *status)
{
  g_autoptr(JsonObject) body = json_object_new ();
  g_autoptr(NatterEnvelope) envelope = NULL;
  g_autoptr(GError) error = NULL;
  GBytes *payload;

  json_object_set_string_member (body, "status", status);
  json_object_set_int_member (body, "epoch", self->epoch);
  json_object_set_int_member (body, "seq", ++self->presence_seq);
  envelope = natter_envelope_new ("presence", own_id (self), NULL, NULL, body);
  payload = natter_envelope_encode (envelope, self->identity, &error);
  if (payload == NULL)
    g_critical ("Cannot encode our presence: %s", error->message);
  return payload;
}

static int
publish (NatterSignaling *self,
         const char      *topic,
         GBytes          *payload,
         gboolean         retain)
{
  gsize len;
  const void *data = g_bytes_get_data (payload, &len);
  int mid = 0;
  int rc;

  rc = mosquitto_publish (self->mosq, &mid, topic, (int) len, data, 1, retain);
  /* Also after a write error: libmosquitto keeps the message for a resend. */
  if (mid != 0)
    g_hash_table_add (self->inflight, GINT_TO_POINTER (mid));
  return rc;
}

static void
publish_presence (NatterSignaling *self,
                  const char      *status)
{
  g_autoptr(GBytes) payload = build_presence (self, status);
  g_autofree char *topic = topic_for (own_id (self), "presence");
  int rc;

  if (payload == NULL)
    return;
  rc = publish (self, topic, payload, TRUE);
  if (rc != MOSQ_ERR_SUCCESS)
    g_info ("Cannot publish presence “%s”: %s", status, mosq_error_string (rc));
}

static GBytes *
encode_direct (NatterSignaling  *self,
               const char       *to,
               const char       *type,
               const char       *session,
               JsonObject       *body,
               GError          **error)
{
  g_autoptr(NatterEnvelope) envelope = natter_envelope_new (type, own_id (self), to, session, body);

  return natter_envelope_encode (envelope, self->identity, error);
}

/* Returns FALSE (with @error) only for envelopes that can never be sent;
 * when the link is down libmosquitto keeps the QoS 1 message and resends it
 * after the reconnect. */
static gboolean
publish_direct (NatterSignaling  *self,
                const char       *to,
                const char       *type,
                GBytes           *payload,
                GError          **error)
{
  g_autofree char *topic = topic_for (to, natter_signaling_topic_for_type (type));
  int rc = publish (self, topic, payload, FALSE);

  switch (rc)
    {
    case MOSQ_ERR_INVAL:
    case MOSQ_ERR_NOMEM:
    case MOSQ_ERR_PAYLOAD_SIZE:
    case MOSQ_ERR_OVERSIZE_PACKET:
    case MOSQ_ERR_MALFORMED_UTF8:
    case MOSQ_ERR_QOS_NOT_SUPPORTED:
      g_set_error (error, NATTER_ERROR, NATTER_ERROR_FAILED,
                   "Cannot publish: %s", mosquitto_strerror (rc));
      return FALSE;
    case MOSQ_ERR_SUCCESS:
      break;
    default:
      g_debug ("Publish hit a broken link (%s); it is resent after the reconnect",
               mosq_error_string (rc));
      break;
    }
  return TRUE;
}

static void
flush_outbox (NatterSignaling *self)
{
  Outgoing *out;

  while (self->state == NATTER_SIGNALING_CONNECTED &&
         (out = g_queue_pop_head (&self->outbox)) != NULL)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(GBytes) payload = NULL;

      /* Encoded now, so the receiver's freshness window counts from the
       * moment the envelope really leaves. */
      payload = encode_direct (self, out->to, out->type, out->session, out->body, &error);
      if (payload == NULL || !publish_direct (self, out->to, out->type, payload, &error))
        g_warning ("Dropping a queued “%s” envelope: %s", out->type, error->message);
      outgoing_free (out);
    }
}

static void
subscribe (NatterSignaling *self,
           const char      *peer_id,
           const char      *kind)
{
  g_autofree char *topic = topic_for (peer_id, kind);
  int rc = mosquitto_subscribe (self->mosq, NULL, topic, 1);

  if (rc != MOSQ_ERR_SUCCESS)
    g_info ("Cannot subscribe to a %s topic: %s", kind, mosq_error_string (rc));
}

/* ------------------------------------------------------------------------ */
/* Connecting                                                               */
/* ------------------------------------------------------------------------ */

static void schedule_retry (NatterSignaling *self);

static void
destroy_mosq (NatterSignaling *self)
{
  if (self->io_tag != NULL)
    g_source_remove_unix_fd (self->io_source, self->io_tag);
  self->io_tag = NULL;
  self->io_fd = -1;
  g_clear_pointer (&self->mosq, mosquitto_destroy);
  g_hash_table_remove_all (self->inflight);
}

static gboolean
ensure_mosq (NatterSignaling *self)
{
  guint8 random_id[8];
  g_autofree char *client_id = NULL;
  int rc;

  if (self->mosq != NULL)
    return TRUE;

  /* A random client id: see "Sessions" at the top of the file. It names
   * neither the user nor the identity in the broker's logs. */
  for (guint i = 0; i < G_N_ELEMENTS (random_id); i++)
    random_id[i] = (guint8) g_random_int_range (0, 256);
  client_id = g_strdup_printf ("natter-%02x%02x%02x%02x%02x%02x%02x%02x",
                               random_id[0], random_id[1], random_id[2], random_id[3],
                               random_id[4], random_id[5], random_id[6], random_id[7]);

  self->mosq = mosquitto_new (client_id, true, self);
  if (self->mosq == NULL)
    {
      g_warning ("Cannot create an MQTT client: %s", g_strerror (errno));
      return FALSE;
    }
  mosquitto_int_option (self->mosq, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V311);
  mosquitto_int_option (self->mosq, MOSQ_OPT_TCP_NODELAY, 1);
  mosquitto_connect_callback_set (self->mosq, on_connect);
  mosquitto_disconnect_callback_set (self->mosq, on_disconnect);
  mosquitto_message_callback_set (self->mosq, on_message);
  mosquitto_publish_callback_set (self->mosq, on_publish);

  rc = mosquitto_username_pw_set (self->mosq, self->username, self->password);
  if (rc == MOSQ_ERR_SUCCESS && self->tls)
    {
      rc = mosquitto_tls_set (self->mosq, self->ca_file,
                              self->ca_file != NULL ? NULL : SYSTEM_CA_PATH,
                              NULL, NULL, NULL);
      if (rc == MOSQ_ERR_SUCCESS && self->ca_file == NULL)
        mosquitto_int_option (self->mosq, MOSQ_OPT_TLS_USE_OS_CERTS, 1);
      /* Peer and host name verification stay on (libmosquitto's default). */
      if (rc == MOSQ_ERR_SUCCESS)
        rc = mosquitto_tls_opts_set (self->mosq, 1, NULL, NULL);
    }
  if (rc != MOSQ_ERR_SUCCESS)
    {
      g_warning ("Cannot configure the MQTT client: %s", mosq_error_string (rc));
      destroy_mosq (self);
      return FALSE;
    }
  return TRUE;
}

static void
cancel_resolve (NatterSignaling *self)
{
  if (self->resolve_cancellable == NULL)
    return;
  g_cancellable_cancel (self->resolve_cancellable);
  g_clear_object (&self->resolve_cancellable);
}

static gboolean
connect_timeout_cb (gpointer user_data)
{
  NatterSignaling *self = user_data;

  g_clear_pointer (&self->connect_timeout_source, g_source_unref);
  if (self->state == NATTER_SIGNALING_CONNECTING)
    {
      int fd = mosquitto_socket (self->mosq);

      cancel_resolve (self);
      /* Shut the socket down so the broker does not keep a half-open
       * session; libmosquitto closes it on the next connect. */
      if (fd >= 0)
        shutdown (fd, SHUT_RDWR);
      push_event (self, EVENT_DISCONNECT, MOSQ_ERR_TIMEOUT, NULL, NULL);
      after_io (self);
    }
  return G_SOURCE_REMOVE;
}

static void
connect_failed (NatterSignaling *self)
{
  clear_source (&self->connect_timeout_source);
  schedule_retry (self);
  set_state (self, NATTER_SIGNALING_DISCONNECTED);
  after_io (self);
}

static void
connect_to (NatterSignaling *self,
            const char      *host)
{
  int rc = mosquitto_connect_async (self->mosq, host, self->port, KEEPALIVE_S);

  if (rc != MOSQ_ERR_SUCCESS)
    {
      g_info ("Cannot connect to the broker: %s", mosq_error_string (rc));
      set_connection_error (self, rc);
      connect_failed (self);
      return;
    }
  after_io (self);
}

static void
on_resolved (GObject      *source,
             GAsyncResult *result,
             gpointer      user_data)
{
  g_autolist(GInetAddress) addresses = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *address = NULL;
  NatterSignaling *self;

  addresses = g_resolver_lookup_by_name_finish (G_RESOLVER (source), result, &error);
  /* Every path that ends the attempt or the object cancels first, so
   * @user_data is only valid when not cancelled. */
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return;

  self = user_data;
  g_clear_object (&self->resolve_cancellable);
  if (addresses == NULL)
    {
      g_info ("Cannot resolve the broker host: %s", error->message);
      connect_failed (self);
      return;
    }

  /* libmosquitto resolves with a blocking getaddrinfo(); an address literal
   * skips that. TLS needs the name itself (SNI, certificate check), and the
   * lookup that just succeeded makes the second one quick. Successive
   * attempts walk the list, so a dead first address (say ::1 while the
   * broker listens on 127.0.0.1 only) does not block us forever. */
  address = g_inet_address_to_string (g_list_nth_data (addresses, self->attempt % g_list_length (addresses)));
  connect_to (self, self->tls ? self->host : address);
}

static void
connect_now (NatterSignaling *self)
{
  g_autoptr(GBytes) will = NULL;
  g_autofree char *will_topic = NULL;
  gsize will_len;
  const void *will_data;
  int rc;

  clear_source (&self->retry_source);
  cancel_resolve (self);
  set_next_retry (self, 0);

  if (self->host == NULL)
    {
      g_info ("No broker configured");
      set_state (self, NATTER_SIGNALING_DISCONNECTED);
      return;
    }
  if (!ensure_mosq (self))
    {
      schedule_retry (self);
      set_state (self, NATTER_SIGNALING_DISCONNECTED);
      return;
    }

  /* Events still queued belong to the previous connection. */
  self->generation++;
  self->saw_writable = FALSE;

  self->epoch = MAX (now_ms (), self->epoch + 1);
  g_free (self->epoch_str);
  self->epoch_str = g_strdup_printf ("%" G_GINT64_FORMAT, self->epoch);

  will = build_presence (self, "offline");
  will_topic = topic_for (own_id (self), "presence");
  rc = MOSQ_ERR_INVAL;
  if (will != NULL)
    {
      will_data = g_bytes_get_data (will, &will_len);
      rc = mosquitto_will_set (self->mosq, will_topic, (int) will_len, will_data, 1, true);
    }
  if (rc != MOSQ_ERR_SUCCESS)
    g_warning ("Cannot set the Last Will: %s", mosquitto_strerror (rc));

  set_state (self, NATTER_SIGNALING_CONNECTING);
  g_debug ("Connecting to the broker (attempt %u)", self->attempt + 1);
  clear_source (&self->connect_timeout_source);
  self->connect_timeout_source = add_timeout (self, CONNECT_TIMEOUT_MS, connect_timeout_cb);

  if (g_hostname_is_ip_address (self->host))
    connect_to (self, self->host);
  else
    {
      g_autoptr(GResolver) resolver = g_resolver_get_default ();

      self->resolve_cancellable = g_cancellable_new ();
      g_resolver_lookup_by_name_async (resolver, self->host, self->resolve_cancellable,
                                       on_resolved, self);
    }
}

static gboolean
retry_cb (gpointer user_data)
{
  NatterSignaling *self = user_data;

  g_clear_pointer (&self->retry_source, g_source_unref);
  if (self->running)
    connect_now (self);
  return G_SOURCE_REMOVE;
}

static void
schedule_retry (NatterSignaling *self)
{
  double delay_s;
  guint delay_ms;

  if (!self->running)
    return;

  /* 1, 2, 4, 8, 16, 30, 30, … seconds, ±20 % so that a restarted broker is
   * not hit by every client in the same second. */
  delay_s = MIN (BACKOFF_CAP_S, 1u << MIN (self->attempt, 5u));
  delay_s *= g_random_double_range (1.0 - BACKOFF_JITTER, 1.0 + BACKOFF_JITTER);
  delay_s *= self->backoff_scale;
  delay_ms = (guint) MAX (1.0, delay_s * 1000.0);
  self->attempt++;

  clear_source (&self->retry_source);
  self->retry_source = add_timeout (self, delay_ms, retry_cb);
  set_next_retry (self, g_get_monotonic_time () + (gint64) delay_ms * 1000);
  g_info ("Reconnecting in %.1f s", delay_ms / 1000.0);
}

static gboolean
misc_cb (gpointer user_data)
{
  NatterSignaling *self = user_data;

  if (self->state == NATTER_SIGNALING_CONNECTED)
    {
      check_rc (self, mosquitto_loop_misc (self->mosq));
      after_io (self);
    }
  return G_SOURCE_CONTINUE;
}

/* A followed peer we believed online whose retained presence did not come
 * back after our reconnect is gone: the broker lost its retained state
 * (a restart without persistence) and with it the peer's Last Will. A peer
 * that is alive publishes "online" again when it reconnects. */
static gboolean
confirm_timeout_cb (gpointer user_data)
{
  NatterSignaling *self = user_data;
  g_autoptr(GPtrArray) gone = g_ptr_array_new_with_free_func (g_free);
  GHashTableIter iter;
  gpointer key, value;

  g_clear_pointer (&self->confirm_source, g_source_unref);
  g_hash_table_iter_init (&iter, self->followed);
  while (g_hash_table_iter_next (&iter, &key, &value))
    {
      Presence *presence = value;

      if (presence->unconfirmed && presence->known && presence->online)
        {
          /* Unknown rather than offline, so that any later presence of the
           * same epoch is taken as news. */
          presence->known = FALSE;
          presence->online = FALSE;
          g_ptr_array_add (gone, g_strdup (key));
        }
      presence->unconfirmed = FALSE;
    }
  for (guint i = 0; i < gone->len; i++)
    {
      Presence *presence = g_hash_table_lookup (self->followed, g_ptr_array_index (gone, i));

      g_debug ("No presence of %.8s… since we reconnected; taking it as offline",
               (const char *) g_ptr_array_index (gone, i));
      g_signal_emit (self, signals[PRESENCE_CHANGED], 0, g_ptr_array_index (gone, i), FALSE,
                     presence != NULL ? presence->epoch : 0);
    }
  return G_SOURCE_REMOVE;
}

static void
expect_presence_again (NatterSignaling *self)
{
  GHashTableIter iter;
  gpointer value;
  gboolean any = FALSE;

  g_hash_table_iter_init (&iter, self->followed);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    {
      Presence *presence = value;

      presence->unconfirmed = presence->known && presence->online;
      any |= presence->unconfirmed;
    }
  clear_source (&self->confirm_source);
  if (any)
    self->confirm_source = add_timeout (self, PRESENCE_CONFIRM_MS, confirm_timeout_cb);
}

static void
handle_connack (NatterSignaling *self,
                int              rc)
{
  GHashTableIter iter;
  gpointer peer_id;

  if (self->state != NATTER_SIGNALING_CONNECTING)
    return;
  if (rc != 0)
    {
      g_autofree char *message = NULL;

      /* libmosquitto drops the link right after; that schedules the retry. */
      g_info ("The broker refused the connection: %s", mosquitto_connack_string (rc));
      /* MQTT 3.1.1 return codes 4 and 5: the credentials. */
      message = rc == 4 || rc == 5
                ? g_strdup (_("The server refused the user name or password"))
                : g_strdup_printf (_("The server refused the connection: %s"),
                                   mosquitto_connack_string (rc));
      set_last_error (self, message);
      self->refused = TRUE;
      return;
    }

  clear_source (&self->connect_timeout_source);
  set_last_error (self, NULL);
  self->attempt = 0;
  set_next_retry (self, 0);

  for (guint i = 0; i < G_N_ELEMENTS (direct_kinds); i++)
    subscribe (self, own_id (self), direct_kinds[i]);
  g_hash_table_iter_init (&iter, self->followed);
  while (g_hash_table_iter_next (&iter, &peer_id, NULL))
    subscribe (self, peer_id, "presence");
  publish_presence (self, "online");
  expect_presence_again (self);

  clear_source (&self->misc_source);
  self->misc_source = g_timeout_source_new_seconds (1);
  g_source_set_callback (self->misc_source, misc_cb, self, NULL);
  g_source_attach (self->misc_source, g_main_context_get_thread_default ());

  g_info ("Connected to the broker");
  set_state (self, NATTER_SIGNALING_CONNECTED);
  flush_outbox (self);
}

static gboolean
close_timeout_cb (gpointer user_data)
{
  NatterSignaling *self = user_data;

  g_clear_pointer (&self->close_timeout_source, g_source_unref);
  if (self->closing)
    {
      g_info ("The broker did not take our DISCONNECT in time");
      self->closing = FALSE;
      destroy_mosq (self);
    }
  return G_SOURCE_REMOVE;
}

static void
handle_disconnect (NatterSignaling *self,
                   int              rc)
{
  if (self->closing)
    {
      /* natter_signaling_stop() finished: forget this client, so messages
       * it still had in flight are not resent on the next start. */
      self->closing = FALSE;
      clear_source (&self->close_timeout_source);
      destroy_mosq (self);
      return;
    }
  if (self->state == NATTER_SIGNALING_DISCONNECTED)
    return;

  clear_source (&self->misc_source);
  clear_source (&self->connect_timeout_source);
  g_info ("Lost the broker connection: %s",
          rc == MOSQ_ERR_TIMEOUT ? "connect timed out" : mosq_error_string (rc));
  if (!self->refused)
    set_connection_error (self, rc);
  self->refused = FALSE;
  /* The retry is scheduled first so that next-retry is already set when
   * the state notification reaches the UI. */
  schedule_retry (self);
  set_state (self, NATTER_SIGNALING_DISCONNECTED);
}

/* ------------------------------------------------------------------------ */
/* Envelopes and presence in                                                */
/* ------------------------------------------------------------------------ */

static void
reject (NatterSignaling *self,
        RejectReason     reason,
        const char      *kind,
        const char      *sender,
        const char      *detail)
{
  g_autofree char *short_sender = sender != NULL ? natter_peer_id_short (sender) : NULL;

  self->rejected_count++;
  if (reason == REJECT_REPLAY)
    self->replay_count++;
  g_debug ("Rejected an envelope on the %s topic from %s: %s%s%s",
           kind, short_sender != NULL ? short_sender : "(unknown)",
           reject_reasons[reason],
           detail != NULL ? ": " : "", detail != NULL ? detail : "");
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_REJECTED_COUNT]);
}

/* Decode with the checks every topic shares. */
static NatterEnvelope *
decode_payload (NatterSignaling *self,
                const char      *kind,
                GBytes          *payload)
{
  g_autoptr(GError) error = NULL;
  NatterEnvelope *envelope;

  if (g_bytes_get_size (payload) == 0)
    {
      reject (self, REJECT_EMPTY, kind, NULL, NULL);
      return NULL;
    }
  /* The codec's messages name the failed check, never content. */
  envelope = natter_envelope_decode (payload, self->identity, &error);
  if (envelope == NULL)
    reject (self, REJECT_UNDECODABLE, kind, NULL, error->message);
  return envelope;
}

/* Returns TRUE if the nonce is new, and remembers it. Entries are needed only
 * while a replay could still pass the freshness window. */
static gboolean
replay_check (NatterSignaling *self,
              NatterEnvelope  *envelope,
              gint64           now)
{
  ReplayEntry *entry;
  char *key;

  while ((entry = g_queue_peek_head (&self->replay_order)) != NULL &&
         (entry->expires_ms < now ||
          g_queue_get_length (&self->replay_order) >= NATTER_SIGNALING_REPLAY_MAX))
    {
      g_hash_table_remove (self->replay, entry->key);
      replay_entry_free (g_queue_pop_head (&self->replay_order));
    }

  key = g_strconcat (natter_envelope_get_from (envelope), " ",
                     natter_envelope_get_nonce (envelope), NULL);
  if (g_hash_table_contains (self->replay, key))
    {
      g_free (key);
      return FALSE;
    }

  entry = g_new0 (ReplayEntry, 1);
  entry->key = key;
  entry->expires_ms = natter_envelope_get_ts (envelope) + NATTER_SIGNALING_TS_WINDOW_MS;
  g_queue_push_tail (&self->replay_order, entry);
  g_hash_table_add (self->replay, entry->key);
  return TRUE;
}

static void
handle_direct (NatterSignaling *self,
               const char      *kind,
               GBytes          *payload)
{
  g_autoptr(NatterEnvelope) envelope = NULL;
  const char *topic_kind;
  const char *from;
  const char *to;
  gint64 now = now_ms ();
  gint64 ts;

  envelope = decode_payload (self, kind, payload);
  if (envelope == NULL)
    return;

  from = natter_envelope_get_from (envelope);
  to = natter_envelope_get_to (envelope);
  ts = natter_envelope_get_ts (envelope);
  topic_kind = natter_signaling_topic_for_type (natter_envelope_get_type_name (envelope));

  if (topic_kind == NULL || !g_str_equal (topic_kind, kind))
    reject (self, REJECT_TYPE_MISMATCH, kind, from, NULL);
  else if (g_str_equal (from, own_id (self)))
    reject (self, REJECT_FROM_SELF, kind, NULL, NULL);
  else if (to == NULL || !g_str_equal (to, own_id (self)))
    reject (self, REJECT_NOT_FOR_US, kind, from, NULL);
  else if (ts < now - NATTER_SIGNALING_TS_WINDOW_MS || ts > now + NATTER_SIGNALING_TS_WINDOW_MS)
    reject (self, REJECT_STALE, kind, from, NULL);
  else if (!replay_check (self, envelope, now))
    reject (self, REJECT_REPLAY, kind, from, NULL);
  else
    g_signal_emit (self, signals[ENVELOPE_RECEIVED], 0, envelope);
}

static gboolean
get_int (JsonObject *object,
         const char *name,
         gint64     *value)
{
  JsonNode *node = json_object_get_member (object, name);

  if (node == NULL || !JSON_NODE_HOLDS_VALUE (node) ||
      json_node_get_value_type (node) != G_TYPE_INT64)
    return FALSE;
  *value = json_node_get_int (node);
  return *value >= 0;
}

static void
handle_presence (NatterSignaling *self,
                 const char      *peer_id,
                 GBytes          *payload)
{
  g_autoptr(NatterEnvelope) envelope = NULL;
  g_autofree char *short_id = NULL;
  Presence *presence;
  JsonObject *body;
  JsonNode *status_node;
  const char *status;
  gboolean online;
  gboolean changed;
  gint64 epoch;
  gint64 seq;

  presence = g_hash_table_lookup (self->followed, peer_id);
  if (presence == NULL)
    return;   /* unfollowed while the message was on its way */

  /* An empty retained message only clears the topic. */
  if (g_bytes_get_size (payload) == 0)
    return;

  envelope = decode_payload (self, "presence", payload);
  if (envelope == NULL)
    return;

  /* No freshness window here: a retained presence or a will is old by
   * nature. The signature binds it to the sender and the epoch orders it. */
  if (!g_str_equal (natter_envelope_get_type_name (envelope), "presence") ||
      natter_envelope_get_to (envelope) != NULL)
    {
      reject (self, REJECT_TYPE_MISMATCH, "presence", natter_envelope_get_from (envelope), NULL);
      return;
    }
  if (!g_str_equal (natter_envelope_get_from (envelope), peer_id))
    {
      reject (self, REJECT_WRONG_SENDER, "presence", natter_envelope_get_from (envelope), NULL);
      return;
    }

  /* Genuinely from the peer: the broker still holds (or relays) its presence. */
  presence->unconfirmed = FALSE;

  body = natter_envelope_get_body (envelope);
  status_node = body != NULL ? json_object_get_member (body, "status") : NULL;
  status = status_node != NULL && JSON_NODE_HOLDS_VALUE (status_node) &&
           json_node_get_value_type (status_node) == G_TYPE_STRING
           ? json_node_get_string (status_node) : NULL;
  if (status == NULL || !get_int (body, "epoch", &epoch) || !get_int (body, "seq", &seq) ||
      (!g_str_equal (status, "online") && !g_str_equal (status, "offline")))
    {
      reject (self, REJECT_BAD_PRESENCE, "presence", peer_id, NULL);
      return;
    }
  online = g_str_equal (status, "online");

  short_id = natter_peer_id_short (peer_id);
  if (presence->known &&
      (epoch < presence->epoch ||
       (epoch == presence->epoch && (!presence->online || (online && seq <= presence->seq)))))
    {
      /* Older than what we know, or "offline" already ended that epoch. */
      g_debug ("Ignoring outdated presence of %s", short_id);
      return;
    }

  changed = !presence->known || presence->online != online ||
            (online && presence->epoch != epoch);
  presence->known = TRUE;
  presence->online = online;
  presence->epoch = epoch;
  presence->seq = seq;

  if (changed)
    {
      g_debug ("%s is %s", short_id, status);
      g_signal_emit (self, signals[PRESENCE_CHANGED], 0, peer_id, online, epoch);
    }
}

static void
handle_message (NatterSignaling *self,
                const char      *topic,
                GBytes          *payload)
{
  g_autofree char *peer_id = NULL;
  const char *rest;
  const char *slash;
  const char *kind;

  if (!self->running || !g_str_has_prefix (topic, TOPIC_ROOT))
    return;

  rest = topic + strlen (TOPIC_ROOT);
  slash = strchr (rest, '/');
  if (slash == NULL)
    return;
  peer_id = g_strndup (rest, slash - rest);
  kind = slash + 1;

  if (g_str_equal (kind, "presence"))
    {
      handle_presence (self, peer_id, payload);
      return;
    }
  if (!g_str_equal (peer_id, own_id (self)))
    return;
  for (guint i = 0; i < G_N_ELEMENTS (direct_kinds); i++)
    {
      if (g_str_equal (kind, direct_kinds[i]))
        {
          handle_direct (self, kind, payload);
          return;
        }
    }
}

static void
process_events (NatterSignaling *self)
{
  g_autoptr(NatterSignaling) keep = NULL;
  Event *event;

  /* A signal handler may call back into us; the outer loop drains the rest. */
  if (self->processing)
    return;
  keep = g_object_ref (self);
  self->processing = TRUE;

  while ((event = g_queue_pop_head (&self->events)) != NULL)
    {
      if (event->generation == self->generation)
        {
          switch (event->kind)
            {
            case EVENT_CONNACK:
              handle_connack (self, event->rc);
              break;
            case EVENT_DISCONNECT:
              handle_disconnect (self, event->rc);
              break;
            case EVENT_MESSAGE:
              handle_message (self, event->topic, event->payload);
              break;
            case EVENT_PUBACK:
              g_hash_table_remove (self->inflight, GINT_TO_POINTER (event->rc));
              break;
            default:
              g_assert_not_reached ();
            }
        }
      event_free (event);
    }

  self->processing = FALSE;
}

static void
after_io (NatterSignaling *self)
{
  process_events (self);
  update_io (self);
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

  clear_source (&self->misc_source);
  clear_source (&self->retry_source);
  clear_source (&self->connect_timeout_source);
  clear_source (&self->close_timeout_source);
  clear_source (&self->confirm_source);
  cancel_resolve (self);
  destroy_mosq (self);
  clear_source (&self->io_source);

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
  g_queue_clear_full (&self->replay_order, (GDestroyNotify) replay_entry_free);
  g_queue_clear_full (&self->events, (GDestroyNotify) event_free);
  g_queue_clear_full (&self->outbox, (GDestroyNotify) outgoing_free);

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

  properties[PROP_IDENTITY] =
    g_param_spec_object ("identity", NULL, NULL,
                         NATTER_TYPE_IDENTITY,
                         (G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS));

  /**
   * NatterSignaling:state:
   *
   * Whether we are connected to the broker.
   */
  properties[PROP_STATE] =
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
  properties[PROP_NEXT_RETRY] =
    g_param_spec_int64 ("next-retry", NULL, NULL,
                        0, G_MAXINT64, 0,
                        (G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS));

  /**
   * NatterSignaling:last-error:
   *
   * Why the last connection attempt failed, in words for the user; %NULL
   * while connected or before the first failure.
   */
  properties[PROP_LAST_ERROR] =
    g_param_spec_string ("last-error", NULL, NULL, NULL,
                         (G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS));

  /**
   * NatterSignaling:backoff-scale:
   *
   * Multiplies every reconnect delay; tests shrink it. The environment
   * variable NATTER_BACKOFF_SCALE sets the initial value.
   */
  properties[PROP_BACKOFF_SCALE] =
    g_param_spec_double ("backoff-scale", NULL, NULL,
                         0.001, 100.0, 1.0,
                         (G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS));

  /**
   * NatterSignaling:rejected-count:
   *
   * How many received envelopes were refused (malformed, forged, stale,
   * replayed, misaddressed).
   */
  properties[PROP_REJECTED_COUNT] =
    g_param_spec_uint ("rejected-count", NULL, NULL,
                       0, G_MAXUINT, 0,
                       (G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS));

  g_object_class_install_properties (object_class, N_PROPS, properties);

  /**
   * NatterSignaling::envelope-received:
   * @self: the signaling client
   * @envelope: a verified, fresh, first-seen envelope addressed to us
   *
   * Emitted for every accepted envelope on our own topics (not presence).
   * Whether the sender is a contact is for the handler to decide.
   */
  signals[ENVELOPE_RECEIVED] =
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
  signals[PRESENCE_CHANGED] =
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

  self->io_source = g_source_new (&io_source_funcs, sizeof (IoSource));
  ((IoSource *) self->io_source)->self = self;
  g_source_set_static_name (self->io_source, "NatterSignaling socket");
  g_source_attach (self->io_source, g_main_context_get_thread_default ());
}

/* ------------------------------------------------------------------------ */
/* Public API                                                               */
/* ------------------------------------------------------------------------ */

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
 * natter_signaling_set_broker:
 * @self: a #NatterSignaling
 * @url: mqtt://host[:port] or mqtts://host[:port]
 * @username: (nullable): broker user name
 * @password: (nullable): broker password
 * @ca_file: (nullable): PEM file of the CA to trust for mqtts instead of
 *   the system's
 * @error: return location for a #GError
 *
 * Sets the broker; a running client reconnects to it at once. TLS always
 * verifies the broker's certificate and host name.
 *
 * Returns: %TRUE on success, else %FALSE with NATTER_ERROR_INVALID_INPUT
 */
gboolean
natter_signaling_set_broker (NatterSignaling  *self,
                             const char       *url,
                             const char       *username,
                             const char       *password,
                             const char       *ca_file,
                             GError          **error)
{
  g_autofree char *host = NULL;
  gboolean tls;
  gboolean was_running;
  guint16 port;

  g_return_val_if_fail (NATTER_IS_SIGNALING (self), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (!natter_signaling_parse_broker_url (url, &host, &port, &tls, error))
    return FALSE;
  if (password != NULL && username == NULL)
    {
      g_set_error_literal (error, NATTER_ERROR, NATTER_ERROR_INVALID_INPUT,
                           "A broker password needs a user name");
      return FALSE;
    }
  if (ca_file != NULL && !g_file_test (ca_file, G_FILE_TEST_IS_REGULAR))
    {
      g_set_error (error, NATTER_ERROR, NATTER_ERROR_INVALID_INPUT,
                   "The CA file “%s” does not exist", ca_file);
      return FALSE;
    }

  was_running = self->running;
  if (was_running)
    natter_signaling_stop (self);
  /* The client is configured once, when it is created. */
  self->closing = FALSE;
  clear_source (&self->close_timeout_source);
  destroy_mosq (self);

  g_free (self->host);
  self->host = g_steal_pointer (&host);
  self->port = port;
  self->tls = tls;
  g_free (self->username);
  self->username = g_strdup (username);
  g_free (self->password);
  self->password = g_strdup (password);
  g_free (self->ca_file);
  self->ca_file = g_strdup (ca_file);

  if (was_running)
    natter_signaling_start (self);
  return TRUE;
}

/**
 * natter_signaling_start:
 * @self: a #NatterSignaling
 *
 * Connects, and keeps reconnecting with exponential backoff (1 s doubling to
 * 30 s, ±20 %) until natter_signaling_stop().
 */
void
natter_signaling_start (NatterSignaling *self)
{
  g_return_if_fail (NATTER_IS_SIGNALING (self));
  g_return_if_fail (self->host != NULL);

  if (self->running)
    return;

  /* A stop still flushing its DISCONNECT is cut short: the new connection
   * replaces it anyway. */
  if (self->closing)
    {
      self->closing = FALSE;
      clear_source (&self->close_timeout_source);
      destroy_mosq (self);
    }

  self->running = TRUE;
  self->attempt = 0;
  connect_now (self);
}

/**
 * natter_signaling_stop:
 * @self: a #NatterSignaling
 *
 * Publishes our retained "offline" and disconnects cleanly, so the broker
 * drops the Last Will. Stops reconnecting.
 */
void
natter_signaling_stop (NatterSignaling *self)
{
  g_autoptr(NatterSignaling) keep = NULL;

  g_return_if_fail (NATTER_IS_SIGNALING (self));

  if (!self->running)
    return;

  keep = g_object_ref (self);
  self->running = FALSE;
  cancel_resolve (self);
  clear_source (&self->retry_source);
  clear_source (&self->connect_timeout_source);
  clear_source (&self->misc_source);
  clear_source (&self->confirm_source);
  set_next_retry (self, 0);

  if (self->mosq != NULL && self->state != NATTER_SIGNALING_DISCONNECTED)
    {
      int rc;

      if (self->state == NATTER_SIGNALING_CONNECTED)
        publish_presence (self, "offline");
      /* Usually written at once; if not, the socket watch finishes it. */
      rc = mosquitto_disconnect (self->mosq);
      if (rc == MOSQ_ERR_SUCCESS)
        {
          self->closing = TRUE;
          clear_source (&self->close_timeout_source);
          self->close_timeout_source = add_timeout (self, CLOSE_TIMEOUT_MS, close_timeout_cb);
        }
      else
        destroy_mosq (self);
    }
  else
    destroy_mosq (self);

  /* What we knew of others' presence is stale once we stop listening; a
   * later start() learns it afresh from the retained messages and reports
   * it again, so the client reconnects to contacts that stayed online. */
  {
    GHashTableIter iter;
    gpointer value;

    g_hash_table_iter_init (&iter, self->followed);
    while (g_hash_table_iter_next (&iter, NULL, &value))
      ((Presence *) value)->known = FALSE;
  }

  set_state (self, NATTER_SIGNALING_DISCONNECTED);
  after_io (self);
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
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_BACKOFF_SCALE]);
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

  if (g_str_equal (peer_id, own_id (self)) ||
      g_hash_table_contains (self->followed, peer_id))
    return;

  g_hash_table_insert (self->followed, g_strdup (peer_id), g_new0 (Presence, 1));
  if (self->state == NATTER_SIGNALING_CONNECTED)
    {
      subscribe (self, peer_id, "presence");
      after_io (self);
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
      g_autofree char *topic = topic_for (peer_id, "presence");

      mosquitto_unsubscribe (self->mosq, NULL, topic);
      after_io (self);
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
 * natter_signaling_send:
 * @self: a #NatterSignaling
 * @to: the recipient's peer id
 * @type: an envelope type other than "presence"
 * @session: (nullable): the session the envelope belongs to
 * @body: (nullable): the body
 * @error: return location for a #GError
 *
 * Signs, seals to @to and publishes with QoS 1. While disconnected the
 * envelope waits (at most %NATTER_SIGNALING_OUTBOX_MAX of them, oldest
 * dropped first) and is encoded afresh when the connection is back.
 *
 * Returns: %TRUE if sent or queued
 */
gboolean
natter_signaling_send (NatterSignaling  *self,
                       const char       *to,
                       const char       *type,
                       const char       *session,
                       JsonObject       *body,
                       GError          **error)
{
  g_autoptr(GBytes) payload = NULL;
  const char *kind;

  g_return_val_if_fail (NATTER_IS_SIGNALING (self), FALSE);
  g_return_val_if_fail (to != NULL, FALSE);
  g_return_val_if_fail (type != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  kind = natter_signaling_topic_for_type (type);
  if (kind == NULL || g_str_equal (kind, "presence"))
    {
      g_set_error (error, NATTER_ERROR, NATTER_ERROR_INVALID_INPUT,
                   "“%s” is not an envelope type that can be sent", type);
      return FALSE;
    }
  if (!natter_peer_id_is_valid (to) || g_str_equal (to, own_id (self)))
    {
      g_set_error_literal (error, NATTER_ERROR, NATTER_ERROR_INVALID_INPUT,
                           "Not a valid recipient");
      return FALSE;
    }

  /* Encoding now also checks the size limit while the caller can still
   * hear about it. */
  payload = encode_direct (self, to, type, session, body, error);
  if (payload == NULL)
    return FALSE;

  if (self->state == NATTER_SIGNALING_CONNECTED)
    {
      gboolean ok = publish_direct (self, to, type, payload, error);

      after_io (self);
      return ok;
    }
  else
    {
      Outgoing *out = g_new0 (Outgoing, 1);

      out->to = g_strdup (to);
      out->type = g_strdup (type);
      out->session = g_strdup (session);
      out->body = body != NULL ? json_object_ref (body) : NULL;
      g_queue_push_tail (&self->outbox, out);
      if (g_queue_get_length (&self->outbox) > NATTER_SIGNALING_OUTBOX_MAX)
        {
          g_info ("Outbox full while disconnected; dropping the oldest envelope");
          outgoing_free (g_queue_pop_head (&self->outbox));
        }
      return TRUE;
    }
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

static gboolean
flush_timeout_cb (gpointer user_data)
{
  *(gboolean *) user_data = TRUE;
  return G_SOURCE_REMOVE;
}

/**
 * natter_signaling_flush:
 * @self: a #NatterSignaling
 * @timeout_ms: how long to wait at most
 *
 * Runs the thread-default main context until the broker has acknowledged
 * every envelope (and presence) we published and the outbox is empty, or
 * @timeout_ms passed. For command-line tools that send and exit; an
 * application never needs to wait like this.
 *
 * Returns: %TRUE if everything was acknowledged in time
 */
gboolean
natter_signaling_flush (NatterSignaling *self,
                        guint            timeout_ms)
{
  g_autoptr(NatterSignaling) keep = NULL;
  g_autoptr(GMainContext) context = NULL;
  GSource *timeout;
  gboolean timed_out = FALSE;
  gboolean drained;

  g_return_val_if_fail (NATTER_IS_SIGNALING (self), FALSE);

  keep = g_object_ref (self);
  context = g_main_context_ref_thread_default ();
  timeout = g_timeout_source_new (timeout_ms);
  g_source_set_callback (timeout, flush_timeout_cb, &timed_out, NULL);
  g_source_attach (timeout, context);

  while (!(drained = g_hash_table_size (self->inflight) == 0 &&
                     g_queue_is_empty (&self->outbox)) &&
         !timed_out && self->running)
    g_main_context_iteration (context, TRUE);

  g_source_destroy (timeout);
  g_source_unref (timeout);
  return drained;
}
