/* test-chat.c: chat end to end: real broker, real webrtcbin, real SQLite, in-process clients and natter-cli peers. */
#define G_LOG_DOMAIN "natter-test-chat"

#include <signal.h>
#include <string.h>

#include <gst/gst.h>

#include "natter-chat-frame.h"
#include "natter-chat-protocol.h"
#include "natter-client.h"
#include "natter-error.h"
#include "natter-identity.h"
#include "natter-message.h"
#include "natter-test-client.h"
#include "natter-test-peer.h"

/* Loopback setups take 150–330 ms; these are for a loaded 2-core machine. */
#define CONNECT_TIMEOUT_MS  20000
#define DELIVERY_TIMEOUT_MS 60000
#define SIGNAL_BUDGET       8

/* ------------------------------------------------------------------------ */
/* Signaling cost: every "signal-out" of every session, by sender and type.  */
/* ------------------------------------------------------------------------ */

static GHashTable *signal_counts;  /* "local-peer-id type" → count; "local-peer-id" → total */

/* Counters keyed by string: table → (key → count). */
static void
bump (GHashTable *table,
      const char *key)
{
  guint n = GPOINTER_TO_UINT (g_hash_table_lookup (table, key));

  g_hash_table_replace (table, g_strdup (key), GUINT_TO_POINTER (n + 1));
}

static gboolean
signal_out_hook (GSignalInvocationHint *hint,
                 guint                  n_params,
                 const GValue          *params,
                 gpointer               data)
{
  NatterPeerSession *session = g_value_get_object (&params[0]);
  const char *local = natter_peer_session_get_local_peer_id (session);
  g_autofree char *key = g_strdup_printf ("%s %s", local, g_value_get_string (&params[1]));

  bump (signal_counts, local);
  bump (signal_counts, key);
  return TRUE;
}

static guint
signals_sent (const char *peer_id,
              const char *type)
{
  g_autofree char *key = type ? g_strdup_printf ("%s %s", peer_id, type) : g_strdup (peer_id);

  return GPOINTER_TO_UINT (g_hash_table_lookup (signal_counts, key));
}

/* ------------------------------------------------------------------------ */
/* In-process clients                                                        */
/* ------------------------------------------------------------------------ */

typedef NatterTestEnv Fixture;

typedef struct
{
  char         *name;
  char         *profile;
  NatterClient *client;
  GHashTable   *delivered;   /* id → times it was reported delivered */
  GHashTable   *received;    /* id → times it was reported received */
  GPtrArray    *requests;    /* peer ids that asked to become contacts */
  GPtrArray    *presence;    /* "+peer" / "-peer", in order */
  GPtrArray    *sessions;    /* "peer state", in order */
  guint         n_connected; /* CONNECTED reports since last reset */
} Client;

static guint
count_of (GHashTable *table,
          const char *key)
{
  return GPOINTER_TO_UINT (g_hash_table_lookup (table, key));
}

static void
on_state_changed (NatterClient       *client,
                  const char         *id,
                  NatterMessageState  state,
                  Client             *c)
{
  if (state == NATTER_MESSAGE_DELIVERED)
    bump (c->delivered, id);
}

static void
on_received (NatterClient  *client,
             NatterMessage *message,
             Client        *c)
{
  bump (c->received, natter_message_get_id (message));
}

static void
on_request (NatterClient  *client,
            NatterContact *contact,
            Client        *c)
{
  g_ptr_array_add (c->requests, g_strdup (natter_contact_get_peer_id (contact)));
}

static void
on_presence (NatterClient  *client,
             NatterContact *contact,
             gboolean       online,
             Client        *c)
{
  g_ptr_array_add (c->presence, g_strdup_printf ("%c%s", online ? '+' : '-',
                                                 natter_contact_get_peer_id (contact)));
}

static void
on_session (NatterClient  *client,
            NatterContact *contact,
            int            state,
            Client        *c)
{
  g_ptr_array_add (c->sessions, g_strdup_printf ("%s %d", natter_contact_get_peer_id (contact),
                                                 state));
  if (state == NATTER_SESSION_CONNECTED)
    c->n_connected++;
}

static Client *
client_new (Fixture    *fixture,
            const char *name)
{
  g_autoptr(GError) error = NULL;
  Client *c = g_new0 (Client, 1);

  c->name = g_strdup (name);
  c->profile = g_build_filename (fixture->dir, name, NULL);
  c->client = natter_test_client_open (natter_test_broker_get_url (fixture->broker), c->profile,
                                       name, &error);
  g_assert_no_error (error);

  c->delivered = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  c->received = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  c->requests = g_ptr_array_new_with_free_func (g_free);
  c->presence = g_ptr_array_new_with_free_func (g_free);
  c->sessions = g_ptr_array_new_with_free_func (g_free);
  g_signal_connect (c->client, "message-state-changed", G_CALLBACK (on_state_changed), c);
  g_signal_connect (c->client, "message-received", G_CALLBACK (on_received), c);
  g_signal_connect (c->client, "contact-request", G_CALLBACK (on_request), c);
  g_signal_connect (c->client, "presence-changed", G_CALLBACK (on_presence), c);
  g_signal_connect (c->client, "session-state-changed", G_CALLBACK (on_session), c);

  natter_test_client_start (c->client);
  return c;
}

static void
client_free (Client *c)
{
  g_signal_handlers_disconnect_by_data (c->client, c);
  g_clear_object (&c->client);
  g_hash_table_unref (c->delivered);
  g_hash_table_unref (c->received);
  g_ptr_array_unref (c->requests);
  g_ptr_array_unref (c->presence);
  g_ptr_array_unref (c->sessions);
  g_free (c->profile);
  g_free (c->name);
  g_free (c);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (Client, client_free)

static const char *
id_of (Client *c)
{
  return natter_client_get_peer_id (c->client);
}

static gboolean
has_string (GPtrArray  *array,
            const char *value)
{
  return g_ptr_array_find_with_equal_func (array, value, g_str_equal, NULL);
}

static gboolean
is_accepted (Client *c,
             Client *other)
{
  NatterContact *contact = natter_client_lookup_contact (c->client, id_of (other));

  return contact != NULL && natter_contact_get_state (contact) == NATTER_CONTACT_ACCEPTED;
}

static NatterSessionState
session_state (Client *c,
               Client *other)
{
  NatterPeerSession *session = natter_client_get_session (c->client, id_of (other));

  return session ? natter_peer_session_get_state (session) : NATTER_SESSION_NEW;
}

static gboolean
contact_online (Client     *c,
                const char *peer_id)
{
  NatterContact *contact = natter_client_lookup_contact (c->client, peer_id);

  return contact != NULL && natter_contact_get_online (contact);
}

/* Connected and the peer's version vector has arrived: live sending works. */
static gboolean
ready_to_chat_with (Client     *c,
                    const char *peer_id)
{
  NatterChatProtocol *protocol = natter_client_get_chat_protocol (c->client, peer_id);
  NatterPeerSession *session = natter_client_get_session (c->client, peer_id);
  g_autofree char *conv = natter_client_conversation_for (c->client, peer_id);

  return session != NULL && natter_peer_session_get_state (session) == NATTER_SESSION_CONNECTED &&
         protocol != NULL && natter_chat_protocol_is_synced (protocol, conv);
}

static gboolean
ready_to_chat (Client *c,
               Client *other)
{
  return ready_to_chat_with (c, id_of (other));
}

static void
wait_connected (Client *a,
                Client *b)
{
  NATTER_TEST_WAIT_FOR (ready_to_chat (a, b) && ready_to_chat (b, a), CONNECT_TIMEOUT_MS);
}

/* The real flow: A asks, B sees the request and accepts, both connect. */
static void
make_contacts (Client *a,
               Client *b)
{
  g_autoptr(GError) error = NULL;
  NatterContact *contact;

  contact = natter_client_add_contact (a->client, id_of (b), b->name, &error);
  g_assert_no_error (error);
  g_assert_nonnull (contact);
  g_assert_cmpint (natter_contact_get_state (contact), ==, NATTER_CONTACT_PENDING_OUT);

  NATTER_TEST_WAIT_FOR (has_string (b->requests, id_of (a)), 10000);
  contact = natter_client_lookup_contact (b->client, id_of (a));
  g_assert_nonnull (contact);
  g_assert_cmpint (natter_contact_get_state (contact), ==, NATTER_CONTACT_PENDING_IN);
  /* The request carried A's display name. */
  g_assert_cmpstr (natter_contact_get_name (contact), ==, a->name);
  g_assert_true (natter_client_accept_contact (b->client, id_of (a), &error));
  g_assert_no_error (error);

  NATTER_TEST_WAIT_FOR (is_accepted (a, b) && is_accepted (b, a), 10000);
  wait_connected (a, b);
}

static NatterMessage *
send_text (Client     *from,
           Client     *to,
           const char *text)
{
  g_autoptr(GError) error = NULL;
  NatterMessage *message;

  message = natter_client_send_message (from->client, id_of (to), text, NULL, &error);
  g_assert_no_error (error);
  g_assert_nonnull (message);
  return message;
}

static gboolean
all_delivered (Client    *c,
               GPtrArray *messages)
{
  for (guint i = 0; i < messages->len; i++)
    if (count_of (c->delivered,
                  natter_message_get_id (g_ptr_array_index (messages, i))) == 0)
      return FALSE;
  return TRUE;
}

static GListModel *
messages_of (Client *c,
             Client *other)
{
  g_autoptr(GError) error = NULL;
  GListModel *model = natter_client_get_messages (c->client, id_of (other), &error);

  g_assert_no_error (error);
  g_assert_nonnull (model);
  return model;
}

/* The conversation as stored on disk, read by a second, read-only client. */
static GPtrArray *
ids_on_disk (Client *c,
             Client *other)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(NatterClient) reader = natter_client_new (c->profile, NATTER_CLIENT_READ_ONLY, &error);
  GPtrArray *ids = g_ptr_array_new_with_free_func (g_free);
  GListModel *model;

  g_assert_no_error (error);
  model = natter_client_get_messages (reader, id_of (other), &error);
  g_assert_no_error (error);
  for (guint i = 0; i < g_list_model_get_n_items (model); i++)
    {
      g_autoptr(NatterMessage) message = g_list_model_get_item (model, i);

      g_ptr_array_add (ids, g_strdup (natter_message_get_id (message)));
    }
  return ids;
}

/* Both sides hold @expected messages, the same ones in the same positions,
 * each once, on screen (the model) and on disk; every one reached
 * "delivered" at its author. */
static void
assert_same_history (Client *a,
                     Client *b,
                     guint   expected)
{
  GListModel *ma = messages_of (a, b);
  GListModel *mb = messages_of (b, a);
  g_autoptr(GHashTable) seen = g_hash_table_new (g_str_hash, g_str_equal);
  g_autoptr(GPtrArray) disk_a = ids_on_disk (a, b);
  g_autoptr(GPtrArray) disk_b = ids_on_disk (b, a);

  g_assert_cmpuint (g_list_model_get_n_items (ma), ==, expected);
  g_assert_cmpuint (g_list_model_get_n_items (mb), ==, expected);
  g_assert_cmpuint (disk_a->len, ==, expected);
  g_assert_cmpuint (disk_b->len, ==, expected);

  for (guint i = 0; i < expected; i++)
    {
      g_autoptr(NatterMessage) x = g_list_model_get_item (ma, i);
      g_autoptr(NatterMessage) y = g_list_model_get_item (mb, i);
      const char *author = natter_message_get_author (x);

      g_assert_cmpstr (natter_message_get_id (x), ==, natter_message_get_id (y));
      g_assert_cmpstr (natter_message_get_body (x), ==, natter_message_get_body (y));
      g_assert_cmpstr (author, ==, natter_message_get_author (y));
      g_assert_cmpstr (natter_message_get_id (x), ==, g_ptr_array_index (disk_a, i));
      g_assert_cmpstr (natter_message_get_id (x), ==, g_ptr_array_index (disk_b, i));
      g_assert_true (g_strcmp0 (author, id_of (a)) == 0 || g_strcmp0 (author, id_of (b)) == 0);
      g_assert_false (g_hash_table_contains (seen, natter_message_get_id (x)));
      g_hash_table_add (seen, (gpointer) natter_message_get_id (x));

      /* The author sees it delivered; the receiver holds it as delivered. */
      g_assert_cmpint (natter_message_get_state (x), ==, NATTER_MESSAGE_DELIVERED);
      g_assert_cmpint (natter_message_get_state (y), ==, NATTER_MESSAGE_DELIVERED);
      if (i > 0)
        {
          g_autoptr(NatterMessage) prev = g_list_model_get_item (ma, i - 1);

          g_assert_cmpint (natter_message_compare (prev, x), <, 0);
        }
    }
}

static void
fixture_setup (Fixture       *fixture,
               gconstpointer  data)
{
  natter_test_env_setup (fixture, data);
  g_hash_table_remove_all (signal_counts);
}

static double
seconds_since (gint64 start)
{
  return (g_get_monotonic_time () - start) / (double) G_USEC_PER_SEC;
}

/* ------------------------------------------------------------------------ */
/* 1. Contact request, then 500 messages each way                            */
/* ------------------------------------------------------------------------ */

#define BULK_MESSAGES 500

static void
test_bulk (Fixture       *fixture,
           gconstpointer  data)
{
  g_autoptr(Client) a = client_new (fixture, "Alice");
  g_autoptr(Client) b = client_new (fixture, "Bob");
  g_autoptr(GPtrArray) from_a = g_ptr_array_new_with_free_func (g_object_unref);
  g_autoptr(GPtrArray) from_b = g_ptr_array_new_with_free_func (g_object_unref);
  gint64 start;

  start = g_get_monotonic_time ();
  make_contacts (a, b);
  g_test_message ("contact request -> accepted -> connected: %.2f s", seconds_since (start));

  /* The models are live while the messages flow, as in the UI. */
  messages_of (a, b);
  messages_of (b, a);

  start = g_get_monotonic_time ();
  for (guint i = 0; i < BULK_MESSAGES; i++)
    {
      g_autofree char *ta = g_strdup_printf ("Alice says %u", i);
      g_autofree char *tb = g_strdup_printf ("Bob says %u ✓", i);

      g_ptr_array_add (from_a, send_text (a, b, ta));
      g_ptr_array_add (from_b, send_text (b, a, tb));
    }
  g_test_message ("queued %u messages in %.2f s", 2 * BULK_MESSAGES, seconds_since (start));
  NATTER_TEST_WAIT_FOR (all_delivered (a, from_a) && all_delivered (b, from_b),
                        DELIVERY_TIMEOUT_MS);
  g_test_message ("%u messages each way delivered in %.2f s (%.0f msg/s)", BULK_MESSAGES,
                  seconds_since (start), 2 * BULK_MESSAGES / seconds_since (start));

  /* Late acks or duplicates have nothing left to change. */
  natter_test_spin (300);
  assert_same_history (a, b, 2 * BULK_MESSAGES);
  for (guint i = 0; i < BULK_MESSAGES; i++)
    {
      const char *ida = natter_message_get_id (g_ptr_array_index (from_a, i));
      const char *idb = natter_message_get_id (g_ptr_array_index (from_b, i));

      g_assert_cmpuint (count_of (a->delivered, ida), ==, 1);
      g_assert_cmpuint (count_of (b->delivered, idb), ==, 1);
      g_assert_cmpuint (count_of (b->received, ida), ==, 1);
      g_assert_cmpuint (count_of (a->received, idb), ==, 1);
      g_assert_cmpint (natter_message_get_seq (g_ptr_array_index (from_a, i)), ==, i + 1);
    }
  g_assert_cmpuint (g_hash_table_size (a->received), ==, BULK_MESSAGES);
  g_assert_cmpuint (g_hash_table_size (b->received), ==, BULK_MESSAGES);
  g_assert_cmpint (natter_contact_get_unread_count (natter_client_lookup_contact (a->client,
                                                                                  id_of (b))),
                   ==, BULK_MESSAGES);
}

/* Near the frame limit, more than the channel's high-water mark at once:
 * the protocol must hold back and resume on "buffered-amount-low". */
#define LARGE_MESSAGES 48
#define LARGE_BODY     60000

static void
test_large (Fixture       *fixture,
            gconstpointer  data)
{
  g_autoptr(Client) a = client_new (fixture, "Alice");
  g_autoptr(Client) b = client_new (fixture, "Bob");
  g_autoptr(GPtrArray) from_a = g_ptr_array_new_with_free_func (g_object_unref);
  g_autoptr(GPtrArray) from_b = g_ptr_array_new_with_free_func (g_object_unref);
  gint64 start;

  make_contacts (a, b);
  start = g_get_monotonic_time ();
  for (guint i = 0; i < LARGE_MESSAGES; i++)
    {
      g_autofree char *ta = g_strnfill (LARGE_BODY, 'a' + i % 26);
      g_autofree char *tb = g_strnfill (LARGE_BODY, 'A' + i % 26);

      g_ptr_array_add (from_a, send_text (a, b, ta));
      g_ptr_array_add (from_b, send_text (b, a, tb));
    }
  NATTER_TEST_WAIT_FOR (all_delivered (a, from_a) && all_delivered (b, from_b),
                        DELIVERY_TIMEOUT_MS);
  g_test_message ("%.1f MB each way in %.2f s", LARGE_MESSAGES * LARGE_BODY / 1e6,
                  seconds_since (start));
  natter_test_spin (300);
  assert_same_history (a, b, 2 * LARGE_MESSAGES);
  g_assert_cmpuint (g_hash_table_size (a->received), ==, LARGE_MESSAGES);
  g_assert_cmpuint (g_hash_table_size (b->received), ==, LARGE_MESSAGES);
}

/* ------------------------------------------------------------------------ */
/* 2. Glare: both connect at the same moment, 20 times                       */
/* ------------------------------------------------------------------------ */

#define GLARE_ROUNDS 20

static void
close_sessions (Client *a,
                Client *b)
{
  natter_peer_session_close (natter_client_get_session (a->client, id_of (b)));
  natter_peer_session_close (natter_client_get_session (b->client, id_of (a)));
  g_assert_cmpint (session_state (a, b), ==, NATTER_SESSION_CLOSED);
  g_assert_cmpint (session_state (b, a), ==, NATTER_SESSION_CLOSED);
  /* No chat protocol is left over a closed channel. */
  g_assert_null (natter_client_get_chat_protocol (a->client, id_of (b)));
  g_assert_null (natter_client_get_chat_protocol (b->client, id_of (a)));
}

static void
exchange_one (Client     *a,
              Client     *b,
              const char *tag)
{
  g_autoptr(GPtrArray) from_a = g_ptr_array_new_with_free_func (g_object_unref);
  g_autoptr(GPtrArray) from_b = g_ptr_array_new_with_free_func (g_object_unref);
  g_autofree char *ta = g_strdup_printf ("%s: ping", tag);
  g_autofree char *tb = g_strdup_printf ("%s: pong", tag);

  g_ptr_array_add (from_a, send_text (a, b, ta));
  g_ptr_array_add (from_b, send_text (b, a, tb));
  NATTER_TEST_WAIT_FOR (all_delivered (a, from_a) && all_delivered (b, from_b), 10000);
  g_assert_cmpuint (count_of (b->received, natter_message_get_id (from_a->pdata[0])), ==, 1);
  g_assert_cmpuint (count_of (a->received, natter_message_get_id (from_b->pdata[0])), ==, 1);
}

static void
test_glare (Fixture       *fixture,
            gconstpointer  data)
{
  g_autoptr(Client) a = client_new (fixture, "Alice");
  g_autoptr(Client) b = client_new (fixture, "Bob");
  g_autoptr(GPtrArray) queued_a = g_ptr_array_new_with_free_func (g_object_unref);
  g_autoptr(GPtrArray) queued_b = g_ptr_array_new_with_free_func (g_object_unref);
  guint both_offered = 0;
  gint64 total = 0;

  make_contacts (a, b);

  for (guint round = 0; round < GLARE_ROUNDS; round++)
    {
      g_autofree char *tag = g_strdup_printf ("round %u", round);
      NatterPeerSession *sa, *sb;
      guint offers_a, offers_b;
      gint64 start;

      close_sessions (a, b);
      /* Let the "bye"s of the closed sessions land first: they must not
       * hurt the next round either way, but the rounds stay independent. */
      natter_test_spin (100);
      a->n_connected = b->n_connected = 0;

      /* Written while apart: the reconnect's sync must carry these. */
      g_ptr_array_set_size (queued_a, 0);
      g_ptr_array_set_size (queued_b, 0);
      g_ptr_array_add (queued_a, send_text (a, b, "written while apart"));
      g_ptr_array_add (queued_b, send_text (b, a, "also written while apart"));
      g_assert_cmpint (natter_message_get_state (queued_a->pdata[0]), ==, NATTER_MESSAGE_QUEUED);
      g_assert_cmpint (natter_message_get_state (queued_b->pdata[0]), ==, NATTER_MESSAGE_QUEUED);

      offers_a = signals_sent (id_of (a), "offer");
      offers_b = signals_sent (id_of (b), "offer");

      start = g_get_monotonic_time ();
      natter_client_connect (a->client, id_of (b));
      natter_client_connect (b->client, id_of (a));
      wait_connected (a, b);
      total += g_get_monotonic_time () - start;
      if (signals_sent (id_of (a), "offer") > offers_a && signals_sent (id_of (b), "offer") > offers_b)
        both_offered++;

      /* One session each side, the same one, and it stays. */
      natter_test_spin (300);
      sa = natter_client_get_session (a->client, id_of (b));
      sb = natter_client_get_session (b->client, id_of (a));
      g_assert_cmpint (natter_peer_session_get_state (sa), ==, NATTER_SESSION_CONNECTED);
      g_assert_cmpint (natter_peer_session_get_state (sb), ==, NATTER_SESSION_CONNECTED);
      g_assert_cmpstr (natter_peer_session_get_session_id (sa), ==,
                       natter_peer_session_get_session_id (sb));
      g_assert_cmpuint (a->n_connected, ==, 1);
      g_assert_cmpuint (b->n_connected, ==, 1);
      g_assert_true (natter_peer_session_is_polite (sa) != natter_peer_session_is_polite (sb));
      NATTER_TEST_WAIT_FOR (all_delivered (a, queued_a) && all_delivered (b, queued_b), 10000);
      exchange_one (a, b, tag);
    }

  /* Every round collides inside the sessions (each is making an offer when
   * the other's arrives); in some both offers even crossed on the wire. */
  g_test_message ("%u/%u rounds had both offers on the wire; mean setup %.0f ms",
                  both_offered, GLARE_ROUNDS, total / 1000.0 / GLARE_ROUNDS);
  g_assert_cmpuint (both_offered, >=, 1);
  assert_same_history (a, b, 4 * GLARE_ROUNDS);
}

/* The peer hangs up while staying online: we retry after the first backoff step. */
static void
test_retry (Fixture       *fixture,
            gconstpointer  data)
{
  g_autoptr(Client) a = client_new (fixture, "Alice");
  g_autoptr(Client) b = client_new (fixture, "Bob");
  g_autoptr(GPtrArray) queued = g_ptr_array_new_with_free_func (g_object_unref);
  g_autofree char *old_session = NULL;
  g_autofree char *disconnected = NULL;
  guint mark;
  gint64 start;
  double took;

  make_contacts (a, b);
  old_session = g_strdup (natter_peer_session_get_session_id (
                            natter_client_get_session (a->client, id_of (b))));
  disconnected = g_strdup_printf ("%s %d", id_of (b), NATTER_SESSION_DISCONNECTED);
  mark = a->sessions->len;

  /* B's side ends; its "bye" tells A, who retries since B is still online. */
  start = g_get_monotonic_time ();
  natter_peer_session_close (natter_client_get_session (b->client, id_of (a)));
  NATTER_TEST_WAIT_FOR (session_state (a, b) == NATTER_SESSION_DISCONNECTED, 5000);
  g_assert_true (contact_online (a, id_of (b)));
  g_ptr_array_add (queued, send_text (a, b, "are you still there?"));
  NATTER_TEST_WAIT_FOR (ready_to_chat (a, b) && ready_to_chat (b, a), CONNECT_TIMEOUT_MS);
  took = seconds_since (start);
  g_test_message ("reconnected %.2f s after the peer hung up", took);
  /* The first retry comes after the first backoff step (1 s, with
   * g_timeout_add_seconds() granularity): no stall, and one attempt did it. */
  g_assert_cmpfloat (took, <, 5);
  g_assert_cmpuint (a->sessions->len, ==, mark + 3);
  g_assert_true (g_str_has_suffix (g_ptr_array_index (a->sessions, mark + 1), " 1"));
  g_assert_true (g_str_has_suffix (g_ptr_array_index (a->sessions, mark + 2), " 2"));
  g_assert_cmpstr (natter_peer_session_get_session_id (natter_client_get_session (a->client,
                                                                                  id_of (b))),
                   !=, old_session);
  g_assert_cmpstr (g_ptr_array_index (a->sessions, mark), ==, disconnected);
  NATTER_TEST_WAIT_FOR (all_delivered (a, queued), 10000);
  exchange_one (a, b, "after the retry");
  assert_same_history (a, b, 3);
}

/* ------------------------------------------------------------------------ */
/* 3. The peer is killed mid-conversation and comes back                     */
/* ------------------------------------------------------------------------ */

#define KILL_BEFORE 20
#define KILL_DURING 30

typedef struct
{
  Client    *a;
  char      *b_id;
  GPtrArray *sent;     /* NatterMessage */
  guint      target;
  guint      source;
} Writer;

static gboolean
write_one (gpointer data)
{
  Writer *w = data;
  g_autoptr(GError) error = NULL;
  g_autofree char *text = g_strdup_printf ("while you were away %u", w->sent->len);
  NatterMessage *message;

  message = natter_client_send_message (w->a->client, w->b_id, text, NULL, &error);
  g_assert_no_error (error);
  g_ptr_array_add (w->sent, message);
  if (w->sent->len < w->target)
    return G_SOURCE_CONTINUE;
  w->source = 0;
  return G_SOURCE_REMOVE;
}

static gboolean
none_delivered (Client    *c,
                GPtrArray *messages,
                guint      from)
{
  for (guint i = from; i < messages->len; i++)
    {
      NatterMessage *m = g_ptr_array_index (messages, i);

      if (count_of (c->delivered, natter_message_get_id (m)) != 0 ||
          natter_message_get_state (m) >= NATTER_MESSAGE_DELIVERED)
        return FALSE;
    }
  return TRUE;
}

static NatterTestPeer *
spawn_peer (Fixture    *fixture,
            const char *profile,
            gboolean    accept_contacts)
{
  const char *args[] = { accept_contacts ? "--accept-contacts" : NULL, NULL };

  return natter_test_peer_start (profile, natter_test_broker_get_url (fixture->broker), args);
}

static int
event_index (NatterTestPeer *peer,
             const char     *event,
             const char     *id)
{
  for (guint i = 0; i < natter_test_peer_get_n_events (peer); i++)
    {
      JsonObject *e = natter_test_peer_get_event (peer, i);

      if (g_strcmp0 (json_object_get_string_member_with_default (e, "event", NULL), event) == 0 &&
          g_strcmp0 (json_object_get_string_member_with_default (e, "id", NULL), id) == 0)
        return (int) i;
    }
  return -1;
}

/* @peer sends @text to @to over its `run` command channel; returns the new
 * message's id once @to has it and @peer has reported it delivered. */
static char *
peer_says (NatterTestPeer *peer,
           Client         *to,
           const char     *text,
           gint64          expected_seq)
{
  guint from = natter_test_peer_get_n_events (peer);
  JsonObject *queued;
  char *id;

  natter_test_peer_command (peer, "{\"cmd\":\"send\",\"to\":\"%s\",\"text\":\"%s\"}",
                            id_of (to), text);
  queued = natter_test_peer_wait_event (peer, from, "queued", NULL, NULL, 5000);
  g_assert_nonnull (queued);
  g_assert_cmpint (json_object_get_int_member (queued, "seq"), ==, expected_seq);
  id = g_strdup (json_object_get_string_member (queued, "id"));
  g_assert_nonnull (natter_test_peer_wait_event (peer, from, "delivery", "state", "delivered",
                                                 DELIVERY_TIMEOUT_MS));
  NATTER_TEST_WAIT_FOR (count_of (to->received, id) == 1, 5000);
  /* The event stream tells the story in order: queued, then its deliveries. */
  g_assert_cmpint (event_index (peer, "queued", id), <, event_index (peer, "delivery", id));
  return id;
}

static void
test_kill (Fixture       *fixture,
           gconstpointer  data)
{
  g_autoptr(Client) a = client_new (fixture, "Alice");
  g_autofree char *b_profile = g_build_filename (fixture->dir, "bob-cli", NULL);
  g_autofree char *b_id = natter_test_cli_init (b_profile, "Bob");
  g_autofree char *offline = g_strdup_printf ("-%s", b_id);
  g_autofree char *online = g_strdup_printf ("+%s", b_id);
  g_autoptr(NatterTestPeer) b1 = NULL;
  g_autoptr(NatterTestPeer) b2 = NULL;
  g_autoptr(GPtrArray) history = NULL;
  g_autoptr(GHashTable) in_history = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  g_autoptr(GError) error = NULL;
  Writer w = { a, b_id, g_ptr_array_new_with_free_func (g_object_unref), 0, 0 };
  g_autofree char *old_session = NULL;
  g_autofree char *b_before = NULL;
  g_autofree char *b_after = NULL;
  guint presence_mark;
  guint session_mark;
  gint64 start;

  b1 = spawn_peer (fixture, b_profile, TRUE);
  g_assert_cmpstr (natter_test_peer_get_peer_id (b1), ==, b_id);
  g_assert_nonnull (natter_client_add_contact (a->client, b_id, "Bob", &error));
  g_assert_no_error (error);
  NATTER_TEST_WAIT_FOR (natter_client_get_session (a->client, b_id) != NULL &&
                        natter_peer_session_get_state (
                          natter_client_get_session (a->client, b_id)) == NATTER_SESSION_CONNECTED,
                        CONNECT_TIMEOUT_MS);

  w.target = KILL_BEFORE;
  while (w.sent->len < KILL_BEFORE)
    write_one (&w);
  NATTER_TEST_WAIT_FOR (all_delivered (a, w.sent), DELIVERY_TIMEOUT_MS);
  b_before = peer_says (b1, a, "from B before the crash", 1);

  /* No goodbye: the broker's Last Will says B is offline. */
  presence_mark = a->presence->len;
  session_mark = a->sessions->len;
  old_session = g_strdup (natter_peer_session_get_session_id (natter_client_get_session (a->client,
                                                                                          b_id)));
  start = g_get_monotonic_time ();
  natter_test_peer_kill (b1);
  NATTER_TEST_WAIT_FOR (contact_online (a, b_id) == FALSE, 10000);
  g_assert_cmpstr (g_ptr_array_index (a->presence, a->presence->len - 1), ==, offline);
  g_test_message ("Last Will seen %.2f s after SIGKILL", seconds_since (start));

  /* A keeps writing, one every 100 ms, through the outage and the reconnect. */
  w.target = KILL_BEFORE + KILL_DURING;
  w.source = g_timeout_add (100, write_one, &w);
  natter_test_spin (1000);
  g_assert_cmpuint (w.sent->len, >, KILL_BEFORE);
  g_assert_true (none_delivered (a, w.sent, KILL_BEFORE));

  start = g_get_monotonic_time ();
  b2 = spawn_peer (fixture, b_profile, TRUE);
  /* A's old session may still look connected: nothing told it B died. */
  NATTER_TEST_WAIT_FOR (ready_to_chat_with (a, b_id) &&
                        g_strcmp0 (natter_peer_session_get_session_id (
                                     natter_client_get_session (a->client, b_id)),
                                   old_session) != 0, CONNECT_TIMEOUT_MS);
  g_test_message ("session re-established %.2f s after the restart", seconds_since (start));
  NATTER_TEST_WAIT_FOR (w.source == 0, 30000);
  NATTER_TEST_WAIT_FOR (all_delivered (a, w.sent), DELIVERY_TIMEOUT_MS);
  g_test_message ("all %u messages delivered %.2f s after the restart", w.sent->len,
                  seconds_since (start));
  {
    g_autoptr(GString) states = g_string_new (NULL);

    for (guint i = session_mark; i < a->sessions->len; i++)
      {
        const char *entry = g_ptr_array_index (a->sessions, i);

        g_string_append_printf (states, " %s", strchr (entry, ' ') + 1);
      }
    g_test_message ("A's session states from the kill on (%s):%s",
                    "1 connecting, 2 connected, 3 disconnected, 4 failed", states->str);
  }
  for (guint i = 0; i < w.sent->len; i++)
    g_assert_cmpint (natter_message_get_state (g_ptr_array_index (w.sent, i)), ==,
                     NATTER_MESSAGE_DELIVERED);

  /* Presence went offline, then online again. */
  g_assert_true (g_ptr_array_find_with_equal_func (a->presence, offline, g_str_equal, NULL));
  {
    gboolean seen_offline = FALSE, seen_online_after = FALSE;

    for (guint i = presence_mark; i < a->presence->len; i++)
      {
        const char *p = g_ptr_array_index (a->presence, i);

        if (g_str_equal (p, offline))
          seen_offline = TRUE;
        else if (g_str_equal (p, online) && seen_offline)
          seen_online_after = TRUE;
      }
    g_assert_true (seen_offline);
    g_assert_true (seen_online_after);
  }

  /* Exactly once: one "delivered" per message at A, one "message" event per
   * message across both lives of B, and once in B's history. */
  natter_test_spin (500);
  for (guint i = 0; i < w.sent->len; i++)
    {
      const char *id = natter_message_get_id (g_ptr_array_index (w.sent, i));

      g_assert_cmpuint (count_of (a->delivered, id), ==, 1);
      g_assert_cmpuint (natter_test_peer_count_events (b1, "message", "id", id) +
                        natter_test_peer_count_events (b2, "message", "id", id), ==, 1);
    }
  /* B picks up where it left off: its next seq, once, delivered. */
  b_after = peer_says (b2, a, "from B after the crash", 2);
  g_assert_cmpuint (count_of (a->received, b_before), ==, 1);
  g_assert_cmpint (natter_test_peer_stop (b2, 10000), ==, 0);
  g_assert_cmpuint (natter_test_peer_get_n_stray_lines (b1), ==, 0);
  g_assert_cmpuint (natter_test_peer_get_n_stray_lines (b2), ==, 0);
  history = natter_test_cli_history (b_profile, id_of (a));
  g_assert_cmpuint (history->len, ==, w.sent->len + 2);
  for (guint i = 0, n_from_a = 0; i < history->len; i++)
    {
      JsonObject *m = g_ptr_array_index (history, i);
      const char *id = json_object_get_string_member (m, "id");

      g_assert_false (g_hash_table_contains (in_history, id));
      g_hash_table_add (in_history, g_strdup (id));
      g_assert_cmpstr (json_object_get_string_member (m, "state"), ==, "delivered");
      if (g_strcmp0 (json_object_get_string_member (m, "author"), b_id) == 0)
        continue;
      /* A's messages in A's writing order, each once. */
      g_assert_cmpstr (id, ==, natter_message_get_id (g_ptr_array_index (w.sent, n_from_a)));
      g_assert_cmpint (json_object_get_int_member (m, "seq"), ==, ++n_from_a);
    }
  g_assert_true (g_hash_table_contains (in_history, b_before));
  g_assert_true (g_hash_table_contains (in_history, b_after));
  /* And A holds the same conversation, in the same order. */
  {
    GListModel *model = natter_client_get_messages (a->client, b_id, &error);

    g_assert_no_error (error);
    g_assert_cmpuint (g_list_model_get_n_items (model), ==, history->len);
    for (guint i = 0; i < history->len; i++)
      {
        g_autoptr(NatterMessage) m = g_list_model_get_item (model, i);

        g_assert_cmpstr (natter_message_get_id (m), ==,
                         json_object_get_string_member (history->pdata[i], "id"));
      }
  }
  g_ptr_array_unref (w.sent);
}

/* ------------------------------------------------------------------------ */
/* 4. Three people: A talks to B and C at once                               */
/* ------------------------------------------------------------------------ */

#define TRIO_MESSAGES 100

static void
test_trio (Fixture       *fixture,
           gconstpointer  data)
{
  g_autoptr(Client) a = client_new (fixture, "Alice");
  g_autoptr(Client) b = client_new (fixture, "Bob");
  g_autoptr(Client) c = client_new (fixture, "Carol");
  g_autoptr(GPtrArray) ab = g_ptr_array_new_with_free_func (g_object_unref);
  g_autoptr(GPtrArray) ac = g_ptr_array_new_with_free_func (g_object_unref);
  g_autoptr(GPtrArray) ba = g_ptr_array_new_with_free_func (g_object_unref);
  g_autoptr(GPtrArray) ca = g_ptr_array_new_with_free_func (g_object_unref);
  struct { Client *x, *y; const char *tag; } pairs[] = { { a, b, "A-B" }, { a, c, "A-C" } };
  gint64 start;

  make_contacts (a, b);
  make_contacts (a, c);
  g_assert_null (natter_client_lookup_contact (b->client, id_of (c)));

  start = g_get_monotonic_time ();
  for (guint i = 0; i < TRIO_MESSAGES; i++)
    {
      g_autofree char *t1 = g_strdup_printf ("A-B %u from A", i);
      g_autofree char *t2 = g_strdup_printf ("A-C %u from A", i);
      g_autofree char *t3 = g_strdup_printf ("A-B %u from B", i);
      g_autofree char *t4 = g_strdup_printf ("A-C %u from C", i);

      g_ptr_array_add (ab, send_text (a, b, t1));
      g_ptr_array_add (ac, send_text (a, c, t2));
      g_ptr_array_add (ba, send_text (b, a, t3));
      g_ptr_array_add (ca, send_text (c, a, t4));
    }
  NATTER_TEST_WAIT_FOR (all_delivered (a, ab) && all_delivered (a, ac) && all_delivered (b, ba) &&
                        all_delivered (c, ca), DELIVERY_TIMEOUT_MS);
  g_test_message ("4 x %u messages over two sessions in %.2f s", TRIO_MESSAGES,
                  seconds_since (start));
  natter_test_spin (300);

  for (guint p = 0; p < G_N_ELEMENTS (pairs); p++)
    {
      GListModel *model = messages_of (pairs[p].x, pairs[p].y);

      assert_same_history (pairs[p].x, pairs[p].y, 2 * TRIO_MESSAGES);
      for (guint i = 0; i < g_list_model_get_n_items (model); i++)
        {
          g_autoptr(NatterMessage) m = g_list_model_get_item (model, i);

          /* Nothing of the other conversation leaked in. */
          g_assert_true (g_str_has_prefix (natter_message_get_body (m), pairs[p].tag));
        }
    }
  g_assert_cmpuint (g_hash_table_size (a->received), ==, 2 * TRIO_MESSAGES);
  g_assert_cmpuint (g_hash_table_size (b->received), ==, TRIO_MESSAGES);
  g_assert_cmpuint (g_hash_table_size (c->received), ==, TRIO_MESSAGES);
}

/* ------------------------------------------------------------------------ */
/* 5. Hostile frames on the chat channel                                     */
/* ------------------------------------------------------------------------ */

static GBytes *
text_frame (const char *format,
            ...) G_GNUC_PRINTF (1, 2);

static GBytes *
text_frame (const char *format,
            ...)
{
  va_list args;
  char *text;

  va_start (args, format);
  text = g_strdup_vprintf (format, args);
  va_end (args);
  return g_bytes_new_take (text, strlen (text));
}

/* A well-formed msg frame of one message by @author in @conv. */
static GBytes *
msg_frame (const char *conv,
           const char *author,
           gint64      seq,
           const char *body)
{
  g_autoptr(GPtrArray) one = g_ptr_array_new_with_free_func (g_object_unref);
  g_autoptr(GError) error = NULL;
  g_autofree char *id = natter_message_compute_id (author, seq, 1, 0, body);
  GBytes *frame;
  guint next = 0;

  g_ptr_array_add (one, natter_message_new (id, conv, author, seq, 1, 0, body, NULL,
                                            NATTER_MESSAGE_QUEUED, FALSE, 0));
  frame = natter_chat_frame_build_messages (conv, author, one, 0, &next, &error);
  g_assert_no_error (error);
  return frame;
}

static void
test_bad_frames (Fixture       *fixture,
                 gconstpointer  data)
{
  g_autoptr(Client) a = client_new (fixture, "Alice");
  g_autoptr(Client) b = client_new (fixture, "Bob");
  g_autoptr(NatterIdentity) stranger = NULL;
  g_autoptr(GPtrArray) bad = g_ptr_array_new_with_free_func ((GDestroyNotify) g_bytes_unref);
  g_autoptr(GPtrArray) before_msgs = g_ptr_array_new_with_free_func (g_object_unref);
  g_autoptr(GPtrArray) before_b = g_ptr_array_new_with_free_func (g_object_unref);
  g_autoptr(GPtrArray) after = g_ptr_array_new_with_free_func (g_object_unref);
  g_autoptr(GPtrArray) disk_before = NULL;
  g_autoptr(GPtrArray) disk_after = NULL;
  g_autoptr(GBytes) huge = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *conv = NULL;
  g_autofree char *other_conv = NULL;
  g_autofree char *session_a = NULL;
  g_autofree char *session_b = NULL;
  g_autofree char *deep = NULL;
  GString *many;
  NatterPeerSession *sa;
  NatterChatProtocol *pb;
  guint8 seed[32];
  guint8 garbage[512];
  guint64 rejected_before;
  guint n_before;
  const char *A, *B;

  make_contacts (a, b);
  A = id_of (a);
  B = id_of (b);
  conv = natter_client_conversation_for (a->client, B);
  memset (seed, 0x5c, sizeof seed);
  stranger = natter_identity_new_from_seed (seed);
  other_conv = natter_conversation_id_direct (A, natter_identity_get_peer_id (stranger));

  /* Some history to protect. */
  g_ptr_array_add (before_msgs, send_text (a, b, "before 1"));
  g_ptr_array_add (before_b, send_text (b, a, "before 2"));
  NATTER_TEST_WAIT_FOR (all_delivered (a, before_msgs) && all_delivered (b, before_b), 10000);
  natter_test_spin (200);
  n_before = g_list_model_get_n_items (messages_of (b, a));
  disk_before = ids_on_disk (b, a);
  g_assert_cmpuint (n_before, ==, 2);

  sa = natter_client_get_session (a->client, B);
  pb = natter_client_get_chat_protocol (b->client, A);
  session_a = g_strdup (natter_peer_session_get_session_id (sa));
  session_b = g_strdup (natter_peer_session_get_session_id (natter_client_get_session (b->client,
                                                                                       A)));
  rejected_before = natter_chat_protocol_get_rejected (pb);

  /* Not JSON at all. */
  for (guint i = 0; i < sizeof garbage; i++)
    garbage[i] = (guint8) g_test_rand_int_range (0, 256);
  g_ptr_array_add (bad, g_bytes_new (garbage, sizeof garbage));
  g_ptr_array_add (bad, text_frame ("{\"t\":\"msg\""));
  g_ptr_array_add (bad, text_frame ("[1,2,3]"));
  g_ptr_array_add (bad, text_frame ("null"));
  /* Invalid UTF-8, once in a message body that would otherwise be fine. */
  g_ptr_array_add (bad, text_frame ("{\"t\":\"msg\",\"conv\":\"%s\",\"author\":\"%s\","
                                    "\"m\":[[900,1,0,\"\xff\xfe bad \xc0\"]]}", conv, A));
  g_ptr_array_add (bad, text_frame ("{\"t\":\"typing\",\"conv\":\"\xed\xa0\x80\",\"on\":true}"));
  /* Wrong JSON types. */
  g_ptr_array_add (bad, text_frame ("{\"t\":\"ack\",\"conv\":\"%s\",\"author\":\"%s\","
                                    "\"upto\":\"2\"}", conv, B));
  g_ptr_array_add (bad, text_frame ("{\"t\":\"msg\",\"conv\":\"%s\",\"author\":\"%s\","
                                    "\"m\":\"hello\"}", conv, A));
  g_ptr_array_add (bad, text_frame ("{\"t\":\"msg\",\"conv\":\"%s\",\"author\":\"%s\","
                                    "\"m\":[[\"901\",1,0,\"seq as text\"]]}", conv, A));
  g_ptr_array_add (bad, text_frame ("{\"t\":\"sync\",\"conv\":\"%s\",\"vv\":[1]}", conv));
  g_ptr_array_add (bad, text_frame ("{\"t\":\"typing\",\"conv\":%s,\"on\":true}", "42"));
  g_ptr_array_add (bad, text_frame ("{\"t\":7,\"conv\":\"%s\"}", conv));
  /* An unknown frame type. */
  g_ptr_array_add (bad, text_frame ("{\"t\":\"delete-everything\",\"conv\":\"%s\"}", conv));
  /* Messages claiming another author: B itself, and a stranger. */
  g_ptr_array_add (bad, msg_frame (conv, B, 902, "I am Bob, trust me"));
  g_ptr_array_add (bad, msg_frame (conv, natter_identity_get_peer_id (stranger), 1,
                                   "a stranger's words"));
  /* Receipts for messages that are not B's. */
  g_ptr_array_add (bad, natter_chat_frame_build_upto (NATTER_FRAME_ACK, conv, A, 1));
  g_ptr_array_add (bad, natter_chat_frame_build_upto (NATTER_FRAME_READ, conv, A, 1));
  /* A conversation B is not in. */
  g_ptr_array_add (bad, msg_frame (other_conv, A, 903, "wrong room"));
  g_ptr_array_add (bad, natter_chat_frame_build_upto (NATTER_FRAME_ACK, other_conv, B, 1));
  /* Nesting far beyond any sane depth. */
  deep = g_strnfill (20000, '[');
  g_ptr_array_add (bad, g_bytes_new (deep, strlen (deep)));
  /* More messages in one frame than allowed. */
  many = g_string_new (NULL);
  g_string_append_printf (many, "{\"t\":\"msg\",\"conv\":\"%s\",\"author\":\"%s\",\"m\":[",
                          conv, A);
  for (guint i = 0; i < NATTER_FRAME_MAX_MESSAGES + 1; i++)
    g_string_append_printf (many, "%s[%u,1,0,\"x\"]", i ? "," : "", 1000 + i);
  g_string_append (many, "]}");
  g_assert_cmpuint (many->len, <=, NATTER_MAX_FRAME_SIZE);
  g_ptr_array_add (bad, g_string_free_to_bytes (many));

  for (guint i = 0; i < bad->len; i++)
    {
      natter_peer_session_send (sa, g_ptr_array_index (bad, i), &error);
      g_assert_no_error (error);
    }

  /* Over the frame limit: refused before it leaves A. */
  huge = g_bytes_new_take (g_malloc0 (NATTER_MAX_FRAME_SIZE + 1), NATTER_MAX_FRAME_SIZE + 1);
  g_assert_false (natter_peer_session_send (sa, huge, &error));
  g_assert_error (error, NATTER_ERROR, NATTER_ERROR_TOO_LARGE);
  g_clear_error (&error);

  NATTER_TEST_WAIT_FOR (natter_chat_protocol_get_rejected (pb) >= rejected_before + bad->len,
                        10000);
  natter_test_spin (300);
  g_test_message ("%u hostile frames, %" G_GUINT64_FORMAT " rejected", bad->len,
                  natter_chat_protocol_get_rejected (pb) - rejected_before);
  g_assert_cmpuint (natter_chat_protocol_get_rejected (pb), ==, rejected_before + bad->len);

  /* Nothing was torn down, nothing was stored. */
  g_assert_true (natter_client_get_chat_protocol (b->client, A) == pb);
  g_assert_cmpint (session_state (a, b), ==, NATTER_SESSION_CONNECTED);
  g_assert_cmpint (session_state (b, a), ==, NATTER_SESSION_CONNECTED);
  g_assert_cmpstr (natter_peer_session_get_session_id (natter_client_get_session (a->client, B)),
                   ==, session_a);
  g_assert_cmpstr (natter_peer_session_get_session_id (natter_client_get_session (b->client, A)),
                   ==, session_b);
  g_assert_cmpuint (g_list_model_get_n_items (messages_of (b, a)), ==, n_before);
  g_assert_cmpuint (g_hash_table_size (b->received), ==, 1);
  disk_after = ids_on_disk (b, a);
  g_assert_cmpuint (disk_after->len, ==, disk_before->len);
  for (guint i = 0; i < disk_after->len; i++)
    g_assert_cmpstr (g_ptr_array_index (disk_after, i), ==, g_ptr_array_index (disk_before, i));
  /* B's own message is still just delivered: no forged "read" got through. */
  g_assert_cmpint (natter_message_get_state (g_ptr_array_index (before_b, 0)), ==,
                   NATTER_MESSAGE_DELIVERED);

  /* And the conversation goes on. */
  g_ptr_array_add (after, send_text (a, b, "after"));
  NATTER_TEST_WAIT_FOR (all_delivered (a, after), 10000);
  g_assert_cmpuint (count_of (b->received, natter_message_get_id (after->pdata[0])), ==, 1);
  /* A's next seq is 2: the forged seq 900s did not move anything. */
  g_assert_cmpint (natter_message_get_seq (after->pdata[0]), ==, 2);
  assert_same_history (a, b, 3);
}

/* ------------------------------------------------------------------------ */
/* 6. What a session setup costs in signaling envelopes                      */
/* ------------------------------------------------------------------------ */

static void
report_signals (const char *what,
                Client     *a,
                Client     *b)
{
  Client *sides[] = { a, b };
  g_autoptr(GString) text = g_string_new (what);

  for (guint i = 0; i < G_N_ELEMENTS (sides); i++)
    {
      const char *id = id_of (sides[i]);

      g_string_append_printf (text, "%s %s sent %u (offer %u, answer %u, ice %u, bye %u)",
                              i ? "," : ":", sides[i]->name, signals_sent (id, NULL),
                              signals_sent (id, "offer"), signals_sent (id, "answer"),
                              signals_sent (id, "ice"), signals_sent (id, "bye"));
    }
  g_test_message ("%s", text->str);
}

static void
measure_setup (Client *offerer,
               Client *answerer)
{
  close_sessions (offerer, answerer);
  /* Let the "bye"s of the teardown settle before counting. */
  natter_test_spin (300);
  g_hash_table_remove_all (signal_counts);

  natter_client_connect (offerer->client, id_of (answerer));
  wait_connected (offerer, answerer);
  /* Trailing candidate batches, if any, count too. */
  natter_test_spin (1000);
  report_signals (natter_peer_session_is_polite (natter_client_get_session (offerer->client,
                                                                           id_of (answerer)))
                  ? "connect by the polite peer" : "connect by the impolite peer",
                  offerer, answerer);
  g_assert_cmpuint (signals_sent (id_of (offerer), "offer"), ==, 1);
  g_assert_cmpuint (signals_sent (id_of (answerer), "offer"), ==, 0);
  g_assert_cmpuint (signals_sent (id_of (answerer), "answer"), ==, 1);
  g_assert_cmpuint (signals_sent (id_of (offerer), NULL), <=, SIGNAL_BUDGET);
  g_assert_cmpuint (signals_sent (id_of (answerer), NULL), <=, SIGNAL_BUDGET);
}

static void
test_signal_cost (Fixture       *fixture,
                  gconstpointer  data)
{
  g_autoptr(Client) a = client_new (fixture, "Alice");
  g_autoptr(Client) b = client_new (fixture, "Bob");

  /* The first setup races: B connects on accepting, A on hearing "accept". */
  make_contacts (a, b);
  natter_test_spin (1000);
  report_signals ("contact setup", a, b);
  g_assert_cmpuint (signals_sent (id_of (a), NULL), <=, SIGNAL_BUDGET);
  g_assert_cmpuint (signals_sent (id_of (b), NULL), <=, SIGNAL_BUDGET);

  /* Each side as the offerer, once polite, once not. */
  measure_setup (a, b);
  exchange_one (a, b, "a offered");
  measure_setup (b, a);
  exchange_one (a, b, "b offered");
}

/* ------------------------------------------------------------------------ */
/* 7. natter-cli send, timeouts, size limits and the profile lock            */
/* ------------------------------------------------------------------------ */

static guint
history_length (const char *profile,
                const char *peer_id)
{
  g_autoptr(GPtrArray) history = natter_test_cli_history (profile, peer_id);

  return history->len;
}

static void
test_cli (Fixture       *fixture,
          gconstpointer  data)
{
  const char *url = natter_test_broker_get_url (fixture->broker);
  g_autofree char *p_profile = g_build_filename (fixture->dir, "pat", NULL);
  g_autofree char *q_profile = g_build_filename (fixture->dir, "quinn", NULL);
  g_autofree char *p_id = natter_test_cli_init (p_profile, "Pat");
  g_autofree char *q_id = natter_test_cli_init (q_profile, "Quinn");
  g_autofree char *queued_id = NULL;
  g_autofree char *big = NULL;
  g_autoptr(NatterTestPeer) q = spawn_peer (fixture, q_profile, TRUE);
  g_autoptr(NatterTestPeer) p = spawn_peer (fixture, p_profile, FALSE);
  g_autoptr(NatterTestPeer) q2 = NULL;
  g_autoptr(NatterTestPeer) p2 = NULL;
  g_autoptr(GPtrArray) contacts = NULL;
  NatterTestCliResult *r;
  guint before;

  /* Pat asks Quinn through the `run` command channel; Quinn auto-accepts. */
  natter_test_peer_command (p, "{\"cmd\":\"add\",\"to\":\"%s\",\"name\":\"Quinn\"}", q_id);
  g_assert_nonnull (natter_test_peer_wait_event (p, 0, "contact", "state", "accepted", 10000));
  g_assert_nonnull (natter_test_peer_wait_event (p, 0, "session", "state", "connected",
                                                 CONNECT_TIMEOUT_MS));

  /* While `run` holds Pat's profile, a second writer is refused clearly… */
  r = natter_test_cli_run (p_profile, url, "send", q_id, "sneaky", "--timeout", "2", NULL);
  g_test_message ("second writer: status %d, %s", r->status, g_strstrip (r->err));
  g_assert_cmpint (r->status, !=, 0);
  g_assert_nonnull (strstr (r->err, "in use"));
  natter_test_cli_result_free (r);
  /* …and readers still work. */
  r = natter_test_cli_run (p_profile, NULL, "id", NULL);
  g_assert_cmpint (r->status, ==, 0);
  g_assert_cmpstr (g_strstrip (r->out), ==, p_id);
  natter_test_cli_result_free (r);
  g_assert_cmpuint (history_length (p_profile, q_id), ==, 0);
  r = natter_test_cli_run (p_profile, NULL, "contact", "list", "--json", NULL);
  g_assert_cmpint (r->status, ==, 0);
  contacts = natter_test_parse_json_lines (r->out);
  natter_test_cli_result_free (r);
  g_assert_cmpuint (contacts->len, ==, 1);
  g_assert_cmpstr (json_object_get_string_member (contacts->pdata[0], "peer"), ==, q_id);
  g_assert_cmpstr (json_object_get_string_member (contacts->pdata[0], "state"), ==, "accepted");
  g_assert_cmpint (natter_test_peer_stop (p, 10000), ==, 0);

  /* Quinn online: delivered, exit 0. */
  r = natter_test_cli_run (p_profile, url, "send", q_id, "hello Quinn", "--wait", "delivered",
                           "--timeout", "20", NULL);
  g_test_message ("send --wait delivered: status %d in %.2f s", r->status, r->seconds);
  g_assert_cmpint (r->status, ==, 0);
  g_assert_nonnull (natter_test_peer_wait_event (q, 0, "message", "id", g_strstrip (r->out),
                                                 5000));
  natter_test_cli_result_free (r);

  /* Quinn offline: a clear timeout, non-zero, and the message stays queued. */
  g_assert_cmpint (natter_test_peer_stop (q, 10000), ==, 0);
  r = natter_test_cli_run (p_profile, url, "send", q_id, "are you there?", "--timeout", "2",
                           NULL);
  g_test_message ("send while offline: status %d in %.2f s: %s", r->status, r->seconds, g_strstrip (r->err));
  g_assert_cmpint (r->status, !=, 0);
  g_assert_nonnull (strstr (r->err, "Timed out"));
  g_assert_nonnull (strstr (r->err, "queued"));
  g_assert_cmpfloat (r->seconds, <, 10);
  queued_id = g_strdup (g_strstrip (r->out));
  g_assert_cmpuint (strlen (queued_id), >, 0);
  natter_test_cli_result_free (r);

  /* 70,000 characters: refused at once, nothing stored. */
  before = history_length (p_profile, q_id);
  g_assert_cmpuint (before, ==, 2);
  big = g_strnfill (70000, 'x');
  r = natter_test_cli_run (p_profile, url, "send", q_id, big, "--timeout", "20", NULL);
  g_test_message ("70,000 characters: status %d in %.2f s: %s", r->status, r->seconds, g_strstrip (r->err));
  g_assert_cmpint (r->status, !=, 0);
  g_assert_nonnull (strstr (r->err, "too large"));
  g_assert_cmpfloat (r->seconds, <, 5);
  g_assert_cmpstr (r->out, ==, "");
  natter_test_cli_result_free (r);
  g_assert_cmpuint (history_length (p_profile, q_id), ==, before);

  /* The queued message goes out the next time both are online, as promised. */
  q2 = spawn_peer (fixture, q_profile, TRUE);
  p2 = spawn_peer (fixture, p_profile, FALSE);
  g_assert_nonnull (natter_test_peer_wait_event (p2, 0, "delivery", "id", queued_id,
                                                 CONNECT_TIMEOUT_MS));
  g_assert_nonnull (natter_test_peer_wait_event (q2, 0, "message", "id", queued_id, 5000));
  g_assert_cmpuint (natter_test_peer_count_events (q2, "message", NULL, NULL), ==, 1);

  /* With full debug logging on, standard output carried JSON events only. */
  g_assert_cmpuint (natter_test_peer_get_n_stray_lines (p), ==, 0);
  g_assert_cmpuint (natter_test_peer_get_n_stray_lines (q), ==, 0);
  g_assert_cmpuint (natter_test_peer_get_n_stray_lines (p2), ==, 0);
  g_assert_cmpuint (natter_test_peer_get_n_stray_lines (q2), ==, 0);
}

/* ------------------------------------------------------------------------ */
/* A frozen peer, and a client stopped and started again                     */
/* ------------------------------------------------------------------------ */

/* SIGSTOP keeps B's sockets open and its broker connection alive for a
 * while: only the chat keep-alive can tell A that nobody answers. */
static void
test_frozen_peer (Fixture       *fixture,
                  gconstpointer  data)
{
  g_autoptr(Client) a = client_new (fixture, "Alice");
  g_autofree char *b_profile = g_build_filename (fixture->dir, "bob-cli", NULL);
  g_autofree char *b_id = natter_test_cli_init (b_profile, "Bob");
  g_autoptr(NatterTestPeer) b = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *old_session = NULL;
  g_autoptr(NatterMessage) message = NULL;
  gint64 start;
  double took;

  b = spawn_peer (fixture, b_profile, TRUE);
  g_assert_nonnull (natter_client_add_contact (a->client, b_id, "Bob", &error));
  g_assert_no_error (error);
  NATTER_TEST_WAIT_FOR (ready_to_chat_with (a, b_id), CONNECT_TIMEOUT_MS);
  peer_says (b, a, "before the freeze", 1);
  old_session = g_strdup (natter_peer_session_get_session_id (natter_client_get_session (a->client,
                                                                                          b_id)));

  start = g_get_monotonic_time ();
  g_assert_cmpint (kill (natter_test_peer_get_pid (b), SIGSTOP), ==, 0);
  NATTER_TEST_WAIT_FOR (natter_peer_session_get_state (
                          natter_client_get_session (a->client, b_id)) != NATTER_SESSION_CONNECTED,
                        20000);
  took = seconds_since (start);
  g_test_message ("frozen peer noticed after %.2f s (keep-alive timeout %.1f s)", took,
                  NATTER_CHAT_KEEPALIVE_TIMEOUT_MS / 1000.0 *
                  g_ascii_strtod (g_getenv ("NATTER_KEEPALIVE_SCALE"), NULL));
  g_assert_null (natter_client_get_chat_protocol (a->client, b_id));

  /* Written while B is frozen: queued, then delivered once B thaws. */
  message = natter_client_send_message (a->client, b_id, "are you frozen?", NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpint (kill (natter_test_peer_get_pid (b), SIGCONT), ==, 0);
  NATTER_TEST_WAIT_FOR (ready_to_chat_with (a, b_id) &&
                        g_strcmp0 (natter_peer_session_get_session_id (
                                     natter_client_get_session (a->client, b_id)),
                                   old_session) != 0, CONNECT_TIMEOUT_MS);
  NATTER_TEST_WAIT_FOR (natter_message_get_state (message) >= NATTER_MESSAGE_DELIVERED,
                        DELIVERY_TIMEOUT_MS);
  g_test_message ("reconnected and delivered %.2f s after the thaw", seconds_since (start) - took);
}

static void
test_stop_start (Fixture       *fixture,
                 gconstpointer  data)
{
  g_autoptr(Client) a = client_new (fixture, "Alice");
  g_autoptr(Client) b = client_new (fixture, "Bob");
  g_autoptr(NatterMessage) message = NULL;
  g_autoptr(GError) error = NULL;
  gint64 start;

  make_contacts (a, b);
  exchange_one (a, b, "before the stop");

  /* A goes offline and comes back in the same process; B never changed. */
  natter_client_stop (a->client);
  NATTER_TEST_WAIT_FOR (session_state (b, a) != NATTER_SESSION_CONNECTED, 10000);
  message = natter_client_send_message (a->client, id_of (b), "written while stopped", NULL,
                                        &error);
  g_assert_no_error (error);
  start = g_get_monotonic_time ();
  natter_client_start (a->client);
  NATTER_TEST_WAIT_FOR (ready_to_chat (a, b) && ready_to_chat (b, a), CONNECT_TIMEOUT_MS);
  NATTER_TEST_WAIT_FOR (natter_message_get_state (message) >= NATTER_MESSAGE_DELIVERED,
                        DELIVERY_TIMEOUT_MS);
  g_test_message ("back in touch %.2f s after start()", seconds_since (start));
  exchange_one (a, b, "after the restart");
}

/* Read while the peer is away: the receipt waits for the next connection. */
static void
test_read_while_away (Fixture       *fixture,
                      gconstpointer  data)
{
  g_autoptr(Client) a = client_new (fixture, "Alice");
  g_autoptr(Client) b = client_new (fixture, "Bob");
  g_autoptr(NatterMessage) message = NULL;
  g_autoptr(GError) error = NULL;

  make_contacts (a, b);
  message = send_text (b, a, "read me later");
  NATTER_TEST_WAIT_FOR (natter_message_get_state (message) == NATTER_MESSAGE_DELIVERED,
                        DELIVERY_TIMEOUT_MS);

  natter_client_stop (b->client);
  NATTER_TEST_WAIT_FOR (session_state (a, b) != NATTER_SESSION_CONNECTED, 10000);
  g_assert_true (natter_client_mark_read (a->client, id_of (b), &error));
  g_assert_no_error (error);
  natter_test_spin (300);
  g_assert_cmpint (natter_message_get_state (message), ==, NATTER_MESSAGE_DELIVERED);

  natter_client_start (b->client);
  NATTER_TEST_WAIT_FOR (natter_message_get_state (message) == NATTER_MESSAGE_READ,
                        DELIVERY_TIMEOUT_MS);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);
  gst_init (NULL, NULL);
  /* 1 s pings, 3 s to declare a silent peer gone (natter-cli peers inherit it). */
  g_setenv ("NATTER_KEEPALIVE_SCALE", "0.2", TRUE);

  signal_counts = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  /* The class must exist before its signal can be looked up. */
  g_type_class_unref (g_type_class_ref (NATTER_TYPE_PEER_SESSION));
  g_signal_add_emission_hook (g_signal_lookup ("signal-out", NATTER_TYPE_PEER_SESSION), 0,
                              signal_out_hook, NULL, NULL);

  g_test_add ("/chat/bulk", Fixture, NULL, fixture_setup, test_bulk, natter_test_env_teardown);
  g_test_add ("/chat/large", Fixture, NULL, fixture_setup, test_large, natter_test_env_teardown);
  g_test_add ("/chat/glare", Fixture, NULL, fixture_setup, test_glare, natter_test_env_teardown);
  g_test_add ("/chat/retry", Fixture, NULL, fixture_setup, test_retry, natter_test_env_teardown);
  g_test_add ("/chat/kill", Fixture, NULL, fixture_setup, test_kill, natter_test_env_teardown);
  g_test_add ("/chat/trio", Fixture, NULL, fixture_setup, test_trio, natter_test_env_teardown);
  g_test_add ("/chat/bad-frames", Fixture, NULL, fixture_setup, test_bad_frames,
              natter_test_env_teardown);
  g_test_add ("/chat/signal-cost", Fixture, NULL, fixture_setup, test_signal_cost,
              natter_test_env_teardown);
  g_test_add ("/chat/cli", Fixture, NULL, fixture_setup, test_cli, natter_test_env_teardown);
  g_test_add ("/chat/frozen-peer", Fixture, NULL, fixture_setup, test_frozen_peer,
              natter_test_env_teardown);
  g_test_add ("/chat/stop-start", Fixture, NULL, fixture_setup, test_stop_start,
              natter_test_env_teardown);
  g_test_add ("/chat/read-while-away", Fixture, NULL, fixture_setup, test_read_while_away,
              natter_test_env_teardown);

  return g_test_run ();
}
