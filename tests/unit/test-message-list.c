/* test-message-list.c: the lazy timeline model: sorted inserts, 100,000 rows, skewed clocks. */
#include <string.h>

#include "natter-chat-protocol.h"
#include "natter-hlc.h"
#include "natter-identity.h"
#include "natter-message-list.h"
#include "natter-store.h"
#include "natter-test-broker.h"

#define CONV  "dmessage-list-test"
#define ALICE "ALICEPEERIDAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
#define BOB   "BOBPEERIDAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
#define HOUR_MS (60 * 60 * 1000)

typedef struct
{
  char        *dir;
  NatterStore *store;
} Fixture;

static NatterStore *
open_store (const char *dir)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *path = g_build_filename (dir, "history.db", NULL);
  NatterStore *store = natter_store_open (path, NATTER_STORE_NONE, &error);

  g_assert_no_error (error);
  return store;
}

static void
fixture_setup (Fixture       *fixture,
               gconstpointer  data)
{
  fixture->dir = natter_test_mkdtemp ("natter-list-XXXXXX");
  fixture->store = open_store (fixture->dir);
}

static void
fixture_teardown (Fixture       *fixture,
                  gconstpointer  data)
{
  g_clear_object (&fixture->store);
  natter_test_rmtree (fixture->dir);
  g_free (fixture->dir);
}

static NatterMessage *
store_message (NatterStore *store,
               const char  *author,
               gint64       seq,
               gint64       l,
               gint64       c,
               const char  *body)
{
  g_autoptr(GError) error = NULL;
  NatterMessage *message;
  gboolean inserted = FALSE;

  message = natter_message_new (NULL, CONV, author, seq, l, c, body, NULL,
                                NATTER_MESSAGE_DELIVERED, FALSE, l);
  g_assert_true (natter_store_add_message (store, message, &inserted, &error));
  g_assert_no_error (error);
  g_assert_true (inserted);
  return message;
}

static GPtrArray *
store_list (NatterStore *store,
            const char  *conversation)
{
  g_autoptr(GError) error = NULL;
  GPtrArray *messages = natter_store_list_messages (store, conversation, 0, G_MAXUINT, &error);

  g_assert_no_error (error);
  return messages;
}

static const char *
item_id (GListModel *model,
         guint       position)
{
  g_autoptr(NatterMessage) message = g_list_model_get_item (model, position);

  g_assert_nonnull (message);
  /* The list keeps the object, so the id outlives this reference. */
  return natter_message_get_id (message);
}

/* The model shows exactly the store's display order. */
static void
assert_model_matches_store (GListModel  *model,
                            NatterStore *store,
                            const char  *conversation)
{
  g_autoptr(GPtrArray) expected = store_list (store, conversation);

  g_assert_cmpuint (g_list_model_get_n_items (model), ==, expected->len);
  for (guint i = 0; i < expected->len; i++)
    g_assert_cmpstr (item_id (model, i), ==, natter_message_get_id (g_ptr_array_index (expected, i)));
}

typedef struct
{
  guint position;
  guint removed;
  guint added;
} Change;

static void
on_items_changed (GListModel *model,
                  guint       position,
                  guint       removed,
                  guint       added,
                  GArray     *changes)
{
  Change change = { position, removed, added };

  g_array_append_val (changes, change);
}

static void
assert_change (GArray *changes,
               guint   position)
{
  Change *change;

  g_assert_cmpuint (changes->len, ==, 1);
  change = &g_array_index (changes, Change, 0);
  g_assert_cmpuint (change->position, ==, position);
  g_assert_cmpuint (change->removed, ==, 0);
  g_assert_cmpuint (change->added, ==, 1);
  g_array_set_size (changes, 0);
}

/* Stores @message's twin and inserts it; checks one precise items-changed. */
static void
insert_and_check (NatterMessageList *list,
                  NatterStore       *store,
                  GArray            *changes,
                  const char        *author,
                  gint64             seq,
                  gint64             l,
                  gint64             c,
                  guint              expected_position)
{
  g_autoptr(NatterMessage) message = store_message (store, author, seq, l, c, "late");

  g_assert_cmpuint (natter_message_list_insert (list, message), ==, expected_position);
  assert_change (changes, expected_position);
  g_assert_cmpstr (item_id (G_LIST_MODEL (list), expected_position), ==,
                   natter_message_get_id (message));
  g_assert_true (natter_message_list_lookup (list, natter_message_get_id (message)) == message);
}

static void
test_sorted_insert (Fixture       *fixture,
                    gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(NatterMessageList) list = NULL;
  g_autoptr(GArray) changes = g_array_new (FALSE, FALSE, sizeof (Change));
  g_autoptr(NatterMessage) again = NULL;

  for (gint64 i = 1; i <= 4; i++)
    g_object_unref (store_message (fixture->store, ALICE, i, i * 1000, 0, "on time"));
  list = natter_message_list_new (fixture->store, CONV, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (g_list_model_get_n_items (G_LIST_MODEL (list)), ==, 4);
  g_signal_connect (list, "items-changed", G_CALLBACK (on_items_changed), changes);

  /* Late, between the first and the second. */
  insert_and_check (list, fixture->store, changes, BOB, 1, 1500, 0, 1);
  /* Older than everything. */
  insert_and_check (list, fixture->store, changes, BOB, 2, 500, 0, 0);
  /* The newest: appended. */
  insert_and_check (list, fixture->store, changes, BOB, 3, 9000, 0, 6);
  /* Same l: the counter decides; same stamp: the author decides (ALICE < BOB). */
  insert_and_check (list, fixture->store, changes, BOB, 4, 2000, 1, 4);
  insert_and_check (list, fixture->store, changes, BOB, 5, 3000, 0, 6);
  g_assert_cmpuint (g_list_model_get_n_items (G_LIST_MODEL (list)), ==, 9);

  /* A message the list already shows changes nothing. */
  again = natter_store_get_message (fixture->store, item_id (G_LIST_MODEL (list), 3), &error);
  g_assert_no_error (error);
  g_assert_cmpuint (natter_message_list_insert (list, again), ==, G_MAXUINT);
  g_assert_cmpuint (changes->len, ==, 0);

  assert_model_matches_store (G_LIST_MODEL (list), fixture->store, CONV);
}

#define N_BIG 100000

static void
test_hundred_thousand (Fixture       *fixture,
                       gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(NatterMessageList) list = NULL;
  g_autoptr(GPtrArray) expected = NULL;
  g_autoptr(GRand) rand = g_rand_new_with_seed (42);
  g_autoptr(GArray) order = g_array_sized_new (FALSE, FALSE, sizeof (guint), N_BIG);
  gint64 start;
  double load_ms;
  double store_ms;

  /* Stored in a shuffled order, so rowid order is not display order. */
  for (guint i = 0; i < N_BIG; i++)
    g_array_append_val (order, i);
  for (guint i = N_BIG - 1; i > 0; i--)
    {
      guint j = g_rand_int_range (rand, 0, i + 1);
      guint tmp = g_array_index (order, guint, i);

      g_array_index (order, guint, i) = g_array_index (order, guint, j);
      g_array_index (order, guint, j) = tmp;
    }
  g_assert_true (natter_store_begin (fixture->store, &error));
  for (guint k = 0; k < N_BIG; k++)
    {
      guint i = g_array_index (order, guint, k);
      g_autofree char *body = g_strdup_printf ("message %u, about sixty bytes of ordinary chat text", i);

      /* Two authors taking turns; every 7th pair shares a millisecond. */
      g_object_unref (store_message (fixture->store, i % 2 ? BOB : ALICE, i / 2 + 1,
                                     1700000000000 + (i / 14) * 1000, (i / 2) % 7 == 0, body));
    }
  g_assert_true (natter_store_commit (fixture->store, &error));
  g_assert_no_error (error);

  start = g_get_monotonic_time ();
  list = natter_message_list_new (fixture->store, CONV, &error);
  load_ms = (g_get_monotonic_time () - start) / 1000.0;
  g_assert_no_error (error);
  g_assert_cmpuint (g_list_model_get_n_items (G_LIST_MODEL (list)), ==, N_BIG);

  start = g_get_monotonic_time ();
  expected = store_list (fixture->store, CONV);
  store_ms = (g_get_monotonic_time () - start) / 1000.0;
  g_assert_cmpuint (expected->len, ==, N_BIG);
  g_test_message ("natter_message_list_new over %u messages: %.1f ms "
                  "(natter_store_list_messages of all: %.1f ms)", N_BIG, load_ms, store_ms);
  g_printerr ("# message list over %u messages loads in %.1f ms\n", N_BIG, load_ms);

  for (guint i = 0; i < 2000; i++)
    {
      guint position = g_rand_int_range (rand, 0, N_BIG);

      g_assert_cmpstr (item_id (G_LIST_MODEL (list), position), ==,
                       natter_message_get_id (g_ptr_array_index (expected, position)));
    }
  g_assert_cmpstr (item_id (G_LIST_MODEL (list), 0), ==,
                   natter_message_get_id (g_ptr_array_index (expected, 0)));
  g_assert_cmpstr (item_id (G_LIST_MODEL (list), N_BIG - 1), ==,
                   natter_message_get_id (g_ptr_array_index (expected, N_BIG - 1)));
  g_assert_null (g_list_model_get_item (G_LIST_MODEL (list), N_BIG));
}

/* ------------------------------------------------------------------------ */
/* Skewed clocks: two peers over NatterChatProtocol, a list on each side    */
/* ------------------------------------------------------------------------ */

typedef struct _Side Side;

struct _Side
{
  NatterIdentity     *identity;
  char               *dir;
  NatterStore        *store;
  NatterHlc          *hlc;
  gint64              clock_ms;     /* this peer's (possibly wrong) wall clock */
  NatterChatProtocol *protocol;
  NatterMessageList  *list;
  Side               *remote;
};

typedef struct
{
  NatterChatProtocol *to;
  GBytes             *frame;
} Delivery;

static GQueue wire = G_QUEUE_INIT;

static gint64
side_clock (gpointer data)
{
  return ((Side *) data)->clock_ms;
}

static gboolean
wire_send (gpointer   data,
           GBytes    *frame,
           GError   **error)
{
  Side *side = data;
  Delivery *delivery = g_new0 (Delivery, 1);

  delivery->to = side->remote->protocol;
  delivery->frame = g_bytes_ref (frame);
  g_queue_push_tail (&wire, delivery);
  return TRUE;
}

static guint64
wire_buffered (gpointer data)
{
  return 0;
}

static const NatterChatTransport wire_transport = { wire_send, wire_buffered };

/* Delivers every frame in flight, including the ones sent in reply. */
static void
wire_drain (void)
{
  Delivery *delivery;

  while ((delivery = g_queue_pop_head (&wire)) != NULL)
    {
      g_autoptr(GError) error = NULL;

      g_assert_true (natter_chat_protocol_receive (delivery->to, delivery->frame, &error));
      g_assert_no_error (error);
      g_bytes_unref (delivery->frame);
      g_free (delivery);
    }
}

/* What NatterClient does with a message the peer sent: the view learns of it. */
static void
on_message_received (NatterChatProtocol *protocol,
                     NatterMessage      *message,
                     Side               *side)
{
  natter_message_list_insert (side->list, message);
}

static Side *
side_new (guint8  seed_byte,
          gint64  clock_ms)
{
  guint8 seed[NATTER_SEED_SIZE];
  Side *side = g_new0 (Side, 1);

  memset (seed, seed_byte, sizeof seed);
  side->identity = natter_identity_new_from_seed (seed);
  side->dir = natter_test_mkdtemp ("natter-skew-XXXXXX");
  side->store = open_store (side->dir);
  side->hlc = natter_hlc_new ();
  side->clock_ms = clock_ms;
  natter_hlc_set_clock (side->hlc, side_clock, side);
  return side;
}

static void
side_free (Side *side)
{
  g_clear_object (&side->list);
  g_clear_object (&side->protocol);
  g_clear_object (&side->hlc);
  g_clear_object (&side->store);
  g_clear_object (&side->identity);
  natter_test_rmtree (side->dir);
  g_free (side->dir);
  g_free (side);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (Side, side_free)

static const char *
side_id (Side *side)
{
  return natter_identity_get_peer_id (side->identity);
}

static void
connect_sides (Side       *a,
               Side       *b,
               const char *conversation)
{
  const char *members[] = { side_id (a), side_id (b), NULL };
  Side *sides[] = { a, b };

  a->remote = b;
  b->remote = a;
  for (guint i = 0; i < 2; i++)
    {
      Side *side = sides[i];
      g_autoptr(GError) error = NULL;

      side->list = natter_message_list_new (side->store, conversation, &error);
      g_assert_no_error (error);
      side->protocol = natter_chat_protocol_new (side->store, side->hlc, side_id (side),
                                                 side_id (side->remote), &wire_transport, side);
      natter_chat_protocol_add_conversation (side->protocol, conversation, members);
      g_signal_connect (side->protocol, "message-received", G_CALLBACK (on_message_received), side);
    }
  natter_chat_protocol_start (a->protocol);
  natter_chat_protocol_start (b->protocol);
  wire_drain ();
}

/* The user writes: stamped by this side's clock, stored, shown, sent. */
static NatterMessage *
side_say (Side       *side,
          const char *conversation,
          const char *body)
{
  g_autoptr(GError) error = NULL;
  NatterMessage *message;
  NatterHlcStamp stamp;
  gboolean inserted = FALSE;
  gint64 seq;

  side->clock_ms += 1000;
  side->remote->clock_ms += 1000;
  seq = natter_store_max_seq (side->store, conversation, side_id (side), &error) + 1;
  stamp = natter_hlc_send (side->hlc);
  message = natter_message_new (NULL, conversation, side_id (side), seq, stamp.l, stamp.c, body,
                                NULL, NATTER_MESSAGE_QUEUED, FALSE, side->clock_ms);
  g_assert_true (natter_store_add_message (side->store, message, &inserted, &error));
  g_assert_no_error (error);
  natter_message_list_insert (side->list, message);
  natter_chat_protocol_message_added (side->protocol, message);
  wire_drain ();
  return message;
}

/* Both timelines (models) hold the same ids in the same order, and agree with the stores. */
static void
assert_same_timeline (Side       *a,
                      Side       *b,
                      const char *conversation,
                      guint       n)
{
  GListModel *la = G_LIST_MODEL (a->list);
  GListModel *lb = G_LIST_MODEL (b->list);

  g_assert_cmpuint (g_list_model_get_n_items (la), ==, n);
  g_assert_cmpuint (g_list_model_get_n_items (lb), ==, n);
  for (guint i = 0; i < n; i++)
    g_assert_cmpstr (item_id (la, i), ==, item_id (lb, i));
  assert_model_matches_store (la, a->store, conversation);
  assert_model_matches_store (lb, b->store, conversation);
}

static void
converse (Side       *a,
          Side       *b,
          const char *conversation)
{
  for (guint i = 0; i < 3; i++)
    {
      g_autoptr(NatterMessage) from_b = side_say (b, conversation, "question");
      g_autoptr(NatterMessage) from_a = side_say (a, conversation, "answer");
    }
}

static void
test_hlc_skew (void)
{
  gint64 now = g_get_real_time () / 1000;
  g_autoptr(Side) a = side_new (0xa1, now);
  g_autoptr(Side) fast = side_new (0xf1, now + HOUR_MS);
  g_autoptr(Side) a2 = side_new (0xa2, now);
  g_autoptr(Side) slow = side_new (0x51, now - HOUR_MS);
  g_autofree char *conv_fast = natter_conversation_id_direct (side_id (a), side_id (fast));
  g_autofree char *conv_slow = natter_conversation_id_direct (side_id (a2), side_id (slow));
  NatterHlcStamp last;

  /* A peer one hour ahead: its stamps are kept but not merged into ours. */
  connect_sides (a, fast, conv_fast);
  converse (a, fast, conv_fast);
  last = natter_hlc_get_last (a->hlc);
  g_assert_cmpint (last.l, <=, a->clock_ms);
  assert_same_timeline (a, fast, conv_fast, 6);

  /* A peer one hour behind: one order on both sides all the same. */
  connect_sides (a2, slow, conv_slow);
  converse (a2, slow, conv_slow);
  assert_same_timeline (a2, slow, conv_slow, 6);
  g_assert_cmpint (natter_hlc_get_last (a2->hlc).l, <=, a2->clock_ms);
  g_assert_true (g_queue_is_empty (&wire));
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add ("/message-list/sorted-insert", Fixture, NULL,
              fixture_setup, test_sorted_insert, fixture_teardown);
  g_test_add ("/message-list/hundred-thousand", Fixture, NULL,
              fixture_setup, test_hundred_thousand, fixture_teardown);
  g_test_add_func ("/message-list/hlc-skew", test_hlc_skew);

  return g_test_run ();
}
