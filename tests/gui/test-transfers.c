/* test-transfers.c: file transfers in the conversation view under Xvfb: drop, attach, accept, decline, pause, resume. */
#define G_LOG_DOMAIN "natter-test"

#include <string.h>

#include <adwaita.h>
#include <gst/gst.h>

#include "natter-client.h"
#include "natter-conversation-view.h"
#include "natter-message-row.h"
#include "natter-timeline-model.h"
#include "natter-transfer-row.h"
#include "natter-transfer-private.h"

#include "natter-test-client.h"
#include "natter-test-display.h"
#include "natter-test-widgets.h"
#include "natter-test-peer.h"

#define CONNECT_TIMEOUT_MS  20000
#define TRANSFER_TIMEOUT_MS 30000
#define UI_TIMEOUT_MS       10000

#define SMALL_SIZE          (1024 * 1024 + 17)
#define OFFER_SIZE          (2 * 1024 * 1024 + 5)
#define LARGE_SIZE          (32 * 1024 * 1024)

typedef NatterTestEnv Fixture;

static gboolean
ensure_gtk (void)
{
  static gboolean done;

  if (!natter_test_display_require ())
    return FALSE;
  if (!done)
    {
      adw_init ();
      done = TRUE;
    }
  return TRUE;
}

/* ------------------------------------------------------------------------ */
/* Files                                                                     */
/* ------------------------------------------------------------------------ */

/* @size random bytes (seeded by @seed, so each file differs) at @path. */
static void
write_random_file (const char *path,
                   gsize       size,
                   guint32     seed)
{
  g_autoptr(GRand) rand = g_rand_new_with_seed (seed);
  g_autofree guint32 *data = g_new (guint32, size / 4 + 1);
  g_autoptr(GError) error = NULL;

  for (gsize i = 0; i < size / 4 + 1; i++)
    data[i] = g_rand_int (rand);
  g_assert_true (g_file_set_contents (path, (const char *) data, size, &error));
  g_assert_no_error (error);
}

static char *
file_sha256 (const char *path)
{
  g_autoptr(GChecksum) checksum = g_checksum_new (G_CHECKSUM_SHA256);
  g_autoptr(GFile) file = g_file_new_for_path (path);
  g_autoptr(GFileInputStream) in = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree guchar *buffer = g_malloc (1024 * 1024);
  gssize n;

  in = g_file_read (file, NULL, &error);
  g_assert_no_error (error);
  while ((n = g_input_stream_read (G_INPUT_STREAM (in), buffer, 1024 * 1024, NULL, &error)) > 0)
    g_checksum_update (checksum, buffer, n);
  g_assert_no_error (error);
  return g_strdup (g_checksum_get_string (checksum));
}

/* ------------------------------------------------------------------------ */
/* The view as a user sees it                                                */
/* ------------------------------------------------------------------------ */

static GListModel *
timeline_of (GtkWidget *view)
{
  GtkListView *list = GTK_LIST_VIEW (natter_test_find_widget (view, natter_test_is_of_type,
                                                              GSIZE_TO_POINTER (GTK_TYPE_LIST_VIEW)));

  g_assert_nonnull (list);
  return G_LIST_MODEL (gtk_list_view_get_model (list));
}

/* Position in the timeline of the message with @body, or of the transfer
 * of the file named @body; -1 if absent. */
static int
timeline_position (GtkWidget  *view,
                   const char *body)
{
  GListModel *model = timeline_of (view);

  for (guint i = g_list_model_get_n_items (model); i > 0; i--)
    {
      g_autoptr(GObject) item = g_list_model_get_item (model, i - 1);

      if (NATTER_IS_MESSAGE (item) &&
          g_strcmp0 (natter_message_get_body (NATTER_MESSAGE (item)), body) == 0)
        return (int) (i - 1);
      if (NATTER_IS_TRANSFER (item) &&
          g_strcmp0 (natter_transfer_get_file_name (NATTER_TRANSFER (item)), body) == 0)
        return (int) (i - 1);
    }
  return -1;
}

static gboolean
is_row_for_file (GtkWidget     *widget,
                 gconstpointer  name)
{
  NatterTransfer *transfer;

  if (!NATTER_IS_TRANSFER_ROW (widget))
    return FALSE;
  transfer = natter_transfer_row_get_transfer (NATTER_TRANSFER_ROW (widget));
  return transfer != NULL && g_strcmp0 (natter_transfer_get_file_name (transfer), name) == 0;
}

/* The row the timeline has bound for the file @name, if any. */
static GtkWidget *
row_for_file (GtkWidget  *view,
              const char *name)
{
  return natter_test_find_widget (view, is_row_for_file, name);
}

static NatterTransfer *
transfer_of (GtkWidget  *view,
             const char *name)
{
  GtkWidget *row = row_for_file (view, name);

  g_assert_nonnull (row);
  return natter_transfer_row_get_transfer (NATTER_TRANSFER_ROW (row));
}

static gboolean
row_is_on_screen (GtkWidget  *view,
                  const char *name)
{
  return natter_test_widget_is_on_screen (row_for_file (view, name));
}

/* What the row's state line says. */
static const char *
row_status (GtkWidget  *view,
            const char *name)
{
  GtkWidget *row = row_for_file (view, name);
  GtkWidget *label = row ? natter_test_find_widget (row, natter_test_has_css_class,
                                                    "transfer-status") : NULL;

  return label ? gtk_label_get_text (GTK_LABEL (label)) : NULL;
}

static gboolean
row_status_is (GtkWidget  *view,
               const char *name,
               const char *status)
{
  return g_strcmp0 (row_status (view, name), status) == 0;
}

/* Where the row's progress bar stands, -1 while it is hidden. */
static double
progress_of (GtkWidget  *view,
             const char *name)
{
  GtkWidget *row = row_for_file (view, name);
  GtkWidget *bar = row ? natter_test_find_widget (row, natter_test_is_of_type,
                                                  GSIZE_TO_POINTER (GTK_TYPE_PROGRESS_BAR)) : NULL;

  if (bar == NULL || !gtk_widget_get_visible (bar))
    return -1;
  return gtk_progress_bar_get_fraction (GTK_PROGRESS_BAR (bar));
}

/* The button for @action in the file's row, if the user can see and use it. */
static GtkWidget *
row_button (GtkWidget  *view,
            const char *name,
            const char *action)
{
  GtkWidget *row = row_for_file (view, name);
  GtkWidget *button = row ? natter_test_find_widget (row, natter_test_is_action_button, action)
                          : NULL;

  if (button == NULL || !gtk_widget_get_visible (button) || !gtk_widget_is_sensitive (button))
    return NULL;
  return button;
}

static void
click (GtkWidget  *view,
       const char *name,
       const char *action)
{
  GtkWidget *button = row_button (view, name, action);

  g_assert_nonnull (button);
  /* Every button says what it does to assistive technologies. */
  {
    GtkAccessibleRole role = gtk_accessible_get_accessible_role (GTK_ACCESSIBLE (button));

    g_assert_cmpint (role, ==, GTK_ACCESSIBLE_ROLE_BUTTON);
  }
  /* What a click ends in (gtk_widget_activate() would get there only after
   * its 250 ms press animation). */
  g_signal_emit_by_name (button, "clicked");
}

static gboolean
has_drop_target (GtkWidget     *widget,
                 gconstpointer  data)
{
  g_autoptr(GListModel) controllers = gtk_widget_observe_controllers (widget);

  for (guint i = 0; i < g_list_model_get_n_items (controllers); i++)
    {
      g_autoptr(GtkEventController) controller = g_list_model_get_item (controllers, i);

      if (GTK_IS_DROP_TARGET (controller))
        return TRUE;
    }
  return FALSE;
}

static GtkDropTarget *
drop_target_of (GtkWidget *view)
{
  GtkWidget *area = natter_test_find_widget (view, has_drop_target, NULL);
  g_autoptr(GListModel) controllers = NULL;

  g_assert_nonnull (area);
  controllers = gtk_widget_observe_controllers (area);
  for (guint i = 0; i < g_list_model_get_n_items (controllers); i++)
    {
      g_autoptr(GtkEventController) controller = g_list_model_get_item (controllers, i);

      if (GTK_IS_DROP_TARGET (controller))
        return GTK_DROP_TARGET (controller);
    }
  g_assert_not_reached ();
}

static gboolean
is_drop_hint (GtkWidget     *widget,
              gconstpointer  data)
{
  return GTK_IS_REVEALER (widget) &&
         natter_test_find_widget (widget, natter_test_has_css_class, "drop-hint") != NULL;
}

/* What a file manager's drag does when released over the conversation:
 * the drop target's "drop" with the files, after "enter". */
static void
drop_files (GtkWidget  *view,
            const char *path)
{
  GtkDropTarget *target = drop_target_of (view);
  GtkRevealer *hint = GTK_REVEALER (natter_test_find_widget (view, is_drop_hint, NULL));
  g_autoptr(GFile) file = g_file_new_for_path (path);
  GSList *files = g_slist_prepend (NULL, file);
  GValue value = G_VALUE_INIT;
  GdkDragAction action = 0;
  gboolean handled = FALSE;

  /* The drop target only accepts a file list, as copies. */
  {
    gsize n_types = 0;
    const GType *types = gtk_drop_target_get_gtypes (target, &n_types);

    g_assert_cmpuint (n_types, ==, 1);
    g_assert_true (types[0] == GDK_TYPE_FILE_LIST);
  }
  g_assert_cmpint (gtk_drop_target_get_actions (target), ==, GDK_ACTION_COPY);

  /* Hovering shows where the files go. */
  g_assert_nonnull (hint);
  g_signal_emit_by_name (target, "enter", 20.0, 20.0, &action);
  g_assert_cmpint (action, ==, GDK_ACTION_COPY);
  g_assert_true (gtk_revealer_get_reveal_child (hint));

  g_value_init (&value, GDK_TYPE_FILE_LIST);
  g_value_take_boxed (&value, gdk_file_list_new_from_list (files));
  g_slist_free (files);
  g_signal_emit_by_name (target, "drop", &value, 20.0, 20.0, &handled);
  g_value_unset (&value);
  g_assert_true (handled);
  g_assert_false (gtk_revealer_get_reveal_child (hint));
}

static gboolean
chooser_has_files (gpointer chooser)
{
  g_autoptr(GListModel) files = gtk_file_chooser_get_files (chooser);

  return g_list_model_get_n_items (files) == 1;
}

/* Attach button → pick @path in the chooser → Send. */
static void
attach_file (GtkWidget  *view,
             const char *path)
{
  GtkWidget *button = natter_test_find_widget (view, natter_test_is_action_button,
                                               "conversation.attach");
  g_autoptr(GFile) file = g_file_new_for_path (path);
  g_autoptr(GError) error = NULL;
  GtkWidget *dialog;

  g_assert_nonnull (button);
  g_assert_true (gtk_widget_is_sensitive (button));
  g_signal_emit_by_name (button, "clicked");
  dialog = natter_test_wait_for_toplevel (GTK_TYPE_FILE_CHOOSER_DIALOG, UI_TIMEOUT_MS);
  g_assert_true (gtk_window_get_modal (GTK_WINDOW (dialog)));
  g_assert_true (gtk_file_chooser_get_select_multiple (GTK_FILE_CHOOSER (dialog)));
  g_assert_true (gtk_file_chooser_set_file (GTK_FILE_CHOOSER (dialog), file, &error));
  g_assert_no_error (error);
  /* The chooser selects it once it has listed the folder. */
  g_assert_true (natter_test_wait_until (chooser_has_files, dialog, UI_TIMEOUT_MS));
  gtk_dialog_response (GTK_DIALOG (dialog), GTK_RESPONSE_ACCEPT);
  NATTER_TEST_WAIT_FOR (natter_test_find_toplevel (GTK_TYPE_FILE_CHOOSER_DIALOG, TRUE) == NULL,
                        UI_TIMEOUT_MS);
}

static GtkWindow *
show_view (GtkWidget *view)
{
  GtkWindow *window = GTK_WINDOW (gtk_window_new ());

  gtk_window_set_default_size (window, 640, 900);
  gtk_window_set_child (window, view);
  gtk_window_present (window);
  NATTER_TEST_WAIT_FOR (gtk_widget_get_mapped (view), UI_TIMEOUT_MS);
  return window;
}

static gboolean
session_connected (NatterClient *client,
                   const char   *peer_id)
{
  NatterPeerSession *session = natter_client_get_session (client, peer_id);

  return session != NULL && natter_peer_session_get_state (session) == NATTER_SESSION_CONNECTED;
}

static void
send_message (NatterClient *alice,
              const char   *peer,
              const char   *body)
{
  g_autoptr(NatterMessage) message = NULL;
  g_autoptr(GError) error = NULL;

  message = natter_client_send_message (alice, peer, body, NULL, &error);
  g_assert_no_error (error);
}

/* Bob's "transfer-done" for @name: the file he saved, checked against @sha256. */
static void
assert_bob_received (NatterTestPeer *bob,
                     guint           from,
                     const char     *bob_dir,
                     const char     *name,
                     const char     *sha256)
{
  g_autofree char *path = g_build_filename (bob_dir, name, NULL);
  g_autofree char *received = NULL;
  JsonObject *done;

  done = natter_test_peer_wait_event (bob, from, "transfer-done", "path", path,
                                      TRANSFER_TIMEOUT_MS);
  g_assert_nonnull (done);
  received = file_sha256 (path);
  g_assert_cmpstr (received, ==, sha256);
}

/* ------------------------------------------------------------------------ */
/* The test                                                                  */
/* ------------------------------------------------------------------------ */

static void
test_transfers (Fixture       *fixture,
                gconstpointer  data)
{
  g_autofree char *a_profile = g_build_filename (fixture->dir, "alice", NULL);
  g_autofree char *b_profile = g_build_filename (fixture->dir, "bob", NULL);
  g_autofree char *a_downloads = g_build_filename (fixture->dir, "alice-downloads", NULL);
  g_autofree char *b_downloads = g_build_filename (fixture->dir, "bob-downloads", NULL);
  g_autofree char *outbox = g_build_filename (fixture->dir, "outbox", NULL);
  g_autofree char *small = g_build_filename (outbox, "holiday photo.jpg", NULL);
  g_autofree char *offer = g_build_filename (outbox, "minutes.pdf", NULL);
  g_autofree char *unwanted = g_build_filename (outbox, "unwanted.bin", NULL);
  g_autofree char *large = g_build_filename (outbox, "video.mkv", NULL);
  g_autofree char *notes = g_build_filename (outbox, "notes.txt", NULL);
  g_autofree char *notes_sha = NULL;
  g_autofree char *small_sha = NULL;
  g_autofree char *offer_sha = NULL;
  g_autofree char *large_sha = NULL;
  g_autofree char *b_id = NULL;
  g_autoptr(NatterClient) alice = NULL;
  g_autoptr(NatterTestPeer) bob = NULL;
  g_autoptr(GError) error = NULL;
  const char *run_args[] = { "--accept-contacts", "--accept-files", NULL, NULL };
  const char *before = "Here comes the photo";
  const char *after = "Did it arrive?";
  NatterContact *contact;
  NatterTransfer *transfer;
  GtkWindow *window;
  GtkWidget *view;
  gint64 t0, t;
  guint from, n_before;

  if (!ensure_gtk ())
    return;

  g_assert_cmpint (g_mkdir_with_parents (a_downloads, 0700), ==, 0);
  g_assert_cmpint (g_mkdir_with_parents (b_downloads, 0700), ==, 0);
  g_assert_cmpint (g_mkdir_with_parents (outbox, 0700), ==, 0);
  write_random_file (small, SMALL_SIZE, 1);
  write_random_file (offer, OFFER_SIZE, 2);
  write_random_file (unwanted, 4096, 3);
  write_random_file (large, LARGE_SIZE, 4);
  write_random_file (notes, 1000, 5);
  notes_sha = file_sha256 (notes);
  small_sha = file_sha256 (small);
  offer_sha = file_sha256 (offer);
  large_sha = file_sha256 (large);

  /* Bob takes every contact and every file. */
  b_id = natter_test_cli_init (b_profile, "Bob");
  run_args[2] = b_downloads;
  bob = natter_test_peer_start (b_profile, natter_test_broker_get_url (fixture->broker), run_args);

  alice = natter_test_client_new (fixture->broker, a_profile, "Alice");
  natter_client_set_download_dir (alice, a_downloads);
  contact = natter_client_add_contact (alice, b_id, "Bob", &error);
  g_assert_no_error (error);
  t0 = g_get_monotonic_time ();
  NATTER_TEST_WAIT_FOR (natter_contact_get_state (contact) == NATTER_CONTACT_ACCEPTED &&
                        session_connected (alice, b_id), CONNECT_TIMEOUT_MS);
  g_test_message ("connected in %.1f s", (g_get_monotonic_time () - t0) / 1e6);

  view = natter_conversation_view_new (alice);
  natter_conversation_view_set_contact (NATTER_CONVERSATION_VIEW (view), contact);
  window = show_view (view);

  /* 1. A dropped file: a row after the messages, progress to done, and
   *    Bob's copy is the same bytes. */
  send_message (alice, b_id, before);
  NATTER_TEST_WAIT_FOR (timeline_position (view, before) >= 0, UI_TIMEOUT_MS);
  n_before = g_list_model_get_n_items (timeline_of (view));
  from = natter_test_peer_get_n_events (bob);
  t0 = g_get_monotonic_time ();
  drop_files (view, small);
  NATTER_TEST_WAIT_FOR (row_for_file (view, "holiday photo.jpg") != NULL, UI_TIMEOUT_MS);
  g_assert_cmpint (timeline_position (view, "holiday photo.jpg"), ==, n_before);
  g_assert_cmpint (timeline_position (view, "holiday photo.jpg"), ==,
                   timeline_position (view, before) + 1);
  NATTER_TEST_WAIT_FOR (row_is_on_screen (view, "holiday photo.jpg"), UI_TIMEOUT_MS);
  transfer = transfer_of (view, "holiday photo.jpg");
  g_assert_cmpint (natter_transfer_get_direction (transfer), ==, NATTER_TRANSFER_OUTGOING);
  /* Ours: nothing to accept, cancellable until done. */
  g_assert_null (row_button (view, "holiday photo.jpg", "transfer.accept"));
  NATTER_TEST_WAIT_FOR (row_status_is (view, "holiday photo.jpg", "Sent"), TRANSFER_TIMEOUT_MS);
  g_test_message ("1 MiB dropped to done in %.2f s", (g_get_monotonic_time () - t0) / 1e6);
  g_assert_cmpuint (natter_transfer_get_bytes_done (transfer), ==, SMALL_SIZE);
  g_assert_null (row_button (view, "holiday photo.jpg", "transfer.cancel"));
  g_assert_null (row_button (view, "holiday photo.jpg", "transfer.pause"));
  g_assert_nonnull (row_button (view, "holiday photo.jpg", "transfer.open"));
  g_assert_nonnull (row_button (view, "holiday photo.jpg", "transfer.show-in-folder"));
  assert_bob_received (bob, from, b_downloads, "holiday photo.jpg", small_sha);

  /* A message written after the file sorts after its row: the row stays
   *    between the two messages. */
  send_message (alice, b_id, after);
  NATTER_TEST_WAIT_FOR (timeline_position (view, after) >= 0, UI_TIMEOUT_MS);
  g_assert_cmpint (timeline_position (view, before), <, timeline_position (view, "holiday photo.jpg"));
  g_assert_cmpint (timeline_position (view, "holiday photo.jpg") + 1, ==,
                   timeline_position (view, after));
  {
    /* The timeline model agrees with the message list: the message after
     * the transfer is found one further down. */
    GListModel *model = G_LIST_MODEL (gtk_single_selection_get_model (GTK_SINGLE_SELECTION (timeline_of (view))));
    NatterTimelineModel *timeline = NATTER_TIMELINE_MODEL (model);
    guint n_messages = g_list_model_get_n_items (natter_timeline_model_get_messages (timeline));

    g_assert_cmpuint (natter_timeline_model_get_n_transfers (timeline), ==, 1);
    g_assert_cmpuint (natter_timeline_model_position_of_message (timeline, n_messages - 1), ==,
                      (guint) timeline_position (view, after));
    g_assert_cmpuint (natter_timeline_model_position_of_transfer (timeline, transfer), ==,
                      (guint) timeline_position (view, "holiday photo.jpg"));
  }

  /* The Attach button's chooser (GTK's own dialog here: no portal on the
   * test bus) sends what the user picks, the same way. */
  from = natter_test_peer_get_n_events (bob);
  attach_file (view, notes);
  NATTER_TEST_WAIT_FOR (row_for_file (view, "notes.txt") != NULL, UI_TIMEOUT_MS);
  g_assert_cmpint (timeline_position (view, "notes.txt"), ==,
                   (int) g_list_model_get_n_items (timeline_of (view)) - 1);
  NATTER_TEST_WAIT_FOR (row_status_is (view, "notes.txt", "Sent"), TRANSFER_TIMEOUT_MS);
  assert_bob_received (bob, from, b_downloads, "notes.txt", notes_sha);

  /* 2. Bob offers a file: a row with Accept and Decline; Accept saves it
   *    in Alice's download folder, verified. */
  natter_test_peer_command (bob, "{\"cmd\":\"send-file\",\"to\":\"%s\",\"path\":\"%s\"}",
                            natter_client_get_peer_id (alice), offer);
  NATTER_TEST_WAIT_FOR (row_button (view, "minutes.pdf", "transfer.accept") != NULL,
                        TRANSFER_TIMEOUT_MS);
  g_assert_true (row_status_is (view, "minutes.pdf", "Offered to you"));
  g_assert_nonnull (row_button (view, "minutes.pdf", "transfer.decline"));
  g_assert_null (row_button (view, "minutes.pdf", "transfer.open"));
  g_assert_cmpint (timeline_position (view, "minutes.pdf"), ==,
                   (int) g_list_model_get_n_items (timeline_of (view)) - 1);
  NATTER_TEST_WAIT_FOR (row_is_on_screen (view, "minutes.pdf"), UI_TIMEOUT_MS);
  t0 = g_get_monotonic_time ();
  click (view, "minutes.pdf", "transfer.accept");
  g_assert_null (row_button (view, "minutes.pdf", "transfer.accept"));
  NATTER_TEST_WAIT_FOR (row_status_is (view, "minutes.pdf", "Received"), TRANSFER_TIMEOUT_MS);
  g_test_message ("2 MiB accepted to done in %.2f s", (g_get_monotonic_time () - t0) / 1e6);
  {
    g_autofree char *saved = g_build_filename (a_downloads, "minutes.pdf", NULL);
    g_autofree char *saved_sha = NULL;

    transfer = transfer_of (view, "minutes.pdf");
    g_assert_cmpstr (natter_transfer_get_path (transfer), ==, saved);
    saved_sha = file_sha256 (saved);
    g_assert_cmpstr (saved_sha, ==, offer_sha);
    g_assert_nonnull (row_button (view, "minutes.pdf", "transfer.open"));
    g_assert_nonnull (row_button (view, "minutes.pdf", "transfer.show-in-folder"));
  }

  /* 3. Declined: said on both sides, nothing saved. */
  from = natter_test_peer_get_n_events (bob);
  natter_test_peer_command (bob, "{\"cmd\":\"send-file\",\"to\":\"%s\",\"path\":\"%s\"}",
                            natter_client_get_peer_id (alice), unwanted);
  NATTER_TEST_WAIT_FOR (row_button (view, "unwanted.bin", "transfer.decline") != NULL,
                        TRANSFER_TIMEOUT_MS);
  NATTER_TEST_WAIT_FOR (row_is_on_screen (view, "unwanted.bin"), UI_TIMEOUT_MS);
  click (view, "unwanted.bin", "transfer.decline");
  g_assert_true (row_status_is (view, "unwanted.bin", "Declined"));
  g_assert_null (row_button (view, "unwanted.bin", "transfer.accept"));
  g_assert_null (row_button (view, "unwanted.bin", "transfer.cancel"));
  g_assert_nonnull (natter_test_peer_wait_event (bob, from, "transfer-state", "state", "declined",
                                                 TRANSFER_TIMEOUT_MS));
  {
    g_autofree char *not_saved = g_build_filename (a_downloads, "unwanted.bin", NULL);

    g_assert_false (g_file_test (not_saved, G_FILE_TEST_EXISTS));
  }

  /* 4. Pause and resume a 32 MiB file: paused means nothing moves; resumed,
   *    it completes and verifies. */
  from = natter_test_peer_get_n_events (bob);
  t0 = g_get_monotonic_time ();
  drop_files (view, large);
  /* Once bytes flow, the row shows progress with the rate. */
  NATTER_TEST_WAIT_FOR (row_button (view, "video.mkv", "transfer.pause") != NULL &&
                        natter_transfer_get_bytes_done (transfer_of (view, "video.mkv")) > 0,
                        TRANSFER_TIMEOUT_MS);
  transfer = transfer_of (view, "video.mkv");
  g_assert_cmpint (natter_transfer_get_state (transfer), ==, NATTER_TRANSFER_ACTIVE);
  g_assert_nonnull (strstr (row_status (view, "video.mkv"), "/s"));
  g_assert_cmpfloat (progress_of (view, "video.mkv"), >, 0);
  click (view, "video.mkv", "transfer.pause");
  g_assert_cmpint (natter_transfer_get_state (transfer), ==, NATTER_TRANSFER_PAUSED);
  g_assert_true (g_str_has_prefix (row_status (view, "video.mkv"), "Paused"));
  g_assert_null (row_button (view, "video.mkv", "transfer.pause"));
  g_assert_nonnull (row_button (view, "video.mkv", "transfer.cancel"));
  g_assert_nonnull (natter_test_peer_wait_event (bob, from, "transfer-state", "state", "paused",
                                                 TRANSFER_TIMEOUT_MS));
  {
    guint64 paused_at;

    natter_test_spin (300);
    paused_at = natter_transfer_get_bytes_done (transfer);
    natter_test_spin (700);
    g_assert_cmpuint (natter_transfer_get_bytes_done (transfer), ==, paused_at);
    g_assert_cmpuint (paused_at, >, 0);
    g_assert_cmpuint (paused_at, <, LARGE_SIZE);
    g_assert_cmpfloat (progress_of (view, "video.mkv"), ==, (double) paused_at / LARGE_SIZE);
    g_assert_cmpint (natter_transfer_get_state (transfer), ==, NATTER_TRANSFER_PAUSED);
    g_test_message ("paused at %" G_GUINT64_FORMAT " of %u bytes", paused_at, LARGE_SIZE);
  }
  t = g_get_monotonic_time ();
  click (view, "video.mkv", "transfer.resume");
  g_assert_cmpint (natter_transfer_get_state (transfer), !=, NATTER_TRANSFER_PAUSED);
  g_assert_null (row_button (view, "video.mkv", "transfer.resume"));
  NATTER_TEST_WAIT_FOR (row_status_is (view, "video.mkv", "Sent"), TRANSFER_TIMEOUT_MS);
  g_test_message ("32 MiB: resume to done in %.2f s (%.2f s from the drop)",
                  (g_get_monotonic_time () - t) / 1e6, (g_get_monotonic_time () - t0) / 1e6);
  assert_bob_received (bob, from, b_downloads, "video.mkv", large_sha);

  /* Everything in order: messages, then the other transfers as offered. */
  g_assert_cmpint (timeline_position (view, after), <, timeline_position (view, "notes.txt"));
  g_assert_cmpint (timeline_position (view, "notes.txt"), <, timeline_position (view, "minutes.pdf"));
  g_assert_cmpint (timeline_position (view, "minutes.pdf"), <,
                   timeline_position (view, "unwanted.bin"));
  g_assert_cmpint (timeline_position (view, "unwanted.bin"), <,
                   timeline_position (view, "video.mkv"));
  g_assert_cmpuint (g_list_model_get_n_items (timeline_of (view)), ==, 2 + 5);

  g_assert_cmpint (natter_test_peer_stop (bob, 10000), ==, 0);
  g_assert_cmpuint (natter_test_peer_get_n_stray_lines (bob), ==, 0);
  gtk_window_destroy (window);
  natter_client_stop (alice);
}

/* ------------------------------------------------------------------------ */
/* The timeline model against a brute-force merge                           */
/* ------------------------------------------------------------------------ */

#define MODEL_CONV  "conv-a"
#define MODEL_STEPS 600

typedef struct
{
  GListStore *messages;
  GListStore *transfers;
  GPtrArray  *shadow;   /* what a view knows from items-changed alone */
  guint       next_id;
} ModelRig;

static void
shadow_changed_cb (GListModel *model,
                   guint       position,
                   guint       removed,
                   guint       added,
                   ModelRig   *rig)
{
  g_assert_cmpuint (position + removed, <=, rig->shadow->len);
  g_ptr_array_remove_range (rig->shadow, position, removed);
  for (guint i = 0; i < added; i++)
    g_ptr_array_insert (rig->shadow, position + i, g_list_model_get_item (model, position + i));
}

/* Messages in order; each of our transfers, by (created-at, id), after
 * every message written at or before its offer. */
static GPtrArray *
expected_timeline (ModelRig *rig)
{
  GPtrArray *out = g_ptr_array_new_with_free_func (g_object_unref);
  g_autoptr(GPtrArray) ours = g_ptr_array_new_with_free_func (g_object_unref);
  guint n_m = g_list_model_get_n_items (G_LIST_MODEL (rig->messages));
  guint m = 0, t = 0;

  for (guint i = 0; i < g_list_model_get_n_items (G_LIST_MODEL (rig->transfers)); i++)
    {
      NatterTransfer *transfer = g_list_model_get_item (G_LIST_MODEL (rig->transfers), i);

      if (g_str_equal (natter_transfer_get_conversation (transfer), MODEL_CONV))
        g_ptr_array_add (ours, transfer);
      else
        g_object_unref (transfer);
    }
  for (guint i = 1; i < ours->len; i++)
    for (guint j = i; j > 0; j--)
      {
        NatterTransfer *a = ours->pdata[j - 1], *b = ours->pdata[j];

        if (a->created_at < b->created_at ||
            (a->created_at == b->created_at && strcmp (a->id, b->id) < 0))
          break;
        ours->pdata[j - 1] = b;
        ours->pdata[j] = a;
      }

  while (m < n_m || t < ours->len)
    {
      g_autoptr(NatterMessage) message = m < n_m ? g_list_model_get_item (G_LIST_MODEL (rig->messages), m)
                                                 : NULL;

      if (message != NULL &&
          (t == ours->len ||
           natter_message_get_hlc_l (message) <= ((NatterTransfer *) ours->pdata[t])->created_at))
        {
          g_ptr_array_add (out, g_steal_pointer (&message));
          m++;
        }
      else
        g_ptr_array_add (out, g_object_ref (ours->pdata[t++]));
    }
  return out;
}

static void
add_model_message (ModelRig *rig,
                   gint64    time)
{
  g_autofree char *id = g_strdup_printf ("m%u", rig->next_id++);
  g_autoptr(NatterMessage) message = natter_message_new (id, MODEL_CONV, "author", 1, time, 0,
                                                         "body", NULL, NATTER_MESSAGE_SENT,
                                                         FALSE, time / 1000);
  guint n = g_list_model_get_n_items (G_LIST_MODEL (rig->messages));
  guint at = n;

  /* Display order: after every message of the same time or earlier. */
  while (at > 0)
    {
      g_autoptr(NatterMessage) before = g_list_model_get_item (G_LIST_MODEL (rig->messages), at - 1);

      if (natter_message_get_hlc_l (before) <= time)
        break;
      at--;
    }
  g_list_store_insert (rig->messages, at, message);
}

static void
add_model_transfer (ModelRig   *rig,
                    gint64      time,
                    const char *conversation)
{
  g_autoptr(NatterTransfer) transfer = _natter_transfer_new ();

  transfer->id = g_strdup_printf ("t%u", rig->next_id++);
  transfer->conversation = g_strdup (conversation);
  transfer->created_at = time;
  g_list_store_append (rig->transfers, transfer);
}

static void
test_timeline_model (void)
{
  ModelRig rig = { g_list_store_new (NATTER_TYPE_MESSAGE), g_list_store_new (NATTER_TYPE_TRANSFER),
                   g_ptr_array_new_with_free_func (g_object_unref), 0 };
  g_autoptr(GRand) rand = g_rand_new_with_seed (7);
  g_autoptr(NatterTimelineModel) model = NULL;

  /* Some history before the view opens. */
  for (guint i = 0; i < 20; i++)
    add_model_message (&rig, g_rand_int_range (rand, 0, 100) * 10);
  add_model_transfer (&rig, 500, MODEL_CONV);
  add_model_transfer (&rig, 500, "conv-b");

  model = natter_timeline_model_new (G_LIST_MODEL (rig.messages), G_LIST_MODEL (rig.transfers),
                                     MODEL_CONV);
  for (guint i = 0; i < g_list_model_get_n_items (G_LIST_MODEL (model)); i++)
    g_ptr_array_add (rig.shadow, g_list_model_get_item (G_LIST_MODEL (model), i));
  g_signal_connect (model, "items-changed", G_CALLBACK (shadow_changed_cb), &rig);

  for (guint step = 0; step < MODEL_STEPS; step++)
    {
      g_autoptr(GPtrArray) expected = NULL;
      /* Coarse times: ties between messages and transfers are common. */
      gint64 time = g_rand_int_range (rand, 0, 120) * 10;
      guint n_m = g_list_model_get_n_items (G_LIST_MODEL (rig.messages));
      guint n_t = g_list_model_get_n_items (G_LIST_MODEL (rig.transfers));
      int op = g_rand_int_range (rand, 0, 100);

      if (op < 55)
        add_model_message (&rig, time);
      else if (op < 75)
        add_model_transfer (&rig, time, g_rand_boolean (rand) ? MODEL_CONV : "conv-b");
      else if (op < 90 && n_m > 0)
        {
          /* Several at once, as a store reload would. */
          guint at = g_rand_int_range (rand, 0, n_m);
          guint count = g_rand_int_range (rand, 1, 4);

          count = MIN (n_m - at, count);

          g_list_store_splice (rig.messages, at, count, NULL, 0);
        }
      else if (n_t > 0)
        g_list_store_remove (rig.transfers, g_rand_int_range (rand, 0, n_t));

      expected = expected_timeline (&rig);
      g_assert_cmpuint (g_list_model_get_n_items (G_LIST_MODEL (model)), ==, expected->len);
      g_assert_cmpuint (rig.shadow->len, ==, expected->len);
      for (guint i = 0; i < expected->len; i++)
        {
          g_autoptr(GObject) item = g_list_model_get_item (G_LIST_MODEL (model), i);

          g_assert_true (item == expected->pdata[i]);
          g_assert_true (rig.shadow->pdata[i] == expected->pdata[i]);
        }
      for (guint i = 0, m = 0; i < expected->len; i++)
        if (NATTER_IS_MESSAGE (expected->pdata[i]))
          g_assert_cmpuint (natter_timeline_model_position_of_message (model, m++), ==, i);
        else
          g_assert_cmpuint (natter_timeline_model_position_of_transfer (model, expected->pdata[i]),
                            ==, i);
    }
  g_test_message ("%u steps; %u messages and %u transfers shown at the end", MODEL_STEPS,
                  g_list_model_get_n_items (G_LIST_MODEL (rig.messages)),
                  natter_timeline_model_get_n_transfers (model));

  g_signal_handlers_disconnect_by_data (model, &rig);
  g_ptr_array_unref (rig.shadow);
  g_object_unref (rig.messages);
  g_object_unref (rig.transfers);
}

int
main (int   argc,
      char *argv[])
{
  int status;

  g_test_init (&argc, &argv, NULL);
  gst_init (NULL, NULL);
  natter_test_display_setup ();

  g_test_add_func ("/gui/transfers/timeline-model", test_timeline_model);
  g_test_add ("/gui/transfers/send-accept-decline-pause", Fixture, NULL, natter_test_env_setup,
              test_transfers, natter_test_env_teardown);

  status = g_test_run ();
  natter_test_display_teardown ();
  return status;
}
