/* test-signaling.c: NatterSignaling against a real mosquitto: presence, wills, reconnects, replays. */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <netinet/in.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <glib/gstdio.h>
#include <mosquitto.h>

#include "natter-envelope.h"
#include "natter-error.h"
#include "natter-identity.h"
#include "natter-signaling.h"
#include "natter-test-broker.h"

#define TIMEOUT_MS 5000
#define BACKOFF_SCALE 0.1

/* ------------------------------------------------------------------------ */
/* An in-process peer that records everything it sees                       */
/* ------------------------------------------------------------------------ */

typedef struct
{
  char     *peer_id;
  gboolean  online;
  gint64    epoch;
} PresenceEvent;

typedef struct
{
  NatterSignalingState state;
  gint64               at;          /* monotonic µs */
  gint64               next_retry;
} StateChange;

typedef struct
{
  NatterIdentity  *identity;
  NatterSignaling *signaling;
  GPtrArray       *envelopes;
  GPtrArray       *presence;
  GArray          *states;
} Peer;

static void
presence_event_free (PresenceEvent *event)
{
  g_free (event->peer_id);
  g_free (event);
}

static void
on_envelope (NatterSignaling *signaling,
             NatterEnvelope  *envelope,
             Peer            *peer)
{
  g_ptr_array_add (peer->envelopes, g_object_ref (envelope));
}

static void
on_presence (NatterSignaling *signaling,
             const char      *peer_id,
             gboolean         online,
             gint64           epoch,
             Peer            *peer)
{
  PresenceEvent *event = g_new0 (PresenceEvent, 1);

  event->peer_id = g_strdup (peer_id);
  event->online = online;
  event->epoch = epoch;
  g_ptr_array_add (peer->presence, event);
}

static void
on_state (NatterSignaling *signaling,
          GParamSpec      *pspec,
          Peer            *peer)
{
  StateChange change = {
    .state = natter_signaling_get_state (signaling),
    .at = g_get_monotonic_time (),
    .next_retry = natter_signaling_get_next_retry (signaling),
  };

  g_array_append_val (peer->states, change);
}

static NatterIdentity *
identity_from_byte (guint8 byte)
{
  guint8 seed[32];

  memset (seed, byte, sizeof seed);
  return natter_identity_new_from_seed (seed);
}

static Peer *
peer_new (guint8            seed_byte,
          NatterTestBroker *broker)
{
  g_autoptr(GError) error = NULL;
  Peer *peer = g_new0 (Peer, 1);

  peer->identity = identity_from_byte (seed_byte);
  peer->signaling = natter_signaling_new (peer->identity);
  peer->envelopes = g_ptr_array_new_with_free_func (g_object_unref);
  peer->presence = g_ptr_array_new_with_free_func ((GDestroyNotify) presence_event_free);
  peer->states = g_array_new (FALSE, FALSE, sizeof (StateChange));
  natter_signaling_set_backoff_scale (peer->signaling, BACKOFF_SCALE);
  g_signal_connect (peer->signaling, "envelope-received", G_CALLBACK (on_envelope), peer);
  g_signal_connect (peer->signaling, "presence-changed", G_CALLBACK (on_presence), peer);
  g_signal_connect (peer->signaling, "notify::state", G_CALLBACK (on_state), peer);
  g_assert_true (natter_signaling_set_broker (peer->signaling, natter_test_broker_get_url (broker),
                                              NULL, NULL, NULL, &error));
  g_assert_no_error (error);
  return peer;
}

static void
peer_free (Peer *peer)
{
  if (peer->signaling != NULL)
    g_signal_handlers_disconnect_by_data (peer->signaling, peer);
  g_clear_object (&peer->signaling);
  g_object_unref (peer->identity);
  g_ptr_array_unref (peer->envelopes);
  g_ptr_array_unref (peer->presence);
  g_array_unref (peer->states);
  g_free (peer);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (Peer, peer_free)

static const char *
peer_id (Peer *peer)
{
  return natter_identity_get_peer_id (peer->identity);
}

static gint64
peer_epoch (Peer *peer)
{
  const char *epoch = natter_signaling_get_epoch (peer->signaling);

  g_assert_nonnull (epoch);
  return g_ascii_strtoll (epoch, NULL, 10);
}

typedef struct
{
  Peer                 *peer;
  NatterSignalingState  state;
} StateWait;

static gboolean
state_reached (gpointer data)
{
  StateWait *wait = data;

  return natter_signaling_get_state (wait->peer->signaling) == wait->state;
}

static gboolean
wait_state (Peer                 *peer,
            NatterSignalingState  state,
            guint                 timeout_ms)
{
  StateWait wait = { peer, state };

  return natter_test_wait_until (state_reached, &wait, timeout_ms);
}

static void
start_and_wait (Peer *peer)
{
  natter_signaling_start (peer->signaling);
  g_assert_true (wait_state (peer, NATTER_SIGNALING_CONNECTED, TIMEOUT_MS));
}

/* The last presence @peer reported for @about, or NULL. */
static PresenceEvent *
last_presence (Peer       *peer,
               const char *about)
{
  for (guint i = peer->presence->len; i > 0; i--)
    {
      PresenceEvent *event = g_ptr_array_index (peer->presence, i - 1);

      if (g_str_equal (event->peer_id, about))
        return event;
    }
  return NULL;
}

/* Like last_presence(), for a presence that must be there. */
static PresenceEvent *
expect_presence (Peer       *peer,
                 const char *about)
{
  PresenceEvent *event = last_presence (peer, about);

  if (event == NULL)
    g_error ("no presence reported");
  return event;
}

typedef struct
{
  Peer       *peer;
  const char *about;
  gboolean    online;
  gint64      min_epoch;
} PresenceWait;

static gboolean
presence_reached (gpointer data)
{
  PresenceWait *wait = data;
  PresenceEvent *event = last_presence (wait->peer, wait->about);

  return event != NULL && event->online == wait->online && event->epoch >= wait->min_epoch;
}

static gboolean
wait_presence (Peer       *peer,
               const char *about,
               gboolean    online,
               gint64      min_epoch,
               guint       timeout_ms)
{
  PresenceWait wait = { peer, about, online, min_epoch };

  return natter_test_wait_until (presence_reached, &wait, timeout_ms);
}

typedef struct
{
  GPtrArray *array;
  guint      len;
} LenWait;

static gboolean
len_reached (gpointer data)
{
  LenWait *wait = data;

  return wait->array->len >= wait->len;
}

static gboolean
wait_len (GPtrArray *array,
          guint      len,
          guint      timeout_ms)
{
  LenWait wait = { array, len };

  return natter_test_wait_until (len_reached, &wait, timeout_ms);
}

static JsonObject *
body_with (const char *key,
           const char *value)
{
  JsonObject *body = json_object_new ();

  json_object_set_string_member (body, key, value);
  return body;
}

static char *
topic_of (const char *peer,
          const char *kind)
{
  return g_strdup_printf ("natter/v1/user/%s/%s", peer, kind);
}

/* ------------------------------------------------------------------------ */
/* A raw MQTT client, to publish bytes NatterSignaling would never send     */
/* ------------------------------------------------------------------------ */

typedef struct
{
  struct mosquitto *mosq;
  GPtrArray        *received;   /* GBytes */
  guint             acked;
} Raw;

static void
raw_on_publish (struct mosquitto *mosq,
                void             *data,
                int               mid)
{
  ((Raw *) data)->acked++;
}

static void
raw_on_message (struct mosquitto               *mosq,
                void                           *data,
                const struct mosquitto_message *message)
{
  Raw *raw = data;

  g_ptr_array_add (raw->received, g_bytes_new (message->payload, (gsize) message->payloadlen));
}

static Raw *
raw_new (NatterTestBroker *broker)
{
  Raw *raw = g_new0 (Raw, 1);

  raw->received = g_ptr_array_new_with_free_func ((GDestroyNotify) g_bytes_unref);
  raw->mosq = mosquitto_new (NULL, true, raw);
  g_assert_nonnull (raw->mosq);
  mosquitto_publish_callback_set (raw->mosq, raw_on_publish);
  mosquitto_message_callback_set (raw->mosq, raw_on_message);
  g_assert_cmpint (mosquitto_connect (raw->mosq, "127.0.0.1",
                                      natter_test_broker_get_port (broker), 30), ==, MOSQ_ERR_SUCCESS);
  return raw;
}

static void
raw_free (Raw *raw)
{
  mosquitto_disconnect (raw->mosq);
  mosquitto_loop (raw->mosq, 10, 1);
  mosquitto_destroy (raw->mosq);
  g_ptr_array_unref (raw->received);
  g_free (raw);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (Raw, raw_free)

/* Drives the raw client and the main context together. */
static gboolean
raw_pump (gpointer data)
{
  mosquitto_loop (((Raw *) data)->mosq, 0, 1);
  return FALSE;
}

static void
raw_spin (Raw   *raw,
          guint  ms)
{
  natter_test_wait_until (raw_pump, raw, ms);
}

typedef struct
{
  Raw   *raw;
  guint  acked;
} AckWait;

static gboolean
acked (gpointer data)
{
  AckWait *wait = data;

  mosquitto_loop (wait->raw->mosq, 0, 1);
  return wait->raw->acked >= wait->acked;
}

static void
raw_publish (Raw        *raw,
             const char *topic,
             GBytes     *payload,
             gboolean    retain)
{
  AckWait wait = { raw, raw->acked + 1 };
  gsize len = 0;
  const void *data = payload != NULL ? g_bytes_get_data (payload, &len) : NULL;

  g_assert_cmpint (mosquitto_publish (raw->mosq, NULL, topic, (int) len, data, 1, retain),
                   ==, MOSQ_ERR_SUCCESS);
  g_assert_true (natter_test_wait_until (acked, &wait, TIMEOUT_MS));
}

static void
raw_subscribe (Raw        *raw,
               const char *topic)
{
  g_assert_cmpint (mosquitto_subscribe (raw->mosq, NULL, topic, 1), ==, MOSQ_ERR_SUCCESS);
  raw_spin (raw, 100);
}

static GBytes *
encode (NatterEnvelope *envelope,
        NatterIdentity *sender)
{
  g_autoptr(GError) error = NULL;
  GBytes *payload = natter_envelope_encode (envelope, sender, &error);

  g_assert_no_error (error);
  return payload;
}

static GBytes *
presence_payload (Peer       *peer,
                  const char *status,
                  gint64      epoch,
                  gint64      seq)
{
  g_autoptr(JsonObject) body = body_with ("status", status);
  g_autoptr(NatterEnvelope) envelope = NULL;

  json_object_set_int_member (body, "epoch", epoch);
  json_object_set_int_member (body, "seq", seq);
  envelope = natter_envelope_new ("presence", peer_id (peer), NULL, NULL, body);
  return encode (envelope, peer->identity);
}

/* The statuses of the presence envelopes @raw received, in order. */
static char *
raw_statuses (Raw      *raw,
              NatterIdentity *receiver)
{
  g_autoptr(GString) out = g_string_new (NULL);

  for (guint i = 0; i < raw->received->len; i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(NatterEnvelope) envelope =
        natter_envelope_decode (g_ptr_array_index (raw->received, i), receiver, &error);

      g_assert_no_error (error);
      g_string_append_printf (out, "%s%s", i > 0 ? "," : "",
                              json_object_get_string_member (natter_envelope_get_body (envelope),
                                                             "status"));
    }
  return g_string_free (g_steal_pointer (&out), FALSE);
}

/* ------------------------------------------------------------------------ */
/* Fixture                                                                  */
/* ------------------------------------------------------------------------ */

typedef NatterTestEnv Fixture;

/* ------------------------------------------------------------------------ */
/* Tests                                                                    */
/* ------------------------------------------------------------------------ */

static void
test_presence_online (Fixture       *fixture,
                      gconstpointer  data)
{
  g_autoptr(Peer) a = peer_new (0xa1, fixture->broker);
  g_autoptr(Peer) b = peer_new (0xb1, fixture->broker);
  PresenceEvent *event;

  /* B names the broker by host name (resolved without blocking). */
  {
    g_autofree char *url = g_strdup_printf ("mqtt://localhost:%u",
                                            natter_test_broker_get_port (fixture->broker));
    g_autoptr(GError) error = NULL;

    g_assert_true (natter_signaling_set_broker (b->signaling, url, NULL, NULL, NULL, &error));
    g_assert_no_error (error);
  }

  /* A follows before B exists on the broker; B follows after A's retained
   * presence is there: both orders must work. */
  natter_signaling_follow_presence (a->signaling, peer_id (b));
  start_and_wait (a);
  start_and_wait (b);
  natter_signaling_follow_presence (b->signaling, peer_id (a));

  g_assert_true (wait_presence (a, peer_id (b), TRUE, 0, TIMEOUT_MS));
  g_assert_true (wait_presence (b, peer_id (a), TRUE, 0, TIMEOUT_MS));
  g_assert_true (natter_signaling_is_online (a->signaling, peer_id (b)));
  g_assert_true (natter_signaling_is_online (b->signaling, peer_id (a)));

  event = expect_presence (a, peer_id (b));
  g_assert_cmpint (event->epoch, ==, peer_epoch (b));
  event = expect_presence (b, peer_id (a));
  g_assert_cmpint (event->epoch, ==, peer_epoch (a));

  /* Nobody else's presence leaks in, and the presence traffic was clean. */
  g_assert_cmpuint (a->presence->len, ==, 1);
  g_assert_cmpuint (b->presence->len, ==, 1);
  g_assert_cmpuint (natter_signaling_get_rejected_count (a->signaling), ==, 0);
  g_assert_cmpuint (natter_signaling_get_rejected_count (b->signaling), ==, 0);
}

/* The child of test_will: a peer that runs until it is killed. */
static int
run_child_peer (const char *url,
                const char *seed_byte)
{
  g_autoptr(NatterIdentity) identity = identity_from_byte ((guint8) g_ascii_strtoull (seed_byte, NULL, 0));
  g_autoptr(NatterSignaling) signaling = natter_signaling_new (identity);
  g_autoptr(GMainLoop) loop = g_main_loop_new (NULL, FALSE);
  g_autoptr(GError) error = NULL;

  prctl (PR_SET_PDEATHSIG, SIGKILL);
  if (!natter_signaling_set_broker (signaling, url, NULL, NULL, NULL, &error))
    {
      g_printerr ("child: %s\n", error->message);
      return 1;
    }
  natter_signaling_start (signaling);
  while (natter_signaling_get_state (signaling) != NATTER_SIGNALING_CONNECTED)
    g_main_context_iteration (NULL, TRUE);
  /* Let the retained "online" reach the broker before saying ready. */
  natter_test_spin (100);
  g_print ("ready %s\n", natter_signaling_get_epoch (signaling));
  fflush (stdout);
  g_main_loop_run (loop);
  return 0;
}

static void
on_child_line (GObject      *source,
               GAsyncResult *result,
               gpointer      user_data)
{
  char **line = user_data;
  g_autoptr(GError) error = NULL;

  *line = g_data_input_stream_read_line_finish (G_DATA_INPUT_STREAM (source), result, NULL, &error);
  g_assert_no_error (error);
  g_assert_nonnull (*line);
}

static gboolean
line_read (gpointer data)
{
  return *(char **) data != NULL;
}

static void
test_will (Fixture       *fixture,
           gconstpointer  data)
{
  g_autoptr(Peer) a = peer_new (0xa2, fixture->broker);
  g_autoptr(NatterIdentity) b_identity = identity_from_byte (0xb2);
  const char *b_id = natter_identity_get_peer_id (b_identity);
  g_autofree char *exe = g_file_read_link ("/proc/self/exe", NULL);
  g_autoptr(GSubprocess) child = NULL;
  g_autoptr(GDataInputStream) child_out = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(Raw) raw = raw_new (fixture->broker);
  g_autofree char *b_presence = topic_of (b_id, "presence");
  g_autofree char *statuses = NULL;
  g_autofree char *line = NULL;
  PresenceEvent *event;
  gint64 child_epoch;

  g_assert_nonnull (exe);
  start_and_wait (a);
  natter_signaling_follow_presence (a->signaling, b_id);

  /* B in its own process, so it can die without saying goodbye. */
  child = g_subprocess_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE, &error,
                            exe, "--child-peer", natter_test_broker_get_url (fixture->broker),
                            "0xb2", NULL);
  g_assert_no_error (error);
  child_out = g_data_input_stream_new (g_subprocess_get_stdout_pipe (child));
  g_data_input_stream_read_line_async (child_out, G_PRIORITY_DEFAULT, NULL, on_child_line, &line);
  g_assert_true (natter_test_wait_until (line_read, &line, TIMEOUT_MS));
  g_assert_true (g_str_has_prefix (line, "ready "));
  child_epoch = g_ascii_strtoll (line + strlen ("ready "), NULL, 10);
  g_assert_cmpint (child_epoch, >, 0);

  g_assert_true (wait_presence (a, b_id, TRUE, child_epoch, TIMEOUT_MS));
  raw_subscribe (raw, b_presence);

  g_subprocess_send_signal (child, SIGKILL);
  g_assert_true (g_subprocess_wait (child, NULL, NULL));

  /* The broker notices the dead socket at once and publishes the will. */
  g_assert_true (wait_presence (a, b_id, FALSE, 0, TIMEOUT_MS));
  event = expect_presence (a, b_id);
  g_assert_cmpint (event->epoch, ==, child_epoch);
  g_assert_false (natter_signaling_is_online (a->signaling, b_id));

  raw_spin (raw, 200);
  statuses = raw_statuses (raw, a->identity);
  g_assert_cmpstr (statuses, ==, "online,offline");
}

static void
test_clean_stop (Fixture       *fixture,
                 gconstpointer  data)
{
  g_autoptr(Peer) a = peer_new (0xa3, fixture->broker);
  g_autoptr(Peer) b = peer_new (0xb3, fixture->broker);
  g_autoptr(Raw) raw = raw_new (fixture->broker);
  g_autofree char *b_presence = topic_of (peer_id (b), "presence");
  g_autofree char *statuses = NULL;
  gint64 b_epoch;
  gint64 stopped_at;
  gint64 seen_at;

  start_and_wait (a);
  start_and_wait (b);
  b_epoch = peer_epoch (b);
  natter_signaling_follow_presence (a->signaling, peer_id (b));
  g_assert_true (wait_presence (a, peer_id (b), TRUE, b_epoch, TIMEOUT_MS));
  raw_subscribe (raw, b_presence);

  stopped_at = g_get_monotonic_time ();
  natter_signaling_stop (b->signaling);
  g_assert_cmpint (natter_signaling_get_state (b->signaling), ==, NATTER_SIGNALING_DISCONNECTED);
  g_assert_cmpint (natter_signaling_get_next_retry (b->signaling), ==, 0);
  g_assert_true (wait_presence (a, peer_id (b), FALSE, b_epoch, TIMEOUT_MS));
  seen_at = g_get_monotonic_time ();
  g_test_message ("offline seen %" G_GINT64_FORMAT " us after stop", seen_at - stopped_at);
  g_assert_cmpint (seen_at - stopped_at, <, 500 * 1000);

  /* Exactly one "offline": ours, not also the will, which a clean
   * DISCONNECT cancels. And the retained state on the broker is offline. */
  raw_spin (raw, 300);
  statuses = raw_statuses (raw, a->identity);
  g_assert_cmpstr (statuses, ==, "online,offline");

  /* Stopped means stopped: no reconnect happens. */
  natter_test_spin (300);
  g_assert_cmpint (natter_signaling_get_state (b->signaling), ==, NATTER_SIGNALING_DISCONNECTED);
}

static void
send_and_expect (Peer       *from,
                 Peer       *to,
                 const char *type,
                 const char *text)
{
  g_autoptr(JsonObject) body = body_with ("text", text);
  g_autoptr(GError) error = NULL;
  guint before = to->envelopes->len;
  NatterEnvelope *received;

  g_assert_true (natter_signaling_send (from->signaling, peer_id (to), type, "s1", body, &error));
  g_assert_no_error (error);
  g_assert_true (wait_len (to->envelopes, before + 1, TIMEOUT_MS));
  received = g_ptr_array_index (to->envelopes, before);
  g_assert_cmpstr (natter_envelope_get_type_name (received), ==, type);
  g_assert_cmpstr (natter_envelope_get_from (received), ==, peer_id (from));
  g_assert_cmpstr (natter_envelope_get_session (received), ==, "s1");
  g_assert_cmpstr (json_object_get_string_member (natter_envelope_get_body (received), "text"),
                   ==, text);
}

static void
test_reconnect (Fixture       *fixture,
                gconstpointer  data)
{
  g_autoptr(Peer) a = peer_new (0xa4, fixture->broker);
  g_autoptr(Peer) b = peer_new (0xb4, fixture->broker);
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonObject) queued_body = body_with ("text", "queued while down");
  gint64 a_epoch;
  gint64 broker_up;
  guint first;
  guint retries = 0;
  const StateChange *last_down = NULL;

  start_and_wait (a);
  start_and_wait (b);
  natter_signaling_follow_presence (b->signaling, peer_id (a));
  g_assert_true (wait_presence (b, peer_id (a), TRUE, 0, TIMEOUT_MS));
  send_and_expect (b, a, "offer", "before");
  a_epoch = peer_epoch (a);
  first = a->states->len;

  natter_test_broker_stop (fixture->broker);
  /* Let a few retries fail: 0.1, 0.2, 0.4, 0.8 s at BACKOFF_SCALE 0.1. */
  natter_test_spin (1300);
  g_assert_cmpint (natter_signaling_get_state (a->signaling), !=, NATTER_SIGNALING_CONNECTED);

  g_assert_true (natter_test_broker_start (fixture->broker, &error));
  g_assert_no_error (error);
  broker_up = g_get_monotonic_time ();
  g_assert_true (wait_state (a, NATTER_SIGNALING_CONNECTED, 5000));
  g_assert_true (wait_state (b, NATTER_SIGNALING_CONNECTED, 5000));
  g_test_message ("reconnected %" G_GINT64_FORMAT " ms after the broker came back",
                  (g_get_monotonic_time () - broker_up) / 1000);

  /* The state went disconnected → connecting → disconnected … → connected,
   * with each retry delay on the backoff schedule (±20 %) and no attempt
   * before the announced next-retry time. */
  for (guint i = first; i < a->states->len; i++)
    {
      const StateChange *change = &g_array_index (a->states, StateChange, i);
      const StateChange *prev = i > first ? &g_array_index (a->states, StateChange, i - 1) : NULL;

      switch (change->state)
        {
        case NATTER_SIGNALING_DISCONNECTED:
          {
            double expected = BACKOFF_SCALE * G_USEC_PER_SEC * (1 << MIN (retries, 5u));
            gint64 delay = change->next_retry - change->at;

            g_test_message ("retry %u in %" G_GINT64_FORMAT " ms", retries, delay / 1000);
            g_assert_cmpint (delay, >=, (gint64) (expected * 0.8) - 1000);
            g_assert_cmpint (delay, <=, (gint64) (expected * 1.2) + 1000);
            last_down = change;
            retries++;
          }
          break;
        case NATTER_SIGNALING_CONNECTING:
          g_assert_true (prev != NULL && prev == last_down);
          g_assert_cmpint (change->at, >=, last_down->next_retry - 1000);
          g_assert_cmpint (change->at, <=, last_down->next_retry + 500 * 1000);
          break;
        case NATTER_SIGNALING_CONNECTED:
        default:
          g_assert_true (prev != NULL && prev->state == NATTER_SIGNALING_CONNECTING);
          break;
        }
    }
  g_assert_cmpuint (retries, >=, 3);
  g_assert_cmpint (g_array_index (a->states, StateChange, a->states->len - 1).state,
                   ==, NATTER_SIGNALING_CONNECTED);
  g_assert_cmpint (g_array_index (a->states, StateChange, a->states->len - 2).state,
                   ==, NATTER_SIGNALING_CONNECTING);
  g_assert_cmpint (natter_signaling_get_next_retry (a->signaling), ==, 0);

  /* A new epoch, re-published presence and re-subscribed topics. */
  g_assert_cmpint (peer_epoch (a), >, a_epoch);
  g_assert_true (wait_presence (b, peer_id (a), TRUE, peer_epoch (a), TIMEOUT_MS));
  send_and_expect (b, a, "answer", "after");
  send_and_expect (a, b, "offer", "back");

  /* Sent while disconnected: waits in the outbox until B is back. */
  natter_signaling_stop (b->signaling);
  g_assert_true (natter_signaling_send (b->signaling, peer_id (a), "ice", NULL, queued_body, &error));
  g_assert_no_error (error);
  natter_test_spin (100);
  g_assert_cmpuint (a->envelopes->len, ==, 2);
  start_and_wait (b);
  g_assert_true (natter_signaling_flush (b->signaling, TIMEOUT_MS));
  g_assert_true (wait_len (a->envelopes, 3, TIMEOUT_MS));
  g_assert_cmpstr (natter_envelope_get_type_name (g_ptr_array_index (a->envelopes, 2)), ==, "ice");

  /* The backoff starts again from the bottom after a good connection. */
  first = a->states->len;
  natter_test_broker_stop (fixture->broker);
  g_assert_true (wait_state (a, NATTER_SIGNALING_DISCONNECTED, TIMEOUT_MS));
  {
    const StateChange *change = &g_array_index (a->states, StateChange, first);

    g_assert_cmpint (change->state, ==, NATTER_SIGNALING_DISCONNECTED);
    g_assert_cmpint (change->next_retry - change->at, <=, BACKOFF_SCALE * G_USEC_PER_SEC * 1.2 + 1000);
  }
  g_assert_cmpuint (natter_signaling_get_rejected_count (a->signaling), ==, 0);
}

static void
test_duplicate (Fixture       *fixture,
                gconstpointer  data)
{
  g_autoptr(Peer) a = peer_new (0xa5, fixture->broker);
  g_autoptr(NatterIdentity) b = identity_from_byte (0xb5);
  g_autoptr(Raw) raw = raw_new (fixture->broker);
  g_autoptr(JsonObject) body = body_with ("sdp", "v=0");
  g_autoptr(NatterEnvelope) envelope = NULL;
  g_autoptr(GBytes) payload = NULL;
  g_autofree char *topic = NULL;

  start_and_wait (a);
  envelope = natter_envelope_new ("offer", natter_identity_get_peer_id (b), peer_id (a), "s", body);
  payload = encode (envelope, b);
  topic = topic_of (peer_id (a), "offer");

  raw_publish (raw, topic, payload, FALSE);
  raw_publish (raw, topic, payload, FALSE);
  g_assert_true (wait_len (a->envelopes, 1, TIMEOUT_MS));
  natter_test_spin (200);

  g_assert_cmpuint (a->envelopes->len, ==, 1);
  g_assert_cmpstr (natter_envelope_get_nonce (g_ptr_array_index (a->envelopes, 0)),
                   ==, natter_envelope_get_nonce (envelope));
  g_assert_cmpuint (natter_signaling_get_replay_count (a->signaling), ==, 1);
  g_assert_cmpuint (natter_signaling_get_rejected_count (a->signaling), ==, 1);
}

static void
test_garbage (Fixture       *fixture,
              gconstpointer  data)
{
  static const char * const kinds[] = { "offer", "answer", "ice", "contact-request" };
  g_autoptr(Peer) a = peer_new (0xa6, fixture->broker);
  g_autoptr(Peer) b = peer_new (0xb6, fixture->broker);
  g_autoptr(NatterIdentity) c = identity_from_byte (0xc6);
  g_autoptr(Raw) raw = raw_new (fixture->broker);
  g_autoptr(JsonObject) body = body_with ("x", "y");
  g_autofree guint8 *big = g_malloc0 (NATTER_MAX_ENVELOPE_SIZE + 1);
  guint expected = 0;

  start_and_wait (a);
  start_and_wait (b);

  for (guint k = 0; k < G_N_ELEMENTS (kinds); k++)
    {
      g_autofree char *topic = topic_of (peer_id (a), kinds[k]);
      const char *right_type = g_str_equal (kinds[k], "contact-request") ? "contact-accept" : kinds[k];
      const char *wrong_type = g_str_equal (kinds[k], "answer") ? "offer" : "answer";
      g_autoptr(GPtrArray) bad = g_ptr_array_new_with_free_func ((GDestroyNotify) g_bytes_unref);
      g_autoptr(NatterEnvelope) e = NULL;

      g_ptr_array_add (bad, g_bytes_new_static ("", 0));
      g_ptr_array_add (bad, g_bytes_new_static ("hello", 5));
      g_ptr_array_add (bad, g_bytes_new_static ("{\"v\":1,\"type\":\"offer\"}", 23));
      g_ptr_array_add (bad, g_bytes_new_static ("NTR1\0\0\0\0", 8));
      g_ptr_array_add (bad, g_bytes_new_static ("NTS1garbagegarbagegarbagegarbagegarbagegarbagegarbage", 53));
      g_ptr_array_add (bad, g_bytes_new (big, NATTER_MAX_ENVELOPE_SIZE + 1));

      /* Well-formed and signed, but wrong for this topic or this receiver. */
      e = natter_envelope_new (wrong_type, peer_id (b), peer_id (a), NULL, body);
      g_ptr_array_add (bad, encode (e, b->identity));
      g_clear_object (&e);
      e = natter_envelope_new (right_type, peer_id (b), natter_identity_get_peer_id (c), NULL, body);
      g_ptr_array_add (bad, encode (e, b->identity));
      g_clear_object (&e);
      e = natter_envelope_new ("presence", peer_id (b), NULL, NULL, body);
      g_ptr_array_add (bad, encode (e, b->identity));
      g_clear_object (&e);
      e = natter_envelope_new (right_type, peer_id (a), peer_id (a), NULL, body);
      g_ptr_array_add (bad, encode (e, a->identity));
      g_clear_object (&e);
      e = natter_envelope_new (right_type, peer_id (b), peer_id (a), NULL, body);
      natter_envelope_set_ts (e, g_get_real_time () / 1000 - 121 * 1000);
      g_ptr_array_add (bad, encode (e, b->identity));
      g_clear_object (&e);
      e = natter_envelope_new (right_type, peer_id (b), peer_id (a), NULL, body);
      natter_envelope_set_ts (e, g_get_real_time () / 1000 + 121 * 1000);
      g_ptr_array_add (bad, encode (e, b->identity));
      g_clear_object (&e);

      for (guint i = 0; i < bad->len; i++)
        raw_publish (raw, topic, g_ptr_array_index (bad, i), FALSE);
      expected += bad->len;
    }

  /* A forged presence on A's own topics is ignored too (A follows nobody),
   * and garbage where A does not listen is not even seen. */
  {
    g_autofree char *topic = topic_of (natter_identity_get_peer_id (c), "offer");
    g_autoptr(GBytes) junk = g_bytes_new_static ("junk", 4);

    raw_publish (raw, topic, junk, FALSE);
  }

  /* Everything is refused and counted; a good envelope still arrives. */
  send_and_expect (b, a, "contact-request", "hello after garbage");
  g_assert_cmpuint (a->envelopes->len, ==, 1);
  g_assert_cmpuint (natter_signaling_get_rejected_count (a->signaling), ==, expected);
  g_assert_cmpuint (natter_signaling_get_replay_count (a->signaling), ==, 0);
  g_assert_cmpint (natter_signaling_get_state (a->signaling), ==, NATTER_SIGNALING_CONNECTED);
}

static void
test_presence_epochs (Fixture       *fixture,
                      gconstpointer  data)
{
  g_autoptr(Peer) a = peer_new (0xa7, fixture->broker);
  g_autoptr(Peer) b = peer_new (0xb7, fixture->broker);
  g_autoptr(NatterIdentity) c = identity_from_byte (0xc7);
  g_autoptr(Raw) raw = raw_new (fixture->broker);
  g_autofree char *b_presence = NULL;
  gint64 e;
  struct {
    const char *status;
    gint64      epoch_delta;
    gint64      seq;
  } script[] = {
    { "offline", -1000, 99 },   /* late will of an older connection: ignored */
    { "online",  -500,  1 },    /* stale retained online: ignored */
    { "offline", 0,     100 },  /* this connection ends: accepted */
    { "online",  0,     101 },  /* the same epoch after its offline: ignored */
    { "online",  1,     1 },    /* a newer connection: accepted */
    { "offline", -1,    102 },  /* and again an older offline: ignored */
  };
  PresenceEvent *event;

  start_and_wait (a);
  start_and_wait (b);
  e = peer_epoch (b);
  b_presence = topic_of (peer_id (b), "presence");
  natter_signaling_follow_presence (a->signaling, peer_id (b));
  g_assert_true (wait_presence (a, peer_id (b), TRUE, e, TIMEOUT_MS));

  for (guint i = 0; i < G_N_ELEMENTS (script); i++)
    {
      g_autoptr(GBytes) payload = presence_payload (b, script[i].status,
                                                    e + script[i].epoch_delta, script[i].seq);

      raw_publish (raw, b_presence, payload, FALSE);
    }

  /* A presence for B that C signed is refused, whatever it says. */
  {
    g_autoptr(JsonObject) body = body_with ("status", "offline");
    g_autoptr(NatterEnvelope) forged = NULL;
    g_autoptr(GBytes) payload = NULL;

    json_object_set_int_member (body, "epoch", e + 10);
    json_object_set_int_member (body, "seq", 1);
    forged = natter_envelope_new ("presence", natter_identity_get_peer_id (c), NULL, NULL, body);
    payload = encode (forged, c);
    raw_publish (raw, b_presence, payload, FALSE);
  }

  g_assert_true (wait_presence (a, peer_id (b), TRUE, e + 1, TIMEOUT_MS));
  natter_test_spin (200);

  g_assert_cmpuint (a->presence->len, ==, 3);
  event = g_ptr_array_index (a->presence, 0);
  g_assert_true (event->online);
  g_assert_cmpint (event->epoch, ==, e);
  event = g_ptr_array_index (a->presence, 1);
  g_assert_false (event->online);
  g_assert_cmpint (event->epoch, ==, e);
  event = g_ptr_array_index (a->presence, 2);
  g_assert_true (event->online);
  g_assert_cmpint (event->epoch, ==, e + 1);
  g_assert_true (natter_signaling_is_online (a->signaling, peer_id (b)));
  g_assert_cmpuint (natter_signaling_get_rejected_count (a->signaling), ==, 1);

  /* Unfollowed peers are not reported any more. */
  natter_signaling_unfollow_presence (a->signaling, peer_id (b));
  natter_signaling_stop (b->signaling);
  natter_test_spin (200);
  g_assert_cmpuint (a->presence->len, ==, 3);
}

static void
stop_and_drop (NatterSignaling *signaling,
               NatterEnvelope  *envelope,
               Peer            *peer)
{
  g_assert_true (signaling == peer->signaling);
  natter_signaling_stop (signaling);
  g_signal_handlers_disconnect_by_data (signaling, peer);
  g_clear_object (&peer->signaling);
}

static void
test_stop_from_handler (Fixture       *fixture,
                        gconstpointer  data)
{
  g_autoptr(Peer) a = peer_new (0xa9, fixture->broker);
  g_autoptr(Peer) b = peer_new (0xb9, fixture->broker);
  g_autoptr(Raw) raw = raw_new (fixture->broker);
  g_autoptr(JsonObject) body = body_with ("reason", "done");
  g_autofree char *topic = NULL;
  g_autoptr(GBytes) first = NULL;
  g_autoptr(GBytes) second = NULL;
  g_autoptr(NatterEnvelope) envelope = NULL;
  gint64 a_epoch;

  start_and_wait (a);
  start_and_wait (b);
  a_epoch = peer_epoch (a);
  natter_signaling_follow_presence (b->signaling, peer_id (a));
  g_assert_true (wait_presence (b, peer_id (a), TRUE, a_epoch, TIMEOUT_MS));

  /* Two envelopes arrive in one read; the handler of the first stops A and
   * drops the last reference to it. The second must not reach anyone, and
   * A still says goodbye cleanly. */
  g_signal_connect (a->signaling, "envelope-received", G_CALLBACK (stop_and_drop), a);
  topic = topic_of (peer_id (a), "offer");
  envelope = natter_envelope_new ("bye", peer_id (b), peer_id (a), NULL, body);
  first = encode (envelope, b->identity);
  g_clear_object (&envelope);
  envelope = natter_envelope_new ("bye", peer_id (b), peer_id (a), NULL, body);
  second = encode (envelope, b->identity);
  g_assert_cmpint (mosquitto_publish (raw->mosq, NULL, topic, (int) g_bytes_get_size (first),
                                      g_bytes_get_data (first, NULL), 1, FALSE), ==, MOSQ_ERR_SUCCESS);
  raw_publish (raw, topic, second, FALSE);

  g_assert_true (wait_presence (b, peer_id (a), FALSE, a_epoch, TIMEOUT_MS));
  g_assert_null (a->signaling);
  g_assert_cmpuint (a->envelopes->len, ==, 1);
}

static guint16
free_port (void)
{
  struct sockaddr_in addr = { 0 };
  socklen_t len = sizeof addr;
  int fd = socket (AF_INET, SOCK_STREAM, 0);

  g_assert_cmpint (fd, >=, 0);
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
  g_assert_cmpint (bind (fd, (struct sockaddr *) &addr, sizeof addr), ==, 0);
  g_assert_cmpint (getsockname (fd, (struct sockaddr *) &addr, &len), ==, 0);
  close (fd);
  return ntohs (addr.sin_port);
}

static gboolean
states_reached_4 (gpointer data)
{
  return ((Peer *) data)->states->len >= 4;
}

static void
run_openssl (const char *dir,
             const char *args)
{
  g_autofree char *command = g_strdup_printf ("openssl %s", args);
  g_auto(GStrv) argv = NULL;
  g_autoptr(GError) error = NULL;
  int status = -1;

  g_assert_true (g_shell_parse_argv (command, NULL, &argv, &error));
  g_assert_true (g_spawn_sync (dir, argv, NULL,
                               G_SPAWN_SEARCH_PATH | G_SPAWN_STDOUT_TO_DEV_NULL | G_SPAWN_STDERR_TO_DEV_NULL,
                               NULL, NULL, NULL, NULL, &status, &error));
  g_assert_no_error (error);
  g_assert_true (g_spawn_check_wait_status (status, NULL));
}

static void
test_tls (void)
{
  g_autofree char *openssl = g_find_program_in_path ("openssl");
  g_autofree char *dir = NULL;
  g_autofree char *ca = NULL;
  g_autofree char *san = NULL;
  g_autofree char *config = NULL;
  g_autofree char *tls_url = NULL;
  g_autoptr(NatterTestBroker) broker = NULL;
  g_autoptr(Peer) a = NULL;
  g_autoptr(Peer) b = NULL;
  g_autoptr(Peer) c = NULL;
  g_autoptr(GError) error = NULL;
  guint16 tls_port;

  if (openssl == NULL)
    {
      g_test_skip ("openssl is not installed");
      return;
    }

  /* A private CA and a broker certificate for 127.0.0.1. */
  dir = natter_test_mkdtemp ("natter-tls");
  run_openssl (dir, "req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes "
                    "-keyout ca.key -out ca.pem -days 2 -subj /CN=natter-test-ca");
  run_openssl (dir, "req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes "
                    "-keyout server.key -out server.csr -subj /CN=127.0.0.1");
  san = g_build_filename (dir, "san.cnf", NULL);
  g_assert_true (g_file_set_contents (san, "subjectAltName=IP:127.0.0.1\n", -1, NULL));
  run_openssl (dir, "x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial "
                    "-out server.pem -days 2 -extfile san.cnf");
  ca = g_build_filename (dir, "ca.pem", NULL);
  /* mosquitto started as root reads its files after dropping to its own
   * user; these throw-away test keys may be world-readable. */
  g_assert_cmpint (g_chmod (dir, 0755), ==, 0);
  for (guint i = 0; i < 2; i++)
    {
      g_autofree char *path = g_build_filename (dir, i == 0 ? "server.key" : "server.pem", NULL);

      g_assert_cmpint (g_chmod (path, 0644), ==, 0);
    }

  tls_port = free_port ();
  config = g_strdup_printf ("listener %u 127.0.0.1\n"
                            "cafile %s/ca.pem\ncertfile %s/server.pem\nkeyfile %s/server.key\n",
                            tls_port, dir, dir, dir);
  broker = natter_test_broker_new (config);
  g_assert_true (natter_test_broker_start (broker, &error));
  g_assert_no_error (error);
  tls_url = g_strdup_printf ("mqtts://127.0.0.1:%u", tls_port);

  /* A over TLS trusting our CA, B in the clear: traffic flows both ways. */
  a = peer_new (0xa8, broker);
  b = peer_new (0xb8, broker);
  g_assert_true (natter_signaling_set_broker (a->signaling, tls_url, NULL, NULL, ca, &error));
  g_assert_no_error (error);
  start_and_wait (a);
  start_and_wait (b);
  natter_signaling_follow_presence (b->signaling, peer_id (a));
  g_assert_true (wait_presence (b, peer_id (a), TRUE, 0, TIMEOUT_MS));
  send_and_expect (b, a, "offer", "to tls");
  send_and_expect (a, b, "answer", "from tls");

  /* C trusts only the system CAs: the broker's certificate is refused,
   * so C never connects and keeps retrying. */
  c = peer_new (0xc8, broker);
  g_assert_true (natter_signaling_set_broker (c->signaling, tls_url, NULL, NULL, NULL, &error));
  g_assert_no_error (error);
  natter_signaling_start (c->signaling);
  /* Two failed attempts: connecting, disconnected, connecting, disconnected. */
  g_assert_true (natter_test_wait_until (states_reached_4, c, TIMEOUT_MS));
  g_assert_cmpint (natter_signaling_get_state (c->signaling), !=, NATTER_SIGNALING_CONNECTED);
  for (guint i = 0; i < c->states->len; i++)
    g_assert_cmpint (g_array_index (c->states, StateChange, i).state, !=, NATTER_SIGNALING_CONNECTED);
  /* And it says why, in words a user can act on. */
  g_assert_nonnull (natter_signaling_get_last_error (c->signaling));
  g_assert_nonnull (strstr (natter_signaling_get_last_error (c->signaling), "certificate"));
  g_assert_null (natter_signaling_get_last_error (a->signaling));

  g_clear_pointer (&broker, natter_test_broker_free);
  natter_test_rmtree (dir);
}

static guint
count_offline_from (Peer       *peer,
                    const char *about,
                    guint       from)
{
  guint n = 0;

  for (guint i = from; i < peer->presence->len; i++)
    {
      PresenceEvent *event = g_ptr_array_index (peer->presence, i);

      n += g_str_equal (event->peer_id, about) && !event->online;
    }
  return n;
}

static guint
count_offline (Peer       *peer,
               const char *about)
{
  return count_offline_from (peer, about, 0);
}

/* The broker restarts without its retained messages while A is gone for
 * good (no Last Will could be published): B must not believe A is still
 * online. A peer that comes back with the broker stays online. */
static void
test_presence_lost_with_broker (Fixture       *fixture,
                                gconstpointer  data)
{
  g_autoptr(Peer) a = peer_new (0xa9, fixture->broker);
  g_autoptr(Peer) b = peer_new (0xb9, fixture->broker);
  g_autoptr(Peer) c = peer_new (0xc9, fixture->broker);
  g_autoptr(GError) error = NULL;
  gint64 up;
  guint mark;

  start_and_wait (a);
  start_and_wait (b);
  start_and_wait (c);
  natter_signaling_follow_presence (b->signaling, peer_id (a));
  natter_signaling_follow_presence (b->signaling, peer_id (c));
  g_assert_true (wait_presence (b, peer_id (a), TRUE, 0, TIMEOUT_MS));
  g_assert_true (wait_presence (b, peer_id (c), TRUE, 0, TIMEOUT_MS));

  /* A crash: no Last Will is published and the retained presence is lost. */
  natter_test_broker_kill (fixture->broker);
  natter_signaling_stop (a->signaling);
  mark = b->presence->len;
  g_assert_true (natter_test_broker_start (fixture->broker, &error));
  g_assert_no_error (error);
  up = g_get_monotonic_time ();
  g_assert_true (wait_state (b, NATTER_SIGNALING_CONNECTED, 5000));

  g_assert_cmpuint (count_offline (b, peer_id (a)), ==, 0);
  g_assert_true (wait_presence (b, peer_id (a), FALSE, 0, 10000));
  g_test_message ("A taken as offline %" G_GINT64_FORMAT " ms after the broker came back",
                  (g_get_monotonic_time () - up) / 1000);
  g_assert_false (natter_signaling_is_online (b->signaling, peer_id (a)));
  /* C reconnected and said so: never reported offline. */
  natter_test_spin (500);
  g_assert_true (natter_signaling_is_online (b->signaling, peer_id (c)));
  g_assert_cmpuint (count_offline_from (b, peer_id (c), mark), ==, 0);

  /* A coming back later in the same epoch is news again. */
  natter_signaling_start (a->signaling);
  g_assert_true (wait_presence (b, peer_id (a), TRUE, 0, TIMEOUT_MS));
}

int
main (int   argc,
      char *argv[])
{
  if (argc == 4 && g_str_equal (argv[1], "--child-peer"))
    return run_child_peer (argv[2], argv[3]);

  g_test_init (&argc, &argv, NULL);
  mosquitto_lib_init ();

  g_test_add ("/signaling/presence-online", Fixture, NULL,
              natter_test_env_setup, test_presence_online, natter_test_env_teardown);
  g_test_add ("/signaling/will-on-kill", Fixture, NULL,
              natter_test_env_setup, test_will, natter_test_env_teardown);
  g_test_add ("/signaling/clean-stop", Fixture, NULL,
              natter_test_env_setup, test_clean_stop, natter_test_env_teardown);
  g_test_add ("/signaling/reconnect", Fixture, NULL,
              natter_test_env_setup, test_reconnect, natter_test_env_teardown);
  g_test_add ("/signaling/duplicate", Fixture, NULL,
              natter_test_env_setup, test_duplicate, natter_test_env_teardown);
  g_test_add ("/signaling/garbage", Fixture, NULL,
              natter_test_env_setup, test_garbage, natter_test_env_teardown);
  g_test_add ("/signaling/presence-epochs", Fixture, NULL,
              natter_test_env_setup, test_presence_epochs, natter_test_env_teardown);
  g_test_add ("/signaling/stop-from-handler", Fixture, NULL,
              natter_test_env_setup, test_stop_from_handler, natter_test_env_teardown);
  g_test_add ("/signaling/presence-lost-with-broker", Fixture, NULL,
              natter_test_env_setup, test_presence_lost_with_broker, natter_test_env_teardown);
  g_test_add_func ("/signaling/tls", test_tls);

  return g_test_run ();
}
