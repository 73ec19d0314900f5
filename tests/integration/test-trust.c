/* test-trust.c: trust on first use: safety numbers, verification, names that imitate contacts, request floods. */
#define G_LOG_DOMAIN "natter-test-trust"

#include <string.h>

#include "natter-contact.h"
#include "natter-identity.h"
#include "natter-signaling.h"
#include "natter-store.h"

#include "natter-test-broker.h"
#include "natter-test-client.h"
#include "natter-test-peer.h"

typedef NatterTestEnv Fixture;

static JsonObject *
cli_json (const char *profile,
          const char *first_arg,
          ...)
{
  g_autoptr(NatterTestCliResult) r = NULL;
  g_autoptr(GPtrArray) lines = NULL;
  const char *args[8] = { NULL };
  va_list ap;
  guint n = 0;

  va_start (ap, first_arg);
  for (const char *arg = first_arg; arg != NULL && n < G_N_ELEMENTS (args) - 1;
       arg = va_arg (ap, const char *))
    args[n++] = arg;
  va_end (ap);

  r = natter_test_cli_run (profile, NULL, args[0], args[1], args[2], args[3], args[4], args[5],
                           args[6], NULL);
  if (r->status != 0)
    g_test_message ("natter-cli failed: %s", r->err);
  g_assert_cmpint (r->status, ==, 0);
  lines = natter_test_parse_json_lines (r->out);
  g_assert_cmpuint (lines->len, ==, 1);
  return json_object_ref (g_ptr_array_index (lines, 0));
}

static gboolean
verified_in_list (const char *profile,
                  const char *peer_id)
{
  g_autoptr(NatterTestCliResult) r = natter_test_cli_run (profile, NULL, "contact", "list",
                                                          "--json", NULL);
  g_autoptr(GPtrArray) lines = natter_test_parse_json_lines (r->out);

  g_assert_cmpint (r->status, ==, 0);
  for (guint i = 0; i < lines->len; i++)
    {
      JsonObject *o = g_ptr_array_index (lines, i);

      if (g_str_equal (json_object_get_string_member (o, "peer"), peer_id))
        return json_object_get_boolean_member (o, "verified");
    }
  g_assert_not_reached ();
}

static void
cli_add (Fixture    *fixture,
         const char *profile,
         const char *peer_id)
{
  g_autoptr(NatterTestCliResult) r = natter_test_cli_run (profile,
                                                          natter_test_broker_get_url (fixture->broker),
                                                          "contact", "add", peer_id, NULL);

  g_assert_cmpint (r->status, ==, 0);
}

/* Both ends print the same 60 digits; only --mark/--unmark change anything. */
static void
test_verify_cli (Fixture       *fixture,
                 gconstpointer  data)
{
  g_autofree char *alice = g_build_filename (fixture->dir, "alice", NULL);
  g_autofree char *bob = g_build_filename (fixture->dir, "bob", NULL);
  g_autofree char *carol = g_build_filename (fixture->dir, "carol", NULL);
  g_autofree char *alice_id = natter_test_cli_init (alice, "Alice");
  g_autofree char *bob_id = natter_test_cli_init (bob, "Bob");
  g_autofree char *carol_id = natter_test_cli_init (carol, "Carol");
  g_autoptr(JsonObject) a_view = NULL;
  g_autoptr(JsonObject) b_view = NULL;
  g_autoptr(JsonObject) c_view = NULL;
  g_autoptr(JsonObject) marked = NULL;
  const char *number;
  guint digits = 0;

  cli_add (fixture, alice, bob_id);
  cli_add (fixture, bob, alice_id);
  cli_add (fixture, carol, bob_id);

  a_view = cli_json (alice, "contact", "verify", bob_id, "--json", NULL);
  b_view = cli_json (bob, "contact", "verify", alice_id, "--json", NULL);
  c_view = cli_json (carol, "contact", "verify", bob_id, "--json", NULL);
  number = json_object_get_string_member (a_view, "safety-number");
  g_assert_cmpstr (number, ==, json_object_get_string_member (b_view, "safety-number"));
  g_assert_cmpstr (number, !=, json_object_get_string_member (c_view, "safety-number"));
  for (const char *p = number; *p; p++)
    digits += g_ascii_isdigit (*p);
  g_assert_cmpuint (digits, ==, 60);
  g_assert_false (json_object_get_boolean_member (a_view, "verified"));
  g_assert_false (verified_in_list (alice, bob_id));

  marked = cli_json (alice, "contact", "verify", bob_id, "--mark", "--json", NULL);
  g_assert_true (json_object_get_boolean_member (marked, "verified"));
  g_assert_true (verified_in_list (alice, bob_id));
  g_assert_false (verified_in_list (bob, alice_id));
  g_clear_pointer (&marked, json_object_unref);
  marked = cli_json (alice, "contact", "verify", bob_id, "--unmark", "--json", NULL);
  g_assert_false (json_object_get_boolean_member (marked, "verified"));
  g_assert_false (verified_in_list (alice, bob_id));

  /* Not a contact: a clear error, nothing written. */
  {
    g_autoptr(NatterTestCliResult) r = natter_test_cli_run (alice, NULL, "contact", "verify",
                                                            carol_id, "--mark", NULL);

    g_assert_cmpint (r->status, !=, 0);
    g_assert_nonnull (strstr (r->err, "no such contact"));
  }
}

/* A stranger's signaling client: it can sign as itself, nobody else. */
static NatterSignaling *
stranger_new (Fixture *fixture,
              guint    n)
{
  guint8 seed[NATTER_SEED_SIZE];
  g_autoptr(NatterIdentity) identity = NULL;
  g_autoptr(GError) error = NULL;
  NatterSignaling *signaling;

  memset (seed, 0, sizeof seed);
  memcpy (seed, &n, sizeof n);
  seed[31] = 0x5a;
  identity = natter_identity_new_from_seed (seed);
  signaling = natter_signaling_new (identity);
  g_assert_true (natter_signaling_set_broker (signaling,
                                              natter_test_broker_get_url (fixture->broker),
                                              NULL, NULL, NULL, &error));
  g_assert_no_error (error);
  return signaling;
}

static void
request_contact (NatterSignaling *signaling,
                 const char      *to,
                 const char      *name)
{
  g_autoptr(JsonObject) body = json_object_new ();
  g_autoptr(GError) error = NULL;

  json_object_set_string_member (body, "name", name);
  g_assert_true (natter_signaling_send (signaling, to, "contact-request", NULL, body, &error));
  g_assert_no_error (error);
}

static void
count_request (NatterClient  *client,
               NatterContact *contact,
               guint         *count)
{
  (*count)++;
}

static gboolean
has_requests (gpointer data)
{
  return *(guint *) data > 0;
}

static NatterContact *
only_pending (NatterClient *client)
{
  GListModel *contacts = natter_client_get_contacts (client);
  NatterContact *found = NULL;

  for (guint i = 0; i < g_list_model_get_n_items (contacts); i++)
    {
      g_autoptr(NatterContact) contact = g_list_model_get_item (contacts, i);

      if (natter_contact_get_state (contact) == NATTER_CONTACT_PENDING_IN)
        {
          g_assert_null (found);
          found = contact;
        }
    }
  return found;
}

/* Someone new who calls themselves what a contact is called is shown with
 * their own key next to the name; invisible characters do not help. */
static void
test_imitated_name (Fixture       *fixture,
                    gconstpointer  data)
{
  g_autofree char *alice_dir = g_build_filename (fixture->dir, "alice", NULL);
  g_autofree char *bob_dir = g_build_filename (fixture->dir, "bob", NULL);
  g_autoptr(NatterClient) alice = natter_test_client_new (fixture->broker, alice_dir, "Alice");
  g_autoptr(NatterClient) bob = natter_test_client_new (fixture->broker, bob_dir, "Bob");
  g_autoptr(NatterSignaling) mallory = stranger_new (fixture, 1);
  const char *mallory_id = NULL;
  NatterContact *pending;
  g_autofree char *expected = NULL;
  guint requests = 0;

  natter_test_client_make_contacts (alice, bob, 20000);
  g_assert_true (natter_client_rename_contact (alice, natter_client_get_peer_id (bob), "Bob", NULL));
  g_assert_cmpstr (natter_contact_get_display_name (natter_client_lookup_contact (
                     alice, natter_client_get_peer_id (bob))), ==, "Bob");

  g_signal_connect (alice, "contact-request", G_CALLBACK (count_request), &requests);
  natter_signaling_start (mallory);
  /* U+200B and U+202E would make the name look like "Bob" while differing. */
  request_contact (mallory, natter_client_get_peer_id (alice), "B\xe2\x80\x8bo\xe2\x80\xae" "b");
  g_assert_true (natter_test_wait_until (has_requests, &requests, 10000));

  pending = only_pending (alice);
  g_assert_nonnull (pending);
  mallory_id = natter_contact_get_peer_id (pending);
  g_assert_cmpstr (mallory_id, !=, natter_client_get_peer_id (bob));
  expected = g_strdup_printf ("Bob (%.8s)", mallory_id);
  g_assert_cmpstr (natter_contact_get_name (pending), ==, expected);
  /* The real Bob is untouched. */
  g_assert_cmpstr (natter_contact_get_display_name (natter_client_lookup_contact (
                     alice, natter_client_get_peer_id (bob))), ==, "Bob");
  natter_signaling_stop (mallory);
}

/* 80 fresh keys ask at once: a bounded number is stored, the rest dropped,
 * and the client keeps chatting. */
static void
test_request_flood (Fixture       *fixture,
                    gconstpointer  data)
{
  g_autofree char *alice_dir = g_build_filename (fixture->dir, "alice", NULL);
  g_autofree char *bob_dir = g_build_filename (fixture->dir, "bob", NULL);
  g_autoptr(NatterClient) alice = natter_test_client_new (fixture->broker, alice_dir, "Alice");
  g_autoptr(NatterClient) bob = natter_test_client_new (fixture->broker, bob_dir, "Bob");
  g_autoptr(GPtrArray) strangers = g_ptr_array_new_with_free_func (g_object_unref);
  g_autoptr(NatterMessage) message = NULL;
  g_autoptr(GError) error = NULL;
  guint requests = 0;

  natter_test_client_make_contacts (alice, bob, 20000);
  g_signal_connect (alice, "contact-request", G_CALLBACK (count_request), &requests);
  for (guint i = 0; i < 80; i++)
    {
      NatterSignaling *s = stranger_new (fixture, 100 + i);
      g_autofree char *name = g_strdup_printf ("stranger %u", i);

      natter_signaling_start (s);
      request_contact (s, natter_client_get_peer_id (alice), name);
      g_ptr_array_add (strangers, s);
    }
  natter_test_spin (3000);
  g_test_message ("80 requests from new keys: %u stored", requests);
  g_assert_cmpuint (requests, >=, 10);
  g_assert_cmpuint (requests, <=, 12);
  g_assert_cmpuint (g_list_model_get_n_items (natter_client_get_contacts (alice)), ==, 1 + requests);

  message = natter_client_send_message (alice, natter_client_get_peer_id (bob), "still here", NULL,
                                        &error);
  g_assert_no_error (error);
  while (natter_message_get_state (message) < NATTER_MESSAGE_DELIVERED)
    g_main_context_iteration (NULL, TRUE);
  for (guint i = 0; i < strangers->len; i++)
    natter_signaling_stop (g_ptr_array_index (strangers, i));
}

static gboolean
delivered (gpointer data)
{
  return natter_message_get_state (data) >= NATTER_MESSAGE_DELIVERED;
}

static gboolean
session_gone (gpointer data)
{
  NatterClient **pair = data;
  NatterPeerSession *session = natter_client_get_session (pair[0],
                                                          natter_client_get_peer_id (pair[1]));

  return session == NULL || natter_peer_session_get_state (session) != NATTER_SESSION_CONNECTED;
}

/* Blocking ends the session, ignores everything the peer sends from then
 * on (messages, requests, offers) and keeps what was said before. */
static void
test_block (Fixture       *fixture,
            gconstpointer  data)
{
  g_autofree char *alice_dir = g_build_filename (fixture->dir, "alice", NULL);
  g_autofree char *bob_dir = g_build_filename (fixture->dir, "bob", NULL);
  g_autoptr(NatterClient) alice = natter_test_client_new (fixture->broker, alice_dir, "Alice");
  g_autoptr(NatterClient) bob = natter_test_client_new (fixture->broker, bob_dir, "Bob");
  g_autoptr(NatterMessage) before = NULL;
  g_autoptr(NatterMessage) after = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *conversation = NULL;
  const char *bob_id = natter_client_get_peer_id (bob);
  NatterClient *alice_bob[2] = { alice, bob };
  NatterClient *bob_alice[2] = { bob, alice };
  guint requests = 0;

  natter_test_client_make_contacts (alice, bob, 20000);
  before = natter_client_send_message (bob, natter_client_get_peer_id (alice), "before", NULL,
                                       &error);
  g_assert_no_error (error);
  g_assert_true (natter_test_wait_until (delivered, before, 20000));

  g_assert_true (natter_client_block_contact (alice, bob_id, &error));
  g_assert_no_error (error);
  g_assert_true (session_gone (alice_bob));
  /* Bob hears the "bye" at once, not after a keep-alive timeout. */
  g_assert_true (natter_test_wait_until (session_gone, bob_alice, 5000));

  g_signal_connect (alice, "contact-request", G_CALLBACK (count_request), &requests);
  after = natter_client_send_message (bob, natter_client_get_peer_id (alice), "after", NULL,
                                      &error);
  g_assert_no_error (error);
  natter_client_connect (bob, natter_client_get_peer_id (alice));
  g_assert_true (natter_client_delete_contact (bob, natter_client_get_peer_id (alice), TRUE, NULL));
  g_assert_nonnull (natter_client_add_contact (bob, natter_client_get_peer_id (alice), NULL, NULL));
  natter_test_spin (3000);

  g_assert_cmpuint (requests, ==, 0);
  g_assert_cmpint (natter_contact_get_state (natter_client_lookup_contact (alice, bob_id)), ==,
                   NATTER_CONTACT_BLOCKED);
  g_assert_true (session_gone (alice_bob));
  g_assert_cmpint (natter_message_get_state (after), <, NATTER_MESSAGE_DELIVERED);
  conversation = natter_client_conversation_for (alice, bob_id);
  g_assert_cmpint (natter_store_count_messages (natter_client_get_store (alice), conversation, NULL),
                   ==, 1);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add ("/trust/verify-cli", Fixture, NULL, natter_test_env_setup, test_verify_cli,
              natter_test_env_teardown);
  g_test_add ("/trust/imitated-name", Fixture, NULL, natter_test_env_setup, test_imitated_name,
              natter_test_env_teardown);
  g_test_add ("/trust/request-flood", Fixture, NULL, natter_test_env_setup, test_request_flood,
              natter_test_env_teardown);
  g_test_add ("/trust/block", Fixture, NULL, natter_test_env_setup, test_block,
              natter_test_env_teardown);
  return g_test_run ();
}
