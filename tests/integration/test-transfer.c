/* test-transfer.c: file transfer end to end: real broker, real webrtcbin sessions, real files. */
#define G_LOG_DOMAIN "natter-test-transfer"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib/gstdio.h>
#include <gst/gst.h>
#include <sodium.h>

#include "natter-channel.h"
#include "natter-chat-protocol.h"
#include "natter-client.h"
#include "natter-error.h"
#include "natter-store.h"
#include "natter-transfer-io.h"
#include "natter-test-broker.h"
#include "natter-test-client.h"
#include "natter-test-peer.h"

#define MIB (1024 * 1024)
#define CONNECT_TIMEOUT_MS  30000
/* Generous: a loaded 2-core machine under AddressSanitizer. */
#define TRANSFER_TIMEOUT_MS 240000

/* NATTER_TEST_QUICK=1 shrinks the big files 8× (e.g. under AddressSanitizer on a slow machine). */
static guint64
big (guint64 mebibytes)
{
  return (g_getenv ("NATTER_TEST_QUICK") != NULL ? MAX (mebibytes / 8, 2) : mebibytes) * MIB;
}

/* The broker and a temp dir of every test here. */
typedef NatterTestEnv Fixture;

typedef struct
{
  char         *name;
  char         *profile;
  char         *downloads;
  NatterClient *client;
} Client;

static Client *
client_new (Fixture    *fixture,
            const char *name)
{
  g_autoptr(GError) error = NULL;
  Client *c = g_new0 (Client, 1);

  c->name = g_strdup (name);
  c->profile = g_build_filename (fixture->dir, name, NULL);
  c->downloads = g_strconcat (c->profile, "-downloads", NULL);
  c->client = natter_test_client_open (natter_test_broker_get_url (fixture->broker), c->profile,
                                       name, &error);
  g_assert_no_error (error);
  natter_client_set_auto_accept (c->client, TRUE);
  natter_test_client_start (c->client);
  return c;
}

static void
client_free (Client *c)
{
  g_clear_object (&c->client);
  g_free (c->downloads);
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
connected_to (NatterClient *client,
              const char   *peer_id)
{
  NatterPeerSession *session = natter_client_get_session (client, peer_id);
  NatterContact *contact = natter_client_lookup_contact (client, peer_id);

  return contact != NULL && natter_contact_get_state (contact) == NATTER_CONTACT_ACCEPTED &&
         session != NULL && natter_peer_session_get_state (session) == NATTER_SESSION_CONNECTED &&
         natter_client_get_chat_protocol (client, peer_id) != NULL;
}

/* A asks, B (auto-accepting) agrees, both connect. */
static void
make_contacts (Client *a,
               Client *b)
{
  g_autoptr(GError) error = NULL;

  g_assert_nonnull (natter_client_add_contact (a->client, id_of (b), b->name, &error));
  g_assert_no_error (error);
  NATTER_TEST_WAIT_FOR (connected_to (a->client, id_of (b)) && connected_to (b->client, id_of (a)),
            CONNECT_TIMEOUT_MS);
}

/* Deterministic pseudo-random bytes (xorshift64*), fast enough for 256 MiB. */
static char *
write_random_file (const char *path,
                   guint64     size,
                   guint64     seed)
{
  g_autofree guint64 *block = g_malloc (MIB);
  crypto_hash_sha256_state state;
  guint8 digest[32];
  char hex[65];
  guint64 x = seed * 2654435761u + 1;
  FILE *file = fopen (path, "wb");

  g_assert_nonnull (file);
  crypto_hash_sha256_init (&state);
  for (guint64 done = 0; done < size;)
    {
      gsize n = MIN ((guint64) MIB, size - done);

      for (gsize i = 0; i < MIB / 8; i++)
        {
          x ^= x >> 12;
          x ^= x << 25;
          x ^= x >> 27;
          block[i] = x * 0x2545F4914F6CDD1DULL;
        }
      g_assert_cmpuint (fwrite (block, 1, n, file), ==, n);
      crypto_hash_sha256_update (&state, (guint8 *) block, n);
      done += n;
    }
  g_assert_cmpint (fclose (file), ==, 0);
  crypto_hash_sha256_final (&state, digest);
  sodium_bin2hex (hex, sizeof hex, digest, sizeof digest);
  return g_strdup (hex);
}

static char *
sha256_of (const char *path)
{
  g_autoptr(GError) error = NULL;
  char *hex = NULL;
  guint64 size;
  gint64 mtime;

  g_assert_true (natter_transfer_hash_file (path, NULL, &hex, &size, &mtime, &error));
  g_assert_no_error (error);
  return hex;
}

static NatterTransfer *
send_file (Client     *from,
           Client     *to,
           const char *path)
{
  g_autoptr(GFile) file = g_file_new_for_path (path);
  g_autoptr(GError) error = NULL;
  NatterTransfer *transfer = natter_client_send_file (from->client, id_of (to), file, &error);

  g_assert_no_error (error);
  g_assert_nonnull (transfer);
  return transfer;
}

/* The incoming side of @id at @c, once its offer arrived. */
static NatterTransfer *
incoming (Client     *c,
          const char *id)
{
  NATTER_TEST_WAIT_FOR (natter_client_lookup_transfer (c->client, id) != NULL, CONNECT_TIMEOUT_MS);
  return natter_client_lookup_transfer (c->client, id);
}

static const char *
state_name (NatterTransfer *t)
{
  return natter_transfer_state_to_string (natter_transfer_get_state (t));
}

static void
assert_done (NatterTransfer *t)
{
  if (natter_transfer_get_state (t) != NATTER_TRANSFER_DONE)
    g_test_message ("transfer %s is %s: %s", natter_transfer_get_id (t), state_name (t),
                    natter_transfer_get_error (t));
  g_assert_cmpstr (state_name (t), ==, "done");
}

static gboolean
is_final_or_failed (NatterTransfer *t)
{
  NatterTransferState state = natter_transfer_get_state (t);

  return natter_transfer_state_is_final (state) || state == NATTER_TRANSFER_FAILED;
}

/* ------------------------------------------------------------------------ */
/* 1. One big file                                                           */
/* ------------------------------------------------------------------------ */

static void
test_basic (Fixture       *fixture,
            gconstpointer  data)
{
  g_autoptr(Client) a = client_new (fixture, "alice");
  g_autoptr(Client) b = client_new (fixture, "bob");
  g_autofree char *source = g_build_filename (fixture->dir, "random.bin", NULL);
  g_autofree char *expected = NULL;
  g_autofree char *received_sha = NULL;
  g_autoptr(NatterTransfer) out = NULL;
  g_autoptr(GPtrArray) stored = NULL;
  g_autoptr(GError) error = NULL;
  NatterTransfer *in;
  guint64 size = big (64);
  gint64 start;
  double seconds;

  make_contacts (a, b);
  expected = write_random_file (source, size, 1);
  natter_client_set_auto_accept_files (b->client, b->downloads);

  start = g_get_monotonic_time ();
  out = send_file (a, b, source);
  in = incoming (b, natter_transfer_get_id (out));
  g_assert_cmpint (natter_transfer_get_direction (in), ==, NATTER_TRANSFER_INCOMING);
  g_assert_cmpstr (natter_transfer_get_file_name (in), ==, "random.bin");
  g_assert_cmpuint (natter_transfer_get_size (in), ==, size);
  g_assert_cmpstr (natter_transfer_get_sha256 (in), ==, expected);
  NATTER_TEST_WAIT_FOR (is_final_or_failed (in) && is_final_or_failed (out), TRANSFER_TIMEOUT_MS);
  seconds = (g_get_monotonic_time () - start) / 1e6;
  assert_done (in);
  assert_done (out);
  g_test_message ("%" G_GUINT64_FORMAT " MiB in %.2f s (%.1f MB/s, hashing included)",
                  size / MIB, seconds, size / seconds / 1e6);

  /* The file is in the download folder under its own name, and verifies. */
  g_assert_true (g_str_has_prefix (natter_transfer_get_path (in), b->downloads));
  received_sha = sha256_of (natter_transfer_get_path (in));
  g_assert_cmpstr (received_sha, ==, expected);
  g_assert_cmpuint (natter_transfer_get_bytes_done (in), ==, size);
  g_assert_cmpuint (natter_transfer_get_bytes_done (out), ==, size);

  /* History: one transfer row on each side, in the conversation's timeline. */
  stored = natter_store_list_transfers (natter_client_get_store (b->client), NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (stored->len, ==, 1);
  g_assert_cmpint (natter_transfer_get_state (stored->pdata[0]), ==, NATTER_TRANSFER_DONE);
  g_assert_cmpstr (natter_transfer_get_path (stored->pdata[0]), ==, natter_transfer_get_path (in));
}

/* ------------------------------------------------------------------------ */
/* 2. Five at once, both directions, while chatting                          */
/* ------------------------------------------------------------------------ */

typedef struct
{
  Client    *from;
  Client    *to;
  GPtrArray *messages;     /* NatterMessage */
  GArray    *sent_at;      /* gint64 µs */
  GArray    *latency;      /* gint64 µs, per delivered message */
  GHashTable *delivered;   /* id → index */
} Chatter;

static void
chat_delivered_cb (NatterClient       *client,
                   const char         *id,
                   NatterMessageState  state,
                   Chatter            *chat)
{
  if (state != NATTER_MESSAGE_DELIVERED || g_hash_table_contains (chat->delivered, id))
    return;
  for (guint i = 0; i < chat->messages->len; i++)
    if (g_str_equal (natter_message_get_id (chat->messages->pdata[i]), id))
      {
        gint64 latency = g_get_monotonic_time () - g_array_index (chat->sent_at, gint64, i);

        g_array_append_val (chat->latency, latency);
        g_hash_table_add (chat->delivered, g_strdup (id));
      }
}

static void
chat_say (Chatter *chat)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *text = g_strdup_printf ("while the files fly %u", chat->messages->len);
  NatterMessage *message = natter_client_send_message (chat->from->client, id_of (chat->to), text,
                                                       NULL, &error);
  gint64 now = g_get_monotonic_time ();

  g_assert_no_error (error);
  g_ptr_array_add (chat->messages, message);
  g_array_append_val (chat->sent_at, now);
}

static gboolean
any_active (GPtrArray *transfers)
{
  for (guint i = 0; i < transfers->len; i++)
    if (natter_transfer_get_state (transfers->pdata[i]) == NATTER_TRANSFER_ACTIVE)
      return TRUE;
  return FALSE;
}

static gboolean
all_settled (GPtrArray *transfers)
{
  for (guint i = 0; i < transfers->len; i++)
    if (!is_final_or_failed (transfers->pdata[i]))
      return FALSE;
  return TRUE;
}

static void
test_concurrent (Fixture       *fixture,
                 gconstpointer  data)
{
  g_autoptr(Client) a = client_new (fixture, "alice");
  g_autoptr(Client) b = client_new (fixture, "bob");
  g_autoptr(GPtrArray) outs = g_ptr_array_new_with_free_func (g_object_unref);
  g_autoptr(GPtrArray) ins = g_ptr_array_new ();
  g_autoptr(GPtrArray) all = g_ptr_array_new ();
  g_autoptr(GPtrArray) hashes = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GHashTable) names = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  Chatter chat = { a, b, g_ptr_array_new_with_free_func (g_object_unref),
                   g_array_new (FALSE, FALSE, sizeof (gint64)),
                   g_array_new (FALSE, FALSE, sizeof (gint64)),
                   g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL) };
  guint64 size = big (16);
  guint said_while_active = 0;
  gint64 max_latency = 0;

  make_contacts (a, b);
  natter_client_set_auto_accept_files (a->client, a->downloads);
  natter_client_set_auto_accept_files (b->client, b->downloads);
  g_signal_connect (a->client, "message-state-changed", G_CALLBACK (chat_delivered_cb), &chat);

  /* Three from Alice (two with the same name), two from Bob, sizes apart. */
  for (guint i = 0; i < 5; i++)
    {
      gboolean from_a = i < 3;
      g_autofree char *dir = g_strdup_printf ("%s/src%u", fixture->dir, i);
      g_autofree char *path = g_build_filename (dir, i < 2 ? "same.bin" : "other.bin", NULL);

      g_assert_cmpint (g_mkdir_with_parents (dir, 0700), ==, 0);
      g_ptr_array_add (hashes, write_random_file (path, size + i * 12345, 10 + i));
      g_ptr_array_add (outs, send_file (from_a ? a : b, from_a ? b : a, path));
    }
  for (guint i = 0; i < 5; i++)
    {
      NatterTransfer *out = outs->pdata[i];

      g_ptr_array_add (ins, incoming (i < 3 ? b : a, natter_transfer_get_id (out)));
      g_ptr_array_add (all, out);
      g_ptr_array_add (all, ins->pdata[i]);
    }

  /* Chat every 100 ms while files are in flight. */
  while (!all_settled (all))
    {
      if (any_active (all))
        {
          chat_say (&chat);
          said_while_active++;
        }
      natter_test_spin (100);
    }
  for (guint i = 0; i < 5; i++)
    {
      NatterTransfer *in = ins->pdata[i];
      g_autofree char *sha = NULL;

      assert_done (outs->pdata[i]);
      assert_done (in);
      sha = sha256_of (natter_transfer_get_path (in));
      g_assert_cmpstr (sha, ==, hashes->pdata[i]);
      g_hash_table_add (names, g_path_get_basename (natter_transfer_get_path (in)));
    }
  /* Same name twice: the second one did not overwrite the first. */
  g_assert_true (g_hash_table_contains (names, "same.bin"));
  g_assert_true (g_hash_table_contains (names, "same (1).bin"));

  NATTER_TEST_WAIT_FOR (g_hash_table_size (chat.delivered) == chat.messages->len, 20000);
  for (guint i = 0; i < chat.latency->len; i++)
    max_latency = MAX (max_latency, g_array_index (chat.latency, gint64, i));
  g_test_message ("%u messages while transferring 5 files; slowest delivery %.0f ms",
                  said_while_active, max_latency / 1000.0);
  g_assert_cmpuint (said_while_active, >, 0);
  /* Chat never waits behind file data (its own channel). */
  g_assert_cmpint (max_latency, <, 3 * G_USEC_PER_SEC);

  g_signal_handlers_disconnect_by_data (a->client, &chat);
  g_ptr_array_unref (chat.messages);
  g_array_unref (chat.sent_at);
  g_array_unref (chat.latency);
  g_hash_table_unref (chat.delivered);
}

/* ------------------------------------------------------------------------ */
/* 3. The receiver is killed three times                                     */
/* ------------------------------------------------------------------------ */

static NatterTestPeer *
spawn_receiver (Fixture    *fixture,
                const char *profile,
                const char *downloads)
{
  const char *args[] = { "--accept-contacts", "--accept-files", downloads, NULL };
  g_autoptr(GError) error = NULL;
  NatterTestPeer *peer = natter_test_peer_spawn (profile,
                                                 natter_test_broker_get_url (fixture->broker),
                                                 args, &error);

  g_assert_no_error (error);
  return peer;
}

static gint64
event_int (JsonObject *event,
           const char *member)
{
  return json_object_get_int_member_with_default (event, member, -1);
}

typedef struct
{
  NatterTestPeer *peer;
  const char     *event;
  const char     *id;
  gint64          min_bytes;
  JsonObject     *found;
} ProgressWait;

static gboolean
progress_seen (gpointer data)
{
  ProgressWait *wait = data;

  for (guint i = 0; i < natter_test_peer_get_n_events (wait->peer); i++)
    {
      JsonObject *e = natter_test_peer_get_event (wait->peer, i);

      if (g_strcmp0 (json_object_get_string_member_with_default (e, "event", ""), wait->event) == 0 &&
          g_strcmp0 (json_object_get_string_member_with_default (e, "id", ""), wait->id) == 0 &&
          event_int (e, "bytes") >= wait->min_bytes)
        {
          wait->found = e;
          return TRUE;
        }
    }
  return FALSE;
}

static char *
find_partial (const char *dir)
{
  g_autoptr(GDir) d = g_dir_open (dir, 0, NULL);
  const char *name;

  while (d != NULL && (name = g_dir_read_name (d)) != NULL)
    if (g_str_has_suffix (name, ".part"))
      return g_build_filename (dir, name, NULL);
  return NULL;
}

static guint64
file_size (const char *path)
{
  struct stat st;

  g_assert_cmpint (g_stat (path, &st), ==, 0);
  return st.st_size;
}

static void
test_kill_resume (Fixture       *fixture,
                  gconstpointer  data)
{
  g_autoptr(Client) a = client_new (fixture, "alice");
  g_autofree char *profile = g_build_filename (fixture->dir, "bob", NULL);
  g_autofree char *downloads = g_build_filename (fixture->dir, "bob-downloads", NULL);
  g_autofree char *source = g_build_filename (fixture->dir, "random.bin", NULL);
  g_autofree char *expected = NULL;
  g_autofree char *received = NULL;
  g_autoptr(NatterTestPeer) bob = NULL;
  g_autoptr(NatterTransfer) out = NULL;
  g_autoptr(GRand) rand = g_rand_new ();
  const char *bob_id;
  const char *id;
  JsonObject *done;
  guint64 size = big (64);
  guint64 refetched_total = 0;

  bob = spawn_receiver (fixture, profile, downloads);
  bob_id = natter_test_peer_get_peer_id (bob);
  g_assert_nonnull (natter_client_add_contact (a->client, bob_id, "Bob", NULL));
  NATTER_TEST_WAIT_FOR (connected_to (a->client, bob_id), CONNECT_TIMEOUT_MS);

  expected = write_random_file (source, size, 3);
  {
    g_autoptr(GFile) file = g_file_new_for_path (source);

    out = natter_client_send_file (a->client, bob_id, file, NULL);
    g_assert_nonnull (out);
  }
  id = natter_transfer_get_id (out);

  for (guint kill = 0; kill < 3; kill++)
    {
      /* A random point in the kill's own third of the file. */
      ProgressWait wait = { bob, "transfer-progress", id,
                            (gint64) (size * g_rand_double_range (rand, 0.05 + 0.3 * kill,
                                                                  0.25 + 0.3 * kill)), NULL };
      g_autofree char *partial = NULL;
      guint64 on_disk;
      JsonObject *resume;
      gint64 offset, found;

      g_assert_true (natter_test_wait_until (progress_seen, &wait, TRANSFER_TIMEOUT_MS));
      natter_test_spin (g_rand_int_range (rand, 0, 60));
      natter_test_peer_kill (bob);
      g_clear_pointer (&bob, natter_test_peer_free);

      partial = find_partial (downloads);
      g_assert_nonnull (partial);
      on_disk = file_size (partial);

      bob = spawn_receiver (fixture, profile, downloads);
      resume = natter_test_peer_wait_event (bob, 0, "transfer-resume", "id", id, CONNECT_TIMEOUT_MS * 2);
      g_assert_nonnull (resume);
      offset = event_int (resume, "offset");
      found = event_int (resume, "found");
      g_test_message ("kill %u at %.1f MiB on disk: resumed at %" G_GINT64_FORMAT
                      ", re-fetching %" G_GUINT64_FORMAT " bytes", kill + 1,
                      on_disk / (double) MIB, offset, on_disk - offset);
      /* What the killed process wrote is what the new one found… */
      g_assert_cmpint (found, ==, (gint64) on_disk);
      g_assert_cmpint (offset, <=, found);
      g_assert_cmpint (offset % NATTER_TRANSFER_CHUNK_SIZE, ==, 0);
      /* …and at most one chunk of it (the one without its checkpoint) is fetched again. */
      g_assert_cmpint (found - offset, <=, NATTER_TRANSFER_CHUNK_SIZE);
      refetched_total += found - offset;
    }

  done = natter_test_peer_wait_event (bob, 0, "transfer-done", "id", id, TRANSFER_TIMEOUT_MS);
  g_assert_nonnull (done);
  g_assert_cmpstr (json_object_get_string_member (done, "sha256"), ==, expected);
  received = sha256_of (json_object_get_string_member (done, "path"));
  g_assert_cmpstr (received, ==, expected);
  NATTER_TEST_WAIT_FOR (is_final_or_failed (out), CONNECT_TIMEOUT_MS);
  assert_done (out);
  g_assert_null (find_partial (downloads));
  g_test_message ("3 kills: %" G_GUINT64_FORMAT " bytes written twice by the receiver; the "
                  "sender sent %" G_GUINT64_FORMAT " bytes for a %" G_GUINT64_FORMAT
                  "-byte file (lost in flight included)",
                  refetched_total, natter_transfer_manager_get_bytes_sent (
                    natter_client_get_transfer_manager (a->client)), size);
  g_assert_cmpuint (natter_test_peer_get_n_stray_lines (bob), ==, 0);
}

/* ------------------------------------------------------------------------ */
/* 4. Pause, corruption while paused, resume; cancel                         */
/* ------------------------------------------------------------------------ */

typedef struct
{
  gint64 offset;
  gint64 found;
  guint  count;
} Verified;

static void
verified_cb (NatterTransfer *transfer,
             gint64          offset,
             gint64          found,
             Verified       *v)
{
  v->offset = offset;
  v->found = found;
  v->count++;
}

static void
flip_byte (const char *path,
           guint64     offset)
{
  int fd = g_open (path, O_RDWR, 0);
  guint8 byte;

  g_assert_cmpint (fd, >=, 0);
  g_assert_cmpint (pread (fd, &byte, 1, offset), ==, 1);
  byte ^= 0x5a;
  g_assert_cmpint (pwrite (fd, &byte, 1, offset), ==, 1);
  close (fd);
}

static void
test_pause_corrupt (Fixture       *fixture,
                    gconstpointer  data)
{
  g_autoptr(Client) a = client_new (fixture, "alice");
  g_autoptr(Client) b = client_new (fixture, "bob");
  g_autofree char *source = g_build_filename (fixture->dir, "random.bin", NULL);
  g_autofree char *second = g_build_filename (fixture->dir, "second.bin", NULL);
  g_autofree char *expected = NULL;
  g_autofree char *received = NULL;
  g_autofree char *partial = NULL;
  g_autoptr(NatterTransfer) out = NULL;
  g_autoptr(NatterTransfer) out2 = NULL;
  g_autoptr(GError) error = NULL;
  Verified v = { -1, -1, 0 };
  NatterTransfer *in;
  NatterTransfer *in2;
  guint64 size = big (64);
  guint64 flip_at = NATTER_TRANSFER_CHUNK_SIZE * 5 + 1234;
  guint64 paused_at;

  make_contacts (a, b);
  natter_client_set_auto_accept_files (b->client, b->downloads);
  expected = write_random_file (source, size, 4);
  out = send_file (a, b, source);
  in = incoming (b, natter_transfer_get_id (out));
  g_signal_connect (in, "verified", G_CALLBACK (verified_cb), &v);

  /* The receiver pauses; the sender follows. */
  NATTER_TEST_WAIT_FOR (natter_transfer_get_bytes_done (in) >= size / 3, TRANSFER_TIMEOUT_MS);
  g_assert_true (natter_client_pause_transfer (b->client, in, &error));
  g_assert_no_error (error);
  NATTER_TEST_WAIT_FOR (natter_transfer_get_state (out) == NATTER_TRANSFER_PAUSED, 10000);
  natter_test_spin (300);
  g_assert_cmpint (natter_transfer_get_state (in), ==, NATTER_TRANSFER_PAUSED);
  partial = find_partial (b->downloads);
  g_assert_nonnull (partial);
  paused_at = file_size (partial);
  g_assert_cmpuint (paused_at, <, size);

  /* Bytes flipped on disk while paused… */
  flip_byte (partial, flip_at);
  v.count = 0;

  /* …are found when the sender resumes: the receiver re-verifies and asks
   * again from the damaged chunk. */
  g_assert_true (natter_client_resume_transfer (a->client, out, &error));
  g_assert_no_error (error);
  NATTER_TEST_WAIT_FOR (v.count > 0, CONNECT_TIMEOUT_MS);
  g_test_message ("paused at %" G_GUINT64_FORMAT " bytes; flipped byte %" G_GUINT64_FORMAT
                  "; resumed from %" G_GINT64_FORMAT, paused_at, flip_at, v.offset);
  g_assert_cmpint (v.found, ==, (gint64) paused_at);
  g_assert_cmpint (v.offset, ==, flip_at / NATTER_TRANSFER_CHUNK_SIZE * NATTER_TRANSFER_CHUNK_SIZE);
  NATTER_TEST_WAIT_FOR (is_final_or_failed (in) && is_final_or_failed (out), TRANSFER_TIMEOUT_MS);
  assert_done (in);
  assert_done (out);
  received = sha256_of (natter_transfer_get_path (in));
  g_assert_cmpstr (received, ==, expected);

  /* The sender pauses, the receiver resumes, then the sender cancels. */
  write_random_file (second, big (32), 5);
  out2 = send_file (a, b, second);
  in2 = incoming (b, natter_transfer_get_id (out2));
  NATTER_TEST_WAIT_FOR (natter_transfer_get_bytes_done (in2) > 0, TRANSFER_TIMEOUT_MS);
  g_assert_true (natter_client_pause_transfer (a->client, out2, &error));
  NATTER_TEST_WAIT_FOR (natter_transfer_get_state (in2) == NATTER_TRANSFER_PAUSED, 10000);
  g_assert_true (natter_client_resume_transfer (b->client, in2, &error));
  g_assert_no_error (error);
  NATTER_TEST_WAIT_FOR (natter_transfer_get_state (out2) == NATTER_TRANSFER_ACTIVE, 10000);
  g_assert_true (natter_client_cancel_transfer (a->client, out2, &error));
  g_assert_no_error (error);
  NATTER_TEST_WAIT_FOR (natter_transfer_get_state (in2) == NATTER_TRANSFER_CANCELLED, 10000);
  g_assert_cmpint (natter_transfer_get_state (out2), ==, NATTER_TRANSFER_CANCELLED);
  /* A cancelled download leaves nothing behind. */
  g_assert_null (find_partial (b->downloads));
  g_assert_false (natter_client_resume_transfer (a->client, out2, NULL));
}

/* ------------------------------------------------------------------------ */
/* 5. Hostile offers and data                                                */
/* ------------------------------------------------------------------------ */

typedef struct
{
  GHashTable *answers;   /* id → JsonObject (the last file frame about it) */
} Spy;

static void
spy_frame_cb (NatterChatProtocol *protocol,
              const char         *conversation,
              JsonObject         *object,
              Spy                *spy)
{
  const char *id = json_object_get_string_member_with_default (object, "id", "");

  g_hash_table_replace (spy->answers, g_strdup (id), json_object_ref (object));
}

static const char *
answer_op (Spy        *spy,
           const char *id)
{
  JsonObject *answer = g_hash_table_lookup (spy->answers, id);

  return answer ? json_object_get_string_member_with_default (answer, "op", NULL) : NULL;
}

static char *
sha256_of_bytes (const char *data,
                 gsize       len)
{
  guint8 digest[32];
  char hex[65];

  crypto_hash_sha256 (digest, (const guint8 *) data, len);
  sodium_bin2hex (hex, sizeof hex, digest, sizeof digest);
  return g_strdup (hex);
}

/* Sends a hand-made offer from @a to @b; @extra members override the defaults. */
static void
raw_frame (Client     *a,
           Client     *b,
           JsonObject *fields)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *conv = natter_client_conversation_for (a->client, id_of (b));
  NatterChatProtocol *protocol = natter_client_get_chat_protocol (a->client, id_of (b));

  g_assert_nonnull (protocol);
  g_assert_true (natter_chat_protocol_send_file (protocol, conv, fields, &error));
  g_assert_no_error (error);
}

static JsonObject *
offer_fields (const char *id,
              const char *name,
              gint64      size,
              const char *sha256)
{
  JsonObject *fields = json_object_new ();
  JsonArray *hlc = json_array_new ();

  json_object_set_string_member (fields, "op", "offer");
  json_object_set_string_member (fields, "id", id);
  json_object_set_string_member (fields, "name", name);
  json_object_set_int_member (fields, "size", size);
  json_object_set_string_member (fields, "mime", "text/plain");
  json_object_set_string_member (fields, "sha256", sha256);
  json_object_set_int_member (fields, "chunk", NATTER_TRANSFER_CHUNK_SIZE);
  json_array_add_int_element (hlc, g_get_real_time () / 1000);
  json_array_add_int_element (hlc, 0);
  json_object_set_array_member (fields, "hlc", hlc);
  return fields;
}

static NatterChannel *
raw_channel (Client     *a,
             Client     *b,
             const char *id)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *label = g_strconcat ("file/", id, NULL);
  NatterChannel *channel = natter_peer_session_create_channel (
    natter_client_get_session (a->client, id_of (b)), label, &error);

  g_assert_no_error (error);
  NATTER_TEST_WAIT_FOR (natter_channel_get_state (channel) != NATTER_CHANNEL_CONNECTING, 10000);
  return channel;
}

static void
raw_data (NatterChannel *channel,
          guint8         kind,
          guint64        offset,
          const char    *payload,
          gsize          len)
{
  g_autoptr(GError) error = NULL;
  g_autofree guint8 *frame = g_malloc (NATTER_TRANSFER_HEADER_SIZE + len);
  g_autoptr(GBytes) bytes = NULL;
  guint64 be = GUINT64_TO_BE (offset);

  frame[0] = kind;
  memcpy (frame + 1, &be, 8);
  if (len > 0)
    memcpy (frame + NATTER_TRANSFER_HEADER_SIZE, payload, len);
  bytes = g_bytes_new (frame, NATTER_TRANSFER_HEADER_SIZE + len);
  g_assert_true (natter_channel_send (channel, bytes, &error));
  g_assert_no_error (error);
}

/* Offers @content under @name with @announced size, sends @sent bytes of it
 * when accepted (then an end marker if @end), and returns B's transfer once settled. */
static NatterTransfer *
hostile_run (Client     *a,
             Client     *b,
             Spy        *spy,
             const char *name,
             const char *content,
             gsize       announced,
             gsize       sent,
             gboolean    end)
{
  g_autofree char *id = natter_transfer_id_new ();
  g_autofree char *sha = sha256_of_bytes (content, announced);
  g_autoptr(JsonObject) fields = offer_fields (id, name, announced, sha);
  g_autoptr(NatterChannel) channel = NULL;
  NatterTransfer *in;

  raw_frame (a, b, fields);
  in = incoming (b, id);
  NATTER_TEST_WAIT_FOR (answer_op (spy, id) != NULL, 10000);
  if (g_strcmp0 (answer_op (spy, id), "accept") == 0 && announced > 0)
    {
      channel = raw_channel (a, b, id);
      for (gsize off = 0; off < sent; off += NATTER_TRANSFER_CHUNK_SIZE)
        raw_data (channel, NATTER_TRANSFER_KIND_DATA, off, content + off,
                  MIN (sent - off, (gsize) NATTER_TRANSFER_CHUNK_SIZE));
      if (end)
        raw_data (channel, NATTER_TRANSFER_KIND_END, announced, NULL, 0);
    }
  NATTER_TEST_WAIT_FOR (is_final_or_failed (in), 10000);
  g_test_message ("%.40s...: %s %s", name, state_name (in),
                  natter_transfer_get_error (in) ? natter_transfer_get_error (in) : "");
  return in;
}

static guint
n_entries (const char *dir)
{
  g_autoptr(GDir) d = g_dir_open (dir, 0, NULL);
  guint n = 0;

  while (d != NULL && g_dir_read_name (d) != NULL)
    n++;
  return n;
}

static void
test_hostile (Fixture       *fixture,
              gconstpointer  data)
{
  g_autoptr(Client) a = client_new (fixture, "mallory");
  g_autoptr(Client) b = client_new (fixture, "bob");
  Spy spy = { g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                     (GDestroyNotify) json_object_unref) };
  g_autofree char *escaped = NULL;
  g_autofree char *big_content = g_malloc0 (NATTER_TRANSFER_CHUNK_SIZE + 100);
  g_autofree char *dirname = NULL;
  g_autoptr(GString) long_name = g_string_new (NULL);
  GListModel *transfers;
  NatterTransfer *in;
  guint before;

  /* Where "../../etc/passwd" would land if it were taken as a path. */
  escaped = g_build_filename (b->downloads, "..", "..", "etc", "passwd", NULL);
  make_contacts (a, b);
  natter_client_set_auto_accept_files (b->client, b->downloads);
  g_signal_connect (natter_client_get_chat_protocol (a->client, id_of (b)), "file-frame",
                    G_CALLBACK (spy_frame_cb), &spy);

  /* A path in the name: saved inside the download folder, under its last component. */
  in = hostile_run (a, b, &spy, "../../etc/passwd", "hello", 5, 5, TRUE);
  assert_done (in);
  g_assert_cmpstr (natter_transfer_get_file_name (in), ==, "passwd");
  dirname = g_path_get_dirname (natter_transfer_get_path (in));
  g_assert_cmpstr (dirname, ==, b->downloads);
  g_assert_false (g_file_test (escaped, G_FILE_TEST_EXISTS));

  /* Hidden and control characters. */
  in = hostile_run (a, b, &spy, "..\x01.bashrc\t", "x", 1, 1, TRUE);
  assert_done (in);
  g_assert_cmpstr (natter_transfer_get_file_name (in), ==, "bashrc");

  /* Zero bytes: done at once, an empty file. */
  in = hostile_run (a, b, &spy, "empty.txt", "", 0, 0, FALSE);
  assert_done (in);
  g_assert_cmpuint (file_size (natter_transfer_get_path (in)), ==, 0);

  /* A name of 10,000 characters: shortened, extension kept. */
  for (guint i = 0; i < 9996; i++)
    g_string_append (long_name, "é");
  g_string_append (long_name, ".txt");
  in = hostile_run (a, b, &spy, long_name->str, "long", 4, 4, TRUE);
  assert_done (in);
  g_assert_cmpuint (strlen (natter_transfer_get_file_name (in)), <=, NATTER_TRANSFER_NAME_MAX);
  g_assert_true (g_str_has_suffix (natter_transfer_get_path (in), "é.txt"));
  g_assert_true (g_file_test (natter_transfer_get_path (in), G_FILE_TEST_IS_REGULAR));

  /* Size lies: more bytes than announced… */
  in = hostile_run (a, b, &spy, "more.bin", "0123456789abcdefghij", 10, 20, TRUE);
  g_assert_cmpstr (state_name (in), ==, "failed");
  g_assert_nonnull (strstr (natter_transfer_get_error (in), "more bytes"));
  NATTER_TEST_WAIT_FOR (g_strcmp0 (answer_op (&spy, natter_transfer_get_id (in)), "fail") == 0, 10000);
  /* …fewer, in a short chunk… */
  in = hostile_run (a, b, &spy, "fewer.bin", "0123456789", 10, 5, FALSE);
  g_assert_cmpstr (state_name (in), ==, "failed");
  g_assert_nonnull (strstr (natter_transfer_get_error (in), "fewer bytes"));
  /* …and fewer, ended early. */
  in = hostile_run (a, b, &spy, "ended.bin", big_content, NATTER_TRANSFER_CHUNK_SIZE + 100,
                    NATTER_TRANSFER_CHUNK_SIZE, TRUE);
  g_assert_cmpstr (state_name (in), ==, "failed");
  g_assert_nonnull (strstr (natter_transfer_get_error (in), "fewer bytes"));

  /* Data that does not match the announced hash is never presented as the file. */
  {
    g_autofree char *id = natter_transfer_id_new ();
    g_autofree char *sha = sha256_of_bytes ("hello", 5);
    g_autoptr(JsonObject) fields = offer_fields (id, "forged.txt", 5, sha);
    g_autoptr(NatterChannel) channel = NULL;
    g_autofree char *forged = g_build_filename (b->downloads, "forged.txt", NULL);

    raw_frame (a, b, fields);
    in = incoming (b, id);
    NATTER_TEST_WAIT_FOR (g_strcmp0 (answer_op (&spy, id), "accept") == 0, 10000);
    channel = raw_channel (a, b, id);
    raw_data (channel, NATTER_TRANSFER_KIND_DATA, 0, "HELLO", 5);
    NATTER_TEST_WAIT_FOR (is_final_or_failed (in), 10000);
    g_assert_cmpstr (state_name (in), ==, "failed");
    g_assert_nonnull (strstr (natter_transfer_get_error (in), "SHA-256"));
    g_assert_false (g_file_test (forged, G_FILE_TEST_EXISTS));
    g_assert_nonnull (find_partial (b->downloads));  /* kept for a retry */
  }

  /* Malformed offers change nothing. */
  transfers = natter_client_get_transfers (b->client);
  before = g_list_model_get_n_items (transfers);
  {
    g_autofree char *sha = sha256_of_bytes ("x", 1);
    const char *bad_ids[] = { "XYZ", "0123456789ABCDEF0123456789ABCDEF", "", NULL };

    for (guint i = 0; bad_ids[i] != NULL; i++)
      {
        g_autoptr(JsonObject) fields = offer_fields (bad_ids[i], "x", 1, sha);

        raw_frame (a, b, fields);
      }
    for (guint i = 0; i < 9; i++)
      {
        g_autofree char *id = natter_transfer_id_new ();
        g_autoptr(JsonObject) fields = offer_fields (id, "x", 1, sha);

        switch (i)
          {
          case 0: json_object_set_int_member (fields, "chunk", 100); break;
          case 1: json_object_set_int_member (fields, "chunk", 0); break;
          case 2: json_object_set_int_member (fields, "size", -1); break;
          case 3: json_object_set_int_member (fields, "size", G_GINT64_CONSTANT (1) << 60); break;
          case 4: json_object_remove_member (fields, "sha256"); break;
          case 5: json_object_set_string_member (fields, "sha256", "ABC"); break;
          case 6: json_object_set_string_member (fields, "evil", "yes"); break;
          case 7: json_object_set_int_member (fields, "name", 7); break;
          case 8: json_object_set_int_member (fields, "hlc", 7); break;
          default: g_assert_not_reached ();
          }
        raw_frame (a, b, fields);
      }
  }
  /* A data channel nobody asked for is closed at once. */
  {
    g_autofree char *id = natter_transfer_id_new ();
    g_autoptr(NatterChannel) channel = raw_channel (a, b, id);

    NATTER_TEST_WAIT_FOR (natter_channel_get_state (channel) == NATTER_CHANNEL_CLOSED, 10000);
  }
  /* Still alive and well: a valid offer after all that works. */
  in = hostile_run (a, b, &spy, "after.txt", "ok", 2, 2, TRUE);
  assert_done (in);
  g_assert_cmpuint (g_list_model_get_n_items (transfers), ==, before + 1);
  /* Only the files that arrived, their partials, nothing else. */
  g_test_message ("download folder holds %u entries", n_entries (b->downloads));

  g_signal_handlers_disconnect_by_data (natter_client_get_chat_protocol (a->client, id_of (b)),
                                        &spy);
  g_hash_table_unref (spy.answers);
}

/* ------------------------------------------------------------------------ */
/* 6. Memory while sending 256 MiB; the one-shot send-file command           */
/* ------------------------------------------------------------------------ */

static gint64
peer_stat (NatterTestPeer *peer,
           const char     *member)
{
  guint from = natter_test_peer_get_n_events (peer);
  JsonObject *stats;

  natter_test_peer_command (peer, "{\"cmd\":\"stats\"}");
  stats = natter_test_peer_wait_event (peer, from, "stats", NULL, NULL, 10000);
  g_assert_nonnull (stats);
  return event_int (stats, member);
}

static void
test_memory (Fixture       *fixture,
             gconstpointer  data)
{
  g_autoptr(Client) b = client_new (fixture, "bob");
  g_autofree char *profile = g_build_filename (fixture->dir, "pat", NULL);
  g_autofree char *source = g_build_filename (fixture->dir, "big.bin", NULL);
  g_autofree char *small = g_build_filename (fixture->dir, "small.txt", NULL);
  g_autofree char *expected = NULL;
  g_autofree char *received = NULL;
  g_autoptr(NatterTestPeer) pat = NULL;
  g_autoptr(NatterTestCliResult) r = NULL;
  const char *args[] = { NULL };
  g_autoptr(GError) error = NULL;
  JsonObject *offer, *done;
  gint64 idle_rss, peak;
  guint64 size = big (256);
  NatterTransfer *in;
  const char *pat_id;

  natter_client_set_auto_accept_files (b->client, b->downloads);
  pat = natter_test_peer_spawn (profile, natter_test_broker_get_url (fixture->broker), args,
                                &error);
  g_assert_no_error (error);
  pat_id = natter_test_peer_get_peer_id (pat);
  natter_test_peer_command (pat, "{\"cmd\":\"add\",\"to\":\"%s\"}", id_of (b));
  NATTER_TEST_WAIT_FOR (connected_to (b->client, pat_id), CONNECT_TIMEOUT_MS);
  g_assert_nonnull (natter_test_peer_wait_event (pat, 0, "session", "state", "connected",
                                                 CONNECT_TIMEOUT_MS));
  expected = write_random_file (source, size, 6);

  idle_rss = peer_stat (pat, "vm_rss_kb");
  natter_test_peer_command (pat, "{\"cmd\":\"send-file\",\"to\":\"%s\",\"path\":\"%s\"}",
                            id_of (b), source);
  offer = natter_test_peer_wait_event (pat, 0, "transfer-offer", NULL, NULL, 10000);
  g_assert_nonnull (offer);
  done = natter_test_peer_wait_event (pat, 0, "transfer-done", "id",
                                      json_object_get_string_member (offer, "id"),
                                      TRANSFER_TIMEOUT_MS);
  g_assert_nonnull (done);
  g_assert_cmpstr (json_object_get_string_member (done, "sha256"), ==, expected);
  peak = peer_stat (pat, "vm_hwm_kb");
  g_test_message ("sending %" G_GUINT64_FORMAT " MiB: idle RSS %.1f MiB, peak %.1f MiB, "
                  "%.1f MiB above idle", size / MIB, idle_rss / 1024.0, peak / 1024.0,
                  (peak - idle_rss) / 1024.0);
#if defined(__SANITIZE_ADDRESS__)
  /* AddressSanitizer's quarantine keeps freed frames resident (256 MiB by
   * default): the bound only means something in a normal build. */
  g_test_message ("AddressSanitizer build: resident memory not bounded here");
#else
  g_assert_cmpint (peak - idle_rss, <, 64 * 1024);
#endif

  in = natter_client_lookup_transfer (b->client, json_object_get_string_member (offer, "id"));
  g_assert_nonnull (in);
  NATTER_TEST_WAIT_FOR (is_final_or_failed (in), 10000);
  assert_done (in);
  received = sha256_of (natter_transfer_get_path (in));
  g_assert_cmpstr (received, ==, expected);
  g_assert_cmpint (natter_test_peer_stop (pat, 10000), ==, 0);
  g_unlink (natter_transfer_get_path (in));

  /* The one-shot command: exit 0 once the receiver verified it. */
  g_assert_true (g_file_set_contents (small, "a small file\n", -1, NULL));
  r = natter_test_cli_run (profile, natter_test_broker_get_url (fixture->broker), "send-file",
                           id_of (b), small, "--wait", "done", "--timeout", "60", NULL);
  g_test_message ("send-file --wait done: status %d in %.2f s %s", r->status, r->seconds, r->err);
  g_assert_cmpint (r->status, ==, 0);
  g_strstrip (r->out);
  in = natter_client_lookup_transfer (b->client, r->out);
  g_assert_nonnull (in);
  assert_done (in);
  g_assert_cmpstr (natter_transfer_get_file_name (in), ==, "small.txt");
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);
  gst_init (NULL, NULL);
  g_assert_cmpint (sodium_init (), >=, 0);

  g_test_add ("/transfer/basic", Fixture, NULL, natter_test_env_setup, test_basic,
              natter_test_env_teardown);
  g_test_add ("/transfer/concurrent", Fixture, NULL, natter_test_env_setup, test_concurrent,
              natter_test_env_teardown);
  g_test_add ("/transfer/kill-resume", Fixture, NULL, natter_test_env_setup, test_kill_resume,
              natter_test_env_teardown);
  g_test_add ("/transfer/pause-corrupt", Fixture, NULL, natter_test_env_setup, test_pause_corrupt,
              natter_test_env_teardown);
  g_test_add ("/transfer/hostile", Fixture, NULL, natter_test_env_setup, test_hostile,
              natter_test_env_teardown);
  g_test_add ("/transfer/memory", Fixture, NULL, natter_test_env_setup, test_memory, natter_test_env_teardown);

  return g_test_run ();
}
