/* natter-application.c: command line, profile and identity loading, app-wide actions. */
#define G_LOG_DOMAIN "natter-ui"

#include <stdlib.h>
#include <glib/gi18n.h>

#include "natter-identity.h"

#include "natter-application.h"

#include "natter-signaling.h"
#include "natter-profile-error-window.h"
#include "natter-window.h"

struct _NatterApplication
{
  AdwApplication  parent_instance;

  /* owned references */
  char           *profile_dir;
  char           *broker_url;
  GStrv           ice_addresses;
  NatterIdentity *identity;
  /* Why the profile could not be opened; shown by activate() instead of the main window. */
  GError         *profile_error;
};

G_DEFINE_FINAL_TYPE (NatterApplication, natter_application, ADW_TYPE_APPLICATION)

enum {
  PROP_0,
  PROP_PROFILE_DIR,
  PROP_BROKER_URL,
  PROP_ICE_ADDRESSES,
  PROP_IDENTITY,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

static const GOptionEntry main_entries[] = {
  { "profile", 'p', G_OPTION_FLAG_NONE, G_OPTION_ARG_FILENAME, NULL,
    N_("Use the profile stored in DIR (allows several instances side by side)"), N_("DIR") },
  { "broker", 'b', G_OPTION_FLAG_NONE, G_OPTION_ARG_STRING, NULL,
    N_("Signaling broker to connect to, for example mqtt://127.0.0.1:1883"), N_("URL") },
  { "ice-address", 0, G_OPTION_FLAG_NONE, G_OPTION_ARG_STRING_ARRAY, NULL,
    N_("Only use this local address for calls and chats (repeatable)"), N_("ADDRESS") },
  { "version", 0, G_OPTION_FLAG_NONE, G_OPTION_ARG_NONE, NULL,
    N_("Print the version and exit"), NULL },
  { NULL }
};

/* The signaling layer's own parser decides, so the app never accepts a URL
 * the client would refuse; whether the broker answers is shown in the window. */
static gboolean
broker_url_is_valid (const char *url)
{
  g_autofree char *host = NULL;
  guint16 port;
  gboolean tls;

  return natter_signaling_parse_broker_url (url, &host, &port, &tls, NULL);
}

static gint
natter_application_handle_local_options (GApplication *app,
                                         GVariantDict *options)
{
  NatterApplication *self = NATTER_APPLICATION (app);
  const char *profile = NULL;
  const char *broker = NULL;
  g_autofree const char **ice_addresses = NULL;

  if (g_variant_dict_contains (options, "version"))
    {
      g_print ("natter %s\n", NATTER_VERSION);
      return EXIT_SUCCESS;
    }

  if (g_variant_dict_lookup (options, "profile", "^&ay", &profile))
    {
      if (profile[0] == '\0')
        {
          g_printerr (_("The profile directory must not be empty\n"));
          return EXIT_FAILURE;
        }

      g_free (self->profile_dir);
      self->profile_dir = g_canonicalize_filename (profile, NULL);
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_PROFILE_DIR]);

      /* A profile is one identity. Handing the command line to an instance
       * that runs another profile would open the wrong account, so every
       * --profile process is its own primary instance. */
      g_application_set_flags (app, g_application_get_flags (app) | G_APPLICATION_NON_UNIQUE);
    }

  if (g_variant_dict_lookup (options, "broker", "&s", &broker))
    {
      if (!broker_url_is_valid (broker))
        {
          g_printerr (_("“%s” is not a broker URL (expected mqtt://HOST:PORT or mqtts://HOST:PORT)\n"),
                      broker);
          return EXIT_FAILURE;
        }

      g_free (self->broker_url);
      self->broker_url = g_strdup (broker);
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_BROKER_URL]);
    }

  if (g_variant_dict_lookup (options, "ice-address", "^a&s", &ice_addresses))
    {
      for (guint i = 0; ice_addresses[i] != NULL; i++)
        {
          if (!g_hostname_is_ip_address (ice_addresses[i]))
            {
              g_printerr (_("“%s” is not an IP address\n"), ice_addresses[i]);
              return EXIT_FAILURE;
            }
        }

      g_strfreev (self->ice_addresses);
      self->ice_addresses = g_strdupv ((char **) ice_addresses);
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_ICE_ADDRESSES]);
    }

  return G_APPLICATION_CLASS (natter_application_parent_class)->handle_local_options (app, options);
}

static void
natter_application_load_profile (NatterApplication *self)
{
  g_autoptr(GError) error = NULL;

  g_assert (self->identity == NULL);

  /* Synchronous on purpose: one small file, read once before the first
   * window exists, and nothing can be shown without it. A corrupt file is
   * reported, never replaced (the core refuses to overwrite it). */
  self->identity = natter_identity_load_or_create (self->profile_dir, &error);

  if (self->identity == NULL)
    {
      /* Not g_warning(): a damaged file is a user situation, not a bug, and
       * the window explains it. */
      g_message ("Cannot open profile %s: %s", self->profile_dir, error->message);
      self->profile_error = g_steal_pointer (&error);
      return;
    }

  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_IDENTITY]);
}

static void
natter_application_activate (GApplication *app)
{
  NatterApplication *self = NATTER_APPLICATION (app);
  GtkWindow *window;

  window = gtk_application_get_active_window (GTK_APPLICATION (self));

  if (window == NULL)
    {
      if (self->identity != NULL)
        window = GTK_WINDOW (natter_window_new (self, self->identity));
      else
        window = GTK_WINDOW (natter_profile_error_window_new (GTK_APPLICATION (self),
                                                              self->profile_dir,
                                                              self->profile_error));
    }

  gtk_window_present (window);
}

static void
natter_application_quit_action (GSimpleAction *action,
                                GVariant      *param,
                                gpointer       user_data)
{
  g_application_quit (G_APPLICATION (user_data));
}

static void
natter_application_about_action (GSimpleAction *action,
                                 GVariant      *param,
                                 gpointer       user_data)
{
  NatterApplication *self = user_data;
  GtkWidget *about;

  about = g_object_new (ADW_TYPE_ABOUT_WINDOW,
                        "transient-for", gtk_application_get_active_window (GTK_APPLICATION (self)),
                        "application-icon", NATTER_APP_ID,
                        "application-name", _("Natter"),
                        "developer-name", _("The Natter developers"),
                        "version", NATTER_VERSION,
                        "comments", _("Chat directly with the people you know. "
                                      "Messages travel peer to peer; the server only introduces you."),
                        "copyright", _("© The Natter developers"),
                        "license-type", GTK_LICENSE_GPL_3_0,
                        /* Translators: Replace "translator-credits" with your names, one name per line */
                        "translator-credits", _("translator-credits"),
                        NULL);
  gtk_window_present (GTK_WINDOW (about));
}

static void
natter_application_preferences_action (GSimpleAction *action,
                                       GVariant      *param,
                                       gpointer       user_data)
{
  /* Disabled until the preferences window exists. */
}

static const GActionEntry app_actions[] = {
  { "quit", natter_application_quit_action },
  { "about", natter_application_about_action },
  { "preferences", natter_application_preferences_action },
};

static void
natter_application_startup (GApplication *app)
{
  NatterApplication *self = NATTER_APPLICATION (app);
  static const char *quit_accels[] = { "<Control>q", NULL };
  static const char *close_accels[] = { "<Control>w", NULL };
  static const char *help_accels[] = { "<Control>question", NULL };
  GAction *preferences;

  G_APPLICATION_CLASS (natter_application_parent_class)->startup (app);

  g_action_map_add_action_entries (G_ACTION_MAP (self), app_actions, G_N_ELEMENTS (app_actions), self);
  preferences = g_action_map_lookup_action (G_ACTION_MAP (self), "preferences");
  g_simple_action_set_enabled (G_SIMPLE_ACTION (preferences), FALSE);

  gtk_application_set_accels_for_action (GTK_APPLICATION (self), "app.quit", quit_accels);
  gtk_application_set_accels_for_action (GTK_APPLICATION (self), "window.close", close_accels);
  /* GtkApplication sets this one itself when it finds gtk/help-overlay.ui;
   * stating it keeps every shortcut of the app in one place. */
  gtk_application_set_accels_for_action (GTK_APPLICATION (self), "win.show-help-overlay", help_accels);

  natter_application_load_profile (self);
}

static void
natter_application_finalize (GObject *object)
{
  NatterApplication *self = (NatterApplication *)object;

  g_clear_pointer (&self->profile_dir, g_free);
  g_clear_pointer (&self->broker_url, g_free);
  g_clear_pointer (&self->ice_addresses, g_strfreev);
  g_clear_object (&self->identity);
  g_clear_error (&self->profile_error);

  G_OBJECT_CLASS (natter_application_parent_class)->finalize (object);
}

static void
natter_application_get_property (GObject    *object,
                                 guint       prop_id,
                                 GValue     *value,
                                 GParamSpec *pspec)
{
  NatterApplication *self = NATTER_APPLICATION (object);

  switch (prop_id)
    {
    case PROP_PROFILE_DIR:
      g_value_set_string (value, self->profile_dir);
      break;

    case PROP_BROKER_URL:
      g_value_set_string (value, self->broker_url);
      break;

    case PROP_ICE_ADDRESSES:
      g_value_set_boxed (value, self->ice_addresses);
      break;

    case PROP_IDENTITY:
      g_value_set_object (value, self->identity);
      break;

    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
natter_application_class_init (NatterApplicationClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GApplicationClass *app_class = G_APPLICATION_CLASS (klass);

  object_class->finalize = natter_application_finalize;
  object_class->get_property = natter_application_get_property;

  app_class->handle_local_options = natter_application_handle_local_options;
  app_class->startup = natter_application_startup;
  app_class->activate = natter_application_activate;

  /**
   * NatterApplication:profile-dir:
   *
   * The directory holding this instance's identity, contacts and history.
   */
  properties[PROP_PROFILE_DIR] =
    g_param_spec_string ("profile-dir", NULL, NULL,
                         NULL,
                         (G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS));

  /**
   * NatterApplication:broker-url:
   *
   * The signaling broker given with --broker, or %NULL to use the settings.
   */
  properties[PROP_BROKER_URL] =
    g_param_spec_string ("broker-url", NULL, NULL,
                         NULL,
                         (G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS));

  /**
   * NatterApplication:ice-addresses:
   *
   * Local addresses ICE is restricted to (--ice-address), or %NULL for all.
   */
  properties[PROP_ICE_ADDRESSES] =
    g_param_spec_boxed ("ice-addresses", NULL, NULL,
                        G_TYPE_STRV,
                        (G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS));

  /**
   * NatterApplication:identity:
   *
   * The profile's identity, or %NULL before startup or when it could not be read.
   */
  properties[PROP_IDENTITY] =
    g_param_spec_object ("identity", NULL, NULL,
                         NATTER_TYPE_IDENTITY,
                         (G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS));

  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
natter_application_init (NatterApplication *self)
{
  self->profile_dir = g_build_filename (g_get_user_data_dir (), "natter", "default", NULL);

  g_application_add_main_option_entries (G_APPLICATION (self), main_entries);
  g_application_set_option_context_summary (G_APPLICATION (self),
                                            _("Peer-to-peer chat for GNOME."));
}

/**
 * natter_application_new:
 *
 * Creates the application. Call g_application_run() on it.
 *
 * Returns: (transfer full): a new #NatterApplication
 */
NatterApplication *
natter_application_new (void)
{
  return g_object_new (NATTER_TYPE_APPLICATION,
                       "application-id", NATTER_APP_ID,
                       "flags", G_APPLICATION_DEFAULT_FLAGS,
                       "resource-base-path", "/io/github/natter/Natter",
                       NULL);
}

/**
 * natter_application_get_profile_dir:
 * @self: a #NatterApplication
 *
 * Returns: the absolute path of the profile directory in use
 */
const char *
natter_application_get_profile_dir (NatterApplication *self)
{
  g_return_val_if_fail (NATTER_IS_APPLICATION (self), NULL);

  return self->profile_dir;
}

/**
 * natter_application_get_broker_url:
 * @self: a #NatterApplication
 *
 * Returns: (nullable): the broker URL given on the command line
 */
const char *
natter_application_get_broker_url (NatterApplication *self)
{
  g_return_val_if_fail (NATTER_IS_APPLICATION (self), NULL);

  return self->broker_url;
}

/**
 * natter_application_get_ice_addresses:
 * @self: a #NatterApplication
 *
 * Returns: (nullable) (transfer none): the --ice-address values, or %NULL
 */
const char * const *
natter_application_get_ice_addresses (NatterApplication *self)
{
  g_return_val_if_fail (NATTER_IS_APPLICATION (self), NULL);

  return (const char * const *) self->ice_addresses;
}

/**
 * natter_application_get_identity:
 * @self: a #NatterApplication
 *
 * Returns: (nullable) (transfer none): the profile's identity, once started
 */
NatterIdentity *
natter_application_get_identity (NatterApplication *self)
{
  g_return_val_if_fail (NATTER_IS_APPLICATION (self), NULL);

  return self->identity;
}
