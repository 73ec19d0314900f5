/* test-window.c: the real Natter application and windows, driven under Xvfb. */
#define G_LOG_DOMAIN "natter-test"

#include <glib/gstdio.h>

#include "natter-application.h"
#include "natter-error.h"
#include "natter-identity.h"
#include "natter-preferences-window.h"
#include "natter-profile-error-window.h"
#include "natter-window.h"

#include "natter-test-broker.h"
#include "natter-test-display.h"
#include "natter-test-widgets.h"

#define UI_TIMEOUT_MS 15000

typedef struct
{
  /* in */
  const char         *profile_dir;
  NatterTestAppCheck  check;
  /* out */
  NatterApplication  *app;
  gboolean            was_primary;
  guint               n_windows_added;
} AppRun;

static gboolean
is_status_page_titled (GtkWidget     *widget,
                       gconstpointer  title)
{
  return ADW_IS_STATUS_PAGE (widget) &&
         g_strcmp0 (adw_status_page_get_title (ADW_STATUS_PAGE (widget)), title) == 0;
}

/* Waits for the application's only window to be on screen. */
static GtkWidget *
wait_for_window (AppRun *run)
{
  GtkWindow *window = gtk_application_get_active_window (GTK_APPLICATION (run->app));

  g_assert_nonnull (window);
  g_assert_true (natter_test_wait_until (natter_test_widget_is_mapped, window, UI_TIMEOUT_MS));

  return GTK_WIDGET (window);
}

/* Only the primary instance starts up; a remote one hands over and returns. */
static void
on_startup (GApplication *app,
            AppRun       *run)
{
  run->was_primary = TRUE;
}

static void
on_window_added (GtkApplication *app,
                 GtkWindow      *window,
                 AppRun         *run)
{
  run->n_windows_added++;
}

/* Runs a real NatterApplication on the command line `natter ARGS…`, calls
 * run->check from its main loop once activated, then quits it. Returns the
 * exit status. */
static int
run_app (AppRun             *run,
         const char * const *args)
{
  run->app = natter_application_new ();
  g_signal_connect (run->app, "startup", G_CALLBACK (on_startup), run);
  g_signal_connect (run->app, "window-added", G_CALLBACK (on_window_added), run);
  return natter_test_app_run ((GApplication **) &run->app, args, run->check, run);
}

/* name → contents of every file in @dir, to prove nothing was touched. */
static GHashTable *
snapshot_dir (const char *dir)
{
  g_autoptr(GHashTable) files = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  g_autoptr(GDir) d = g_dir_open (dir, 0, NULL);
  const char *name;

  g_assert_nonnull (d);
  while ((name = g_dir_read_name (d)) != NULL)
    {
      g_autofree char *path = g_build_filename (dir, name, NULL);
      char *contents = NULL;

      if (g_file_test (path, G_FILE_TEST_IS_REGULAR))
        g_assert_true (g_file_get_contents (path, &contents, NULL, NULL));
      g_hash_table_insert (files, g_strdup (name), contents);
    }

  return g_steal_pointer (&files);
}

static void
assert_same_snapshot (GHashTable *before,
                      GHashTable *after)
{
  GHashTableIter iter;
  gpointer name, contents;

  g_assert_cmpuint (g_hash_table_size (before), ==, g_hash_table_size (after));
  g_hash_table_iter_init (&iter, before);
  while (g_hash_table_iter_next (&iter, &name, &contents))
    {
      g_assert_true (g_hash_table_contains (after, name));
      g_assert_cmpstr (g_hash_table_lookup (after, name), ==, contents);
    }
}

static void
on_clipboard_text (GObject      *source,
                   GAsyncResult *result,
                   gpointer      user_data)
{
  char **text = user_data;
  g_autoptr(GError) error = NULL;

  *text = gdk_clipboard_read_text_finish (GDK_CLIPBOARD (source), result, &error);
  g_assert_no_error (error);
  g_assert_nonnull (*text);
}

static gboolean
string_is_set (gpointer data)
{
  return *(char **) data != NULL;
}

static void
check_empty_state (gpointer data)
{
  AppRun *run = data;
  GtkWidget *window = wait_for_window (run);
  g_autoptr(NatterIdentity) identity = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *clipboard_text = NULL;
  GdkClipboard *clipboard;
  GtkWidget *page, *label, *copy_button;
  const char *peer_id;

  g_assert_true (NATTER_IS_WINDOW (window));

  /* The identity the app created in the profile is the one it shows. */
  identity = natter_identity_load (run->profile_dir, &error);
  g_assert_no_error (error);
  peer_id = natter_identity_get_peer_id (identity);
  g_assert_cmpstr (peer_id, ==, natter_identity_get_peer_id (natter_window_get_identity (NATTER_WINDOW (window))));

  page = natter_test_find_mapped (window, is_status_page_titled, "No Contacts Yet");
  g_assert_nonnull (page);
  label = natter_test_find_mapped (page, natter_test_is_label, peer_id);
  g_assert_nonnull (label);
  g_assert_true (gtk_label_get_selectable (GTK_LABEL (label)));
  /* Not pre-selected by taking the initial focus (it looked like a glitch). */
  g_assert_false (gtk_label_get_selection_bounds (GTK_LABEL (label), NULL, NULL));

  /* Something else first, so a copy that does nothing cannot pass. */
  clipboard = gtk_widget_get_clipboard (window);
  gdk_clipboard_set_text (clipboard, "not the peer id");

  copy_button = natter_test_find_mapped (page, natter_test_is_action_button, "win.copy-peer-id");
  g_assert_nonnull (copy_button);
  g_assert_true (gtk_widget_is_sensitive (copy_button));
  /* What a click does (keyboard activation would add a press animation). */
  g_signal_emit_by_name (copy_button, "clicked");

  gdk_clipboard_read_text_async (clipboard, NULL, on_clipboard_text, &clipboard_text);
  g_assert_true (natter_test_wait_until (string_is_set, &clipboard_text, UI_TIMEOUT_MS));
  g_assert_cmpstr (clipboard_text, ==, peer_id);

  /* The "Add Contact" entry point is there, even while it cannot work yet. */
  g_assert_nonnull (natter_test_find_mapped (page, natter_test_is_action_button,
                                             "win.add-contact"));
}

static void
test_empty_state_shares_peer_id (void)
{
  g_autofree char *tmp = NULL;
  g_autofree char *profile = NULL;
  AppRun run = { .check = check_empty_state };

  if (!natter_test_display_require ())
    return;

  tmp = natter_test_mkdtemp ("natter-gui");
  /* Not created beforehand: the app creates the profile it is pointed at. */
  profile = g_build_filename (tmp, "some", "profile", NULL);
  run.profile_dir = profile;

  g_assert_cmpint (run_app (&run, (const char *[]) { "--profile", profile, NULL }), ==, 0);
  g_assert_true (run.was_primary);
  g_assert_cmpuint (run.n_windows_added, ==, 1);

  natter_test_rmtree (tmp);
}

static void
assert_accel (GtkApplication *app,
              const char     *action,
              const char     *accel)
{
  g_auto(GStrv) accels = gtk_application_get_accels_for_action (app, action);

  g_assert_true (g_strv_contains ((const char * const *) accels, accel));
}

static void
check_menu_windows (gpointer data)
{
  AppRun *run = data;
  GtkWidget *window = wait_for_window (run);
  GtkWidget *about, *preferences, *shortcuts;

  assert_accel (GTK_APPLICATION (run->app), "app.quit", "<Control>q");
  assert_accel (GTK_APPLICATION (run->app), "win.show-help-overlay", "<Control>question");
  assert_accel (GTK_APPLICATION (run->app), "app.preferences", "<Control>comma");

  g_action_group_activate_action (G_ACTION_GROUP (run->app), "about", NULL);
  about = natter_test_wait_for_toplevel (ADW_TYPE_ABOUT_WINDOW, UI_TIMEOUT_MS);
  g_assert_cmpstr (adw_about_window_get_version (ADW_ABOUT_WINDOW (about)), ==, NATTER_VERSION);
  g_assert_cmpstr (adw_about_window_get_application_icon (ADW_ABOUT_WINDOW (about)), ==, NATTER_APP_ID);
  g_assert_cmpint (adw_about_window_get_license_type (ADW_ABOUT_WINDOW (about)), ==, GTK_LICENSE_GPL_3_0);
  g_assert_true (gtk_window_get_transient_for (GTK_WINDOW (about)) == GTK_WINDOW (window));
  gtk_window_destroy (GTK_WINDOW (about));

  g_action_group_activate_action (G_ACTION_GROUP (run->app), "preferences", NULL);
  preferences = natter_test_wait_for_toplevel (NATTER_TYPE_PREFERENCES_WINDOW, UI_TIMEOUT_MS);
  g_assert_true (gtk_window_get_transient_for (GTK_WINDOW (preferences)) == GTK_WINDOW (window));
  gtk_window_destroy (GTK_WINDOW (preferences));

  /* Also proves gtk/help-overlay.ui is in the resources and builds. */
  g_assert_true (gtk_widget_activate_action (window, "win.show-help-overlay", NULL));
  shortcuts = natter_test_wait_for_toplevel (GTK_TYPE_SHORTCUTS_WINDOW, UI_TIMEOUT_MS);
  gtk_widget_set_visible (shortcuts, FALSE);
}

/* Runs the app on a new profile with @check. */
static void
run_with_new_profile (NatterTestAppCheck check)
{
  g_autofree char *tmp = NULL;
  AppRun run = { .check = check };

  if (!natter_test_display_require ())
    return;

  tmp = natter_test_mkdtemp ("natter-gui");
  run.profile_dir = tmp;

  g_assert_cmpint (run_app (&run, (const char *[]) { "--profile", tmp, NULL }), ==, 0);

  natter_test_rmtree (tmp);
}

static void
test_menu_windows (void)
{
  run_with_new_profile (check_menu_windows);
}

/* The password row saves into the profile, through the client, and shows it again. */
static void
check_preferences_password (gpointer data)
{
  AppRun *run = data;
  NatterClient *client = natter_application_get_client (run->app);
  g_autofree char *saved = NULL;
  GtkWidget *preferences, *row;

  wait_for_window (run);
  g_assert_null (natter_client_dup_broker_password (client));

  g_action_group_activate_action (G_ACTION_GROUP (run->app), "preferences", NULL);
  preferences = natter_test_wait_for_toplevel (NATTER_TYPE_PREFERENCES_WINDOW, UI_TIMEOUT_MS);
  row = natter_test_find_widget (preferences, natter_test_is_of_type,
                                 GSIZE_TO_POINTER (ADW_TYPE_PASSWORD_ENTRY_ROW));
  g_assert_nonnull (row);
  g_assert_cmpstr (gtk_editable_get_text (GTK_EDITABLE (row)), ==, "");
  gtk_editable_set_text (GTK_EDITABLE (row), "gui secret ");
  g_signal_emit_by_name (row, "apply");
  g_assert_false (gtk_widget_has_css_class (row, "error"));
  saved = natter_client_dup_broker_password (client);
  g_assert_cmpstr (saved, ==, "gui secret");
  gtk_window_destroy (GTK_WINDOW (preferences));

  g_action_group_activate_action (G_ACTION_GROUP (run->app), "preferences", NULL);
  preferences = natter_test_wait_for_toplevel (NATTER_TYPE_PREFERENCES_WINDOW, UI_TIMEOUT_MS);
  row = natter_test_find_widget (preferences, natter_test_is_of_type,
                                 GSIZE_TO_POINTER (ADW_TYPE_PASSWORD_ENTRY_ROW));
  g_assert_cmpstr (gtk_editable_get_text (GTK_EDITABLE (row)), ==, "gui secret");
  gtk_window_destroy (GTK_WINDOW (preferences));
}

static void
test_preferences_password (void)
{
  run_with_new_profile (check_preferences_password);
}

static void
check_options (gpointer data)
{
  AppRun *run = data;
  const char * const *ice = natter_application_get_ice_addresses (run->app);

  wait_for_window (run);
  g_assert_cmpstr (natter_application_get_profile_dir (run->app), ==, run->profile_dir);
  g_assert_cmpstr (natter_application_get_broker_url (run->app), ==, "mqtt://127.0.0.1:1884");
  g_assert_nonnull (ice);
  g_assert_cmpuint (g_strv_length ((char **) ice), ==, 2);
  g_assert_cmpstr (ice[0], ==, "127.0.0.1");
  g_assert_cmpstr (ice[1], ==, "::1");
  g_assert_true (g_application_get_flags (G_APPLICATION (run->app)) & G_APPLICATION_NON_UNIQUE);
}

static void
test_command_line_options (void)
{
  g_autofree char *tmp = NULL;
  g_autofree char *cwd = g_get_current_dir ();
  AppRun run = { .check = check_options };
  AppRun bad_broker = { 0 };
  AppRun bad_address = { 0 };

  if (!natter_test_display_require ())
    return;

  tmp = natter_test_mkdtemp ("natter-gui");
  run.profile_dir = tmp;

  /* A relative --profile is resolved against the working directory. */
  g_assert_cmpint (g_chdir (tmp), ==, 0);
  g_assert_cmpint (run_app (&run, (const char *[]) {
                     "--profile", ".", "--broker", "mqtt://127.0.0.1:1884",
                     "--ice-address", "127.0.0.1", "--ice-address", "::1", NULL }), ==, 0);
  g_assert_cmpint (g_chdir (cwd), ==, 0);

  /* Mistakes stop at the command line, before any window or profile. */
  g_assert_cmpint (run_app (&bad_broker, (const char *[]) {
                     "--profile", tmp, "--broker", "http://127.0.0.1", NULL }), ==, 1);
  g_assert_false (bad_broker.was_primary);
  g_assert_cmpint (run_app (&bad_address, (const char *[]) {
                     "--profile", tmp, "--ice-address", "localhost", NULL }), ==, 1);
  g_assert_false (bad_address.was_primary);

  natter_test_rmtree (tmp);
}

static char *expected_profile_error;

static void
check_profile_error (gpointer data)
{
  AppRun *run = data;
  GtkWidget *window = wait_for_window (run);
  GtkWidget *page, *label;

  g_assert_true (NATTER_IS_PROFILE_ERROR_WINDOW (window));
  page = natter_test_find_mapped (window, is_status_page_titled, "Cannot Open Profile");
  g_assert_nonnull (page);
  label = natter_test_find_mapped (page, natter_test_is_label, expected_profile_error);
  g_assert_nonnull (label);
  g_assert_false (gtk_label_get_selection_bounds (GTK_LABEL (label), NULL, NULL));
  g_assert_nonnull (natter_test_find_mapped (page, natter_test_is_action_button, "app.quit"));
}

static void
test_corrupt_profile_is_reported_and_kept (void)
{
  g_autofree char *tmp = NULL;
  g_autofree char *profile = NULL;
  g_autoptr(NatterIdentity) identity = NULL;
  g_autoptr(GHashTable) before = NULL;
  g_autoptr(GHashTable) after = NULL;
  g_autoptr(GError) error = NULL;
  GHashTableIter iter;
  gpointer name;
  AppRun run = { .check = check_profile_error };

  if (!natter_test_display_require ())
    return;

  tmp = natter_test_mkdtemp ("natter-gui");
  profile = g_build_filename (tmp, "profile", NULL);
  run.profile_dir = profile;

  /* A real profile, then every file in it damaged: whatever the core keeps
   * there, none of it may be replaced by a fresh identity. */
  identity = natter_identity_load_or_create (profile, &error);
  g_assert_no_error (error);
  g_clear_object (&identity);

  before = snapshot_dir (profile);
  g_assert_cmpuint (g_hash_table_size (before), >, 0);
  g_hash_table_iter_init (&iter, before);
  while (g_hash_table_iter_next (&iter, &name, NULL))
    {
      g_autofree char *path = g_build_filename (profile, name, NULL);

      g_assert_true (g_file_set_contents (path, "this is not a key\n", -1, NULL));
    }
  g_clear_pointer (&before, g_hash_table_unref);
  before = snapshot_dir (profile);

  identity = natter_identity_load (profile, &error);
  g_assert_null (identity);
  g_assert_error (error, NATTER_ERROR, NATTER_ERROR_CORRUPT);
  expected_profile_error = g_strdup (error->message);

  g_assert_cmpint (run_app (&run, (const char *[]) { "--profile", profile, NULL }), ==, 0);
  g_assert_cmpuint (run.n_windows_added, ==, 1);

  after = snapshot_dir (profile);
  assert_same_snapshot (before, after);

  g_clear_pointer (&expected_profile_error, g_free);
  natter_test_rmtree (tmp);
}

static gboolean
bus_name_has_owner (gpointer data)
{
  GDBusConnection *bus = data;
  g_autoptr(GVariant) reply = NULL;
  gboolean has_owner = FALSE;

  reply = g_dbus_connection_call_sync (bus, "org.freedesktop.DBus", "/org/freedesktop/DBus",
                                       "org.freedesktop.DBus", "NameHasOwner",
                                       g_variant_new ("(s)", NATTER_APP_ID),
                                       G_VARIANT_TYPE ("(b)"), G_DBUS_CALL_FLAGS_NONE,
                                       -1, NULL, NULL);
  if (reply != NULL)
    g_variant_get (reply, "(b)", &has_owner);

  return has_owner;
}

/* The core writes the identity atomically, so existing means complete. */
static gboolean
identity_file_exists (gpointer data)
{
  g_autoptr(NatterIdentity) identity = natter_identity_load (data, NULL);

  return identity != NULL;
}

static void
on_subprocess_exited (GObject      *source,
                      GAsyncResult *result,
                      gpointer      user_data)
{
  g_autoptr(GError) error = NULL;

  g_subprocess_wait_check_finish (G_SUBPROCESS (source), result, &error);
  g_assert_no_error (error);
  *(gboolean *) user_data = TRUE;
}

static char *side_by_side_other_peer_id;

static void
check_second_profile (gpointer data)
{
  AppRun *run = data;
  GtkWidget *window = wait_for_window (run);
  g_autoptr(NatterIdentity) identity = NULL;
  g_autoptr(GError) error = NULL;
  const char *peer_id;

  identity = natter_identity_load (run->profile_dir, &error);
  g_assert_no_error (error);
  peer_id = natter_identity_get_peer_id (identity);

  g_assert_cmpstr (peer_id, !=, side_by_side_other_peer_id);
  g_assert_nonnull (natter_test_find_mapped (window, natter_test_is_label, peer_id));
}

static void
test_profiles_run_side_by_side (void)
{
  g_autoptr(GSubprocessLauncher) launcher = NULL;
  g_autoptr(GSubprocess) first = NULL;
  g_autoptr(GDBusConnection) bus = NULL;
  g_autoptr(NatterIdentity) first_identity = NULL;
  g_autoptr(GVariant) reply = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *tmp = NULL;
  g_autofree char *data_home = NULL;
  g_autofree char *default_profile = NULL;
  g_autofree char *profile = NULL;
  const char *natter_bin = g_getenv ("NATTER_BIN");
  gboolean exited = FALSE;
  AppRun second = { .check = check_second_profile };
  AppRun third = { 0 };

  if (!natter_test_display_require ())
    return;
  if (natter_bin == NULL)
    {
      g_test_skip ("NATTER_BIN is not set (run through meson test)");
      return;
    }
  bus = g_bus_get_sync (G_BUS_TYPE_SESSION, NULL, &error);
  if (bus == NULL)
    {
      g_test_skip ("no session bus to test uniqueness on (install dbus-daemon)");
      return;
    }

  tmp = natter_test_mkdtemp ("natter-gui");
  data_home = g_build_filename (tmp, "data", NULL);
  default_profile = g_build_filename (data_home, "natter", "default", NULL);
  profile = g_build_filename (tmp, "second", NULL);

  /* A plain `natter`: the unique instance, on the default profile. */
  launcher = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_NONE);
  g_subprocess_launcher_setenv (launcher, "XDG_DATA_HOME", data_home, TRUE);
  first = g_subprocess_launcher_spawn (launcher, &error, natter_bin, NULL);
  g_assert_no_error (error);
  g_assert_true (natter_test_wait_until (bus_name_has_owner, bus, UI_TIMEOUT_MS));

  /* It owns the name before its startup has created the default profile. */
  g_assert_true (natter_test_wait_until (identity_file_exists, default_profile, UI_TIMEOUT_MS));
  first_identity = natter_identity_load (default_profile, &error);
  g_assert_no_error (error);
  side_by_side_other_peer_id = g_strdup (natter_identity_get_peer_id (first_identity));

  /* `natter --profile DIR` runs on its own, with its own identity. */
  second.profile_dir = profile;
  g_assert_cmpint (run_app (&second, (const char *[]) { "--profile", profile, NULL }), ==, 0);
  g_assert_true (second.was_primary);

  /* A second plain `natter` hands over to the first and opens nothing. */
  g_assert_cmpint (run_app (&third, (const char *[]) { NULL }), ==, 0);
  g_assert_false (third.was_primary);
  g_assert_cmpuint (third.n_windows_added, ==, 0);

  /* Quit the first one the way a desktop shell would, through its actions. */
  reply = g_dbus_connection_call_sync (bus, NATTER_APP_ID, "/io/github/natter/Natter",
                                       "org.gtk.Actions", "Activate",
                                       g_variant_new ("(s@av@a{sv})", "quit",
                                                      g_variant_new_array (G_VARIANT_TYPE_VARIANT, NULL, 0),
                                                      g_variant_new_array (G_VARIANT_TYPE ("{sv}"), NULL, 0)),
                                       NULL, G_DBUS_CALL_FLAGS_NONE, -1, NULL, &error);
  g_assert_no_error (error);
  g_subprocess_wait_check_async (first, NULL, on_subprocess_exited, &exited);
  if (!natter_test_wait_for (&exited, UI_TIMEOUT_MS))
    {
      g_subprocess_force_exit (first);
      g_assert_true (natter_test_wait_for (&exited, UI_TIMEOUT_MS));
    }

  g_clear_pointer (&side_by_side_other_peer_id, g_free);
  natter_test_rmtree (tmp);
}

int
main (int   argc,
      char *argv[])
{
  int status;

  g_test_init (&argc, &argv, NULL);
  natter_test_display_setup ();

  g_test_add_func ("/gui/window/empty-state-shares-peer-id", test_empty_state_shares_peer_id);
  g_test_add_func ("/gui/window/menu-windows", test_menu_windows);
  g_test_add_func ("/gui/window/preferences-password", test_preferences_password);
  g_test_add_func ("/gui/window/corrupt-profile-is-reported-and-kept", test_corrupt_profile_is_reported_and_kept);
  g_test_add_func ("/gui/application/command-line-options", test_command_line_options);
  g_test_add_func ("/gui/application/profiles-run-side-by-side", test_profiles_run_side_by_side);

  status = g_test_run ();
  natter_test_display_teardown ();

  return status;
}
