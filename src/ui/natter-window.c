/* natter-window.c: the main window: contacts sorted by activity, the selected conversation, the connection banner. */
#define G_LOG_DOMAIN "natter-ui"

#include <glib/gi18n.h>

#include "natter-identity.h"

#include "natter-window.h"

#include "natter-add-contact-dialog.h"
#include "natter-contact-details.h"
#include "natter-contact-row.h"
#include "natter-conversation-view.h"

struct _NatterWindow
{
  AdwApplicationWindow  parent_instance;

  /* template widgets */
  AdwToastOverlay      *toast_overlay;
  AdwLeaflet           *leaflet;
  GtkRevealer          *banner;
  GtkLabel             *banner_label;
  GtkListBox           *contacts_list;
  GtkStack             *content_stack;
  GtkLabel             *peer_id_label;
  GtkButton            *copy_button;
  /* Not in the template: it needs the client at construction. */
  GtkWidget            *conversation_view;

  /* borrowed references */
  GtkSorter            *sorter;             /* of sorted_contacts */
  GtkFilter            *filter;             /* of sorted_contacts' filter model */

  /* owned references */
  NatterClient         *client;
  GtkSortListModel     *sorted_contacts;    /* client contacts, minus declined, by activity */
  NatterContact        *selected;
  guint                 banner_tick;
  /* Set while the list box rebuilds rows after a re-sort, when rows leave
   * and come back without the user choosing anything. */
  gboolean              rebuilding;
  gboolean              ever_connected;
  gboolean              content_chosen;
};

G_DEFINE_FINAL_TYPE (NatterWindow, natter_window, ADW_TYPE_APPLICATION_WINDOW)

enum {
  PROP_0,
  PROP_CLIENT,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

static void natter_window_update_banner (NatterWindow *self);

/* ---- contact list ---- */

/* Requests first (they wait for an answer), then by last activity, then by name. */
static int
compare_contacts (gconstpointer a,
                  gconstpointer b,
                  gpointer      user_data)
{
  NatterContact *ca = (NatterContact *) a;
  NatterContact *cb = (NatterContact *) b;
  gboolean request_a = natter_contact_get_state (ca) == NATTER_CONTACT_PENDING_IN;
  gboolean request_b = natter_contact_get_state (cb) == NATTER_CONTACT_PENDING_IN;
  gint64 activity_a = natter_contact_get_last_activity (ca);
  gint64 activity_b = natter_contact_get_last_activity (cb);
  int by_name;

  if (request_a != request_b)
    return request_a ? GTK_ORDERING_SMALLER : GTK_ORDERING_LARGER;
  if (activity_a != activity_b)
    return activity_a > activity_b ? GTK_ORDERING_SMALLER : GTK_ORDERING_LARGER;
  by_name = g_utf8_collate (natter_contact_get_display_name (ca), natter_contact_get_display_name (cb));
  if (by_name != 0)
    return gtk_ordering_from_cmpfunc (by_name);
  return gtk_ordering_from_cmpfunc (g_strcmp0 (natter_contact_get_peer_id (ca),
                                               natter_contact_get_peer_id (cb)));
}

/* A declined request is answered: it leaves the list. */
static gboolean
contact_is_listed (gpointer item,
                   gpointer user_data)
{
  return natter_contact_get_state (item) != NATTER_CONTACT_DECLINED;
}

/* Sorters and filters do not watch their items: tell them what changed. */
static void
on_contact_notify (NatterWindow  *self,
                   GParamSpec    *pspec,
                   NatterContact *contact)
{
  const char *name = g_param_spec_get_name (pspec);

  if (g_str_equal (name, "state"))
    gtk_filter_changed (self->filter, GTK_FILTER_CHANGE_DIFFERENT);
  if (g_str_equal (name, "state") || g_str_equal (name, "last-activity") ||
      g_str_equal (name, "display-name"))
    gtk_sorter_changed (self->sorter, GTK_SORTER_CHANGE_DIFFERENT);
}

static void
watch_contacts (NatterWindow *self,
                GListModel   *contacts,
                guint         position,
                guint         n_added)
{
  for (guint i = position; i < position + n_added; i++)
    {
      g_autoptr(NatterContact) contact = g_list_model_get_item (contacts, i);

      g_signal_connect_object (contact, "notify", G_CALLBACK (on_contact_notify), self,
                               G_CONNECT_SWAPPED);
    }
}

static void
on_client_contacts_changed (NatterWindow *self,
                            guint         position,
                            guint         removed,
                            guint         added,
                            GListModel   *contacts)
{
  watch_contacts (self, contacts, position, added);
}

static GtkWidget *
create_contact_row (gpointer item,
                    gpointer user_data)
{
  return natter_contact_row_new (item);
}

static NatterContactRow *
natter_window_find_row (NatterWindow  *self,
                        NatterContact *contact)
{
  GtkListBoxRow *row;

  for (int i = 0; (row = gtk_list_box_get_row_at_index (self->contacts_list, i)) != NULL; i++)
    if (natter_contact_row_get_contact (NATTER_CONTACT_ROW (row)) == contact)
      return NATTER_CONTACT_ROW (row);
  return NULL;
}

/* Chooses what the content pane shows: the conversation view (with its own
 * "nothing selected" page), or the welcome page with our peer id until
 * there is someone to talk to. */
static void
natter_window_update_content (NatterWindow *self)
{
  gboolean has_contacts = g_list_model_get_n_items (G_LIST_MODEL (self->sorted_contacts)) > 0;
  const char *before = gtk_stack_get_visible_child_name (self->content_stack);
  const char *page = has_contacts || self->selected != NULL ? "conversation" : "no-contacts";

  if (self->content_chosen && g_strcmp0 (before, page) == 0)
    return;
  self->content_chosen = TRUE;
  gtk_stack_set_visible_child_name (self->content_stack, page);

  /* On a narrow window the sidebar would only say "No contacts"; the
   * content pane is where the user learns what to do. Focus goes to the
   * copy button: the first focusable widget would be the peer id label,
   * and a selectable label selects all of itself when focused. */
  if (!has_contacts)
    {
      adw_leaflet_set_visible_child_name (self->leaflet, "content");
      gtk_window_set_focus (GTK_WINDOW (self), GTK_WIDGET (self->copy_button));
    }
}

static void
natter_window_set_selected (NatterWindow  *self,
                            NatterContact *contact)
{
  g_autoptr(GError) error = NULL;
  GApplication *app;

  if (!g_set_object (&self->selected, contact))
    return;

  natter_conversation_view_set_contact (NATTER_CONVERSATION_VIEW (self->conversation_view), contact);
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "win.show-contact-details", contact != NULL);
  natter_window_update_content (self);

  if (contact == NULL)
    return;

  /* Opening a conversation reads it. */
  if (!natter_client_mark_read (self->client, natter_contact_get_peer_id (contact), &error))
    g_info ("Cannot send the read receipt: %s", error->message);
  app = G_APPLICATION (gtk_window_get_application (GTK_WINDOW (self)));
  if (app != NULL)
    {
      g_autofree char *id = g_strconcat ("message-", natter_contact_get_peer_id (contact), NULL);

      g_application_withdraw_notification (app, id);
    }
}

static void
on_row_selected (NatterWindow  *self,
                 GtkListBoxRow *row,
                 GtkListBox    *list)
{
  NatterContact *contact;

  if (self->rebuilding)
    return;

  contact = row != NULL ? natter_contact_row_get_contact (NATTER_CONTACT_ROW (row)) : NULL;
  if (contact == self->selected)
    return;
  natter_window_set_selected (self, contact);
  if (contact != NULL)
    adw_leaflet_set_visible_child_name (self->leaflet, "content");
}

/* Clicking the already selected row on a folded window opens it again. */
static void
on_row_activated (NatterWindow  *self,
                  GtkListBoxRow *row,
                  GtkListBox    *list)
{
  if (row == gtk_list_box_get_selected_row (list))
    adw_leaflet_set_visible_child_name (self->leaflet, "content");
}

static void
on_sorted_changed_before (NatterWindow *self)
{
  self->rebuilding = TRUE;
}

/* After the list box rebuilt rows: keep the selection on the same contact,
 * or let go of a contact that left the list (deleted, declined). */
static void
on_sorted_changed_after (NatterWindow *self)
{
  NatterContactRow *row = NULL;

  if (self->selected != NULL)
    row = natter_window_find_row (self, self->selected);
  if (row != NULL)
    gtk_list_box_select_row (self->contacts_list, GTK_LIST_BOX_ROW (row));
  self->rebuilding = FALSE;

  if (self->selected != NULL && row == NULL)
    {
      gtk_list_box_unselect_all (self->contacts_list);
      natter_window_set_selected (self, NULL);
      adw_leaflet_navigate (self->leaflet, ADW_NAVIGATION_DIRECTION_BACK);
    }
  natter_window_update_content (self);
}

/* ---- connection banner ---- */

static gboolean
banner_tick_cb (gpointer user_data)
{
  NatterWindow *self = user_data;

  natter_window_update_banner (self);
  return G_SOURCE_CONTINUE;
}

/* Shown while the broker cannot be reached, with when the next attempt is
 * due; not during the first connection attempt, which usually succeeds. */
static void
natter_window_update_banner (NatterWindow *self)
{
  NatterSignalingState state = natter_client_get_signaling_state (self->client);
  gint64 next_retry = natter_client_get_signaling_next_retry (self->client);
  g_autofree char *text = NULL;

  if (state == NATTER_SIGNALING_CONNECTED)
    self->ever_connected = TRUE;
  else if (next_retry > 0)
    {
      gint64 seconds = (next_retry - g_get_monotonic_time () + G_USEC_PER_SEC - 1) / G_USEC_PER_SEC;

      /* The signaling layer says why (refused password, untrusted
       * certificate…); that is what the user can act on. */
      const char *why = natter_client_get_signaling_last_error (self->client);
      g_autofree char *retry = NULL;

      if (seconds > 0)
        retry = g_strdup_printf (g_dngettext (GETTEXT_PACKAGE,
                                              "Trying again in %d second.",
                                              "Trying again in %d seconds.",
                                              (gulong) seconds),
                                 (int) seconds);
      else
        retry = g_strdup (_("Trying again…"));
      /* TRANSLATORS: the reason the connection failed, then when it is retried */
      text = g_strdup_printf (_("%s. %s"), why != NULL ? why : _("Cannot reach the server"), retry);
    }
  else if (state == NATTER_SIGNALING_CONNECTING)
    {
      if (self->ever_connected)
        text = g_strdup (_("Reconnecting to the server…"));
    }
  else
    text = g_strdup (_("Not connected to a server. Check the server address in the settings."));

  if (text != NULL)
    gtk_label_set_label (self->banner_label, text);
  gtk_revealer_set_reveal_child (self->banner, text != NULL);
  /* Folded, the sidebar may be off screen: the conversation says it too. */
  natter_conversation_view_set_banner (NATTER_CONVERSATION_VIEW (self->conversation_view),
                                       adw_leaflet_get_folded (self->leaflet) ? text : NULL);

  /* A countdown only while one is shown. */
  if (text != NULL && next_retry > 0 && state != NATTER_SIGNALING_CONNECTED)
    {
      if (self->banner_tick == 0)
        self->banner_tick = g_timeout_add_seconds (1, banner_tick_cb, self);
    }
  else
    g_clear_handle_id (&self->banner_tick, g_source_remove);
}

/* ---- actions ---- */

static void
natter_window_toast (NatterWindow *self,
                     const char   *text)
{
  AdwToast *toast = adw_toast_new (text);

  adw_toast_set_timeout (toast, 3);
  adw_toast_overlay_add_toast (self->toast_overlay, toast);
}

static void
natter_window_copy_peer_id_action (GtkWidget  *widget,
                                   const char *action_name,
                                   GVariant   *param)
{
  NatterWindow *self = NATTER_WINDOW (widget);
  AdwToast *toast;

  gdk_clipboard_set_text (gtk_widget_get_clipboard (widget), natter_client_get_peer_id (self->client));

  toast = adw_toast_new (_("Peer ID copied"));
  adw_toast_set_timeout (toast, 2);
  adw_toast_overlay_add_toast (self->toast_overlay, toast);
}

static void
on_contact_added (NatterWindow  *self,
                  NatterContact *contact)
{
  natter_window_select_contact (self, natter_contact_get_peer_id (contact));
}

static void
natter_window_add_contact_action (GtkWidget  *widget,
                                  const char *action_name,
                                  GVariant   *param)
{
  NatterWindow *self = NATTER_WINDOW (widget);
  GtkWidget *dialog = natter_add_contact_dialog_new (GTK_WINDOW (self), self->client);

  g_signal_connect_object (dialog, "contact-added", G_CALLBACK (on_contact_added), self,
                           G_CONNECT_SWAPPED);
  gtk_window_present (GTK_WINDOW (dialog));
}

static void
natter_window_answer_request (NatterWindow *self,
                              const char   *peer_id,
                              gboolean      accept)
{
  g_autoptr(GError) error = NULL;
  gboolean ok;

  ok = accept ? natter_client_accept_contact (self->client, peer_id, &error)
              : natter_client_decline_contact (self->client, peer_id, &error);
  if (!ok)
    {
      g_message ("Cannot answer the request of %.8s…: %s", peer_id, error->message);
      natter_window_toast (self, _("Could not save your answer. Try again."));
      return;
    }
  if (accept)
    natter_window_select_contact (self, peer_id);
}

static void
natter_window_accept_contact_action (GtkWidget  *widget,
                                     const char *action_name,
                                     GVariant   *param)
{
  natter_window_answer_request (NATTER_WINDOW (widget), g_variant_get_string (param, NULL), TRUE);
}

static void
natter_window_decline_contact_action (GtkWidget  *widget,
                                      const char *action_name,
                                      GVariant   *param)
{
  natter_window_answer_request (NATTER_WINDOW (widget), g_variant_get_string (param, NULL), FALSE);
}

static void
natter_window_show_contact_details_action (GtkWidget  *widget,
                                           const char *action_name,
                                           GVariant   *param)
{
  NatterWindow *self = NATTER_WINDOW (widget);
  GtkWidget *details;

  if (self->selected == NULL)
    return;
  details = natter_contact_details_new (GTK_WINDOW (self), self->client, self->selected);
  gtk_window_present (GTK_WINDOW (details));
}

static void
natter_window_show_contacts_action (GtkWidget  *widget,
                                    const char *action_name,
                                    GVariant   *param)
{
  NatterWindow *self = NATTER_WINDOW (widget);

  adw_leaflet_navigate (self->leaflet, ADW_NAVIGATION_DIRECTION_BACK);
}

static void
on_go_back (NatterWindow *self)
{
  adw_leaflet_navigate (self->leaflet, ADW_NAVIGATION_DIRECTION_BACK);
}

/* A message in the conversation on screen is read as it arrives. */
static void
on_message_received (NatterWindow  *self,
                     NatterMessage *message,
                     NatterClient  *client)
{
  const char *author = natter_message_get_author (message);

  if (natter_window_is_showing_conversation (self, author))
    natter_client_mark_read (client, author, NULL);
}

static void
on_active_changed (NatterWindow *self)
{
  if (self->selected != NULL && gtk_window_is_active (GTK_WINDOW (self)))
    natter_client_mark_read (self->client, natter_contact_get_peer_id (self->selected), NULL);
}

/* ---- GObject ---- */

static void
natter_window_constructed (GObject *object)
{
  NatterWindow *self = NATTER_WINDOW (object);
  GListModel *contacts;
  GtkFilterListModel *listed;

  G_OBJECT_CLASS (natter_window_parent_class)->constructed (object);

  g_assert (self->client != NULL);

  gtk_label_set_label (self->peer_id_label, natter_client_get_peer_id (self->client));

  self->conversation_view = natter_conversation_view_new (self->client);
  gtk_stack_add_named (self->content_stack, self->conversation_view, "conversation");
  g_object_bind_property (self->leaflet, "folded", self->conversation_view, "folded", G_BINDING_SYNC_CREATE);
  g_signal_connect_object (self->leaflet, "notify::folded", G_CALLBACK (natter_window_update_banner), self,
                           G_CONNECT_SWAPPED);
  g_signal_connect_object (self->conversation_view, "go-back", G_CALLBACK (on_go_back), self,
                           G_CONNECT_SWAPPED);

  contacts = natter_client_get_contacts (self->client);
  watch_contacts (self, contacts, 0, g_list_model_get_n_items (contacts));
  g_signal_connect_object (contacts, "items-changed", G_CALLBACK (on_client_contacts_changed), self,
                           G_CONNECT_SWAPPED);

  self->filter = GTK_FILTER (gtk_custom_filter_new (contact_is_listed, NULL, NULL));
  listed = gtk_filter_list_model_new (g_object_ref (contacts), self->filter);
  self->sorter = GTK_SORTER (gtk_custom_sorter_new (compare_contacts, NULL, NULL));
  self->sorted_contacts = gtk_sort_list_model_new (G_LIST_MODEL (listed), self->sorter);

  /* Handlers run in connection order: one before the list box's own, one after. */
  g_signal_connect_object (self->sorted_contacts, "items-changed", G_CALLBACK (on_sorted_changed_before),
                           self, G_CONNECT_SWAPPED);
  gtk_list_box_bind_model (self->contacts_list, G_LIST_MODEL (self->sorted_contacts),
                           create_contact_row, NULL, NULL);
  g_signal_connect_object (self->sorted_contacts, "items-changed", G_CALLBACK (on_sorted_changed_after),
                           self, G_CONNECT_SWAPPED);
  g_signal_connect_object (self->contacts_list, "row-selected", G_CALLBACK (on_row_selected), self,
                           G_CONNECT_SWAPPED);
  g_signal_connect_object (self->contacts_list, "row-activated", G_CALLBACK (on_row_activated), self,
                           G_CONNECT_SWAPPED);

  g_signal_connect_object (self->client, "notify::signaling-state",
                           G_CALLBACK (natter_window_update_banner), self, G_CONNECT_SWAPPED);
  g_signal_connect_object (self->client, "notify::signaling-next-retry",
                           G_CALLBACK (natter_window_update_banner), self, G_CONNECT_SWAPPED);
  g_signal_connect_object (self->client, "message-received", G_CALLBACK (on_message_received), self,
                           G_CONNECT_SWAPPED);
  g_signal_connect (self, "notify::is-active", G_CALLBACK (on_active_changed), NULL);

  natter_window_update_banner (self);
  natter_window_update_content (self);
}

static void
natter_window_dispose (GObject *object)
{
  NatterWindow *self = (NatterWindow *)object;

  g_clear_handle_id (&self->banner_tick, g_source_remove);
  if (self->contacts_list != NULL)
    gtk_list_box_bind_model (self->contacts_list, NULL, NULL, NULL, NULL);
  gtk_widget_dispose_template (GTK_WIDGET (self), NATTER_TYPE_WINDOW);
  g_clear_object (&self->sorted_contacts);
  g_clear_object (&self->selected);
  g_clear_object (&self->client);

  G_OBJECT_CLASS (natter_window_parent_class)->dispose (object);
}

static void
natter_window_get_property (GObject    *object,
                            guint       prop_id,
                            GValue     *value,
                            GParamSpec *pspec)
{
  NatterWindow *self = NATTER_WINDOW (object);

  switch (prop_id)
    {
    case PROP_CLIENT:
      g_value_set_object (value, self->client);
      break;

    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
natter_window_set_property (GObject      *object,
                            guint         prop_id,
                            const GValue *value,
                            GParamSpec   *pspec)
{
  NatterWindow *self = NATTER_WINDOW (object);

  switch (prop_id)
    {
    case PROP_CLIENT:
      self->client = g_value_dup_object (value);
      break;

    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
natter_window_class_init (NatterWindowClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->constructed = natter_window_constructed;
  object_class->dispose = natter_window_dispose;
  object_class->get_property = natter_window_get_property;
  object_class->set_property = natter_window_set_property;

  /**
   * NatterWindow:client:
   *
   * The account this window shows.
   */
  properties[PROP_CLIENT] =
    g_param_spec_object ("client", NULL, NULL,
                         NATTER_TYPE_CLIENT,
                         (G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY |
                          G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS));

  g_object_class_install_properties (object_class, N_PROPS, properties);

  g_type_ensure (NATTER_TYPE_CONVERSATION_VIEW);

  gtk_widget_class_set_template_from_resource (widget_class, "/io/github/natter/Natter/natter-window.ui");
  gtk_widget_class_bind_template_child (widget_class, NatterWindow, toast_overlay);
  gtk_widget_class_bind_template_child (widget_class, NatterWindow, leaflet);
  gtk_widget_class_bind_template_child (widget_class, NatterWindow, banner);
  gtk_widget_class_bind_template_child (widget_class, NatterWindow, banner_label);
  gtk_widget_class_bind_template_child (widget_class, NatterWindow, contacts_list);
  gtk_widget_class_bind_template_child (widget_class, NatterWindow, content_stack);
  gtk_widget_class_bind_template_child (widget_class, NatterWindow, peer_id_label);
  gtk_widget_class_bind_template_child (widget_class, NatterWindow, copy_button);

  gtk_widget_class_install_action (widget_class, "win.copy-peer-id", NULL, natter_window_copy_peer_id_action);
  gtk_widget_class_install_action (widget_class, "win.add-contact", NULL, natter_window_add_contact_action);
  gtk_widget_class_install_action (widget_class, "win.accept-contact", "s", natter_window_accept_contact_action);
  gtk_widget_class_install_action (widget_class, "win.decline-contact", "s", natter_window_decline_contact_action);
  gtk_widget_class_install_action (widget_class, "win.show-contact-details", NULL,
                                   natter_window_show_contact_details_action);
  gtk_widget_class_install_action (widget_class, "win.show-contacts", NULL, natter_window_show_contacts_action);

  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_n, GDK_CONTROL_MASK, "win.add-contact", NULL);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_i, GDK_CONTROL_MASK, "win.show-contact-details", NULL);
}

static void
natter_window_init (NatterWindow *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));

  /* Enabled by selecting a contact. */
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "win.show-contact-details", FALSE);
}

/**
 * natter_window_new:
 * @application: the #NatterApplication
 * @client: the profile's account
 *
 * Returns: (transfer full): a new #NatterWindow
 */
NatterWindow *
natter_window_new (NatterApplication *application,
                   NatterClient      *client)
{
  g_return_val_if_fail (NATTER_IS_APPLICATION (application), NULL);
  g_return_val_if_fail (NATTER_IS_CLIENT (client), NULL);

  return g_object_new (NATTER_TYPE_WINDOW,
                       "application", application,
                       "client", client,
                       NULL);
}

/**
 * natter_window_get_client:
 * @self: a #NatterWindow
 *
 * Returns: (transfer none): the account shown by the window
 */
NatterClient *
natter_window_get_client (NatterWindow *self)
{
  g_return_val_if_fail (NATTER_IS_WINDOW (self), NULL);

  return self->client;
}

/**
 * natter_window_get_identity:
 * @self: a #NatterWindow
 *
 * Returns: (transfer none): the identity shown by the window
 */
NatterIdentity *
natter_window_get_identity (NatterWindow *self)
{
  g_return_val_if_fail (NATTER_IS_WINDOW (self), NULL);

  return natter_client_get_identity (self->client);
}

/**
 * natter_window_get_conversation_view:
 * @self: a #NatterWindow
 *
 * Returns: (transfer none): the #NatterConversationView of the content pane
 */
GtkWidget *
natter_window_get_conversation_view (NatterWindow *self)
{
  g_return_val_if_fail (NATTER_IS_WINDOW (self), NULL);

  return self->conversation_view;
}

/**
 * natter_window_select_contact:
 * @self: a #NatterWindow
 * @peer_id: a contact's peer id
 *
 * Opens the conversation with @peer_id, as clicking its row would.
 *
 * Returns: %TRUE if the contact is listed and could be opened
 */
gboolean
natter_window_select_contact (NatterWindow *self,
                              const char   *peer_id)
{
  NatterContact *contact;
  NatterContactRow *row;

  g_return_val_if_fail (NATTER_IS_WINDOW (self), FALSE);
  g_return_val_if_fail (peer_id != NULL, FALSE);

  contact = natter_client_lookup_contact (self->client, peer_id);
  row = contact != NULL ? natter_window_find_row (self, contact) : NULL;
  if (row == NULL || !gtk_list_box_row_get_selectable (GTK_LIST_BOX_ROW (row)))
    return FALSE;

  gtk_list_box_select_row (self->contacts_list, GTK_LIST_BOX_ROW (row));
  adw_leaflet_set_visible_child_name (self->leaflet, "content");
  return TRUE;
}

/**
 * natter_window_is_showing_conversation:
 * @self: a #NatterWindow
 * @peer_id: a contact's peer id
 *
 * Returns: whether the user can see the conversation with @peer_id now
 */
gboolean
natter_window_is_showing_conversation (NatterWindow *self,
                                       const char   *peer_id)
{
  g_return_val_if_fail (NATTER_IS_WINDOW (self), FALSE);
  g_return_val_if_fail (peer_id != NULL, FALSE);

  return self->selected != NULL &&
         g_str_equal (natter_contact_get_peer_id (self->selected), peer_id) &&
         gtk_window_is_active (GTK_WINDOW (self)) &&
         g_strcmp0 (gtk_stack_get_visible_child_name (self->content_stack), "conversation") == 0 &&
         (!adw_leaflet_get_folded (self->leaflet) ||
          g_strcmp0 (adw_leaflet_get_visible_child_name (self->leaflet), "content") == 0);
}
