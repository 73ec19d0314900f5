/* natter-test-display.c: a private X server and session bus for GUI tests. */
#define G_LOG_DOMAIN "natter-test"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <unistd.h>
#include <sys/wait.h>
#include <glib-unix.h>
#include <glib/gstdio.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif

#include "natter-test-broker.h"
#include "natter-test-display.h"

#define XVFB_START_TIMEOUT_MS 15000

static GPid xvfb_pid;
static GTestDBus *test_bus;
static char *skip_reason;
static char *home_dir;

static void
stop_xvfb (void)
{
  if (xvfb_pid == 0)
    return;

  kill (xvfb_pid, SIGTERM);
  waitpid (xvfb_pid, NULL, 0);
  g_spawn_close_pid (xvfb_pid);
  xvfb_pid = 0;
}

/* Runs in the forked child: a crashed or killed test must not leave its
 * X server behind. */
static void
die_with_parent (gpointer user_data)
{
#ifdef __linux__
  prctl (PR_SET_PDEATHSIG, SIGTERM);
#endif
}

/* Xvfb -displayfd picks a free display itself and writes its number to the
 * fd once it accepts connections: no guessing, no lock-file races, no sleep.
 * g_spawn rather than GSubprocess: no helper thread, so the setenv() calls
 * that follow stay safe. */
static char *
start_xvfb (const char  *xvfb_path,
            GError     **error)
{
  const char *argv[] = {
    xvfb_path, "-displayfd", "3", "-screen", "0", "1280x800x24",
    "-nolisten", "tcp", "-noreset", NULL
  };
  GString *number = g_string_new (NULL);
  int fds[2];
  int target_fd = 3;
  gint64 deadline;

  if (!g_unix_open_pipe (fds, FD_CLOEXEC, error))
    return NULL;

  if (!g_spawn_async_with_pipes_and_fds (NULL, argv, NULL,
                                         G_SPAWN_DO_NOT_REAP_CHILD |
                                         G_SPAWN_STDOUT_TO_DEV_NULL |
                                         G_SPAWN_STDERR_TO_DEV_NULL,
                                         die_with_parent, NULL,
                                         -1, -1, -1,
                                         &fds[1], &target_fd, 1,
                                         &xvfb_pid, NULL, NULL, NULL,
                                         error))
    {
      close (fds[0]);
      close (fds[1]);
      g_string_free (number, TRUE);
      return NULL;
    }
  /* Drops our copy of the write end, so EOF means Xvfb died. */
  close (fds[1]);

  deadline = g_get_monotonic_time () + XVFB_START_TIMEOUT_MS * 1000;
  for (;;)
    {
      struct pollfd pfd = { .fd = fds[0], .events = POLLIN };
      gint64 left_ms = (deadline - g_get_monotonic_time ()) / 1000;
      char c;
      ssize_t n;

      if (left_ms <= 0 || poll (&pfd, 1, (int) left_ms) == 0)
        {
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT, "Xvfb did not start in time");
          break;
        }

      n = read (fds[0], &c, 1);
      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        {
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "Xvfb exited before reporting a display");
          break;
        }
      if (c == '\n')
        {
          close (fds[0]);
          g_string_prepend_c (number, ':');
          return g_string_free (number, FALSE);
        }
      g_string_append_c (number, c);
    }

  close (fds[0]);
  g_string_free (number, TRUE);
  stop_xvfb ();
  return NULL;
}

void
natter_test_display_setup (void)
{
  g_autofree char *xvfb_path = g_find_program_in_path ("Xvfb");
  g_autofree char *dbus_daemon_path = g_find_program_in_path ("dbus-daemon");
  g_autofree char *display = g_strdup (g_getenv ("DISPLAY"));
  gboolean use_host = g_strcmp0 (g_getenv ("NATTER_TEST_USE_DISPLAY"), "1") == 0;
  gboolean have_host = display != NULL || g_getenv ("WAYLAND_DISPLAY") != NULL;

  /* Whatever a test gets wrong, it must not write into the user's real
   * profile. Set before anything caches g_get_user_data_dir(). */
  home_dir = g_dir_make_tmp ("natter-test-home-XXXXXX", NULL);
  g_assert_nonnull (home_dir);
  for (guint i = 0; i < 3; i++)
    {
      static const char *vars[] = { "XDG_DATA_HOME", "XDG_CONFIG_HOME", "XDG_CACHE_HOME" };
      g_autofree char *dir = g_build_filename (home_dir, vars[i], NULL);

      g_assert_cmpint (g_mkdir (dir, 0700), ==, 0);
      g_setenv (vars[i], dir, TRUE);
    }

  /* The private bus has no accessibility bus to talk to. */
  g_setenv ("GTK_A11Y", "none", TRUE);
  g_setenv ("NO_AT_BRIDGE", "1", TRUE);

  if (xvfb_path != NULL && !(use_host && have_host))
    {
      g_autoptr(GError) error = NULL;

      g_clear_pointer (&display, g_free);
      display = start_xvfb (xvfb_path, &error);
      if (display == NULL)
        {
          skip_reason = g_strdup_printf ("could not start Xvfb: %s", error->message);
          return;
        }
      g_setenv ("GDK_BACKEND", "x11", TRUE);
      g_unsetenv ("WAYLAND_DISPLAY");
    }
  else if (!have_host)
    {
      skip_reason = g_strdup ("no display: install Xvfb (package xvfb) or set DISPLAY");
      return;
    }

  /* GApplication uniqueness lives on the session bus; a private one keeps
   * tests from talking to (or being) a running Natter. */
  if (dbus_daemon_path != NULL)
    {
      test_bus = g_test_dbus_new (G_TEST_DBUS_NONE);
      /* Also unsets DISPLAY, hence the order. */
      g_test_dbus_up (test_bus);
    }
  else
    {
      /* An address that fails at once, instead of autolaunching a bus. */
      g_setenv ("DBUS_SESSION_BUS_ADDRESS", "unix:path=/nonexistent/natter-test-bus", TRUE);
    }

  if (display != NULL)
    g_setenv ("DISPLAY", display, TRUE);
}

gboolean
natter_test_display_require (void)
{
  if (skip_reason == NULL)
    return TRUE;

  g_test_skip (skip_reason);
  return FALSE;
}

void
natter_test_display_teardown (void)
{
  if (test_bus != NULL)
    {
      /* Not _down(), and the object is kept: GTK and libadwaita hold the
       * bus connection for the life of the process, and _down() (also run
       * by the last unref) waits 30 s for it to go away, then warns. */
      g_test_dbus_stop (test_bus);
    }

  stop_xvfb ();

  if (home_dir != NULL)
    {
      natter_test_rmtree (home_dir);
      g_clear_pointer (&home_dir, g_free);
    }

  g_clear_pointer (&skip_reason, g_free);
}
