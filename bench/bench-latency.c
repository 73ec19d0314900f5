/* bench-latency.c: Natter's session setup and message latency against bare webrtcbin and MQTT.
 *
 * One run, loopback only: a mosquitto of our own, ICE on 127.0.0.1. Both
 * Natter clients live in this process and share its main context, so the
 * sender's ack handling runs on the receiver's thread: a slight overestimate
 * of what two processes would see. Every path sends 64-byte payloads one at
 * a time (the next after the previous arrived). */
#define G_LOG_DOMAIN "natter-bench"

#include <math.h>
#include <mosquitto.h>
#include <stdio.h>
#include <string.h>

#include "natter-bench-webrtc.h"
#include "natter-client.h"
#include "natter-message.h"
#include "natter-peer-session.h"
#include "natter-signaling.h"
#include "natter-test-client.h"

/* Every message in all three paths carries this many bytes of payload, as
 * the bare webrtcbin baseline does. */
#define PAYLOAD_SIZE     64
#define STEP_TIMEOUT_MS  15000
/* Lets the "bye" of a closed round reach the peer before the next round. */
#define SETTLE_MS        150
#define MQTT_TOPIC       "natter-bench/latency"

/* ---- small helpers ---------------------------------------------------- */

typedef gboolean (*Predicate) (gpointer data);

static gboolean
flag_timeout_cb (gpointer data)
{
  *(gboolean *) data = TRUE;
  return G_SOURCE_REMOVE;
}

/* Blocks in the default main context (no polling sleeps, which would add up
 * to a millisecond to every sample) until @predicate holds or time is up. */
static gboolean
run_until (Predicate predicate,
           gpointer  data,
           guint     timeout_ms)
{
  gboolean timed_out = FALSE;
  guint source = g_timeout_add (timeout_ms, flag_timeout_cb, &timed_out);

  while (!(predicate != NULL && predicate (data)) && !timed_out)
    g_main_context_iteration (NULL, TRUE);
  if (!timed_out)
    g_source_remove (source);
  return predicate != NULL && predicate (data);
}

static void
spin (guint ms)
{
  run_until (NULL, NULL, ms);
}

static double
median_ms (gint64 *samples_us,
           guint   n)
{
  return natter_bench_percentile (samples_us, n, 0.5) / 1000.0;
}

static double
mean_us (const gint64 *samples_us,
         guint         n)
{
  double sum = 0;

  for (guint i = 0; i < n; i++)
    sum += samples_us[i];
  return n > 0 ? sum / n : 0;
}

typedef struct
{
  double p50_us;
  double p99_us;
  double mean_us;
  double max_us;
} Latency;

static Latency
latency_of (gint64 *samples_us,
            guint   n)
{
  Latency l;

  l.mean_us = mean_us (samples_us, n);
  l.p50_us = natter_bench_percentile (samples_us, n, 0.5);
  l.p99_us = natter_bench_percentile (samples_us, n, 0.99);
  l.max_us = samples_us[n - 1];  /* sorted by the percentile call */
  return l;
}

static void
fill_payload (char  *buffer,
              guint  i)
{
  int len = g_snprintf (buffer, PAYLOAD_SIZE + 1, "bench message %06u ", i);

  memset (buffer + len, 'x', PAYLOAD_SIZE - len);
  buffer[PAYLOAD_SIZE] = '\0';
}

/* ---- Natter: two clients in this process ------------------------------- */

typedef struct
{
  NatterClient *client;
  char         *profile;
  const char   *other_id;         /* borrowed from the other side's client */
  gboolean      request_seen;
  gint64        connected_us;     /* session-state-changed → CONNECTED */
  gint64        synced_us;        /* "synced" for the other side */
  guint         received;
  gint64        last_received_us;
} Side;

typedef struct
{
  Side               side[2];     /* [0] adds the contact and sends, [1] accepts and receives */
  NatterPeerSession *receiver_session;
  gint64             frame_arrival_us;
  gulong             frame_hook;
  guint              frame_signal;
  guint              target;      /* receiver's count that ends the current message */
} NatterPair;

static void
contact_request_cb (NatterClient  *client,
                    NatterContact *contact,
                    Side          *side)
{
  side->request_seen = TRUE;
}

static void
session_state_changed_cb (NatterClient  *client,
                          NatterContact *contact,
                          int            state,
                          Side          *side)
{
  if (state == NATTER_SESSION_CONNECTED && side->connected_us == 0)
    side->connected_us = g_get_monotonic_time ();
}

static void
synced_cb (NatterClient *client,
           const char   *peer_id,
           Side         *side)
{
  if (side->synced_us == 0 && g_strcmp0 (peer_id, side->other_id) == 0)
    side->synced_us = g_get_monotonic_time ();
}

/* Emitted after the store commit (NatterClient::message-received). */
static void
message_received_cb (NatterClient  *client,
                     NatterMessage *message,
                     Side          *side)
{
  side->last_received_us = g_get_monotonic_time ();
  side->received++;
}

/* An emission hook runs before any handler, so this is the moment the
 * receiver's main context gets the frame, before the client parses it. */
static gboolean
frame_received_hook (GSignalInvocationHint *hint,
                     guint                  n_values,
                     const GValue          *values,
                     gpointer               data)
{
  NatterPair *pair = data;

  if (g_value_get_object (&values[0]) == (gpointer) pair->receiver_session)
    pair->frame_arrival_us = g_get_monotonic_time ();
  return TRUE;
}

static gboolean
side_init (Side        *side,
           const char  *name,
           const char  *broker_url,
           GError     **error)
{
  side->profile = natter_test_mkdtemp ("natter-bench-profile");
  side->client = natter_test_client_open (broker_url, side->profile, name, error);
  if (side->client == NULL)
    return FALSE;
  g_signal_connect (side->client, "contact-request", G_CALLBACK (contact_request_cb), side);
  g_signal_connect (side->client, "session-state-changed",
                    G_CALLBACK (session_state_changed_cb), side);
  g_signal_connect (side->client, "synced", G_CALLBACK (synced_cb), side);
  g_signal_connect (side->client, "message-received", G_CALLBACK (message_received_cb), side);
  return TRUE;
}

static void
side_clear (Side *side)
{
  if (side->client != NULL)
    {
      natter_client_stop (side->client);
      g_clear_object (&side->client);
    }
  if (side->profile != NULL)
    natter_test_rmtree (side->profile);
  g_clear_pointer (&side->profile, g_free);
}

static void
pair_reset_marks (NatterPair *pair)
{
  for (int i = 0; i < 2; i++)
    {
      pair->side[i].connected_us = 0;
      pair->side[i].synced_us = 0;
    }
}

static gboolean
pair_request_seen (gpointer data)
{
  return ((NatterPair *) data)->side[1].request_seen;
}

static gboolean
pair_connected (gpointer data)
{
  NatterPair *pair = data;

  return pair->side[0].connected_us != 0 && pair->side[1].connected_us != 0;
}

static gboolean
pair_synced (gpointer data)
{
  NatterPair *pair = data;

  return pair_connected (pair) && pair->side[0].synced_us != 0 && pair->side[1].synced_us != 0;
}

static gboolean
pair_online (gpointer data)
{
  NatterPair *pair = data;

  return natter_signaling_is_online (natter_client_get_signaling (pair->side[0].client),
                                     pair->side[0].other_id) &&
         natter_signaling_is_online (natter_client_get_signaling (pair->side[1].client),
                                     pair->side[1].other_id);
}

static gboolean
pair_signaling_connected (gpointer data)
{
  NatterPair *pair = data;

  return natter_signaling_get_state (natter_client_get_signaling (pair->side[0].client)) ==
         NATTER_SIGNALING_CONNECTED &&
         natter_signaling_get_state (natter_client_get_signaling (pair->side[1].client)) ==
         NATTER_SIGNALING_CONNECTED;
}

static void
pair_marks (NatterPair *pair,
            gint64      start_us,
            gint64     *open_us,
            gint64     *synced_us)
{
  *open_us = MAX (pair->side[0].connected_us, pair->side[1].connected_us) - start_us;
  *synced_us = MAX (pair->side[0].synced_us, pair->side[1].synced_us) - start_us;
}

/* Closes both ends in the same main-loop turn: neither sees the other
 * drop (which would schedule a reconnect), each just gets a stale "bye". */
static void
pair_close_sessions (NatterPair *pair)
{
  for (int i = 0; i < 2; i++)
    {
      NatterPeerSession *session = natter_client_get_session (pair->side[i].client,
                                                              pair->side[i].other_id);

      if (session != NULL)
        natter_peer_session_close (session);
    }
}

typedef struct
{
  double  contact_to_synced_ms;   /* add_contact → both synced, incl. the accept round trip */
  guint   setup_runs;
  double  open_median_ms;
  double  open_min_ms;
  double  open_max_ms;
  double  synced_median_ms;
  double  synced_min_ms;
  double  synced_max_ms;
  guint   messages;
  Latency latency;                /* send_message() call → receiver's commit */
  Latency send_call;              /* inside send_message(): store, frame, channel */
  Latency to_receiver;            /* send_message() call → receiver's main context has the frame */
  Latency receiver_commit;        /* frame on the receiver's main context → commit signalled */
} NatterFigures;

static gboolean
natter_pair_setup (NatterPair       *pair,
                   const char       *broker_url,
                   NatterFigures    *out,
                   GError          **error)
{
  gint64 start;
  gint64 open_us;
  gint64 synced_us;

  if (!side_init (&pair->side[0], "Bench Alice", broker_url, error) ||
      !side_init (&pair->side[1], "Bench Bob", broker_url, error))
    return FALSE;
  pair->side[0].other_id = natter_client_get_peer_id (pair->side[1].client);
  pair->side[1].other_id = natter_client_get_peer_id (pair->side[0].client);

  natter_client_start (pair->side[0].client);
  natter_client_start (pair->side[1].client);
  if (!run_until (pair_signaling_connected, pair, STEP_TIMEOUT_MS))
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT, "clients did not go online");
      return FALSE;
    }

  /* The real contact flow: a request over the broker, an explicit accept. */
  start = g_get_monotonic_time ();
  pair_reset_marks (pair);
  if (natter_client_add_contact (pair->side[0].client, pair->side[0].other_id, "Bob", error) == NULL)
    return FALSE;
  if (!run_until (pair_request_seen, pair, STEP_TIMEOUT_MS))
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT, "no contact request arrived");
      return FALSE;
    }
  if (!natter_client_accept_contact (pair->side[1].client, pair->side[1].other_id, error))
    return FALSE;
  if (!run_until (pair_synced, pair, STEP_TIMEOUT_MS) ||
      !run_until (pair_online, pair, STEP_TIMEOUT_MS))
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT,
                           "the new contacts did not connect");
      return FALSE;
    }
  pair_marks (pair, start, &open_us, &synced_us);
  out->contact_to_synced_ms = synced_us / 1000.0;
  return TRUE;
}

/* Both contacts are online and have seen each other's presence; each round
 * starts at natter_client_connect() and ends when both ends are CONNECTED
 * (chat channel open) and both emitted "synced". */
static gboolean
natter_pair_setup_rounds (NatterPair     *pair,
                          guint           runs,
                          NatterFigures  *out,
                          GError        **error)
{
  g_autofree gint64 *open = g_new0 (gint64, MAX (runs, 1));
  g_autofree gint64 *synced = g_new0 (gint64, MAX (runs, 1));

  out->setup_runs = runs;
  for (guint i = 0; i < runs; i++)
    {
      gint64 start;

      pair_close_sessions (pair);
      spin (SETTLE_MS);
      pair_reset_marks (pair);

      start = g_get_monotonic_time ();
      natter_client_connect (pair->side[0].client, pair->side[0].other_id);
      if (!run_until (pair_synced, pair, STEP_TIMEOUT_MS))
        {
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT,
                       "setup round %u did not finish", i);
          return FALSE;
        }
      pair_marks (pair, start, &open[i], &synced[i]);
    }
  if (runs == 0)
    return TRUE;

  out->open_median_ms = median_ms (open, runs);
  out->open_min_ms = open[0] / 1000.0;
  out->open_max_ms = open[runs - 1] / 1000.0;
  out->synced_median_ms = median_ms (synced, runs);
  out->synced_min_ms = synced[0] / 1000.0;
  out->synced_max_ms = synced[runs - 1] / 1000.0;
  return TRUE;
}

static gboolean
pair_received_target (gpointer data)
{
  NatterPair *pair = data;

  return pair->side[1].received >= pair->target;
}

static gboolean
natter_pair_latency (NatterPair     *pair,
                     guint           n,
                     NatterFigures  *out,
                     GError        **error)
{
  g_autofree gint64 *total = g_new0 (gint64, MAX (n, 1));
  g_autofree gint64 *call = g_new0 (gint64, MAX (n, 1));
  g_autofree gint64 *transit = g_new0 (gint64, MAX (n, 1));
  g_autofree gint64 *commit = g_new0 (gint64, MAX (n, 1));
  Side *sender = &pair->side[0];
  Side *receiver = &pair->side[1];
  char body[PAYLOAD_SIZE + 1];

  out->messages = n;
  pair->receiver_session = natter_client_get_session (receiver->client, receiver->other_id);
  pair->frame_signal = g_signal_lookup ("frame-received", NATTER_TYPE_PEER_SESSION);
  pair->frame_hook = g_signal_add_emission_hook (pair->frame_signal, 0, frame_received_hook,
                                                 pair, NULL);

  for (guint i = 0; i < n; i++)
    {
      g_autoptr(NatterMessage) message = NULL;
      gint64 sent;
      gint64 returned;

      fill_payload (body, i);
      pair->target = receiver->received + 1;
      pair->frame_arrival_us = 0;

      sent = g_get_monotonic_time ();
      message = natter_client_send_message (sender->client, sender->other_id, body, NULL, error);
      returned = g_get_monotonic_time ();
      if (message == NULL)
        break;
      if (!run_until (pair_received_target, pair, STEP_TIMEOUT_MS))
        {
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT, "message %u was not received", i);
          break;
        }
      total[i] = receiver->last_received_us - sent;
      call[i] = returned - sent;
      transit[i] = pair->frame_arrival_us != 0 ? pair->frame_arrival_us - sent : 0;
      commit[i] = pair->frame_arrival_us != 0 ? receiver->last_received_us - pair->frame_arrival_us : 0;
    }

  g_signal_remove_emission_hook (pair->frame_signal, pair->frame_hook);
  pair->receiver_session = NULL;
  if (error != NULL && *error != NULL)
    return FALSE;
  if (n == 0)
    return TRUE;

  out->latency = latency_of (total, n);
  out->send_call = latency_of (call, n);
  out->to_receiver = latency_of (transit, n);
  out->receiver_commit = latency_of (commit, n);
  return TRUE;
}

static gboolean
natter_measure (const char     *broker_url,
                guint           setup_runs,
                guint           messages,
                NatterFigures  *out,
                GError        **error)
{
  NatterPair pair = { 0 };
  gboolean ok;

  memset (out, 0, sizeof *out);
  ok = natter_pair_setup (&pair, broker_url, out, error) &&
       natter_pair_setup_rounds (&pair, setup_runs, out, error) &&
       natter_pair_latency (&pair, messages, out, error);
  side_clear (&pair.side[0]);
  side_clear (&pair.side[1]);
  return ok;
}

/* ---- the broker path: two raw libmosquitto clients, QoS 1 --------------- */

typedef struct
{
  GMutex   lock;
  GCond    cond;
  guint    connected;
  gboolean subscribed;
  guint    received;
  gint64   last_received_us;
} MqttBench;

static void
mqtt_connect_cb (struct mosquitto *mosq,
                 void             *data,
                 int               rc)
{
  MqttBench *bench = data;

  g_mutex_lock (&bench->lock);
  if (rc == 0)
    bench->connected++;
  g_cond_broadcast (&bench->cond);
  g_mutex_unlock (&bench->lock);
}

static void
mqtt_subscribe_cb (struct mosquitto *mosq,
                   void             *data,
                   int               mid,
                   int               qos_count,
                   const int        *granted_qos)
{
  MqttBench *bench = data;

  g_mutex_lock (&bench->lock);
  bench->subscribed = TRUE;
  g_cond_broadcast (&bench->cond);
  g_mutex_unlock (&bench->lock);
}

static void
mqtt_message_cb (struct mosquitto               *mosq,
                 void                           *data,
                 const struct mosquitto_message *message)
{
  MqttBench *bench = data;
  gint64 now = g_get_monotonic_time ();

  g_mutex_lock (&bench->lock);
  bench->last_received_us = now;
  bench->received++;
  g_cond_broadcast (&bench->cond);
  g_mutex_unlock (&bench->lock);
}

/* Waits (holding the lock) until *@counter > @than. */
static gboolean
mqtt_wait_locked (MqttBench *bench,
                  guint     *counter,
                  guint      than)
{
  gint64 deadline = g_get_monotonic_time () + (gint64) STEP_TIMEOUT_MS * 1000;

  while (*counter <= than)
    if (!g_cond_wait_until (&bench->cond, &bench->lock, deadline))
      return *counter > than;
  return TRUE;
}

static struct mosquitto *
mqtt_client_new (MqttBench  *bench,
                 guint16     port,
                 GError    **error)
{
  struct mosquitto *mosq = mosquitto_new (NULL, TRUE, bench);
  int rc;

  if (mosq == NULL)
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_FAILED, "mosquitto_new failed");
      return NULL;
    }
  mosquitto_connect_callback_set (mosq, mqtt_connect_cb);
  mosquitto_subscribe_callback_set (mosq, mqtt_subscribe_cb);
  mosquitto_message_callback_set (mosq, mqtt_message_cb);
  if ((rc = mosquitto_connect (mosq, "127.0.0.1", port, 30)) != MOSQ_ERR_SUCCESS ||
      (rc = mosquitto_loop_start (mosq)) != MOSQ_ERR_SUCCESS)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "mosquitto: %s", mosquitto_strerror (rc));
      mosquitto_destroy (mosq);
      return NULL;
    }
  return mosq;
}

static void
mqtt_client_free (struct mosquitto *mosq)
{
  if (mosq == NULL)
    return;
  mosquitto_disconnect (mosq);
  mosquitto_loop_stop (mosq, FALSE);
  mosquitto_destroy (mosq);
}

static gboolean
mqtt_measure (guint16    port,
              guint      n,
              Latency   *out,
              GError   **error)
{
  g_autofree gint64 *samples = g_new0 (gint64, MAX (n, 1));
  struct mosquitto *subscriber = NULL;
  struct mosquitto *publisher = NULL;
  MqttBench bench = { 0 };
  char payload[PAYLOAD_SIZE + 1];
  gboolean ok = FALSE;
  int rc;

  g_mutex_init (&bench.lock);
  g_cond_init (&bench.cond);
  mosquitto_lib_init ();

  if ((subscriber = mqtt_client_new (&bench, port, error)) == NULL ||
      (publisher = mqtt_client_new (&bench, port, error)) == NULL)
    goto out;

  g_mutex_lock (&bench.lock);
  ok = mqtt_wait_locked (&bench, &bench.connected, 1);
  g_mutex_unlock (&bench.lock);
  if (!ok || (rc = mosquitto_subscribe (subscriber, NULL, MQTT_TOPIC, 1)) != MOSQ_ERR_SUCCESS)
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_FAILED, "raw MQTT clients did not connect");
      ok = FALSE;
      goto out;
    }
  g_mutex_lock (&bench.lock);
  while (!bench.subscribed)
    g_cond_wait (&bench.cond, &bench.lock);
  g_mutex_unlock (&bench.lock);

  for (guint i = 0; i < n && ok; i++)
    {
      guint before;
      gint64 sent;

      fill_payload (payload, i);
      g_mutex_lock (&bench.lock);
      before = bench.received;
      g_mutex_unlock (&bench.lock);

      sent = g_get_monotonic_time ();
      rc = mosquitto_publish (publisher, NULL, MQTT_TOPIC, PAYLOAD_SIZE, payload, 1, FALSE);
      if (rc != MOSQ_ERR_SUCCESS)
        {
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "publish: %s", mosquitto_strerror (rc));
          ok = FALSE;
          break;
        }
      g_mutex_lock (&bench.lock);
      ok = mqtt_wait_locked (&bench, &bench.received, before);
      samples[i] = bench.last_received_us - sent;
      g_mutex_unlock (&bench.lock);
      if (!ok)
        g_set_error (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT, "MQTT message %u was lost", i);
    }
  if (ok && n > 0)
    *out = latency_of (samples, n);

out:
  mqtt_client_free (publisher);
  mqtt_client_free (subscriber);
  g_cond_clear (&bench.cond);
  g_mutex_clear (&bench.lock);
  return ok;
}

/* ---- report ------------------------------------------------------------ */

static double
ratio (double a,
       double b)
{
  return b > 0 ? a / b : NAN;
}

static void
print_ratio (const char *what,
             double      value,
             double      target)
{
  if (target > 0)
    printf ("  %-44s %6.2fx   (target <= %.1fx: %s)\n", what, value, target,
            value <= target ? "met" : "MISSED");
  else
    printf ("  %-44s %6.2fx\n", what, value);
}

static void
print_report (const NatterBenchBaseline *bare,
              const NatterFigures       *natter,
              const Latency             *mqtt,
              guint                      messages)
{
  printf ("\n== latency on 127.0.0.1: %u setup rounds, %u x %d B messages sent one at a time ==\n\n",
          natter->setup_runs, messages, PAYLOAD_SIZE);

  printf ("setup (median of %u, min-max)                            ms\n", natter->setup_runs);
  printf ("  bare webrtcbin   offer -> channel open on both       %7.1f  (%.1f-%.1f)\n",
          bare->setup_median_ms, bare->setup_min_ms, bare->setup_max_ms);
  printf ("  Natter           connect() -> CONNECTED on both      %7.1f  (%.1f-%.1f)\n",
          natter->open_median_ms, natter->open_min_ms, natter->open_max_ms);
  printf ("  Natter           connect() -> \"synced\" on both       %7.1f  (%.1f-%.1f)\n",
          natter->synced_median_ms, natter->synced_min_ms, natter->synced_max_ms);
  printf ("  (once) bare first setup, incl. DTLS certificate      %7.1f\n", bare->first_setup_ms);
  printf ("  (once) Natter add_contact -> accepted -> synced      %7.1f\n",
          natter->contact_to_synced_ms);

  printf ("\none-way message latency                                p50 us   p99 us  mean us   max us\n");
  printf ("  bare webrtcbin   send -> on-message-data            %7.0f  %7.0f        -        -\n",
          bare->latency_p50_us, bare->latency_p99_us);
  printf ("  Natter           send_message() -> receiver commit  %7.0f  %7.0f  %7.0f  %7.0f\n",
          natter->latency.p50_us, natter->latency.p99_us, natter->latency.mean_us,
          natter->latency.max_us);
  printf ("    of which       send_message() call itself         %7.0f  %7.0f  %7.0f  %7.0f\n",
          natter->send_call.p50_us, natter->send_call.p99_us, natter->send_call.mean_us,
          natter->send_call.max_us);
  printf ("                   call -> frame on receiver's loop   %7.0f  %7.0f  %7.0f  %7.0f\n",
          natter->to_receiver.p50_us, natter->to_receiver.p99_us, natter->to_receiver.mean_us,
          natter->to_receiver.max_us);
  printf ("                   frame -> committed + signalled     %7.0f  %7.0f  %7.0f  %7.0f\n",
          natter->receiver_commit.p50_us, natter->receiver_commit.p99_us,
          natter->receiver_commit.mean_us, natter->receiver_commit.max_us);
  printf ("  MQTT QoS 1       publish -> subscriber on_message   %7.0f  %7.0f  %7.0f  %7.0f\n",
          mqtt->p50_us, mqtt->p99_us, mqtt->mean_us, mqtt->max_us);

  printf ("\nratios\n");
  print_ratio ("Natter p50 / bare webrtcbin p50", ratio (natter->latency.p50_us, bare->latency_p50_us), 2.0);
  print_ratio ("Natter p99 / bare webrtcbin p99", ratio (natter->latency.p99_us, bare->latency_p99_us), 0);
  print_ratio ("Natter setup (open) / bare setup", ratio (natter->open_median_ms, bare->setup_median_ms), 1.5);
  print_ratio ("Natter setup (synced) / bare setup", ratio (natter->synced_median_ms, bare->setup_median_ms), 1.5);
  print_ratio ("broker p50 / Natter p50", ratio (mqtt->p50_us, natter->latency.p50_us), 0);
  print_ratio ("broker p99 / Natter p99", ratio (mqtt->p99_us, natter->latency.p99_us), 0);
  fflush (stdout);
}

int
main (int   argc,
      char *argv[])
{
  int setup_runs = 10;
  int messages = 1000;
  gboolean broker_nodelay = FALSE;
  GOptionEntry entries[] = {
    { "setup-runs", 's', 0, G_OPTION_ARG_INT, &setup_runs, "Connections to time (each path)", "N" },
    { "messages", 'm', 0, G_OPTION_ARG_INT, &messages, "Messages for latency (each path)", "N" },
    { "broker-nodelay", 0, 0, G_OPTION_ARG_NONE, &broker_nodelay,
      "Start mosquitto with set_tcp_nodelay (its default leaves Nagle on)", NULL },
    { NULL }
  };
  g_autoptr(GOptionContext) context = g_option_context_new ("— Natter vs webrtcbin vs MQTT latency");
  g_autoptr(NatterTestBroker) broker = NULL;
  g_autoptr(GError) error = NULL;
  NatterBenchBaseline bare;
  NatterFigures natter;
  Latency mqtt = { 0 };
  gint64 start = g_get_monotonic_time ();

  g_option_context_add_main_entries (context, entries, NULL);
  if (!g_option_context_parse (context, &argc, &argv, &error) || setup_runs < 1 || messages < 1)
    {
      fprintf (stderr, "%s\n", error != NULL ? error->message : "counts must be at least 1");
      return 2;
    }

  broker = natter_test_broker_new (broker_nodelay ? "set_tcp_nodelay true\n" : NULL);
  if (!natter_test_broker_start (broker, &error))
    {
      fprintf (stderr, "cannot start mosquitto: %s\n", error->message);
      return 1;
    }

  printf ("bare webrtcbin...\n");
  fflush (stdout);
  if (!natter_bench_webrtc_baseline (setup_runs, messages, 0, &bare, &error))
    {
      fprintf (stderr, "bare webrtcbin baseline failed: %s\n", error->message);
      return 1;
    }
  printf ("MQTT broker...\n");
  fflush (stdout);
  if (!mqtt_measure (natter_test_broker_get_port (broker), messages, &mqtt, &error))
    {
      fprintf (stderr, "MQTT measurement failed: %s\n", error->message);
      return 1;
    }
  printf ("Natter...\n");
  fflush (stdout);
  if (!natter_measure (natter_test_broker_get_url (broker), setup_runs, messages, &natter, &error))
    {
      fprintf (stderr, "Natter measurement failed: %s\n", error->message);
      return 1;
    }

  print_report (&bare, &natter, &mqtt, messages);
  printf ("\n(run took %.1f s)\n", (g_get_monotonic_time () - start) / 1e6);
  natter_test_broker_stop (broker);
  return 0;
}
