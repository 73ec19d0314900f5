/* test-contacts.c: contacts in the real window under Xvfb, against a real mosquitto and a natter-cli peer. */
#define G_LOG_DOMAIN "natter-test"

#include <string.h>

#include "natter-add-contact-dialog.h"
#include "natter-application.h"
#include "natter-client.h"
#include "natter-contact-details.h"
#include "natter-contact-row.h"
#include "natter-conversation-view.h"
#include "natter-window.h"

#include "natter-test-broker.h"
#include "natter-test-display.h"
#include "natter-test-widgets.h"
#include "natter-test-peer.h"

#define UI_TIMEOUT_MS      15000
/* Presence, then a WebRTC session over loopback, on a loaded CI machine. */
#define CONNECT_TIMEOUT_MS 30000

typedef struct
{
  NatterTestEnv       env;
  char               *app_profile;
  char               *peer_profile;
  NatterTestPeer     *peer;
  NatterApplication  *app;
  NatterTestAppCheck  check;
} Fixture;

/* ---- widget lookup: what a user can see right now ---- */

static gboolean
is_entry_row_titled (GtkWidget     *widget,
                     gconstpointer  title)
{
  return ADW_IS_ENTRY_ROW (widget) &&
         g_strcmp0 (adw_preferences_row_get_title (ADW_PREFERENCES_ROW (widget)), title) == 0;
}

static gboolean
is_row_for_peer (GtkWidget     *widget,
                 gconstpointer  peer_id)
{
  return NATTER_IS_CONTACT_ROW (widget) &&
         g_strcmp0 (natter_contact_get_peer_id (natter_contact_row_get_contact (NATTER_CONTACT_ROW (widget))),
                    peer_id) == 0;
}

static GtkWidget *
main_window (Fixture *f)
{
  GtkWindow *window = gtk_application_get_active_window (GTK_APPLICATION (f->app));

  g_assert_true (NATTER_IS_WINDOW (window));
  return GTK_WIDGET (window);
}

static const char *
app_peer_id (Fixture *f)
{
  return natter_client_get_peer_id (natter_application_get_client (f->app));
}

/* The sidebar row of @peer_id and the texts it shows. */
typedef struct
{
  Fixture    *f;
  const char *peer_id;
  const char *status;      /* the session indicator, e.g. "Direct" */
  gboolean    online;      /* the presence dot */
} RowWait;

static GtkWidget *
find_row (Fixture    *f,
          const char *peer_id)
{
  return natter_test_find_mapped (main_window (f), is_row_for_peer, peer_id);
}

static gboolean
row_shows (gpointer data)
{
  RowWait *wait = data;
  GtkWidget *row = find_row (wait->f, wait->peer_id);
  GtkWidget *dot;

  if (row == NULL)
    return FALSE;
  dot = natter_test_find_mapped (row, natter_test_has_css_class, "presence-dot");
  return natter_test_find_mapped (row, natter_test_is_label, wait->status) != NULL &&
         gtk_widget_has_css_class (dot, wait->online ? "online" : "offline");
}

static void
assert_row_shows (Fixture    *f,
                  const char *peer_id,
                  const char *status,
                  gboolean    online)
{
  RowWait wait = { f, peer_id, status, online };

  if (!natter_test_wait_until (row_shows, &wait, CONNECT_TIMEOUT_MS))
    {
      GtkWidget *row = find_row (f, peer_id);
      NatterContact *contact = row ? natter_contact_row_get_contact (NATTER_CONTACT_ROW (row)) : NULL;
      g_autofree char *shown = contact ? natter_contact_row_dup_status_text (contact) : NULL;

      g_error ("The row of %.8s… shows “%s”, online %d; expected “%s”, online %d",
               peer_id, shown, contact ? natter_contact_get_online (contact) : -1, status, online);
    }
}

/* Waits for a "presence" event of the peer saying @peer_id is online. */
static gboolean
peer_sees_online (gpointer data)
{
  Fixture *f = data;
  guint n = natter_test_peer_get_n_events (f->peer);

  for (guint i = 0; i < n; i++)
    {
      JsonObject *event = natter_test_peer_get_event (f->peer, i);

      if (g_strcmp0 (json_object_get_string_member_with_default (event, "event", ""), "presence") == 0 &&
          g_strcmp0 (json_object_get_string_member_with_default (event, "peer", ""), app_peer_id (f)) == 0 &&
          json_object_get_boolean_member_with_default (event, "online", FALSE))
        return TRUE;
    }
  return FALSE;
}

/* Runs the real application on the test broker, restricted to loopback,
 * calls f->check from its main loop, then quits it. */
static void
run_app (Fixture *f)
{
  const char *args[] = {
    "--profile", f->app_profile, "--broker", natter_test_broker_get_url (f->env.broker),
    "--ice-address", "127.0.0.1", NULL
  };

  f->app = natter_application_new ();
  g_assert_cmpint (natter_test_app_run ((GApplication **) &f->app, args, f->check, f), ==, 0);
}

static void
spawn_peer (Fixture            *f,
            const char * const *args)
{
  f->peer = natter_test_peer_start (f->peer_profile, natter_test_broker_get_url (f->env.broker),
                                    args);
}

static gboolean
fixture_setup (Fixture *f)
{
  if (!natter_test_display_require ())
    return FALSE;

  natter_test_env_setup (&f->env, NULL);
  f->app_profile = g_build_filename (f->env.dir, "app", NULL);
  f->peer_profile = g_build_filename (f->env.dir, "peer", NULL);
  return TRUE;
}

static void
fixture_teardown (Fixture *f)
{
  if (f->peer != NULL)
    {
      g_assert_cmpuint (natter_test_peer_get_n_stray_lines (f->peer), ==, 0);
      natter_test_peer_stop (f->peer, 5000);
      g_clear_pointer (&f->peer, natter_test_peer_free);
    }
  natter_test_env_teardown (&f->env, NULL);
  g_free (f->app_profile);
  g_free (f->peer_profile);
}

/* ---- steps shared by the tests ---- */

/* What the user sees: the button of an action is insensitive while it is disabled. */
static gboolean
action_enabled (GtkWidget  *widget,
                const char *action)
{
  GtkWidget *button = natter_test_find_mapped (widget, natter_test_is_action_button, action);

  g_assert_nonnull (button);
  return gtk_widget_is_sensitive (button);
}

/* Adds the peer through the dialog the way a user does: paste, name, Add. */
static void
add_peer_through_dialog (Fixture    *f,
                         const char *name)
{
  const char *peer_id = natter_test_peer_get_peer_id (f->peer);
  g_autofree char *pasted = NULL;
  g_autofree char *upper = NULL;
  GtkWidget *dialog, *id_row, *name_row;

  g_assert_true (gtk_widget_activate_action (main_window (f), "win.add-contact", NULL));
  dialog = natter_test_wait_for_toplevel (NATTER_TYPE_ADD_CONTACT_DIALOG, UI_TIMEOUT_MS);
  id_row = natter_test_find_mapped (dialog, is_entry_row_titled, "Peer ID");
  name_row = natter_test_find_mapped (dialog, is_entry_row_titled, "Name (optional)");
  g_assert_nonnull (id_row);
  g_assert_nonnull (name_row);
  g_assert_false (action_enabled (dialog, "add-contact.add"));

  /* Checked as it is typed: a prefix is fine, a wrong character is not. */
  gtk_editable_set_text (GTK_EDITABLE (id_row), "abc");
  g_assert_false (gtk_widget_has_css_class (id_row, "error"));
  g_assert_false (action_enabled (dialog, "add-contact.add"));
  gtk_editable_set_text (GTK_EDITABLE (id_row), "abc1");
  g_assert_true (gtk_widget_has_css_class (id_row, "error"));
  g_assert_false (action_enabled (dialog, "add-contact.add"));
  gtk_editable_set_text (GTK_EDITABLE (id_row), app_peer_id (f));
  g_assert_true (gtk_widget_has_css_class (id_row, "error"));
  g_assert_false (action_enabled (dialog, "add-contact.add"));

  /* Pasted from a mail: wrapped, in capitals. */
  upper = g_ascii_strup (peer_id, -1);
  pasted = g_strdup_printf (" %.26s\n%s ", upper, upper + 26);
  gtk_editable_set_text (GTK_EDITABLE (id_row), pasted);
  g_assert_false (gtk_widget_has_css_class (id_row, "error"));
  g_assert_true (action_enabled (dialog, "add-contact.add"));
  gtk_editable_set_text (GTK_EDITABLE (name_row), name);

  g_assert_true (gtk_widget_activate_action (dialog, "add-contact.add", NULL));
  g_assert_null (natter_test_find_toplevel (NATTER_TYPE_ADD_CONTACT_DIALOG, TRUE));
}

/* ---- tests ---- */

static void
check_add_contact (gpointer data)
{
  Fixture *f = data;
  const char *peer_id = natter_test_peer_get_peer_id (f->peer);
  g_autofree char *expected_number = NULL;
  GtkWidget *window = main_window (f);
  GtkWidget *details, *row;
  NatterContact *contact;

  g_assert_true (natter_test_wait_until (natter_test_widget_is_mapped, window, UI_TIMEOUT_MS));
  add_peer_through_dialog (f, "Peer Bob");

  /* Listed at once, named, waiting; and the request reached the peer. */
  row = find_row (f, peer_id);
  g_assert_nonnull (row);
  g_assert_nonnull (natter_test_find_mapped (row, natter_test_is_label, "Peer Bob"));
  g_assert_nonnull (natter_test_peer_wait_event (f->peer, 0, "contact-request", "peer", app_peer_id (f),
                                                 CONNECT_TIMEOUT_MS));
  natter_test_peer_command (f->peer, "{\"cmd\":\"accept\",\"to\":\"%s\"}", app_peer_id (f));

  /* Both see each other online; the app has a direct session. */
  assert_row_shows (f, peer_id, "Direct", TRUE);
  g_assert_true (natter_test_wait_until (peer_sees_online, f, CONNECT_TIMEOUT_MS));

  /* The new contact's conversation is the one open. */
  contact = natter_contact_row_get_contact (NATTER_CONTACT_ROW (find_row (f, peer_id)));
  g_assert_true (natter_conversation_view_get_contact (
                   NATTER_CONVERSATION_VIEW (natter_window_get_conversation_view (NATTER_WINDOW (window)))) == contact);

  /* Details: the safety number both sides compute, and marking it verified. */
  g_assert_true (gtk_widget_activate_action (window, "win.show-contact-details", NULL));
  details = natter_test_wait_for_toplevel (NATTER_TYPE_CONTACT_DETAILS, UI_TIMEOUT_MS);
  g_assert_true (natter_contact_details_get_contact (NATTER_CONTACT_DETAILS (details)) == contact);
  expected_number = natter_client_dup_safety_number (natter_application_get_client (f->app), peer_id);
  g_assert_nonnull (natter_test_find_mapped (details, natter_test_is_label, expected_number));
  g_assert_false (natter_contact_get_verified (contact));
  g_assert_true (gtk_widget_activate_action (details, "details.toggle-verified", NULL));
  g_assert_true (natter_contact_get_verified (contact));
  gtk_window_destroy (GTK_WINDOW (details));
}

static void
test_add_contact_by_id (void)
{
  Fixture f = { .check = check_add_contact };

  if (!fixture_setup (&f))
    return;
  spawn_peer (&f, NULL);
  run_app (&f);
  fixture_teardown (&f);
}

static gboolean
banner_shown (gpointer data)
{
  Fixture *f = data;
  GtkWidget *banner = natter_test_find_mapped (main_window (f), natter_test_has_css_class,
                                               "connection-banner");

  return banner != NULL && gtk_revealer_get_child_revealed (GTK_REVEALER (gtk_widget_get_parent (banner)));
}

static gboolean
banner_hidden (gpointer data)
{
  return !banner_shown (data);
}

static gboolean
label_mentions_retry (gpointer data)
{
  const char *text = gtk_label_get_text (data);

  /* The reason from the signaling layer, then the countdown. */
  return g_str_has_prefix (text, "Cannot reach the server") && strstr (text, ". Trying again in ") != NULL;
}

static gboolean
is_composer (GtkWidget     *widget,
             gconstpointer  data)
{
  return GTK_IS_TEXT_VIEW (widget) && gtk_widget_has_css_class (widget, "composer-text");
}

static void
check_broker_restart (gpointer data)
{
  Fixture *f = data;
  /* Copied: the peer is restarted on the way. */
  g_autofree char *peer_id = g_strdup (natter_test_peer_get_peer_id (f->peer));
  GtkWidget *window = main_window (f);
  GtkWidget *banner, *label, *composer, *row;
  const char *body = "written while the server was away";

  g_assert_true (natter_test_wait_until (natter_test_widget_is_mapped, window, UI_TIMEOUT_MS));
  g_assert_true (banner_hidden (f));
  add_peer_through_dialog (f, "Peer Bob");
  assert_row_shows (f, peer_id, "Direct", TRUE);

  /* The peer goes away, then the server: nothing can carry a message now. */
  g_assert_cmpint (natter_test_peer_stop (f->peer, 5000), ==, 0);
  g_clear_pointer (&f->peer, natter_test_peer_free);
  natter_test_broker_stop (f->env.broker);

  g_assert_true (natter_test_wait_until (banner_shown, f, UI_TIMEOUT_MS));
  /* It says so, and when the next attempt is due. */
  banner = natter_test_find_mapped (window, natter_test_has_css_class, "connection-banner");
  label = gtk_widget_get_first_child (banner);
  g_assert_true (GTK_IS_LABEL (label));
  g_assert_true (natter_test_wait_until (label_mentions_retry, label, UI_TIMEOUT_MS));

  /* Written in the composer meanwhile: it waits. */
  row = find_row (f, peer_id);
  g_signal_emit_by_name (row, "activate");
  composer = natter_test_find_mapped (window, is_composer, NULL);
  g_assert_nonnull (composer);
  gtk_text_buffer_set_text (gtk_text_view_get_buffer (GTK_TEXT_VIEW (composer)), body, -1);
  g_assert_true (gtk_widget_activate_action (composer, "conversation.send", NULL));

  /* The server is back: the banner goes, and once the peer is back too the
   * message reaches it. */
  g_assert_true (natter_test_broker_start (f->env.broker, NULL));
  g_assert_true (natter_test_wait_until (banner_hidden, f, CONNECT_TIMEOUT_MS));
  spawn_peer (f, NULL);
  g_assert_nonnull (natter_test_peer_wait_event (f->peer, 0, "message", "text", body, CONNECT_TIMEOUT_MS));
  assert_row_shows (f, peer_id, "Direct", TRUE);
}

static void
test_broker_restart_banner (void)
{
  Fixture f = { .check = check_broker_restart };

  if (!fixture_setup (&f))
    return;
  spawn_peer (&f, (const char *[]) { "--accept-contacts", NULL });
  run_app (&f);
  fixture_teardown (&f);
}

static gboolean
accept_button_shown (gpointer data)
{
  Fixture *f = data;
  GtkWidget *row = find_row (f, natter_test_peer_get_peer_id (f->peer));

  return row != NULL &&
         natter_test_find_mapped (row, natter_test_is_action_button, "win.accept-contact") != NULL;
}

static void
check_incoming_request (gpointer data)
{
  Fixture *f = data;
  const char *peer_id = natter_test_peer_get_peer_id (f->peer);
  GtkWidget *window = main_window (f);
  GtkWidget *row, *accept;
  NatterContact *contact;

  g_assert_true (natter_test_wait_until (natter_test_widget_is_mapped, window, UI_TIMEOUT_MS));
  natter_test_peer_command (f->peer, "{\"cmd\":\"add\",\"to\":\"%s\"}", app_peer_id (f));

  /* A request row: with its buttons, not something to open. */
  g_assert_true (natter_test_wait_until (accept_button_shown, f, CONNECT_TIMEOUT_MS));
  row = find_row (f, peer_id);
  contact = natter_contact_row_get_contact (NATTER_CONTACT_ROW (row));
  g_assert_cmpint (natter_contact_get_state (contact), ==, NATTER_CONTACT_PENDING_IN);
  g_assert_false (gtk_list_box_row_get_selectable (GTK_LIST_BOX_ROW (row)));
  g_assert_nonnull (natter_test_find_mapped (row, natter_test_is_label,
                                             "Wants to be your contact"));
  g_assert_nonnull (natter_test_find_mapped (row, natter_test_is_action_button,
                                             "win.decline-contact"));

  accept = natter_test_find_mapped (row, natter_test_is_action_button, "win.accept-contact");
  g_signal_emit_by_name (accept, "clicked");

  g_assert_cmpint (natter_contact_get_state (contact), ==, NATTER_CONTACT_ACCEPTED);
  g_assert_nonnull (natter_test_peer_wait_event (f->peer, 0, "contact", "state", "accepted", CONNECT_TIMEOUT_MS));
  assert_row_shows (f, peer_id, "Direct", TRUE);
  /* Answered: the buttons are gone. */
  g_assert_null (natter_test_find_mapped (find_row (f, peer_id), natter_test_is_action_button,
                                          "win.accept-contact"));
}

static void
test_incoming_request_accepted (void)
{
  Fixture f = { .check = check_incoming_request };

  if (!fixture_setup (&f))
    return;
  spawn_peer (&f, NULL);
  run_app (&f);
  fixture_teardown (&f);
}

int
main (int   argc,
      char *argv[])
{
  int status;

  g_test_init (&argc, &argv, NULL);
  natter_test_display_setup ();

  g_test_add_func ("/gui/contacts/add-by-id", test_add_contact_by_id);
  g_test_add_func ("/gui/contacts/broker-restart-banner", test_broker_restart_banner);
  g_test_add_func ("/gui/contacts/incoming-request-accepted", test_incoming_request_accepted);

  status = g_test_run ();
  natter_test_display_teardown ();

  return status;
}
