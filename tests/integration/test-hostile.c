/* test-hostile.c: forged, replayed, misaddressed and garbage signaling from a plain MQTT client against real peers. */
#define G_LOG_DOMAIN "natter-test-hostile"

#include <stdio.h>
#include <string.h>

#include <gst/gst.h>

#include "natter-chat-protocol.h"
#include "natter-client.h"
#include "natter-identity.h"
#include "natter-test-client.h"
#include "natter-test-mqtt.h"
#include "natter-test-peer.h"

#define CONNECT_TIMEOUT_MS 20000
#define QUIET_MS           500
#define FLOOD_COUNT        10000
#define FLOOD_WARMUP       1000
#define FLOOD_BATCH        500
#define RSS_BOUND_KIB      (8 * 1024)

#if defined(__SANITIZE_ADDRESS__)
#define UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UNDER_ASAN 1
#endif
#endif

/* The reference offer of docs/PROTOCOL.md §8.3: a well-formed SDP. */
static const char offer_sdp[] =
  "v=0\\r\\no=- 4570681781599645854 0 IN IP4 0.0.0.0\\r\\ns=-\\r\\nt=0 0\\r\\n"
  "a=ice-options:trickle\\r\\na=group:BUNDLE application0\\r\\n"
  "m=application 9 UDP/DTLS/SCTP webrtc-datachannel\\r\\nc=IN IP4 0.0.0.0\\r\\n"
  "a=setup:actpass\\r\\na=ice-ufrag:X7F8HwNOXSmJXjxcadNnruT2vSzmb+Sq\\r\\n"
  "a=ice-pwd:VlxOs7NXjD9YvgUemKqZufW3AhcRIha6\\r\\na=mid:application0\\r\\n"
  "a=sctp-port:5000\\r\\na=fingerprint:sha-256 4C:39:0E:0A:6D:D1:A9:64:49:DA:4C:23:C6:BA:01:"
  "E5:B2:85:2F:5A:A7:4E:18:49:CF:44:A8:B0:D3:4D:E8:0B\\r\\n";

/* ------------------------------------------------------------------------ */
/* Envelopes built from docs/PROTOCOL.md §5, independently of the codec      */
/* ------------------------------------------------------------------------ */

static char *
random_nonce (void)
{
  static const char alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  char *nonce = g_malloc (23);

  for (guint i = 0; i < 22; i++)
    nonce[i] = alphabet[g_random_int_range (0, 64)];
  nonce[22] = '\0';
  return nonce;
}

static NatterIdentity *
random_identity (GRand *rand)
{
  guint8 seed[32];

  for (guint i = 0; i < sizeof seed; i++)
    seed[i] = (guint8) g_rand_int_range (rand, 0, 256);
  return natter_identity_new_from_seed (seed);
}

/* The inner text T of an addressed envelope, fresh ts and nonce. */
static char *
envelope_text (const char *type,
               const char *from,
               const char *to,
               const char *session,
               const char *body)
{
  g_autofree char *nonce = random_nonce ();

  return g_strdup_printf ("{\"v\":1,\"type\":\"%s\",\"from\":\"%s\",\"to\":\"%s\","
                          "\"session\":\"%s\",\"ts\":%" G_GINT64_FORMAT ",\"nonce\":\"%s\","
                          "\"body\":%s}",
                          type, from, to, session, g_get_real_time () / 1000, nonce, body);
}

/* "NTR1" || Ed25519(signer, "natter/v1/envelope" 0x00 || T) || T, then
 * "NTS1" || sealed box to @seal_to when that is not NULL. */
static GBytes *
frame_payload (NatterIdentity *signer,
               const guint8   *text,
               gsize           text_len,
               const char     *seal_to)
{
  static const char context[] = "natter/v1/envelope";
  g_autoptr(GByteArray) message = g_byte_array_new ();
  g_autoptr(GByteArray) frame = g_byte_array_new ();
  g_autoptr(GBytes) sealed = NULL;
  guint8 signature[NATTER_SIGNATURE_SIZE];
  guint8 key[NATTER_PUBLIC_KEY_SIZE];
  GByteArray *payload;

  g_byte_array_append (message, (const guint8 *) context, sizeof context);  /* with its NUL */
  g_byte_array_append (message, text, text_len);
  natter_identity_sign (signer, message->data, message->len, signature);
  g_byte_array_append (frame, (const guint8 *) "NTR1", 4);
  g_byte_array_append (frame, signature, sizeof signature);
  g_byte_array_append (frame, text, text_len);
  if (seal_to == NULL)
    return g_byte_array_free_to_bytes (g_steal_pointer (&frame));

  g_assert_true (natter_peer_id_to_public_key (seal_to, key, NULL));
  sealed = natter_identity_seal (key, frame->data, frame->len);
  g_assert_nonnull (sealed);
  payload = g_byte_array_new ();
  g_byte_array_append (payload, (const guint8 *) "NTS1", 4);
  g_byte_array_append (payload, g_bytes_get_data (sealed, NULL), g_bytes_get_size (sealed));
  return g_byte_array_free_to_bytes (payload);
}

static GBytes *
envelope_payload (NatterIdentity *signer,
                  const char     *text,
                  const char     *seal_to)
{
  return frame_payload (signer, (const guint8 *) text, strlen (text), seal_to);
}

static char *
topic (const char *peer_id,
       const char *kind)
{
  return g_strdup_printf ("natter/v1/user/%s/%s", peer_id, kind);
}

static void
publish (NatterTestMqtt *mqtt,
         const char     *peer_id,
         const char     *kind,
         GBytes         *payload)
{
  g_autofree char *t = topic (peer_id, kind);

  natter_test_mqtt_publish (mqtt, t, g_bytes_get_data (payload, NULL),
                            g_bytes_get_size (payload), FALSE);
}

/* ------------------------------------------------------------------------ */
/* Refusal reasons, from the signaling layer's debug log (which names the    */
/* failed check and never content)                                            */
/* ------------------------------------------------------------------------ */

static GPtrArray *refusals;   /* the MESSAGE of every "Rejected an envelope" line */

static GLogWriterOutput
log_writer (GLogLevelFlags   level,
            const GLogField *fields,
            gsize            n_fields,
            gpointer         user_data)
{
  const char *domain = NULL;
  const char *message = NULL;

  for (gsize i = 0; i < n_fields; i++)
    {
      if (g_str_equal (fields[i].key, "GLIB_DOMAIN"))
        domain = fields[i].value;
      else if (g_str_equal (fields[i].key, "MESSAGE"))
        message = fields[i].value;
    }
  if (g_strcmp0 (domain, "natter-signaling") == 0 && message != NULL &&
      g_str_has_prefix (message, "Rejected an envelope"))
    g_ptr_array_add (refusals, g_strdup (message));
  return g_log_writer_default (level, fields, n_fields, user_data);
}

/* How many refusals so far end with @reason. */
static guint
refusals_for (const char *reason)
{
  guint n = 0;

  for (guint i = 0; i < refusals->len; i++)
    n += g_str_has_suffix (g_ptr_array_index (refusals, i), reason);
  return n;
}

/* ------------------------------------------------------------------------ */
/* In-process peers: the victim and its real contact                          */
/* ------------------------------------------------------------------------ */

typedef struct
{
  char           *profile;
  NatterClient   *client;
  guint           requests;
  guint           received;        /* chat messages */
  guint           envelopes;       /* envelopes that passed the signaling checks */
  guint           session_events;  /* session state changes, any contact */
} Peer;

typedef struct
{
  NatterTestEnv   env;
  NatterTestMqtt *mqtt;     /* the attacker: anyone who can publish to the broker */
  GRand          *rand;
  Peer           *victim;
  Peer           *contact;
} Fixture;

static void
on_request (NatterClient  *client,
            NatterContact *contact,
            Peer          *peer)
{
  peer->requests++;
}

static void
on_received (NatterClient  *client,
             NatterMessage *message,
             Peer          *peer)
{
  peer->received++;
}

static void
on_session (NatterClient  *client,
            NatterContact *contact,
            int            state,
            Peer          *peer)
{
  peer->session_events++;
}

static void
on_envelope (NatterSignaling *signaling,
             NatterEnvelope  *envelope,
             Peer            *peer)
{
  peer->envelopes++;
}

static Peer *
peer_new (Fixture    *fixture,
          const char *name)
{
  g_autoptr(GError) error = NULL;
  Peer *peer = g_new0 (Peer, 1);

  peer->profile = g_build_filename (fixture->env.dir, name, NULL);
  peer->client = natter_test_client_open (natter_test_broker_get_url (fixture->env.broker),
                                          peer->profile, NULL, &error);
  g_assert_no_error (error);
  g_signal_connect (peer->client, "contact-request", G_CALLBACK (on_request), peer);
  g_signal_connect (peer->client, "message-received", G_CALLBACK (on_received), peer);
  g_signal_connect (peer->client, "session-state-changed", G_CALLBACK (on_session), peer);
  g_signal_connect (natter_client_get_signaling (peer->client), "envelope-received",
                    G_CALLBACK (on_envelope), peer);
  natter_test_client_start (peer->client);
  return peer;
}

static void
peer_free (Peer *peer)
{
  if (peer == NULL)
    return;
  g_signal_handlers_disconnect_by_data (natter_client_get_signaling (peer->client), peer);
  g_signal_handlers_disconnect_by_data (peer->client, peer);
  g_clear_object (&peer->client);
  g_free (peer->profile);
  g_free (peer);
}

static const char *
id_of (Peer *peer)
{
  return natter_client_get_peer_id (peer->client);
}

static guint
rejected (Peer *peer)
{
  return natter_signaling_get_rejected_count (natter_client_get_signaling (peer->client));
}

static guint
replayed (Peer *peer)
{
  return natter_signaling_get_replay_count (natter_client_get_signaling (peer->client));
}

static gboolean
chat_ready (Peer *peer,
            Peer *other)
{
  NatterPeerSession *session = natter_client_get_session (peer->client, id_of (other));
  NatterChatProtocol *protocol = natter_client_get_chat_protocol (peer->client, id_of (other));
  g_autofree char *conv = natter_client_conversation_for (peer->client, id_of (other));

  return session != NULL && natter_peer_session_get_state (session) == NATTER_SESSION_CONNECTED &&
         protocol != NULL && natter_chat_protocol_is_synced (protocol, conv);
}

/* The real flow: the contact asks, the victim accepts, both connect. */
static void
make_contacts (Fixture *fixture)
{
  g_autoptr(GError) error = NULL;

  g_assert_nonnull (natter_client_add_contact (fixture->contact->client, id_of (fixture->victim),
                                               "victim", &error));
  g_assert_no_error (error);
  NATTER_TEST_WAIT_FOR (fixture->victim->requests == 1, 10000);
  g_assert_true (natter_client_accept_contact (fixture->victim->client, id_of (fixture->contact),
                                               &error));
  g_assert_no_error (error);
  NATTER_TEST_WAIT_FOR (chat_ready (fixture->victim, fixture->contact) &&
                        chat_ready (fixture->contact, fixture->victim), CONNECT_TIMEOUT_MS);
}

/* One message each way, both delivered: the pair still works. */
static void
assert_chat_works (Peer *a,
                   Peer *b)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(NatterMessage) there = NULL;
  g_autoptr(NatterMessage) back = NULL;
  guint a_received = a->received;
  guint b_received = b->received;

  NATTER_TEST_WAIT_FOR (chat_ready (a, b) && chat_ready (b, a), CONNECT_TIMEOUT_MS);
  there = natter_client_send_message (a->client, id_of (b), "still here?", NULL, &error);
  g_assert_no_error (error);
  back = natter_client_send_message (b->client, id_of (a), "yes", NULL, &error);
  g_assert_no_error (error);
  NATTER_TEST_WAIT_FOR (b->received == b_received + 1 && a->received == a_received + 1 &&
                        natter_message_get_state (there) >= NATTER_MESSAGE_DELIVERED &&
                        natter_message_get_state (back) >= NATTER_MESSAGE_DELIVERED, 10000);
}

static void
fixture_setup (Fixture       *fixture,
               gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  guint32 seed = g_test_rand_int ();

  g_test_message ("garbage seed %u", seed);
  g_ptr_array_set_size (refusals, 0);
  fixture->rand = g_rand_new_with_seed (seed);
  natter_test_env_setup (&fixture->env, data);
  fixture->mqtt = natter_test_mqtt_connect (fixture->env.broker, NULL, NULL, &error);
  g_assert_no_error (error);
}

static void
fixture_teardown (Fixture       *fixture,
                  gconstpointer  data)
{
  g_clear_pointer (&fixture->victim, peer_free);
  g_clear_pointer (&fixture->contact, peer_free);
  g_clear_pointer (&fixture->mqtt, natter_test_mqtt_free);
  g_clear_pointer (&fixture->rand, g_rand_free);
  natter_test_env_teardown (&fixture->env, data);
}

static void
setup_pair (Fixture *fixture)
{
  fixture->victim = peer_new (fixture, "victim");
  fixture->contact = peer_new (fixture, "contact");
  make_contacts (fixture);
}

/* An `ice` envelope for a session id nobody uses: accepted by signaling
 * (and kept as early ICE), harmless to the running session. It shows that
 * the attacker's publishing path does deliver what is genuine. */
static char *
harmless_ice_text (const char *from,
                   const char *to)
{
  return envelope_text ("ice", from, to, "00000000-0000-4000-8000-000000000000",
                        "{\"candidates\":[{\"mline\":0,\"candidate\":"
                        "\"candidate:1 1 UDP 2015363327 127.0.0.1 9 typ host\"}],"
                        "\"complete\":false}");
}

/* ------------------------------------------------------------------------ */

static void
test_forged_offer (Fixture       *fixture,
                   gconstpointer  data)
{
  g_autoptr(NatterIdentity) mallory = random_identity (fixture->rand);
  g_autoptr(NatterIdentity) real = NULL;
  g_autoptr(GBytes) forged = NULL;
  g_autoptr(GBytes) stranger = NULL;
  g_autoptr(GBytes) genuine = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *forged_text = NULL;
  g_autofree char *stranger_text = NULL;
  g_autofree char *genuine_text = NULL;
  g_autofree char *body = g_strdup_printf ("{\"sdp\":\"%s\"}", offer_sdp);
  const char *victim_id;
  const char *contact_id;
  guint rejected_before;
  guint envelopes_before;
  guint sessions_before;

  setup_pair (fixture);
  victim_id = id_of (fixture->victim);
  contact_id = id_of (fixture->contact);
  rejected_before = rejected (fixture->victim);
  envelopes_before = fixture->victim->envelopes;
  sessions_before = fixture->victim->session_events;

  /* Valid JSON, valid SDP, sealed to the victim, claiming to come from its
   * contact, but signed by Mallory's key. */
  forged_text = envelope_text ("offer", contact_id, victim_id,
                               "6f1c2b0e-3c59-4a4e-9d7a-0b8f2f1d5e21", body);
  /* The same offer, honestly signed by Mallory as herself: a stranger. */
  stranger_text = envelope_text ("offer", natter_identity_get_peer_id (mallory), victim_id,
                                 "6f1c2b0e-3c59-4a4e-9d7a-0b8f2f1d5e22", body);
  forged = envelope_payload (mallory, forged_text, victim_id);
  stranger = envelope_payload (mallory, stranger_text, victim_id);
  publish (fixture->mqtt, victim_id, "offer", forged);
  publish (fixture->mqtt, victim_id, "offer", stranger);
  g_assert_true (natter_test_mqtt_sync (fixture->mqtt, 5000));

  /* The forgery fails the signature check; the stranger's offer passes the
   * signaling checks and is dropped by the client: not a contact. */
  NATTER_TEST_WAIT_FOR (rejected (fixture->victim) == rejected_before + 1 &&
                        fixture->victim->envelopes == envelopes_before + 1, 5000);
  natter_test_spin (QUIET_MS);
  g_assert_cmpuint (rejected (fixture->victim), ==, rejected_before + 1);
  g_assert_cmpuint (refusals_for ("bad signature"), ==, 1);
  g_assert_cmpuint (fixture->victim->envelopes, ==, envelopes_before + 1);
  /* No session was created or disturbed, no contact appeared. */
  g_assert_cmpuint (fixture->victim->session_events, ==, sessions_before);
  g_assert_true (chat_ready (fixture->victim, fixture->contact));
  g_assert_null (natter_client_get_session (fixture->victim->client,
                                            natter_identity_get_peer_id (mallory)));
  g_assert_null (natter_client_lookup_contact (fixture->victim->client,
                                               natter_identity_get_peer_id (mallory)));

  /* The control: the same path delivers what the contact really signed. */
  real = natter_identity_load (fixture->contact->profile, &error);
  g_assert_no_error (error);
  genuine_text = harmless_ice_text (contact_id, victim_id);
  genuine = envelope_payload (real, genuine_text, victim_id);
  publish (fixture->mqtt, victim_id, "ice", genuine);
  NATTER_TEST_WAIT_FOR (fixture->victim->envelopes == envelopes_before + 2, 5000);
  g_assert_cmpuint (rejected (fixture->victim), ==, rejected_before + 1);

  /* The victim still talks to its real contact, and reconnects to it. */
  assert_chat_works (fixture->victim, fixture->contact);
  natter_client_stop (fixture->contact->client);
  NATTER_TEST_WAIT_FOR (!natter_contact_get_online (natter_client_lookup_contact (
                          fixture->victim->client, contact_id)), 10000);
  natter_client_start (fixture->contact->client);
  assert_chat_works (fixture->victim, fixture->contact);
}

static void
test_replayed_envelopes (Fixture       *fixture,
                         gconstpointer  data)
{
  static const char * const kinds[] = { "offer", "answer", "ice", "contact-request" };
  g_autoptr(NatterTestMqtt) eavesdropper = NULL;
  g_autoptr(GError) error = NULL;
  guint replayed_before;
  guint rejected_before;
  guint envelopes_before;
  guint sessions_before;
  guint n;

  /* Without an ACL anyone can listen to the victim's inbound topics; the
   * envelopes are sealed, but can be sent again as they are. */
  fixture->victim = peer_new (fixture, "victim");
  eavesdropper = natter_test_mqtt_connect (fixture->env.broker, NULL, NULL, &error);
  g_assert_no_error (error);
  for (guint i = 0; i < G_N_ELEMENTS (kinds); i++)
    {
      g_autofree char *t = topic (id_of (fixture->victim), kinds[i]);

      g_assert_cmpint (natter_test_mqtt_subscribe (eavesdropper, t), ==, 1);
    }
  fixture->contact = peer_new (fixture, "contact");
  make_contacts (fixture);
  assert_chat_works (fixture->victim, fixture->contact);

  n = natter_test_mqtt_get_n_messages (eavesdropper);
  /* At least the contact request, and an offer or an answer, and ICE. */
  g_assert_cmpuint (n, >=, 3);
  replayed_before = replayed (fixture->victim);
  rejected_before = rejected (fixture->victim);
  envelopes_before = fixture->victim->envelopes;
  sessions_before = fixture->victim->session_events;

  for (guint i = 0; i < n; i++)
    {
      g_autofree char *t = NULL;
      g_autoptr(GBytes) payload = natter_test_mqtt_get_message (eavesdropper, i, &t);

      natter_test_mqtt_publish (fixture->mqtt, t, g_bytes_get_data (payload, NULL),
                                g_bytes_get_size (payload), FALSE);
    }
  g_assert_true (natter_test_mqtt_sync (fixture->mqtt, 5000));
  NATTER_TEST_WAIT_FOR (replayed (fixture->victim) >= replayed_before + n, 5000);
  natter_test_spin (QUIET_MS);
  g_test_message ("replayed %u captured envelopes", n);

  /* Every one refused as seen before; nothing reached the client. */
  g_assert_cmpuint (replayed (fixture->victim), ==, replayed_before + n);
  g_assert_cmpuint (rejected (fixture->victim), ==, rejected_before + n);
  g_assert_cmpuint (refusals_for ("nonce seen before"), ==, n);
  g_assert_cmpuint (fixture->victim->envelopes, ==, envelopes_before);
  g_assert_cmpuint (fixture->victim->session_events, ==, sessions_before);
  g_assert_cmpuint (fixture->victim->requests, ==, 1);
  assert_chat_works (fixture->victim, fixture->contact);
}

static void
test_misaddressed (Fixture       *fixture,
                   gconstpointer  data)
{
  g_autoptr(NatterIdentity) real = NULL;
  g_autoptr(NatterIdentity) third = random_identity (fixture->rand);
  g_autoptr(GBytes) for_third_sealed_to_victim = NULL;
  g_autoptr(GBytes) for_third_sealed_to_third = NULL;
  g_autoptr(GBytes) genuine = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *text_for_third = NULL;
  g_autofree char *genuine_text = NULL;
  const char *victim_id;
  const char *third_id = natter_identity_get_peer_id (third);
  guint rejected_before;
  guint envelopes_before;
  guint sessions_before;

  setup_pair (fixture);
  victim_id = id_of (fixture->victim);
  real = natter_identity_load (fixture->contact->profile, &error);
  g_assert_no_error (error);
  rejected_before = rejected (fixture->victim);
  envelopes_before = fixture->victim->envelopes;
  sessions_before = fixture->victim->session_events;

  /* Genuinely signed by the contact, but addressed to a third peer: once
   * re-sealed to the victim (so it opens), once as sent (sealed to the
   * third peer). Both land on the victim's ice topic. */
  text_for_third = harmless_ice_text (id_of (fixture->contact), third_id);
  for_third_sealed_to_victim = envelope_payload (real, text_for_third, victim_id);
  for_third_sealed_to_third = envelope_payload (real, text_for_third, third_id);
  publish (fixture->mqtt, victim_id, "ice", for_third_sealed_to_victim);
  publish (fixture->mqtt, victim_id, "ice", for_third_sealed_to_third);
  g_assert_true (natter_test_mqtt_sync (fixture->mqtt, 5000));
  NATTER_TEST_WAIT_FOR (rejected (fixture->victim) == rejected_before + 2, 5000);

  /* The control, same signer and path, addressed to the victim. */
  genuine_text = harmless_ice_text (id_of (fixture->contact), victim_id);
  genuine = envelope_payload (real, genuine_text, victim_id);
  publish (fixture->mqtt, victim_id, "ice", genuine);
  NATTER_TEST_WAIT_FOR (fixture->victim->envelopes == envelopes_before + 1, 5000);
  natter_test_spin (QUIET_MS);
  g_assert_cmpuint (rejected (fixture->victim), ==, rejected_before + 2);
  g_assert_cmpuint (refusals_for ("addressed to someone else"), ==, 1);
  g_assert_cmpuint (refusals_for ("not sealed to us, or altered"), ==, 1);
  g_assert_cmpuint (fixture->victim->envelopes, ==, envelopes_before + 1);
  g_assert_cmpuint (fixture->victim->session_events, ==, sessions_before);
  assert_chat_works (fixture->victim, fixture->contact);
}

/* ------------------------------------------------------------------------ */
/* 10,000 garbage payloads against a natter-cli process                        */
/* ------------------------------------------------------------------------ */

static void
append_random (GByteArray *array,
               GRand      *rand,
               gsize       length)
{
  for (gsize i = 0; i < length; i++)
    {
      guint8 byte = (guint8) g_rand_int_range (rand, 0, 256);

      g_byte_array_append (array, &byte, 1);
    }
}

/* JSON-looking text that stresses the strict parser: deep nesting, odd
 * numbers, escapes, duplicate members, truncation. */
static char *
garbage_json (GRand *rand)
{
  static const char * const pieces[] = {
    "{", "}", "[", "]", ",", ":", "\"v\"", "\"type\"", "\"offer\"", "\"from\"", "\"to\"",
    "\"nonce\"", "\"ts\"", "\"body\"", "\"sdp\"", "1", "-0", "1e999", "9223372036854775808",
    "0.5", "true", "null", "\"\\ud800\"", "\"\\u0000\"", "\"\xc3\x28\"", "\"\xf0\x9f\x91\x8b\"",
    "NaN", " ", "\"a\":1,\"a\":2",
  };
  GString *text = g_string_new (NULL);
  guint n = g_rand_int_range (rand, 1, 200);

  if (g_rand_boolean (rand))
    {
      /* Deeper than the 32 levels allowed. */
      for (guint i = 0; i < (guint) g_rand_int_range (rand, 20, 200); i++)
        g_string_append (text, g_rand_boolean (rand) ? "[" : "{\"a\":");
    }
  for (guint i = 0; i < n; i++)
    g_string_append (text, pieces[g_rand_int_range (rand, 0, G_N_ELEMENTS (pieces))]);
  return g_string_free (text, FALSE);
}

/* One hostile payload of a random kind. */
static GBytes *
garbage_payload (GRand          *rand,
                 NatterIdentity *signer,
                 const char     *victim_id,
                 const char     *contact_id)
{
  g_autoptr(GByteArray) array = g_byte_array_new ();
  guint kind = g_rand_int_range (rand, 0, 100);

  if (kind < 25)
    append_random (array, rand, g_rand_int_range (rand, 1, 2048));
  else if (kind < 40)
    {
      /* Sealed-looking, but not openable. */
      g_byte_array_append (array, (const guint8 *) "NTS1", 4);
      append_random (array, rand, g_rand_int_range (rand, 0, 4096));
    }
  else if (kind < 50)
    {
      g_byte_array_append (array, (const guint8 *) "NTR1", 4);
      append_random (array, rand, g_rand_int_range (rand, 0, 1024));
    }
  else if (kind < 65)
    {
      /* Signed JSON garbage, half of it sealed to the victim so it opens. */
      g_autofree char *text = garbage_json (rand);

      return envelope_payload (signer, text, g_rand_boolean (rand) ? victim_id : NULL);
    }
  else if (kind < 85)
    {
      /* A well-formed envelope claiming to be the contact, badly signed,
       * some with a field out of range. */
      g_autofree char *text = NULL;

      text = envelope_text (g_rand_boolean (rand) ? "offer" : "ice", contact_id, victim_id,
                            g_rand_boolean (rand) ? "s" : "x y", "{\"sdp\":\"v=0\"}");
      return envelope_payload (signer, text, g_rand_boolean (rand) ? victim_id : NULL);
    }
  else if (kind < 87)
    {
      /* Over the 64 KiB limit. */
      g_byte_array_append (array, (const guint8 *) "NTS1", 4);
      append_random (array, rand, NATTER_MAX_ENVELOPE_SIZE + g_rand_int_range (rand, 0, 4096));
    }
  else if (kind < 90)
    ;   /* empty */
  else
    {
      /* A sealed box that opens to random bytes. */
      g_autoptr(GByteArray) inner = g_byte_array_new ();

      append_random (inner, rand, g_rand_int_range (rand, 0, 512));
      if (inner->len >= 4 && g_rand_boolean (rand))
        memcpy (inner->data, "NTR1", 4);
      return frame_payload (signer, inner->data, inner->len, victim_id);
    }
  return g_byte_array_free_to_bytes (g_steal_pointer (&array));
}

/* Counts lines of a growing log file that contain a needle, reading only
 * what was appended since the last call. */
typedef struct
{
  FILE    *file;
  GString *partial;   /* an unfinished last line */
  gsize    count;
} LogCounter;

static gsize
log_counter_update (LogCounter *counter,
                    const char *path,
                    const char *needle)
{
  char buffer[65536];
  gsize n;

  if (counter->file == NULL)
    {
      counter->file = fopen (path, "r");
      counter->partial = g_string_new (NULL);
      if (counter->file == NULL)
        return 0;
    }
  while ((n = fread (buffer, 1, sizeof buffer, counter->file)) > 0)
    {
      char *line;
      char *newline;

      g_string_append_len (counter->partial, buffer, n);
      line = counter->partial->str;
      while ((newline = memchr (line, '\n', counter->partial->str + counter->partial->len - line))
             != NULL)
        {
          *newline = '\0';
          counter->count += strstr (line, needle) != NULL;
          line = newline + 1;
        }
      g_string_erase (counter->partial, 0, line - counter->partial->str);
    }
  clearerr (counter->file);
  return counter->count;
}

static void
log_counter_clear (LogCounter *counter)
{
  g_clear_pointer (&counter->file, fclose);
  if (counter->partial != NULL)
    g_string_free (g_steal_pointer (&counter->partial), TRUE);
}

/* A line of /proc/PID/status in KiB (VmRSS, VmHWM). */
static guint64
proc_status_kib (GPid        pid,
                 const char *field)
{
  g_autofree char *path = g_strdup_printf ("/proc/%d/status", (int) pid);
  g_autofree char *text = NULL;
  g_autofree char *key = g_strconcat ("\n", field, ":", NULL);
  const char *line;

  g_assert_true (g_file_get_contents (path, &text, NULL, NULL));
  line = strstr (text, key);
  g_assert_nonnull (line);
  return g_ascii_strtoull (line + strlen (key), NULL, 10);
}

typedef struct
{
  GRand          *rand;
  NatterTestMqtt *mqtt;
  NatterIdentity *mallory;
  const char     *victim_id;
  const char     *contact_id;
  const char     *log_path;
  LogCounter      log;
  gsize           expected;    /* refusals the victim should have logged so far */
} Flood;

/* Sends @count payloads round robin over every topic of the victim and its
 * contact's presence, in batches paced by the victim's progress so the
 * broker never has to drop any for a slow subscriber. */
static void
flood (Flood *f,
       guint  count)
{
  const char * const kinds[] = { "offer", "answer", "ice", "contact-request", "presence" };

  for (guint sent = 0; sent < count;)
    {
      for (guint i = 0; i < FLOOD_BATCH && sent < count; i++, sent++)
        {
          g_autoptr(GBytes) payload = garbage_payload (f->rand, f->mallory, f->victim_id,
                                                       f->contact_id);
          guint slot = sent % (G_N_ELEMENTS (kinds) + 1);

          if (slot < G_N_ELEMENTS (kinds))
            {
              publish (f->mqtt, f->victim_id, kinds[slot], payload);
              /* The victim does not follow its own presence. */
              if (slot < 4)
                f->expected++;
            }
          else
            {
              publish (f->mqtt, f->contact_id, "presence", payload);
              /* An empty retained presence is a cleared topic, not a refusal. */
              if (g_bytes_get_size (payload) > 0)
                f->expected++;
            }
        }
      g_assert_true (natter_test_mqtt_sync (f->mqtt, 20000));
      NATTER_TEST_WAIT_FOR (log_counter_update (&f->log, f->log_path, "Rejected an envelope") >=
                            f->expected, 20000);
    }
}

/* The contact writes, the victim process receives and answers. */
static void
assert_cli_chats (NatterTestPeer *victim,
                  Peer           *contact)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(NatterMessage) message = NULL;
  guint from = natter_test_peer_get_n_events (victim);
  guint received = contact->received;

  message = natter_client_send_message (contact->client, natter_test_peer_get_peer_id (victim),
                                        "ping", NULL, &error);
  g_assert_no_error (error);
  g_assert_nonnull (natter_test_peer_wait_event (victim, from, "message", "text", "ping", 10000));
  natter_test_peer_command (victim, "{\"cmd\":\"send\",\"to\":\"%s\",\"text\":\"pong\"}",
                            id_of (contact));
  NATTER_TEST_WAIT_FOR (contact->received == received + 1 &&
                        natter_message_get_state (message) >= NATTER_MESSAGE_DELIVERED, 10000);
}

static void
test_garbage_flood (Fixture       *fixture,
                    gconstpointer  data)
{
  g_autoptr(NatterIdentity) mallory = random_identity (fixture->rand);
  g_autoptr(NatterTestPeer) victim = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *profile = g_build_filename (fixture->env.dir, "cli-victim", NULL);
  g_autofree char *log_path = g_strconcat (profile, ".log", NULL);
  const char * const run_args[] = { "--accept-contacts", NULL };
  guint64 rss_before, rss_after, hwm_after;
  guint first_flood_event;
  gint64 start;
  Flood f = { 0 };
  GPid pid;

#ifdef UNDER_ASAN
  {
    /* natter-cli is built like this test. ASan keeps freed memory in a
     * 256 MiB quarantine, which would read as growth here; a small one
     * keeps the RSS figure about retained memory. */
    g_autofree char *asan = g_strconcat (g_getenv ("ASAN_OPTIONS") ? g_getenv ("ASAN_OPTIONS") : "",
                                         ":quarantine_size_mb=1", NULL);

    g_setenv ("ASAN_OPTIONS", asan, TRUE);
  }
#endif
  victim = natter_test_peer_start (profile, natter_test_broker_get_url (fixture->env.broker),
                                   run_args);
  pid = natter_test_peer_get_pid (victim);
  g_assert_cmpint (pid, >, 0);
  fixture->contact = peer_new (fixture, "contact");
  g_assert_nonnull (natter_client_add_contact (fixture->contact->client,
                                               natter_test_peer_get_peer_id (victim), "victim",
                                               &error));
  g_assert_no_error (error);
  NATTER_TEST_WAIT_FOR (natter_test_peer_count_events (victim, "session", "state", "connected") >= 1,
                        CONNECT_TIMEOUT_MS);
  assert_cli_chats (victim, fixture->contact);

  f.rand = fixture->rand;
  f.mqtt = fixture->mqtt;
  f.mallory = mallory;
  f.victim_id = natter_test_peer_get_peer_id (victim);
  f.contact_id = id_of (fixture->contact);
  f.log_path = log_path;
  f.expected = log_counter_update (&f.log, log_path, "Rejected an envelope");

  /* Allocator arenas and caches settle during a first, smaller flood. */
  flood (&f, FLOOD_WARMUP);
  rss_before = proc_status_kib (pid, "VmRSS");
  first_flood_event = natter_test_peer_get_n_events (victim);

  start = g_get_monotonic_time ();
  flood (&f, FLOOD_COUNT);
  rss_after = proc_status_kib (pid, "VmRSS");
  hwm_after = proc_status_kib (pid, "VmHWM");
  g_test_message ("%u garbage payloads in %.1f s; %" G_GSIZE_FORMAT " refusals logged in all; "
                  "natter-cli VmRSS %" G_GUINT64_FORMAT " KiB before, %" G_GUINT64_FORMAT
                  " KiB after (%+" G_GINT64_FORMAT " KiB), VmHWM %" G_GUINT64_FORMAT " KiB",
                  FLOOD_COUNT, (g_get_monotonic_time () - start) / 1e6, f.expected,
                  rss_before, rss_after, (gint64) rss_after - (gint64) rss_before, hwm_after);
  g_assert_cmpuint (rss_after, <, rss_before + RSS_BOUND_KIB);

  /* Nothing reached the user: no contact request, no session change, no
   * presence flip of the contact, no message. */
  for (guint i = first_flood_event; i < natter_test_peer_get_n_events (victim); i++)
    {
      JsonObject *event = natter_test_peer_get_event (victim, i);
      const char *name = json_object_get_string_member_with_default (event, "event", "");

      g_assert_true (!g_str_equal (name, "contact-request") && !g_str_equal (name, "session") &&
                     !g_str_equal (name, "presence") && !g_str_equal (name, "message") &&
                     !g_str_equal (name, "contact") && !g_str_equal (name, "error"));
    }

  /* Still responsive, still connected to its contact. */
  assert_cli_chats (victim, fixture->contact);
  g_assert_cmpint (natter_test_peer_stop (victim, 5000), ==, 0);
  log_counter_clear (&f.log);
}

int
main (int   argc,
      char *argv[])
{
  gst_init (&argc, &argv);
  g_test_init (&argc, &argv, NULL);
  refusals = g_ptr_array_new_with_free_func (g_free);
  g_log_set_writer_func (log_writer, NULL, NULL);

  g_test_add ("/hostile/forged-offer", Fixture, NULL,
              fixture_setup, test_forged_offer, fixture_teardown);
  g_test_add ("/hostile/replayed-envelopes", Fixture, NULL,
              fixture_setup, test_replayed_envelopes, fixture_teardown);
  g_test_add ("/hostile/misaddressed", Fixture, NULL,
              fixture_setup, test_misaddressed, fixture_teardown);
  g_test_add ("/hostile/garbage-flood", Fixture, NULL,
              fixture_setup, test_garbage_flood, fixture_teardown);
  return g_test_run ();
}
