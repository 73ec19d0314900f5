/* natter-contact-details.c: one contact's safety number, presence and management (rename, verify, block, delete). */
#define G_LOG_DOMAIN "natter-ui"

#include <glib/gi18n.h>

#include "natter-contact-row.h"

#include "natter-contact-details.h"

struct _NatterContactDetails
{
  AdwWindow        parent_instance;

  /* template widgets */
  AdwToastOverlay *toast_overlay;
  AdwAvatar       *avatar;
  GtkLabel        *name_label;
  GtkLabel        *status_label;
  AdwEntryRow     *name_row;
  GtkLabel        *safety_number_label;
  AdwActionRow    *verified_row;
  GtkImage        *verified_icon;
  GtkButton       *verify_button;
  AdwActionRow    *presence_row;
  AdwActionRow    *last_seen_row;
  AdwActionRow    *peer_id_row;

  /* owned references */
  NatterClient    *client;
  NatterContact   *contact;
};

G_DEFINE_FINAL_TYPE (NatterContactDetails, natter_contact_details, ADW_TYPE_WINDOW)

enum {
  PROP_0,
  PROP_CLIENT,
  PROP_CONTACT,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

typedef void (*ConfirmedFunc) (NatterContactDetails *self,
                               AdwMessageDialog     *dialog);

static void
natter_contact_details_toast (NatterContactDetails *self,
                              const char           *text)
{
  adw_toast_overlay_add_toast (self->toast_overlay, adw_toast_new (text));
}

static char *
format_last_seen (NatterContact *contact)
{
  g_autoptr(GDateTime) when = NULL;
  gint64 last_seen = natter_contact_get_last_seen (contact);

  if (natter_contact_get_online (contact))
    return g_strdup (_("Now"));
  if (last_seen <= 0)
    return g_strdup (_("Never"));

  when = g_date_time_new_from_unix_local (last_seen);
  /* Translators: last seen date and time, see the strftime manual page */
  return g_date_time_format (when, _("%x at %H:%M"));
}

static void
natter_contact_details_update (NatterContactDetails *self)
{
  NatterContact *contact = self->contact;
  g_autofree char *status = natter_contact_row_dup_status_text (contact);
  g_autofree char *last_seen = format_last_seen (contact);
  const char *name = natter_contact_get_display_name (contact);
  gboolean verified = natter_contact_get_verified (contact);
  NatterContactState state = natter_contact_get_state (contact);

  adw_avatar_set_text (self->avatar, name);
  gtk_label_set_label (self->name_label, name);
  gtk_label_set_label (self->status_label, status);
  gtk_window_set_title (GTK_WINDOW (self), name);

  /* Only while the user is not editing it. */
  if (!gtk_widget_has_focus (GTK_WIDGET (self->name_row)) &&
      g_strcmp0 (gtk_editable_get_text (GTK_EDITABLE (self->name_row)), natter_contact_get_name (contact)) != 0)
    gtk_editable_set_text (GTK_EDITABLE (self->name_row),
                           natter_contact_get_name (contact) ? natter_contact_get_name (contact) : "");

  adw_preferences_row_set_title (ADW_PREFERENCES_ROW (self->verified_row),
                                 verified ? _("Verified") : _("Not Verified"));
  adw_action_row_set_subtitle (self->verified_row,
                               verified ? _("You compared the safety number with this contact")
                                        : _("Mark as verified once the numbers match"));
  gtk_image_set_from_icon_name (self->verified_icon,
                                verified ? "security-high-symbolic" : "security-low-symbolic");
  gtk_button_set_label (self->verify_button, verified ? _("_Unmark") : _("_Mark as Verified"));
  gtk_button_set_use_underline (self->verify_button, TRUE);
  if (verified)
    gtk_widget_remove_css_class (GTK_WIDGET (self->verify_button), "suggested-action");
  else
    gtk_widget_add_css_class (GTK_WIDGET (self->verify_button), "suggested-action");

  adw_action_row_set_subtitle (self->presence_row,
                               natter_contact_get_online (contact) ? _("Online") : _("Offline"));
  adw_action_row_set_subtitle (self->last_seen_row, last_seen);

  gtk_widget_action_set_enabled (GTK_WIDGET (self), "details.block", state != NATTER_CONTACT_BLOCKED);
}

static void
on_name_apply (NatterContactDetails *self)
{
  g_autoptr(GError) error = NULL;

  if (!natter_client_rename_contact (self->client, natter_contact_get_peer_id (self->contact),
                                     gtk_editable_get_text (GTK_EDITABLE (self->name_row)), &error))
    {
      g_message ("Cannot rename contact: %s", error->message);
      natter_contact_details_toast (self, _("Names cannot be longer than 128 characters or contain line breaks"));
    }
}

static void
natter_contact_details_toggle_verified_action (GtkWidget  *widget,
                                               const char *action_name,
                                               GVariant   *param)
{
  NatterContactDetails *self = NATTER_CONTACT_DETAILS (widget);
  g_autoptr(GError) error = NULL;

  if (!natter_client_set_contact_verified (self->client, natter_contact_get_peer_id (self->contact),
                                           !natter_contact_get_verified (self->contact), &error))
    {
      g_message ("Cannot save verification: %s", error->message);
      natter_contact_details_toast (self, _("Could not save the change"));
    }
}

static void
natter_contact_details_copy_peer_id_action (GtkWidget  *widget,
                                            const char *action_name,
                                            GVariant   *param)
{
  NatterContactDetails *self = NATTER_CONTACT_DETAILS (widget);

  gdk_clipboard_set_text (gtk_widget_get_clipboard (widget), natter_contact_get_peer_id (self->contact));
  natter_contact_details_toast (self, _("Peer ID copied"));
}

static void
on_confirm_response (NatterContactDetails *self,
                     const char           *response,
                     AdwMessageDialog     *dialog)
{
  ConfirmedFunc confirmed = (ConfirmedFunc) g_object_get_data (G_OBJECT (dialog), "confirmed");

  if (g_strcmp0 (response, "confirm") == 0)
    confirmed (self, dialog);
}

/* Asks before something that cannot be undone from the app. */
static AdwMessageDialog *
natter_contact_details_confirm (NatterContactDetails *self,
                                const char           *heading,
                                const char           *body,
                                const char           *confirm_label,
                                GtkWidget            *extra_child,
                                ConfirmedFunc         confirmed)
{
  AdwMessageDialog *dialog;

  dialog = ADW_MESSAGE_DIALOG (adw_message_dialog_new (GTK_WINDOW (self), heading, body));
  adw_message_dialog_add_responses (dialog,
                                    "cancel", _("_Cancel"),
                                    "confirm", confirm_label,
                                    NULL);
  adw_message_dialog_set_response_appearance (dialog, "confirm", ADW_RESPONSE_DESTRUCTIVE);
  adw_message_dialog_set_default_response (dialog, "cancel");
  adw_message_dialog_set_close_response (dialog, "cancel");
  if (extra_child != NULL)
    adw_message_dialog_set_extra_child (dialog, extra_child);
  gtk_window_set_destroy_with_parent (GTK_WINDOW (dialog), TRUE);
  g_object_set_data (G_OBJECT (dialog), "confirmed", (gpointer) confirmed);
  /* Disconnected if we go first: a late response must not act on a dead window. */
  g_signal_connect_object (dialog, "response", G_CALLBACK (on_confirm_response), self,
                           G_CONNECT_SWAPPED);
  gtk_window_present (GTK_WINDOW (dialog));

  return dialog;
}

static void
block_confirmed (NatterContactDetails *self,
                 AdwMessageDialog     *dialog)
{
  g_autoptr(GError) error = NULL;

  if (!natter_client_block_contact (self->client, natter_contact_get_peer_id (self->contact), &error))
    {
      g_message ("Cannot block contact: %s", error->message);
      natter_contact_details_toast (self, _("Could not block the contact"));
    }
}

static void
natter_contact_details_block_action (GtkWidget  *widget,
                                     const char *action_name,
                                     GVariant   *param)
{
  NatterContactDetails *self = NATTER_CONTACT_DETAILS (widget);
  g_autofree char *heading = g_strdup_printf (_("Block %s?"), natter_contact_get_display_name (self->contact));

  natter_contact_details_confirm (self, heading,
                                  _("They will no longer be able to reach you or see when you are online. "
                                    "Your conversation is kept."),
                                  _("_Block"), NULL, block_confirmed);
}

static void
delete_confirmed (NatterContactDetails *self,
                  AdwMessageDialog     *dialog)
{
  GtkWidget *delete_history = adw_message_dialog_get_extra_child (dialog);
  g_autoptr(GError) error = NULL;

  if (!natter_client_delete_contact (self->client, natter_contact_get_peer_id (self->contact),
                                     !gtk_check_button_get_active (GTK_CHECK_BUTTON (delete_history)),
                                     &error))
    {
      g_message ("Cannot delete contact: %s", error->message);
      natter_contact_details_toast (self, _("Could not delete the contact"));
      return;
    }
  gtk_window_destroy (GTK_WINDOW (self));
}

static void
natter_contact_details_delete_action (GtkWidget  *widget,
                                      const char *action_name,
                                      GVariant   *param)
{
  NatterContactDetails *self = NATTER_CONTACT_DETAILS (widget);
  g_autofree char *heading = g_strdup_printf (_("Delete %s?"), natter_contact_get_display_name (self->contact));
  GtkWidget *delete_history;

  /* Off by default: losing history should take a deliberate click. */
  delete_history = gtk_check_button_new_with_mnemonic (_("Also delete the _conversation history"));
  natter_contact_details_confirm (self, heading,
                                  _("They will have to ask you again to become a contact."),
                                  _("_Delete"), delete_history, delete_confirmed);
}

static void
natter_contact_details_constructed (GObject *object)
{
  NatterContactDetails *self = NATTER_CONTACT_DETAILS (object);
  g_autofree char *safety_number = NULL;

  G_OBJECT_CLASS (natter_contact_details_parent_class)->constructed (object);

  g_assert (self->client != NULL && self->contact != NULL);

  safety_number = natter_client_dup_safety_number (self->client, natter_contact_get_peer_id (self->contact));
  gtk_label_set_label (self->safety_number_label, safety_number);
  adw_action_row_set_subtitle (self->peer_id_row, natter_contact_get_peer_id (self->contact));

  g_signal_connect_object (self->contact, "notify", G_CALLBACK (natter_contact_details_update), self,
                           G_CONNECT_SWAPPED);
  natter_contact_details_update (self);

  /* Otherwise the name entry takes the focus and selects the name, inviting
   * an accidental rename; verifying is what this window is for. */
  gtk_window_set_focus (GTK_WINDOW (self), GTK_WIDGET (self->verify_button));
}

static void
natter_contact_details_dispose (GObject *object)
{
  NatterContactDetails *self = (NatterContactDetails *)object;

  gtk_widget_dispose_template (GTK_WIDGET (self), NATTER_TYPE_CONTACT_DETAILS);
  g_clear_object (&self->client);
  g_clear_object (&self->contact);

  G_OBJECT_CLASS (natter_contact_details_parent_class)->dispose (object);
}

static void
natter_contact_details_get_property (GObject    *object,
                                     guint       prop_id,
                                     GValue     *value,
                                     GParamSpec *pspec)
{
  NatterContactDetails *self = NATTER_CONTACT_DETAILS (object);

  switch (prop_id)
    {
    case PROP_CLIENT:
      g_value_set_object (value, self->client);
      break;

    case PROP_CONTACT:
      g_value_set_object (value, self->contact);
      break;

    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
natter_contact_details_set_property (GObject      *object,
                                     guint         prop_id,
                                     const GValue *value,
                                     GParamSpec   *pspec)
{
  NatterContactDetails *self = NATTER_CONTACT_DETAILS (object);

  switch (prop_id)
    {
    case PROP_CLIENT:
      self->client = g_value_dup_object (value);
      break;

    case PROP_CONTACT:
      self->contact = g_value_dup_object (value);
      break;

    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
natter_contact_details_class_init (NatterContactDetailsClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->constructed = natter_contact_details_constructed;
  object_class->dispose = natter_contact_details_dispose;
  object_class->get_property = natter_contact_details_get_property;
  object_class->set_property = natter_contact_details_set_property;

  properties[PROP_CLIENT] =
    g_param_spec_object ("client", NULL, NULL,
                         NATTER_TYPE_CLIENT,
                         (G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY |
                          G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS));

  properties[PROP_CONTACT] =
    g_param_spec_object ("contact", NULL, NULL,
                         NATTER_TYPE_CONTACT,
                         (G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY |
                          G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS));

  g_object_class_install_properties (object_class, N_PROPS, properties);

  gtk_widget_class_set_template_from_resource (widget_class, "/io/github/natter/Natter/natter-contact-details.ui");
  gtk_widget_class_bind_template_child (widget_class, NatterContactDetails, toast_overlay);
  gtk_widget_class_bind_template_child (widget_class, NatterContactDetails, avatar);
  gtk_widget_class_bind_template_child (widget_class, NatterContactDetails, name_label);
  gtk_widget_class_bind_template_child (widget_class, NatterContactDetails, status_label);
  gtk_widget_class_bind_template_child (widget_class, NatterContactDetails, name_row);
  gtk_widget_class_bind_template_child (widget_class, NatterContactDetails, safety_number_label);
  gtk_widget_class_bind_template_child (widget_class, NatterContactDetails, verified_row);
  gtk_widget_class_bind_template_child (widget_class, NatterContactDetails, verified_icon);
  gtk_widget_class_bind_template_child (widget_class, NatterContactDetails, verify_button);
  gtk_widget_class_bind_template_child (widget_class, NatterContactDetails, presence_row);
  gtk_widget_class_bind_template_child (widget_class, NatterContactDetails, last_seen_row);
  gtk_widget_class_bind_template_child (widget_class, NatterContactDetails, peer_id_row);
  gtk_widget_class_bind_template_callback (widget_class, on_name_apply);

  gtk_widget_class_install_action (widget_class, "details.toggle-verified", NULL,
                                   natter_contact_details_toggle_verified_action);
  gtk_widget_class_install_action (widget_class, "details.copy-peer-id", NULL,
                                   natter_contact_details_copy_peer_id_action);
  gtk_widget_class_install_action (widget_class, "details.block", NULL,
                                   natter_contact_details_block_action);
  gtk_widget_class_install_action (widget_class, "details.delete", NULL,
                                   natter_contact_details_delete_action);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_Escape, 0, "window.close", NULL);
}

static void
natter_contact_details_init (NatterContactDetails *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));
}

/**
 * natter_contact_details_new:
 * @parent: the main window
 * @client: the account
 * @contact: the contact to show
 *
 * Returns: (transfer none): a new details window, not yet shown
 */
GtkWidget *
natter_contact_details_new (GtkWindow     *parent,
                            NatterClient  *client,
                            NatterContact *contact)
{
  g_return_val_if_fail (GTK_IS_WINDOW (parent), NULL);
  g_return_val_if_fail (NATTER_IS_CLIENT (client), NULL);
  g_return_val_if_fail (NATTER_IS_CONTACT (contact), NULL);

  return g_object_new (NATTER_TYPE_CONTACT_DETAILS,
                       "transient-for", parent,
                       "client", client,
                       "contact", contact,
                       NULL);
}

/**
 * natter_contact_details_get_contact:
 * @self: a #NatterContactDetails
 *
 * Returns: (transfer none): the contact shown
 */
NatterContact *
natter_contact_details_get_contact (NatterContactDetails *self)
{
  g_return_val_if_fail (NATTER_IS_CONTACT_DETAILS (self), NULL);

  return self->contact;
}
