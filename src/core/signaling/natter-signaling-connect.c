/* natter-signaling-connect.c: connecting (TLS, Last Will), reconnect backoff, last error, stop. */
#define G_LOG_DOMAIN "natter-signaling"

#include <errno.h>
#include <sys/socket.h>

#include <glib/gi18n-lib.h>

#include "natter-broker-url.h"
#include "natter-error.h"
#include "natter-signaling-private.h"

#define KEEPALIVE_S           30
#define CONNECT_TIMEOUT_MS    10000
#define CLOSE_TIMEOUT_MS      2000
/* How long after our reconnect a followed peer's presence must reappear. */
#define PRESENCE_CONFIRM_MS   3000
#define BACKOFF_CAP_S         30u
#define BACKOFF_JITTER        0.2
#define SYSTEM_CA_PATH        "/etc/ssl/certs"

/* ------------------------------------------------------------------------ */
/* Small helpers: timeouts, state, last error, next retry                   */
/* ------------------------------------------------------------------------ */

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

static void
set_state (NatterSignaling      *self,
           NatterSignalingState  state)
{
  if (self->state == state)
    return;
  self->state = state;
  g_object_notify_by_pspec (G_OBJECT (self), _natter_signaling_properties[PROP_STATE]);
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
  g_object_notify_by_pspec (G_OBJECT (self), _natter_signaling_properties[PROP_LAST_ERROR]);
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
      message = g_strdup_printf (_("Cannot reach the server: %s"),
                                 _natter_signaling_mosq_error_string (rc));
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
  g_object_notify_by_pspec (G_OBJECT (self), _natter_signaling_properties[PROP_NEXT_RETRY]);
}

/* ------------------------------------------------------------------------ */
/* Connecting                                                               */
/* ------------------------------------------------------------------------ */

static void schedule_retry (NatterSignaling *self);

void
_natter_signaling_destroy_mosq (NatterSignaling *self)
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

  /* A random client id: see "Sessions" at the top of natter-signaling.c. It
   * names neither the user nor the identity in the broker's logs. */
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
  mosquitto_connect_callback_set (self->mosq, _natter_signaling_on_connect);
  mosquitto_disconnect_callback_set (self->mosq, _natter_signaling_on_disconnect);
  mosquitto_message_callback_set (self->mosq, _natter_signaling_on_message);
  mosquitto_publish_callback_set (self->mosq, _natter_signaling_on_publish);

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
      g_warning ("Cannot configure the MQTT client: %s", _natter_signaling_mosq_error_string (rc));
      _natter_signaling_destroy_mosq (self);
      return FALSE;
    }
  return TRUE;
}

void
_natter_signaling_cancel_resolve (NatterSignaling *self)
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

      _natter_signaling_cancel_resolve (self);
      /* Shut the socket down so the broker does not keep a half-open
       * session; libmosquitto closes it on the next connect. */
      if (fd >= 0)
        shutdown (fd, SHUT_RDWR);
      _natter_signaling_push_event (self, EVENT_DISCONNECT, MOSQ_ERR_TIMEOUT, NULL, NULL);
      _natter_signaling_after_io (self);
    }
  return G_SOURCE_REMOVE;
}

static void
connect_failed (NatterSignaling *self)
{
  _natter_signaling_clear_source (&self->connect_timeout_source);
  schedule_retry (self);
  set_state (self, NATTER_SIGNALING_DISCONNECTED);
  _natter_signaling_after_io (self);
}

static void
connect_to (NatterSignaling *self,
            const char      *host)
{
  int rc = mosquitto_connect_async (self->mosq, host, self->port, KEEPALIVE_S);

  if (rc != MOSQ_ERR_SUCCESS)
    {
      g_info ("Cannot connect to the broker: %s", _natter_signaling_mosq_error_string (rc));
      set_connection_error (self, rc);
      connect_failed (self);
      return;
    }
  _natter_signaling_after_io (self);
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

  _natter_signaling_clear_source (&self->retry_source);
  _natter_signaling_cancel_resolve (self);
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

  self->epoch = MAX (_natter_signaling_now_ms (), self->epoch + 1);
  g_free (self->epoch_str);
  self->epoch_str = g_strdup_printf ("%" G_GINT64_FORMAT, self->epoch);

  will = _natter_signaling_build_presence (self, "offline");
  will_topic = _natter_signaling_topic_for (_natter_signaling_own_id (self), "presence");
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
  _natter_signaling_clear_source (&self->connect_timeout_source);
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

  _natter_signaling_clear_source (&self->retry_source);
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
      _natter_signaling_check_rc (self, mosquitto_loop_misc (self->mosq));
      _natter_signaling_after_io (self);
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
      g_signal_emit (self, _natter_signaling_signals[PRESENCE_CHANGED], 0,
                     g_ptr_array_index (gone, i), FALSE,
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
  _natter_signaling_clear_source (&self->confirm_source);
  if (any)
    self->confirm_source = add_timeout (self, PRESENCE_CONFIRM_MS, confirm_timeout_cb);
}

void
_natter_signaling_handle_connack (NatterSignaling *self,
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

  _natter_signaling_clear_source (&self->connect_timeout_source);
  set_last_error (self, NULL);
  self->attempt = 0;
  set_next_retry (self, 0);

  for (guint i = 0; i < G_N_ELEMENTS (_natter_signaling_direct_kinds); i++)
    _natter_signaling_subscribe (self, _natter_signaling_own_id (self),
                                 _natter_signaling_direct_kinds[i]);
  g_hash_table_iter_init (&iter, self->followed);
  while (g_hash_table_iter_next (&iter, &peer_id, NULL))
    _natter_signaling_subscribe (self, peer_id, "presence");
  _natter_signaling_publish_presence (self, "online");
  expect_presence_again (self);

  _natter_signaling_clear_source (&self->misc_source);
  self->misc_source = g_timeout_source_new_seconds (1);
  g_source_set_callback (self->misc_source, misc_cb, self, NULL);
  g_source_attach (self->misc_source, g_main_context_get_thread_default ());

  g_info ("Connected to the broker");
  set_state (self, NATTER_SIGNALING_CONNECTED);
  _natter_signaling_flush_outbox (self);
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
      _natter_signaling_destroy_mosq (self);
    }
  return G_SOURCE_REMOVE;
}

void
_natter_signaling_handle_disconnect (NatterSignaling *self,
                                     int              rc)
{
  if (self->closing)
    {
      /* natter_signaling_stop() finished: forget this client, so messages
       * it still had in flight are not resent on the next start. */
      self->closing = FALSE;
      _natter_signaling_clear_source (&self->close_timeout_source);
      _natter_signaling_destroy_mosq (self);
      return;
    }
  if (self->state == NATTER_SIGNALING_DISCONNECTED)
    return;

  _natter_signaling_clear_source (&self->misc_source);
  _natter_signaling_clear_source (&self->connect_timeout_source);
  g_info ("Lost the broker connection: %s",
          rc == MOSQ_ERR_TIMEOUT ? "connect timed out" : _natter_signaling_mosq_error_string (rc));
  if (!self->refused)
    set_connection_error (self, rc);
  self->refused = FALSE;
  /* The retry is scheduled first so that next-retry is already set when
   * the state notification reaches the UI. */
  schedule_retry (self);
  set_state (self, NATTER_SIGNALING_DISCONNECTED);
}

/* ------------------------------------------------------------------------ */
/* Public API: broker, start, stop                                          */
/* ------------------------------------------------------------------------ */

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

  if (!natter_broker_url_parse (url, &host, &port, &tls, error))
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
  _natter_signaling_clear_source (&self->close_timeout_source);
  _natter_signaling_destroy_mosq (self);

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
      _natter_signaling_clear_source (&self->close_timeout_source);
      _natter_signaling_destroy_mosq (self);
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
  _natter_signaling_cancel_resolve (self);
  _natter_signaling_clear_source (&self->retry_source);
  _natter_signaling_clear_source (&self->connect_timeout_source);
  _natter_signaling_clear_source (&self->misc_source);
  _natter_signaling_clear_source (&self->confirm_source);
  set_next_retry (self, 0);

  if (self->mosq != NULL && self->state != NATTER_SIGNALING_DISCONNECTED)
    {
      int rc;

      if (self->state == NATTER_SIGNALING_CONNECTED)
        _natter_signaling_publish_presence (self, "offline");
      /* Usually written at once; if not, the socket watch finishes it. */
      rc = mosquitto_disconnect (self->mosq);
      if (rc == MOSQ_ERR_SUCCESS)
        {
          self->closing = TRUE;
          _natter_signaling_clear_source (&self->close_timeout_source);
          self->close_timeout_source = add_timeout (self, CLOSE_TIMEOUT_MS, close_timeout_cb);
        }
      else
        _natter_signaling_destroy_mosq (self);
    }
  else
    _natter_signaling_destroy_mosq (self);

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
  _natter_signaling_after_io (self);
}
