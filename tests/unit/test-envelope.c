/* test-envelope.c: the signaling envelope codec — round trips, and refusal of every malformed or misaddressed input. */
#define G_LOG_DOMAIN "natter-test-envelope"

#include <math.h>
#include <string.h>

#include "natter-envelope.h"
#include "natter-error.h"
#include "natter-identity.h"

static NatterIdentity *alice;
static NatterIdentity *bob;
static NatterIdentity *carol;

/* Replaces $A, $B, $C with the peer ids of alice, bob and carol. */
static char *
expand (const char *template)
{
  GString *out = g_string_new (NULL);

  for (const char *p = template; *p; p++)
    {
      if (p[0] == '$' && (p[1] == 'A' || p[1] == 'B' || p[1] == 'C'))
        {
          NatterIdentity *who = p[1] == 'A' ? alice : p[1] == 'B' ? bob : carol;

          g_string_append (out, natter_identity_get_peer_id (who));
          p++;
        }
      else
        g_string_append_c (out, *p);
    }

  return g_string_free (out, FALSE);
}

/* "NTR1" || Ed25519 ("natter/v1/envelope\0" || text) || text, signed by @signer
 * whatever the text says: lets tests forge what a hostile peer could send. */
static GBytes *
make_frame (NatterIdentity *signer,
            const char     *text)
{
  static const char context[] = "natter/v1/envelope";
  gsize text_len = strlen (text);
  g_autofree guint8 *message = g_malloc (sizeof context + text_len);
  guint8 *frame = g_malloc (4 + 64 + text_len);
  guint8 sig[NATTER_SIGNATURE_SIZE];

  memcpy (message, context, sizeof context);
  memcpy (message + sizeof context, text, text_len);
  memcpy (frame, "NTR1", 4);
  natter_identity_sign (signer, message, sizeof context + text_len, sig);
  memcpy (frame + 4, sig, sizeof sig);
  memcpy (frame + 68, text, text_len);

  return g_bytes_new_take (frame, 68 + text_len);
}

static GBytes *
seal_frame (NatterIdentity *recipient,
            GBytes         *frame)
{
  g_autoptr(GBytes) sealed = natter_identity_seal (natter_identity_get_public_key (recipient),
                                                   g_bytes_get_data (frame, NULL),
                                                   g_bytes_get_size (frame));
  GByteArray *out = g_byte_array_new ();

  g_byte_array_append (out, (const guint8 *)"NTS1", 4);
  g_byte_array_append (out, g_bytes_get_data (sealed, NULL), g_bytes_get_size (sealed));

  return g_byte_array_free_to_bytes (out);
}

static GBytes *
bytes_with_flipped_byte (GBytes *bytes,
                         gsize   index)
{
  gsize len;
  guint8 *copy = g_bytes_unref_to_data (g_bytes_ref (bytes), &len);

  g_assert_cmpuint (index, <, len);
  copy[index] ^= 0x01;

  return g_bytes_new_take (copy, len);
}

static JsonObject *
sample_body (void)
{
  JsonObject *body = json_object_new ();
  JsonArray *list = json_array_new ();

  json_object_set_string_member (body, "sdp", "v=0\r\no=- 4611731400430051336 2 IN IP4 127.0.0.1\r\n");
  json_object_set_string_member (body, "note", "ünïcödé ✓ \"quoted\" \\ \t tab 😀");
  json_object_set_int_member (body, "mline", 3);
  json_object_set_boolean_member (body, "polite", TRUE);
  json_object_set_null_member (body, "nothing");
  json_array_add_double_element (list, 0.5);
  /* json-glib 1.6's own generator writes these as "5e+64.0" / "100": the
   * codec must send valid JSON that still reads back as doubles. */
  json_array_add_double_element (list, 5e64);
  json_array_add_double_element (list, 1e-300);
  json_array_add_double_element (list, 100.0);
  json_array_add_double_element (list, -0.0);
  json_array_add_int_element (list, -7);
  json_array_add_int_element (list, G_MININT64);
  json_array_add_string_element (list, "\x01\x1f control\n");
  json_object_set_array_member (body, "list", list);

  return body;
}

static gboolean
bodies_equal (JsonObject *a,
              JsonObject *b)
{
  g_autoptr(JsonNode) na = json_node_init_object (json_node_alloc (), a);
  g_autoptr(JsonNode) nb = json_node_init_object (json_node_alloc (), b);

  return json_node_equal (na, nb);
}

static void
assert_same_envelope (NatterEnvelope *a,
                      NatterEnvelope *b)
{
  g_assert_cmpstr (natter_envelope_get_type_name (a), ==, natter_envelope_get_type_name (b));
  g_assert_cmpstr (natter_envelope_get_from (a), ==, natter_envelope_get_from (b));
  g_assert_cmpstr (natter_envelope_get_to (a), ==, natter_envelope_get_to (b));
  g_assert_cmpstr (natter_envelope_get_session (a), ==, natter_envelope_get_session (b));
  g_assert_cmpstr (natter_envelope_get_nonce (a), ==, natter_envelope_get_nonce (b));
  g_assert_cmpint (natter_envelope_get_ts (a), ==, natter_envelope_get_ts (b));
  g_assert_true (bodies_equal (natter_envelope_get_body (a), natter_envelope_get_body (b)));
}

/* ------------------------------------------------------------------------ */

static void
test_new (void)
{
  g_autoptr(NatterEnvelope) a = natter_envelope_new ("presence", natter_identity_get_peer_id (alice), NULL, NULL, NULL);
  g_autoptr(NatterEnvelope) b = natter_envelope_new ("presence", natter_identity_get_peer_id (alice), NULL, NULL, NULL);
  gint64 now_ms = g_get_real_time () / 1000;

  g_assert_cmpstr (natter_envelope_get_nonce (a), !=, natter_envelope_get_nonce (b));
  g_assert_cmpuint (strlen (natter_envelope_get_nonce (a)), >=, 22);
  g_assert_cmpint (llabs (natter_envelope_get_ts (a) - now_ms), <, 5000);
  g_assert_nonnull (natter_envelope_get_body (a));
  g_assert_cmpuint (json_object_get_size (natter_envelope_get_body (a)), ==, 0);
  g_assert_null (natter_envelope_get_to (a));
  g_assert_null (natter_envelope_get_session (a));

  natter_envelope_set_ts (a, 1234);
  g_assert_cmpint (natter_envelope_get_ts (a), ==, 1234);
}

static void
test_round_trip_sealed (void)
{
  g_autoptr(JsonObject) body = sample_body ();
  g_autoptr(NatterEnvelope) sent = natter_envelope_new ("offer", natter_identity_get_peer_id (alice),
                                                         natter_identity_get_peer_id (bob),
                                                         "9f1c2d3e-session", body);
  g_autoptr(NatterEnvelope) received = NULL;
  g_autoptr(GBytes) payload = NULL;
  g_autoptr(GError) error = NULL;
  const char *data;
  gsize len;

  payload = natter_envelope_encode (sent, alice, &error);
  g_assert_no_error (error);
  data = g_bytes_get_data (payload, &len);
  g_assert_cmpmem (data, 4, "NTS1", 4);
  g_assert_cmpuint (len, <=, NATTER_MAX_ENVELOPE_SIZE);

  /* The broker sees neither the SDP, the type nor who sent it. */
  g_assert_null (g_strstr_len (data, len, "IN IP4"));
  g_assert_null (g_strstr_len (data, len, "offer"));
  g_assert_null (g_strstr_len (data, len, natter_identity_get_peer_id (alice)));

  received = natter_envelope_decode (payload, bob, &error);
  g_assert_no_error (error);
  assert_same_envelope (sent, received);
  g_assert_cmpstr (natter_envelope_get_to (received), ==, natter_identity_get_peer_id (bob));

  /* Numbers keep their kind and value. */
  {
    JsonArray *list = json_object_get_array_member (natter_envelope_get_body (received), "list");

    g_assert_cmpint (json_node_get_value_type (json_array_get_element (list, 1)), ==, G_TYPE_DOUBLE);
    g_assert_cmpfloat (json_array_get_double_element (list, 1), ==, 5e64);
    g_assert_cmpint (json_node_get_value_type (json_array_get_element (list, 3)), ==, G_TYPE_DOUBLE);
    g_assert_cmpfloat (json_array_get_double_element (list, 3), ==, 100.0);
    g_assert_cmpint (json_array_get_int_element (list, 6), ==, G_MININT64);
  }
}

static void
test_round_trip_broadcast (void)
{
  g_autoptr(JsonObject) body = json_object_new ();
  g_autoptr(NatterEnvelope) sent = NULL;
  g_autoptr(NatterEnvelope) received = NULL;
  g_autoptr(NatterEnvelope) received_anon = NULL;
  g_autoptr(GBytes) payload = NULL;
  g_autoptr(GError) error = NULL;

  json_object_set_string_member (body, "status", "online");
  json_object_set_int_member (body, "epoch", 42);
  sent = natter_envelope_new ("presence", natter_identity_get_peer_id (alice), NULL, NULL, body);

  payload = natter_envelope_encode (sent, alice, &error);
  g_assert_no_error (error);
  g_assert_cmpmem (g_bytes_get_data (payload, NULL), 4, "NTR1", 4);

  /* Anyone can read presence, with or without an identity. */
  received = natter_envelope_decode (payload, carol, &error);
  g_assert_no_error (error);
  assert_same_envelope (sent, received);
  received_anon = natter_envelope_decode (payload, NULL, &error);
  g_assert_no_error (error);
  assert_same_envelope (sent, received_anon);
}

static void
test_encode_refuses (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(NatterEnvelope) impostor = natter_envelope_new ("presence", natter_identity_get_peer_id (bob), NULL, NULL, NULL);
  g_autoptr(NatterEnvelope) unknown = natter_envelope_new ("gossip", natter_identity_get_peer_id (alice), NULL, NULL, NULL);
  g_autoptr(NatterEnvelope) bad_to = natter_envelope_new ("offer", natter_identity_get_peer_id (alice), "nobody", NULL, NULL);
  g_autoptr(NatterEnvelope) big = NULL;
  g_autoptr(NatterEnvelope) fits = NULL;
  g_autoptr(JsonObject) big_body = json_object_new ();
  g_autofree char *filler = g_strnfill (NATTER_MAX_ENVELOPE_SIZE, 'x');
  g_autoptr(GBytes) payload = NULL;

  /* A sender cannot sign as someone else. */
  g_assert_null (natter_envelope_encode (impostor, alice, &error));
  g_assert_error (error, NATTER_ERROR, NATTER_ERROR_INVALID_INPUT);
  g_clear_error (&error);

  /* What would be refused on receipt is never sent. */
  g_assert_null (natter_envelope_encode (unknown, alice, &error));
  g_assert_error (error, NATTER_ERROR, NATTER_ERROR_INVALID_INPUT);
  g_clear_error (&error);
  g_assert_null (natter_envelope_encode (bad_to, alice, &error));
  g_assert_error (error, NATTER_ERROR, NATTER_ERROR_INVALID_INPUT);
  g_clear_error (&error);

  {
    g_autoptr(JsonObject) nan_body = json_object_new ();
    g_autoptr(NatterEnvelope) nan_env = NULL;

    json_object_set_double_member (nan_body, "x", NAN);
    nan_env = natter_envelope_new ("ice", natter_identity_get_peer_id (alice), NULL, NULL, nan_body);
    g_assert_null (natter_envelope_encode (nan_env, alice, &error));
    g_assert_error (error, NATTER_ERROR, NATTER_ERROR_INVALID_INPUT);
    g_clear_error (&error);
  }

  json_object_set_string_member (big_body, "blob", filler);
  big = natter_envelope_new ("offer", natter_identity_get_peer_id (alice), natter_identity_get_peer_id (bob), NULL, big_body);
  g_assert_null (natter_envelope_encode (big, alice, &error));
  g_assert_error (error, NATTER_ERROR, NATTER_ERROR_TOO_LARGE);
  g_clear_error (&error);

  /* The seal's overhead counts too: a body that fits unsealed, but not sealed. */
  json_object_set_string_member (big_body, "blob", filler + 243);
  fits = natter_envelope_new ("offer", natter_identity_get_peer_id (alice), NULL, NULL, big_body);
  payload = natter_envelope_encode (fits, alice, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (g_bytes_get_size (payload), <=, NATTER_MAX_ENVELOPE_SIZE);
  g_assert_cmpuint (g_bytes_get_size (payload) + 4 + NATTER_SEAL_OVERHEAD, >, NATTER_MAX_ENVELOPE_SIZE);
  g_clear_object (&fits);
  fits = natter_envelope_new ("offer", natter_identity_get_peer_id (alice), natter_identity_get_peer_id (bob), NULL, big_body);
  g_assert_null (natter_envelope_encode (fits, alice, &error));
  g_assert_error (error, NATTER_ERROR, NATTER_ERROR_TOO_LARGE);
}

/* ------------------------------------------------------------------------ */
/* parse_json: the strict validator                                          */

#define VALID_T "{\"v\":1,\"type\":\"offer\",\"from\":\"$A\",\"to\":\"$B\",\"session\":\"s-1\"," \
                "\"ts\":1700000000000,\"nonce\":\"AbC_-123\",\"body\":{\"sdp\":\"v=0\"}}"

typedef struct
{
  const char *name;
  const char *json;
} JsonCase;

static const JsonCase accepted_cases[] = {
  { "full", VALID_T },
  { "minimal", "{\"v\":1,\"type\":\"presence\",\"from\":\"$A\",\"ts\":0,\"nonce\":\"n\",\"body\":{}}" },
  { "reordered-whitespace", " \r\n\t{ \"body\" : { } , \"nonce\" : \"n\" , \"ts\" : 5 , \"from\" : \"$A\" ,"
                            " \"type\" : \"bye\" , \"v\" : 1 }\n" },
  { "escapes-in-body", "{\"v\":1,\"type\":\"ice\",\"from\":\"$A\",\"ts\":1,\"nonce\":\"n\","
                       "\"body\":{\"s\":\"\\ud83d\\ude00 \\u00e9 \\\" \\\\ \\/ \\b\\f\\n\\r\\t\",\"n\":-0.5e-3,\"a\":[true,false,null,[]]}}" },
  { "escaped-member-name", "{\"v\":1,\"type\":\"ice\",\"from\":\"$A\",\"ts\":1,\"nonce\":\"n\",\"bod\\u0079\":{}}" },
  { "ts-int64-max", "{\"v\":1,\"type\":\"ice\",\"from\":\"$A\",\"ts\":9223372036854775807,\"nonce\":\"n\",\"body\":{\"min\":-9223372036854775808,\"tiny\":1e-400}}" },
  { "nonce-64", "{\"v\":1,\"type\":\"ice\",\"from\":\"$A\",\"ts\":1,"
                "\"nonce\":\"0123456789012345678901234567890123456789012345678901234567890123\",\"body\":{}}" },
};

static const JsonCase refused_cases[] = {
  /* missing fields */
  { "missing-v", "{\"type\":\"offer\",\"from\":\"$A\",\"ts\":1,\"nonce\":\"n\",\"body\":{}}" },
  { "missing-type", "{\"v\":1,\"from\":\"$A\",\"ts\":1,\"nonce\":\"n\",\"body\":{}}" },
  { "missing-from", "{\"v\":1,\"type\":\"offer\",\"ts\":1,\"nonce\":\"n\",\"body\":{}}" },
  { "missing-ts", "{\"v\":1,\"type\":\"offer\",\"from\":\"$A\",\"nonce\":\"n\",\"body\":{}}" },
  { "missing-nonce", "{\"v\":1,\"type\":\"offer\",\"from\":\"$A\",\"ts\":1,\"body\":{}}" },
  { "missing-body", "{\"v\":1,\"type\":\"offer\",\"from\":\"$A\",\"ts\":1,\"nonce\":\"n\"}" },
  /* wrong types and values, field by field */
  { "v-string", "{\"v\":\"1\",\"type\":\"offer\",\"from\":\"$A\",\"ts\":1,\"nonce\":\"n\",\"body\":{}}" },
  { "v-float", "{\"v\":1.0,\"type\":\"offer\",\"from\":\"$A\",\"ts\":1,\"nonce\":\"n\",\"body\":{}}" },
  { "v-bool", "{\"v\":true,\"type\":\"offer\",\"from\":\"$A\",\"ts\":1,\"nonce\":\"n\",\"body\":{}}" },
  { "v-null", "{\"v\":null,\"type\":\"offer\",\"from\":\"$A\",\"ts\":1,\"nonce\":\"n\",\"body\":{}}" },
  { "v-2", "{\"v\":2,\"type\":\"offer\",\"from\":\"$A\",\"ts\":1,\"nonce\":\"n\",\"body\":{}}" },
  { "v-0", "{\"v\":0,\"type\":\"offer\",\"from\":\"$A\",\"ts\":1,\"nonce\":\"n\",\"body\":{}}" },
  { "type-number", "{\"v\":1,\"type\":1,\"from\":\"$A\",\"ts\":1,\"nonce\":\"n\",\"body\":{}}" },
  { "type-null", "{\"v\":1,\"type\":null,\"from\":\"$A\",\"ts\":1,\"nonce\":\"n\",\"body\":{}}" },
  { "type-unknown", "{\"v\":1,\"type\":\"SECRETgossip\",\"from\":\"$A\",\"ts\":1,\"nonce\":\"n\",\"body\":{}}" },
  { "type-uppercase", "{\"v\":1,\"type\":\"OFFER\",\"from\":\"$A\",\"ts\":1,\"nonce\":\"n\",\"body\":{}}" },
  { "type-nul-suffix", "{\"v\":1,\"type\":\"offer\\u0000x\",\"from\":\"$A\",\"ts\":1,\"nonce\":\"n\",\"body\":{}}" },
  { "from-number", "{\"v\":1,\"type\":\"offer\",\"from\":7,\"ts\":1,\"nonce\":\"n\",\"body\":{}}" },
  { "from-invalid", "{\"v\":1,\"type\":\"offer\",\"from\":\"SECRETpeer\",\"ts\":1,\"nonce\":\"n\",\"body\":{}}" },
  { "from-array", "{\"v\":1,\"type\":\"offer\",\"from\":[\"$A\"],\"ts\":1,\"nonce\":\"n\",\"body\":{}}" },
  { "to-number", "{\"v\":1,\"type\":\"offer\",\"from\":\"$A\",\"to\":1,\"ts\":1,\"nonce\":\"n\",\"body\":{}}" },
  { "to-null", "{\"v\":1,\"type\":\"offer\",\"from\":\"$A\",\"to\":null,\"ts\":1,\"nonce\":\"n\",\"body\":{}}" },
  { "to-invalid", "{\"v\":1,\"type\":\"offer\",\"from\":\"$A\",\"to\":\"x\",\"ts\":1,\"nonce\":\"n\",\"body\":{}}" },
  { "session-number", "{\"v\":1,\"type\":\"offer\",\"from\":\"$A\",\"session\":5,\"ts\":1,\"nonce\":\"n\",\"body\":{}}" },
  { "session-null", "{\"v\":1,\"type\":\"offer\",\"from\":\"$A\",\"session\":null,\"ts\":1,\"nonce\":\"n\",\"body\":{}}" },
  { "session-empty", "{\"v\":1,\"type\":\"offer\",\"from\":\"$A\",\"session\":\"\",\"ts\":1,\"nonce\":\"n\",\"body\":{}}" },
  { "session-space", "{\"v\":1,\"type\":\"offer\",\"from\":\"$A\",\"session\":\"a b\",\"ts\":1,\"nonce\":\"n\",\"body\":{}}" },
  { "session-129", "{\"v\":1,\"type\":\"offer\",\"from\":\"$A\",\"ts\":1,\"nonce\":\"n\",\"body\":{},\"session\":"
                   "\"012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789"
                   "012345678901234567890123456789012345678\"}" },
  { "ts-string", "{\"v\":1,\"type\":\"offer\",\"from\":\"$A\",\"ts\":\"1\",\"nonce\":\"n\",\"body\":{}}" },
  { "ts-float", "{\"v\":1,\"type\":\"offer\",\"from\":\"$A\",\"ts\":1.5,\"nonce\":\"n\",\"body\":{}}" },
  { "ts-exponent", "{\"v\":1,\"type\":\"offer\",\"from\":\"$A\",\"ts\":1e3,\"nonce\":\"n\",\"body\":{}}" },
  { "ts-negative", "{\"v\":1,\"type\":\"offer\",\"from\":\"$A\",\"ts\":-1,\"nonce\":\"n\",\"body\":{}}" },
  { "ts-null", "{\"v\":1,\"type\":\"offer\",\"from\":\"$A\",\"ts\":null,\"nonce\":\"n\",\"body\":{}}" },
  { "ts-leading-zero", "{\"v\":1,\"type\":\"offer\",\"from\":\"$A\",\"ts\":01,\"nonce\":\"n\",\"body\":{}}" },
  { "ts-overflow", "{\"v\":1,\"type\":\"offer\",\"from\":\"$A\",\"ts\":99999999999999999999999,\"nonce\":\"n\",\"body\":{}}" },
  { "ts-wraps-positive", "{\"v\":1,\"type\":\"offer\",\"from\":\"$A\",\"ts\":-9223372036854775809,\"nonce\":\"n\",\"body\":{}}" },
  { "ts-int64-plus-one", "{\"v\":1,\"type\":\"offer\",\"from\":\"$A\",\"ts\":9223372036854775808,\"nonce\":\"n\",\"body\":{}}" },
  { "body-infinite", "{\"v\":1,\"type\":\"offer\",\"from\":\"$A\",\"ts\":1,\"nonce\":\"n\",\"body\":{\"x\":1e400}}" },
  { "body-int-overflow", "{\"v\":1,\"type\":\"offer\",\"from\":\"$A\",\"ts\":1,\"nonce\":\"n\",\"body\":{\"x\":[123456789012345678901234567890]}}" },
  { "nonce-number", "{\"v\":1,\"type\":\"offer\",\"from\":\"$A\",\"ts\":1,\"nonce\":1,\"body\":{}}" },
  { "nonce-empty", "{\"v\":1,\"type\":\"offer\",\"from\":\"$A\",\"ts\":1,\"nonce\":\"\",\"body\":{}}" },
  { "nonce-65", "{\"v\":1,\"type\":\"offer\",\"from\":\"$A\",\"ts\":1,"
                "\"nonce\":\"01234567890123456789012345678901234567890123456789012345678901234\",\"body\":{}}" },
  { "nonce-slash", "{\"v\":1,\"type\":\"offer\",\"from\":\"$A\",\"ts\":1,\"nonce\":\"a/b\",\"body\":{}}" },
  { "body-array", "{\"v\":1,\"type\":\"offer\",\"from\":\"$A\",\"ts\":1,\"nonce\":\"n\",\"body\":[]}" },
  { "body-string", "{\"v\":1,\"type\":\"offer\",\"from\":\"$A\",\"ts\":1,\"nonce\":\"n\",\"body\":\"{}\"}" },
  { "body-null", "{\"v\":1,\"type\":\"offer\",\"from\":\"$A\",\"ts\":1,\"nonce\":\"n\",\"body\":null}" },
  /* structure */
  { "unknown-field", "{\"v\":1,\"type\":\"offer\",\"from\":\"$A\",\"ts\":1,\"nonce\":\"n\",\"body\":{},\"SECRETextra\":1}" },
  { "duplicate-field", "{\"v\":1,\"type\":\"offer\",\"type\":\"bye\",\"from\":\"$A\",\"ts\":1,\"nonce\":\"n\",\"body\":{}}" },
  { "duplicate-escaped", "{\"v\":1,\"type\":\"offer\",\"typ\\u0065\":\"bye\",\"from\":\"$A\",\"ts\":1,\"nonce\":\"n\",\"body\":{}}" },
  { "duplicate-in-body", "{\"v\":1,\"type\":\"offer\",\"from\":\"$A\",\"ts\":1,\"nonce\":\"n\",\"body\":{\"a\":1,\"a\":2}}" },
  { "top-array", "[{\"v\":1}]" },
  { "top-string", "\"SECRET\"" },
  { "top-number", "1" },
  { "top-null", "null" },
  { "two-objects", "{\"v\":1,\"type\":\"offer\",\"from\":\"$A\",\"ts\":1,\"nonce\":\"n\",\"body\":{}}{}" },
  { "trailing-garbage", "{\"v\":1,\"type\":\"offer\",\"from\":\"$A\",\"ts\":1,\"nonce\":\"n\",\"body\":{}} x" },
  { "trailing-comma", "{\"v\":1,\"type\":\"offer\",\"from\":\"$A\",\"ts\":1,\"nonce\":\"n\",\"body\":{},}" },
  { "comment", "{\"v\":1,/*c*/\"type\":\"offer\",\"from\":\"$A\",\"ts\":1,\"nonce\":\"n\",\"body\":{}}" },
  { "single-quotes", "{'v':1,\"type\":\"offer\",\"from\":\"$A\",\"ts\":1,\"nonce\":\"n\",\"body\":{}}" },
  { "bare-key", "{v:1,\"type\":\"offer\",\"from\":\"$A\",\"ts\":1,\"nonce\":\"n\",\"body\":{}}" },
  { "nan", "{\"v\":1,\"type\":\"offer\",\"from\":\"$A\",\"ts\":1,\"nonce\":\"n\",\"body\":{\"x\":NaN}}" },
  { "lone-high-surrogate", "{\"v\":1,\"type\":\"offer\",\"from\":\"$A\",\"ts\":1,\"nonce\":\"n\",\"body\":{\"x\":\"\\ud83d\"}}" },
  { "lone-low-surrogate", "{\"v\":1,\"type\":\"offer\",\"from\":\"$A\",\"ts\":1,\"nonce\":\"n\",\"body\":{\"x\":\"\\ude00\"}}" },
  { "bad-escape", "{\"v\":1,\"type\":\"offer\",\"from\":\"$A\",\"ts\":1,\"nonce\":\"n\",\"body\":{\"x\":\"\\q\"}}" },
  { "raw-newline-in-string", "{\"v\":1,\"type\":\"offer\",\"from\":\"$A\",\"ts\":1,\"nonce\":\"n\",\"body\":{\"x\":\"a\nb\"}}" },
  { "invalid-utf8", "{\"v\":1,\"type\":\"offer\",\"from\":\"$A\",\"ts\":1,\"nonce\":\"n\",\"body\":{\"x\":\"\xff\xfe\"}}" },
  { "overlong-utf8", "{\"v\":1,\"type\":\"offer\",\"from\":\"$A\",\"ts\":1,\"nonce\":\"n\",\"body\":{\"x\":\"\xc0\xaf\"}}" },
  { "bom", "\xef\xbb\xbf{\"v\":1,\"type\":\"offer\",\"from\":\"$A\",\"ts\":1,\"nonce\":\"n\",\"body\":{}}" },
  { "whitespace-only", " \n " },
};

static void
test_parse_accepted (gconstpointer data)
{
  const JsonCase *c = data;
  g_autofree char *json = expand (c->json);
  g_autoptr(GError) error = NULL;
  g_autoptr(NatterEnvelope) envelope = natter_envelope_parse_json (json, strlen (json), &error);

  g_assert_no_error (error);
  g_assert_nonnull (envelope);
  g_assert_cmpstr (natter_envelope_get_from (envelope), ==, natter_identity_get_peer_id (alice));
}

static void
assert_refused_invalid (const char *json,
                        gsize       len)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(NatterEnvelope) envelope = natter_envelope_parse_json (json, len, &error);

  g_assert_null (envelope);
  g_assert_error (error, NATTER_ERROR, NATTER_ERROR_INVALID_INPUT);
  if (len < 1000)
    g_test_message ("%s", error->message);
  /* Never echo what a peer sent. */
  g_assert_null (strstr (error->message, "SECRET"));
  g_assert_null (strstr (error->message, natter_identity_get_peer_id (alice)));
}

static void
test_parse_refused (gconstpointer data)
{
  const JsonCase *c = data;
  g_autofree char *json = expand (c->json);

  assert_refused_invalid (json, strlen (json));
}

static void
test_parse_full_fields (void)
{
  g_autofree char *json = expand (VALID_T);
  g_autoptr(GError) error = NULL;
  g_autoptr(NatterEnvelope) envelope = natter_envelope_parse_json (json, strlen (json), &error);

  g_assert_no_error (error);
  g_assert_cmpstr (natter_envelope_get_type_name (envelope), ==, "offer");
  g_assert_cmpstr (natter_envelope_get_to (envelope), ==, natter_identity_get_peer_id (bob));
  g_assert_cmpstr (natter_envelope_get_session (envelope), ==, "s-1");
  g_assert_cmpint (natter_envelope_get_ts (envelope), ==, G_GINT64_CONSTANT (1700000000000));
  g_assert_cmpstr (natter_envelope_get_nonce (envelope), ==, "AbC_-123");
  g_assert_cmpstr (json_object_get_string_member (natter_envelope_get_body (envelope), "sdp"), ==, "v=0");
}

static void
test_parse_every_known_type (void)
{
  static const char *types[] = { "offer", "answer", "ice", "contact-request", "contact-accept",
                                 "contact-decline", "presence", "bye" };

  for (guint i = 0; i < G_N_ELEMENTS (types); i++)
    {
      g_autofree char *template = g_strdup_printf ("{\"v\":1,\"type\":\"%s\",\"from\":\"$A\",\"ts\":1,\"nonce\":\"n\",\"body\":{}}", types[i]);
      g_autofree char *json = expand (template);
      g_autoptr(GError) error = NULL;
      g_autoptr(NatterEnvelope) envelope = natter_envelope_parse_json (json, strlen (json), &error);

      g_assert_no_error (error);
      g_assert_cmpstr (natter_envelope_get_type_name (envelope), ==, types[i]);
    }
}

/* Body nested to depth @levels (the top-level object is level 1). */
static char *
nested_json (guint levels)
{
  GString *s = g_string_new (NULL);
  g_autofree char *head = expand ("{\"v\":1,\"type\":\"ice\",\"from\":\"$A\",\"ts\":1,\"nonce\":\"n\",\"body\":{\"x\":");

  g_string_append (s, head);
  for (guint i = 2; i < levels; i++)
    g_string_append_c (s, '[');
  g_string_append (s, "0");
  for (guint i = 2; i < levels; i++)
    g_string_append_c (s, ']');
  g_string_append (s, "}}");

  return g_string_free (s, FALSE);
}

static void
test_parse_depth (void)
{
  g_autofree char *at_limit = nested_json (NATTER_ENVELOPE_MAX_DEPTH);
  g_autofree char *over = nested_json (NATTER_ENVELOPE_MAX_DEPTH + 1);
  g_autoptr(GError) error = NULL;
  g_autoptr(NatterEnvelope) envelope = NULL;
  GString *deep = g_string_new ("{\"v\":1,\"body\":");

  envelope = natter_envelope_parse_json (at_limit, strlen (at_limit), &error);
  g_assert_no_error (error);
  g_assert_nonnull (envelope);

  assert_refused_invalid (over, strlen (over));

  /* json-glib recurses per level: this would blow its stack without the pre-scan. */
  for (guint i = 0; i < 60000; i++)
    g_string_append_c (deep, '[');
  assert_refused_invalid (deep->str, deep->len);
  g_string_free (deep, TRUE);

  {
    g_autofree char *brackets = g_strnfill (100000, '[');

    /* Over the size limit too: TOO_LARGE wins, checked first. */
    g_assert_null (natter_envelope_parse_json (brackets, 100000, &error));
    g_assert_error (error, NATTER_ERROR, NATTER_ERROR_TOO_LARGE);
    g_clear_error (&error);
    assert_refused_invalid (brackets, NATTER_MAX_ENVELOPE_SIZE);
  }
}

static void
test_parse_size (void)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *prefix = expand ("{\"v\":1,\"type\":\"ice\",\"from\":\"$A\",\"ts\":1,\"nonce\":\"n\",\"body\":{\"x\":\"");
  GString *s = g_string_new (prefix);
  g_autoptr(NatterEnvelope) envelope = NULL;

  /* Exactly 65536 bytes is fine, 65537 is not. */
  while (s->len < NATTER_MAX_ENVELOPE_SIZE - 3)
    g_string_append_c (s, 'y');
  g_string_append (s, "\"}}");
  g_assert_cmpuint (s->len, ==, NATTER_MAX_ENVELOPE_SIZE);
  envelope = natter_envelope_parse_json (s->str, s->len, &error);
  g_assert_no_error (error);
  g_assert_nonnull (envelope);

  g_string_insert_c (s, s->len - 3, 'y');
  g_assert_cmpuint (s->len, ==, NATTER_MAX_ENVELOPE_SIZE + 1);
  g_assert_null (natter_envelope_parse_json (s->str, s->len, &error));
  g_assert_error (error, NATTER_ERROR, NATTER_ERROR_TOO_LARGE);
  g_string_free (s, TRUE);
}

static void
test_parse_truncated_and_nul (void)
{
  g_autofree char *json = expand (VALID_T);
  gsize len = strlen (json);

  assert_refused_invalid ("", 0);

  /* Every proper prefix is refused. */
  for (gsize i = 0; i < len; i++)
    assert_refused_invalid (json, i);

  /* A NUL byte anywhere is refused, even where JSON would allow padding. */
  {
    g_autofree char *with_nul = g_malloc (len + 1);

    memcpy (with_nul, json, len);
    with_nul[len] = '\0';
    assert_refused_invalid (with_nul, len + 1);
  }
}

/* ------------------------------------------------------------------------ */
/* decode: framing, signature, sealing and addressing                        */

static void
assert_decode_error (GBytes         *payload,
                     NatterIdentity *receiver,
                     gint            code)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(NatterEnvelope) envelope = natter_envelope_decode (payload, receiver, &error);

  g_assert_null (envelope);
  g_assert_error (error, NATTER_ERROR, code);
}

static GBytes *
encode_or_die (NatterEnvelope *envelope,
               NatterIdentity *sender)
{
  g_autoptr(GError) error = NULL;
  GBytes *payload = natter_envelope_encode (envelope, sender, &error);

  g_assert_no_error (error);
  return payload;
}

static void
test_decode_sealed_to_someone_else (void)
{
  g_autoptr(NatterEnvelope) sent = natter_envelope_new ("offer", natter_identity_get_peer_id (alice),
                                                         natter_identity_get_peer_id (bob), "s", NULL);
  g_autoptr(GBytes) payload = encode_or_die (sent, alice);

  assert_decode_error (payload, carol, NATTER_ERROR_REFUSED);
  assert_decode_error (payload, alice, NATTER_ERROR_REFUSED);
  /* Sealed, and no identity to open it with. */
  assert_decode_error (payload, NULL, NATTER_ERROR_REFUSED);
}

static void
test_decode_forwarded (void)
{
  /* Bob re-seals an envelope Alice signed for him to Carol: the signed `to`
   * still names Bob, so Carol refuses it. */
  g_autofree char *json = expand ("{\"v\":1,\"type\":\"offer\",\"from\":\"$A\",\"to\":\"$B\",\"ts\":1,\"nonce\":\"n\",\"body\":{}}");
  g_autoptr(GBytes) frame = make_frame (alice, json);
  g_autoptr(GBytes) resealed = seal_frame (carol, frame);
  g_autoptr(GBytes) good = seal_frame (bob, frame);
  g_autoptr(NatterEnvelope) envelope = NULL;
  g_autoptr(GError) error = NULL;

  assert_decode_error (resealed, carol, NATTER_ERROR_REFUSED);

  /* The same frame sealed to Bob is fine: the forgery helpers are faithful. */
  envelope = natter_envelope_decode (good, bob, &error);
  g_assert_no_error (error);
  g_assert_nonnull (envelope);
}

static void
test_decode_addressing_rules (void)
{
  g_autofree char *addressed = expand ("{\"v\":1,\"type\":\"offer\",\"from\":\"$A\",\"to\":\"$B\",\"ts\":1,\"nonce\":\"n\",\"body\":{}}");
  g_autofree char *broadcast = expand ("{\"v\":1,\"type\":\"presence\",\"from\":\"$A\",\"ts\":1,\"nonce\":\"n\",\"body\":{}}");
  g_autoptr(GBytes) addressed_plain = make_frame (alice, addressed);
  g_autoptr(GBytes) broadcast_frame = make_frame (alice, broadcast);
  g_autoptr(GBytes) broadcast_sealed = seal_frame (bob, broadcast_frame);

  /* An addressed envelope in the clear would leak SDP/ICE to the broker. */
  assert_decode_error (addressed_plain, bob, NATTER_ERROR_INVALID_INPUT);
  /* Sealed but with no `to`: nothing binds it to us. */
  assert_decode_error (broadcast_sealed, bob, NATTER_ERROR_REFUSED);
}

static void
test_decode_signature (void)
{
  g_autoptr(NatterEnvelope) sent = natter_envelope_new ("presence", natter_identity_get_peer_id (alice), NULL, NULL, NULL);
  g_autoptr(GBytes) payload = encode_or_die (sent, alice);
  g_autofree char *claims_bob = expand ("{\"v\":1,\"type\":\"presence\",\"from\":\"$B\",\"ts\":1,\"nonce\":\"n\",\"body\":{}}");
  g_autofree char *claims_bob_to_carol = expand ("{\"v\":1,\"type\":\"offer\",\"from\":\"$B\",\"to\":\"$C\",\"ts\":1,\"nonce\":\"n\",\"body\":{}}");
  g_autoptr(GBytes) forged = make_frame (alice, claims_bob);
  g_autoptr(GBytes) forged_sealed = NULL;
  g_autoptr(GBytes) forged_frame = make_frame (alice, claims_bob_to_carol);
  gsize len = g_bytes_get_size (payload);

  /* Each signature byte, and a byte of the signed text. */
  for (gsize i = 4; i < 4 + 64; i++)
    {
      g_autoptr(GBytes) flipped = bytes_with_flipped_byte (payload, i);

      assert_decode_error (flipped, NULL, NATTER_ERROR_REFUSED);
    }
  {
    /* Flip a digit of the nonce/ts region near the end: still valid JSON. */
    const char *data = g_bytes_get_data (payload, NULL);
    const char *ts = g_strstr_len (data + 68, len - 68, "\"ts\":");
    g_autoptr(GBytes) flipped = NULL;

    g_assert_nonnull (ts);
    flipped = bytes_with_flipped_byte (payload, (ts - data) + 6);
    assert_decode_error (flipped, NULL, NATTER_ERROR_REFUSED);
  }

  /* Signed by Alice, claiming to be from Bob. */
  assert_decode_error (forged, NULL, NATTER_ERROR_REFUSED);
  forged_sealed = seal_frame (carol, forged_frame);
  assert_decode_error (forged_sealed, carol, NATTER_ERROR_REFUSED);

  /* Signature over the text without the domain prefix (a signature made for
   * another purpose) is not accepted either. */
  {
    g_autofree guint8 *frame = g_malloc (68 + strlen (claims_bob));
    g_autoptr(GBytes) bytes = NULL;

    guint8 sig[NATTER_SIGNATURE_SIZE];

    memcpy (frame, "NTR1", 4);
    natter_identity_sign (bob, (const guint8 *)claims_bob, strlen (claims_bob), sig);
    memcpy (frame + 4, sig, sizeof sig);
    memcpy (frame + 68, claims_bob, strlen (claims_bob));
    bytes = g_bytes_new_take (g_steal_pointer (&frame), 68 + strlen (claims_bob));
    assert_decode_error (bytes, NULL, NATTER_ERROR_REFUSED);
  }
}

static void
test_decode_malformed (void)
{
  g_autoptr(JsonObject) body = sample_body ();
  g_autoptr(NatterEnvelope) sealed_env = natter_envelope_new ("answer", natter_identity_get_peer_id (alice),
                                                               natter_identity_get_peer_id (bob), "s", body);
  g_autoptr(NatterEnvelope) plain_env = natter_envelope_new ("presence", natter_identity_get_peer_id (alice), NULL, NULL, body);
  g_autoptr(GBytes) sealed = encode_or_die (sealed_env, alice);
  g_autoptr(GBytes) plain = encode_or_die (plain_env, alice);
  g_autoptr(GBytes) empty = g_bytes_new_static ("", 0);
  g_autoptr(GBytes) magic_only = g_bytes_new_static ("NTR1", 4);
  g_autoptr(GBytes) unknown_magic = g_bytes_new_static ("NTX1{\"v\":1}", 11);
  g_autoptr(GBytes) sealed_magic_only = g_bytes_new_static ("NTS1", 4);
  g_autofree guint8 *huge = g_malloc0 (NATTER_MAX_ENVELOPE_SIZE + 1);
  g_autoptr(GBytes) oversized = NULL;
  g_autoptr(GBytes) sealed_garbage_frame = NULL;

  assert_decode_error (empty, bob, NATTER_ERROR_INVALID_INPUT);
  assert_decode_error (magic_only, bob, NATTER_ERROR_INVALID_INPUT);
  assert_decode_error (unknown_magic, bob, NATTER_ERROR_INVALID_INPUT);
  assert_decode_error (sealed_magic_only, bob, NATTER_ERROR_REFUSED);

  memcpy (huge, "NTR1", 4);
  oversized = g_bytes_new_take (g_steal_pointer (&huge), NATTER_MAX_ENVELOPE_SIZE + 1);
  assert_decode_error (oversized, bob, NATTER_ERROR_TOO_LARGE);

  /* A sealed box whose content is not a signed frame. */
  {
    g_autoptr(GBytes) junk = g_bytes_new_static ("NTR1 but far too short", 22);
    g_autoptr(GBytes) not_a_frame = g_bytes_new_static ("{\"v\":1}{\"v\":1}{\"v\":1}{\"v\":1}{\"v\":1}{\"v\":1}{\"v\":1}{\"v\":1}{\"v\":1}{\"v\":1}", 80);

    sealed_garbage_frame = seal_frame (bob, junk);
    assert_decode_error (sealed_garbage_frame, bob, NATTER_ERROR_INVALID_INPUT);
    g_clear_pointer (&sealed_garbage_frame, g_bytes_unref);
    sealed_garbage_frame = seal_frame (bob, not_a_frame);
    assert_decode_error (sealed_garbage_frame, bob, NATTER_ERROR_INVALID_INPUT);
  }

  /* Every truncation of a real payload fails cleanly. */
  for (gsize i = 0; i < g_bytes_get_size (sealed); i++)
    {
      g_autoptr(GBytes) cut = g_bytes_new_from_bytes (sealed, 0, i);
      g_autoptr(GError) error = NULL;

      g_assert_null (natter_envelope_decode (cut, bob, &error));
      g_assert_nonnull (error);
    }
  for (gsize i = 0; i < g_bytes_get_size (plain); i++)
    {
      g_autoptr(GBytes) cut = g_bytes_new_from_bytes (plain, 0, i);
      g_autoptr(GError) error = NULL;

      g_assert_null (natter_envelope_decode (cut, bob, &error));
      g_assert_nonnull (error);
    }
}

int
main (int   argc,
      char *argv[])
{
  guint8 seed[32];

  g_test_init (&argc, &argv, NULL);

  memset (seed, 'a', sizeof seed);
  alice = natter_identity_new_from_seed (seed);
  memset (seed, 'b', sizeof seed);
  bob = natter_identity_new_from_seed (seed);
  memset (seed, 'c', sizeof seed);
  carol = natter_identity_new_from_seed (seed);

  g_test_add_func ("/envelope/new", test_new);
  g_test_add_func ("/envelope/round-trip/sealed", test_round_trip_sealed);
  g_test_add_func ("/envelope/round-trip/broadcast", test_round_trip_broadcast);
  g_test_add_func ("/envelope/encode/refuses", test_encode_refuses);

  for (guint i = 0; i < G_N_ELEMENTS (accepted_cases); i++)
    {
      g_autofree char *path = g_strdup_printf ("/envelope/parse/accepted/%s", accepted_cases[i].name);

      g_test_add_data_func (path, &accepted_cases[i], test_parse_accepted);
    }
  for (guint i = 0; i < G_N_ELEMENTS (refused_cases); i++)
    {
      g_autofree char *path = g_strdup_printf ("/envelope/parse/refused/%s", refused_cases[i].name);

      g_test_add_data_func (path, &refused_cases[i], test_parse_refused);
    }
  g_test_add_func ("/envelope/parse/fields", test_parse_full_fields);
  g_test_add_func ("/envelope/parse/known-types", test_parse_every_known_type);
  g_test_add_func ("/envelope/parse/depth", test_parse_depth);
  g_test_add_func ("/envelope/parse/size", test_parse_size);
  g_test_add_func ("/envelope/parse/truncated", test_parse_truncated_and_nul);

  g_test_add_func ("/envelope/decode/sealed-to-someone-else", test_decode_sealed_to_someone_else);
  g_test_add_func ("/envelope/decode/forwarded", test_decode_forwarded);
  g_test_add_func ("/envelope/decode/addressing", test_decode_addressing_rules);
  g_test_add_func ("/envelope/decode/signature", test_decode_signature);
  g_test_add_func ("/envelope/decode/malformed", test_decode_malformed);

  {
    int ret = g_test_run ();

    g_clear_object (&alice);
    g_clear_object (&bob);
    g_clear_object (&carol);
    return ret;
  }
}
