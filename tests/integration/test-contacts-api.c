/* test-contacts-api.c: renaming, verifying, deleting contacts, safety numbers and the rest of the facade the UI uses, on real stores (and a real peer). */
#define G_LOG_DOMAIN "natter-test-contacts-api"

#include <string.h>

#include "natter-client.h"
#include "natter-error.h"
#include "natter-identity.h"
#include "natter-store.h"
#include "natter-test-broker.h"
#include "natter-test-peer.h"

#define CONNECT_TIMEOUT_MS 20000

typedef struct
{
  char         *dir;
  char         *profile;
  NatterClient *client;
  char         *other_id;   /* a real peer id from a second profile */
} Fixture;

static NatterClient *
open_client (const char *profile)
{
  g_autoptr(GError) error = NULL;
  NatterClient *client = natter_client_new (profile, NATTER_CLIENT_NONE, &error);

  g_assert_no_error (error);
  g_assert_nonnull (client);
  return client;
}

static void
fixture_setup (Fixture       *f,
               gconstpointer  data)
{
  g_autofree char *other_profile = NULL;
  g_autoptr(NatterIdentity) other = NULL;
  g_autoptr(GError) error = NULL;

  f->dir = natter_test_mkdtemp ("natter-contacts-api");
  f->profile = g_build_filename (f->dir, "me", NULL);
  f->client = open_client (f->profile);

  other_profile = g_build_filename (f->dir, "other", NULL);
  other = natter_identity_load_or_create (other_profile, &error);
  g_assert_no_error (error);
  f->other_id = g_strdup (natter_identity_get_peer_id (other));
}

static void
fixture_teardown (Fixture       *f,
                  gconstpointer  data)
{
  g_clear_object (&f->client);
  natter_test_rmtree (f->dir);
  g_free (f->dir);
  g_free (f->profile);
  g_free (f->other_id);
}

/* Closes and reopens the profile, as a restart of the app would. */
static void
reopen (Fixture *f)
{
  g_clear_object (&f->client);
  f->client = open_client (f->profile);
}

/* An accepted contact with @n messages of ours in the conversation (offline:
 * they stay queued, but they are history all the same). */
static void
add_contact_with_history (Fixture    *f,
                          const char *peer_id,
                          guint       n)
{
  g_autoptr(GError) error = NULL;

  g_assert_nonnull (natter_client_add_contact (f->client, peer_id, "Other", &error));
  g_assert_no_error (error);
  g_assert_true (natter_client_accept_contact (f->client, peer_id, &error));
  g_assert_no_error (error);
  for (guint i = 0; i < n; i++)
    {
      g_autofree char *body = g_strdup_printf ("searchable message %u", i);
      g_autoptr(NatterMessage) message = natter_client_send_message (f->client, peer_id, body,
                                                                      NULL, &error);

      g_assert_no_error (error);
      g_assert_nonnull (message);
    }
}

static gint64
count_messages (Fixture    *f,
                const char *peer_id)
{
  g_autofree char *conv = natter_client_conversation_for (f->client, peer_id);
  g_autoptr(GError) error = NULL;
  gint64 n = natter_store_count_messages (natter_client_get_store (f->client), conv, &error);

  g_assert_no_error (error);
  return n;
}

static guint
count_search_hits (Fixture    *f,
                   const char *peer_id,
                   const char *query)
{
  g_autofree char *conv = natter_client_conversation_for (f->client, peer_id);
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) hits = natter_store_search (natter_client_get_store (f->client), conv,
                                                   query, 100, &error);

  g_assert_no_error (error);
  return hits->len;
}

static void
on_contact_changed (NatterClient  *client,
                    NatterContact *contact,
                    guint         *count)
{
  (*count)++;
}

static void
test_rename_persists (Fixture       *f,
                      gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  NatterContact *contact;
  guint changed = 0;

  add_contact_with_history (f, f->other_id, 0);
  g_signal_connect (f->client, "contact-changed", G_CALLBACK (on_contact_changed), &changed);

  g_assert_true (natter_client_rename_contact (f->client, f->other_id, "  Alice Example ", &error));
  g_assert_no_error (error);
  g_assert_cmpuint (changed, ==, 1);
  contact = natter_client_lookup_contact (f->client, f->other_id);
  /* Surrounding blanks are typing noise, not part of the name. */
  g_assert_cmpstr (natter_contact_get_display_name (contact), ==, "Alice Example");

  /* Refused names change nothing. */
  g_assert_false (natter_client_rename_contact (f->client, f->other_id, "Line\nbreak", &error));
  g_assert_error (error, NATTER_ERROR, NATTER_ERROR_INVALID_INPUT);
  g_clear_error (&error);
  {
    g_autofree char *long_name = g_strnfill (129, 'x');

    g_assert_false (natter_client_rename_contact (f->client, f->other_id, long_name, &error));
    g_assert_error (error, NATTER_ERROR, NATTER_ERROR_INVALID_INPUT);
    g_clear_error (&error);
  }
  g_assert_false (natter_client_rename_contact (f->client, "nobody", "Bob", &error));
  g_assert_error (error, NATTER_ERROR, NATTER_ERROR_NOT_CONTACT);
  g_clear_error (&error);
  g_assert_cmpuint (changed, ==, 1);

  reopen (f);
  contact = natter_client_lookup_contact (f->client, f->other_id);
  g_assert_nonnull (contact);
  g_assert_cmpstr (natter_contact_get_name (contact), ==, "Alice Example");

  /* A blank name goes back to the short id, and stays so. */
  g_assert_true (natter_client_rename_contact (f->client, f->other_id, "   ", &error));
  g_assert_no_error (error);
  g_assert_null (natter_contact_get_name (contact));
  g_assert_cmpstr (natter_contact_get_display_name (contact), ==, natter_contact_get_short_id (contact));
  reopen (f);
  g_assert_null (natter_contact_get_name (natter_client_lookup_contact (f->client, f->other_id)));
}

static void
test_verified_persists (Fixture       *f,
                        gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  guint changed = 0;

  add_contact_with_history (f, f->other_id, 0);
  g_assert_false (natter_contact_get_verified (natter_client_lookup_contact (f->client, f->other_id)));
  g_signal_connect (f->client, "contact-changed", G_CALLBACK (on_contact_changed), &changed);

  g_assert_true (natter_client_set_contact_verified (f->client, f->other_id, TRUE, &error));
  g_assert_no_error (error);
  /* Again: no change, so no second save or signal. */
  g_assert_true (natter_client_set_contact_verified (f->client, f->other_id, TRUE, &error));
  g_assert_cmpuint (changed, ==, 1);

  reopen (f);
  g_assert_true (natter_contact_get_verified (natter_client_lookup_contact (f->client, f->other_id)));

  g_assert_true (natter_client_set_contact_verified (f->client, f->other_id, FALSE, &error));
  reopen (f);
  g_assert_false (natter_contact_get_verified (natter_client_lookup_contact (f->client, f->other_id)));

  g_assert_false (natter_client_set_contact_verified (f->client, "nobody", TRUE, &error));
  g_assert_error (error, NATTER_ERROR, NATTER_ERROR_NOT_CONTACT);
}

static void
test_safety_number_matches_on_both_sides (Fixture       *f,
                                          gconstpointer  data)
{
  g_autofree char *other_profile = g_build_filename (f->dir, "other", NULL);
  g_autoptr(NatterClient) other = open_client (other_profile);
  g_autofree char *mine = natter_client_dup_safety_number (f->client, f->other_id);
  g_autofree char *theirs = natter_client_dup_safety_number (other, natter_client_get_peer_id (f->client));
  g_autofree char *third_dir = g_build_filename (f->dir, "third", NULL);
  g_autoptr(NatterIdentity) third = natter_identity_load_or_create (third_dir, NULL);
  g_autofree char *with_third = NULL;
  g_auto(GStrv) groups = NULL;

  /* What two people read to each other: identical, 12 groups of 5 digits. */
  g_assert_nonnull (mine);
  g_assert_cmpstr (mine, ==, theirs);
  groups = g_strsplit (mine, " ", -1);
  g_assert_cmpuint (g_strv_length (groups), ==, NATTER_SAFETY_NUMBER_LENGTH / 5);
  for (guint i = 0; groups[i] != NULL; i++)
    {
      g_assert_cmpuint (strlen (groups[i]), ==, 5);
      for (guint j = 0; j < 5; j++)
        g_assert_true (g_ascii_isdigit (groups[i][j]));
    }

  /* Another key, another number: a man in the middle would show. */
  g_assert_nonnull (third);
  with_third = natter_client_dup_safety_number (f->client, natter_identity_get_peer_id (third));
  g_assert_cmpstr (with_third, !=, mine);

  g_assert_null (natter_client_dup_safety_number (f->client, "not-a-peer-id"));
}

static void
test_delete_keeps_history_when_asked (Fixture       *f,
                                      gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  GListModel *contacts = natter_client_get_contacts (f->client);

  add_contact_with_history (f, f->other_id, 3);
  g_assert_cmpuint (g_list_model_get_n_items (contacts), ==, 1);

  g_assert_true (natter_client_delete_contact (f->client, f->other_id, TRUE, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (g_list_model_get_n_items (contacts), ==, 0);
  g_assert_null (natter_client_lookup_contact (f->client, f->other_id));
  g_assert_cmpint (count_messages (f, f->other_id), ==, 3);

  g_assert_false (natter_client_delete_contact (f->client, f->other_id, TRUE, &error));
  g_assert_error (error, NATTER_ERROR, NATTER_ERROR_NOT_CONTACT);

  reopen (f);
  g_assert_cmpuint (g_list_model_get_n_items (natter_client_get_contacts (f->client)), ==, 0);
  g_assert_cmpint (count_messages (f, f->other_id), ==, 3);
  g_assert_cmpuint (count_search_hits (f, f->other_id, "searchable"), ==, 3);
}

static void
test_delete_with_history (Fixture       *f,
                          gconstpointer  data)
{
  g_autofree char *third_dir = g_build_filename (f->dir, "third", NULL);
  g_autoptr(NatterIdentity) third = natter_identity_load_or_create (third_dir, NULL);
  const char *third_id = natter_identity_get_peer_id (third);
  g_autoptr(GError) error = NULL;
  GListModel *messages;

  add_contact_with_history (f, f->other_id, 3);
  add_contact_with_history (f, third_id, 2);
  messages = natter_client_get_messages (f->client, f->other_id, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (g_list_model_get_n_items (messages), ==, 3);

  g_assert_true (natter_client_delete_contact (f->client, f->other_id, FALSE, &error));
  g_assert_no_error (error);
  g_assert_cmpint (count_messages (f, f->other_id), ==, 0);
  /* Not findable by search either. */
  g_assert_cmpuint (count_search_hits (f, f->other_id, "searchable"), ==, 0);
  /* A fresh model for the conversation, not the stale one. */
  messages = natter_client_get_messages (f->client, f->other_id, &error);
  g_assert_cmpuint (g_list_model_get_n_items (messages), ==, 0);

  /* Only that conversation. */
  g_assert_cmpint (count_messages (f, third_id), ==, 2);
  g_assert_nonnull (natter_client_lookup_contact (f->client, third_id));

  reopen (f);
  g_assert_cmpint (count_messages (f, f->other_id), ==, 0);
  g_assert_cmpint (count_messages (f, third_id), ==, 2);
  g_assert_cmpuint (g_list_model_get_n_items (natter_client_get_contacts (f->client)), ==, 1);
}

static gboolean
session_connected (gpointer data)
{
  Fixture *f = data;
  NatterPeerSession *session = natter_client_get_session (f->client, f->other_id);

  return session != NULL && natter_peer_session_get_state (session) == NATTER_SESSION_CONNECTED;
}

typedef struct
{
  NatterTestPeer *peer;
  guint           from;
} PeerWatch;

/* "bye" makes it "disconnected"; a lost ICE check may be "failed" first. */
static gboolean
peer_lost_session (gpointer data)
{
  PeerWatch *watch = data;

  return natter_test_peer_count_events (watch->peer, "session", "state", "disconnected") +
         natter_test_peer_count_events (watch->peer, "session", "state", "failed") > 0 &&
         natter_test_peer_get_n_events (watch->peer) > watch->from;
}

static void
test_delete_ends_session (Fixture       *f,
                          gconstpointer  data)
{
  g_autoptr(NatterTestBroker) broker = natter_test_broker_new (NULL);
  g_autoptr(NatterTestPeer) peer = NULL;
  g_autoptr(NatterIceConfig) ice = natter_ice_config_new ();
  g_autofree char *peer_profile = g_build_filename (f->dir, "other", NULL);
  g_autoptr(GError) error = NULL;
  guint from;

  g_assert_true (natter_test_broker_start (broker, &error));
  g_assert_no_error (error);
  peer = natter_test_peer_start (peer_profile, natter_test_broker_get_url (broker),
                                 (const char *[]) { "--accept-contacts", NULL });
  g_assert_cmpstr (natter_test_peer_get_peer_id (peer), ==, f->other_id);

  g_assert_true (natter_ice_config_add_local_address (ice, "127.0.0.1", NULL));
  natter_client_set_ice_config (f->client, ice);
  g_assert_true (natter_client_set_broker (f->client, natter_test_broker_get_url (broker),
                                           NULL, NULL, NULL, &error));
  natter_client_start (f->client);
  g_assert_nonnull (natter_client_add_contact (f->client, f->other_id, NULL, &error));
  g_assert_true (natter_test_wait_until (session_connected, f, CONNECT_TIMEOUT_MS));

  from = natter_test_peer_get_n_events (peer);
  g_assert_true (natter_client_delete_contact (f->client, f->other_id, TRUE, &error));
  g_assert_no_error (error);
  g_assert_null (natter_client_get_session (f->client, f->other_id));

  /* The peer sees the session end … */
  g_assert_true (natter_test_wait_until (peer_lost_session, &(PeerWatch) { peer, from },
                                         CONNECT_TIMEOUT_MS));
  /* … and its attempts to reconnect find no one (nor bring the contact back). */
  natter_test_spin (3000);
  g_assert_null (natter_client_get_session (f->client, f->other_id));
  g_assert_null (natter_client_lookup_contact (f->client, f->other_id));

  natter_client_stop (f->client);
  natter_test_peer_stop (peer, 5000);
}

/* The password lives in the profile under the key it always had. */
static void
on_broker_password_changed (NatterClient *client,
                            guint        *count)
{
  (*count)++;
}

static void
test_broker_password_round_trip (Fixture       *f,
                                 gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *none = natter_client_dup_broker_password (f->client);
  g_autofree char *stored = NULL;
  g_autofree char *raw = NULL;
  g_autofree char *reopened = NULL;
  g_autofree char *empty = NULL;
  guint changed = 0;

  g_assert_null (none);
  g_signal_connect (f->client, "broker-password-changed",
                    G_CALLBACK (on_broker_password_changed), &changed);

  g_assert_true (natter_client_set_broker_password (f->client, "s3cret pass", &error));
  g_assert_no_error (error);
  g_assert_cmpuint (changed, ==, 1);
  stored = natter_client_dup_broker_password (f->client);
  g_assert_cmpstr (stored, ==, "s3cret pass");
  raw = natter_store_get_meta (natter_client_get_store (f->client), "broker-password", &error);
  g_assert_no_error (error);
  g_assert_cmpstr (raw, ==, "s3cret pass");

  reopen (f);
  reopened = natter_client_dup_broker_password (f->client);
  g_assert_cmpstr (reopened, ==, "s3cret pass");

  /* Empty means none; stored as such, like before. */
  g_assert_true (natter_client_set_broker_password (f->client, "", &error));
  g_assert_no_error (error);
  empty = natter_client_dup_broker_password (f->client);
  g_assert_cmpstr (empty, ==, "");
}

static gboolean
body_fits (Fixture *f,
           char     c,
           gsize    n)
{
  g_autofree char *body = g_strnfill (n, c);

  return natter_client_message_fits (f->client, f->other_id, body);
}

static void
test_message_fits_at_limit (Fixture       *f,
                            gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  gsize lo = 1, hi = NATTER_MAX_FRAME_SIZE + 1;
  gint64 before;

  add_contact_with_history (f, f->other_id, 0);

  g_assert_true (body_fits (f, 'a', 1));
  g_assert_false (body_fits (f, 'a', NATTER_MAX_FRAME_SIZE + 1));
  /* The largest body that fits: lo fits, hi does not. */
  while (hi - lo > 1)
    {
      gsize mid = lo + (hi - lo) / 2;

      if (body_fits (f, 'a', mid))
        lo = mid;
      else
        hi = mid;
    }
  g_assert_cmpuint (lo, >, (NATTER_MAX_FRAME_SIZE - 2048) / 6);
  g_assert_cmpuint (lo, <, NATTER_MAX_FRAME_SIZE);
  g_assert_cmpuint (NATTER_MAX_FRAME_SIZE - lo, <, 1024);
  g_assert_true (body_fits (f, 'a', lo));
  g_assert_false (body_fits (f, 'a', lo + 1));

  /* What fits is sent … */
  before = count_messages (f, f->other_id);
  {
    g_autofree char *body = g_strnfill (lo, 'a');
    g_autoptr(NatterMessage) message = natter_client_send_message (f->client, f->other_id, body,
                                                                    NULL, &error);

    g_assert_no_error (error);
    g_assert_nonnull (message);
  }
  g_assert_cmpint (count_messages (f, f->other_id), ==, before + 1);

  /* … and clearly more is refused by the same check, with nothing stored. */
  {
    g_autofree char *body = g_strnfill (lo + 64, 'a');
    g_autoptr(NatterMessage) message = natter_client_send_message (f->client, f->other_id, body,
                                                                    NULL, &error);

    g_assert_error (error, NATTER_ERROR, NATTER_ERROR_TOO_LARGE);
    g_assert_null (message);
    g_clear_error (&error);
  }
  g_assert_cmpint (count_messages (f, f->other_id), ==, before + 1);

  /* Up to the length-only bound, even a body JSON escapes sixfold fits and is sent. */
  g_assert_true (body_fits (f, '\x01', (NATTER_MAX_FRAME_SIZE - 2048) / 6));
  {
    g_autofree char *body = g_strnfill ((NATTER_MAX_FRAME_SIZE - 2048) / 6, '\x01');
    g_autoptr(NatterMessage) message = natter_client_send_message (f->client, f->other_id, body,
                                                                    NULL, &error);

    g_assert_no_error (error);
    g_assert_nonnull (message);
  }
  /* Past it, the frame decides: sixfold escaping makes far less fit. */
  g_assert_false (body_fits (f, '\x01', 12000));
  g_assert_true (body_fits (f, 'a', 12000));
}

/* The peer id of a third profile, beside "me" and "other". */
static char *
dup_third_peer_id (Fixture *f)
{
  g_autofree char *third_dir = g_build_filename (f->dir, "third", NULL);
  g_autoptr(NatterIdentity) third = natter_identity_load_or_create (third_dir, NULL);

  g_assert_nonnull (third);
  return g_strdup (natter_identity_get_peer_id (third));
}

static void
test_search_and_position (Fixture       *f,
                          gconstpointer  data)
{
  g_autofree char *third_id = dup_third_peer_id (f);
  g_autoptr(GPtrArray) hits = NULL;
  g_autoptr(GPtrArray) all = NULL;
  g_autoptr(GPtrArray) none = NULL;
  g_autoptr(NatterMessage) listed = NULL;
  g_autoptr(GError) error = NULL;
  GListModel *messages;
  NatterMessage *hit;
  gint64 position;

  add_contact_with_history (f, f->other_id, 3);
  add_contact_with_history (f, third_id, 2);

  hits = natter_client_search (f->client, f->other_id, "message 1", 10, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (hits->len, ==, 1);
  hit = hits->pdata[0];
  g_assert_cmpstr (natter_message_get_body (hit), ==, "searchable message 1");

  /* The hit's place in the conversation's list, where the UI jumps to. */
  position = natter_client_message_position (f->client, hit, &error);
  g_assert_no_error (error);
  g_assert_cmpint (position, ==, 1);
  messages = natter_client_get_messages (f->client, f->other_id, &error);
  g_assert_no_error (error);
  listed = g_list_model_get_item (messages, position);
  g_assert_cmpstr (natter_message_get_id (listed), ==, natter_message_get_id (hit));

  /* One conversation, or all of them. */
  g_clear_pointer (&hits, g_ptr_array_unref);
  hits = natter_client_search (f->client, f->other_id, "searchable", 10, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (hits->len, ==, 3);
  all = natter_client_search (f->client, NULL, "searchable", 10, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (all->len, ==, 5);
  none = natter_client_search (f->client, f->other_id, "absent", 10, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (none->len, ==, 0);
}

typedef struct
{
  GPtrArray *states;       /* of GINT_TO_POINTER (NatterSignalingState) */
  GArray    *next_retries; /* of gint64 */
  GPtrArray *last_errors;  /* of char* (NULL allowed) */
} StatusLog;

static void
on_status_notify (NatterClient *client,
                  GParamSpec   *pspec,
                  StatusLog    *log)
{
  if (g_str_equal (pspec->name, "signaling-state"))
    {
      NatterSignalingState state;

      g_object_get (client, "signaling-state", &state, NULL);
      g_assert_cmpint (state, ==, natter_client_get_signaling_state (client));
      g_ptr_array_add (log->states, GINT_TO_POINTER (state));
    }
  else if (g_str_equal (pspec->name, "signaling-next-retry"))
    {
      gint64 next_retry;

      g_object_get (client, "signaling-next-retry", &next_retry, NULL);
      g_assert_cmpint (next_retry, ==, natter_client_get_signaling_next_retry (client));
      g_array_append_val (log->next_retries, next_retry);
    }
  else if (g_str_equal (pspec->name, "signaling-last-error"))
    {
      char *last_error;

      g_object_get (client, "signaling-last-error", &last_error, NULL);
      g_assert_cmpstr (last_error, ==, natter_client_get_signaling_last_error (client));
      g_ptr_array_add (log->last_errors, last_error);
    }
}

static gboolean
signaling_connected (gpointer data)
{
  Fixture *f = data;

  return natter_client_get_signaling_state (f->client) == NATTER_SIGNALING_CONNECTED;
}

static gboolean
signaling_retrying (gpointer data)
{
  Fixture *f = data;

  return natter_client_get_signaling_next_retry (f->client) > 0 &&
         natter_client_get_signaling_last_error (f->client) != NULL;
}

/* The broker's status, as the window's banner and natter-cli read it. */
static void
test_signaling_status (Fixture       *f,
                       gconstpointer  data)
{
  g_autoptr(NatterTestBroker) broker = natter_test_broker_new (NULL);
  g_autoptr(GError) error = NULL;
  StatusLog log = {
    g_ptr_array_new (),
    g_array_new (FALSE, FALSE, sizeof (gint64)),
    g_ptr_array_new_with_free_func (g_free),
  };

  g_assert_cmpint (natter_client_get_signaling_state (f->client), ==, NATTER_SIGNALING_DISCONNECTED);
  g_assert_cmpint (natter_client_get_signaling_next_retry (f->client), ==, 0);
  g_assert_null (natter_client_get_signaling_last_error (f->client));

  g_assert_true (natter_test_broker_start (broker, &error));
  g_assert_no_error (error);
  g_assert_true (natter_client_check_broker_url (natter_test_broker_get_url (broker), &error));
  g_assert_no_error (error);
  g_assert_false (natter_client_check_broker_url ("http://127.0.0.1:1883", NULL));
  g_assert_true (natter_client_set_broker (f->client, natter_test_broker_get_url (broker),
                                           NULL, NULL, NULL, &error));
  g_signal_connect (f->client, "notify", G_CALLBACK (on_status_notify), &log);

  natter_client_start (f->client);
  g_assert_true (natter_test_wait_until (signaling_connected, f, CONNECT_TIMEOUT_MS));
  g_assert_null (natter_client_get_signaling_last_error (f->client));
  g_assert_cmpint (natter_client_get_signaling_next_retry (f->client), ==, 0);
  g_assert_true (natter_client_flush_signaling (f->client, 5000));

  /* The broker goes away: a reason and a time for the next attempt. */
  natter_test_broker_stop (broker);
  g_assert_true (natter_test_wait_until (signaling_retrying, f, CONNECT_TIMEOUT_MS));
  g_assert_cmpint (natter_client_get_signaling_state (f->client), !=, NATTER_SIGNALING_CONNECTED);
  natter_client_stop (f->client);
  g_signal_handlers_disconnect_by_data (f->client, &log);

  /* Every notification was a real change. */
  g_assert_cmpuint (log.states->len, >=, 2);
  g_assert_cmpint (GPOINTER_TO_INT (log.states->pdata[0]), ==, NATTER_SIGNALING_CONNECTING);
  for (guint i = 1; i < log.states->len; i++)
    g_assert_cmpint (GPOINTER_TO_INT (log.states->pdata[i]), !=,
                     GPOINTER_TO_INT (log.states->pdata[i - 1]));
  g_assert_cmpuint (log.next_retries->len, >=, 1);
  for (guint i = 1; i < log.next_retries->len; i++)
    g_assert_cmpint (g_array_index (log.next_retries, gint64, i), !=,
                     g_array_index (log.next_retries, gint64, i - 1));
  g_assert_cmpuint (log.last_errors->len, >=, 1);
  g_assert_nonnull (log.last_errors->pdata[0]);
  for (guint i = 1; i < log.last_errors->len; i++)
    g_assert_cmpstr (log.last_errors->pdata[i], !=, log.last_errors->pdata[i - 1]);

  g_ptr_array_unref (log.states);
  g_array_unref (log.next_retries);
  g_ptr_array_unref (log.last_errors);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

#define ADD(path, func) \
  g_test_add ("/contacts-api/" path, Fixture, NULL, fixture_setup, func, fixture_teardown)
  ADD ("rename-persists", test_rename_persists);
  ADD ("verified-persists", test_verified_persists);
  ADD ("safety-number-matches-on-both-sides", test_safety_number_matches_on_both_sides);
  ADD ("delete-keeps-history-when-asked", test_delete_keeps_history_when_asked);
  ADD ("delete-with-history", test_delete_with_history);
  ADD ("delete-ends-session", test_delete_ends_session);
  ADD ("broker-password-round-trip", test_broker_password_round_trip);
  ADD ("message-fits-at-limit", test_message_fits_at_limit);
  ADD ("search-and-position", test_search_and_position);
  ADD ("signaling-status", test_signaling_status);
#undef ADD

  return g_test_run ();
}
