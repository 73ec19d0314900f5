/* bench-raw-webrtc.c: the raw webrtcbin baseline (setup, latency, throughput) on loopback. */
#define G_LOG_DOMAIN "natter-bench"

#include <stdio.h>

#include "natter-bench-webrtc.h"

int
main (int   argc,
      char *argv[])
{
  int setup_runs = 10;
  int messages = 1000;
  int mebibytes = 256;
  GOptionEntry entries[] = {
    { "setup-runs", 's', 0, G_OPTION_ARG_INT, &setup_runs, "Fresh connections to time", "N" },
    { "messages", 'm', 0, G_OPTION_ARG_INT, &messages, "Small messages for latency", "N" },
    { "mebibytes", 'b', 0, G_OPTION_ARG_INT, &mebibytes, "MiB pushed for throughput", "N" },
    { NULL }
  };
  g_autoptr(GOptionContext) context = g_option_context_new ("— raw webrtcbin baseline");
  g_autoptr(GError) error = NULL;
  NatterBenchBaseline baseline;

  g_option_context_add_main_entries (context, entries, NULL);
  if (!g_option_context_parse (context, &argc, &argv, &error) ||
      setup_runs < 0 || messages < 0 || mebibytes < 0)
    {
      fprintf (stderr, "%s\n", error != NULL ? error->message : "counts must not be negative");
      return 2;
    }

  if (!natter_bench_webrtc_baseline (setup_runs, messages, (guint64) mebibytes * 1024 * 1024,
                                     &baseline, &error))
    {
      fprintf (stderr, "baseline failed: %s\n", error->message);
      return 1;
    }

  natter_bench_webrtc_print (&baseline);
  return 0;
}
