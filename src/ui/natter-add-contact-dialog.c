/* natter-add-contact-dialog.c: asks for a peer id (checked as it is typed) and an optional name. */
#define G_LOG_DOMAIN "natter-ui"

#include <string.h>
#include <glib/gi18n.h>

#include "natter-identity.h"

#include "natter-add-contact-dialog.h"

struct _NatterAddContactDialog
{
  AdwWindow     parent_instance;

  /* template widgets */
  AdwEntryRow  *peer_id_row;
  AdwEntryRow  *name_row;
  GtkLabel     *problem_label;

  /* owned references */
  NatterClient *client;
};

G_DEFINE_FINAL_TYPE (NatterAddContactDialog, natter_add_contact_dialog, ADW_TYPE_WINDOW)

enum {
  PROP_0,
  PROP_CLIENT,
  N_PROPS
};

enum {
  CONTACT_ADDED,
  N_SIGNALS
};

static GParamSpec *properties[N_PROPS];
static guint signals[N_SIGNALS];

/* People paste ids from chats and mails, with line breaks and spaces where
 * they wrapped, sometimes in capitals: none of that is part of the id. */
static char *
normalize_peer_id (const char *text)
{
  GString *out = g_string_new (NULL);

  for (const char *p = text; *p != '\0'; p++)
    if (!g_ascii_isspace (*p))
      g_string_append_c (out, g_ascii_tolower (*p));

  return g_string_free (out, FALSE);
}

/* Returns: (nullable): why the typed id cannot be added, %NULL if it can.
 * *complete says whether there is anything to add at all. */
static const char *
natter_add_contact_dialog_check (NatterAddContactDialog *self,
                                 const char             *peer_id,
                                 gboolean               *complete)
{
  NatterContact *existing;

  *complete = FALSE;

  if (peer_id[0] == '\0')
    return NULL;
  if (!natter_peer_id_is_valid (peer_id))
    {
      /* Still typing: only say so once it cannot become valid any more. */
      if (strlen (peer_id) < NATTER_PEER_ID_LENGTH &&
          strspn (peer_id, "abcdefghijklmnopqrstuvwxyz234567") == strlen (peer_id))
        return NULL;
      return _("This is not a peer ID. A peer ID has 52 letters and digits from 2 to 7.");
    }
  if (g_str_equal (peer_id, natter_client_get_peer_id (self->client)))
    return _("This is your own peer ID.");

  existing = natter_client_lookup_contact (self->client, peer_id);
  if (existing != NULL && natter_contact_get_state (existing) == NATTER_CONTACT_ACCEPTED)
    return _("This person is already one of your contacts.");
  if (existing != NULL && natter_contact_get_state (existing) == NATTER_CONTACT_BLOCKED)
    return _("You blocked this person.");

  *complete = TRUE;
  return NULL;
}

static void
natter_add_contact_dialog_show_problem (NatterAddContactDialog *self,
                                        const char             *problem)
{
  gtk_label_set_label (self->problem_label, problem != NULL ? problem : "");
  gtk_widget_set_visible (GTK_WIDGET (self->problem_label), problem != NULL);

  if (problem != NULL)
    gtk_widget_add_css_class (GTK_WIDGET (self->peer_id_row), "error");
  else
    gtk_widget_remove_css_class (GTK_WIDGET (self->peer_id_row), "error");
}

static void
on_peer_id_changed (NatterAddContactDialog *self)
{
  g_autofree char *peer_id = normalize_peer_id (gtk_editable_get_text (GTK_EDITABLE (self->peer_id_row)));
  gboolean complete;
  const char *problem;

  problem = natter_add_contact_dialog_check (self, peer_id, &complete);
  natter_add_contact_dialog_show_problem (self, problem);
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "add-contact.add", complete);
}

static void
on_entry_activated (NatterAddContactDialog *self)
{
  gtk_widget_activate_action (GTK_WIDGET (self), "add-contact.add", NULL);
}

static void
natter_add_contact_dialog_add_action (GtkWidget  *widget,
                                      const char *action_name,
                                      GVariant   *param)
{
  NatterAddContactDialog *self = NATTER_ADD_CONTACT_DIALOG (widget);
  g_autofree char *peer_id = normalize_peer_id (gtk_editable_get_text (GTK_EDITABLE (self->peer_id_row)));
  g_autofree char *name = g_strstrip (g_strdup (gtk_editable_get_text (GTK_EDITABLE (self->name_row))));
  g_autoptr(GError) error = NULL;
  NatterContact *contact;
  gboolean complete;

  /* Enter in an entry comes here too, whatever the action's state. */
  if (natter_add_contact_dialog_check (self, peer_id, &complete) != NULL || !complete)
    return;

  contact = natter_client_add_contact (self->client, peer_id, name[0] != '\0' ? name : NULL, &error);
  if (contact == NULL)
    {
      g_message ("Cannot add contact %.8s…: %s", peer_id, error->message);
      natter_add_contact_dialog_show_problem (self, _("The contact could not be saved. Try again."));
      return;
    }

  g_signal_emit (self, signals[CONTACT_ADDED], 0, contact);
  gtk_window_destroy (GTK_WINDOW (self));
}

static void
natter_add_contact_dialog_dispose (GObject *object)
{
  NatterAddContactDialog *self = (NatterAddContactDialog *)object;

  gtk_widget_dispose_template (GTK_WIDGET (self), NATTER_TYPE_ADD_CONTACT_DIALOG);
  g_clear_object (&self->client);

  G_OBJECT_CLASS (natter_add_contact_dialog_parent_class)->dispose (object);
}

static void
natter_add_contact_dialog_get_property (GObject    *object,
                                        guint       prop_id,
                                        GValue     *value,
                                        GParamSpec *pspec)
{
  NatterAddContactDialog *self = NATTER_ADD_CONTACT_DIALOG (object);

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
natter_add_contact_dialog_set_property (GObject      *object,
                                        guint         prop_id,
                                        const GValue *value,
                                        GParamSpec   *pspec)
{
  NatterAddContactDialog *self = NATTER_ADD_CONTACT_DIALOG (object);

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
natter_add_contact_dialog_class_init (NatterAddContactDialogClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = natter_add_contact_dialog_dispose;
  object_class->get_property = natter_add_contact_dialog_get_property;
  object_class->set_property = natter_add_contact_dialog_set_property;

  /**
   * NatterAddContactDialog:client:
   *
   * The account the contact is added to.
   */
  properties[PROP_CLIENT] =
    g_param_spec_object ("client", NULL, NULL,
                         NATTER_TYPE_CLIENT,
                         (G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY |
                          G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS));

  g_object_class_install_properties (object_class, N_PROPS, properties);

  /**
   * NatterAddContactDialog::contact-added:
   * @contact: the new (or newly asked) contact
   *
   * Emitted once the request is stored, just before the dialog closes.
   */
  signals[CONTACT_ADDED] = g_signal_new ("contact-added", G_TYPE_FROM_CLASS (klass),
                                         G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                                         G_TYPE_NONE, 1, NATTER_TYPE_CONTACT);

  gtk_widget_class_set_template_from_resource (widget_class, "/io/github/natter/Natter/natter-add-contact-dialog.ui");
  gtk_widget_class_bind_template_child (widget_class, NatterAddContactDialog, peer_id_row);
  gtk_widget_class_bind_template_child (widget_class, NatterAddContactDialog, name_row);
  gtk_widget_class_bind_template_child (widget_class, NatterAddContactDialog, problem_label);
  gtk_widget_class_bind_template_callback (widget_class, on_peer_id_changed);
  gtk_widget_class_bind_template_callback (widget_class, on_entry_activated);

  gtk_widget_class_install_action (widget_class, "add-contact.add", NULL,
                                   natter_add_contact_dialog_add_action);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_Escape, 0, "window.close", NULL);
}

static void
natter_add_contact_dialog_init (NatterAddContactDialog *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "add-contact.add", FALSE);
}

/**
 * natter_add_contact_dialog_new:
 * @parent: the window the dialog belongs to
 * @client: the account to add the contact to
 *
 * Returns: (transfer none): a new dialog, not yet shown
 */
GtkWidget *
natter_add_contact_dialog_new (GtkWindow    *parent,
                               NatterClient *client)
{
  g_return_val_if_fail (GTK_IS_WINDOW (parent), NULL);
  g_return_val_if_fail (NATTER_IS_CLIENT (client), NULL);

  return g_object_new (NATTER_TYPE_ADD_CONTACT_DIALOG,
                       "transient-for", parent,
                       "client", client,
                       NULL);
}
