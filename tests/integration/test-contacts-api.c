/* test-contacts-api.c: renaming, verifying, deleting contacts and safety numbers, on real stores (and a real peer). */
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
#undef ADD

  return g_test_run ();
}
