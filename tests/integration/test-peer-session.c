/* test-peer-session.c: two real NatterPeerSessions on 127.0.0.1, signaling via the main loop. */
#include <string.h>

#include "natter-error.h"
#include "natter-peer-session.h"
#include "natter-test-broker.h"

/* alice < bob, so alice is the polite peer. */
#define ALICE "alice-0000-peer"
#define BOB   "bob-1111-peer"
#define CONNECT_TIMEOUT_MS 10000

typedef struct _Pair Pair;

typedef struct
{
  Pair             *pair;
  int               side;
  NatterPeerSession *session;
  guint             n_signals;
  guint             n_opens;
  guint             n_early_ice;     /* ice delivered to this side before its offer/answer */
  GPtrArray        *offer_ids;       /* session ids of the offers this side sent */
  GPtrArray        *received;        /* GBytes */
  GHashTable       *descriptions;    /* session ids whose offer/answer reached this side */
  gboolean          unreachable;     /* what this side sends is lost */
  gint64            open_time;
} Side;

struct _Pair
{
  Side    side[2];
  GRand  *rand;
  guint   max_delay_ms;     /* every signal waits 0..max_delay_ms, so they overtake each other */
  guint   sdp_delay_ms;     /* extra delay for offer/answer: ice arrives first */
  GList  *in_flight;        /* GSource* */
  /* What a forger could do with the descriptions alice sends (tests of the
   * identity binding; the real ones travel inside signed envelopes). */
  gboolean alter_fingerprint;
  gboolean strip_fingerprint;
};

typedef struct
{
  Pair       *pair;
  int         to;
  char       *type;
  char       *session_id;
  JsonObject *body;
  GSource    *source;
} Delivery;

static NatterIceConfig *
loopback_ice (void)
{
  NatterIceConfig *ice = natter_ice_config_new ();

  g_assert_true (natter_ice_config_add_local_address (ice, "127.0.0.1", NULL));
  return ice;
}

static void
delivery_free (gpointer data)
{
  Delivery *d = data;

  d->pair->in_flight = g_list_remove (d->pair->in_flight, d->source);
  g_free (d->type);
  g_free (d->session_id);
  json_object_unref (d->body);
  g_free (d);
}

static gboolean
deliver (gpointer data)
{
  Delivery *d = data;
  Side *to = &d->pair->side[d->to];

  if (g_str_equal (d->type, "offer") || g_str_equal (d->type, "answer"))
    g_hash_table_add (to->descriptions, g_strdup (d->session_id));
  else if (g_str_equal (d->type, "ice") &&
           !g_hash_table_contains (to->descriptions, d->session_id))
    to->n_early_ice++;

  natter_peer_session_handle_signal (to->session, d->type, d->session_id, d->body);
  return G_SOURCE_REMOVE;
}

/* Rewrites the a=fingerprint lines of @body's SDP: one hex digit changed,
 * or the lines removed. */
static JsonObject *
tamper_description (JsonObject *body,
                    gboolean    strip)
{
  g_auto(GStrv) lines = g_strsplit (json_object_get_string_member (body, "sdp"), "\r\n", -1);
  g_autoptr(GString) sdp = g_string_new (NULL);
  JsonObject *copy = json_object_new ();
  guint altered = 0;

  for (guint i = 0; lines[i] != NULL; i++)
    {
      if (g_str_has_prefix (lines[i], "a=fingerprint:sha-256 "))
        {
          char *digit = lines[i] + strlen ("a=fingerprint:sha-256 ");

          altered++;
          if (strip)
            continue;
          *digit = *digit == 'A' ? 'B' : 'A';
        }
      g_string_append (sdp, lines[i]);
      if (lines[i + 1] != NULL)
        g_string_append (sdp, "\r\n");
    }
  g_assert_cmpuint (altered, >, 0);
  json_object_set_string_member (copy, "sdp", sdp->str);
  return copy;
}

static void
on_signal_out (NatterPeerSession *session,
               const char        *type,
               const char        *session_id,
               JsonObject        *body,
               Side              *side)
{
  g_autoptr(JsonObject) tampered = NULL;

  Pair *pair = side->pair;
  Delivery *d;
  guint delay;

  side->n_signals++;
  if (g_str_equal (type, "offer"))
    g_ptr_array_add (side->offer_ids, g_strdup (session_id));
  if (side->side == 0 && (pair->alter_fingerprint || pair->strip_fingerprint) &&
      (g_str_equal (type, "offer") || g_str_equal (type, "answer")))
    body = tampered = tamper_description (body, pair->strip_fingerprint);
  if (side->unreachable)
    return;
  delay = g_rand_int_range (pair->rand, 0, pair->max_delay_ms + 1);
  if (!g_str_equal (type, "ice"))
    delay += pair->sdp_delay_ms;

  d = g_new0 (Delivery, 1);
  d->pair = pair;
  d->to = 1 - side->side;
  d->type = g_strdup (type);
  d->session_id = g_strdup (session_id);
  d->body = json_object_ref (body);
  d->source = g_timeout_source_new (delay);
  g_source_set_callback (d->source, deliver, d, delivery_free);
  pair->in_flight = g_list_prepend (pair->in_flight, d->source);
  g_source_attach (d->source, NULL);
  g_source_unref (d->source);
}

static void
on_channel_open (NatterPeerSession *session,
                 Side              *side)
{
  side->n_opens++;
  side->open_time = g_get_monotonic_time ();
}

static void
on_frame_received (NatterPeerSession *session,
                   GBytes            *frame,
                   Side              *side)
{
  g_ptr_array_add (side->received, g_bytes_ref (frame));
}

static void
side_attach (Pair       *pair,
             int         i,
             const char *local,
             const char *remote)
{
  g_autoptr(NatterIceConfig) ice = loopback_ice ();
  Side *side = &pair->side[i];

  g_clear_object (&side->session);
  side->session = natter_peer_session_new (local, remote, ice);
  g_signal_connect (side->session, "signal-out", G_CALLBACK (on_signal_out), side);
  g_signal_connect (side->session, "channel-open", G_CALLBACK (on_channel_open), side);
  g_signal_connect (side->session, "frame-received", G_CALLBACK (on_frame_received), side);
  side->n_signals = 0;
  side->n_opens = 0;
  g_ptr_array_set_size (side->offer_ids, 0);
  g_ptr_array_set_size (side->received, 0);
}

static Pair *
pair_new (guint max_delay_ms,
          guint sdp_delay_ms)
{
  Pair *pair = g_new0 (Pair, 1);

  pair->rand = g_rand_new_with_seed (g_test_rand_int ());
  pair->max_delay_ms = max_delay_ms;
  pair->sdp_delay_ms = sdp_delay_ms;
  for (int i = 0; i < 2; i++)
    {
      pair->side[i].pair = pair;
      pair->side[i].side = i;
      pair->side[i].offer_ids = g_ptr_array_new_with_free_func (g_free);
      pair->side[i].received = g_ptr_array_new_with_free_func ((GDestroyNotify) g_bytes_unref);
      pair->side[i].descriptions = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
    }
  side_attach (pair, 0, ALICE, BOB);
  side_attach (pair, 1, BOB, ALICE);
  return pair;
}

static void
pair_free (Pair *pair)
{
  while (pair->in_flight != NULL)
    g_source_destroy (pair->in_flight->data);
  for (int i = 0; i < 2; i++)
    {
      g_clear_object (&pair->side[i].session);
      g_ptr_array_unref (pair->side[i].offer_ids);
      g_ptr_array_unref (pair->side[i].received);
      g_hash_table_unref (pair->side[i].descriptions);
    }
  g_rand_free (pair->rand);
  g_free (pair);
  /* Let late GStreamer callbacks of the torn-down pipelines drain harmlessly. */
  natter_test_spin (20);
}

static gboolean
both_connected (gpointer data)
{
  Pair *pair = data;

  return natter_peer_session_get_state (pair->side[0].session) == NATTER_SESSION_CONNECTED &&
         natter_peer_session_get_state (pair->side[1].session) == NATTER_SESSION_CONNECTED;
}

static void
assert_one_connection (Pair *pair)
{
  const char *id0, *id1;

  g_assert_true (natter_test_wait_until (both_connected, pair, CONNECT_TIMEOUT_MS));
  id0 = natter_peer_session_get_session_id (pair->side[0].session);
  id1 = natter_peer_session_get_session_id (pair->side[1].session);
  g_assert_nonnull (id0);
  g_assert_cmpstr (id0, ==, id1);
}

static void
send_text (Side       *side,
           const char *text)
{
  g_autoptr(GBytes) frame = g_bytes_new (text, strlen (text));
  g_autoptr(GError) error = NULL;

  g_assert_true (natter_peer_session_send (side->session, frame, &error));
  g_assert_no_error (error);
}

typedef struct
{
  Side  *side;
  guint  count;
} ReceivedAtLeast;

static gboolean
received_at_least (gpointer data)
{
  ReceivedAtLeast *r = data;

  return r->side->received->len >= r->count;
}

static void
wait_received (Side  *side,
               guint  count)
{
  ReceivedAtLeast r = { side, count };

  g_assert_true (natter_test_wait_until (received_at_least, &r, CONNECT_TIMEOUT_MS));
}

static void
assert_frame (Side       *side,
              guint       index,
              const char *expected)
{
  GBytes *frame = g_ptr_array_index (side->received, index);
  gsize size;
  const char *data = g_bytes_get_data (frame, &size);

  g_assert_cmpmem (data, size, expected, strlen (expected));
}

/* One message each way over the current connection. */
static void
assert_chat_works (Pair *pair)
{
  guint before0 = pair->side[0].received->len;
  guint before1 = pair->side[1].received->len;

  send_text (&pair->side[0], "ping");
  send_text (&pair->side[1], "pong");
  wait_received (&pair->side[1], before1 + 1);
  wait_received (&pair->side[0], before0 + 1);
  assert_frame (&pair->side[1], before1, "ping");
  assert_frame (&pair->side[0], before0, "pong");
}

static void
test_connect_and_exchange (void)
{
  Pair *pair = pair_new (5, 0);
  Side *alice = &pair->side[0];
  Side *bob = &pair->side[1];
  gint64 start;

  g_assert_true (natter_peer_session_is_polite (alice->session));
  g_assert_false (natter_peer_session_is_polite (bob->session));
  g_assert_cmpint (natter_peer_session_get_state (alice->session), ==, NATTER_SESSION_NEW);

  start = g_get_monotonic_time ();
  natter_peer_session_connect (alice->session);
  g_assert_cmpint (natter_peer_session_get_state (alice->session), ==, NATTER_SESSION_CONNECTING);
  assert_one_connection (pair);
  g_test_message ("connect -> channel open: offerer %.1f ms, answerer %.1f ms "
                  "(first setup in the process)",
                  (alice->open_time - start) / 1000.0, (bob->open_time - start) / 1000.0);
  g_test_message ("signals for one setup: offerer %u, answerer %u",
                  alice->n_signals, bob->n_signals);
  g_assert_cmpuint (alice->n_signals, <=, 6);
  g_assert_cmpuint (bob->n_signals, <=, 6);
  g_assert_cmpuint (alice->n_opens, ==, 1);
  g_assert_cmpuint (bob->n_opens, ==, 1);

  /* Each side knows the other's DTLS fingerprint from its SDP. (Both are
   * equal here: GStreamer's DTLS uses one certificate per process.) */
  g_assert_true (g_str_has_prefix (natter_peer_session_get_local_fingerprint (alice->session),
                                   "sha-256 "));
  g_assert_cmpstr (natter_peer_session_get_local_fingerprint (alice->session), ==,
                   natter_peer_session_get_remote_fingerprint (bob->session));
  g_assert_cmpstr (natter_peer_session_get_local_fingerprint (bob->session), ==,
                   natter_peer_session_get_remote_fingerprint (alice->session));

  for (guint i = 0; i < 100; i++)
    {
      g_autofree char *a = g_strdup_printf ("alice says %u", i);
      g_autofree char *b = g_strdup_printf ("bob says %u", i);

      send_text (alice, a);
      send_text (bob, b);
    }
  wait_received (alice, 100);
  wait_received (bob, 100);
  for (guint i = 0; i < 100; i++)
    {
      g_autofree char *a = g_strdup_printf ("alice says %u", i);
      g_autofree char *b = g_strdup_printf ("bob says %u", i);

      assert_frame (bob, i, a);
      assert_frame (alice, i, b);
    }

  /* Nothing else arrives, nothing breaks while idle. */
  natter_test_spin (200);
  g_assert_cmpuint (alice->received->len, ==, 100);
  g_assert_cmpuint (bob->received->len, ==, 100);
  g_assert_cmpint (natter_peer_session_get_state (alice->session), ==, NATTER_SESSION_CONNECTED);

  pair_free (pair);
}

static void
test_ice_before_description (void)
{
  /* Offers and answers take 150 ms longer than ice, as when the broker
   * delivers the ice topic first. */
  Pair *pair = pair_new (2, 150);

  natter_peer_session_connect (pair->side[0].session);
  assert_one_connection (pair);
  g_test_message ("ice signals that arrived before their description: "
                  "at answerer %u, at offerer %u",
                  pair->side[1].n_early_ice, pair->side[0].n_early_ice);
  g_assert_cmpuint (pair->side[1].n_early_ice, >=, 1);
  g_assert_cmpuint (pair->side[0].n_early_ice, >=, 1);
  assert_chat_works (pair);

  pair_free (pair);
}

static void
test_glare (void)
{
  gint64 total = 0;
  guint crossed = 0;

  for (guint round = 0; round < 20; round++)
    {
      /* Every other round holds offers back 50 ms so both are surely on the
       * wire before either arrives; the others race naturally. */
      Pair *pair = pair_new (5, round % 2 ? 50 : 0);
      Side *alice = &pair->side[0];
      Side *bob = &pair->side[1];
      gint64 start = g_get_monotonic_time ();

      natter_peer_session_connect (alice->session);
      natter_peer_session_connect (bob->session);
      assert_one_connection (pair);
      total += MAX (alice->open_time, bob->open_time) - start;

      /* The impolite bob's offer always wins; the polite alice gave hers up
       * (or dropped it before it was even sent) and answered. */
      g_assert_cmpuint (bob->offer_ids->len, ==, 1);
      g_assert_cmpuint (alice->offer_ids->len, <=, 1);
      g_assert_cmpstr (natter_peer_session_get_session_id (alice->session), ==,
                       g_ptr_array_index (bob->offer_ids, 0));
      crossed += alice->offer_ids->len;

      /* Stragglers of the abandoned offer must not start a second connection. */
      natter_test_spin (100);
      g_assert_cmpuint (alice->n_opens, ==, 1);
      g_assert_cmpuint (bob->n_opens, ==, 1);
      g_assert_true (both_connected (pair));
      assert_chat_works (pair);

      pair_free (pair);
    }

  g_test_message ("glare: %u of 20 rounds had both offers on the wire; "
                  "mean connect -> both channels open %.1f ms", crossed, total / 20 / 1000.0);
  g_assert_cmpuint (crossed, >=, 10);
}

static gboolean
bob_not_connected (gpointer data)
{
  Pair *pair = data;

  return natter_peer_session_get_state (pair->side[1].session) != NATTER_SESSION_CONNECTED;
}

static void
test_bye_and_reconnect (void)
{
  Pair *pair = pair_new (5, 0);
  Side *alice = &pair->side[0];
  Side *bob = &pair->side[1];
  gint64 start;

  natter_peer_session_connect (alice->session);
  assert_one_connection (pair);

  natter_peer_session_close (alice->session);
  g_assert_cmpint (natter_peer_session_get_state (alice->session), ==, NATTER_SESSION_CLOSED);
  g_assert_true (natter_test_wait_until (bob_not_connected, pair, CONNECT_TIMEOUT_MS));
  g_assert_cmpint (natter_peer_session_get_state (bob->session), ==, NATTER_SESSION_DISCONNECTED);

  /* Closed is final; a restarted alice is a new session object. */
  side_attach (pair, 0, ALICE, BOB);
  start = g_get_monotonic_time ();
  natter_peer_session_connect (bob->session);
  assert_one_connection (pair);
  g_test_message ("reconnect -> channel open on both: %.1f ms",
                  (MAX (alice->open_time, bob->open_time) - start) / 1000.0);
  g_assert_cmpuint (bob->n_opens, ==, 2);
  assert_chat_works (pair);

  pair_free (pair);
}

static void
test_peer_restart (void)
{
  Pair *pair = pair_new (5, 0);
  Side *alice = &pair->side[0];
  Side *bob = &pair->side[1];
  const char *old_id;

  natter_peer_session_connect (alice->session);
  assert_one_connection (pair);
  old_id = natter_peer_session_get_session_id (alice->session);
  g_assert_nonnull (old_id);

  /* Bob vanishes without a bye (crash) and comes back with a fresh offer
   * while alice still believes she is connected. */
  side_attach (pair, 1, BOB, ALICE);
  g_assert_cmpint (natter_peer_session_get_state (alice->session), ==, NATTER_SESSION_CONNECTED);
  natter_peer_session_connect (bob->session);
  assert_one_connection (pair);
  g_assert_cmpstr (natter_peer_session_get_session_id (alice->session), ==,
                   g_ptr_array_index (bob->offer_ids, 0));
  g_assert_cmpuint (alice->n_opens, ==, 2);
  assert_chat_works (pair);

  pair_free (pair);
}

static gboolean
alice_failed (gpointer data)
{
  Pair *pair = data;

  return natter_peer_session_get_state (pair->side[0].session) == NATTER_SESSION_FAILED;
}

static void
test_timeout_then_reconnect (void)
{
  Pair *pair = pair_new (5, 0);
  Side *alice = &pair->side[0];
  Side *bob = &pair->side[1];
  gint64 start = g_get_monotonic_time ();

  /* Alice's offer never reaches bob. */
  alice->unreachable = TRUE;
  natter_peer_session_set_connect_timeout (alice->session, 500);
  natter_peer_session_connect (alice->session);
  g_assert_true (natter_test_wait_until (alice_failed, pair, 5000));
  g_assert_cmpint (g_get_monotonic_time () - start, >=, 500 * 1000);
  g_assert_null (natter_peer_session_get_session_id (alice->session));
  g_assert_cmpint (natter_peer_session_get_state (bob->session), ==, NATTER_SESSION_NEW);

  /* The way is clear again: the next connect() is a fresh attempt. */
  alice->unreachable = FALSE;
  natter_peer_session_connect (alice->session);
  assert_one_connection (pair);
  g_assert_cmpuint (alice->offer_ids->len, ==, 2);
  g_assert_cmpstr (natter_peer_session_get_session_id (alice->session), ==,
                   g_ptr_array_index (alice->offer_ids, 1));
  assert_chat_works (pair);

  pair_free (pair);
}

static void
test_frame_limits (void)
{
  Pair *pair = pair_new (0, 0);
  Side *alice = &pair->side[0];
  Side *bob = &pair->side[1];
  g_autoptr(GBytes) small = g_bytes_new_static ("hi", 2);
  g_autoptr(GError) error = NULL;
  g_autofree guint8 *data = g_malloc (NATTER_MAX_FRAME_SIZE + 1);
  g_autoptr(GBytes) too_large = NULL;
  g_autoptr(GBytes) largest = NULL;

  g_assert_false (natter_peer_session_send (alice->session, small, &error));
  g_assert_error (error, NATTER_ERROR, NATTER_ERROR_NOT_CONNECTED);
  g_clear_error (&error);

  natter_peer_session_connect (bob->session);
  assert_one_connection (pair);

  for (gsize i = 0; i < NATTER_MAX_FRAME_SIZE + 1; i++)
    data[i] = i * 7;
  too_large = g_bytes_new (data, NATTER_MAX_FRAME_SIZE + 1);
  g_assert_false (natter_peer_session_send (alice->session, too_large, &error));
  g_assert_error (error, NATTER_ERROR, NATTER_ERROR_TOO_LARGE);
  g_clear_error (&error);

  largest = g_bytes_new (data, NATTER_MAX_FRAME_SIZE);
  g_assert_true (natter_peer_session_send (alice->session, largest, &error));
  g_assert_no_error (error);
  wait_received (bob, 1);
  g_assert_true (g_bytes_equal (g_ptr_array_index (bob->received, 0), largest));

  pair_free (pair);
}

static JsonObject *
json_from (const char *text)
{
  g_autoptr(JsonParser) parser = json_parser_new ();

  g_assert_true (json_parser_load_from_data (parser, text, -1, NULL));
  return json_object_ref (json_node_get_object (json_parser_get_root (parser)));
}

static void
test_garbage_is_dropped (void)
{
  g_autoptr(NatterIceConfig) ice = loopback_ice ();
  g_autoptr(NatterPeerSession) session = natter_peer_session_new (ALICE, BOB, ice);
  const char *bodies[][2] = {
    { "offer", "{\"sdp\": \"not sdp\"}" },
    { "offer", "{\"sdp\": 42}" },
    { "offer", "{}" },
    { "answer", "{\"sdp\": \"v=0\"}" },
    { "ice", "{\"candidates\": [{\"mline\": \"x\", \"candidate\": 1}, 7]}" },
    { "ice", "{\"candidates\": [{\"mline\": 0, "
             "\"candidate\": \"candidate:1 1 UDP 1 127.0.0.1 9 typ host\"}]}" },
    { "bye", "{}" },
    { "hello", "{}" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (bodies); i++)
    {
      g_autoptr(JsonObject) body = json_from (bodies[i][1]);

      natter_peer_session_handle_signal (session, bodies[i][0], "0123-abcd", body);
      natter_peer_session_handle_signal (session, bodies[i][0], "bad id with spaces", body);
    }
  natter_test_spin (50);
  g_assert_cmpint (natter_peer_session_get_state (session), ==, NATTER_SESSION_NEW);
  g_assert_null (natter_peer_session_get_session_id (session));
}

static void
test_ice_config (void)
{
  g_autoptr(NatterIceConfig) ice = natter_ice_config_new ();
  g_autoptr(GError) error = NULL;

  g_assert_null (natter_ice_config_get_stun_server (ice));
  g_assert_false (natter_ice_config_set_stun_server (ice, "http://example.org", &error));
  g_assert_error (error, NATTER_ERROR, NATTER_ERROR_INVALID_INPUT);
  g_clear_error (&error);
  g_assert_true (natter_ice_config_set_stun_server (ice, "stun://127.0.0.1:3478", &error));
  g_assert_no_error (error);

  g_assert_false (natter_ice_config_add_turn_server (ice, "stun://127.0.0.1", &error));
  g_assert_error (error, NATTER_ERROR, NATTER_ERROR_INVALID_INPUT);
  g_clear_error (&error);
  g_assert_true (natter_ice_config_add_turn_server (ice, "turn://u:p@127.0.0.1:3478", NULL));
  g_assert_cmpstrv (natter_ice_config_get_turn_servers (ice),
                    ((const char *[]) { "turn://u:p@127.0.0.1:3478", NULL }));

  g_assert_false (natter_ice_config_add_local_address (ice, "localhost", &error));
  g_assert_error (error, NATTER_ERROR, NATTER_ERROR_INVALID_INPUT);
  g_assert_true (natter_ice_config_add_local_address (ice, "::1", NULL));
  g_assert_true (natter_ice_config_add_local_address (ice, "127.0.0.1", NULL));
  g_assert_cmpstrv (natter_ice_config_get_local_addresses (ice),
                    ((const char *[]) { "::1", "127.0.0.1", NULL }));
}

static gboolean
session_failed (gpointer data)
{
  return natter_peer_session_get_state (data) == NATTER_SESSION_FAILED;
}

static void
count_channel (NatterPeerSession *session,
               NatterChannel     *channel,
               guint             *count)
{
  (*count)++;
}

/* Alice, who verified Bob, opens a channel at once: Bob, who cannot verify
 * her, must never announce it. */
static void
open_forged_channel (NatterPeerSession *session,
                     NatterChannel    **forged)
{
  if (*forged == NULL)
    *forged = natter_peer_session_create_channel (session, "file/forged", NULL);
}

static void
test_dtls_certificate_must_match (void)
{
  Pair *pair = pair_new (0, 0);
  Side *alice = &pair->side[0];
  Side *bob = &pair->side[1];
  g_autoptr(NatterChannel) forged = NULL;
  guint bob_channels = 0;
  gulong forge_id;
  const char *reason;

  forge_id = g_signal_connect (alice->session, "channel-open",
                               G_CALLBACK (open_forged_channel), &forged);
  g_signal_connect (bob->session, "channel-added", G_CALLBACK (count_channel), &bob_channels);

  /* Alice's offer names a certificate she does not have: DTLS still
   * connects (GStreamer accepts any certificate), and Bob must refuse. */
  pair->alter_fingerprint = TRUE;
  natter_peer_session_connect (alice->session);
  g_assert_true (natter_test_wait_until (session_failed, bob->session, CONNECT_TIMEOUT_MS));
  reason = natter_peer_session_get_failure_reason (bob->session);
  g_assert_nonnull (reason);
  g_assert_nonnull (strstr (reason, "does not match"));

  /* Whatever Alice managed to send never reached Bob's listeners. */
  if (natter_peer_session_get_state (alice->session) == NATTER_SESSION_CONNECTED)
    {
      g_autoptr(GBytes) frame = g_bytes_new_static ("forged", 6);

      natter_peer_session_send (alice->session, frame, NULL);
    }
  natter_test_spin (300);
  g_assert_cmpuint (bob->n_opens, ==, 0);
  g_assert_cmpuint (bob->received->len, ==, 0);
  g_assert_cmpuint (bob_channels, ==, 0);
  g_assert_cmpint (natter_peer_session_get_state (bob->session), ==, NATTER_SESSION_FAILED);
  g_test_message ("alice %s a channel before bob refused her",
                  forged != NULL ? "had opened" : "had not opened");

  /* Bob retries, as the client does after a failure, and the honest
   * answer connects the same two sessions. */
  g_signal_handler_disconnect (alice->session, forge_id);
  pair->alter_fingerprint = FALSE;
  natter_peer_session_connect (bob->session);
  assert_one_connection (pair);
  g_assert_null (natter_peer_session_get_failure_reason (bob->session));
  assert_chat_works (pair);
  pair_free (pair);
}

static void
test_description_without_fingerprint (void)
{
  Pair *pair = pair_new (0, 0);
  Side *alice = &pair->side[0];
  Side *bob = &pair->side[1];

  pair->strip_fingerprint = TRUE;
  natter_peer_session_set_connect_timeout (alice->session, 1500);
  natter_peer_session_connect (alice->session);
  g_assert_true (natter_test_wait_until (session_failed, alice->session, CONNECT_TIMEOUT_MS));
  /* Bob never started an attempt for the unbindable offer. */
  g_assert_cmpint (natter_peer_session_get_state (bob->session), ==, NATTER_SESSION_NEW);
  g_assert_cmpuint (bob->n_signals, ==, 0);
  pair_free (pair);
}

typedef struct
{
  NatterChannel *added;
  GByteArray    *bytes;
  guint          messages;
} ChannelSink;

static void
on_channel_message (NatterChannel *channel,
                    GBytes        *data,
                    ChannelSink   *sink)
{
  g_byte_array_append (sink->bytes, g_bytes_get_data (data, NULL), g_bytes_get_size (data));
  sink->messages++;
}

static void
on_channel_added (NatterPeerSession *session,
                  NatterChannel     *channel,
                  ChannelSink       *sink)
{
  g_set_object (&sink->added, channel);
  g_signal_connect (channel, "message", G_CALLBACK (on_channel_message), sink);
}

static gboolean
channel_is (NatterChannel      *channel,
            NatterChannelState  state)
{
  return channel != NULL && natter_channel_get_state (channel) == state;
}

static gboolean
channel_open (gpointer data)
{
  return channel_is (*(NatterChannel **) data, NATTER_CHANNEL_OPEN);
}

static gboolean
channel_closed (gpointer data)
{
  return channel_is (*(NatterChannel **) data, NATTER_CHANNEL_CLOSED);
}

static gboolean
sink_has (gpointer data)
{
  ChannelSink *sink = data;

  return sink->bytes->len >= 48 * 65536;
}

static void
test_extra_channels (void)
{
  Pair *pair = pair_new (0, 0);
  Side *alice = &pair->side[0];
  Side *bob = &pair->side[1];
  ChannelSink sink = { NULL, g_byte_array_new (), 0 };
  g_autoptr(NatterChannel) channel = NULL;
  g_autoptr(GError) error = NULL;
  guint8 *chunk = g_malloc (65536);
  guint64 max_buffered = 0;

  /* Not before the session is up. */
  g_assert_null (natter_peer_session_create_channel (alice->session, "file/1", &error));
  g_assert_error (error, NATTER_ERROR, NATTER_ERROR_NOT_CONNECTED);
  g_clear_error (&error);

  g_signal_connect (bob->session, "channel-added", G_CALLBACK (on_channel_added), &sink);
  natter_peer_session_connect (alice->session);
  assert_one_connection (pair);

  g_assert_null (natter_peer_session_create_channel (alice->session, "chat", &error));
  g_assert_error (error, NATTER_ERROR, NATTER_ERROR_INVALID_INPUT);
  g_clear_error (&error);

  channel = natter_peer_session_create_channel (alice->session, "file/1", &error);
  g_assert_no_error (error);
  g_assert_cmpstr (natter_channel_get_label (channel), ==, "file/1");
  g_assert_true (natter_test_wait_until (channel_open, &channel, CONNECT_TIMEOUT_MS));
  g_assert_true (natter_test_wait_until (channel_open, &sink.added, CONNECT_TIMEOUT_MS));
  g_assert_cmpstr (natter_channel_get_label (sink.added), ==, "file/1");

  /* 3 MiB in 64 KiB messages, never more than 1 MiB queued: in order, intact. */
  for (guint i = 0; i < 48; i++)
    {
      g_autoptr(GBytes) data = NULL;

      while (natter_channel_get_buffered_amount (channel) > 1024 * 1024)
        g_main_context_iteration (NULL, TRUE);
      memset (chunk, i, 65536);
      data = g_bytes_new (chunk, 65536);
      g_assert_true (natter_channel_send (channel, data, &error));
      max_buffered = MAX (max_buffered, natter_channel_get_buffered_amount (channel));
    }
  g_assert_true (natter_test_wait_until (sink_has, &sink, CONNECT_TIMEOUT_MS));
  g_assert_cmpuint (sink.bytes->len, ==, 48 * 65536);
  for (guint i = 0; i < 48; i++)
    g_assert_cmpuint (sink.bytes->data[i * 65536 + 65535], ==, i);
  g_assert_cmpuint (max_buffered, <=, 1024 * 1024 + 65536);

  /* Over-long messages are refused before they reach webrtcbin. */
  {
    g_autoptr(GBytes) big = g_bytes_new_take (g_malloc0 (65537), 65537);

    g_assert_false (natter_channel_send (channel, big, &error));
    g_assert_error (error, NATTER_ERROR, NATTER_ERROR_TOO_LARGE);
    g_clear_error (&error);
  }

  /* The chat channel carries on beside it. */
  assert_chat_works (pair);

  /* Closing one side closes the other; closing the session closes the rest. */
  natter_channel_close (channel);
  g_assert_true (natter_test_wait_until (channel_closed, &sink.added, CONNECT_TIMEOUT_MS));
  g_clear_object (&channel);
  channel = natter_peer_session_create_channel (alice->session, "file/2", &error);
  g_assert_no_error (error);
  g_assert_true (natter_test_wait_until (channel_open, &channel, CONNECT_TIMEOUT_MS));
  natter_peer_session_close (alice->session);
  g_assert_true (channel_is (channel, NATTER_CHANNEL_CLOSED));

  g_clear_object (&sink.added);
  g_byte_array_unref (sink.bytes);
  g_free (chunk);
  pair_free (pair);
}

/* The first side whose connection is up opens a channel from its
 * "channel-open" handler, before the other side has announced its own
 * connection: the other side announces the channel only after its
 * "channel-open" (a channel that arrives before the DTLS check is held back). */
typedef struct
{
  Pair          *pair;
  int            creator;             /* -1 until one side opened the channel */
  gboolean       peer_was_connected;  /* the other side's state at that moment */
  NatterChannel *created;
  ChannelSink    sink;                /* the other side's */
  gboolean       announced_in_order;
} EarlyChannel;

static void
early_open (NatterPeerSession *session,
            EarlyChannel      *early)
{
  g_autoptr(GError) error = NULL;
  int side = session == early->pair->side[0].session ? 0 : 1;

  if (early->creator >= 0)
    return;
  early->creator = side;
  early->peer_was_connected =
    natter_peer_session_get_state (early->pair->side[1 - side].session) == NATTER_SESSION_CONNECTED;
  early->created = natter_peer_session_create_channel (session, "file/early", &error);
  g_assert_no_error (error);
}

static void
early_added (NatterPeerSession *session,
             NatterChannel     *channel,
             EarlyChannel      *early)
{
  int side = session == early->pair->side[0].session ? 0 : 1;

  g_assert_cmpint (side, ==, 1 - early->creator);
  early->announced_in_order =
    natter_peer_session_get_state (session) == NATTER_SESSION_CONNECTED &&
    early->pair->side[side].n_opens == 1;
  on_channel_added (session, channel, &early->sink);
}

static gboolean
sink_has_message (gpointer data)
{
  return ((ChannelSink *) data)->messages > 0;
}

static void
test_early_channel (void)
{
  guint held_back = 0;

  for (guint round = 0; round < 6; round++)
    {
      Pair *pair = pair_new (0, 0);
      EarlyChannel early = { pair, -1, FALSE, NULL, { NULL, g_byte_array_new (), 0 }, FALSE };
      g_autoptr(GBytes) data = g_bytes_new_static ("early", 5);
      g_autoptr(GError) error = NULL;

      for (int i = 0; i < 2; i++)
        {
          g_signal_connect (pair->side[i].session, "channel-open", G_CALLBACK (early_open), &early);
          g_signal_connect (pair->side[i].session, "channel-added", G_CALLBACK (early_added), &early);
        }
      natter_peer_session_connect (pair->side[round % 2].session);
      assert_one_connection (pair);
      g_assert_nonnull (early.created);
      g_assert_true (natter_test_wait_until (channel_open, &early.created, CONNECT_TIMEOUT_MS));
      g_assert_true (natter_test_wait_until (channel_open, &early.sink.added, CONNECT_TIMEOUT_MS));
      g_assert_true (early.announced_in_order);
      g_assert_true (natter_channel_send (early.created, data, &error));
      g_assert_no_error (error);
      g_assert_true (natter_test_wait_until (sink_has_message, &early.sink, CONNECT_TIMEOUT_MS));
      g_assert_cmpmem (early.sink.bytes->data, early.sink.bytes->len, "early", 5);
      assert_chat_works (pair);
      held_back += !early.peer_was_connected;

      g_clear_object (&early.created);
      g_clear_object (&early.sink.added);
      g_byte_array_unref (early.sink.bytes);
      pair_free (pair);
    }
  g_test_message ("the channel was opened before the other side was connected in %u of 6 rounds",
                  held_back);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/peer-session/ice-config", test_ice_config);
  g_test_add_func ("/peer-session/garbage-is-dropped", test_garbage_is_dropped);
  g_test_add_func ("/peer-session/connect-and-exchange", test_connect_and_exchange);
  g_test_add_func ("/peer-session/ice-before-description", test_ice_before_description);
  g_test_add_func ("/peer-session/glare", test_glare);
  g_test_add_func ("/peer-session/bye-and-reconnect", test_bye_and_reconnect);
  g_test_add_func ("/peer-session/peer-restart", test_peer_restart);
  g_test_add_func ("/peer-session/timeout-then-reconnect", test_timeout_then_reconnect);
  g_test_add_func ("/peer-session/frame-limits", test_frame_limits);
  g_test_add_func ("/peer-session/dtls-certificate-must-match", test_dtls_certificate_must_match);
  g_test_add_func ("/peer-session/description-without-fingerprint",
                   test_description_without_fingerprint);
  g_test_add_func ("/peer-session/extra-channels", test_extra_channels);
  g_test_add_func ("/peer-session/early-channel", test_early_channel);

  return g_test_run ();
}
