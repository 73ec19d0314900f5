/* natter-client.c: one account: owns identity, store, signaling and a session per contact. */
#define G_LOG_DOMAIN "natter-client"

#include "natter-client.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <sys/file.h>
#include <unistd.h>

#include "natter-broker-url.h"
#include "natter-client-private.h"
#include "natter-error.h"
#include "natter-hlc.h"
#include "natter-identity.h"
#include "natter-store.h"
#include "natter-transfer-manager.h"

/* Profile metadata key: the broker password stays with the account it
 * belongs to, in the 0700 profile directory, never in dconf. */
#define BROKER_PASSWORD_KEY "broker-password"

enum {
  PROP_0,
  PROP_SIGNALING_STATE,
  PROP_SIGNALING_NEXT_RETRY,
  PROP_SIGNALING_LAST_ERROR,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];
guint _natter_client_signals[N_SIGNALS];

G_DEFINE_FINAL_TYPE (NatterClient, natter_client, G_TYPE_OBJECT)

/* ---- helpers ---- */

static gboolean
save_hlc_cb (gpointer user_data)
{
  NatterClient *self = user_data;
  NatterHlcStamp last = natter_hlc_get_last (self->hlc);
  g_autofree char *value = g_strdup_printf ("%" G_GINT64_FORMAT ":%" G_GINT64_FORMAT,
                                            last.l, last.c);
  g_autoptr(GError) error = NULL;

  self->save_hlc_source = 0;
  if (!natter_store_set_meta (self->store, "hlc", value, &error))
    g_warning ("Cannot save the clock: %s", error->message);
  return G_SOURCE_REMOVE;
}

static void
hlc_advanced_cb (NatterClient *self)
{
  /* Coalesced: a restart also restores from the newest stored message. */
  if (self->save_hlc_source == 0 && !(self->flags & NATTER_CLIENT_READ_ONLY))
    self->save_hlc_source = g_idle_add (save_hlc_cb, self);
}

static void
restore_hlc (NatterClient *self)
{
  g_autofree char *value = natter_store_get_meta (self->store, "hlc", NULL);
  guint n = g_list_model_get_n_items (G_LIST_MODEL (self->contacts));

  if (value != NULL)
    {
      g_auto(GStrv) parts = g_strsplit (value, ":", 2);

      if (g_strv_length (parts) == 2)
        natter_hlc_restore (self->hlc, (NatterHlcStamp) {
          g_ascii_strtoll (parts[0], NULL, 10), g_ascii_strtoll (parts[1], NULL, 10) });
    }
  for (guint i = 0; i < n; i++)
    {
      g_autoptr(NatterContact) contact = g_list_model_get_item (G_LIST_MODEL (self->contacts), i);
      g_autofree char *conv = natter_client_conversation_for (self,
                                                              natter_contact_get_peer_id (contact));
      g_autoptr(NatterMessage) last = natter_store_get_last_message (self->store, conv, NULL);

      /* A stamp that was quarantined on arrival must not move the clock now either. */
      if (last != NULL &&
          natter_message_get_hlc_l (last) <= g_get_real_time () / 1000 + NATTER_HLC_MAX_AHEAD_MS)
        natter_hlc_restore (self->hlc, (NatterHlcStamp) { natter_message_get_hlc_l (last),
                                                          natter_message_get_hlc_c (last) });
    }
}

/* ---- signaling ---- */

static void
signaling_state_cb (NatterClient    *self,
                    GParamSpec      *pspec,
                    NatterSignaling *signaling)
{
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_SIGNALING_STATE]);
}

/* NatterSignaling notifies only real changes; so do these. */
static void
signaling_next_retry_cb (NatterClient    *self,
                         GParamSpec      *pspec,
                         NatterSignaling *signaling)
{
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_SIGNALING_NEXT_RETRY]);
}

static void
signaling_last_error_cb (NatterClient    *self,
                         GParamSpec      *pspec,
                         NatterSignaling *signaling)
{
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_SIGNALING_LAST_ERROR]);
}

/* ---- GObject ---- */

static void
natter_client_dispose (GObject *object)
{
  NatterClient *self = (NatterClient *) object;

  natter_client_stop (self);
  if (self->save_hlc_source != 0)
    {
      g_clear_handle_id (&self->save_hlc_source, g_source_remove);
      save_hlc_cb (self);
    }
  g_clear_pointer (&self->peers, g_hash_table_unref);
  g_clear_pointer (&self->message_lists, g_hash_table_unref);
  g_clear_object (&self->transfers);
  if (self->signaling != NULL)
    g_signal_handlers_disconnect_by_data (self->signaling, self);
  g_clear_object (&self->signaling);
  g_clear_object (&self->contacts);

  G_OBJECT_CLASS (natter_client_parent_class)->dispose (object);
}

static void
natter_client_finalize (GObject *object)
{
  NatterClient *self = (NatterClient *) object;

  g_clear_object (&self->hlc);
  g_clear_object (&self->store);
  g_clear_object (&self->identity);
  g_clear_pointer (&self->ice, natter_ice_config_unref);
  if (self->lock_fd >= 0)
    close (self->lock_fd);
  g_free (self->profile_dir);

  G_OBJECT_CLASS (natter_client_parent_class)->finalize (object);
}

static void
natter_client_get_property (GObject    *object,
                            guint       prop_id,
                            GValue     *value,
                            GParamSpec *pspec)
{
  NatterClient *self = NATTER_CLIENT (object);

  switch (prop_id)
    {
    case PROP_SIGNALING_STATE:
      g_value_set_enum (value, self->signaling ? natter_signaling_get_state (self->signaling)
                                               : NATTER_SIGNALING_DISCONNECTED);
      break;
    case PROP_SIGNALING_NEXT_RETRY:
      g_value_set_int64 (value, natter_client_get_signaling_next_retry (self));
      break;
    case PROP_SIGNALING_LAST_ERROR:
      g_value_set_string (value, natter_client_get_signaling_last_error (self));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
natter_client_class_init (NatterClientClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = natter_client_dispose;
  object_class->finalize = natter_client_finalize;
  object_class->get_property = natter_client_get_property;

  properties[PROP_SIGNALING_STATE] =
    g_param_spec_enum ("signaling-state", NULL, NULL,
                       NATTER_TYPE_SIGNALING_STATE, NATTER_SIGNALING_DISCONNECTED,
                       G_PARAM_READABLE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);
  /**
   * NatterClient:signaling-next-retry:
   *
   * g_get_monotonic_time() of the next attempt to reach the broker, or 0
   * when none is scheduled (NatterSignaling:next-retry).
   */
  properties[PROP_SIGNALING_NEXT_RETRY] =
    g_param_spec_int64 ("signaling-next-retry", NULL, NULL,
                        0, G_MAXINT64, 0,
                        G_PARAM_READABLE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);
  /**
   * NatterClient:signaling-last-error:
   *
   * Why the last attempt to reach the broker failed, in words for the user;
   * %NULL while connected or before the first failure
   * (NatterSignaling:last-error).
   */
  properties[PROP_SIGNALING_LAST_ERROR] =
    g_param_spec_string ("signaling-last-error", NULL, NULL, NULL,
                         G_PARAM_READABLE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);
  g_object_class_install_properties (object_class, N_PROPS, properties);

  /**
   * NatterClient::contact-request:
   * @contact: a peer who asked to become a contact (state pending-in)
   */
  _natter_client_signals[CONTACT_REQUEST] =
    g_signal_new ("contact-request", G_TYPE_FROM_CLASS (klass),
                  G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                  G_TYPE_NONE, 1, NATTER_TYPE_CONTACT);
  /**
   * NatterClient::contact-changed:
   * @contact: a contact whose stored state changed
   */
  _natter_client_signals[CONTACT_CHANGED] =
    g_signal_new ("contact-changed", G_TYPE_FROM_CLASS (klass),
                  G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                  G_TYPE_NONE, 1, NATTER_TYPE_CONTACT);
  /**
   * NatterClient::message-received:
   * @message: a new message from a contact, committed to the store
   */
  _natter_client_signals[MESSAGE_RECEIVED] =
    g_signal_new ("message-received", G_TYPE_FROM_CLASS (klass),
                  G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                  G_TYPE_NONE, 1, NATTER_TYPE_MESSAGE);
  /**
   * NatterClient::message-state-changed:
   * @id: one of our messages
   * @state: its new delivery state, committed
   */
  _natter_client_signals[MESSAGE_STATE_CHANGED] =
    g_signal_new ("message-state-changed",
                  G_TYPE_FROM_CLASS (klass),
                  G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                  G_TYPE_NONE, 2,
                  G_TYPE_STRING, NATTER_TYPE_MESSAGE_STATE);
  /**
   * NatterClient::session-state-changed:
   * @contact: the contact
   * @state: the #NatterSessionState of the direct connection
   */
  _natter_client_signals[SESSION_STATE_CHANGED] =
    g_signal_new ("session-state-changed",
                  G_TYPE_FROM_CLASS (klass),
                  G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                  G_TYPE_NONE, 2, NATTER_TYPE_CONTACT, G_TYPE_INT);
  /**
   * NatterClient::presence-changed:
   * @contact: the contact
   * @online: whether the contact is online, per its signed presence
   */
  _natter_client_signals[PRESENCE_CHANGED] =
    g_signal_new ("presence-changed",
                  G_TYPE_FROM_CLASS (klass),
                  G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                  G_TYPE_NONE, 2, NATTER_TYPE_CONTACT, G_TYPE_BOOLEAN);
  /**
   * NatterClient::typing:
   * @contact: the contact
   * @typing: whether they are typing
   */
  _natter_client_signals[TYPING] =
    g_signal_new ("typing", G_TYPE_FROM_CLASS (klass),
                  G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                  G_TYPE_NONE, 2, NATTER_TYPE_CONTACT, G_TYPE_BOOLEAN);
  /**
   * NatterClient::synced:
   * @peer_id: the contact whose history now matches ours after a (re)connect
   */
  _natter_client_signals[SYNCED] =
    g_signal_new ("synced", G_TYPE_FROM_CLASS (klass),
                  G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                  G_TYPE_NONE, 1, G_TYPE_STRING);
  /**
   * NatterClient::transfer-added:
   * @transfer: a file we started sending, or an offer that just arrived
   */
  _natter_client_signals[TRANSFER_ADDED] =
    g_signal_new ("transfer-added", G_TYPE_FROM_CLASS (klass),
                  G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                  G_TYPE_NONE, 1, NATTER_TYPE_TRANSFER);
  /**
   * NatterClient::broker-password-changed:
   *
   * natter_client_set_broker_password() stored a password: whoever
   * configures the broker (natter_client_set_broker()) applies it.
   */
  _natter_client_signals[BROKER_PASSWORD_CHANGED] =
    g_signal_new ("broker-password-changed",
                  G_TYPE_FROM_CLASS (klass),
                  G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                  G_TYPE_NONE, 0);
}

static void
natter_client_init (NatterClient *self)
{
  self->lock_fd = -1;
  self->contacts = g_list_store_new (NATTER_TYPE_CONTACT);
  self->peers = g_hash_table_new_full (g_str_hash, g_str_equal, NULL,
                                       (GDestroyNotify) _natter_client_peer_free);
  self->message_lists = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_object_unref);
  self->hlc = natter_hlc_new ();
  self->ice = natter_ice_config_new ();
}

/* One writer per profile: a second one gets a clear error instead of a race. */
static gboolean
lock_profile (NatterClient  *self,
              GError       **error)
{
  g_autofree char *path = g_build_filename (self->profile_dir, "lock", NULL);

  if (g_mkdir_with_parents (self->profile_dir, 0700) != 0)
    {
      int saved_errno = errno;

      g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (saved_errno),
                   "Cannot create the profile directory %s: %s", self->profile_dir,
                   g_strerror (saved_errno));
      return FALSE;
    }
  self->lock_fd = g_open (path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (self->lock_fd < 0)
    {
      int saved_errno = errno;

      g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (saved_errno),
                   "Cannot open %s: %s", path, g_strerror (saved_errno));
      return FALSE;
    }
  if (flock (self->lock_fd, LOCK_EX | LOCK_NB) != 0)
    {
      g_set_error (error, NATTER_ERROR, NATTER_ERROR_PROFILE_LOCKED,
                   "The profile %s is in use by another Natter process", self->profile_dir);
      return FALSE;
    }
  return TRUE;
}

static void
load_contacts (NatterClient *self)
{
  g_autoptr(GPtrArray) contacts = natter_store_list_contacts (self->store, NULL);

  if (contacts == NULL)
    return;
  for (guint i = 0; i < contacts->len; i++)
    g_list_store_append (self->contacts, g_ptr_array_index (contacts, i));
}

/**
 * natter_client_new:
 * @profile_dir: the profile: identity, history and lock live here
 *
 * Opens (creating on first use, unless read-only) a profile. A writer takes
 * the profile's lock: a second writer gets %NATTER_ERROR_PROFILE_LOCKED.
 *
 * Returns: (transfer full): the client, or %NULL with @error set
 */
NatterClient *
natter_client_new (const char         *profile_dir,
                   NatterClientFlags   flags,
                   GError            **error)
{
  g_autoptr(NatterClient) self = NULL;
  g_autofree char *db_path = NULL;
  gboolean read_only = (flags & NATTER_CLIENT_READ_ONLY) != 0;

  g_return_val_if_fail (profile_dir != NULL, NULL);

  self = g_object_new (NATTER_TYPE_CLIENT, NULL);
  self->profile_dir = g_strdup (profile_dir);
  self->flags = flags;

  if (!read_only && !lock_profile (self, error))
    return NULL;
  self->identity = read_only ? natter_identity_load (profile_dir, error)
                             : natter_identity_load_or_create (profile_dir, error);
  if (self->identity == NULL)
    return NULL;
  db_path = g_build_filename (profile_dir, "history.db", NULL);
  self->store = natter_store_open (db_path, read_only ? NATTER_STORE_READ_ONLY : NATTER_STORE_NONE,
                                   error);
  if (self->store == NULL)
    return NULL;

  load_contacts (self);
  restore_hlc (self);
  g_signal_connect_swapped (self->hlc, "advanced", G_CALLBACK (hlc_advanced_cb), self);
  _natter_client_transfers_init (self);

  if (!read_only)
    {
      self->signaling = natter_signaling_new (self->identity);
      g_signal_connect_swapped (self->signaling, "envelope-received",
                                G_CALLBACK (_natter_client_envelope_received_cb), self);
      g_signal_connect_swapped (self->signaling, "presence-changed",
                                G_CALLBACK (_natter_client_presence_changed_cb), self);
      g_signal_connect_swapped (self->signaling, "notify::state",
                                G_CALLBACK (signaling_state_cb), self);
      g_signal_connect_swapped (self->signaling, "notify::next-retry",
                                G_CALLBACK (signaling_next_retry_cb), self);
      g_signal_connect_swapped (self->signaling, "notify::last-error",
                                G_CALLBACK (signaling_last_error_cb), self);
    }
  return g_steal_pointer (&self);
}

NatterIdentity *
natter_client_get_identity (NatterClient *self)
{
  g_return_val_if_fail (NATTER_IS_CLIENT (self), NULL);
  return self->identity;
}

const char *
natter_client_get_peer_id (NatterClient *self)
{
  g_return_val_if_fail (NATTER_IS_CLIENT (self), NULL);
  return natter_identity_get_peer_id (self->identity);
}

NatterStore *
natter_client_get_store (NatterClient *self)
{
  g_return_val_if_fail (NATTER_IS_CLIENT (self), NULL);
  return self->store;
}

NatterSignaling *
natter_client_get_signaling (NatterClient *self)
{
  g_return_val_if_fail (NATTER_IS_CLIENT (self), NULL);
  return self->signaling;
}

NatterHlc *
natter_client_get_hlc (NatterClient *self)
{
  g_return_val_if_fail (NATTER_IS_CLIENT (self), NULL);
  return self->hlc;
}

char *
natter_client_dup_display_name (NatterClient *self)
{
  g_return_val_if_fail (NATTER_IS_CLIENT (self), NULL);
  return natter_store_get_meta (self->store, "display-name", NULL);
}

gboolean
natter_client_set_display_name (NatterClient  *self,
                                const char    *name,
                                GError       **error)
{
  g_return_val_if_fail (NATTER_IS_CLIENT (self), FALSE);
  g_return_val_if_fail (name != NULL, FALSE);

  if (!g_utf8_validate (name, -1, NULL) || g_utf8_strlen (name, -1) > MAX_NAME_LEN)
    {
      g_set_error (error, NATTER_ERROR, NATTER_ERROR_INVALID_INPUT,
                   "A name is at most %d characters of text", MAX_NAME_LEN);
      return FALSE;
    }
  return natter_store_set_meta (self->store, "display-name", name, error);
}

gboolean
natter_client_set_broker (NatterClient  *self,
                          const char    *url,
                          const char    *username,
                          const char    *password,
                          const char    *ca_file,
                          GError       **error)
{
  g_return_val_if_fail (NATTER_IS_CLIENT (self), FALSE);
  g_return_val_if_fail (self->signaling != NULL, FALSE);

  return natter_signaling_set_broker (self->signaling, url, username, password, ca_file, error);
}

/**
 * natter_client_check_broker_url:
 * @url: what the user typed
 *
 * Whether natter_client_set_broker() would take @url (mqtt://HOST:PORT or
 * mqtts://HOST:PORT); whether the broker answers is another matter.
 */
gboolean
natter_client_check_broker_url (const char  *url,
                                GError     **error)
{
  g_autofree char *host = NULL;
  guint16 port;
  gboolean tls;

  g_return_val_if_fail (url != NULL, FALSE);

  return natter_broker_url_parse (url, &host, &port, &tls, error);
}

/**
 * natter_client_dup_broker_password:
 *
 * Returns: (nullable) (transfer full): the broker password stored in the
 *   profile
 */
char *
natter_client_dup_broker_password (NatterClient *self)
{
  g_return_val_if_fail (NATTER_IS_CLIENT (self), NULL);
  return natter_store_get_meta (self->store, BROKER_PASSWORD_KEY, NULL);
}

/**
 * natter_client_set_broker_password:
 * @password: the password; empty for none
 *
 * Stores the password in the profile (not in settings) and emits
 * #NatterClient::broker-password-changed.
 */
gboolean
natter_client_set_broker_password (NatterClient  *self,
                                   const char    *password,
                                   GError       **error)
{
  g_return_val_if_fail (NATTER_IS_CLIENT (self), FALSE);
  g_return_val_if_fail (password != NULL, FALSE);

  if (!natter_store_set_meta (self->store, BROKER_PASSWORD_KEY, password, error))
    return FALSE;
  g_signal_emit (self, _natter_client_signals[BROKER_PASSWORD_CHANGED], 0);
  return TRUE;
}

/**
 * natter_client_get_signaling_state:
 *
 * Returns: whether we are connected to the broker (#NatterClient:signaling-state)
 */
NatterSignalingState
natter_client_get_signaling_state (NatterClient *self)
{
  g_return_val_if_fail (NATTER_IS_CLIENT (self), NATTER_SIGNALING_DISCONNECTED);
  return self->signaling ? natter_signaling_get_state (self->signaling)
                         : NATTER_SIGNALING_DISCONNECTED;
}

/**
 * natter_client_get_signaling_next_retry:
 *
 * Returns: #NatterClient:signaling-next-retry
 */
gint64
natter_client_get_signaling_next_retry (NatterClient *self)
{
  g_return_val_if_fail (NATTER_IS_CLIENT (self), 0);
  return self->signaling ? natter_signaling_get_next_retry (self->signaling) : 0;
}

/**
 * natter_client_get_signaling_last_error:
 *
 * Returns: (nullable): #NatterClient:signaling-last-error
 */
const char *
natter_client_get_signaling_last_error (NatterClient *self)
{
  g_return_val_if_fail (NATTER_IS_CLIENT (self), NULL);
  return self->signaling ? natter_signaling_get_last_error (self->signaling) : NULL;
}

/**
 * natter_client_flush_signaling:
 * @timeout_ms: how long to wait at most
 *
 * Waits until the broker acknowledged everything we published (see
 * natter_signaling_flush()); for command-line tools that send and exit.
 *
 * Returns: %TRUE if everything was acknowledged in time
 */
gboolean
natter_client_flush_signaling (NatterClient *self,
                               guint         timeout_ms)
{
  g_return_val_if_fail (NATTER_IS_CLIENT (self), FALSE);
  g_return_val_if_fail (self->signaling != NULL, FALSE);

  return natter_signaling_flush (self->signaling, timeout_ms);
}

void
natter_client_set_ice_config (NatterClient    *self,
                              NatterIceConfig *ice)
{
  g_return_if_fail (NATTER_IS_CLIENT (self));
  g_return_if_fail (ice != NULL);

  g_clear_pointer (&self->ice, natter_ice_config_unref);
  self->ice = natter_ice_config_ref (ice);
}

/**
 * natter_client_set_auto_accept:
 *
 * Accept every contact request (for bots and tests).
 */
void
natter_client_set_auto_accept (NatterClient *self,
                               gboolean      auto_accept)
{
  g_return_if_fail (NATTER_IS_CLIENT (self));
  self->auto_accept = !!auto_accept;
}

/**
 * natter_client_start:
 *
 * Goes online: connects to the broker (retrying with backoff), follows the
 * contacts' presence and opens sessions to those online.
 */
void
natter_client_start (NatterClient *self)
{
  guint n;

  g_return_if_fail (NATTER_IS_CLIENT (self));
  g_return_if_fail (self->signaling != NULL);

  if (self->started)
    return;
  self->started = TRUE;
  n = g_list_model_get_n_items (G_LIST_MODEL (self->contacts));
  for (guint i = 0; i < n; i++)
    {
      g_autoptr(NatterContact) contact = g_list_model_get_item (G_LIST_MODEL (self->contacts), i);
      NatterContactState state = natter_contact_get_state (contact);

      if (state == NATTER_CONTACT_ACCEPTED || state == NATTER_CONTACT_PENDING_OUT)
        _natter_client_follow_contact (self, contact);
    }
  natter_signaling_start (self->signaling);
}

void
natter_client_stop (NatterClient *self)
{
  g_return_if_fail (NATTER_IS_CLIENT (self));

  if (!self->started)
    return;
  self->started = FALSE;
  g_hash_table_remove_all (self->peers);
  natter_signaling_stop (self->signaling);
}
