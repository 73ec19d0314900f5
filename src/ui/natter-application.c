/* natter-application.c: command line, profile, the account's client and its settings, notifications, app-wide actions. */
#define G_LOG_DOMAIN "natter-ui"

#include <stdlib.h>
#include <glib/gi18n.h>

#include "natter-client.h"
#include "natter-identity.h"

#include "natter-application.h"

#include "natter-preferences-window.h"
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
  NatterClient   *client;
  GSettings      *settings;
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
  PROP_CLIENT,
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

/* The client's own check decides, so the app never accepts a URL the
 * client would refuse; whether the broker answers is shown in the window. */
static gboolean
broker_url_is_valid (const char *url)
{
  return natter_client_check_broker_url (url, NULL);
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

/* The broker: --broker wins over the settings for this run. */
static void
natter_application_apply_broker (NatterApplication *self)
{
  g_autofree char *url = NULL;
  g_autofree char *username = NULL;
  g_autofree char *password = NULL;
  g_autoptr(GError) error = NULL;

  url = self->broker_url != NULL ? g_strdup (self->broker_url)
                                 : g_settings_get_string (self->settings, "broker-url");
  username = g_settings_get_string (self->settings, "broker-username");
  password = natter_client_dup_broker_password (self->client);

  if (!natter_client_set_broker (self->client, url,
                                 username[0] != '\0' ? username : NULL,
                                 username[0] != '\0' && password != NULL && password[0] != '\0' ? password : NULL,
                                 NULL, &error))
    /* The window's banner says we are not connected; the log says why. */
    g_message ("Not using the configured broker: %s", error->message);
}

/* Servers from the settings, local addresses from --ice-address. Sessions
 * opened from now on use them. */
static void
natter_application_apply_ice (NatterApplication *self)
{
  g_autoptr(NatterIceConfig) ice = natter_ice_config_new ();
  g_autofree char *stun = g_settings_get_string (self->settings, "stun-server");
  g_auto(GStrv) turn = g_settings_get_strv (self->settings, "turn-servers");
  g_autoptr(GError) error = NULL;

  if (stun[0] != '\0' && !natter_ice_config_set_stun_server (ice, stun, &error))
    {
      g_message ("Ignoring the STUN server setting: %s", error->message);
      g_clear_error (&error);
    }
  for (guint i = 0; turn[i] != NULL; i++)
    {
      if (!natter_ice_config_add_turn_server (ice, turn[i], &error))
        {
          g_message ("Ignoring a TURN server setting: %s", error->message);
          g_clear_error (&error);
        }
    }
  for (guint i = 0; self->ice_addresses != NULL && self->ice_addresses[i] != NULL; i++)
    {
      if (!natter_ice_config_add_local_address (ice, self->ice_addresses[i], &error))
        {
          g_message ("Ignoring --ice-address %s: %s", self->ice_addresses[i], error->message);
          g_clear_error (&error);
        }
    }

  natter_client_set_ice_config (self->client, ice);
}

static void
natter_application_apply_display_name (NatterApplication *self)
{
  g_autofree char *name = g_settings_get_string (self->settings, "display-name");
  g_autoptr(GError) error = NULL;

  /* Empty means the user's real name, as the schema documents. */
  if (name[0] == '\0')
    {
      g_free (name);
      name = g_strdup (g_get_real_name ());
      if (g_str_equal (name, "Unknown"))
        return;
    }

  if (!natter_client_set_display_name (self->client, name, &error))
    g_message ("Cannot use the display name: %s", error->message);
}

/* Empty means the XDG download folder, as the schema documents. */
static void
natter_application_apply_download_folder (NatterApplication *self)
{
  g_autofree char *folder = g_settings_get_string (self->settings, "download-folder");
  const char *downloads = g_get_user_special_dir (G_USER_DIRECTORY_DOWNLOAD);

  if (folder[0] != '\0')
    natter_client_set_download_dir (self->client, folder);
  else
    natter_client_set_download_dir (self->client, downloads ? downloads : g_get_home_dir ());
}

static void
on_settings_changed (NatterApplication *self,
                     const char        *key,
                     GSettings         *settings)
{
  if (g_str_equal (key, "broker-url") || g_str_equal (key, "broker-username"))
    natter_application_apply_broker (self);
  else if (g_str_equal (key, "stun-server") || g_str_equal (key, "turn-servers"))
    natter_application_apply_ice (self);
  else if (g_str_equal (key, "display-name"))
    natter_application_apply_display_name (self);
  else if (g_str_equal (key, "download-folder"))
    natter_application_apply_download_folder (self);
}

static char *
notification_id_for (const char *peer_id)
{
  return g_strconcat ("message-", peer_id, NULL);
}

static NatterWindow *
natter_application_get_main_window (NatterApplication *self)
{
  for (GList *l = gtk_application_get_windows (GTK_APPLICATION (self)); l != NULL; l = l->next)
    if (NATTER_IS_WINDOW (l->data))
      return l->data;
  return NULL;
}

/* News from @peer_id nobody is looking at becomes a notification titled
 * with the contact's name; clicking it opens the conversation
 * (app.open-conversation, which also withdraws it). */
static void
notify_conversation (NatterApplication *self,
                     const char        *peer_id,
                     const char        *body,
                     const char        *category)
{
  NatterContact *contact = natter_client_lookup_contact (self->client, peer_id);
  NatterWindow *window = natter_application_get_main_window (self);
  g_autoptr(GNotification) notification = NULL;
  g_autofree char *id = NULL;

  if (contact == NULL || !g_settings_get_boolean (self->settings, "notifications"))
    return;
  if (window != NULL && natter_window_is_showing_conversation (window, peer_id))
    return;

  notification = g_notification_new (natter_contact_get_display_name (contact));
  g_notification_set_body (notification, body);
  g_notification_set_category (notification, category);
  g_notification_set_default_action_and_target (notification, "app.open-conversation", "s", peer_id);
  id = notification_id_for (peer_id);
  /* One per conversation: newer news replaces the older notification. */
  g_application_send_notification (G_APPLICATION (self), id, notification);
}

static void
on_message_received (NatterApplication *self,
                     NatterMessage     *message,
                     NatterClient      *client)
{
  notify_conversation (self, natter_message_get_author (message),
                       natter_message_get_body (message), "im.received");
}

/* An offer waits for the user's answer: the sender cannot do more until then. */
static void
on_transfer_added (NatterApplication *self,
                   NatterTransfer    *transfer,
                   NatterClient      *client)
{
  g_autofree char *size = NULL;
  g_autofree char *body = NULL;

  if (natter_transfer_get_direction (transfer) != NATTER_TRANSFER_INCOMING ||
      natter_transfer_get_state (transfer) != NATTER_TRANSFER_OFFERED)
    return;
  size = g_format_size (natter_transfer_get_size (transfer));
  /* Translators: a notification; the file's name, then its size */
  body = g_strdup_printf (_("Wants to send you “%s” (%s)"),
                          natter_transfer_get_file_name (transfer), size);
  notify_conversation (self, natter_transfer_get_peer_id (transfer), body, "transfer");
}

static void
natter_application_load_profile (NatterApplication *self)
{
  g_autoptr(GError) error = NULL;

  g_assert (self->identity == NULL);

  /* Synchronous on purpose: one small file, read once before the first
   * window exists, and nothing can be shown without it. A corrupt file is
   * reported, never replaced (the core refuses to overwrite it). It is
   * read before the client takes the profile's lock so that a damaged
   * profile is left exactly as it was found. */
  self->identity = natter_identity_load_or_create (self->profile_dir, &error);

  if (self->identity != NULL)
    self->client = natter_client_new (self->profile_dir, NATTER_CLIENT_NONE, &error);

  if (self->client == NULL)
    {
      /* Not g_warning(): a damaged or busy profile is a user situation, not
       * a bug, and the window explains it. */
      g_message ("Cannot open profile %s: %s", self->profile_dir, error->message);
      self->profile_error = g_steal_pointer (&error);
      g_clear_object (&self->identity);
      return;
    }

  natter_client_load_contact_summaries (self->client);
  natter_application_apply_display_name (self);
  natter_application_apply_download_folder (self);
  natter_application_apply_ice (self);
  natter_application_apply_broker (self);
  g_signal_connect_object (self->settings, "changed", G_CALLBACK (on_settings_changed), self,
                           G_CONNECT_SWAPPED);
  /* The preferences store the password in the profile, through the client. */
  g_signal_connect_object (self->client, "broker-password-changed",
                           G_CALLBACK (natter_application_apply_broker), self, G_CONNECT_SWAPPED);
  g_signal_connect_object (self->client, "message-received", G_CALLBACK (on_message_received), self,
                           G_CONNECT_SWAPPED);
  g_signal_connect_object (self->client, "transfer-added", G_CALLBACK (on_transfer_added), self,
                           G_CONNECT_SWAPPED);
  natter_client_start (self->client);

  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_IDENTITY]);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_CLIENT]);
}

static GtkWindow *
natter_application_ensure_window (NatterApplication *self)
{
  GtkWindow *window = gtk_application_get_active_window (GTK_APPLICATION (self));

  if (window != NULL)
    return window;
  if (self->client != NULL)
    return GTK_WINDOW (natter_window_new (self, self->client));
  return GTK_WINDOW (natter_profile_error_window_new (GTK_APPLICATION (self),
                                                      self->profile_dir,
                                                      self->profile_error));
}

static void
natter_application_activate (GApplication *app)
{
  gtk_window_present (natter_application_ensure_window (NATTER_APPLICATION (app)));
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
  NatterApplication *self = user_data;
  GtkWidget *preferences;

  preferences = natter_preferences_window_new (GTK_APPLICATION (self), self->client,
                                               gtk_application_get_active_window (GTK_APPLICATION (self)));
  gtk_window_present (GTK_WINDOW (preferences));
}

static void
natter_application_open_conversation_action (GSimpleAction *action,
                                             GVariant      *param,
                                             gpointer       user_data)
{
  NatterApplication *self = user_data;
  const char *peer_id = g_variant_get_string (param, NULL);
  g_autofree char *id = notification_id_for (peer_id);
  GtkWindow *window;

  g_application_withdraw_notification (G_APPLICATION (self), id);
  /* The notification may outlive the window, or even the contact. */
  g_application_activate (G_APPLICATION (self));
  window = gtk_application_get_active_window (GTK_APPLICATION (self));
  if (NATTER_IS_WINDOW (window))
    natter_window_select_contact (NATTER_WINDOW (window), peer_id);
}

static const GActionEntry app_actions[] = {
  { "quit", natter_application_quit_action },
  { "about", natter_application_about_action },
  { "preferences", natter_application_preferences_action },
  { "open-conversation", natter_application_open_conversation_action, "s" },
};

static void
natter_application_startup (GApplication *app)
{
  NatterApplication *self = NATTER_APPLICATION (app);
  static const char *quit_accels[] = { "<Control>q", NULL };
  static const char *close_accels[] = { "<Control>w", NULL };
  static const char *help_accels[] = { "<Control>question", NULL };
  static const char *preferences_accels[] = { "<Control>comma", NULL };

  G_APPLICATION_CLASS (natter_application_parent_class)->startup (app);

  g_action_map_add_action_entries (G_ACTION_MAP (self), app_actions, G_N_ELEMENTS (app_actions), self);

  gtk_application_set_accels_for_action (GTK_APPLICATION (self), "app.quit", quit_accels);
  gtk_application_set_accels_for_action (GTK_APPLICATION (self), "app.preferences", preferences_accels);
  gtk_application_set_accels_for_action (GTK_APPLICATION (self), "window.close", close_accels);
  /* GtkApplication sets this one itself when it finds gtk/help-overlay.ui;
   * stating it keeps every shortcut of the app in one place. */
  gtk_application_set_accels_for_action (GTK_APPLICATION (self), "win.show-help-overlay", help_accels);

  self->settings = g_settings_new (NATTER_APP_ID);
  natter_application_load_profile (self);

  /* Nothing to configure without a profile. */
  g_simple_action_set_enabled (G_SIMPLE_ACTION (g_action_map_lookup_action (G_ACTION_MAP (self), "preferences")),
                               self->client != NULL);
  g_simple_action_set_enabled (G_SIMPLE_ACTION (g_action_map_lookup_action (G_ACTION_MAP (self), "open-conversation")),
                               self->client != NULL);
}

static void
natter_application_shutdown (GApplication *app)
{
  NatterApplication *self = NATTER_APPLICATION (app);

  /* Offline now, while the main loop still runs: contacts see us leave
   * instead of waiting for the broker's Last Will. */
  if (self->client != NULL)
    natter_client_stop (self->client);

  G_APPLICATION_CLASS (natter_application_parent_class)->shutdown (app);
}

static void
natter_application_finalize (GObject *object)
{
  NatterApplication *self = (NatterApplication *)object;

  g_clear_pointer (&self->profile_dir, g_free);
  g_clear_pointer (&self->broker_url, g_free);
  g_clear_pointer (&self->ice_addresses, g_strfreev);
  g_clear_object (&self->identity);
  g_clear_object (&self->client);
  g_clear_object (&self->settings);
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

    case PROP_CLIENT:
      g_value_set_object (value, self->client);
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
  app_class->shutdown = natter_application_shutdown;

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

  /**
   * NatterApplication:client:
   *
   * The account of the profile, online from startup; %NULL when the
   * profile could not be opened.
   */
  properties[PROP_CLIENT] =
    g_param_spec_object ("client", NULL, NULL,
                         NATTER_TYPE_CLIENT,
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

/**
 * natter_application_get_client:
 * @self: a #NatterApplication
 *
 * Returns: (nullable) (transfer none): the profile's client, once started
 */
NatterClient *
natter_application_get_client (NatterApplication *self)
{
  g_return_val_if_fail (NATTER_IS_APPLICATION (self), NULL);

  return self->client;
}

/**
 * natter_application_dup_broker_password:
 * @self: a #NatterApplication
 *
 * Returns: (nullable) (transfer full): the broker password of this profile
 */
char *
natter_application_dup_broker_password (NatterApplication *self)
{
  g_return_val_if_fail (NATTER_IS_APPLICATION (self), NULL);

  if (self->client == NULL)
    return NULL;
  return natter_client_dup_broker_password (self->client);
}

/**
 * natter_application_set_broker_password:
 * @self: a #NatterApplication
 * @password: the password; empty for none
 * @error: return location for a #GError
 *
 * Stores the password in the profile and reconnects with it.
 *
 * Returns: %TRUE on success
 */
gboolean
natter_application_set_broker_password (NatterApplication  *self,
                                        const char         *password,
                                        GError            **error)
{
  g_return_val_if_fail (NATTER_IS_APPLICATION (self), FALSE);
  g_return_val_if_fail (password != NULL, FALSE);
  g_return_val_if_fail (self->client != NULL, FALSE);

  /* The client's broker-password-changed reconnects with it. */
  return natter_client_set_broker_password (self->client, password, error);
}
