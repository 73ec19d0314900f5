/* test-sync.c: partition and crash recovery between a NatterClient and a natter-cli process. */
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>

#include <json-glib/json-glib.h>

#include "natter-client.h"
#include "natter-error.h"
#include "natter-message.h"
#include "natter-store.h"
#include "natter-test-client.h"
#include "natter-test-peer.h"

#define CONNECT_TIMEOUT_MS 60000
#define SYNC_TIMEOUT_MS    90000
#define STEP_TIMEOUT_MS    20000

typedef NatterTestEnv Fixture;

/* The natter-cli executable meson test points at. */
static const char *
cli_path (void)
{
  return g_getenv ("NATTER_CLI");
}

/* ------------------------------------------------------------------------ */
/* B: a `natter-cli run` child, driven by JSON lines                        */
/* ------------------------------------------------------------------------ */

typedef struct
{
  GSubprocess      *process;
  GOutputStream    *input;
  GDataInputStream *output;
  GCancellable     *cancellable;
  char             *profile;
  char             *peer_id;
  GPtrArray        *queued;       /* ids of our messages, in the order written */
  GHashTable       *delivered;    /* ids of ours the peer committed */
  GHashTable       *received;     /* ids of the peer's messages, as announced */
  guint             duplicates;   /* a "message" event for an id seen before */
  guint             synced;
  guint             errors;
  gboolean          connected;
  gboolean          stopped;
  gboolean          eof;
} Cli;

static void cli_read_next (Cli *cli);

static void
cli_handle_event (Cli        *cli,
                  JsonObject *event)
{
  const char *name = json_object_get_string_member_with_default (event, "event", "");

  if (g_str_equal (name, "ready"))
    {
      g_free (cli->peer_id);
      cli->peer_id = g_strdup (json_object_get_string_member (event, "peer_id"));
    }
  else if (g_str_equal (name, "queued"))
    g_ptr_array_add (cli->queued, g_strdup (json_object_get_string_member (event, "id")));
  else if (g_str_equal (name, "delivery"))
    {
      const char *state = json_object_get_string_member (event, "state");

      if (g_str_equal (state, "delivered") || g_str_equal (state, "read"))
        g_hash_table_add (cli->delivered, g_strdup (json_object_get_string_member (event, "id")));
    }
  else if (g_str_equal (name, "message"))
    {
      if (!g_hash_table_add (cli->received, g_strdup (json_object_get_string_member (event, "id"))))
        cli->duplicates++;
    }
  else if (g_str_equal (name, "synced"))
    cli->synced++;
  else if (g_str_equal (name, "session"))
    cli->connected = g_str_equal (json_object_get_string_member (event, "state"), "connected");
  else if (g_str_equal (name, "stopped"))
    cli->stopped = TRUE;
  else if (g_str_equal (name, "error"))
    {
      cli->errors++;
      g_test_message ("natter-cli error: %s",
                      json_object_get_string_member_with_default (event, "message", "?"));
    }
}

static void
cli_line_cb (GObject      *source,
             GAsyncResult *result,
             gpointer      user_data)
{
  Cli *cli = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonParser) parser = NULL;
  g_autofree char *line = NULL;

  line = g_data_input_stream_read_line_finish_utf8 (G_DATA_INPUT_STREAM (source), result, NULL,
                                                    &error);
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return;
  if (line == NULL)
    {
      cli->eof = TRUE;
      return;
    }
  parser = json_parser_new ();
  if (json_parser_load_from_data (parser, line, -1, NULL) &&
      JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser)))
    cli_handle_event (cli, json_node_get_object (json_parser_get_root (parser)));
  else
    g_test_message ("natter-cli printed a line that is not JSON");
  cli_read_next (cli);
}

static void
cli_read_next (Cli *cli)
{
  g_data_input_stream_read_line_async (cli->output, G_PRIORITY_DEFAULT, cli->cancellable,
                                       cli_line_cb, cli);
}

static void
die_with_parent (gpointer data)
{
  prctl (PR_SET_PDEATHSIG, SIGKILL);
}

static gboolean
cli_has_id (gpointer data)
{
  return ((Cli *) data)->peer_id != NULL;
}

/* Starts `natter-cli run` on @profile (created on first use) and waits for "ready". */
static Cli *
cli_start (Fixture    *fixture,
           const char *profile)
{
  g_autoptr(GSubprocessLauncher) launcher = NULL;
  g_autoptr(GError) error = NULL;
  Cli *cli = g_new0 (Cli, 1);

  cli->profile = g_strdup (profile);
  cli->queued = g_ptr_array_new_with_free_func (g_free);
  cli->delivered = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  cli->received = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  cli->cancellable = g_cancellable_new ();

  launcher = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDIN_PIPE |
                                        G_SUBPROCESS_FLAGS_STDOUT_PIPE);
  g_subprocess_launcher_set_child_setup (launcher, die_with_parent, NULL, NULL);
  cli->process = g_subprocess_launcher_spawn (launcher, &error, cli_path (),
                                              "--profile", profile,
                                              "--broker", natter_test_broker_get_url (fixture->broker),
                                              "--ice-address", "127.0.0.1",
                                              "run", "--accept-contacts", NULL);
  g_assert_no_error (error);
  cli->input = g_object_ref (g_subprocess_get_stdin_pipe (cli->process));
  cli->output = g_data_input_stream_new (g_subprocess_get_stdout_pipe (cli->process));
  cli_read_next (cli);
  g_assert_true (natter_test_wait_until (cli_has_id, cli, STEP_TIMEOUT_MS));
  return cli;
}

static void
cli_free (Cli *cli)
{
  g_cancellable_cancel (cli->cancellable);
  if (cli->process != NULL)
    {
      g_subprocess_force_exit (cli->process);
      g_subprocess_wait (cli->process, NULL, NULL);
    }
  g_clear_object (&cli->input);
  g_clear_object (&cli->output);
  g_clear_object (&cli->process);
  g_clear_object (&cli->cancellable);
  g_clear_pointer (&cli->queued, g_ptr_array_unref);
  g_clear_pointer (&cli->delivered, g_hash_table_unref);
  g_clear_pointer (&cli->received, g_hash_table_unref);
  g_free (cli->peer_id);
  g_free (cli->profile);
  g_free (cli);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (Cli, cli_free)

static void
cli_command (Cli        *cli,
             JsonObject *command)
{
  g_autoptr(JsonNode) node = json_node_init_object (json_node_alloc (), command);
  g_autofree char *text = json_to_string (node, FALSE);
  g_autofree char *line = g_strconcat (text, "\n", NULL);
  g_autoptr(GError) error = NULL;

  g_assert_true (g_output_stream_write_all (cli->input, line, strlen (line), NULL, NULL, &error));
  g_assert_no_error (error);
}

static void
cli_send (Cli        *cli,
          const char *to,
          const char *text)
{
  g_autoptr(JsonObject) command = json_object_new ();

  json_object_set_string_member (command, "cmd", "send");
  json_object_set_string_member (command, "to", to);
  json_object_set_string_member (command, "text", text);
  cli_command (cli, command);
}

static gboolean
cli_is_stopped (gpointer data)
{
  return ((Cli *) data)->stopped;
}

static gboolean
cli_at_eof (gpointer data)
{
  return ((Cli *) data)->eof;
}

/* A clean exit: "quit", then wait for the process. */
static void
cli_quit (Cli *cli)
{
  g_autoptr(JsonObject) command = json_object_new ();
  g_autoptr(GError) error = NULL;

  json_object_set_string_member (command, "cmd", "quit");
  cli_command (cli, command);
  g_assert_true (natter_test_wait_until (cli_is_stopped, cli, STEP_TIMEOUT_MS));
  g_assert_true (g_subprocess_wait_check (cli->process, NULL, &error));
  g_assert_no_error (error);
  g_clear_object (&cli->process);
}

/* Waits until the kernel reports the process stopped ('T'), so SIGSTOP has landed. */
static void
cli_wait_state (Cli  *cli,
                char  wanted)
{
  g_autofree char *path = g_strdup_printf ("/proc/%s/stat", g_subprocess_get_identifier (cli->process));
  gint64 deadline = g_get_monotonic_time () + 5 * G_USEC_PER_SEC;

  while (g_get_monotonic_time () < deadline)
    {
      g_autofree char *stat = NULL;
      const char *paren;

      g_assert_true (g_file_get_contents (path, &stat, NULL, NULL));
      paren = strrchr (stat, ')');
      if (paren != NULL && paren[1] == ' ' && paren[2] == wanted)
        return;
      g_usleep (1000);
    }
  g_error ("natter-cli never reached state %c", wanted);
}

typedef struct
{
  char               *id;
  char               *author;
  char               *text;
  NatterMessageState  state;
} Row;

static void
row_free (Row *row)
{
  g_free (row->id);
  g_free (row->author);
  g_free (row->text);
  g_free (row);
}

static NatterMessageState
state_from_name (const char *name)
{
  static const char * const names[] = { "queued", "sent", "delivered", "read" };

  for (guint i = 0; i < G_N_ELEMENTS (names); i++)
    if (g_str_equal (name, names[i]))
      return i;
  g_error ("unknown state");
}

/* `natter-cli history PEER --json` of @profile: what B's store holds, in display order. */
static GPtrArray *
cli_history (const char *profile,
             const char *peer)
{
  g_autoptr(GPtrArray) objects = natter_test_cli_history (profile, peer);
  GPtrArray *rows = g_ptr_array_new_with_free_func ((GDestroyNotify) row_free);

  for (guint i = 0; i < objects->len; i++)
    {
      JsonObject *object = g_ptr_array_index (objects, i);
      Row *row = g_new0 (Row, 1);

      row->id = g_strdup (json_object_get_string_member (object, "id"));
      row->author = g_strdup (json_object_get_string_member (object, "author"));
      row->text = g_strdup (json_object_get_string_member (object, "text"));
      row->state = state_from_name (json_object_get_string_member (object, "state"));
      g_ptr_array_add (rows, row);
    }
  return rows;
}

/* ------------------------------------------------------------------------ */
/* A: a NatterClient in this process                                        */
/* ------------------------------------------------------------------------ */

typedef struct
{
  NatterClient *client;
  char         *peer;          /* B's id */
  char         *conversation;
  guint         synced;
  guint         received;
  int           session_state;
} Local;

static void
local_synced_cb (NatterClient *client,
                 const char   *peer_id,
                 Local        *local)
{
  local->synced++;
}

static void
local_received_cb (NatterClient  *client,
                   NatterMessage *message,
                   Local         *local)
{
  local->received++;
}

static void
local_session_cb (NatterClient  *client,
                  NatterContact *contact,
                  int            state,
                  Local         *local)
{
  local->session_state = state;
}

static Local *
local_new (Fixture    *fixture,
           const char *profile)
{
  g_autoptr(GError) error = NULL;
  Local *local = g_new0 (Local, 1);

  local->client = natter_test_client_open (natter_test_broker_get_url (fixture->broker), profile,
                                           NULL, &error);
  g_assert_no_error (error);
  g_signal_connect (local->client, "synced", G_CALLBACK (local_synced_cb), local);
  g_signal_connect (local->client, "message-received", G_CALLBACK (local_received_cb), local);
  g_signal_connect (local->client, "session-state-changed", G_CALLBACK (local_session_cb), local);
  return local;
}

static void
local_free (Local *local)
{
  g_signal_handlers_disconnect_by_data (local->client, local);
  natter_client_stop (local->client);
  g_clear_object (&local->client);
  g_free (local->peer);
  g_free (local->conversation);
  g_free (local);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (Local, local_free)

static NatterStore *
local_store (Local *local)
{
  return natter_client_get_store (local->client);
}

static gint64
local_count (Local *local)
{
  return natter_store_count_messages (local_store (local), local->conversation, NULL);
}

/* How many of @author's messages the store holds in @state or beyond. */
static guint
local_count_at_least (Local              *local,
                      const char         *author,
                      NatterMessageState  state)
{
  guint n = 0;

  for (NatterMessageState s = state; s <= NATTER_MESSAGE_READ; s++)
    {
      g_autoptr(GPtrArray) messages = natter_store_messages_in_state (local_store (local),
                                                                       local->conversation,
                                                                       author, s, NULL);
      n += messages->len;
    }
  return n;
}

static void
local_send (Local      *local,
            const char *text)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(NatterMessage) message = natter_client_send_message (local->client, local->peer, text,
                                                                 NULL, &error);

  g_assert_no_error (error);
  g_assert_nonnull (message);
}

/* ------------------------------------------------------------------------ */
/* The pair and what "reconciled" means                                     */
/* ------------------------------------------------------------------------ */

typedef struct
{
  Local *a;
  Cli   *b;
  guint  a_own;        /* messages A wrote */
  guint  b_own;        /* messages B wrote */
  guint  a_synced_at;  /* A's synced count when the current phase began */
  guint  b_synced_at;
} Pair;

static gboolean
pair_connected (gpointer data)
{
  Pair *pair = data;

  return pair->a->session_state == NATTER_SESSION_CONNECTED && pair->b->connected &&
         pair->a->synced > pair->a_synced_at && pair->b->synced > pair->b_synced_at;
}

/* Both said "synced" in this phase, and both sides hold and acked everything. */
static gboolean
pair_reconciled (gpointer data)
{
  Pair *pair = data;
  const char *a_id = natter_client_get_peer_id (pair->a->client);

  return pair->a->synced > pair->a_synced_at && pair->b->synced > pair->b_synced_at &&
         local_count (pair->a) == pair->a_own + pair->b_own &&
         local_count_at_least (pair->a, a_id, NATTER_MESSAGE_DELIVERED) == pair->a_own &&
         g_hash_table_size (pair->b->delivered) == pair->b_own &&
         pair->b->queued->len == pair->b_own;
}

static void
wait_reconciled (Pair *pair)
{
  if (natter_test_wait_until (pair_reconciled, pair, SYNC_TIMEOUT_MS))
    return;
  g_test_message ("not reconciled: A synced %u (from %u), holds %" G_GINT64_FORMAT " of %u, "
                  "%u of its %u delivered; B synced %u (from %u), %u of its %u delivered, "
                  "%u queued", pair->a->synced, pair->a_synced_at, local_count (pair->a),
                  pair->a_own + pair->b_own,
                  local_count_at_least (pair->a, natter_client_get_peer_id (pair->a->client),
                                        NATTER_MESSAGE_DELIVERED),
                  pair->a_own, pair->b->synced, pair->b_synced_at,
                  g_hash_table_size (pair->b->delivered), pair->b_own, pair->b->queued->len);
  g_assert_not_reached ();
}

static void
pair_mark_phase (Pair *pair)
{
  pair->a_synced_at = pair->a->synced;
  pair->b_synced_at = pair->b->synced;
}

/* A in this process adds B (running with --accept-contacts); waits for the first sync. */
static void
pair_setup (Fixture *fixture,
            Pair    *pair)
{
  g_autofree char *a_profile = g_build_filename (fixture->dir, "a", NULL);
  g_autofree char *b_profile = g_build_filename (fixture->dir, "b", NULL);
  g_autoptr(GError) error = NULL;

  pair->b = cli_start (fixture, b_profile);
  pair->a = local_new (fixture, a_profile);
  pair->a->peer = g_strdup (pair->b->peer_id);
  pair->a->conversation = natter_client_conversation_for (pair->a->client, pair->b->peer_id);
  natter_client_start (pair->a->client);
  g_assert_nonnull (natter_client_add_contact (pair->a->client, pair->b->peer_id, "B", &error));
  g_assert_no_error (error);
  pair_mark_phase (pair);
  g_assert_true (natter_test_wait_until (pair_connected, pair, CONNECT_TIMEOUT_MS));
}

/* Quits A's client and opens a fresh one on the same profile, not yet online. */
static void
local_relaunch (Fixture *fixture,
                Pair    *pair)
{
  g_autofree char *a_profile = g_build_filename (fixture->dir, "a", NULL);
  g_autofree char *peer = g_steal_pointer (&pair->a->peer);
  g_autofree char *conversation = g_steal_pointer (&pair->a->conversation);

  /* The profile lock goes with the old client. */
  g_clear_pointer (&pair->a, local_free);
  pair->a = local_new (fixture, a_profile);
  pair->a->peer = g_steal_pointer (&peer);
  pair->a->conversation = g_steal_pointer (&conversation);
  pair->a_synced_at = 0;
}

static void
pair_clear (Pair *pair)
{
  g_clear_pointer (&pair->b, cli_free);
  g_clear_pointer (&pair->a, local_free);
}

static void
write_from_a (Pair       *pair,
              const char *tag,
              guint       n)
{
  for (guint i = 0; i < n; i++)
    {
      g_autofree char *text = g_strdup_printf ("A %s %u: the quick brown fox jumps over it", tag, i);

      local_send (pair->a, text);
      pair->a_own++;
    }
}

typedef struct
{
  Cli   *cli;
  guint  n;
} QueuedWait;

static gboolean
queued_reached (gpointer data)
{
  QueuedWait *wait = data;

  return wait->cli->queued->len >= wait->n;
}

static void
write_from_b (Pair       *pair,
              const char *tag,
              guint       n)
{
  QueuedWait wait = { pair->b, 0 };

  for (guint i = 0; i < n; i++)
    {
      g_autofree char *text = g_strdup_printf ("B %s %u: pack my box with five dozen jugs", tag, i);

      cli_send (pair->b, natter_client_get_peer_id (pair->a->client), text);
      pair->b_own++;
    }
  /* Stored by B once it says "queued". */
  wait.n = pair->b_own;
  g_assert_true (natter_test_wait_until (queued_reached, &wait, STEP_TIMEOUT_MS));
}

/* Both histories: same ids in the same order, every message once, each delivered at its author. */
static void
assert_identical_histories (Pair *pair)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) mine = NULL;
  g_autoptr(GPtrArray) theirs = NULL;
  g_autoptr(GHashTable) texts = g_hash_table_new (g_str_hash, g_str_equal);
  const char *a_id = natter_client_get_peer_id (pair->a->client);
  guint a_delivered = 0;
  guint b_delivered = 0;

  mine = natter_store_list_messages (local_store (pair->a), pair->a->conversation, 0, G_MAXUINT,
                                     &error);
  g_assert_no_error (error);
  theirs = cli_history (pair->b->profile, a_id);

  g_test_message ("A holds %u messages, B holds %u (expected %u)", mine->len, theirs->len,
                  pair->a_own + pair->b_own);
  g_assert_cmpuint (mine->len, ==, pair->a_own + pair->b_own);
  g_assert_cmpuint (theirs->len, ==, mine->len);
  for (guint i = 0; i < mine->len; i++)
    {
      NatterMessage *message = g_ptr_array_index (mine, i);
      Row *row = g_ptr_array_index (theirs, i);
      gboolean by_a = g_str_equal (natter_message_get_author (message), a_id);

      g_assert_cmpstr (natter_message_get_id (message), ==, row->id);
      g_assert_cmpstr (natter_message_get_body (message), ==, row->text);
      /* Every text was written once: a second copy would be a duplicate. */
      g_assert_true (g_hash_table_add (texts, (gpointer) natter_message_get_body (message)));
      if (by_a && natter_message_get_state (message) >= NATTER_MESSAGE_DELIVERED)
        a_delivered++;
      if (!by_a && row->state >= NATTER_MESSAGE_DELIVERED)
        b_delivered++;
    }
  g_assert_cmpuint (a_delivered, ==, pair->a_own);
  g_assert_cmpuint (b_delivered, ==, pair->b_own);
  g_assert_cmpuint (pair->b->duplicates, ==, 0);
  g_assert_cmpuint (pair->b->errors, ==, 0);
}

static gboolean
skip_without_cli (Fixture *fixture)
{
  if (cli_path () != NULL && g_file_test (cli_path (), G_FILE_TEST_IS_EXECUTABLE))
    return FALSE;
  g_test_skip ("NATTER_CLI does not name the natter-cli executable");
  return TRUE;
}

/* ------------------------------------------------------------------------ */
/* Tests                                                                    */
/* ------------------------------------------------------------------------ */

/* Apart, both write 200; on reconnect both hold the same 420 in the same order. */
static void
test_partition (Fixture       *fixture,
                gconstpointer  data)
{
  Pair pair = { 0 };
  gint64 start;

  if (skip_without_cli (fixture))
    return;
  pair_setup (fixture, &pair);

  write_from_a (&pair, "before", 10);
  write_from_b (&pair, "before", 10);
  wait_reconciled (&pair);

  /* B freezes. A keeps writing into a session whose far end no longer reads. */
  g_assert_true (kill (g_ascii_strtoll (g_subprocess_get_identifier (pair.b->process), NULL, 10),
                       SIGSTOP) == 0);
  cli_wait_state (pair.b, 'T');
  write_from_a (&pair, "apart", 100);
  natter_test_spin (200);
  /* Then A quits, and is launched again offline to write the rest. */
  local_relaunch (fixture, &pair);
  write_from_a (&pair, "offline", 100);
  g_assert_cmpuint (local_count_at_least (pair.a, natter_client_get_peer_id (pair.a->client),
                                          NATTER_MESSAGE_DELIVERED), ==, 10);

  /* B thaws and writes 200 of its own while A is away. */
  g_subprocess_send_signal (pair.b->process, SIGCONT);
  write_from_b (&pair, "apart", 200);
  g_assert_cmpint (local_count (pair.a), ==, 20 + 200);

  /* A returns: both reconcile. */
  pair_mark_phase (&pair);
  start = g_get_monotonic_time ();
  natter_client_start (pair.a->client);
  wait_reconciled (&pair);
  g_test_message ("partition healed in %.2f s (broker, session and sync)",
                  (g_get_monotonic_time () - start) / 1e6);

  cli_quit (pair.b);
  assert_identical_histories (&pair);
  pair_clear (&pair);
}

/* B is killed right after writing; restarted, it reconciles without loss or duplicates. */
static void
test_restart (Fixture       *fixture,
              gconstpointer  data)
{
  Pair pair = { 0 };
  g_autofree char *b_profile = NULL;
  guint b_received_before;

  if (skip_without_cli (fixture))
    return;
  pair_setup (fixture, &pair);
  b_profile = g_strdup (pair.b->profile);

  write_from_a (&pair, "before", 5);
  write_from_b (&pair, "before", 5);
  wait_reconciled (&pair);

  /* B dies the moment its last message is stored, with A's newest still
   * on the way to it. */
  write_from_b (&pair, "last words", 20);
  write_from_a (&pair, "crossing", 20);
  g_subprocess_send_signal (pair.b->process, SIGKILL);
  g_assert_false (g_subprocess_wait_check (pair.b->process, NULL, NULL));
  /* What it printed before dying still counts: read to the end. */
  g_assert_true (natter_test_wait_until (cli_at_eof, pair.b, STEP_TIMEOUT_MS));
  g_test_message ("at the kill, %u of B's 25 and %u of A's 25 were acknowledged",
                  g_hash_table_size (pair.b->delivered),
                  local_count_at_least (pair.a, natter_client_get_peer_id (pair.a->client),
                                        NATTER_MESSAGE_DELIVERED));
  b_received_before = g_hash_table_size (pair.b->received);

  /* A writes on while B is dead. */
  write_from_a (&pair, "after", 10);

  {
    g_autoptr(Cli) old = g_steal_pointer (&pair.b);

    GHashTableIter iter;
    gpointer id;

    pair.b = cli_start (fixture, b_profile);
    /* The new process reports only what changes from now on: carry over
     * what the killed one said (its acks, its stored messages). */
    g_ptr_array_extend_and_steal (pair.b->queued, g_steal_pointer (&old->queued));
    g_hash_table_iter_init (&iter, old->delivered);
    while (g_hash_table_iter_next (&iter, &id, NULL))
      g_hash_table_add (pair.b->delivered, g_strdup (id));
    /* A message announced by both processes would count as a duplicate. */
    g_hash_table_iter_init (&iter, old->received);
    while (g_hash_table_iter_next (&iter, &id, NULL))
      g_hash_table_add (pair.b->received, g_strdup (id));
    g_clear_object (&old->process);
  }
  pair_mark_phase (&pair);
  pair.b_synced_at = 0;
  wait_reconciled (&pair);
  cli_quit (pair.b);
  g_test_message ("B announced %u of A's messages before the kill, %u after the restart",
                  b_received_before, g_hash_table_size (pair.b->received) - b_received_before);

  assert_identical_histories (&pair);
  pair_clear (&pair);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add ("/sync/partition", Fixture, NULL, natter_test_env_setup, test_partition,
              natter_test_env_teardown);
  g_test_add ("/sync/restart", Fixture, NULL, natter_test_env_setup, test_restart,
              natter_test_env_teardown);

  return g_test_run ();
}
