/* bench-reconcile.c: two clients diverged by N messages each reconnect; time, bytes and overhead. */
#define G_LOG_DOMAIN "natter-bench"

#include <gst/gst.h>
#include <stdio.h>
#include <string.h>

#include "natter-chat-protocol.h"
#include "natter-client.h"
#include "natter-hlc.h"
#include "natter-store.h"
#include "natter-test-client.h"

#define STEP_TIMEOUT_MS 120000

/* Per message, besides the body: seq (8) + HLC l and c (16) + the author's id. */
#define RAW_FIXED_BYTES (8 + 16)

static const char * const words[] = {
  "lunch", "tomorrow", "the", "train", "is", "late", "again", "see", "you", "at",
  "seven", "did", "you", "get", "my", "photo", "from", "saturday", "ok", "sounds",
  "good", "thanks", "meeting", "moved", "to", "three", "call", "me", "when", "home",
};

typedef struct
{
  char         *dir;
  NatterClient *client;
  gint64        connected_at;   /* monotonic µs of the latest CONNECTED, 0 before */
  guint         synced;
  guint         received;
} Side;

static void
on_session (NatterClient  *client,
            NatterContact *contact,
            int            state,
            Side          *side)
{
  if (state == NATTER_SESSION_CONNECTED)
    side->connected_at = g_get_monotonic_time ();
}

static void
on_synced (NatterClient *client,
           const char   *peer_id,
           Side         *side)
{
  side->synced++;
}

static void
on_received (NatterClient  *client,
             NatterMessage *message,
             Side          *side)
{
  side->received++;
}

static gboolean
side_open (Side              *side,
           NatterTestBroker  *broker,
           GError           **error)
{
  side->client = natter_test_client_open (natter_test_broker_get_url (broker), side->dir, NULL,
                                          error);
  if (side->client == NULL)
    return FALSE;
  natter_client_set_auto_accept (side->client, TRUE);
  g_signal_connect (side->client, "session-state-changed", G_CALLBACK (on_session), side);
  g_signal_connect (side->client, "synced", G_CALLBACK (on_synced), side);
  g_signal_connect (side->client, "message-received", G_CALLBACK (on_received), side);
  side->connected_at = 0;
  side->synced = 0;
  side->received = 0;
  return TRUE;
}

static void
side_close (Side *side)
{
  if (side->client == NULL)
    return;
  g_signal_handlers_disconnect_by_data (side->client, side);
  natter_client_stop (side->client);
  g_clear_object (&side->client);
}

static NatterStore *
side_store (Side *side)
{
  return natter_client_get_store (side->client);
}

/* A chat-like body of about 60 bytes, of ordinary words. */
static char *
make_body (GRand *rand,
           guint  i)
{
  GString *body = g_string_new (NULL);

  g_string_append_printf (body, "#%u ", i);
  while (body->len < 58)
    {
      g_string_append (body, words[g_rand_int_range (rand, 0, G_N_ELEMENTS (words))]);
      g_string_append_c (body, ' ');
    }
  g_string_truncate (body, body->len - 1);
  g_string_append_c (body, g_rand_boolean (rand) ? '?' : '.');
  return g_string_free (body, FALSE);
}

/* Stores one message as NatterClient would have on send, but never sent. */
static gboolean
seed_one (Side        *side,
          const char  *conversation,
          gint64       seq,
          const char  *body,
          guint64     *raw_bytes,
          GError     **error)
{
  const char *me = natter_client_get_peer_id (side->client);
  NatterHlcStamp stamp = natter_hlc_send (natter_client_get_hlc (side->client));
  g_autoptr(NatterMessage) message = NULL;

  message = natter_message_new (NULL, conversation, me, seq, stamp.l, stamp.c, body, NULL,
                                NATTER_MESSAGE_QUEUED, FALSE, stamp.l);
  if (!natter_store_add_message (side_store (side), message, NULL, error))
    return FALSE;
  *raw_bytes += strlen (body) + RAW_FIXED_BYTES + strlen (me);
  return TRUE;
}

typedef struct
{
  Side  *a;
  Side  *b;
  guint  expected;   /* messages each side must receive */
} Wait;

static gboolean
both_signaling (gpointer data)
{
  Wait *wait = data;
  NatterSignalingState sa, sb;

  g_object_get (wait->a->client, "signaling-state", &sa, NULL);
  g_object_get (wait->b->client, "signaling-state", &sb, NULL);
  return sa == NATTER_SIGNALING_CONNECTED && sb == NATTER_SIGNALING_CONNECTED;
}

static gboolean
both_connected (gpointer data)
{
  Wait *wait = data;

  return wait->a->connected_at != 0 && wait->b->connected_at != 0;
}

static gboolean
both_received (gpointer data)
{
  Wait *wait = data;

  return wait->a->received >= wait->expected && wait->b->received >= wait->expected;
}

static gboolean
both_synced (gpointer data)
{
  Wait *wait = data;

  return wait->a->synced > 0 && wait->b->synced > 0;
}

/* Same count, same ids, same order. */
static gboolean
stores_identical (Side        *a,
                  Side        *b,
                  const char  *conversation,
                  guint       *out_count,
                  GError     **error)
{
  g_autoptr(GPtrArray) la = natter_store_list_messages (side_store (a), conversation, 0,
                                                         G_MAXUINT, error);
  g_autoptr(GPtrArray) lb = NULL;

  if (la == NULL)
    return FALSE;
  lb = natter_store_list_messages (side_store (b), conversation, 0, G_MAXUINT, error);
  if (lb == NULL)
    return FALSE;
  *out_count = la->len;
  if (la->len != lb->len)
    return FALSE;
  for (guint i = 0; i < la->len; i++)
    if (!g_str_equal (natter_message_get_id (g_ptr_array_index (la, i)),
                      natter_message_get_id (g_ptr_array_index (lb, i))))
      return FALSE;
  return TRUE;
}

static void
protocol_counts (Side       *side,
                 const char *peer,
                 guint64    *bytes,
                 guint64    *frames)
{
  NatterChatProtocol *protocol = natter_client_get_chat_protocol (side->client, peer);

  *bytes = protocol ? natter_chat_protocol_get_bytes_sent (protocol) : 0;
  *frames = protocol ? natter_chat_protocol_get_frames_sent (protocol) : 0;
}

static gboolean
wait_or_fail (gboolean   (*predicate) (gpointer data),
              Wait        *wait,
              const char  *what)
{
  if (natter_test_wait_until (predicate, wait, STEP_TIMEOUT_MS))
    return TRUE;
  fprintf (stderr, "timed out waiting for %s (received %u / %u, synced %u / %u)\n", what,
           wait->a->received, wait->b->received, wait->a->synced, wait->b->synced);
  return FALSE;
}

static int
run (guint n)
{
  g_autoptr(NatterTestBroker) broker = natter_test_broker_new (NULL);
  g_autoptr(GRand) rand = g_rand_new_with_seed (7);
  g_autoptr(GError) error = NULL;
  g_autofree char *root = natter_test_mkdtemp ("natter-bench-reconcile-XXXXXX");
  g_autofree char *conversation = NULL;
  g_autofree char *a_id = NULL;
  g_autofree char *b_id = NULL;
  Side a = { 0 };
  Side b = { 0 };
  Wait wait = { &a, &b, n };
  guint64 raw_a = 0, raw_b = 0, body_bytes = 0;
  guint64 bytes_a, bytes_b, frames_a, frames_b;
  gint64 t_connected, t_identical, t_synced;
  guint count = 0;
  int status = 1;

  a.dir = g_build_filename (root, "a", NULL);
  b.dir = g_build_filename (root, "b", NULL);
  if (!natter_test_broker_start (broker, &error) ||
      !side_open (&a, broker, &error) || !side_open (&b, broker, &error))
    goto out;
  a_id = g_strdup (natter_client_get_peer_id (a.client));
  b_id = g_strdup (natter_client_get_peer_id (b.client));
  conversation = natter_client_conversation_for (a.client, b_id);

  /* The partition: both wrote n messages the other never saw. */
  if (!natter_store_begin (side_store (&a), &error) || !natter_store_begin (side_store (&b), &error))
    goto out;
  for (guint i = 1; i <= n; i++)
    {
      g_autofree char *body_a = make_body (rand, i);
      g_autofree char *body_b = make_body (rand, i);

      body_bytes += strlen (body_a) + strlen (body_b);
      if (!seed_one (&a, conversation, i, body_a, &raw_a, &error) ||
          !seed_one (&b, conversation, i, body_b, &raw_b, &error))
        goto out;
    }
  if (!natter_store_commit (side_store (&a), &error) ||
      !natter_store_commit (side_store (&b), &error))
    goto out;

  printf ("Reconciliation benchmark: two NatterClients, real mosquitto + webrtcbin on 127.0.0.1\n");
  printf ("  diverged by %u + %u messages, bodies %.1f bytes on average\n", n, n,
          (double) body_bytes / (2.0 * n));
  printf ("  raw size of what is missing = sum over missing messages of\n"
          "    body bytes + 8 (seq) + 16 (hlc l, c) + author id length (%zu)\n"
          "    A->B %" G_GUINT64_FORMAT " B, B->A %" G_GUINT64_FORMAT " B, total %"
          G_GUINT64_FORMAT " B\n", strlen (a_id), raw_a, raw_b, raw_a + raw_b);

  /* Meeting: they become contacts and the first session reconciles. */
  natter_client_start (a.client);
  natter_client_start (b.client);
  if (!wait_or_fail (both_signaling, &wait, "the broker"))
    goto out;
  if (natter_client_add_contact (a.client, b_id, "B", &error) == NULL)
    goto out;
  if (!wait_or_fail (both_connected, &wait, "the session"))
    goto out;
  t_connected = MIN (a.connected_at, b.connected_at);
  if (!wait_or_fail (both_received, &wait, "the messages"))
    goto out;
  t_identical = g_get_monotonic_time ();
  if (!wait_or_fail (both_synced, &wait, "synced"))
    goto out;
  t_synced = g_get_monotonic_time ();
  protocol_counts (&a, b_id, &bytes_a, &frames_a);
  protocol_counts (&b, a_id, &bytes_b, &frames_b);
  if (!stores_identical (&a, &b, conversation, &count, &error) || count != 2 * n)
    {
      fprintf (stderr, "stores differ after the sync (%u messages)\n", count);
      goto out;
    }

  printf ("\nFirst connect (everything missing):\n");
  printf ("  session connected -> both stores identical: %.3f s   (target <= 2 s)\n",
          (t_identical - t_connected) / 1e6);
  printf ("  session connected -> both synced (all acked): %.3f s\n",
          (t_synced - t_connected) / 1e6);
  printf ("  both stores: %u messages, same ids in the same order\n", count);
  printf ("  chat channel bytes sent: A %" G_GUINT64_FORMAT " B in %" G_GUINT64_FORMAT
          " frames, B %" G_GUINT64_FORMAT " B in %" G_GUINT64_FORMAT " frames\n",
          bytes_a, frames_a, bytes_b, frames_b);
  printf ("  ratio bytes sent / raw size: total %.3f (A %.3f, B %.3f)   (target <= 1.3)\n",
          (double) (bytes_a + bytes_b) / (double) (raw_a + raw_b),
          (double) bytes_a / (double) raw_a, (double) bytes_b / (double) raw_b);
  printf ("  (the same, leaving the author id out of the raw size: %.3f)\n",
          (double) (bytes_a + bytes_b) /
          (double) (raw_a + raw_b - 2 * (guint64) n * strlen (a_id)));

  /* B's app restarts: a fresh session with nothing to reconcile. */
  side_close (&b);
  if (!side_open (&b, broker, &error))
    goto out;
  a.connected_at = 0;
  a.synced = 0;
  a.received = 0;
  natter_client_start (b.client);
  if (!wait_or_fail (both_connected, &wait, "the second session") ||
      !wait_or_fail (both_synced, &wait, "the second sync"))
    goto out;
  t_synced = g_get_monotonic_time ();
  t_connected = MIN (a.connected_at, b.connected_at);
  /* Anything sent after "synced" would count too. */
  natter_test_spin (300);
  protocol_counts (&a, b_id, &bytes_a, &frames_a);
  protocol_counts (&b, a_id, &bytes_b, &frames_b);
  if (!stores_identical (&a, &b, conversation, &count, &error) || count != 2 * n)
    {
      fprintf (stderr, "stores differ after the second sync\n");
      goto out;
    }
  printf ("\nReconnect with nothing missing:\n");
  printf ("  session connected -> both synced: %.3f s\n", (t_synced - t_connected) / 1e6);
  printf ("  chat channel bytes sent: A %" G_GUINT64_FORMAT " B in %" G_GUINT64_FORMAT
          " frame(s), B %" G_GUINT64_FORMAT " B in %" G_GUINT64_FORMAT " frame(s)"
          "   (target <= 1024 B each)\n", bytes_a, frames_a, bytes_b, frames_b);
  printf ("  messages received again: A %u, B %u\n", a.received, b.received);
  status = 0;

out:
  if (error != NULL)
    fprintf (stderr, "bench-reconcile: %s\n", error->message);
  side_close (&a);
  side_close (&b);
  natter_test_broker_stop (broker);
  natter_test_rmtree (root);
  g_free (a.dir);
  g_free (b.dir);
  return status;
}

int
main (int   argc,
      char *argv[])
{
  int messages = 10000;
  GOptionEntry entries[] = {
    { "messages", 'm', 0, G_OPTION_ARG_INT, &messages, "Messages each side has that the other lacks", "N" },
    { NULL }
  };
  g_autoptr(GOptionContext) context = g_option_context_new ("— reconciliation after a partition");
  g_autoptr(GError) error = NULL;

  gst_init (&argc, &argv);
  g_option_context_add_main_entries (context, entries, NULL);
  if (!g_option_context_parse (context, &argc, &argv, &error) || messages <= 0)
    {
      fprintf (stderr, "%s\n", error != NULL ? error->message : "--messages must be positive");
      return 2;
    }
  return run ((guint) messages);
}
