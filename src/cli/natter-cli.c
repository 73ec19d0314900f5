/* natter-cli.c: a headless Natter peer for scripts, tests and benchmarks. */
#define G_LOG_DOMAIN "natter-cli"

#include <glib.h>

int
main (int   argc,
      char *argv[])
{
  g_printerr ("usage: natter-cli --profile DIR COMMAND\n");
  return 2;
}
