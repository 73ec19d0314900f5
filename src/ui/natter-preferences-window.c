/* natter-preferences-window.c: the Preferences window; every value lives in GSettings (the broker password in the profile). */
#define G_LOG_DOMAIN "natter-ui"

#include <glib/gi18n.h>

#include "natter-ice-config.h"

#include "natter-preferences-window.h"

#define MAX_DISPLAY_NAME 128

struct _NatterPreferencesWindow
{
  AdwPreferencesWindow  parent_instance;

  /* template widgets */
  AdwEntryRow          *display_name_row;
  GtkSwitch            *notifications_switch;
  AdwActionRow         *download_folder_row;
  AdwEntryRow          *broker_url_row;
  AdwEntryRow          *broker_username_row;
  AdwEntryRow          *broker_password_row;
  AdwEntryRow          *stun_row;
  AdwEntryRow          *turn_row;

  /* owned references */
  GSettings            *settings;
  NatterClient         *client;   /* the profile's broker password */
};

G_DEFINE_FINAL_TYPE (NatterPreferencesWindow, natter_preferences_window, ADW_TYPE_PREFERENCES_WINDOW)

static void update_download_folder (NatterPreferencesWindow *self);

/* Returns: (nullable): why @text cannot be used for @row, or %NULL. */
typedef const char *(*CheckFunc) (const char *text);

static const char *
check_display_name (const char *text)
{
  if (g_utf8_strlen (text, -1) > MAX_DISPLAY_NAME)
    return _("A display name can have at most 128 characters");
  return NULL;
}

static const char *
check_broker_url (const char *text)
{
  if (!natter_client_check_broker_url (text, NULL))
    return _("Use an address like mqtt://HOST:PORT or mqtts://HOST:PORT");
  return NULL;
}

static const char *
check_stun (const char *text)
{
  g_autoptr(NatterIceConfig) ice = natter_ice_config_new ();

  if (text[0] != '\0' && !natter_ice_config_set_stun_server (ice, text, NULL))
    return _("Use an address like stun://HOST:PORT, or leave it empty");
  return NULL;
}

static const char *
check_turn (const char *text)
{
  g_autoptr(NatterIceConfig) ice = natter_ice_config_new ();
  g_auto(GStrv) urls = g_strsplit_set (text, " \t\n,", -1);

  for (guint i = 0; urls[i] != NULL; i++)
    if (urls[i][0] != '\0' && !natter_ice_config_add_turn_server (ice, urls[i], NULL))
      return _("Use addresses like turn://USER:PASSWORD@HOST:PORT, separated by spaces");
  return NULL;
}

/* Every string row, the setting it edits and how it is checked. */
typedef struct
{
  gsize       offset;   /* of the row in the struct */
  const char *key;      /* GSettings key; NULL: the profile's broker password */
  CheckFunc   check;
} RowSpec;

static const RowSpec row_specs[] = {
  { G_STRUCT_OFFSET (NatterPreferencesWindow, display_name_row), "display-name", check_display_name },
  { G_STRUCT_OFFSET (NatterPreferencesWindow, broker_url_row), "broker-url", check_broker_url },
  { G_STRUCT_OFFSET (NatterPreferencesWindow, broker_username_row), "broker-username", NULL },
  { G_STRUCT_OFFSET (NatterPreferencesWindow, broker_password_row), NULL, NULL },
  { G_STRUCT_OFFSET (NatterPreferencesWindow, stun_row), "stun-server", check_stun },
  { G_STRUCT_OFFSET (NatterPreferencesWindow, turn_row), "turn-servers", check_turn },
};

static AdwEntryRow *
row_of (NatterPreferencesWindow *self,
        const RowSpec           *spec)
{
  return G_STRUCT_MEMBER (AdwEntryRow *, self, spec->offset);
}

static const RowSpec *
spec_for_row (NatterPreferencesWindow *self,
              AdwEntryRow             *row)
{
  for (guint i = 0; i < G_N_ELEMENTS (row_specs); i++)
    if (row_of (self, &row_specs[i]) == row)
      return &row_specs[i];
  g_assert_not_reached ();
}

static void
on_row_changed (AdwEntryRow             *row,
                NatterPreferencesWindow *self)
{
  gtk_widget_remove_css_class (GTK_WIDGET (row), "error");
}

static void
on_row_apply (AdwEntryRow             *row,
              NatterPreferencesWindow *self)
{
  const RowSpec *spec = spec_for_row (self, row);
  g_autofree char *text = g_strstrip (g_strdup (gtk_editable_get_text (GTK_EDITABLE (row))));
  g_autoptr(GError) error = NULL;
  const char *problem = spec->check != NULL ? spec->check (text) : NULL;

  if (problem == NULL && spec->key == NULL &&
      !natter_client_set_broker_password (self->client, text, &error))
    {
      g_message ("Cannot save the broker password: %s", error->message);
      problem = _("The password could not be saved");
    }

  if (problem != NULL)
    {
      gtk_widget_add_css_class (GTK_WIDGET (row), "error");
      adw_preferences_window_add_toast (ADW_PREFERENCES_WINDOW (self), adw_toast_new (problem));
      return;
    }

  if (spec->key == NULL)
    return;
  if (g_str_equal (spec->key, "turn-servers"))
    {
      g_auto(GStrv) urls = g_strsplit_set (text, " \t\n,", -1);
      g_autoptr(GStrvBuilder) builder = g_strv_builder_new ();
      g_auto(GStrv) list = NULL;

      for (guint i = 0; urls[i] != NULL; i++)
        if (urls[i][0] != '\0')
          g_strv_builder_add (builder, urls[i]);
      list = g_strv_builder_end (builder);
      g_settings_set_strv (self->settings, spec->key, (const char * const *) list);
    }
  else
    g_settings_set_string (self->settings, spec->key, text);
}

static void
natter_preferences_window_load (NatterPreferencesWindow *self)
{
  g_auto(GStrv) turn = g_settings_get_strv (self->settings, "turn-servers");
  g_autofree char *turn_text = g_strjoinv (" ", turn);
  g_autofree char *password = natter_client_dup_broker_password (self->client);

  for (guint i = 0; i < G_N_ELEMENTS (row_specs); i++)
    {
      const RowSpec *spec = &row_specs[i];
      g_autofree char *value = NULL;

      if (spec->key == NULL)
        value = g_strdup (password != NULL ? password : "");
      else if (g_str_equal (spec->key, "turn-servers"))
        value = g_strdup (turn_text);
      else
        value = g_settings_get_string (self->settings, spec->key);
      gtk_editable_set_text (GTK_EDITABLE (row_of (self, spec)), value);
    }

  /* A switch is applied as it is flipped; nothing to check. */
  g_settings_bind (self->settings, "notifications", self->notifications_switch, "active",
                   G_SETTINGS_BIND_DEFAULT);
  update_download_folder (self);
}

/* The setting's empty default means the Downloads folder: show which. */
static void
update_download_folder (NatterPreferencesWindow *self)
{
  g_autofree char *folder = g_settings_get_string (self->settings, "download-folder");
  const char *shown = folder[0] != '\0' ? folder
                                          : g_get_user_special_dir (G_USER_DIRECTORY_DOWNLOAD);

  adw_action_row_set_subtitle (self->download_folder_row,
                               shown != NULL ? shown : g_get_home_dir ());
}

static void
on_download_folder_response (GtkNativeDialog         *chooser,
                             int                      response,
                             NatterPreferencesWindow *self)
{
  if (response == GTK_RESPONSE_ACCEPT)
    {
      g_autoptr(GFile) folder = gtk_file_chooser_get_file (GTK_FILE_CHOOSER (chooser));
      g_autofree char *path = folder != NULL ? g_file_get_path (folder) : NULL;

      if (path != NULL)
        {
          g_settings_set_string (self->settings, "download-folder", path);
          update_download_folder (self);
        }
    }
  g_object_unref (chooser);
}

static void
on_choose_download_folder (NatterPreferencesWindow *self)
{
  GtkFileChooserNative *chooser;

  chooser = gtk_file_chooser_native_new (_("Download Folder"), GTK_WINDOW (self),
                                         GTK_FILE_CHOOSER_ACTION_SELECT_FOLDER,
                                         _("_Select"), NULL);
  gtk_native_dialog_set_modal (GTK_NATIVE_DIALOG (chooser), TRUE);
  /* The chooser frees itself in the handler, or with the window. */
  g_signal_connect_object (chooser, "response", G_CALLBACK (on_download_folder_response), self, 0);
  gtk_native_dialog_show (GTK_NATIVE_DIALOG (chooser));
}

static void
natter_preferences_window_dispose (GObject *object)
{
  NatterPreferencesWindow *self = (NatterPreferencesWindow *)object;

  gtk_widget_dispose_template (GTK_WIDGET (self), NATTER_TYPE_PREFERENCES_WINDOW);
  g_clear_object (&self->settings);
  g_clear_object (&self->client);

  G_OBJECT_CLASS (natter_preferences_window_parent_class)->dispose (object);
}

static void
natter_preferences_window_class_init (NatterPreferencesWindowClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = natter_preferences_window_dispose;

  gtk_widget_class_set_template_from_resource (widget_class, "/io/github/natter/Natter/natter-preferences-window.ui");
  gtk_widget_class_bind_template_child (widget_class, NatterPreferencesWindow, display_name_row);
  gtk_widget_class_bind_template_child (widget_class, NatterPreferencesWindow, notifications_switch);
  gtk_widget_class_bind_template_child (widget_class, NatterPreferencesWindow, download_folder_row);
  gtk_widget_class_bind_template_callback (widget_class, on_choose_download_folder);
  gtk_widget_class_bind_template_child (widget_class, NatterPreferencesWindow, broker_url_row);
  gtk_widget_class_bind_template_child (widget_class, NatterPreferencesWindow, broker_username_row);
  gtk_widget_class_bind_template_child (widget_class, NatterPreferencesWindow, broker_password_row);
  gtk_widget_class_bind_template_child (widget_class, NatterPreferencesWindow, stun_row);
  gtk_widget_class_bind_template_child (widget_class, NatterPreferencesWindow, turn_row);
  gtk_widget_class_bind_template_callback (widget_class, on_row_apply);
  gtk_widget_class_bind_template_callback (widget_class, on_row_changed);
}

static void
natter_preferences_window_init (NatterPreferencesWindow *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));
  self->settings = g_settings_new (NATTER_APP_ID);
}

/**
 * natter_preferences_window_new:
 * @application: the application the window belongs to
 * @client: the profile's client (for its broker password)
 * @parent: (nullable): the window to stay above
 *
 * Returns: (transfer none): the Preferences window, not yet shown
 */
GtkWidget *
natter_preferences_window_new (GtkApplication *application,
                               NatterClient   *client,
                               GtkWindow      *parent)
{
  NatterPreferencesWindow *self;

  g_return_val_if_fail (GTK_IS_APPLICATION (application), NULL);
  g_return_val_if_fail (NATTER_IS_CLIENT (client), NULL);

  self = g_object_new (NATTER_TYPE_PREFERENCES_WINDOW,
                       "application", application,
                       "transient-for", parent,
                       NULL);
  self->client = g_object_ref (client);
  natter_preferences_window_load (self);

  return GTK_WIDGET (self);
}
