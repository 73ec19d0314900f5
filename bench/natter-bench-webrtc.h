/* natter-bench-webrtc.h: the raw webrtcbin baseline every Natter benchmark compares against. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Two bare webrtcbin instances in this process, wired directly (no Natter
 * code, no main loop): ICE restricted to one local address, a pre-negotiated
 * reliable ordered data channel, as NatterPeerSession sets them up. */
typedef struct _NatterBenchWebrtc NatterBenchWebrtc;

NatterBenchWebrtc *natter_bench_webrtc_new        (const char         *local_address,
                                                   GError            **error);
/* Offer/answer + trickle ICE until the channel is open on both sides. */
gboolean           natter_bench_webrtc_connect    (NatterBenchWebrtc  *self,
                                                   guint               timeout_ms,
                                                   gint64             *offer_to_open_us,
                                                   GError            **error);
/* @n messages of @size bytes sent one at a time; @samples_us[i] is send →
 * receiver's on-message-data callback. */
gboolean           natter_bench_webrtc_latency    (NatterBenchWebrtc  *self,
                                                   guint               n,
                                                   gsize               size,
                                                   gint64             *samples_us,
                                                   GError            **error);
/* Pushes @total bytes in @size messages with buffered-amount backpressure. */
gboolean           natter_bench_webrtc_throughput (NatterBenchWebrtc  *self,
                                                   gsize               size,
                                                   guint64             total,
                                                   double             *mb_per_s,
                                                   GError            **error);
void               natter_bench_webrtc_free       (NatterBenchWebrtc  *self);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (NatterBenchWebrtc, natter_bench_webrtc_free)

typedef struct
{
  double  first_setup_ms;        /* includes GStreamer's one-off DTLS certificate */
  guint   setup_runs;
  double  setup_median_ms;
  double  setup_min_ms;
  double  setup_max_ms;
  guint   latency_messages;
  double  latency_p50_us;
  double  latency_p99_us;
  guint64 throughput_bytes;
  double  throughput_mb_s;       /* 1 MB = 10^6 bytes */
} NatterBenchBaseline;

/* The whole baseline: one warm-up setup (GStreamer generates its process-wide
 * DTLS certificate on the first), setup over @setup_runs fresh pairs, then
 * latency (64 B) and throughput (64 KiB messages) on one pair. Zero counts
 * skip a part. */
gboolean           natter_bench_webrtc_baseline   (guint                setup_runs,
                                                   guint                latency_messages,
                                                   guint64              throughput_bytes,
                                                   NatterBenchBaseline *out,
                                                   GError             **error);
void               natter_bench_webrtc_print      (const NatterBenchBaseline *baseline);

/* Sorts @samples in place and returns the @fraction (0..1) percentile. */
double             natter_bench_percentile        (gint64             *samples,
                                                   guint               n,
                                                   double              fraction);

#define NATTER_BENCH_MESSAGE_SIZE (64 * 1024)

G_END_DECLS
