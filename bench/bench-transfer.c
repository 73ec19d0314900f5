/* bench-transfer.c: file transfer throughput through Natter vs a bare webrtcbin data channel, in one run. */
#define G_LOG_DOMAIN "natter-bench"

#include <stdio.h>
#include <string.h>

#include <glib/gstdio.h>
#include <gst/gst.h>

#include "natter-bench-webrtc.h"
#include "natter-client.h"
#include "natter-test-broker.h"

#define MIB (1024 * 1024)
#define CONNECT_TIMEOUT_US (30 * G_USEC_PER_SEC)

typedef struct
{
  NatterClient *client;
  char         *profile;
  char         *downloads;
} Side;

static gint64
proc_status_kb (const char *field)
{
  g_autofree char *status = NULL;
  const char *line;

  if (!g_file_get_contents ("/proc/self/status", &status, NULL, NULL) ||
      (line = strstr (status, field)) == NULL)
    return -1;
  return g_ascii_strtoll (line + strlen (field), NULL, 10);
}

/* Spins the default main context until @cond holds or @timeout_us passes. */
static gboolean
spin_until (gboolean (*cond) (gpointer), gpointer data, gint64 timeout_us)
{
  gint64 deadline = g_get_monotonic_time () + timeout_us;

  while (!cond (data))
    {
      if (g_get_monotonic_time () > deadline)
        return FALSE;
      if (!g_main_context_iteration (NULL, FALSE))
        g_usleep (200);
    }
  return TRUE;
}

static gboolean
broker_connected (gpointer data)
{
  NatterSignalingState state;

  g_object_get (data, "signaling-state", &state, NULL);
  return state == NATTER_SIGNALING_CONNECTED;
}

static Side *
side_new (const char *dir,
          const char *name,
          const char *url,
          GError    **error)
{
  g_autoptr(NatterIceConfig) ice = natter_ice_config_new ();
  Side *side = g_new0 (Side, 1);

  side->profile = g_build_filename (dir, name, NULL);
  side->downloads = g_strconcat (side->profile, "-downloads", NULL);
  side->client = natter_client_new (side->profile, NATTER_CLIENT_NONE, error);
  if (side->client == NULL ||
      !natter_client_set_broker (side->client, url, NULL, NULL, NULL, error) ||
      !natter_ice_config_add_local_address (ice, "127.0.0.1", error))
    return NULL;
  natter_client_set_ice_config (side->client, ice);
  natter_client_set_auto_accept (side->client, TRUE);
  natter_client_set_auto_accept_files (side->client, side->downloads);
  natter_client_start (side->client);
  if (!spin_until (broker_connected, side->client, 10 * G_USEC_PER_SEC))
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT, "no broker");
      return NULL;
    }
  return side;
}

typedef struct
{
  NatterClient *a;
  NatterClient *b;
} Pair;

static gboolean
both_connected (gpointer data)
{
  Pair *pair = data;
  const char *a_id = natter_client_get_peer_id (pair->a);
  const char *b_id = natter_client_get_peer_id (pair->b);

  return natter_client_get_chat_protocol (pair->a, b_id) != NULL &&
         natter_client_get_chat_protocol (pair->b, a_id) != NULL;
}

static void
write_file (const char *path,
            guint64     size)
{
  g_autofree guint64 *block = g_malloc (MIB);
  guint64 x = 88172645463325252ULL;
  FILE *file = fopen (path, "wb");

  g_assert (file != NULL);
  for (guint64 done = 0; done < size; done += MIB)
    {
      for (gsize i = 0; i < MIB / 8; i++)
        {
          x ^= x << 13;
          x ^= x >> 7;
          x ^= x << 17;
          block[i] = x;
        }
      fwrite (block, 1, MIN ((guint64) MIB, size - done), file);
    }
  fclose (file);
}

typedef struct
{
  NatterTransfer *transfer;
  gint64          active_at;   /* first byte requested: the transfer phase starts */
  gint64          done_at;
} Watch;

static void
state_cb (NatterTransfer *transfer,
          GParamSpec     *pspec,
          Watch          *watch)
{
  NatterTransferState state = natter_transfer_get_state (transfer);

  if (state == NATTER_TRANSFER_ACTIVE && watch->active_at == 0)
    watch->active_at = g_get_monotonic_time ();
  if (state == NATTER_TRANSFER_DONE || state == NATTER_TRANSFER_FAILED)
    watch->done_at = g_get_monotonic_time ();
}

static gboolean
watch_done (gpointer data)
{
  Watch *watch = data;

  return watch->done_at != 0;
}

static gboolean
incoming_arrived (gpointer data)
{
  gpointer *args = data;

  return natter_client_lookup_transfer (args[0], args[1]) != NULL;
}

/* One Natter transfer of @path from @a to @b: MB/s of the transfer phase
 * (first byte → verified and renamed) and of the whole (including the
 * sender's hashing before the offer). */
static gboolean
natter_run (Side        *a,
            Side        *b,
            const char  *path,
            guint64      size,
            double      *phase_mb_s,
            double      *total_mb_s,
            gint64      *rss_growth_kb,
            GError     **error)
{
  g_autoptr(GFile) file = g_file_new_for_path (path);
  g_autoptr(NatterTransfer) out = NULL;
  Watch watch = { NULL, 0, 0 };
  gpointer args[2];
  gint64 rss_before = proc_status_kb ("VmRSS:");
  gint64 start = g_get_monotonic_time ();
  NatterTransfer *in;

  out = natter_client_send_file (a->client, natter_client_get_peer_id (b->client), file, error);
  if (out == NULL)
    return FALSE;
  args[0] = b->client;
  args[1] = (gpointer) natter_transfer_get_id (out);
  if (!spin_until (incoming_arrived, args, CONNECT_TIMEOUT_US))
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT, "no offer");
      return FALSE;
    }
  in = natter_client_lookup_transfer (b->client, natter_transfer_get_id (out));
  watch.transfer = in;
  g_signal_connect (in, "notify::state", G_CALLBACK (state_cb), &watch);
  state_cb (in, NULL, &watch);
  if (!spin_until (watch_done, &watch, 300 * G_USEC_PER_SEC))
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT, "transfer stalled");
      return FALSE;
    }
  g_signal_handlers_disconnect_by_data (in, &watch);
  if (natter_transfer_get_state (in) != NATTER_TRANSFER_DONE)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "transfer failed: %s",
                   natter_transfer_get_error (in));
      return FALSE;
    }
  *phase_mb_s = size / ((watch.done_at - watch.active_at) / 1e6) / 1e6;
  *total_mb_s = size / ((watch.done_at - start) / 1e6) / 1e6;
  *rss_growth_kb = proc_status_kb ("VmHWM:") - rss_before;
  g_unlink (natter_transfer_get_path (in));
  return TRUE;
}

int
main (int   argc,
      char *argv[])
{
  int mebibytes = 256;
  int runs = 2;
  GOptionEntry entries[] = {
    { "mebibytes", 'b', 0, G_OPTION_ARG_INT, &mebibytes, "File size in MiB", "N" },
    { "runs", 'r', 0, G_OPTION_ARG_INT, &runs, "Alternating runs of each", "N" },
    { NULL }
  };
  g_autoptr(GOptionContext) context = g_option_context_new ("— Natter file transfer vs bare webrtcbin");
  g_autoptr(NatterTestBroker) broker = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *dir = NULL;
  g_autofree char *path = NULL;
  guint64 size;
  Side *a, *b;
  Pair pair;
  double raw_sum = 0, natter_sum = 0, total_sum = 0;
  gint64 max_growth = 0;

  g_option_context_add_main_entries (context, entries, NULL);
  if (!g_option_context_parse (context, &argc, &argv, &error) || mebibytes <= 0 || runs <= 0)
    {
      fprintf (stderr, "%s\n", error ? error->message : "sizes must be positive");
      return 2;
    }
  gst_init (NULL, NULL);
  size = (guint64) mebibytes * MIB;

  dir = natter_test_mkdtemp ("natter-bench-transfer-XXXXXX");
  broker = natter_test_broker_new (NULL);
  if (!natter_test_broker_start (broker, &error) ||
      (a = side_new (dir, "a", natter_test_broker_get_url (broker), &error)) == NULL ||
      (b = side_new (dir, "b", natter_test_broker_get_url (broker), &error)) == NULL ||
      natter_client_add_contact (a->client, natter_client_get_peer_id (b->client), NULL,
                                 &error) == NULL)
    {
      fprintf (stderr, "setup failed: %s\n", error->message);
      return 1;
    }
  pair.a = a->client;
  pair.b = b->client;
  if (!spin_until (both_connected, &pair, CONNECT_TIMEOUT_US))
    {
      fprintf (stderr, "the two clients did not connect\n");
      return 1;
    }
  path = g_build_filename (dir, "payload.bin", NULL);
  write_file (path, size);

  printf ("file transfer, %d MiB, loopback, both peers in this process, %d run(s) each\n",
          mebibytes, runs);
  for (int i = 0; i < runs; i++)
    {
      NatterBenchBaseline baseline;
      double phase = 0, total = 0;
      gint64 growth = 0;

      /* The bare channel: same message size class, same 1 / 4 MiB backpressure window. */
      if (!natter_bench_webrtc_baseline (0, 0, size, &baseline, &error))
        {
          fprintf (stderr, "baseline failed: %s\n", error->message);
          return 1;
        }
      if (!natter_run (a, b, path, size, &phase, &total, &growth, &error))
        {
          fprintf (stderr, "natter run failed: %s\n", error->message);
          return 1;
        }
      printf ("  run %d: bare webrtcbin %.1f MB/s; Natter %.1f MB/s (transfer phase: SHA-256 "
              "and disk write included), %.1f MB/s end to end (with the sender's hashing "
              "before the offer)\n", i + 1, baseline.throughput_mb_s, phase, total);
      fflush (stdout);
      raw_sum += baseline.throughput_mb_s;
      natter_sum += phase;
      total_sum += total;
      max_growth = MAX (max_growth, growth);
    }

  printf ("bare webrtcbin:        %.1f MB/s (mean)\n", raw_sum / runs);
  printf ("Natter transfer phase: %.1f MB/s (mean)\n", natter_sum / runs);
  printf ("Natter end to end:     %.1f MB/s (mean)\n", total_sum / runs);
  printf ("ratio Natter / bare:   %.2f (target >= 0.90); end to end %.2f\n",
          natter_sum / raw_sum, total_sum / raw_sum);
  printf ("peak memory: VmHWM %.1f MiB; at most %.1f MiB above the RSS before a Natter run "
          "(sender and receiver in this process)\n",
          proc_status_kb ("VmHWM:") / 1024.0, max_growth / 1024.0);

  g_clear_object (&a->client);
  g_clear_object (&b->client);
  natter_test_rmtree (dir);
  return 0;
}
