/* test-broker-acl.c: mosquitto with the shipped data/mosquitto ACL and settings keeps users out of each other's signaling. */
#define G_LOG_DOMAIN "natter-test-broker-acl"

#include <string.h>

#include <glib/gstdio.h>
#include <gst/gst.h>

#include "natter-chat-protocol.h"
#include "natter-client.h"
#include "natter-identity.h"
#include "natter-test-client.h"
#include "natter-test-mqtt.h"

#define CONNECT_TIMEOUT_MS  20000
/* How long a message that should not arrive is given to arrive anyway. */
#define QUIET_MS            500

static const char * const inbound_kinds[] = { "offer", "answer", "ice", "contact-request" };

/* Settings of the shipped mosquitto.conf that the test replaces: its TLS
 * listener and certificates, its file locations, and its logging. */
static const char * const replaced_settings[] = {
  "listener", "protocol", "tls_version", "cafile", "capath", "certfile", "keyfile",
  "password_file", "acl_file", "persistence", "persistence_location", "log_dest", "log_type",
  "pid_file", "user",
};

typedef struct
{
  char          *id;
  char          *password;
} Account;

typedef struct
{
  char             *dir;
  NatterTestBroker *broker;
  Account           users[3];      /* plain MQTT clients A, B, C */
  NatterClient     *alice;         /* real Natter clients, not started */
  NatterClient     *bob;
  char             *alice_password;
  char             *bob_password;
} Fixture;

static char *
shipped_path (const char *name)
{
  const char *srcdir = g_getenv ("NATTER_TEST_SRCDIR");

  g_assert_nonnull (srcdir);
  return g_build_filename (srcdir, "..", "data", "mosquitto", name, NULL);
}

static gboolean
is_replaced (const char *line)
{
  g_auto(GStrv) words = g_strsplit_set (line, " \t", 2);

  for (guint i = 0; i < G_N_ELEMENTS (replaced_settings); i++)
    if (g_str_equal (words[0], replaced_settings[i]))
      return TRUE;
  return FALSE;
}

/* The shipped mosquitto.conf minus what replaced_settings lists, plus our
 * password file and the shipped ACL file as it is. The fixture adds a
 * plain loopback listener. */
static char *
derived_config (const char *passwd_path)
{
  g_autofree char *conf_path = shipped_path ("mosquitto.conf");
  g_autofree char *acl_path = shipped_path ("natter.acl");
  g_autoptr(GString) config = g_string_new (NULL);
  g_autoptr(GError) error = NULL;
  g_autofree char *text = NULL;
  g_auto(GStrv) lines = NULL;
  gboolean no_anonymous = FALSE;

  g_assert_true (g_file_get_contents (conf_path, &text, NULL, &error));
  g_assert_no_error (error);
  lines = g_strsplit (text, "\n", -1);
  for (guint i = 0; lines[i] != NULL; i++)
    {
      const char *line = g_strstrip (lines[i]);

      if (line[0] == '\0' || line[0] == '#' || is_replaced (line))
        continue;
      if (g_str_equal (line, "allow_anonymous false"))
        no_anonymous = TRUE;
      g_string_append_printf (config, "%s\n", line);
    }
  /* Otherwise the test would not be testing what operators get. */
  g_assert_true (no_anonymous);
  g_assert_true (g_file_test (acl_path, G_FILE_TEST_IS_REGULAR));
  g_string_append_printf (config, "password_file %s\nacl_file %s\n", passwd_path, acl_path);
  return g_string_free (g_steal_pointer (&config), FALSE);
}

static char *
random_password (void)
{
  return g_strdup_printf ("pw-%08x%08x", g_random_int (), g_random_int ());
}

static char *
random_peer_id (void)
{
  g_autoptr(NatterIdentity) identity = NULL;
  guint8 seed[32];

  for (guint i = 0; i < sizeof seed; i++)
    seed[i] = (guint8) g_random_int_range (0, 256);
  identity = natter_identity_new_from_seed (seed);
  return g_strdup (natter_identity_get_peer_id (identity));
}

static NatterClient *
natter_client_for (Fixture    *fixture,
                   const char *name)
{
  g_autofree char *profile = g_build_filename (fixture->dir, name, NULL);
  g_autoptr(GError) error = NULL;
  /* No broker yet: the password file needs the peer id first. */
  NatterClient *client = natter_test_client_open (NULL, profile, name, &error);

  g_assert_no_error (error);
  return client;
}

/* mosquitto_passwd -U hashes a file of "user:password" lines in place. */
static void
write_password_file (const char *path,
                     GString    *plain)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *err = NULL;
  int status = 0;
  const char *argv[] = { "mosquitto_passwd", "-U", path, NULL };

  g_assert_true (g_file_set_contents (path, plain->str, -1, &error));
  g_assert_no_error (error);
  g_assert_true (g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_SEARCH_PATH |
                               G_SPAWN_STDOUT_TO_DEV_NULL, NULL, NULL, NULL, &err, &status,
                               &error));
  g_assert_no_error (error);
  if (!g_spawn_check_wait_status (status, &error))
    g_error ("mosquitto_passwd -U failed: %s: %s", error->message, err);
  /* The broker may drop root privileges to its own user before reading it. */
  g_chmod (path, 0644);
}

static void
fixture_setup (Fixture       *fixture,
               gconstpointer  data)
{
  g_autoptr(GString) plain = g_string_new (NULL);
  g_autoptr(GError) error = NULL;
  g_autofree char *passwd_path = NULL;
  g_autofree char *config = NULL;

  fixture->dir = natter_test_mkdtemp ("natter-broker-acl");
  g_chmod (fixture->dir, 0755);
  for (guint i = 0; i < G_N_ELEMENTS (fixture->users); i++)
    {
      fixture->users[i].id = random_peer_id ();
      fixture->users[i].password = random_password ();
      g_string_append_printf (plain, "%s:%s\n", fixture->users[i].id, fixture->users[i].password);
    }
  /* Natter clients log in with their peer id as user name. */
  fixture->alice = natter_client_for (fixture, "alice");
  fixture->bob = natter_client_for (fixture, "bob");
  fixture->alice_password = random_password ();
  fixture->bob_password = random_password ();
  g_string_append_printf (plain, "%s:%s\n%s:%s\n",
                          natter_client_get_peer_id (fixture->alice), fixture->alice_password,
                          natter_client_get_peer_id (fixture->bob), fixture->bob_password);

  passwd_path = g_build_filename (fixture->dir, "natter.passwd", NULL);
  write_password_file (passwd_path, plain);
  config = derived_config (passwd_path);
  fixture->broker = natter_test_broker_new_with_config (config);
  g_assert_true (natter_test_broker_start (fixture->broker, &error));
  g_assert_no_error (error);
}

static void
fixture_teardown (Fixture       *fixture,
                  gconstpointer  data)
{
  g_clear_object (&fixture->alice);
  g_clear_object (&fixture->bob);
  g_clear_pointer (&fixture->broker, natter_test_broker_free);
  for (guint i = 0; i < G_N_ELEMENTS (fixture->users); i++)
    {
      g_free (fixture->users[i].id);
      g_free (fixture->users[i].password);
    }
  g_free (fixture->alice_password);
  g_free (fixture->bob_password);
  natter_test_rmtree (fixture->dir);
  g_free (fixture->dir);
}

static NatterTestMqtt *
login (Fixture *fixture,
       guint    user)
{
  g_autoptr(GError) error = NULL;
  NatterTestMqtt *mqtt = natter_test_mqtt_connect (fixture->broker, fixture->users[user].id,
                                                   fixture->users[user].password, &error);

  g_assert_no_error (error);
  g_assert_nonnull (mqtt);
  return mqtt;
}

static char *
topic (const char *peer_id,
       const char *kind)
{
  return g_strdup_printf ("natter/v1/user/%s/%s", peer_id, kind);
}

static void
publish_text (NatterTestMqtt *mqtt,
              const char     *to_topic,
              const char     *text,
              gboolean        retain)
{
  natter_test_mqtt_publish (mqtt, to_topic, text, strlen (text), retain);
  g_assert_true (natter_test_mqtt_sync (mqtt, 5000));
}

/* Whether message @index of @mqtt is @text on @on_topic. */
static gboolean
message_is (NatterTestMqtt *mqtt,
            guint           index,
            const char     *on_topic,
            const char     *text)
{
  g_autofree char *got_topic = NULL;
  g_autoptr(GBytes) payload = natter_test_mqtt_get_message (mqtt, index, &got_topic);
  gsize len;
  const char *data = g_bytes_get_data (payload, &len);

  return g_str_equal (got_topic, on_topic) && len == strlen (text) && memcmp (data, text, len) == 0;
}

/* ------------------------------------------------------------------------ */

static void
test_anonymous_refused (Fixture       *fixture,
                        gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(NatterTestMqtt) anonymous = NULL;
  g_autoptr(NatterTestMqtt) wrong = NULL;
  g_autoptr(NatterTestMqtt) right = NULL;

  anonymous = natter_test_mqtt_connect (fixture->broker, NULL, NULL, &error);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED);
  g_assert_null (anonymous);
  g_test_message ("anonymous: %s", error->message);
  g_clear_error (&error);

  /* A known user name with another user's password. */
  wrong = natter_test_mqtt_connect (fixture->broker, fixture->users[0].id,
                                    fixture->users[1].password, &error);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED);
  g_assert_null (wrong);
  g_clear_error (&error);

  /* The control: the same broker lets the right password in. */
  right = login (fixture, 0);
}

static void
test_read_own_topics_only (Fixture       *fixture,
                           gconstpointer  data)
{
  g_autoptr(NatterTestMqtt) a = login (fixture, 0);
  g_autoptr(NatterTestMqtt) b = login (fixture, 1);
  g_autoptr(NatterTestMqtt) c = login (fixture, 2);
  const char *b_id = fixture->users[1].id;
  g_autofree char *b_offer = topic (b_id, "offer");
  guint n = 0;

  for (guint i = 0; i < G_N_ELEMENTS (inbound_kinds); i++)
    {
      g_autofree char *t = topic (b_id, inbound_kinds[i]);

      g_assert_cmpint (natter_test_mqtt_subscribe (b, t), ==, 1);
      /* The broker may refuse (0x80) or grant and then never deliver; the
       * messages A receives below are what counts. */
      g_test_message ("A subscribing to B's %s: granted %d", inbound_kinds[i],
                      natter_test_mqtt_subscribe (a, t));
    }
  g_test_message ("A subscribing to natter/v1/#: granted %d",
                  natter_test_mqtt_subscribe (a, "natter/v1/#"));
  g_test_message ("A subscribing to #: granted %d", natter_test_mqtt_subscribe (a, "#"));

  /* C writes to every inbound topic of B, as any peer signaling B would. */
  for (guint i = 0; i < G_N_ELEMENTS (inbound_kinds); i++)
    {
      g_autofree char *t = topic (b_id, inbound_kinds[i]);

      publish_text (c, t, inbound_kinds[i], FALSE);
    }
  NATTER_TEST_WAIT_FOR (natter_test_mqtt_get_n_messages (b) == G_N_ELEMENTS (inbound_kinds), 5000);
  for (guint i = 0; i < G_N_ELEMENTS (inbound_kinds); i++)
    {
      g_autofree char *t = topic (b_id, inbound_kinds[i]);

      g_assert_true (message_is (b, n++, t, inbound_kinds[i]));
    }

  /* A may write to B's offer topic too: that is how A would signal B. */
  publish_text (a, b_offer, "from A", FALSE);
  NATTER_TEST_WAIT_FOR (natter_test_mqtt_get_n_messages (b) == n + 1, 5000);
  g_assert_true (message_is (b, n, b_offer, "from A"));

  /* By now B has all five; none of them may have reached A. */
  natter_test_spin (QUIET_MS);
  g_assert_cmpuint (natter_test_mqtt_get_n_messages (a), ==, 0);
  g_assert_cmpuint (natter_test_mqtt_get_n_messages (b), ==, n + 1);
}

static void
test_presence_owner_only (Fixture       *fixture,
                          gconstpointer  data)
{
  g_autoptr(NatterTestMqtt) a = login (fixture, 0);
  g_autoptr(NatterTestMqtt) b = login (fixture, 1);
  g_autoptr(NatterTestMqtt) c = login (fixture, 2);
  g_autoptr(NatterTestMqtt) late = NULL;
  g_autofree char *b_presence = topic (fixture->users[1].id, "presence");

  /* Anyone may follow anyone's presence. */
  g_assert_cmpint (natter_test_mqtt_subscribe (c, b_presence), ==, 1);

  /* The owner's retained presence reaches the follower (the control). */
  publish_text (b, b_presence, "B online", TRUE);
  NATTER_TEST_WAIT_FOR (natter_test_mqtt_get_n_messages (c) == 1, 5000);
  g_assert_true (message_is (c, 0, b_presence, "B online"));

  /* A tries to overwrite it, to publish a transient one and to clear it. */
  publish_text (a, b_presence, "A says B is offline", TRUE);
  publish_text (a, b_presence, "A says B is offline", FALSE);
  publish_text (a, b_presence, "", TRUE);
  natter_test_spin (QUIET_MS);
  g_assert_cmpuint (natter_test_mqtt_get_n_messages (c), ==, 1);

  /* A new follower still gets B's own retained presence. */
  late = login (fixture, 2);
  g_assert_cmpint (natter_test_mqtt_subscribe (late, b_presence), ==, 1);
  NATTER_TEST_WAIT_FOR (natter_test_mqtt_get_n_messages (late) >= 1, 5000);
  natter_test_spin (QUIET_MS);
  g_assert_cmpuint (natter_test_mqtt_get_n_messages (late), ==, 1);
  g_assert_true (message_is (late, 0, b_presence, "B online"));
}

/* ------------------------------------------------------------------------ */

typedef struct
{
  guint requests;
  guint received;
} Counts;

static void
on_request (NatterClient  *client,
            NatterContact *contact,
            Counts        *counts)
{
  counts->requests++;
}

static void
on_received (NatterClient  *client,
             NatterMessage *message,
             Counts        *counts)
{
  counts->received++;
}

static void
start_client (Fixture      *fixture,
              NatterClient *client,
              const char   *password,
              Counts       *counts)
{
  g_autoptr(GError) error = NULL;

  g_assert_true (natter_client_set_broker (client, natter_test_broker_get_url (fixture->broker),
                                           natter_client_get_peer_id (client), password, NULL,
                                           &error));
  g_assert_no_error (error);
  g_signal_connect (client, "contact-request", G_CALLBACK (on_request), counts);
  g_signal_connect (client, "message-received", G_CALLBACK (on_received), counts);
  natter_test_client_start (client);
}

static gboolean
chat_ready (NatterClient *client,
            NatterClient *other)
{
  const char *other_id = natter_client_get_peer_id (other);
  NatterPeerSession *session = natter_client_get_session (client, other_id);
  NatterChatProtocol *protocol = natter_client_get_chat_protocol (client, other_id);
  g_autofree char *conv = natter_client_conversation_for (client, other_id);

  return session != NULL && natter_peer_session_get_state (session) == NATTER_SESSION_CONNECTED &&
         protocol != NULL && natter_chat_protocol_is_synced (protocol, conv);
}

static void
test_natter_clients_chat (Fixture       *fixture,
                          gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(NatterMessage) message = NULL;
  g_autoptr(NatterMessage) reply = NULL;
  const char *alice_id = natter_client_get_peer_id (fixture->alice);
  const char *bob_id = natter_client_get_peer_id (fixture->bob);
  Counts alice_counts = { 0 };
  Counts bob_counts = { 0 };
  gint64 start = g_get_monotonic_time ();

  start_client (fixture, fixture->alice, fixture->alice_password, &alice_counts);
  start_client (fixture, fixture->bob, fixture->bob_password, &bob_counts);

  /* Contact request (Bob's inbound topic), acceptance (Alice's), presence
   * of each other (read by everyone), then offer/answer/ICE. */
  g_assert_nonnull (natter_client_add_contact (fixture->alice, bob_id, "bob", &error));
  g_assert_no_error (error);
  NATTER_TEST_WAIT_FOR (bob_counts.requests == 1, 10000);
  g_assert_true (natter_client_accept_contact (fixture->bob, alice_id, &error));
  g_assert_no_error (error);
  NATTER_TEST_WAIT_FOR (chat_ready (fixture->alice, fixture->bob) &&
                        chat_ready (fixture->bob, fixture->alice), CONNECT_TIMEOUT_MS);
  g_assert_true (natter_contact_get_online (natter_client_lookup_contact (fixture->alice, bob_id)));

  message = natter_client_send_message (fixture->alice, bob_id, "hello under the ACL", NULL,
                                        &error);
  g_assert_no_error (error);
  reply = natter_client_send_message (fixture->bob, alice_id, "hello back", NULL, &error);
  g_assert_no_error (error);
  NATTER_TEST_WAIT_FOR (bob_counts.received == 1 && alice_counts.received == 1 &&
                        natter_message_get_state (message) >= NATTER_MESSAGE_DELIVERED &&
                        natter_message_get_state (reply) >= NATTER_MESSAGE_DELIVERED, 10000);
  g_test_message ("contact, session and two messages under the ACL in %.2f s",
                  (g_get_monotonic_time () - start) / 1e6);

  /* Nothing the other sent was refused as malformed on the way. */
  g_assert_cmpuint (natter_signaling_get_rejected_count (natter_client_get_signaling (fixture->alice)),
                    ==, 0);
  g_assert_cmpuint (natter_signaling_get_rejected_count (natter_client_get_signaling (fixture->bob)),
                    ==, 0);

  /* Stopping publishes "offline" on Alice's own presence topic, which Bob reads. */
  natter_client_stop (fixture->alice);
  NATTER_TEST_WAIT_FOR (!natter_contact_get_online (natter_client_lookup_contact (fixture->bob,
                                                                                  alice_id)),
                        10000);
  g_signal_handlers_disconnect_by_data (fixture->alice, &alice_counts);
  g_signal_handlers_disconnect_by_data (fixture->bob, &bob_counts);
}

int
main (int   argc,
      char *argv[])
{
  gst_init (&argc, &argv);
  g_test_init (&argc, &argv, NULL);

  g_test_add ("/broker-acl/anonymous-refused", Fixture, NULL,
              fixture_setup, test_anonymous_refused, fixture_teardown);
  g_test_add ("/broker-acl/read-own-topics-only", Fixture, NULL,
              fixture_setup, test_read_own_topics_only, fixture_teardown);
  g_test_add ("/broker-acl/presence-owner-only", Fixture, NULL,
              fixture_setup, test_presence_owner_only, fixture_teardown);
  g_test_add ("/broker-acl/natter-clients-chat", Fixture, NULL,
              fixture_setup, test_natter_clients_chat, fixture_teardown);
  return g_test_run ();
}
