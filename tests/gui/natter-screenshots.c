/* natter-screenshots.c: renders the real app (Alice) chatting with a natter-cli peer (Bob) over a loopback broker, under a private Xvfb, into PNGs. */
#define G_LOG_DOMAIN "natter-screenshots"

#include <errno.h>
#include <locale.h>
#include <stdlib.h>
#include <string.h>
#include <glib/gi18n.h>
#include <glib/gstdio.h>
#include <gdk/x11/gdkx.h>

#include "natter-add-contact-dialog.h"
#include "natter-application.h"
#include "natter-client.h"
#include "natter-contact-details.h"
#include "natter-contact-row.h"
#include "natter-identity.h"
#include "natter-message-row.h"
#include "natter-preferences-window.h"
#include "natter-store.h"
#include "natter-window.h"

#include "natter-test-broker.h"
#include "natter-test-display.h"
#include "natter-test-peer.h"
#include "natter-test-widgets.h"

#define WIDE_WIDTH      1000
#define WIDE_HEIGHT     700
#define NARROW_WIDTH    400
#define NARROW_HEIGHT   700
/* As tall as the private X screen (1280×800) allows: most of the details window. */
#define DETAILS_WIDTH   480
#define DETAILS_HEIGHT  780
#define UI_TIMEOUT_MS   15000
/* Presence, contact handshake and a WebRTC session over loopback. */
#define NET_TIMEOUT_MS  30000
/* Lets transitions (stack crossfades, revealers, leaflet) finish before a shot. */
#define SETTLE_MS       700

/* The conversation, fixed so every run shows the same words. Yesterday's
 * two messages give the timeline a day separator: each side writes its own
 * one into its own store back-dated, and the real reconciliation protocol
 * brings it to the other side once they connect. Today's travel live. */
static const char *yesterday_alice = "Are we still on for the climbing gym tomorrow?";
static const char *yesterday_bob = "Yes! Ten o’clock at the usual place.";
static const char *today_alice_1 = "Morning Bob! I’m running about ten minutes late, sorry.";
static const char *today_bob_1 = "No worries, I’ll get us a coffee.";
static const char *today_bob_2 = "The new route list is up at https://example.org/routes";
static const char *today_alice_2 = "Perfect, see you there. Bringing the spare rope.";

typedef struct
{
  char              *out_dir;
  char              *dir;
  char              *alice_profile;
  char              *bob_profile;
  char              *carol_profile;
  char              *alice_id;
  char              *bob_id;
  NatterTestBroker  *broker;
  NatterTestPeer    *bob;
  NatterTestPeer    *carol;    /* asks Alice to be a contact */
  NatterApplication *app;
  GError            *error;
  guint              n_written;
} Shots;

/* ---- failing: say what did not happen, then stop cleanly ---- */

static gboolean
fail (Shots      *s,
      const char *format,
      ...) G_GNUC_PRINTF (2, 3);

static gboolean
fail (Shots      *s,
      const char *format,
      ...)
{
  va_list args;

  va_start (args, format);
  if (s->error == NULL)
    s->error = g_error_new_valist (G_IO_ERROR, G_IO_ERROR_FAILED, format, args);
  va_end (args);
  return FALSE;
}

/* ---- finding widgets the way a user sees them ---- */

static gboolean
toplevel_is_mapped (gpointer data)
{
  return natter_test_find_toplevel (GPOINTER_TO_SIZE (data), TRUE) != NULL;
}

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

static gboolean
is_composer (GtkWidget     *widget,
             gconstpointer  data)
{
  return GTK_IS_TEXT_VIEW (widget) && gtk_widget_has_css_class (widget, "composer-text");
}

static gboolean
is_row_with_body (GtkWidget     *widget,
                  gconstpointer  body)
{
  NatterMessage *message;

  if (!NATTER_IS_MESSAGE_ROW (widget))
    return FALSE;
  message = natter_message_row_get_message (NATTER_MESSAGE_ROW (widget));
  return message != NULL && g_strcmp0 (natter_message_get_body (message), body) == 0;
}

static gboolean
is_state_icon (GtkWidget     *widget,
               gconstpointer  data)
{
  const char *name;

  if (!GTK_IS_IMAGE (widget) || !gtk_widget_get_visible (widget))
    return FALSE;
  name = gtk_image_get_icon_name (GTK_IMAGE (widget));
  return name != NULL && g_str_has_prefix (name, "natter-message-") &&
         !g_str_equal (name, "natter-message-late-symbolic");
}

static NatterWindow *
main_window (Shots *s)
{
  GtkWindow *window = gtk_application_get_active_window (GTK_APPLICATION (s->app));

  return NATTER_IS_WINDOW (window) ? NATTER_WINDOW (window) : NULL;
}

/* ---- waiting for what the user would see ---- */

typedef struct
{
  Shots      *s;
  const char *body;
  const char *state;   /* the delivery icon's tooltip, or NULL for "shown at all" */
} RowWait;

static gboolean
row_shows (gpointer data)
{
  RowWait *wait = data;
  GtkWidget *row = natter_test_find_mapped (GTK_WIDGET (main_window (wait->s)), is_row_with_body, wait->body);
  GtkWidget *icon;

  if (row == NULL)
    return FALSE;
  if (wait->state == NULL)
    return TRUE;
  icon = natter_test_find_mapped (row, is_state_icon, NULL);
  return icon != NULL && g_strcmp0 (gtk_widget_get_tooltip_text (icon), wait->state) == 0;
}

static gboolean
wait_for_row (Shots      *s,
              const char *body,
              const char *state)
{
  RowWait wait = { s, body, state };

  if (!natter_test_wait_until (row_shows, &wait, NET_TIMEOUT_MS))
    return fail (s, "the message “%s” did not show%s%s", body,
                 state != NULL ? " as " : "", state != NULL ? state : "");
  return TRUE;
}

static gboolean
contact_row_direct (gpointer data)
{
  Shots *s = data;
  GtkWidget *row = natter_test_find_mapped (GTK_WIDGET (main_window (s)), is_row_for_peer, s->bob_id);

  return row != NULL && natter_test_find_mapped (row, natter_test_is_label, "Direct") != NULL;
}

static gboolean
request_row_shown (gpointer data)
{
  Shots *s = data;
  GtkWidget *row = natter_test_find_mapped (GTK_WIDGET (main_window (s)), is_row_for_peer,
                                natter_test_peer_get_peer_id (s->carol));

  return row != NULL && natter_test_find_mapped (row, natter_test_is_action_button, "win.accept-contact") != NULL;
}

typedef struct
{
  GtkWidget *window;
  int        width;
  int        height;
} SizeWait;

static gboolean
window_is_size (gpointer data)
{
  SizeWait *wait = data;

  return gtk_widget_get_width (wait->window) == wait->width &&
         gtk_widget_get_height (wait->window) == wait->height;
}

static gboolean
window_is_active (gpointer data)
{
  return gtk_window_is_active (data);
}

/* There is no window manager to give the window on top the keyboard focus,
 * and an unfocused window is drawn in its grey "backdrop" state. Once it is
 * mapped, presenting it again makes GTK set the X input focus itself. */
static void
focus_window (GtkWindow *window)
{
  gtk_window_present (window);
  if (!natter_test_wait_until (window_is_active, window, 2000))
    g_printerr ("%s did not get the focus; it may look inactive\n", G_OBJECT_TYPE_NAME (window));
}

/* Makes the window's content @width × @height. The default size is that of
 * the X window, which also holds the invisible resize borders around it. */
static gboolean
resize_window (Shots     *s,
               GtkWindow *window,
               int        width,
               int        height)
{
  GdkSurface *surface = gtk_native_get_surface (GTK_NATIVE (window));
  int extra_width, extra_height;
  SizeWait wait = { GTK_WIDGET (window), width, height };

  /* Not before the first frame: until then the sizes are not known. */
  natter_test_spin (SETTLE_MS);
  extra_width = gdk_surface_get_width (surface) - gtk_widget_get_width (GTK_WIDGET (window));
  extra_height = gdk_surface_get_height (surface) - gtk_widget_get_height (GTK_WIDGET (window));
  gtk_window_set_default_size (window, width + extra_width, height + extra_height);
  if (!natter_test_wait_until (window_is_size, &wait, UI_TIMEOUT_MS))
    return fail (s, "the window did not become %d×%d (it is %d×%d)", width, height,
                 gtk_widget_get_width (GTK_WIDGET (window)),
                 gtk_widget_get_height (GTK_WIDGET (window)));
  natter_test_spin (SETTLE_MS);
  return TRUE;
}

/* ---- rendering ---- */

/* Xvfb starts with the pointer in the middle of the screen, where it
 * hovers (and highlights) whatever the window shows there. The bottom
 * right corner is outside every window this program shows. */
static void
park_pointer (void)
{
  GdkDisplay *display = gdk_display_get_default ();
  Display *xdisplay;
  Window root;

  if (!GDK_IS_X11_DISPLAY (display))
    return;
  xdisplay = gdk_x11_display_get_xdisplay (display);
  root = DefaultRootWindow (xdisplay);
  XWarpPointer (xdisplay, None, root, 0, 0, 0, 0,
                DisplayWidth (xdisplay, DefaultScreen (xdisplay)) - 1,
                DisplayHeight (xdisplay, DefaultScreen (xdisplay)) - 1);
  XFlush (xdisplay);
}

/* Renders @window with its own renderer, exactly as it is on screen, and
 * writes it to OUT_DIR/@name. No screen grab: nothing else on the X server
 * (or its lack of a compositor) can end up in the picture. */
static gboolean
save_window (Shots      *s,
             GtkWidget  *window,
             const char *name)
{
  g_autofree char *path = g_build_filename (s->out_dir, name, NULL);
  g_autoptr(GdkPaintable) paintable = NULL;
  g_autoptr(GskRenderNode) node = NULL;
  g_autoptr(GdkTexture) texture = NULL;
  GtkSnapshot *snapshot;
  GskRenderer *renderer;
  int width, height;

  if (window == NULL || !gtk_widget_get_mapped (window))
    return fail (s, "no window to render for %s", name);

  /* What is drawn next frame is what the user sees now. */
  park_pointer ();
  natter_test_spin (SETTLE_MS);
  width = gtk_widget_get_width (window);
  height = gtk_widget_get_height (window);
  paintable = gtk_widget_paintable_new (window);
  snapshot = gtk_snapshot_new ();
  gdk_paintable_snapshot (paintable, snapshot, width, height);
  node = gtk_snapshot_free_to_node (snapshot);
  renderer = gtk_native_get_renderer (GTK_NATIVE (window));
  if (node == NULL || renderer == NULL)
    return fail (s, "%s rendered nothing", name);
  texture = gsk_renderer_render_texture (renderer, node, &GRAPHENE_RECT_INIT (0, 0, width, height));
  if (!gdk_texture_save_to_png (texture, path))
    return fail (s, "cannot write %s", path);

  g_print ("%s (%d×%d)\n", path, width, height);
  s->n_written++;
  return TRUE;
}

/* ---- profiles ---- */

/* Back-dated to yesterday evening, so the timeline has a day separator. */
static gboolean
seed_message (NatterClient  *client,
              const char    *peer_id,
              const char    *body,
              int            hour,
              int            minute,
              GError       **error)
{
  g_autoptr(GDateTime) now = g_date_time_new_now_local ();
  g_autoptr(GDateTime) yesterday = g_date_time_add_days (now, -1);
  g_autoptr(GDateTime) when = NULL;
  g_autoptr(NatterMessage) message = NULL;
  g_autofree char *conversation = natter_client_conversation_for (client, peer_id);
  g_autofree char *id = NULL;
  const char *me = natter_client_get_peer_id (client);
  gint64 hlc_l;

  when = g_date_time_new_local (g_date_time_get_year (yesterday), g_date_time_get_month (yesterday),
                                g_date_time_get_day_of_month (yesterday), hour, minute, 0);
  hlc_l = g_date_time_to_unix (when) * 1000;
  id = natter_message_compute_id (me, 1, hlc_l, 0, body);
  /* Sent, not yet acknowledged: reconciliation delivers it on connect. */
  message = natter_message_new (id, conversation, me, 1, hlc_l, 0, body, NULL,
                                NATTER_MESSAGE_SENT, FALSE, hlc_l / 1000);
  return natter_store_add_message (natter_client_get_store (client), message, NULL, error);
}

/* A new profile named @name; returns its peer id. */
static char *
create_profile (Shots      *s,
                const char *profile,
                const char *name)
{
  g_autoptr(NatterClient) client = natter_client_new (profile, NATTER_CLIENT_NONE, &s->error);

  if (client == NULL || !natter_client_set_display_name (client, name, &s->error))
    return NULL;
  return g_strdup (natter_client_get_peer_id (client));
}

/* @profile asks @peer_id to be a contact and wrote @body to them yesterday.
 * Both asking is consent on both sides: they become contacts through the
 * broker as soon as both are online. */
static gboolean
befriend (Shots      *s,
          const char *profile,
          const char *peer_id,
          const char *peer_name,
          const char *body,
          int         hour,
          int         minute)
{
  g_autoptr(NatterClient) client = natter_client_new (profile, NATTER_CLIENT_NONE, &s->error);

  return client != NULL &&
         natter_client_add_contact (client, peer_id, peer_name, &s->error) != NULL &&
         seed_message (client, peer_id, body, hour, minute, &s->error);
}

static gboolean
create_profiles (Shots *s)
{
  g_autofree char *carol_id = NULL;

  s->alice_id = create_profile (s, s->alice_profile, "Alice");
  s->bob_id = s->alice_id != NULL ? create_profile (s, s->bob_profile, "Bob") : NULL;
  carol_id = s->bob_id != NULL ? create_profile (s, s->carol_profile, "Carol") : NULL;
  return carol_id != NULL &&
         befriend (s, s->alice_profile, s->bob_id, "Bob", yesterday_alice, 18, 40) &&
         befriend (s, s->bob_profile, s->alice_id, "Alice", yesterday_bob, 18, 52);
}

/* ---- the script, run from the app's main loop ---- */

static gboolean
send_from_composer (Shots      *s,
                    const char *text)
{
  GtkWidget *composer = natter_test_find_mapped (GTK_WIDGET (main_window (s)), is_composer, NULL);
  guint from = natter_test_peer_get_n_events (s->bob);

  if (composer == NULL)
    return fail (s, "no composer on screen");
  gtk_text_buffer_set_text (gtk_text_view_get_buffer (GTK_TEXT_VIEW (composer)), text, -1);
  if (!gtk_widget_activate_action (composer, "conversation.send", NULL))
    return fail (s, "the composer cannot send");
  if (natter_test_peer_wait_event (s->bob, from, "message", "text", text, NET_TIMEOUT_MS) == NULL)
    return fail (s, "Bob did not receive “%s”", text);
  return wait_for_row (s, text, "Delivered");
}

static gboolean
send_from_bob (Shots      *s,
               const char *text)
{
  natter_test_peer_command (s->bob, "{\"cmd\":\"send\",\"to\":\"%s\",\"text\":\"%s\"}",
                            s->alice_id, text);
  return wait_for_row (s, text, NULL);
}

static gboolean
transfer_offered (gpointer data)
{
  Shots *s = data;
  NatterClient *client = natter_window_get_client (main_window (s));
  GListModel *transfers = natter_client_get_transfers (client);

  for (guint i = 0; i < g_list_model_get_n_items (transfers); i++)
    {
      g_autoptr(NatterTransfer) transfer = g_list_model_get_item (transfers, i);

      if (natter_transfer_get_state (transfer) == NATTER_TRANSFER_OFFERED)
        return TRUE;
    }
  return FALSE;
}

/* Bob offers a real file: a transfer row with Accept and Decline. */
static gboolean
offer_from_bob (Shots *s)
{
  g_autofree char *path = g_build_filename (s->dir, "route-topo.pdf", NULL);
  g_autofree char *contents = g_strnfill (2400 * 1024, 'x');
  g_autoptr(GError) error = NULL;

  if (!g_file_set_contents (path, contents, -1, &error))
    return fail (s, "cannot write the file Bob sends: %s", error->message);
  natter_test_peer_command (s->bob, "{\"cmd\":\"send-file\",\"to\":\"%s\",\"path\":\"%s\"}",
                            s->alice_id, path);
  if (!natter_test_wait_until (transfer_offered, s, NET_TIMEOUT_MS))
    return fail (s, "Bob’s file offer did not arrive");
  /* Let the row lay out before anything is rendered. */
  natter_test_spin (200);
  return TRUE;
}

static gboolean
chat (Shots *s)
{
  GtkWidget *window = GTK_WIDGET (main_window (s));

  if (window == NULL || !natter_test_wait_until (toplevel_is_mapped, GSIZE_TO_POINTER (NATTER_TYPE_WINDOW),
                                                 UI_TIMEOUT_MS))
    return fail (s, "the main window did not appear");
  /* Open before anything arrives (what arrives elsewhere is notified),
   * then wait for contacts through the broker and a direct WebRTC session. */
  focus_window (GTK_WINDOW (window));
  if (!natter_window_select_contact (NATTER_WINDOW (window), s->bob_id))
    return fail (s, "cannot open the conversation with Bob");
  if (!resize_window (s, GTK_WINDOW (window), WIDE_WIDTH, WIDE_HEIGHT))
    return FALSE;
  if (!natter_test_wait_until (contact_row_direct, s, NET_TIMEOUT_MS))
    return fail (s, "Bob never showed as directly connected");

  /* Carol asks to be a contact: a request row with Accept and Decline. */
  natter_test_peer_command (s->carol, "{\"cmd\":\"add\",\"to\":\"%s\"}", s->alice_id);
  if (!natter_test_wait_until (request_row_shown, s, NET_TIMEOUT_MS))
    return fail (s, "Carol’s contact request did not show");

  /* Yesterday's messages, reconciled. */
  if (!wait_for_row (s, yesterday_bob, NULL) || !wait_for_row (s, yesterday_alice, "Delivered"))
    return FALSE;

  if (!send_from_composer (s, today_alice_1))
    return FALSE;
  /* Bob reads it: Alice's messages so far turn "Read". */
  natter_test_peer_command (s->bob, "{\"cmd\":\"read\",\"to\":\"%s\"}", s->alice_id);
  if (!wait_for_row (s, today_alice_1, "Read"))
    return FALSE;
  if (!send_from_bob (s, today_bob_1) || !send_from_bob (s, today_bob_2) ||
      !offer_from_bob (s))
    return FALSE;
  /* The last one stays "Delivered": Bob has not looked yet. */
  return send_from_composer (s, today_alice_2);
}

static gboolean
is_folded_on_conversation (gpointer data)
{
  Shots *s = data;

  return natter_window_is_showing_conversation (main_window (s), s->bob_id) &&
         gtk_widget_get_width (GTK_WIDGET (main_window (s))) == NARROW_WIDTH;
}

static gboolean
shoot_main (Shots *s)
{
  GtkWidget *window = GTK_WIDGET (main_window (s));
  AdwStyleManager *style = adw_style_manager_get_default ();

  gtk_widget_activate_action (natter_window_get_conversation_view (NATTER_WINDOW (window)),
                              "conversation.scroll-to-bottom", NULL);
  if (!save_window (s, window, "main.png"))
    return FALSE;

  adw_style_manager_set_color_scheme (style, ADW_COLOR_SCHEME_FORCE_DARK);
  if (!save_window (s, window, "main-dark.png"))
    return FALSE;
  adw_style_manager_set_color_scheme (style, ADW_COLOR_SCHEME_DEFAULT);

  /* Folded: one pane, the conversation with a back button. */
  if (!resize_window (s, GTK_WINDOW (window), NARROW_WIDTH, NARROW_HEIGHT))
    return FALSE;
  natter_window_select_contact (NATTER_WINDOW (window), s->bob_id);
  if (!natter_test_wait_until (is_folded_on_conversation, s, UI_TIMEOUT_MS))
    return fail (s, "the narrow window does not show the conversation");
  if (!save_window (s, window, "narrow.png"))
    return FALSE;
  return resize_window (s, GTK_WINDOW (window), WIDE_WIDTH, WIDE_HEIGHT);
}

static gboolean
shoot_add_contact (Shots *s)
{
  g_autoptr(NatterIdentity) dave = NULL;
  GtkWidget *dialog, *id_row, *name_row;
  gboolean ok;
  guint8 seed[32];

  /* Someone new, with the same id on every run. */
  memset (seed, 42, sizeof seed);
  dave = natter_identity_new_from_seed (seed);

  if (!gtk_widget_activate_action (GTK_WIDGET (main_window (s)), "win.add-contact", NULL) ||
      !natter_test_wait_until (toplevel_is_mapped, GSIZE_TO_POINTER (NATTER_TYPE_ADD_CONTACT_DIALOG),
                               UI_TIMEOUT_MS))
    return fail (s, "the Add Contact dialog did not open");
  dialog = natter_test_find_toplevel (NATTER_TYPE_ADD_CONTACT_DIALOG, TRUE);
  focus_window (GTK_WINDOW (dialog));
  id_row = natter_test_find_mapped (dialog, is_entry_row_titled, "Peer ID");
  name_row = natter_test_find_mapped (dialog, is_entry_row_titled, "Name (optional)");
  if (id_row == NULL || name_row == NULL)
    return fail (s, "the Add Contact dialog has no Peer ID or Name row");
  gtk_editable_set_text (GTK_EDITABLE (id_row), natter_identity_get_peer_id (dave));
  gtk_editable_set_text (GTK_EDITABLE (name_row), "Dave");
  ok = save_window (s, dialog, "add-contact.png");
  gtk_window_destroy (GTK_WINDOW (dialog));
  focus_window (GTK_WINDOW (main_window (s)));
  return ok;
}

/* Opens the window @action shows, at @width × @height if not 0, and renders it. */
static gboolean
shoot_toplevel (Shots      *s,
                GtkWidget  *owner,
                const char *action,
                GType       type,
                int         width,
                int         height,
                const char *name)
{
  GtkWidget *window;
  gboolean ok;

  if (!gtk_widget_activate_action (owner, action, NULL) ||
      !natter_test_wait_until (toplevel_is_mapped, GSIZE_TO_POINTER (type), UI_TIMEOUT_MS))
    return fail (s, "%s did not open a window", action);
  window = natter_test_find_toplevel (type, TRUE);
  focus_window (GTK_WINDOW (window));
  ok = (width == 0 || resize_window (s, GTK_WINDOW (window), width, height)) &&
       save_window (s, window, name);
  gtk_window_destroy (GTK_WINDOW (window));
  focus_window (GTK_WINDOW (main_window (s)));
  return ok;
}

/* Runs from the app's main loop once it is activated; the app quits after. */
static void
run_script (gpointer data)
{
  Shots *s = data;
  GtkWidget *window = GTK_WIDGET (main_window (s));

  if (chat (s) &&
      shoot_main (s) &&
      shoot_add_contact (s) &&
      shoot_toplevel (s, window, "win.show-contact-details", NATTER_TYPE_CONTACT_DETAILS,
                      DETAILS_WIDTH, DETAILS_HEIGHT, "contact-details.png"))
    shoot_toplevel (s, window, "app.preferences", NATTER_TYPE_PREFERENCES_WINDOW, 0, 0,
                    "preferences.png");
}

static gboolean
run (Shots *s)
{
  const char *bob_args[] = { "--accept-contacts", NULL };
  const char *app_args[] = {
    "--profile", NULL, "--broker", NULL, "--ice-address", "127.0.0.1", NULL
  };
  g_autoptr(GSettings) settings = NULL;

  s->broker = natter_test_broker_new (NULL);
  if (!natter_test_broker_start (s->broker, &s->error))
    return FALSE;

  s->dir = natter_test_mkdtemp ("natter-screenshots");
  s->alice_profile = g_build_filename (s->dir, "alice", NULL);
  s->bob_profile = g_build_filename (s->dir, "bob", NULL);
  s->carol_profile = g_build_filename (s->dir, "carol", NULL);
  if (!create_profiles (s))
    return FALSE;

  s->bob = natter_test_peer_spawn (s->bob_profile, natter_test_broker_get_url (s->broker), bob_args,
                                   &s->error);
  if (s->bob == NULL)
    return FALSE;
  s->carol = natter_test_peer_spawn (s->carol_profile, natter_test_broker_get_url (s->broker), NULL,
                                     &s->error);
  if (s->carol == NULL)
    return FALSE;

  app_args[1] = s->alice_profile;
  app_args[3] = natter_test_broker_get_url (s->broker);
  /* The app's own settings (in memory): Alice's name. */
  settings = g_settings_new (NATTER_APP_ID);
  g_settings_set_string (settings, "display-name", "Alice");
  s->app = natter_application_new ();
  if (natter_test_app_run ((GApplication **) &s->app, app_args, run_script, s) != 0 &&
      s->error == NULL)
    return fail (s, "the application failed");
  return s->error == NULL;
}

static void
shots_clear (Shots *s)
{
  if (s->bob != NULL)
    {
      natter_test_peer_stop (s->bob, 5000);
      g_clear_pointer (&s->bob, natter_test_peer_free);
    }
  if (s->carol != NULL)
    {
      natter_test_peer_stop (s->carol, 5000);
      g_clear_pointer (&s->carol, natter_test_peer_free);
    }
  g_clear_pointer (&s->broker, natter_test_broker_free);
  if (s->dir != NULL)
    natter_test_rmtree (s->dir);
  g_clear_pointer (&s->dir, g_free);
  g_clear_pointer (&s->alice_profile, g_free);
  g_clear_pointer (&s->bob_profile, g_free);
  g_clear_pointer (&s->carol_profile, g_free);
  g_clear_pointer (&s->alice_id, g_free);
  g_clear_pointer (&s->bob_id, g_free);
  g_clear_pointer (&s->out_dir, g_free);
  g_clear_error (&s->error);
}

int
main (int   argc,
      char *argv[])
{
  Shots s = { 0 };
  gboolean ok;

  if (argc > 2 || (argc == 2 && argv[1][0] == '-'))
    {
      g_printerr ("usage: %s [OUTDIR]   (default: screenshots)\n", argv[0]);
      return 2;
    }

  /* Same words and formats on every machine: English, the default theme,
   * settings in memory only (nothing of the user's desktop leaks in). */
  g_setenv ("LC_ALL", "C.UTF-8", TRUE);
  g_unsetenv ("LANGUAGE");
  g_setenv ("GSETTINGS_BACKEND", "memory", TRUE);
  g_setenv ("GSETTINGS_SCHEMA_DIR", NATTER_SCHEMA_DIR, FALSE);
  g_setenv ("NATTER_CLI", NATTER_CLI_PATH, FALSE);
  g_unsetenv ("GTK_THEME");
  setlocale (LC_ALL, "");
  bindtextdomain (GETTEXT_PACKAGE, LOCALEDIR);
  bind_textdomain_codeset (GETTEXT_PACKAGE, "UTF-8");
  textdomain (GETTEXT_PACKAGE);

  s.out_dir = g_canonicalize_filename (argc == 2 ? argv[1] : "screenshots", NULL);
  if (g_mkdir_with_parents (s.out_dir, 0755) != 0)
    {
      g_printerr ("Cannot create %s: %s\n", s.out_dir, g_strerror (errno));
      return 1;
    }

  /* Its own X server and session bus, never the user's desktop. */
  g_unsetenv ("NATTER_TEST_USE_DISPLAY");
  natter_test_display_setup ();
  if (!natter_test_display_require ())
    {
      g_printerr ("No display: install Xvfb (package xvfb)\n");
      natter_test_display_teardown ();
      return 1;
    }
  /* A blinking cursor would make every run a different picture. */
  gtk_init ();
  g_object_set (gtk_settings_get_default (), "gtk-cursor-blink", FALSE, NULL);

  ok = run (&s);
  if (!ok)
    g_printerr ("Screenshots failed: %s\n", s.error != NULL ? s.error->message : "unknown error");
  else
    g_print ("Wrote %u screenshots to %s\n", s.n_written, s.out_dir);

  shots_clear (&s);
  natter_test_display_teardown ();
  return ok ? 0 : 1;
}
