/* test-chat-protocol.c: reconciliation between two or three NatterChatProtocols over real stores. */
#include <string.h>

#include "natter-chat-frame.h"
#include "natter-chat-protocol.h"
#include "natter-error.h"
#include "natter-hlc.h"
#include "natter-identity.h"
#include "natter-message.h"
#include "natter-store.h"
#include "natter-test-broker.h"

#define GROUP "group-abc"

/* ------------------------------------------------------------------------ */
/* A peer: identity, store and clock                                        */
/* ------------------------------------------------------------------------ */

typedef struct
{
  NatterIdentity *identity;
  NatterStore    *store;
  NatterHlc      *hlc;
  char           *dir;
} Node;

static Node *
node_new (guint8 seed_byte)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *path = NULL;
  guint8 seed[NATTER_SEED_SIZE];
  Node *node = g_new0 (Node, 1);

  memset (seed, seed_byte, sizeof seed);
  node->identity = natter_identity_new_from_seed (seed);
  node->dir = natter_test_mkdtemp ("natter-chat-XXXXXX");
  path = g_build_filename (node->dir, "history.db", NULL);
  node->store = natter_store_open (path, NATTER_STORE_NONE, &error);
  g_assert_no_error (error);
  node->hlc = natter_hlc_new ();
  return node;
}

static void
node_free (Node *node)
{
  g_clear_object (&node->hlc);
  g_clear_object (&node->store);
  g_clear_object (&node->identity);
  natter_test_rmtree (node->dir);
  g_free (node->dir);
  g_free (node);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (Node, node_free)

static const char *
node_id (Node *node)
{
  return natter_identity_get_peer_id (node->identity);
}

/* What NatterClient does when the user sends: next seq, a fresh stamp, stored queued. */
static NatterMessage *
node_write (Node       *node,
            const char *conversation,
            const char *body)
{
  g_autoptr(GError) error = NULL;
  NatterMessage *message;
  NatterHlcStamp stamp;
  gboolean inserted = FALSE;
  gint64 seq;

  seq = natter_store_max_seq (node->store, conversation, node_id (node), &error) + 1;
  g_assert_no_error (error);
  stamp = natter_hlc_send (node->hlc);
  message = natter_message_new (NULL, conversation, node_id (node), seq, stamp.l, stamp.c, body,
                                NULL, NATTER_MESSAGE_QUEUED, FALSE, stamp.l);
  g_assert_true (natter_store_add_message (node->store, message, &inserted, &error));
  g_assert_no_error (error);
  g_assert_true (inserted);
  return message;
}

static void
node_write_n (Node       *node,
              const char *conversation,
              guint       n,
              gsize       body_len)
{
  g_autoptr(GError) error = NULL;

  /* One transaction: thousands of autocommits would dominate the test's time. */
  g_assert_true (natter_store_begin (node->store, &error));
  for (guint i = 0; i < n; i++)
    {
      g_autofree char *body = g_strdup_printf ("%s #%u ", node_id (node), i);
      g_autoptr(GString) padded = g_string_new (body);
      g_autoptr(NatterMessage) message = NULL;

      while (padded->len < body_len)
        g_string_append_c (padded, 'x');
      message = node_write (node, conversation, padded->str);
    }
  g_assert_true (natter_store_commit (node->store, &error));
  g_assert_no_error (error);
}

/* Stores a copy of @message as received (as if relayed to @node earlier). */
static void
node_copy (Node          *node,
           NatterMessage *message)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(NatterMessage) copy = NULL;
  gboolean inserted = FALSE;

  copy = natter_message_new (natter_message_get_id (message),
                             natter_message_get_conversation (message),
                             natter_message_get_author (message),
                             natter_message_get_seq (message),
                             natter_message_get_hlc_l (message),
                             natter_message_get_hlc_c (message),
                             natter_message_get_body (message),
                             NULL, NATTER_MESSAGE_DELIVERED, FALSE, 0);
  g_assert_true (natter_store_add_message (node->store, copy, &inserted, &error));
  g_assert_no_error (error);
  g_assert_true (inserted);
}

static GPtrArray *
node_list (Node       *node,
           const char *conversation)
{
  g_autoptr(GError) error = NULL;
  GPtrArray *messages;

  messages = natter_store_list_messages (node->store, conversation, 0, G_MAXUINT, &error);
  g_assert_no_error (error);
  return messages;
}

static gint64
node_count (Node       *node,
            const char *conversation)
{
  g_autoptr(GError) error = NULL;
  gint64 n = natter_store_count_messages (node->store, conversation, &error);

  g_assert_no_error (error);
  return n;
}

static gint64
node_vv (Node       *node,
         const char *conversation,
         const char *author,
         guint      *out_len)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GHashTable) vv = natter_store_version_vector (node->store, conversation, &error);
  gint64 *value;

  g_assert_no_error (error);
  if (out_len != NULL)
    *out_len = g_hash_table_size (vv);
  value = g_hash_table_lookup (vv, author);
  return value ? *value : 0;
}

/* Counts @author's messages in @conversation per delivery state. */
static guint
node_count_state (Node               *node,
                  const char         *conversation,
                  const char         *author,
                  NatterMessageState  state)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) messages = natter_store_messages_in_state (node->store, conversation,
                                                                   author, state, &error);

  g_assert_no_error (error);
  return messages->len;
}

/* Same ids in the same display order, and the same number of rows. */
static void
assert_same_history (Node       *a,
                     Node       *b,
                     const char *conversation)
{
  g_autoptr(GPtrArray) la = node_list (a, conversation);
  g_autoptr(GPtrArray) lb = node_list (b, conversation);

  g_assert_cmpuint (la->len, ==, lb->len);
  for (guint i = 0; i < la->len; i++)
    g_assert_cmpstr (natter_message_get_id (g_ptr_array_index (la, i)), ==,
                     natter_message_get_id (g_ptr_array_index (lb, i)));
  for (guint i = 1; i < la->len; i++)
    g_assert_cmpint (natter_message_compare (g_ptr_array_index (la, i - 1),
                                             g_ptr_array_index (la, i)), <, 0);
}

/* ------------------------------------------------------------------------ */
/* An in-memory chat channel: frames queued, delivered from an idle          */
/* ------------------------------------------------------------------------ */

typedef struct
{
  NatterChatProtocol *receiver;       /* borrowed; NULL: frames go nowhere */
  NatterChatProtocol *sender;         /* borrowed; pumped when the queue drains */
  GQueue              queue;          /* GBytes not yet delivered */
  guint64             queued_bytes;
  guint64             extra_buffered; /* pretend the channel holds this much more */
  guint64             max_buffered_before_msg;
  guint               idle_id;
  gboolean            fail_send;
  gboolean            duplicate;      /* deliver every frame twice */
  gboolean            drop_acks;      /* lose every ack (a connection that dies) */
  gboolean            hold;           /* keep frames queued until released */
  guint               frames[NATTER_FRAME_FILE + 1];   /* sent, per type */
  GPtrArray          *sent;           /* every frame sent, GBytes */
} Link;

static NatterFrameType
frame_type (GBytes *bytes)
{
  g_autoptr(NatterChatFrame) frame = NULL;
  g_autoptr(GError) error = NULL;
  gsize len;
  const guint8 *data = g_bytes_get_data (bytes, &len);

  frame = natter_chat_frame_parse (data, len, &error);
  g_assert_no_error (error);
  return frame->type;
}

static guint64
link_buffered (gpointer data)
{
  Link *link = data;

  return link->queued_bytes + link->extra_buffered;
}

static gboolean
link_deliver_cb (gpointer data)
{
  Link *link = data;
  GBytes *frame;

  link->idle_id = 0;
  if (link->hold)
    return G_SOURCE_REMOVE;
  while ((frame = g_queue_pop_head (&link->queue)) != NULL)
    {
      g_autoptr(GBytes) owned = frame;
      guint copies = link->duplicate ? 2 : 1;

      link->queued_bytes -= g_bytes_get_size (frame);
      if (link->drop_acks && frame_type (frame) == NATTER_FRAME_ACK)
        continue;
      for (guint i = 0; i < copies && link->receiver != NULL; i++)
        {
          g_autoptr(GError) error = NULL;

          gboolean ok = natter_chat_protocol_receive (link->receiver, frame, &error);

          g_assert_no_error (error);
          g_assert_true (ok);
        }
    }
  /* What on-buffered-amount-low does for the real channel. */
  if (link->sender != NULL)
    natter_chat_protocol_pump (link->sender);
  return G_SOURCE_REMOVE;
}

static void
link_schedule (Link *link)
{
  if (link->idle_id == 0 && !g_queue_is_empty (&link->queue))
    link->idle_id = g_idle_add (link_deliver_cb, link);
}

static gboolean
link_send (gpointer   data,
           GBytes    *frame,
           GError   **error)
{
  Link *link = data;
  NatterFrameType type;

  if (link->fail_send)
    {
      g_set_error_literal (error, NATTER_ERROR, NATTER_ERROR_NOT_CONNECTED, "link down");
      return FALSE;
    }
  type = frame_type (frame);
  link->frames[type]++;
  if (type == NATTER_FRAME_MSG)
    link->max_buffered_before_msg = MAX (link->max_buffered_before_msg, link_buffered (link));
  g_ptr_array_add (link->sent, g_bytes_ref (frame));
  g_queue_push_tail (&link->queue, g_bytes_ref (frame));
  link->queued_bytes += g_bytes_get_size (frame);
  link_schedule (link);
  return TRUE;
}

static const NatterChatTransport link_transport = { link_send, link_buffered };

static void
link_init (Link *link)
{
  memset (link, 0, sizeof *link);
  g_queue_init (&link->queue);
  link->sent = g_ptr_array_new_with_free_func ((GDestroyNotify) g_bytes_unref);
}

static void
link_clear (Link *link)
{
  g_clear_handle_id (&link->idle_id, g_source_remove);
  g_queue_clear_full (&link->queue, (GDestroyNotify) g_bytes_unref);
  g_clear_pointer (&link->sent, g_ptr_array_unref);
}

/* ------------------------------------------------------------------------ */
/* A session between two nodes: two protocols, two links                    */
/* ------------------------------------------------------------------------ */

typedef struct
{
  NatterChatProtocol *protocol;
  Link                out;          /* frames this side sends */
  guint               received;     /* message-received */
  guint               delivered;    /* message-state-changed to DELIVERED */
  guint               sent;         /* message-state-changed to SENT */
  guint               synced;
} End;

typedef struct
{
  End end[2];
} Pair;

static void
on_received (NatterChatProtocol *protocol,
             NatterMessage      *message,
             End                *end)
{
  end->received++;
}

static void
on_state (NatterChatProtocol *protocol,
          const char         *id,
          NatterMessageState  state,
          End                *end)
{
  if (state == NATTER_MESSAGE_DELIVERED)
    end->delivered++;
  else if (state == NATTER_MESSAGE_SENT)
    end->sent++;
}

static void
on_synced (NatterChatProtocol *protocol,
           const char         *conversation,
           End                *end)
{
  end->synced++;
}

/* Wires @a and @b for @conversation (a direct chat unless @members says otherwise). */
static Pair *
pair_new (Node               *a,
          Node               *b,
          const char         *conversation,
          const char * const *members)
{
  const char *direct[] = { node_id (a), node_id (b), NULL };
  Node *nodes[2] = { a, b };
  Pair *pair = g_new0 (Pair, 1);

  for (int i = 0; i < 2; i++)
    {
      End *end = &pair->end[i];

      link_init (&end->out);
      end->protocol = natter_chat_protocol_new (nodes[i]->store, nodes[i]->hlc,
                                                node_id (nodes[i]), node_id (nodes[1 - i]),
                                                &link_transport, &end->out);
      natter_chat_protocol_add_conversation (end->protocol, conversation,
                                             members ? members : direct);
      g_signal_connect (end->protocol, "message-received", G_CALLBACK (on_received), end);
      g_signal_connect (end->protocol, "message-state-changed", G_CALLBACK (on_state), end);
      g_signal_connect (end->protocol, "synced", G_CALLBACK (on_synced), end);
    }
  for (int i = 0; i < 2; i++)
    {
      pair->end[i].out.sender = pair->end[i].protocol;
      pair->end[i].out.receiver = pair->end[1 - i].protocol;
    }
  return pair;
}

static void
pair_start (Pair *pair)
{
  natter_chat_protocol_start (pair->end[0].protocol);
  natter_chat_protocol_start (pair->end[1].protocol);
}

static void
pair_free (Pair *pair)
{
  for (int i = 0; i < 2; i++)
    link_clear (&pair->end[i].out);
  for (int i = 0; i < 2; i++)
    {
      g_signal_handlers_disconnect_by_data (pair->end[i].protocol, &pair->end[i]);
      g_clear_object (&pair->end[i].protocol);
    }
  g_free (pair);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (Pair, pair_free)

/* Runs the main context until no frame is in flight anywhere. */
static void
run_until_quiet (void)
{
  guint idle_rounds = 0;

  /* A bounded loop: a protocol that ping-pongs forever fails here, not by hanging. */
  for (guint i = 0; i < 1000000 && idle_rounds < 3; i++)
    idle_rounds = g_main_context_iteration (NULL, FALSE) ? 0 : idle_rounds + 1;
  g_assert_cmpuint (idle_rounds, ==, 3);
}

static guint64
bytes_sent (Pair *pair,
            int   side)
{
  return natter_chat_protocol_get_bytes_sent (pair->end[side].protocol);
}

static guint64
frames_sent (Pair *pair,
             int   side)
{
  return natter_chat_protocol_get_frames_sent (pair->end[side].protocol);
}

static guint64
rejected (Pair *pair,
          int   side)
{
  return natter_chat_protocol_get_rejected (pair->end[side].protocol);
}

/* Connects, runs to quiet, checks both sides said "synced" and refused nothing. */
static Pair *
sync_pair (Node       *a,
           Node       *b,
           const char *conversation)
{
  Pair *pair = pair_new (a, b, conversation, NULL);

  pair_start (pair);
  run_until_quiet ();
  g_assert_cmpuint (rejected (pair, 0), ==, 0);
  g_assert_cmpuint (rejected (pair, 1), ==, 0);
  g_assert_cmpuint (pair->end[0].synced, >=, 1);
  g_assert_cmpuint (pair->end[1].synced, >=, 1);
  return pair;
}

/* ------------------------------------------------------------------------ */
/* Tests                                                                    */
/* ------------------------------------------------------------------------ */

static void
test_diverged_converge (void)
{
  g_autoptr(Node) a = node_new (0xa1);
  g_autoptr(Node) b = node_new (0xb1);
  g_autofree char *conv = natter_conversation_id_direct (node_id (a), node_id (b));

  /* A shared past, then a partition in which both write. */
  node_write_n (a, conv, 3, 40);
  node_write_n (b, conv, 4, 40);
  {
    g_autoptr(Pair) pair = sync_pair (a, b, conv);

    g_assert_cmpuint (pair->end[0].received, ==, 4);
    g_assert_cmpuint (pair->end[1].received, ==, 3);
  }
  assert_same_history (a, b, conv);

  node_write_n (a, conv, 25, 60);
  node_write_n (b, conv, 40, 60);
  {
    g_autoptr(Pair) pair = sync_pair (a, b, conv);

    /* Only what was missing crossed, once. */
    g_assert_cmpuint (pair->end[0].received, ==, 40);
    g_assert_cmpuint (pair->end[1].received, ==, 25);
    g_assert_cmpuint (pair->end[0].delivered, ==, 25);
    g_assert_cmpuint (pair->end[1].delivered, ==, 40);
  }
  assert_same_history (a, b, conv);
  g_assert_cmpint (node_count (a, conv), ==, 72);
  g_assert_cmpuint (node_count_state (a, conv, node_id (a), NATTER_MESSAGE_DELIVERED), ==, 28);
  g_assert_cmpuint (node_count_state (b, conv, node_id (b), NATTER_MESSAGE_DELIVERED), ==, 44);
}

/* More than one refill batch and more than the high-water mark, both ways at once. */
static void
test_large_converge (void)
{
  g_autoptr(Node) a = node_new (0xa2);
  g_autoptr(Node) b = node_new (0xb2);
  g_autofree char *conv = natter_conversation_id_direct (node_id (a), node_id (b));
  g_autoptr(Pair) pair = NULL;

  node_write_n (a, conv, 4000, 600);
  node_write_n (b, conv, 2500, 60);
  pair = sync_pair (a, b, conv);

  assert_same_history (a, b, conv);
  g_assert_cmpint (node_count (a, conv), ==, 6500);
  g_assert_cmpuint (pair->end[0].received, ==, 2500);
  g_assert_cmpuint (pair->end[1].received, ==, 4000);
  g_assert_cmpuint (node_count_state (a, conv, node_id (a), NATTER_MESSAGE_DELIVERED), ==, 4000);
  g_assert_cmpuint (node_count_state (b, conv, node_id (b), NATTER_MESSAGE_DELIVERED), ==, 2500);
  /* ~2.6 MB from a: several high-water stops, never a message frame queued above the mark. */
  g_assert_cmpuint (bytes_sent (pair, 0), >, 2 * NATTER_CHAT_HIGH_WATER);
  g_assert_cmpuint (pair->end[0].out.max_buffered_before_msg, <, NATTER_CHAT_HIGH_WATER);
  g_assert_cmpuint (pair->end[0].out.frames[NATTER_FRAME_SYNC], ==, 1);
  g_assert_cmpuint (pair->end[1].out.frames[NATTER_FRAME_SYNC], ==, 1);
}

/* a relays c's messages to b; version vectors carry three authors and a hole. */
static void
test_group_three_authors (void)
{
  g_autoptr(Node) a = node_new (0xa3);
  g_autoptr(Node) b = node_new (0xb3);
  g_autoptr(Node) c = node_new (0xc3);
  const char *members[] = { node_id (a), node_id (b), node_id (c), NULL };
  g_autoptr(GPtrArray) from_c = g_ptr_array_new_with_free_func (g_object_unref);
  guint vv_len = 0;

  for (guint i = 0; i < 4; i++)
    g_ptr_array_add (from_c, node_write (c, GROUP, i == 2 ? "c three" : "c says hi"));
  /* Both a and b hold c's 1, 2 and 4; c's 3 reached neither. */
  for (guint i = 0; i < 4; i++)
    if (i != 2)
      {
        node_copy (a, g_ptr_array_index (from_c, i));
        node_copy (b, g_ptr_array_index (from_c, i));
      }
  node_write_n (a, GROUP, 2, 30);
  node_write_n (b, GROUP, 2, 30);
  g_assert_cmpint (node_vv (b, GROUP, node_id (c), NULL), ==, 2);

  {
    g_autoptr(Pair) ab = pair_new (a, b, GROUP, members);
    g_autoptr(Pair) bc = NULL;

    pair_start (ab);
    run_until_quiet ();
    g_assert_cmpuint (rejected (ab, 0), ==, 0);
    g_assert_cmpuint (rejected (ab, 1), ==, 0);
    assert_same_history (a, b, GROUP);
    g_assert_cmpint (node_count (b, GROUP), ==, 7);
    /* a resent c's 4 after b's vector said c:2; b still lacks 3, so it asked once more. */
    g_assert_cmpuint (ab->end[1].out.frames[NATTER_FRAME_SYNC], ==, 2);
    g_assert_cmpint (node_vv (b, GROUP, node_id (c), &vv_len), ==, 2);
    g_assert_cmpuint (vv_len, ==, 3);
    /* b's acks of c's messages never claimed the hole. */
    for (guint i = 0; i < ab->end[1].out.sent->len; i++)
      {
        GBytes *bytes = g_ptr_array_index (ab->end[1].out.sent, i);
        g_autoptr(NatterChatFrame) frame = natter_chat_frame_parse (g_bytes_get_data (bytes, NULL),
                                                                    g_bytes_get_size (bytes),
                                                                    NULL);

        if (frame->type == NATTER_FRAME_ACK && g_str_equal (frame->author, node_id (c)))
          g_assert_cmpint (frame->upto, ==, 2);
      }

    /* c comes online to b: b gets 3 from its author, and relays it on to a. */
    bc = pair_new (b, c, GROUP, members);
    g_signal_connect_swapped (bc->end[0].protocol, "message-received",
                              G_CALLBACK (natter_chat_protocol_message_added), ab->end[1].protocol);
    pair_start (bc);
    run_until_quiet ();
    g_assert_cmpuint (rejected (ab, 0), ==, 0);
    g_assert_cmpuint (rejected (ab, 1), ==, 0);
    g_assert_cmpuint (rejected (bc, 0), ==, 0);
    g_assert_cmpuint (rejected (bc, 1), ==, 0);
  }

  assert_same_history (a, b, GROUP);
  assert_same_history (b, c, GROUP);
  g_assert_cmpint (node_count (c, GROUP), ==, 8);
  for (guint i = 0; i < 3; i++)
    {
      Node *nodes[] = { a, b, c };
      Node *node = nodes[i];

      g_assert_cmpint (node_vv (node, GROUP, node_id (a), &vv_len), ==, 2);
      g_assert_cmpuint (vv_len, ==, 3);
      g_assert_cmpint (node_vv (node, GROUP, node_id (b), NULL), ==, 2);
      g_assert_cmpint (node_vv (node, GROUP, node_id (c), NULL), ==, 4);
    }
}

/* A hole at the very start (seq 1 missing) is asked about again like any other. */
static void
test_gap_at_start (void)
{
  g_autoptr(Node) a = node_new (0xa4);
  g_autoptr(Node) b = node_new (0xb4);
  g_autoptr(Node) c = node_new (0xc4);
  const char *members[] = { node_id (a), node_id (b), node_id (c), NULL };
  g_autoptr(Pair) ab = NULL;

  for (guint i = 0; i < 3; i++)
    {
      g_autoptr(NatterMessage) message = node_write (c, GROUP, "from c");

      if (i > 0)
        node_copy (a, message);
    }
  ab = pair_new (a, b, GROUP, members);
  pair_start (ab);
  run_until_quiet ();
  g_assert_cmpuint (rejected (ab, 0), ==, 0);
  g_assert_cmpuint (rejected (ab, 1), ==, 0);
  g_assert_cmpint (node_count (b, GROUP), ==, 2);
  g_assert_cmpint (node_vv (b, GROUP, node_id (c), NULL), ==, 0);
  /* The initial vector, then one more for the hole at 1. */
  g_assert_cmpuint (ab->end[1].out.frames[NATTER_FRAME_SYNC], ==, 2);
}

/* Every frame arrives twice: nothing is stored or announced twice. */
static void
test_duplicate_delivery (void)
{
  g_autoptr(Node) a = node_new (0xa5);
  g_autoptr(Node) b = node_new (0xb5);
  g_autofree char *conv = natter_conversation_id_direct (node_id (a), node_id (b));
  g_autoptr(Pair) pair = NULL;

  node_write_n (a, conv, 30, 50);
  node_write_n (b, conv, 20, 50);
  pair = pair_new (a, b, conv, NULL);
  pair->end[0].out.duplicate = TRUE;
  pair->end[1].out.duplicate = TRUE;
  pair_start (pair);
  run_until_quiet ();

  /* Live messages too. */
  for (guint i = 0; i < 5; i++)
    {
      g_autoptr(NatterMessage) message = node_write (a, conv, "live");

      natter_chat_protocol_message_added (pair->end[0].protocol, message);
    }
  run_until_quiet ();

  g_assert_cmpuint (rejected (pair, 0), ==, 0);
  g_assert_cmpuint (rejected (pair, 1), ==, 0);
  g_assert_cmpuint (pair->end[1].received, ==, 35);
  g_assert_cmpuint (pair->end[0].received, ==, 20);
  g_assert_cmpuint (pair->end[0].delivered, ==, 35);
  g_assert_cmpuint (pair->end[1].delivered, ==, 20);
  g_assert_cmpint (node_count (a, conv), ==, 55);
  assert_same_history (a, b, conv);
}

static GBytes *
find_frame (Link            *link,
            NatterFrameType  type,
            guint            nth)
{
  for (guint i = 0; i < link->sent->len; i++)
    {
      GBytes *bytes = g_ptr_array_index (link->sent, i);

      if (frame_type (bytes) == type && nth-- == 0)
        return bytes;
    }
  return NULL;
}

static gint64
ack_upto (GBytes *bytes)
{
  g_autoptr(NatterChatFrame) frame = NULL;

  g_assert_nonnull (bytes);
  frame = natter_chat_frame_parse (g_bytes_get_data (bytes, NULL), g_bytes_get_size (bytes), NULL);
  g_assert_nonnull (frame);
  g_assert_cmpint (frame->type, ==, NATTER_FRAME_ACK);
  return frame->upto;
}

/* A frame with a hole (1, 2, 4): the ack says 2, and a's 3 and 4 stay unacked. */
static void
test_ack_contiguous (void)
{
  g_autoptr(Node) a = node_new (0xa6);
  g_autoptr(Node) b = node_new (0xb6);
  g_autofree char *conv = natter_conversation_id_direct (node_id (a), node_id (b));
  g_autoptr(GPtrArray) written = g_ptr_array_new_with_free_func (g_object_unref);
  g_autoptr(GPtrArray) holey = g_ptr_array_new ();
  g_autoptr(GPtrArray) rest = g_ptr_array_new ();
  g_autoptr(GBytes) frame = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(Pair) pair = NULL;
  guint next = 0;

  for (guint i = 0; i < 4; i++)
    g_ptr_array_add (written, node_write (a, conv, "to b"));
  g_ptr_array_add (holey, g_ptr_array_index (written, 0));
  g_ptr_array_add (holey, g_ptr_array_index (written, 1));
  g_ptr_array_add (holey, g_ptr_array_index (written, 3));
  g_ptr_array_add (rest, g_ptr_array_index (written, 2));

  /* b's acks travel to a as usual; a's own sync is kept back. */
  pair = pair_new (a, b, conv, NULL);
  pair->end[0].out.hold = TRUE;

  frame = natter_chat_frame_build_messages (conv, node_id (a), holey, 0, &next, &error);
  g_assert_no_error (error);
  g_assert_true (natter_chat_protocol_receive (pair->end[1].protocol, frame, &error));
  g_assert_no_error (error);
  g_assert_cmpint (ack_upto (find_frame (&pair->end[1].out, NATTER_FRAME_ACK, 0)), ==, 2);
  run_until_quiet ();
  g_assert_cmpint (node_count (b, conv), ==, 3);
  g_assert_cmpint (node_vv (b, conv, node_id (a), NULL), ==, 2);
  /* b asked again for the hole; a offered 3 and 4 (into a channel held back):
   * sent, but not delivered, since b's ack did not cover them. */
  g_assert_cmpuint (pair->end[1].out.frames[NATTER_FRAME_SYNC], ==, 1);
  g_assert_cmpuint (node_count_state (a, conv, node_id (a), NATTER_MESSAGE_DELIVERED), ==, 2);
  g_assert_cmpuint (node_count_state (a, conv, node_id (a), NATTER_MESSAGE_SENT), ==, 2);

  g_clear_pointer (&frame, g_bytes_unref);
  frame = natter_chat_frame_build_messages (conv, node_id (a), rest, 0, &next, &error);
  g_assert_no_error (error);
  g_assert_true (natter_chat_protocol_receive (pair->end[1].protocol, frame, &error));
  g_assert_no_error (error);
  g_assert_cmpint (ack_upto (find_frame (&pair->end[1].out, NATTER_FRAME_ACK, 1)), ==, 4);
  run_until_quiet ();
  g_assert_cmpuint (node_count_state (a, conv, node_id (a), NATTER_MESSAGE_DELIVERED), ==, 4);
  g_assert_cmpuint (rejected (pair, 0), ==, 0);
  g_assert_cmpuint (rejected (pair, 1), ==, 0);
}

/* Nothing differs: one small sync frame each way and nothing else. */
static void
test_quiet_reconnect (void)
{
  g_autoptr(Node) a = node_new (0xa7);
  g_autoptr(Node) b = node_new (0xb7);
  g_autofree char *conv = natter_conversation_id_direct (node_id (a), node_id (b));

  node_write_n (a, conv, 500, 60);
  node_write_n (b, conv, 700, 60);
  pair_free (sync_pair (a, b, conv));

  {
    g_autoptr(Pair) pair = sync_pair (a, b, conv);

    for (int i = 0; i < 2; i++)
      {
        g_test_message ("quiet reconnect, side %d: %" G_GUINT64_FORMAT " frame(s), %"
                        G_GUINT64_FORMAT " bytes", i, frames_sent (pair, i), bytes_sent (pair, i));
        g_assert_cmpuint (frames_sent (pair, i), ==, 1);
        g_assert_cmpuint (bytes_sent (pair, i), <, 1024);
        g_assert_cmpuint (pair->end[i].out.frames[NATTER_FRAME_SYNC], ==, 1);
        g_assert_cmpuint (pair->end[i].received, ==, 0);
        g_assert_cmpuint (pair->end[i].synced, ==, 1);
      }
  }
  assert_same_history (a, b, conv);
}

/* Sent stays sent until acked; a lost ack is made good by the next vector. */
static void
test_lost_ack (void)
{
  g_autoptr(Node) a = node_new (0xa8);
  g_autoptr(Node) b = node_new (0xb8);
  g_autofree char *conv = natter_conversation_id_direct (node_id (a), node_id (b));

  node_write_n (a, conv, 5, 50);
  {
    g_autoptr(Pair) pair = pair_new (a, b, conv, NULL);

    /* The connection dies after b committed, before its acks reach a. */
    pair->end[1].out.drop_acks = TRUE;
    pair_start (pair);
    run_until_quiet ();
    g_assert_cmpint (node_count (b, conv), ==, 5);
    g_assert_cmpuint (pair->end[1].received, ==, 5);
    g_assert_cmpuint (pair->end[0].sent, ==, 5);
    g_assert_cmpuint (pair->end[0].delivered, ==, 0);
    g_assert_cmpuint (pair->end[0].synced, ==, 0);
    g_assert_cmpuint (node_count_state (a, conv, node_id (a), NATTER_MESSAGE_SENT), ==, 5);
  }

  {
    g_autoptr(Pair) pair = pair_new (a, b, conv, NULL);

    pair_start (pair);
    run_until_quiet ();
    g_assert_cmpuint (pair->end[0].delivered, ==, 5);
    g_assert_cmpuint (pair->end[0].synced, ==, 1);
    g_assert_cmpuint (node_count_state (a, conv, node_id (a), NATTER_MESSAGE_DELIVERED), ==, 5);
    /* Nothing was sent again. */
    g_assert_cmpuint (pair->end[0].out.frames[NATTER_FRAME_MSG], ==, 0);
    g_assert_cmpuint (pair->end[1].received, ==, 0);
  }
  assert_same_history (a, b, conv);
}

/* Above the high-water mark nothing more is queued until pump() finds room. */
static void
test_backpressure (void)
{
  g_autoptr(Node) a = node_new (0xa9);
  g_autoptr(Node) b = node_new (0xb9);
  g_autofree char *conv = natter_conversation_id_direct (node_id (a), node_id (b));
  g_autoptr(Pair) pair = NULL;
  g_autoptr(NatterMessage) live = NULL;

  node_write_n (a, conv, 10, 50);
  pair = pair_new (a, b, conv, NULL);
  pair->end[0].out.extra_buffered = NATTER_CHAT_HIGH_WATER + 1;
  pair_start (pair);
  run_until_quiet ();

  live = node_write (a, conv, "live, while the channel is full");
  natter_chat_protocol_message_added (pair->end[0].protocol, live);
  run_until_quiet ();
  g_assert_cmpuint (pair->end[0].out.frames[NATTER_FRAME_MSG], ==, 0);
  g_assert_cmpuint (pair->end[1].received, ==, 0);
  g_assert_cmpuint (node_count_state (a, conv, node_id (a), NATTER_MESSAGE_QUEUED), ==, 11);

  /* Still full: a pump changes nothing. */
  natter_chat_protocol_pump (pair->end[0].protocol);
  run_until_quiet ();
  g_assert_cmpuint (pair->end[1].received, ==, 0);

  pair->end[0].out.extra_buffered = 0;
  natter_chat_protocol_pump (pair->end[0].protocol);
  run_until_quiet ();
  g_assert_cmpuint (pair->end[1].received, ==, 11);
  g_assert_cmpuint (pair->end[0].delivered, ==, 11);
  g_assert_cmpuint (pair->end[0].synced, >=, 1);
  assert_same_history (a, b, conv);
}

/* A channel that refuses to send: pump() returns, nothing is marked sent, and
 * the messages go out once the channel works again. */
static void
test_send_failure (void)
{
  g_autoptr(Node) a = node_new (0xaa);
  g_autoptr(Node) b = node_new (0xba);
  g_autofree char *conv = natter_conversation_id_direct (node_id (a), node_id (b));
  g_autoptr(Pair) pair = NULL;
  g_autoptr(NatterMessage) live = NULL;

  node_write_n (a, conv, 3, 50);
  pair = pair_new (a, b, conv, NULL);
  pair_start (pair);
  run_until_quiet ();
  g_assert_cmpuint (pair->end[1].received, ==, 3);

  pair->end[0].out.fail_send = TRUE;
  live = node_write (a, conv, "into a broken channel");
  natter_chat_protocol_message_added (pair->end[0].protocol, live);
  natter_chat_protocol_pump (pair->end[0].protocol);
  g_assert_cmpuint (node_count_state (a, conv, node_id (a), NATTER_MESSAGE_QUEUED), ==, 1);

  pair->end[0].out.fail_send = FALSE;
  natter_chat_protocol_pump (pair->end[0].protocol);
  run_until_quiet ();
  g_assert_cmpuint (pair->end[1].received, ==, 4);
  g_assert_cmpuint (node_count_state (a, conv, node_id (a), NATTER_MESSAGE_DELIVERED), ==, 4);
}

static void
count_signal (gpointer  instance,
              guint    *count)
{
  (*count)++;
}

static gboolean
timeout_reached (gpointer data)
{
  *(gboolean *) data = TRUE;
  return G_SOURCE_REMOVE;
}

static void
run_for (guint ms)
{
  gboolean done = FALSE;

  g_timeout_add (ms, timeout_reached, &done);
  while (!done)
    g_main_context_iteration (NULL, TRUE);
}

/* A quiet but live channel stays up on pings alone; a side that hears
 * nothing declares the peer gone, once. */
static void
test_keepalive (void)
{
  g_autoptr(Node) a = node_new (0xc1);
  g_autoptr(Node) b = node_new (0xc2);
  g_autofree char *conv = natter_conversation_id_direct (node_id (a), node_id (b));
  g_autoptr(Pair) pair = pair_new (a, b, conv, NULL);
  guint timeouts[2] = { 0, 0 };
  gint64 held_at;

  for (int i = 0; i < 2; i++)
    {
      natter_chat_protocol_set_keepalive (pair->end[i].protocol, 40, 300);
      g_signal_connect (pair->end[i].protocol, "peer-timeout", G_CALLBACK (count_signal),
                        &timeouts[i]);
    }
  pair_start (pair);
  run_for (900);
  g_assert_cmpuint (timeouts[0], ==, 0);
  g_assert_cmpuint (timeouts[1], ==, 0);
  /* About one ping per 40 ms of silence; generous bounds for a busy machine. */
  for (int i = 0; i < 2; i++)
    {
      g_test_message ("side %d sent %u pings in 900 ms", i, pair->end[i].out.frames[NATTER_FRAME_PING]);
      g_assert_cmpuint (pair->end[i].out.frames[NATTER_FRAME_PING], >=, 5);
    }

  /* b's frames stop arriving (a frozen peer): a notices, b does not. */
  pair->end[1].out.hold = TRUE;
  held_at = g_get_monotonic_time ();
  while (timeouts[0] == 0 && g_get_monotonic_time () - held_at < 5 * G_USEC_PER_SEC)
    g_main_context_iteration (NULL, TRUE);
  g_test_message ("peer-timeout after %" G_GINT64_FORMAT " ms of silence",
                  (g_get_monotonic_time () - held_at) / 1000);
  g_assert_cmpuint (timeouts[0], ==, 1);
  g_assert_cmpuint (timeouts[1], ==, 0);
  g_assert_cmpint (g_get_monotonic_time () - held_at, >=, 250 * 1000);
  /* Once, and then no more pings from the side that gave up. */
  run_for (200);
  g_assert_cmpuint (timeouts[0], ==, 1);
  g_assert_cmpuint (rejected (pair, 0), ==, 0);
  g_assert_cmpuint (rejected (pair, 1), ==, 0);
}

typedef struct
{
  guint       count;
  char       *conversation;
  JsonObject *object;
} FileFrames;

static void
on_file_frame (NatterChatProtocol *protocol,
               const char         *conversation,
               JsonObject         *object,
               FileFrames         *frames)
{
  frames->count++;
  g_free (frames->conversation);
  frames->conversation = g_strdup (conversation);
  g_clear_pointer (&frames->object, json_object_unref);
  frames->object = json_object_ref (object);
}

/* File control frames pass through unchanged, for joined conversations only. */
static void
test_file_frames (void)
{
  g_autoptr(Node) a = node_new (0xc3);
  g_autoptr(Node) b = node_new (0xc4);
  g_autofree char *conv = natter_conversation_id_direct (node_id (a), node_id (b));
  g_autoptr(Pair) pair = pair_new (a, b, conv, NULL);
  g_autoptr(JsonObject) fields = json_object_new ();
  g_autoptr(GError) error = NULL;
  FileFrames frames = { 0, NULL, NULL };

  g_signal_connect (pair->end[1].protocol, "file-frame", G_CALLBACK (on_file_frame), &frames);
  pair_start (pair);
  run_until_quiet ();

  json_object_set_string_member (fields, "op", "offer");
  json_object_set_int_member (fields, "size", 12345);
  json_object_set_string_member (fields, "t", "msg");  /* cannot override the type */
  g_assert_true (natter_chat_protocol_send_file (pair->end[0].protocol, conv, fields, &error));
  g_assert_no_error (error);
  run_until_quiet ();
  g_assert_cmpuint (frames.count, ==, 1);
  g_assert_cmpstr (frames.conversation, ==, conv);
  g_assert_cmpstr (json_object_get_string_member (frames.object, "t"), ==, "file");
  g_assert_cmpstr (json_object_get_string_member (frames.object, "op"), ==, "offer");
  g_assert_cmpint (json_object_get_int_member (frames.object, "size"), ==, 12345);

  /* Larger than a frame: refused at the sender. */
  {
    g_autoptr(JsonObject) big = json_object_new ();
    g_autofree char *name = g_strnfill (70000, 'n');

    json_object_set_string_member (big, "name", name);
    g_assert_false (natter_chat_protocol_send_file (pair->end[0].protocol, conv, big, &error));
    g_assert_error (error, NATTER_ERROR, NATTER_ERROR_TOO_LARGE);
    g_clear_error (&error);
  }

  /* For a conversation b is not in: refused, nothing emitted. */
  {
    g_autoptr(GBytes) frame = natter_chat_frame_build_file ("other-conversation", fields, NULL);

    g_assert_false (natter_chat_protocol_receive (pair->end[1].protocol, frame, &error));
    g_assert_error (error, NATTER_ERROR, NATTER_ERROR_REFUSED);
    g_assert_cmpuint (frames.count, ==, 1);
  }

  g_free (frames.conversation);
  json_object_unref (frames.object);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/chat-protocol/diverged-converge", test_diverged_converge);
  g_test_add_func ("/chat-protocol/large-converge", test_large_converge);
  g_test_add_func ("/chat-protocol/group-three-authors", test_group_three_authors);
  g_test_add_func ("/chat-protocol/gap-at-start", test_gap_at_start);
  g_test_add_func ("/chat-protocol/duplicate-delivery", test_duplicate_delivery);
  g_test_add_func ("/chat-protocol/ack-contiguous", test_ack_contiguous);
  g_test_add_func ("/chat-protocol/quiet-reconnect", test_quiet_reconnect);
  g_test_add_func ("/chat-protocol/lost-ack", test_lost_ack);
  g_test_add_func ("/chat-protocol/backpressure", test_backpressure);
  g_test_add_func ("/chat-protocol/send-failure", test_send_failure);
  g_test_add_func ("/chat-protocol/keepalive", test_keepalive);
  g_test_add_func ("/chat-protocol/file-frames", test_file_frames);

  return g_test_run ();
}
