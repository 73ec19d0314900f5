/* test-signaling-url.c: broker URL parsing and the type → topic map of NatterSignaling. */
#include "natter-broker-url.h"
#include "natter-error.h"
#include "natter-signaling.h"

typedef struct
{
  const char *url;
  const char *host;
  guint16     port;
  gboolean    tls;
} ValidUrl;

static void
test_valid_urls (void)
{
  static const ValidUrl cases[] = {
    { "mqtt://127.0.0.1:1883", "127.0.0.1", 1883, FALSE },
    { "mqtt://broker.example.org", "broker.example.org", 1883, FALSE },
    { "mqtts://broker.example.org", "broker.example.org", 8883, TRUE },
    { "mqtts://broker.example.org:443", "broker.example.org", 443, TRUE },
    { "MQTT://localhost:1", "localhost", 1, FALSE },
    { "mqtt://localhost:65535/", "localhost", 65535, FALSE },
    { "mqtt://[::1]:1884", "::1", 1884, FALSE },
    { "mqtts://[::1]", "::1", 8883, TRUE },
    { "mqtt://my_broker-1.lan:18830", "my_broker-1.lan", 18830, FALSE },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autofree char *host = NULL;
      guint16 port = 0;
      gboolean tls = !cases[i].tls;

      g_test_message ("%s", cases[i].url);
      g_assert_true (natter_broker_url_parse (cases[i].url, &host, &port, &tls, &error));
      g_assert_no_error (error);
      g_assert_cmpstr (host, ==, cases[i].host);
      g_assert_cmpuint (port, ==, cases[i].port);
      g_assert_cmpint (tls, ==, cases[i].tls);
    }
}

static void
test_invalid_urls (void)
{
  static const char * const cases[] = {
    "",
    "broker.example.org",
    "127.0.0.1:1883",
    "http://broker.example.org",
    "ws://broker.example.org:9001",
    "mqtt://",
    "mqtt://:1883",
    "mqtt://host:0",
    "mqtt://host:65536",
    "mqtt://host:-1",
    "mqtt://host:abc",
    "mqtt://user:secret@host:1883",
    "mqtt://host:1883/path",
    "mqtt://host:1883?x=1",
    "mqtt://host:1883#frag",
    "mqtt://ho st:1883",
    "mqtt://host%2f..:1883",
    "mqtt://[::1:1883",
    "mqtt:host",
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autofree char *host = NULL;
      guint16 port = 7;

      g_test_message ("%s", cases[i]);
      g_assert_false (natter_broker_url_parse (cases[i], &host, &port, NULL, &error));
      g_assert_error (error, NATTER_ERROR, NATTER_ERROR_INVALID_INPUT);
      g_assert_null (host);
      g_assert_cmpuint (port, ==, 7);
    }

  {
    g_autoptr(GError) error = NULL;

    g_assert_false (natter_broker_url_parse (NULL, NULL, NULL, NULL, &error));
    g_assert_error (error, NATTER_ERROR, NATTER_ERROR_INVALID_INPUT);
  }
}

/* natter_signaling_parse_broker_url() stays for existing callers. */
static void
test_signaling_wrapper (void)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *host = NULL;
  guint16 port = 0;
  gboolean tls = TRUE;

  g_assert_true (natter_signaling_parse_broker_url ("mqtt://[::1]:1884", &host, &port, &tls, &error));
  g_assert_no_error (error);
  g_assert_cmpstr (host, ==, "::1");
  g_assert_cmpuint (port, ==, 1884);
  g_assert_false (tls);

  g_assert_false (natter_signaling_parse_broker_url (NULL, NULL, NULL, NULL, &error));
  g_assert_error (error, NATTER_ERROR, NATTER_ERROR_INVALID_INPUT);
}

static void
test_set_broker (void)
{
  static const guint8 seed[32] = { 1 };
  g_autoptr(NatterIdentity) identity = natter_identity_new_from_seed (seed);
  g_autoptr(NatterSignaling) signaling = natter_signaling_new (identity);
  g_autoptr(GError) error = NULL;

  g_assert_false (natter_signaling_set_broker (signaling, "tcp://x", NULL, NULL, NULL, &error));
  g_assert_error (error, NATTER_ERROR, NATTER_ERROR_INVALID_INPUT);
  g_clear_error (&error);

  g_assert_false (natter_signaling_set_broker (signaling, "mqtts://x", NULL, NULL,
                                               "/nonexistent/ca.pem", &error));
  g_assert_error (error, NATTER_ERROR, NATTER_ERROR_INVALID_INPUT);
  g_clear_error (&error);

  g_assert_false (natter_signaling_set_broker (signaling, "mqtt://x", NULL, "secret", NULL, &error));
  g_assert_error (error, NATTER_ERROR, NATTER_ERROR_INVALID_INPUT);
  g_clear_error (&error);

  g_assert_true (natter_signaling_set_broker (signaling, "mqtt://x", "user", "secret", NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpint (natter_signaling_get_state (signaling), ==, NATTER_SIGNALING_DISCONNECTED);
}

static void
test_topic_for_type (void)
{
  g_assert_cmpstr (natter_signaling_topic_for_type ("offer"), ==, "offer");
  g_assert_cmpstr (natter_signaling_topic_for_type ("bye"), ==, "offer");
  g_assert_cmpstr (natter_signaling_topic_for_type ("answer"), ==, "answer");
  g_assert_cmpstr (natter_signaling_topic_for_type ("ice"), ==, "ice");
  g_assert_cmpstr (natter_signaling_topic_for_type ("contact-request"), ==, "contact-request");
  g_assert_cmpstr (natter_signaling_topic_for_type ("contact-accept"), ==, "contact-request");
  g_assert_cmpstr (natter_signaling_topic_for_type ("contact-decline"), ==, "contact-request");
  g_assert_cmpstr (natter_signaling_topic_for_type ("presence"), ==, "presence");
  g_assert_null (natter_signaling_topic_for_type ("chat"));
  g_assert_null (natter_signaling_topic_for_type (""));
}

static void
test_send_refuses_bad_input (void)
{
  static const guint8 seed_a[32] = { 1 };
  static const guint8 seed_b[32] = { 2 };
  g_autoptr(NatterIdentity) a = natter_identity_new_from_seed (seed_a);
  g_autoptr(NatterIdentity) b = natter_identity_new_from_seed (seed_b);
  g_autoptr(NatterSignaling) signaling = natter_signaling_new (a);
  g_autoptr(GError) error = NULL;

  g_assert_false (natter_signaling_send (signaling, natter_identity_get_peer_id (b),
                                         "presence", NULL, NULL, &error));
  g_assert_error (error, NATTER_ERROR, NATTER_ERROR_INVALID_INPUT);
  g_clear_error (&error);

  g_assert_false (natter_signaling_send (signaling, natter_identity_get_peer_id (b),
                                         "chat", NULL, NULL, &error));
  g_assert_error (error, NATTER_ERROR, NATTER_ERROR_INVALID_INPUT);
  g_clear_error (&error);

  g_assert_false (natter_signaling_send (signaling, "natter/v1/user/#", "offer", NULL, NULL, &error));
  g_assert_error (error, NATTER_ERROR, NATTER_ERROR_INVALID_INPUT);
  g_clear_error (&error);

  g_assert_false (natter_signaling_send (signaling, natter_identity_get_peer_id (a),
                                         "offer", NULL, NULL, &error));
  g_assert_error (error, NATTER_ERROR, NATTER_ERROR_INVALID_INPUT);
  g_clear_error (&error);

  /* Not connected: queued for later, not an error; and a flush of a client
   * that is not running cannot succeed, but returns at once. */
  g_assert_true (natter_signaling_send (signaling, natter_identity_get_peer_id (b),
                                        "offer", NULL, NULL, &error));
  g_assert_no_error (error);
  g_assert_false (natter_signaling_flush (signaling, 60 * 1000));
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/signaling/url/valid", test_valid_urls);
  g_test_add_func ("/signaling/url/invalid", test_invalid_urls);
  g_test_add_func ("/signaling/url/wrapper", test_signaling_wrapper);
  g_test_add_func ("/signaling/set-broker", test_set_broker);
  g_test_add_func ("/signaling/topic-for-type", test_topic_for_type);
  g_test_add_func ("/signaling/send-refuses-bad-input", test_send_refuses_bad_input);

  return g_test_run ();
}
