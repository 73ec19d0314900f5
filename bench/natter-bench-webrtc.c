/* natter-bench-webrtc.c: two bare webrtcbins wired in-process, measured without any Natter code. */
#define G_LOG_DOMAIN "natter-bench"
#define GST_USE_UNSTABLE_API

#include "natter-bench-webrtc.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gio/gio.h>
#include <gst/gst.h>
#include <gst/sdp/sdp.h>
#include <gst/webrtc/webrtc.h>

/* Backpressure window for the throughput run: refill below LOW, pause above HIGH. */
#define LOW_WATERMARK   (1024 * 1024)
#define HIGH_WATERMARK  (4 * 1024 * 1024)
#define STEP_TIMEOUT_MS 10000

typedef struct
{
  guint  mline;
  char  *candidate;
} Candidate;

typedef struct
{
  NatterBenchWebrtc    *bench;
  GstElement           *pipeline;
  GstElement           *webrtc;
  GstWebRTCDataChannel *channel;

  /* Under bench->lock: written by GStreamer threads. */
  gboolean              remote_set;
  GPtrArray            *pending;        /* Candidate, until remote_set */
  gint64                open_time;
  guint64               received_bytes;
  guint                 received_messages;
  gint64                last_receive_time;
  gboolean              low;
} Peer;

struct _NatterBenchWebrtc
{
  char   *local_address;
  GMutex  lock;
  GCond   cond;
  Peer    peer[2];
};

static void
candidate_free (gpointer data)
{
  Candidate *c = data;

  g_free (c->candidate);
  g_free (c);
}

static Peer *
other_peer (Peer *peer)
{
  NatterBenchWebrtc *bench = peer->bench;

  return peer == &bench->peer[0] ? &bench->peer[1] : &bench->peer[0];
}

/* ---- callbacks on GStreamer threads: locked bookkeeping only -------------- */

static void
on_ice_candidate (GstElement *webrtc,
                  guint       mline,
                  const char *candidate,
                  Peer       *peer)
{
  Peer *other = other_peer (peer);
  gboolean now;

  g_mutex_lock (&peer->bench->lock);
  now = other->remote_set;
  if (!now)
    {
      Candidate *c = g_new0 (Candidate, 1);

      c->mline = mline;
      c->candidate = g_strdup (candidate);
      g_ptr_array_add (other->pending, c);
    }
  g_mutex_unlock (&peer->bench->lock);

  /* The other webrtcbin's action, not our own: safe from this thread. */
  if (now)
    g_signal_emit_by_name (other->webrtc, "add-ice-candidate", mline, candidate);
}

static void
on_open (GstWebRTCDataChannel *channel,
         Peer                 *peer)
{
  g_mutex_lock (&peer->bench->lock);
  peer->open_time = g_get_monotonic_time ();
  g_cond_broadcast (&peer->bench->cond);
  g_mutex_unlock (&peer->bench->lock);
}

static void
on_message_data (GstWebRTCDataChannel *channel,
                 GBytes               *data,
                 Peer                 *peer)
{
  gint64 now = g_get_monotonic_time ();

  g_mutex_lock (&peer->bench->lock);
  peer->received_bytes += data != NULL ? g_bytes_get_size (data) : 0;
  peer->received_messages++;
  peer->last_receive_time = now;
  g_cond_broadcast (&peer->bench->cond);
  g_mutex_unlock (&peer->bench->lock);
}

static void
on_buffered_amount_low (GstWebRTCDataChannel *channel,
                        Peer                 *peer)
{
  g_mutex_lock (&peer->bench->lock);
  peer->low = TRUE;
  g_cond_broadcast (&peer->bench->cond);
  g_mutex_unlock (&peer->bench->lock);
}

/* ---- setup ------------------------------------------------------------------ */

static gboolean
peer_start (Peer        *peer,
            const char  *local_address,
            GError     **error)
{
  g_autoptr(GstObject) ice = NULL;
  g_autoptr(GObject) agent = NULL;
  g_autoptr(GstStructure) options = NULL;
  gboolean ok = FALSE;

  peer->pipeline = gst_object_ref_sink (gst_pipeline_new (NULL));
  peer->webrtc = gst_element_factory_make ("webrtcbin", NULL);
  if (peer->webrtc == NULL)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND, "webrtcbin is missing");
      return FALSE;
    }
  gst_bin_add (GST_BIN (peer->pipeline), peer->webrtc);
  g_object_set (peer->webrtc, "bundle-policy", GST_WEBRTC_BUNDLE_POLICY_MAX_BUNDLE, NULL);

  /* libnice leaves loopback out unless it is added explicitly. */
  g_object_get (peer->webrtc, "ice-agent", &ice, NULL);
  g_signal_emit_by_name (ice, "add-local-ip-address", local_address, &ok);
  if (!ok)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT, "address refused");
      return FALSE;
    }
  g_object_set (ice, "ice-tcp", FALSE, NULL);
  g_object_get (ice, "agent", &agent, NULL);
  g_object_set (agent, "upnp", FALSE, "ice-tcp", FALSE, NULL);

  g_signal_connect (peer->webrtc, "on-ice-candidate", G_CALLBACK (on_ice_candidate), peer);

  if (gst_element_set_state (peer->pipeline, GST_STATE_PLAYING) == GST_STATE_CHANGE_FAILURE)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "webrtcbin did not start");
      return FALSE;
    }

  options = gst_structure_new ("application/data-channel",
                               "ordered", G_TYPE_BOOLEAN, TRUE,
                               "negotiated", G_TYPE_BOOLEAN, TRUE,
                               "id", G_TYPE_INT, 0,
                               NULL);
  g_signal_emit_by_name (peer->webrtc, "create-data-channel", "chat", options, &peer->channel);
  if (peer->channel == NULL)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "no data channel");
      return FALSE;
    }
  g_signal_connect (peer->channel, "on-open", G_CALLBACK (on_open), peer);
  g_signal_connect (peer->channel, "on-message-data", G_CALLBACK (on_message_data), peer);
  g_signal_connect (peer->channel, "on-buffered-amount-low",
                    G_CALLBACK (on_buffered_amount_low), peer);
  return TRUE;
}

static void
peer_stop (Peer *peer)
{
  if (peer->pipeline != NULL)
    gst_element_set_state (peer->pipeline, GST_STATE_NULL);
  if (peer->channel != NULL)
    g_signal_handlers_disconnect_by_data (peer->channel, peer);
  if (peer->webrtc != NULL)
    g_signal_handlers_disconnect_by_data (peer->webrtc, peer);
  g_clear_object (&peer->channel);
  peer->webrtc = NULL;
  g_clear_object (&peer->pipeline);
}

/* Runs a webrtcbin action that replies through a promise and waits for it. */
static GstWebRTCSessionDescription *
run_action (GstElement                  *webrtc,
            const char                  *action,
            GstWebRTCSessionDescription *desc,
            const char                  *reply_field,
            GError                     **error)
{
  g_autoptr(GstPromise) promise = gst_promise_new ();
  GstWebRTCSessionDescription *result = NULL;
  const GstStructure *reply;

  if (desc != NULL)
    g_signal_emit_by_name (webrtc, action, desc, promise);
  else
    g_signal_emit_by_name (webrtc, action, NULL, promise);

  if (gst_promise_wait (promise) != GST_PROMISE_RESULT_REPLIED)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "%s got no reply", action);
      return NULL;
    }
  reply = gst_promise_get_reply (promise);
  if (reply != NULL && gst_structure_has_field (reply, "error"))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "%s failed", action);
      return NULL;
    }
  if (reply_field != NULL)
    {
      if (reply == NULL)
        {
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "%s: empty reply", action);
          return NULL;
        }
      gst_structure_get (reply, reply_field, GST_TYPE_WEBRTC_SESSION_DESCRIPTION, &result, NULL);
    }
  return result;
}

static gboolean
set_remote (Peer                        *peer,
            GstWebRTCSessionDescription *desc,
            GError                     **error)
{
  g_autoptr(GPtrArray) pending = NULL;

  run_action (peer->webrtc, "set-remote-description", desc, NULL, error);
  if (error != NULL && *error != NULL)
    return FALSE;

  g_mutex_lock (&peer->bench->lock);
  peer->remote_set = TRUE;
  pending = g_steal_pointer (&peer->pending);
  peer->pending = g_ptr_array_new_with_free_func (candidate_free);
  g_mutex_unlock (&peer->bench->lock);

  for (guint i = 0; i < pending->len; i++)
    {
      Candidate *c = g_ptr_array_index (pending, i);

      g_signal_emit_by_name (peer->webrtc, "add-ice-candidate", c->mline, c->candidate);
    }
  return TRUE;
}

/* Waits (bench->lock held) until @done holds or the step times out. */
static gboolean
wait_locked (NatterBenchWebrtc *self,
             gboolean         (*done) (NatterBenchWebrtc *self, gpointer data),
             gpointer           data,
             guint              timeout_ms)
{
  gint64 deadline = g_get_monotonic_time () + (gint64) timeout_ms * 1000;

  while (!done (self, data))
    if (!g_cond_wait_until (&self->cond, &self->lock, deadline))
      return done (self, data);
  return TRUE;
}

static gboolean
both_open (NatterBenchWebrtc *self,
           gpointer           data)
{
  return self->peer[0].open_time != 0 && self->peer[1].open_time != 0;
}

NatterBenchWebrtc *
natter_bench_webrtc_new (const char  *local_address,
                         GError     **error)
{
  NatterBenchWebrtc *self;

  g_return_val_if_fail (local_address != NULL, NULL);

  gst_init (NULL, NULL);
  self = g_new0 (NatterBenchWebrtc, 1);
  self->local_address = g_strdup (local_address);
  g_mutex_init (&self->lock);
  g_cond_init (&self->cond);
  for (int i = 0; i < 2; i++)
    {
      self->peer[i].bench = self;
      self->peer[i].pending = g_ptr_array_new_with_free_func (candidate_free);
    }
  return self;
}

/**
 * natter_bench_webrtc_connect:
 *
 * Builds both pipelines and negotiates; the clock starts before the first
 * pipeline is built, as NatterPeerSession's does at connect().
 */
gboolean
natter_bench_webrtc_connect (NatterBenchWebrtc  *self,
                             guint               timeout_ms,
                             gint64             *offer_to_open_us,
                             GError            **error)
{
  g_autoptr(GstWebRTCSessionDescription) offer = NULL;
  g_autoptr(GstWebRTCSessionDescription) answer = NULL;
  Peer *a = &self->peer[0];
  Peer *b = &self->peer[1];
  gint64 start = g_get_monotonic_time ();
  gboolean open;

  g_return_val_if_fail (a->pipeline == NULL, FALSE);

  if (!peer_start (a, self->local_address, error) || !peer_start (b, self->local_address, error))
    return FALSE;

  if (!(offer = run_action (a->webrtc, "create-offer", NULL, "offer", error)))
    return FALSE;
  run_action (a->webrtc, "set-local-description", offer, NULL, error);
  if ((error != NULL && *error != NULL) || !set_remote (b, offer, error))
    return FALSE;
  if (!(answer = run_action (b->webrtc, "create-answer", NULL, "answer", error)))
    return FALSE;
  run_action (b->webrtc, "set-local-description", answer, NULL, error);
  if ((error != NULL && *error != NULL) || !set_remote (a, answer, error))
    return FALSE;

  g_mutex_lock (&self->lock);
  open = wait_locked (self, both_open, NULL, timeout_ms);
  if (open && offer_to_open_us != NULL)
    *offer_to_open_us = MAX (a->open_time, b->open_time) - start;
  g_mutex_unlock (&self->lock);

  if (!open)
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT, "the data channel did not open");
  return open;
}

static gboolean
received_more (NatterBenchWebrtc *self,
               gpointer           data)
{
  return self->peer[1].received_messages > GPOINTER_TO_UINT (data);
}

gboolean
natter_bench_webrtc_latency (NatterBenchWebrtc  *self,
                             guint               n,
                             gsize               size,
                             gint64             *samples_us,
                             GError            **error)
{
  g_autofree guint8 *payload = g_malloc0 (MAX (size, 1));
  g_autoptr(GBytes) message = g_bytes_new (payload, size);

  g_return_val_if_fail (self->peer[0].channel != NULL, FALSE);

  for (guint i = 0; i < n; i++)
    {
      guint before;
      gint64 sent;
      gboolean ok;

      g_mutex_lock (&self->lock);
      before = self->peer[1].received_messages;
      g_mutex_unlock (&self->lock);

      sent = g_get_monotonic_time ();
      if (!gst_webrtc_data_channel_send_data_full (self->peer[0].channel, message, error))
        return FALSE;

      g_mutex_lock (&self->lock);
      ok = wait_locked (self, received_more, GUINT_TO_POINTER (before), STEP_TIMEOUT_MS);
      samples_us[i] = self->peer[1].last_receive_time - sent;
      g_mutex_unlock (&self->lock);
      if (!ok)
        {
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT, "message %u was lost", i);
          return FALSE;
        }
    }
  return TRUE;
}

static gboolean
is_low (NatterBenchWebrtc *self,
        gpointer           data)
{
  return self->peer[0].low;
}

static gboolean
received_all (NatterBenchWebrtc *self,
              gpointer           data)
{
  return self->peer[1].received_bytes >= *(guint64 *) data;
}

gboolean
natter_bench_webrtc_throughput (NatterBenchWebrtc  *self,
                                gsize               size,
                                guint64             total,
                                double             *mb_per_s,
                                GError            **error)
{
  g_autofree guint8 *payload = g_malloc (size);
  g_autoptr(GBytes) message = NULL;
  GstWebRTCDataChannel *channel = self->peer[0].channel;
  guint64 target;
  guint64 sent = 0;
  gint64 start;
  gboolean ok;

  g_return_val_if_fail (channel != NULL, FALSE);
  g_return_val_if_fail (size > 0, FALSE);

  for (gsize i = 0; i < size; i++)
    payload[i] = i;
  message = g_bytes_new_take (g_steal_pointer (&payload), size);
  g_object_set (channel, "buffered-amount-low-threshold", (guint64) LOW_WATERMARK, NULL);

  g_mutex_lock (&self->lock);
  target = self->peer[1].received_bytes + total;
  g_mutex_unlock (&self->lock);

  start = g_get_monotonic_time ();
  while (sent < total)
    {
      guint64 buffered;

      g_mutex_lock (&self->lock);
      self->peer[0].low = FALSE;
      g_mutex_unlock (&self->lock);

      g_object_get (channel, "buffered-amount", &buffered, NULL);
      if (buffered > HIGH_WATERMARK)
        {
          g_mutex_lock (&self->lock);
          ok = wait_locked (self, is_low, NULL, STEP_TIMEOUT_MS);
          g_mutex_unlock (&self->lock);
          if (!ok)
            {
              g_set_error (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT, "the send queue stalled");
              return FALSE;
            }
          continue;
        }

      if (!gst_webrtc_data_channel_send_data_full (channel, message, error))
        return FALSE;
      sent += size;
    }

  g_mutex_lock (&self->lock);
  ok = wait_locked (self, received_all, &target, STEP_TIMEOUT_MS * 3);
  if (ok)
    *mb_per_s = total / ((self->peer[1].last_receive_time - start) / 1e6) / 1e6;
  g_mutex_unlock (&self->lock);

  if (!ok)
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT, "not everything arrived");
  return ok;
}

void
natter_bench_webrtc_free (NatterBenchWebrtc *self)
{
  if (self == NULL)
    return;

  for (int i = 0; i < 2; i++)
    peer_stop (&self->peer[i]);
  for (int i = 0; i < 2; i++)
    g_ptr_array_unref (self->peer[i].pending);
  g_mutex_clear (&self->lock);
  g_cond_clear (&self->cond);
  g_free (self->local_address);
  g_free (self);
}

static int
compare_i64 (gconstpointer a,
             gconstpointer b)
{
  gint64 x = *(const gint64 *) a;
  gint64 y = *(const gint64 *) b;

  return (x > y) - (x < y);
}

double
natter_bench_percentile (gint64 *samples,
                         guint   n,
                         double  fraction)
{
  gint64 rank;

  g_return_val_if_fail (n > 0, 0);

  /* Nearest-rank percentile. */
  qsort (samples, n, sizeof *samples, compare_i64);
  rank = (gint64) ceil (fraction * n) - 1;
  return samples[CLAMP (rank, 0, (gint64) n - 1)];
}

gboolean
natter_bench_webrtc_baseline (guint                setup_runs,
                              guint                latency_messages,
                              guint64              throughput_bytes,
                              NatterBenchBaseline *out,
                              GError             **error)
{
  g_autoptr(NatterBenchWebrtc) pair = NULL;
  g_autofree gint64 *setup = g_new0 (gint64, MAX (setup_runs, 1));
  g_autofree gint64 *latency = g_new0 (gint64, MAX (latency_messages, 1));

  memset (out, 0, sizeof *out);
  out->setup_runs = setup_runs;
  out->latency_messages = latency_messages;
  out->throughput_bytes = throughput_bytes;

  {
    g_autoptr(NatterBenchWebrtc) warm_up = natter_bench_webrtc_new ("127.0.0.1", error);
    gint64 first = 0;

    if (!natter_bench_webrtc_connect (warm_up, STEP_TIMEOUT_MS, &first, error))
      return FALSE;
    out->first_setup_ms = first / 1000.0;
  }

  for (guint i = 0; i < setup_runs; i++)
    {
      g_autoptr(NatterBenchWebrtc) run = natter_bench_webrtc_new ("127.0.0.1", error);

      if (!natter_bench_webrtc_connect (run, STEP_TIMEOUT_MS, &setup[i], error))
        return FALSE;
    }
  if (setup_runs > 0)
    {
      out->setup_median_ms = natter_bench_percentile (setup, setup_runs, 0.5) / 1000.0;
      out->setup_min_ms = setup[0] / 1000.0;
      out->setup_max_ms = setup[setup_runs - 1] / 1000.0;
    }

  if (latency_messages == 0 && throughput_bytes == 0)
    return TRUE;

  pair = natter_bench_webrtc_new ("127.0.0.1", error);
  if (!natter_bench_webrtc_connect (pair, STEP_TIMEOUT_MS, NULL, error))
    return FALSE;

  if (latency_messages > 0)
    {
      if (!natter_bench_webrtc_latency (pair, latency_messages, 64, latency, error))
        return FALSE;
      out->latency_p50_us = natter_bench_percentile (latency, latency_messages, 0.5);
      out->latency_p99_us = natter_bench_percentile (latency, latency_messages, 0.99);
    }

  if (throughput_bytes > 0 &&
      !natter_bench_webrtc_throughput (pair, NATTER_BENCH_MESSAGE_SIZE, throughput_bytes,
                                       &out->throughput_mb_s, error))
    return FALSE;

  return TRUE;
}

void
natter_bench_webrtc_print (const NatterBenchBaseline *b)
{
  printf ("raw webrtcbin baseline (127.0.0.1, no Natter code)\n");
  printf ("  first setup in this process (incl. DTLS certificate): %.1f ms\n", b->first_setup_ms);
  if (b->setup_runs > 0)
    printf ("  setup (offer -> channel open on both), %u runs: "
            "median %.1f ms (min %.1f, max %.1f)\n",
            b->setup_runs, b->setup_median_ms, b->setup_min_ms, b->setup_max_ms);
  if (b->latency_messages > 0)
    printf ("  one-way latency, %u x 64 B one at a time: p50 %.0f us, p99 %.0f us\n",
            b->latency_messages, b->latency_p50_us, b->latency_p99_us);
  if (b->throughput_bytes > 0)
    printf ("  throughput, %" G_GUINT64_FORMAT " MiB in 64 KiB messages: %.1f MB/s\n",
            b->throughput_bytes / (1024 * 1024), b->throughput_mb_s);
  fflush (stdout);
}
