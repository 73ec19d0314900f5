/* natter-profile-error-window.c: shown instead of the main window when a profile cannot be opened. */
#define G_LOG_DOMAIN "natter-ui"

#include <glib/gi18n.h>

#include "natter-profile-error-window.h"

struct _NatterProfileErrorWindow
{
  AdwApplicationWindow  parent_instance;

  /* template widgets */
  AdwStatusPage        *status_page;
  GtkLabel             *error_label;
  GtkButton            *quit_button;

  /* owned references */
  char                 *profile_dir;
  GError               *error;
};

G_DEFINE_FINAL_TYPE (NatterProfileErrorWindow, natter_profile_error_window, ADW_TYPE_APPLICATION_WINDOW)

enum {
  PROP_0,
  PROP_PROFILE_DIR,
  PROP_ERROR,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

static void
natter_profile_error_window_update (NatterProfileErrorWindow *self)
{
  g_autofree char *description = NULL;
  g_autofree char *escaped = NULL;

  /* The status page description is markup, and a path may contain '&' or '<'. */
  escaped = g_markup_escape_text (self->profile_dir != NULL ? self->profile_dir : "", -1);
  /* Translators: %s is a folder path */
  description = g_strdup_printf (_("Natter could not read the identity stored in <b>%s</b>."), escaped);
  adw_status_page_set_description (self->status_page, description);

  gtk_label_set_label (self->error_label, self->error != NULL ? self->error->message : "");
  gtk_widget_set_visible (GTK_WIDGET (self->error_label), self->error != NULL);
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "win.open-profile-folder", self->profile_dir != NULL);
}

static void
natter_profile_error_window_open_folder_action (GtkWidget  *widget,
                                                const char *action_name,
                                                GVariant   *param)
{
  NatterProfileErrorWindow *self = NATTER_PROFILE_ERROR_WINDOW (widget);
  g_autofree char *uri = NULL;

  g_assert (self->profile_dir != NULL);

  uri = g_filename_to_uri (self->profile_dir, NULL, NULL);
  if (uri != NULL)
    gtk_show_uri (GTK_WINDOW (self), uri, GDK_CURRENT_TIME);
}

static void
natter_profile_error_window_finalize (GObject *object)
{
  NatterProfileErrorWindow *self = (NatterProfileErrorWindow *)object;

  g_clear_pointer (&self->profile_dir, g_free);
  g_clear_error (&self->error);

  G_OBJECT_CLASS (natter_profile_error_window_parent_class)->finalize (object);
}

static void
natter_profile_error_window_dispose (GObject *object)
{
  gtk_widget_dispose_template (GTK_WIDGET (object), NATTER_TYPE_PROFILE_ERROR_WINDOW);

  G_OBJECT_CLASS (natter_profile_error_window_parent_class)->dispose (object);
}

static void
natter_profile_error_window_get_property (GObject    *object,
                                          guint       prop_id,
                                          GValue     *value,
                                          GParamSpec *pspec)
{
  NatterProfileErrorWindow *self = NATTER_PROFILE_ERROR_WINDOW (object);

  switch (prop_id)
    {
    case PROP_PROFILE_DIR:
      g_value_set_string (value, self->profile_dir);
      break;

    case PROP_ERROR:
      g_value_set_boxed (value, self->error);
      break;

    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
natter_profile_error_window_set_property (GObject      *object,
                                          guint         prop_id,
                                          const GValue *value,
                                          GParamSpec   *pspec)
{
  NatterProfileErrorWindow *self = NATTER_PROFILE_ERROR_WINDOW (object);

  /* Both are construct-only: set exactly once, so there is nothing to notify. */
  switch (prop_id)
    {
    case PROP_PROFILE_DIR:
      g_assert (self->profile_dir == NULL);
      self->profile_dir = g_value_dup_string (value);
      break;

    case PROP_ERROR:
      g_assert (self->error == NULL);
      self->error = g_value_dup_boxed (value);
      break;

    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

/* Otherwise the selectable error text, the first focusable widget, takes
 * the initial focus and selects itself. The Quit button can only take focus
 * once app.quit is reachable, that is once the window has its application,
 * which GObject sets after constructed(). */
static void
natter_profile_error_window_notify_application (NatterProfileErrorWindow *self)
{
  if (gtk_window_get_application (GTK_WINDOW (self)) != NULL)
    gtk_window_set_focus (GTK_WINDOW (self), GTK_WIDGET (self->quit_button));
}

static void
natter_profile_error_window_constructed (GObject *object)
{
  NatterProfileErrorWindow *self = NATTER_PROFILE_ERROR_WINDOW (object);

  G_OBJECT_CLASS (natter_profile_error_window_parent_class)->constructed (object);

  natter_profile_error_window_update (self);
}

static void
natter_profile_error_window_class_init (NatterProfileErrorWindowClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->constructed = natter_profile_error_window_constructed;
  object_class->dispose = natter_profile_error_window_dispose;
  object_class->finalize = natter_profile_error_window_finalize;
  object_class->get_property = natter_profile_error_window_get_property;
  object_class->set_property = natter_profile_error_window_set_property;

  /**
   * NatterProfileErrorWindow:profile-dir:
   *
   * The profile directory that could not be opened.
   */
  properties[PROP_PROFILE_DIR] =
    g_param_spec_string ("profile-dir", NULL, NULL,
                         NULL,
                         (G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY |
                          G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS));

  /**
   * NatterProfileErrorWindow:error:
   *
   * Why it could not be opened; its message is shown as is.
   */
  properties[PROP_ERROR] =
    g_param_spec_boxed ("error", NULL, NULL,
                        G_TYPE_ERROR,
                        (G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY |
                         G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS));

  g_object_class_install_properties (object_class, N_PROPS, properties);

  gtk_widget_class_set_template_from_resource (widget_class, "/io/github/natter/Natter/natter-profile-error-window.ui");
  gtk_widget_class_bind_template_child (widget_class, NatterProfileErrorWindow, status_page);
  gtk_widget_class_bind_template_child (widget_class, NatterProfileErrorWindow, error_label);
  gtk_widget_class_bind_template_child (widget_class, NatterProfileErrorWindow, quit_button);

  gtk_widget_class_install_action (widget_class, "win.open-profile-folder", NULL,
                                   natter_profile_error_window_open_folder_action);
}

static void
natter_profile_error_window_init (NatterProfileErrorWindow *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));

  g_signal_connect (self, "notify::application",
                    G_CALLBACK (natter_profile_error_window_notify_application), NULL);
}

/**
 * natter_profile_error_window_new:
 * @application: the application
 * @profile_dir: the profile directory that could not be opened
 * @error: why
 *
 * Returns: (transfer full): a new #NatterProfileErrorWindow
 */
NatterProfileErrorWindow *
natter_profile_error_window_new (GtkApplication *application,
                                 const char     *profile_dir,
                                 const GError   *error)
{
  g_return_val_if_fail (GTK_IS_APPLICATION (application), NULL);
  g_return_val_if_fail (profile_dir != NULL, NULL);
  g_return_val_if_fail (error != NULL, NULL);

  return g_object_new (NATTER_TYPE_PROFILE_ERROR_WINDOW,
                       "application", application,
                       "profile-dir", profile_dir,
                       "error", error,
                       NULL);
}
