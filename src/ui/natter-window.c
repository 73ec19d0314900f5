/* natter-window.c: the main window, a contact sidebar and a conversation pane. */
#define G_LOG_DOMAIN "natter-ui"

#include <glib/gi18n.h>

#include "natter-identity.h"

#include "natter-window.h"

struct _NatterWindow
{
  AdwApplicationWindow  parent_instance;

  /* template widgets */
  AdwToastOverlay      *toast_overlay;
  AdwLeaflet           *leaflet;
  GtkListBox           *contacts_list;
  GtkStack             *content_stack;
  GtkLabel             *peer_id_label;
  GtkButton            *copy_button;

  /* owned references */
  NatterIdentity       *identity;
};

G_DEFINE_FINAL_TYPE (NatterWindow, natter_window, ADW_TYPE_APPLICATION_WINDOW)

enum {
  PROP_0,
  PROP_IDENTITY,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

/* Chooses what the content pane shows while no conversation is open: the
 * welcome page with our peer id until there is someone to talk to. */
static void
natter_window_update_content (NatterWindow *self)
{
  gboolean has_contacts = gtk_list_box_get_row_at_index (self->contacts_list, 0) != NULL;

  gtk_stack_set_visible_child_name (self->content_stack,
                                    has_contacts ? "no-conversation" : "no-contacts");

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
natter_window_copy_peer_id_action (GtkWidget  *widget,
                                   const char *action_name,
                                   GVariant   *param)
{
  NatterWindow *self = NATTER_WINDOW (widget);
  AdwToast *toast;

  g_assert (self->identity != NULL);

  gdk_clipboard_set_text (gtk_widget_get_clipboard (widget),
                          natter_identity_get_peer_id (self->identity));

  toast = adw_toast_new (_("Peer ID copied"));
  adw_toast_set_timeout (toast, 2);
  adw_toast_overlay_add_toast (self->toast_overlay, toast);
}

static void
natter_window_add_contact_action (GtkWidget  *widget,
                                  const char *action_name,
                                  GVariant   *param)
{
  /* Disabled until contact requests exist. */
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
natter_window_set_identity (NatterWindow   *self,
                            NatterIdentity *identity)
{
  if (!g_set_object (&self->identity, identity))
    return;

  gtk_label_set_label (self->peer_id_label,
                       identity != NULL ? natter_identity_get_peer_id (identity) : "");
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "win.copy-peer-id", identity != NULL);

  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_IDENTITY]);
}

static void
natter_window_dispose (GObject *object)
{
  NatterWindow *self = (NatterWindow *)object;

  gtk_widget_dispose_template (GTK_WIDGET (self), NATTER_TYPE_WINDOW);
  g_clear_object (&self->identity);

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
    case PROP_IDENTITY:
      g_value_set_object (value, self->identity);
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
    case PROP_IDENTITY:
      natter_window_set_identity (self, g_value_get_object (value));
      break;

    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
natter_window_constructed (GObject *object)
{
  G_OBJECT_CLASS (natter_window_parent_class)->constructed (object);

  /* Needs the identity (construct property) for the copy button to take focus. */
  natter_window_update_content (NATTER_WINDOW (object));
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
   * NatterWindow:identity:
   *
   * The identity of the profile this window shows.
   */
  properties[PROP_IDENTITY] =
    g_param_spec_object ("identity", NULL, NULL,
                         NATTER_TYPE_IDENTITY,
                         (G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY |
                          G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS));

  g_object_class_install_properties (object_class, N_PROPS, properties);

  gtk_widget_class_set_template_from_resource (widget_class, "/io/github/natter/Natter/natter-window.ui");
  gtk_widget_class_bind_template_child (widget_class, NatterWindow, toast_overlay);
  gtk_widget_class_bind_template_child (widget_class, NatterWindow, leaflet);
  gtk_widget_class_bind_template_child (widget_class, NatterWindow, contacts_list);
  gtk_widget_class_bind_template_child (widget_class, NatterWindow, content_stack);
  gtk_widget_class_bind_template_child (widget_class, NatterWindow, peer_id_label);
  gtk_widget_class_bind_template_child (widget_class, NatterWindow, copy_button);

  gtk_widget_class_install_action (widget_class, "win.copy-peer-id", NULL, natter_window_copy_peer_id_action);
  gtk_widget_class_install_action (widget_class, "win.add-contact", NULL, natter_window_add_contact_action);
  gtk_widget_class_install_action (widget_class, "win.show-contacts", NULL, natter_window_show_contacts_action);

  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_n, GDK_CONTROL_MASK, "win.add-contact", NULL);
}

static void
natter_window_init (NatterWindow *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));

  /* Until contact requests exist there is nothing to add contacts with. */
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "win.add-contact", FALSE);
  /* Enabled by the identity property, which is construct-only. */
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "win.copy-peer-id", FALSE);
}

/**
 * natter_window_new:
 * @application: the #NatterApplication
 * @identity: the profile's identity, whose peer id the window offers to share
 *
 * Returns: (transfer full): a new #NatterWindow
 */
NatterWindow *
natter_window_new (NatterApplication *application,
                   NatterIdentity    *identity)
{
  g_return_val_if_fail (NATTER_IS_APPLICATION (application), NULL);
  g_return_val_if_fail (NATTER_IS_IDENTITY (identity), NULL);

  return g_object_new (NATTER_TYPE_WINDOW,
                       "application", application,
                       "identity", identity,
                       NULL);
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

  return self->identity;
}
