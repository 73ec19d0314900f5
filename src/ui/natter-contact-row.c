/* natter-contact-row.c: one contact in the sidebar, kept in step with its NatterContact. */
#define G_LOG_DOMAIN "natter-ui"

#include <glib/gi18n.h>

#include "natter-enums.h"

#include "natter-contact-row.h"

struct _NatterContactRow
{
  GtkListBoxRow  parent_instance;

  /* template widgets */
  AdwAvatar     *avatar;
  GtkImage      *presence_dot;
  GtkLabel      *name_label;
  GtkLabel      *unread_label;
  GtkLabel      *preview_label;
  GtkLabel      *status_label;
  GtkWidget     *request_box;
  GtkWidget     *accept_button;
  GtkWidget     *decline_button;

  /* owned references */
  NatterContact *contact;
};

G_DEFINE_FINAL_TYPE (NatterContactRow, natter_contact_row, GTK_TYPE_LIST_BOX_ROW)

enum {
  PROP_0,
  PROP_CONTACT,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

/**
 * natter_contact_row_dup_status_text:
 * @contact: a contact
 *
 * The one-line state of a contact as the sidebar and the conversation header
 * show it: where the request stands, or for accepted contacts how a message
 * would travel now (directly, still connecting, or not at all).
 *
 * Returns: (transfer full): translated text
 */
char *
natter_contact_row_dup_status_text (NatterContact *contact)
{
  g_return_val_if_fail (NATTER_IS_CONTACT (contact), NULL);

  switch (natter_contact_get_state (contact))
    {
    case NATTER_CONTACT_PENDING_IN:
      return g_strdup (_("Wants to be your contact"));
    case NATTER_CONTACT_PENDING_OUT:
      return g_strdup (_("Waiting for an answer"));
    case NATTER_CONTACT_DECLINED:
      return g_strdup (_("Declined"));
    case NATTER_CONTACT_BLOCKED:
      return g_strdup (_("Blocked"));
    case NATTER_CONTACT_ACCEPTED:
    default:
      break;
    }

  if (natter_contact_get_session_state (contact) == NATTER_SESSION_CONNECTED)
    /* Translators: the contact is connected peer to peer, not through a server */
    return g_strdup (_("Direct"));
  if (natter_contact_get_online (contact))
    return g_strdup (_("Connecting…"));
  return g_strdup (_("Offline"));
}

/* One place that maps every contact property onto the widgets: contacts
 * change a few times a minute at most, so redoing all of it is cheap. */
static void
natter_contact_row_update (NatterContactRow *self)
{
  NatterContact *contact = self->contact;
  g_autofree char *status = NULL;
  g_autofree char *unread_text = NULL;
  g_autofree char *accessible = NULL;
  g_autofree char *accept_label = NULL;
  g_autofree char *decline_label = NULL;
  const char *name;
  const char *preview;
  gboolean online;
  gboolean request;
  int unread;

  if (contact == NULL)
    return;

  name = natter_contact_get_display_name (contact);
  preview = natter_contact_get_last_message_preview (contact);
  online = natter_contact_get_online (contact);
  unread = natter_contact_get_unread_count (contact);
  request = natter_contact_get_state (contact) == NATTER_CONTACT_PENDING_IN;
  status = natter_contact_row_dup_status_text (contact);

  adw_avatar_set_text (self->avatar, name);
  gtk_label_set_label (self->name_label, name);
  gtk_label_set_label (self->status_label, status);

  gtk_label_set_label (self->preview_label, preview != NULL ? preview : "");
  gtk_widget_set_visible (GTK_WIDGET (self->preview_label), preview != NULL && !request);

  unread_text = g_strdup_printf ("%d", unread);
  gtk_label_set_label (self->unread_label, unread_text);
  gtk_widget_set_visible (GTK_WIDGET (self->unread_label), unread > 0);

  if (online)
    {
      gtk_widget_add_css_class (GTK_WIDGET (self->presence_dot), "online");
      gtk_widget_remove_css_class (GTK_WIDGET (self->presence_dot), "offline");
    }
  else
    {
      gtk_widget_add_css_class (GTK_WIDGET (self->presence_dot), "offline");
      gtk_widget_remove_css_class (GTK_WIDGET (self->presence_dot), "online");
    }
  gtk_widget_set_tooltip_text (GTK_WIDGET (self->presence_dot), online ? _("Online") : _("Offline"));

  /* A request is answered with its buttons, not opened as a conversation. */
  gtk_widget_set_visible (self->request_box, request);
  gtk_list_box_row_set_selectable (GTK_LIST_BOX_ROW (self), !request);
  gtk_list_box_row_set_activatable (GTK_LIST_BOX_ROW (self), !request);

  /* Several requests may be listed: say whose request each button answers. */
  accept_label = g_strdup_printf (_("Accept %s"), name);
  decline_label = g_strdup_printf (_("Decline %s"), name);
  gtk_accessible_update_property (GTK_ACCESSIBLE (self->accept_button),
                                  GTK_ACCESSIBLE_PROPERTY_LABEL, accept_label, -1);
  gtk_accessible_update_property (GTK_ACCESSIBLE (self->decline_button),
                                  GTK_ACCESSIBLE_PROPERTY_LABEL, decline_label, -1);

  if (unread > 0)
    /* Translators: contact name, status, number of unread messages */
    accessible = g_strdup_printf (g_dngettext (GETTEXT_PACKAGE, "%s, %s, %d unread message",
                                               "%s, %s, %d unread messages", unread),
                                  name, status, unread);
  else
    /* Translators: contact name, then its status (e.g. "Alice, Offline") */
    accessible = g_strdup_printf (_("%s, %s"), name, status);
  gtk_accessible_update_property (GTK_ACCESSIBLE (self),
                                  GTK_ACCESSIBLE_PROPERTY_LABEL, accessible, -1);
}

static void
natter_contact_row_set_contact (NatterContactRow *self,
                                NatterContact    *contact)
{
  GVariant *target;

  g_assert (self->contact == NULL);

  if (contact == NULL)
    return;

  self->contact = g_object_ref (contact);
  /* Removed with the row: the contact can outlive it in the client's model. */
  g_signal_connect_object (contact, "notify", G_CALLBACK (natter_contact_row_update), self,
                           G_CONNECT_SWAPPED);

  target = g_variant_new_string (natter_contact_get_peer_id (contact));
  gtk_actionable_set_action_target_value (GTK_ACTIONABLE (self->accept_button), target);
  gtk_actionable_set_action_target_value (GTK_ACTIONABLE (self->decline_button), target);

  natter_contact_row_update (self);
}

static void
natter_contact_row_dispose (GObject *object)
{
  NatterContactRow *self = (NatterContactRow *)object;

  gtk_widget_dispose_template (GTK_WIDGET (self), NATTER_TYPE_CONTACT_ROW);
  g_clear_object (&self->contact);

  G_OBJECT_CLASS (natter_contact_row_parent_class)->dispose (object);
}

static void
natter_contact_row_get_property (GObject    *object,
                                 guint       prop_id,
                                 GValue     *value,
                                 GParamSpec *pspec)
{
  NatterContactRow *self = NATTER_CONTACT_ROW (object);

  switch (prop_id)
    {
    case PROP_CONTACT:
      g_value_set_object (value, self->contact);
      break;

    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
natter_contact_row_set_property (GObject      *object,
                                 guint         prop_id,
                                 const GValue *value,
                                 GParamSpec   *pspec)
{
  NatterContactRow *self = NATTER_CONTACT_ROW (object);

  switch (prop_id)
    {
    case PROP_CONTACT:
      natter_contact_row_set_contact (self, g_value_get_object (value));
      break;

    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
natter_contact_row_class_init (NatterContactRowClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = natter_contact_row_dispose;
  object_class->get_property = natter_contact_row_get_property;
  object_class->set_property = natter_contact_row_set_property;

  /**
   * NatterContactRow:contact:
   *
   * The contact this row shows.
   */
  properties[PROP_CONTACT] =
    g_param_spec_object ("contact", NULL, NULL,
                         NATTER_TYPE_CONTACT,
                         (G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY |
                          G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS));

  g_object_class_install_properties (object_class, N_PROPS, properties);

  gtk_widget_class_set_template_from_resource (widget_class, "/io/github/natter/Natter/natter-contact-row.ui");
  gtk_widget_class_bind_template_child (widget_class, NatterContactRow, avatar);
  gtk_widget_class_bind_template_child (widget_class, NatterContactRow, presence_dot);
  gtk_widget_class_bind_template_child (widget_class, NatterContactRow, name_label);
  gtk_widget_class_bind_template_child (widget_class, NatterContactRow, unread_label);
  gtk_widget_class_bind_template_child (widget_class, NatterContactRow, preview_label);
  gtk_widget_class_bind_template_child (widget_class, NatterContactRow, status_label);
  gtk_widget_class_bind_template_child (widget_class, NatterContactRow, request_box);
  gtk_widget_class_bind_template_child (widget_class, NatterContactRow, accept_button);
  gtk_widget_class_bind_template_child (widget_class, NatterContactRow, decline_button);
}

static void
natter_contact_row_init (NatterContactRow *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));
}

/**
 * natter_contact_row_new:
 * @contact: the contact to show
 *
 * Returns: (transfer floating): a new #NatterContactRow
 */
GtkWidget *
natter_contact_row_new (NatterContact *contact)
{
  g_return_val_if_fail (NATTER_IS_CONTACT (contact), NULL);

  return g_object_new (NATTER_TYPE_CONTACT_ROW, "contact", contact, NULL);
}

/**
 * natter_contact_row_get_contact:
 * @self: a #NatterContactRow
 *
 * Returns: (transfer none): the contact shown
 */
NatterContact *
natter_contact_row_get_contact (NatterContactRow *self)
{
  g_return_val_if_fail (NATTER_IS_CONTACT_ROW (self), NULL);

  return self->contact;
}
