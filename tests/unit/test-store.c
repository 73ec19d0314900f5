/* test-store.c: NatterStore, NatterMessage and NatterContact against real SQLite files. */
#include <glib/gstdio.h>
#include <sqlite3.h>
#include <string.h>

#include "natter-error.h"
#include "natter-store.h"
#include "natter-test-broker.h"

#define CONV   "dconversation-one"
#define OTHER  "dconversation-two"
#define ALICE  "ALICEPEERIDAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
#define BOB    "BOBPEERIDAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
#define CAROL  "CAROLPEERIDAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"

typedef struct
{
  char *dir;
  char *path;
} Fixture;

static void
fixture_setup (Fixture       *fixture,
               gconstpointer  data)
{
  fixture->dir = natter_test_mkdtemp ("natter-store-XXXXXX");
  fixture->path = g_build_filename (fixture->dir, "history.db", NULL);
}

static void
fixture_teardown (Fixture       *fixture,
                  gconstpointer  data)
{
  natter_test_rmtree (fixture->dir);
  g_free (fixture->dir);
  g_free (fixture->path);
}

static NatterStore *
open_store (const char       *path,
            NatterStoreFlags  flags)
{
  g_autoptr(GError) error = NULL;
  NatterStore *store = natter_store_open (path, flags, &error);

  g_assert_no_error (error);
  g_assert_nonnull (store);
  return store;
}

static NatterMessage *
make_message (const char *conversation,
              const char *author,
              gint64      seq,
              gint64      hlc_l,
              gint64      hlc_c,
              const char *body)
{
  return natter_message_new (NULL, conversation, author, seq, hlc_l, hlc_c, body,
                             NULL, NATTER_MESSAGE_QUEUED, FALSE, hlc_l);
}

static void
add_message (NatterStore   *store,
             NatterMessage *message)
{
  g_autoptr(GError) error = NULL;
  gboolean inserted = FALSE;

  g_assert_true (natter_store_add_message (store, message, &inserted, &error));
  g_assert_no_error (error);
  g_assert_true (inserted);
}

static void
add_new_message (NatterStore *store,
                 const char  *conversation,
                 const char  *author,
                 gint64       seq,
                 gint64       hlc_l,
                 gint64       hlc_c,
                 const char  *body)
{
  g_autoptr(NatterMessage) message = make_message (conversation, author, seq, hlc_l, hlc_c, body);

  add_message (store, message);
}

static GBytes *
read_bytes (const char *path)
{
  g_autoptr(GError) error = NULL;
  char *contents = NULL;
  gsize len = 0;

  g_assert_true (g_file_get_contents (path, &contents, &len, &error));
  g_assert_no_error (error);
  return g_bytes_new_take (contents, len);
}

static void
write_bytes (const char   *path,
             gconstpointer data,
             gsize         len)
{
  g_autoptr(GError) error = NULL;

  g_assert_true (g_file_set_contents (path, data, len, &error));
  g_assert_no_error (error);
}

/* Raw SQLite, to look at the file from outside the store. */
static sqlite3 *
raw_open (const char *path)
{
  sqlite3 *db = NULL;

  g_assert_cmpint (sqlite3_open (path, &db), ==, SQLITE_OK);
  return db;
}

static void
raw_exec (const char *path,
          const char *sql)
{
  sqlite3 *db = raw_open (path);
  char *errmsg = NULL;

  if (sqlite3_exec (db, sql, NULL, NULL, &errmsg) != SQLITE_OK)
    g_error ("%s", errmsg);
  sqlite3_close (db);
}

static char *
raw_query_text (const char *path,
                const char *sql)
{
  sqlite3 *db = raw_open (path);
  sqlite3_stmt *stmt = NULL;
  char *result = NULL;

  g_assert_cmpint (sqlite3_prepare_v2 (db, sql, -1, &stmt, NULL), ==, SQLITE_OK);
  if (sqlite3_step (stmt) == SQLITE_ROW)
    result = g_strdup ((const char *)sqlite3_column_text (stmt, 0));
  sqlite3_finalize (stmt);
  sqlite3_close (db);
  return result;
}

static gint64
raw_query_int (const char *path,
               const char *sql)
{
  g_autofree char *text = raw_query_text (path, sql);

  g_assert_nonnull (text);
  return g_ascii_strtoll (text, NULL, 10);
}

/* sqlite_master with whitespace removed: the fixtures are laid out for
 * reading, the migrations for C string literals. */
static char *
raw_schema (const char *path)
{
  sqlite3 *db = raw_open (path);
  sqlite3_stmt *stmt = NULL;
  GString *schema = g_string_new (NULL);

  g_assert_cmpint (sqlite3_prepare_v2 (db,
                                       "SELECT type, name, tbl_name, coalesce (sql, '') "
                                       "FROM sqlite_master ORDER BY name",
                                       -1, &stmt, NULL), ==, SQLITE_OK);
  while (sqlite3_step (stmt) == SQLITE_ROW)
    {
      for (int i = 0; i < 4; i++)
        {
          for (const char *p = (const char *)sqlite3_column_text (stmt, i); *p; p++)
            if (!g_ascii_isspace (*p))
              g_string_append_c (schema, *p);
          g_string_append_c (schema, '|');
        }
      g_string_append_c (schema, '\n');
    }
  sqlite3_finalize (stmt);
  sqlite3_close (db);
  return g_string_free (schema, FALSE);
}

static void
load_sql_fixture (const char *path,
                  const char *name)
{
  g_autofree char *file = g_build_filename (g_getenv ("NATTER_TEST_SRCDIR"), "unit", "fixtures", name, NULL);
  g_autofree char *sql = NULL;
  g_autoptr(GError) error = NULL;

  g_assert_true (g_file_get_contents (file, &sql, NULL, &error));
  g_assert_no_error (error);
  raw_exec (path, sql);
}

static void
assert_ids (GPtrArray         *messages,
            const char *const *ids)
{
  g_assert_nonnull (messages);
  g_assert_cmpuint (messages->len, ==, g_strv_length ((char **)ids));
  for (guint i = 0; i < messages->len; i++)
    g_assert_cmpstr (natter_message_get_id (messages->pdata[i]), ==, ids[i]);
}

static int
compare_messages (gconstpointer a,
                  gconstpointer b)
{
  return natter_message_compare (*(NatterMessage **)a, *(NatterMessage **)b);
}

/* ------------------------------------------------------------------ */

static void
test_message_id (void)
{
  g_autofree char *id = natter_message_compute_id ("alice", 1, 1700000000000, 0, "hello, wörld");
  g_autofree char *again = natter_message_compute_id ("alice", 1, 1700000000000, 0, "hello, wörld");
  g_autofree char *ab_c = natter_message_compute_id ("ab", 1, 2, 3, "c");
  g_autofree char *a_bc = natter_message_compute_id ("a", 1, 2, 3, "bc");
  g_autofree char *conv1 = natter_conversation_id_direct ("bob", "alice");
  g_autofree char *conv2 = natter_conversation_id_direct ("alice", "bob");
  g_autofree char *conv3 = natter_conversation_id_direct ("alice", "carol");
  g_autoptr(NatterMessage) message = make_message (CONV, "alice", 1, 1700000000000, 0, "hello, wörld");
  g_autofree char *other_seq = natter_message_compute_id ("alice", 2, 1700000000000, 0, "hello, wörld");
  g_autofree char *other_l = natter_message_compute_id ("alice", 1, 1700000000001, 0, "hello, wörld");
  g_autofree char *other_c = natter_message_compute_id ("alice", 1, 1700000000000, 1, "hello, wörld");
  g_autofree char *other_body = natter_message_compute_id ("alice", 1, 1700000000000, 0, "hello, world");

  /* Known answer (computed independently with Python's hashlib) pins the
   * encoding documented in natter_message_compute_id() / PROTOCOL.md. */
  g_assert_cmpstr (id, ==, "f9471b6fb8196715a3733bba3e3b00b22d5a2fa2e7304ff4a370b49182b43290");
  g_assert_cmpstr (id, ==, again);
  g_assert_cmpstr (natter_message_get_id (message), ==, id);
  g_assert_cmpstr (ab_c, !=, a_bc);
  g_assert_cmpstr (other_seq, !=, id);
  g_assert_cmpstr (other_l, !=, id);
  g_assert_cmpstr (other_c, !=, id);
  g_assert_cmpstr (other_body, !=, id);

  g_assert_cmpstr (conv1, ==, "d1e2af26470aae83866fd22e2907b8d1b");
  g_assert_cmpstr (conv1, ==, conv2);
  g_assert_cmpstr (conv1, !=, conv3);
  g_assert_cmpuint (strlen (conv3), ==, 33);
}

static void
count_notify (GObject    *object,
              GParamSpec *pspec,
              guint      *count)
{
  (*count)++;
}

static void
test_objects_notify (void)
{
  g_autoptr(NatterMessage) message = make_message (CONV, ALICE, 1, 10, 0, "hi");
  g_autoptr(NatterContact) contact = natter_contact_new (BOB);
  guint message_notes = 0;
  guint contact_notes = 0;
  NatterMessageState state;

  g_signal_connect (message, "notify", G_CALLBACK (count_notify), &message_notes);
  natter_message_set_state (message, NATTER_MESSAGE_QUEUED);
  natter_message_set_late (message, FALSE);
  g_assert_cmpuint (message_notes, ==, 0);
  natter_message_set_state (message, NATTER_MESSAGE_SENT);
  natter_message_set_late (message, TRUE);
  g_assert_cmpuint (message_notes, ==, 2);
  g_object_set (message, "late", TRUE, NULL);
  g_assert_cmpuint (message_notes, ==, 2);
  g_object_get (message, "state", &state, NULL);
  g_assert_cmpint (state, ==, NATTER_MESSAGE_SENT);
  g_assert_true (G_IS_PARAM_SPEC_ENUM (g_object_class_find_property (G_OBJECT_GET_CLASS (message), "state")));

  g_assert_cmpstr (natter_contact_get_display_name (contact), ==, "BOBPEERI");
  g_signal_connect (contact, "notify", G_CALLBACK (count_notify), &contact_notes);
  natter_contact_set_name (contact, NULL);
  natter_contact_set_online (contact, FALSE);
  natter_contact_set_unread_count (contact, 0);
  natter_contact_set_session_state (contact, 0);
  natter_contact_set_last_message_preview (contact, NULL);
  g_assert_cmpuint (contact_notes, ==, 0);
  natter_contact_set_name (contact, "Bob");   /* name + display-name */
  natter_contact_set_name (contact, "Bob");
  natter_contact_set_online (contact, TRUE);
  natter_contact_set_unread_count (contact, 3);
  natter_contact_set_session_state (contact, 2);
  natter_contact_set_last_activity (contact, 99);
  natter_contact_set_last_message_preview (contact, "see you");
  natter_contact_set_last_message_preview (contact, "see you");
  natter_contact_set_state (contact, NATTER_CONTACT_ACCEPTED);
  natter_contact_set_verified (contact, TRUE);
  natter_contact_set_last_seen (contact, 5);
  g_assert_cmpuint (contact_notes, ==, 10);
  g_assert_cmpstr (natter_contact_get_display_name (contact), ==, "Bob");
}

static void
test_meta (Fixture       *fixture,
           gconstpointer  data)
{
  g_autoptr(NatterStore) store = open_store (fixture->path, NATTER_STORE_NONE);
  g_autoptr(GError) error = NULL;
  g_autofree char *value = NULL;
  g_autofree char *missing = NULL;
  g_autofree char *deleted = NULL;

  missing = natter_store_get_meta (store, "display-name", &error);
  g_assert_no_error (error);
  g_assert_null (missing);

  g_assert_true (natter_store_set_meta (store, "display-name", "Alice", &error));
  g_assert_true (natter_store_set_meta (store, "display-name", "Alice Ünïcode", &error));
  g_assert_true (natter_store_set_meta (store, "status", "busy", &error));
  g_assert_true (natter_store_set_meta (store, "status", NULL, &error));
  g_assert_no_error (error);

  g_clear_object (&store);
  store = open_store (fixture->path, NATTER_STORE_NONE);
  value = natter_store_get_meta (store, "display-name", &error);
  g_assert_no_error (error);
  g_assert_cmpstr (value, ==, "Alice Ünïcode");
  deleted = natter_store_get_meta (store, "status", &error);
  g_assert_no_error (error);
  g_assert_null (deleted);
  g_assert_cmpstr (natter_store_get_path (store), ==, fixture->path);
}

static void
test_contacts (Fixture       *fixture,
               gconstpointer  data)
{
  g_autoptr(NatterStore) store = open_store (fixture->path, NATTER_STORE_NONE);
  g_autoptr(NatterContact) bob = natter_contact_new (BOB);
  g_autoptr(NatterContact) carol = natter_contact_new (CAROL);
  g_autoptr(NatterContact) loaded = NULL;
  g_autoptr(NatterContact) gone = NULL;
  g_autoptr(GPtrArray) all = NULL;
  g_autoptr(GError) error = NULL;

  natter_contact_set_name (bob, "Bob");
  natter_contact_set_state (bob, NATTER_CONTACT_PENDING_OUT);
  natter_contact_set_last_seen (bob, 1700000000123);
  natter_contact_set_online (bob, TRUE);          /* runtime only */
  natter_contact_set_unread_count (bob, 4);       /* runtime only */
  g_assert_true (natter_store_save_contact (store, bob, &error));
  natter_contact_set_state (carol, NATTER_CONTACT_PENDING_IN);
  g_assert_true (natter_store_save_contact (store, carol, &error));
  g_assert_no_error (error);

  /* Update. */
  natter_contact_set_state (bob, NATTER_CONTACT_ACCEPTED);
  natter_contact_set_verified (bob, TRUE);
  g_assert_true (natter_store_save_contact (store, bob, &error));
  g_assert_no_error (error);

  g_clear_object (&store);
  store = open_store (fixture->path, NATTER_STORE_NONE);

  loaded = natter_store_load_contact (store, BOB, &error);
  g_assert_no_error (error);
  g_assert_nonnull (loaded);
  g_assert_cmpstr (natter_contact_get_peer_id (loaded), ==, BOB);
  g_assert_cmpstr (natter_contact_get_name (loaded), ==, "Bob");
  g_assert_cmpint (natter_contact_get_state (loaded), ==, NATTER_CONTACT_ACCEPTED);
  g_assert_true (natter_contact_get_verified (loaded));
  g_assert_cmpint (natter_contact_get_last_seen (loaded), ==, 1700000000123);
  g_assert_false (natter_contact_get_online (loaded));
  g_assert_cmpint (natter_contact_get_unread_count (loaded), ==, 0);

  all = natter_store_list_contacts (store, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (all->len, ==, 2);
  g_assert_null (natter_contact_get_name (all->pdata[1]));
  g_assert_cmpstr (natter_contact_get_display_name (all->pdata[1]), ==, "CAROLPEE");
  g_assert_cmpint (natter_contact_get_state (all->pdata[1]), ==, NATTER_CONTACT_PENDING_IN);

  /* Deleting a contact keeps the history. */
  add_new_message (store, CONV, BOB, 1, 100, 0, "hello before deletion");
  g_assert_true (natter_store_delete_contact (store, BOB, &error));
  g_assert_no_error (error);
  gone = natter_store_load_contact (store, BOB, &error);
  g_assert_no_error (error);
  g_assert_null (gone);
  g_assert_cmpint (natter_store_count_messages (store, CONV, &error), ==, 1);
  g_clear_pointer (&all, g_ptr_array_unref);
  all = natter_store_list_contacts (store, &error);
  g_assert_cmpuint (all->len, ==, 1);
}

static void
test_message_roundtrip (Fixture       *fixture,
                        gconstpointer  data)
{
  g_autoptr(NatterStore) store = open_store (fixture->path, NATTER_STORE_NONE);
  g_autoptr(NatterMessage) first = make_message (CONV, ALICE, 1, 1700000000000, 3, "first 👋 body\nwith lines");
  g_autoptr(NatterMessage) reply = natter_message_new ("explicit-id", CONV, BOB, 1, 1700000000500, 0,
                                                       "reply", natter_message_get_id (first),
                                                       NATTER_MESSAGE_DELIVERED, TRUE, 1700000009999);
  g_autoptr(NatterMessage) loaded = NULL;
  g_autoptr(NatterMessage) by_rowid = NULL;
  g_autoptr(NatterMessage) missing = NULL;
  g_autoptr(NatterMessage) last = NULL;
  g_autoptr(GError) error = NULL;
  gint64 rowid;

  add_message (store, first);
  add_message (store, reply);
  g_clear_object (&store);
  store = open_store (fixture->path, NATTER_STORE_NONE);

  loaded = natter_store_get_message (store, "explicit-id", &error);
  g_assert_no_error (error);
  g_assert_nonnull (loaded);
  g_assert_cmpstr (natter_message_get_id (loaded), ==, "explicit-id");
  g_assert_cmpstr (natter_message_get_conversation (loaded), ==, CONV);
  g_assert_cmpstr (natter_message_get_author (loaded), ==, BOB);
  g_assert_cmpint (natter_message_get_seq (loaded), ==, 1);
  g_assert_cmpint (natter_message_get_hlc_l (loaded), ==, 1700000000500);
  g_assert_cmpint (natter_message_get_hlc_c (loaded), ==, 0);
  g_assert_cmpstr (natter_message_get_body (loaded), ==, "reply");
  g_assert_cmpstr (natter_message_get_reply_to (loaded), ==, natter_message_get_id (first));
  g_assert_cmpint (natter_message_get_state (loaded), ==, NATTER_MESSAGE_DELIVERED);
  g_assert_true (natter_message_get_late (loaded));
  g_assert_cmpint (natter_message_get_received_at (loaded), ==, 1700000009999);

  rowid = natter_store_get_message_rowid (store, natter_message_get_id (first), &error);
  g_assert_no_error (error);
  g_assert_cmpint (rowid, >, 0);
  by_rowid = natter_store_get_message_by_rowid (store, rowid, &error);
  g_assert_no_error (error);
  g_assert_nonnull (by_rowid);
  g_assert_cmpstr (natter_message_get_body (by_rowid), ==, "first 👋 body\nwith lines");
  g_assert_null (natter_message_get_reply_to (by_rowid));
  g_assert_cmpint (natter_message_get_hlc_c (by_rowid), ==, 3);
  g_assert_cmpint (natter_message_get_state (by_rowid), ==, NATTER_MESSAGE_QUEUED);
  g_assert_false (natter_message_get_late (by_rowid));
  g_assert_cmpint (natter_store_get_message_rowid (store, "nope", &error), ==, 0);

  missing = natter_store_get_message (store, "no-such-id", &error);
  g_assert_no_error (error);
  g_assert_null (missing);

  last = natter_store_get_last_message (store, CONV, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (natter_message_get_id (last), ==, "explicit-id");
  /* Bob's reply is DELIVERED (not read); from Alice's view it is unread. */
  g_assert_cmpint (natter_store_count_unread (store, CONV, ALICE, &error), ==, 1);
  g_assert_cmpint (natter_store_count_unread (store, CONV, BOB, &error), ==, 1);
}

static void
test_message_duplicate (Fixture       *fixture,
                        gconstpointer  data)
{
  g_autoptr(NatterStore) store = open_store (fixture->path, NATTER_STORE_NONE);
  g_autoptr(NatterMessage) message = make_message (CONV, ALICE, 1, 10, 0, "once");
  g_autoptr(NatterMessage) again = natter_message_new (natter_message_get_id (message), CONV, ALICE, 1, 10, 0,
                                                       "once", NULL, NATTER_MESSAGE_READ, TRUE, 99);
  g_autoptr(NatterMessage) stored = NULL;
  g_autoptr(GError) error = NULL;
  gboolean inserted = TRUE;

  add_message (store, message);
  g_assert_true (natter_store_add_message (store, again, &inserted, &error));
  g_assert_no_error (error);
  g_assert_false (inserted);
  g_assert_cmpint (natter_store_count_messages (store, CONV, &error), ==, 1);

  /* The duplicate changed nothing. */
  stored = natter_store_get_message (store, natter_message_get_id (message), &error);
  g_assert_cmpint (natter_message_get_state (stored), ==, NATTER_MESSAGE_QUEUED);
  g_assert_false (natter_message_get_late (stored));
  g_assert_cmpint (natter_message_get_received_at (stored), ==, 10);
}

static void
test_message_conflict (Fixture       *fixture,
                       gconstpointer  data)
{
  g_autoptr(NatterStore) store = open_store (fixture->path, NATTER_STORE_NONE);
  g_autoptr(NatterMessage) original = make_message (CONV, ALICE, 1, 10, 0, "the real one");
  g_autoptr(NatterMessage) forged = make_message (CONV, ALICE, 1, 11, 0, "a forgery");
  g_autoptr(NatterMessage) other_conv = make_message (OTHER, ALICE, 1, 12, 0, "fine elsewhere");
  g_autoptr(NatterMessage) zero = make_message (CONV, ALICE, 0, 12, 0, "seq zero");
  g_autoptr(NatterMessage) stored = NULL;
  g_autoptr(GError) error = NULL;
  gboolean inserted = TRUE;

  add_message (store, original);
  g_assert_false (natter_store_add_message (store, forged, &inserted, &error));
  g_assert_error (error, NATTER_ERROR, NATTER_ERROR_REFUSED);
  g_assert_false (inserted);
  g_clear_error (&error);

  g_assert_false (natter_store_add_message (store, zero, NULL, &error));
  g_assert_error (error, NATTER_ERROR, NATTER_ERROR_INVALID_INPUT);
  g_clear_error (&error);

  add_message (store, other_conv);
  g_assert_cmpint (natter_store_count_messages (store, CONV, &error), ==, 1);
  stored = natter_store_get_message (store, natter_message_get_id (original), &error);
  g_assert_cmpstr (natter_message_get_body (stored), ==, "the real one");
}

static void
test_message_state (Fixture       *fixture,
                    gconstpointer  data)
{
  g_autoptr(NatterStore) store = open_store (fixture->path, NATTER_STORE_NONE);
  g_autoptr(NatterMessage) message = make_message (CONV, ALICE, 1, 10, 0, "state");
  g_autoptr(NatterMessage) stored = NULL;
  g_autoptr(GError) error = NULL;
  const char *id = natter_message_get_id (message);
  gboolean changed = FALSE;

  add_message (store, message);

  g_assert_true (natter_store_set_message_state (store, id, NATTER_MESSAGE_DELIVERED, &changed, &error));
  g_assert_true (changed);
  g_assert_true (natter_store_set_message_state (store, id, NATTER_MESSAGE_SENT, &changed, &error));
  g_assert_false (changed);
  g_assert_true (natter_store_set_message_state (store, id, NATTER_MESSAGE_DELIVERED, &changed, &error));
  g_assert_false (changed);
  stored = natter_store_get_message (store, id, &error);
  g_assert_cmpint (natter_message_get_state (stored), ==, NATTER_MESSAGE_DELIVERED);

  g_assert_true (natter_store_set_message_state (store, id, NATTER_MESSAGE_READ, &changed, &error));
  g_assert_true (changed);
  g_assert_true (natter_store_set_message_state (store, id, NATTER_MESSAGE_QUEUED, &changed, &error));
  g_assert_false (changed);
  g_assert_true (natter_store_set_message_state (store, "unknown", NATTER_MESSAGE_READ, &changed, &error));
  g_assert_false (changed);
  g_assert_no_error (error);

  g_clear_object (&stored);
  stored = natter_store_get_message (store, id, &error);
  g_assert_cmpint (natter_message_get_state (stored), ==, NATTER_MESSAGE_READ);
}

/* Shuffled inserts with many equal clocks: the store's order (list, rowids,
 * positions) must be exactly natter_message_compare()'s. */
static void
test_display_order (Fixture       *fixture,
                    gconstpointer  data)
{
  static const char *authors[] = { ALICE, BOB, CAROL, "A", "a", "Ä" };
  g_autoptr(NatterStore) store = open_store (fixture->path, NATTER_STORE_NONE);
  g_autoptr(GPtrArray) expected = g_ptr_array_new_with_free_func (g_object_unref);
  g_autoptr(GPtrArray) listed = NULL;
  g_autoptr(GArray) rowids = NULL;
  g_autoptr(GError) error = NULL;
  gint64 seqs[G_N_ELEMENTS (authors)] = { 0 };
  const guint n = 600;

  for (guint i = 0; i < n; i++)
    {
      guint a = g_test_rand_int_range (0, G_N_ELEMENTS (authors));
      g_autofree char *body = g_strdup_printf ("message %u", i);

      /* Narrow clock ranges so equal (l, c) pairs across authors are common. */
      g_ptr_array_add (expected, make_message (CONV, authors[a], ++seqs[a],
                                               1000 + g_test_rand_int_range (0, 20),
                                               g_test_rand_int_range (0, 3), body));
    }

  /* Insert in random order; a few go through a transaction. */
  for (guint i = n - 1; i > 0; i--)
    {
      guint j = g_test_rand_int_range (0, i + 1);
      gpointer tmp = expected->pdata[i];

      expected->pdata[i] = expected->pdata[j];
      expected->pdata[j] = tmp;
    }
  g_assert_true (natter_store_begin (store, &error));
  for (guint i = 0; i < n; i++)
    add_message (store, expected->pdata[i]);
  g_assert_true (natter_store_commit (store, &error));
  add_new_message (store, OTHER, ALICE, 1, 1005, 1, "other conversation");

  g_ptr_array_sort (expected, compare_messages);

  listed = natter_store_list_messages (store, CONV, 0, G_MAXUINT, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (listed->len, ==, n);
  rowids = natter_store_list_message_rowids (store, CONV, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (rowids->len, ==, n);

  for (guint i = 0; i < n; i++)
    {
      NatterMessage *want = expected->pdata[i];
      g_autoptr(NatterMessage) by_rowid = natter_store_get_message_by_rowid (store, g_array_index (rowids, gint64, i), &error);

      g_assert_cmpstr (natter_message_get_id (listed->pdata[i]), ==, natter_message_get_id (want));
      g_assert_cmpstr (natter_message_get_id (by_rowid), ==, natter_message_get_id (want));
      if (i > 0)
        g_assert_cmpint (natter_message_compare (listed->pdata[i - 1], listed->pdata[i]), <, 0);
      if (i % 37 == 0)
        g_assert_cmpint (natter_store_message_position (store, want, &error), ==, i);
    }

  /* A late message not stored yet: its position is where it sorts. */
  {
    g_autoptr(NatterMessage) late = make_message (CONV, "B", 1, 1010, 1, "late");
    gint64 position = natter_store_message_position (store, late, &error);
    guint want = 0;

    while (want < n && natter_message_compare (expected->pdata[want], late) < 0)
      want++;
    g_assert_no_error (error);
    g_assert_cmpint (position, ==, want);
    g_assert_cmpint (natter_store_message_position (store, expected->pdata[n - 1], &error), ==, n - 1);
  }
}

static void
test_paging (Fixture       *fixture,
             gconstpointer  data)
{
  g_autoptr(NatterStore) store = open_store (fixture->path, NATTER_STORE_NONE);
  g_autoptr(GPtrArray) all = NULL;
  g_autoptr(GPtrArray) beyond = NULL;
  g_autoptr(GError) error = NULL;
  const guint n = 250;

  for (guint i = 1; i <= n; i++)
    add_new_message (store, CONV, i % 2 ? ALICE : BOB, (i + 1) / 2, 1000 + i, 0, "page");

  g_assert_cmpint (natter_store_count_messages (store, CONV, &error), ==, n);
  all = natter_store_list_messages (store, CONV, 0, n, &error);

  for (guint offset = 0; offset < n; offset += 100)
    {
      g_autoptr(GPtrArray) page = natter_store_list_messages (store, CONV, offset, 100, &error);

      g_assert_no_error (error);
      g_assert_cmpuint (page->len, ==, MIN (100, n - offset));
      for (guint i = 0; i < page->len; i++)
        {
          g_assert_cmpstr (natter_message_get_id (page->pdata[i]), ==,
                           natter_message_get_id (all->pdata[offset + i]));
          g_assert_cmpint (natter_message_get_hlc_l (page->pdata[i]), ==, 1000 + offset + i + 1);
        }
    }

  beyond = natter_store_list_messages (store, CONV, n, 100, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (beyond->len, ==, 0);
}

static gint64
vv_get (GHashTable *vector,
        const char *author)
{
  gint64 *seq = g_hash_table_lookup (vector, author);

  return seq != NULL ? *seq : 0;
}

static void
test_sync_helpers (Fixture       *fixture,
                   gconstpointer  data)
{
  static const gint64 alice_seqs[] = { 1, 2, 3, 4, 5 };
  static const gint64 bob_seqs[] = { 5, 1, 4, 2 };
  static const gint64 carol_seqs[] = { 3, 2 };
  g_autoptr(NatterStore) store = open_store (fixture->path, NATTER_STORE_NONE);
  g_autoptr(GHashTable) vector = NULL;
  g_autoptr(GArray) missing = NULL;
  g_autoptr(GPtrArray) from = NULL;
  g_autoptr(GPtrArray) queued = NULL;
  g_autoptr(GError) error = NULL;
  gint64 hlc = 100;
  gboolean changed;

  for (guint i = 0; i < G_N_ELEMENTS (alice_seqs); i++)
    add_new_message (store, CONV, ALICE, alice_seqs[i], hlc++, 0, "alice");
  for (guint i = 0; i < G_N_ELEMENTS (bob_seqs); i++)
    add_new_message (store, CONV, BOB, bob_seqs[i], hlc++, 0, "bob");
  for (guint i = 0; i < G_N_ELEMENTS (carol_seqs); i++)
    add_new_message (store, CONV, CAROL, carol_seqs[i], hlc++, 0, "carol");
  /* Another conversation must not leak in. */
  for (gint64 seq = 1; seq <= 9; seq++)
    add_new_message (store, OTHER, BOB, seq, hlc++, 0, "elsewhere");

  vector = natter_store_version_vector (store, CONV, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (g_hash_table_size (vector), ==, 2);
  g_assert_cmpint (vv_get (vector, ALICE), ==, 5);
  g_assert_cmpint (vv_get (vector, BOB), ==, 2);
  g_assert_false (g_hash_table_contains (vector, CAROL));

  g_assert_cmpint (natter_store_max_seq (store, CONV, BOB, &error), ==, 5);
  g_assert_cmpint (natter_store_max_seq (store, CONV, CAROL, &error), ==, 3);
  g_assert_cmpint (natter_store_max_seq (store, CONV, "nobody", &error), ==, 0);

  missing = natter_store_missing_seqs (store, CONV, BOB, 7, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (missing->len, ==, 3);
  g_assert_cmpint (g_array_index (missing, gint64, 0), ==, 3);
  g_assert_cmpint (g_array_index (missing, gint64, 1), ==, 6);
  g_assert_cmpint (g_array_index (missing, gint64, 2), ==, 7);
  g_clear_pointer (&missing, g_array_unref);
  missing = natter_store_missing_seqs (store, CONV, CAROL, 3, &error);
  g_assert_cmpuint (missing->len, ==, 1);
  g_assert_cmpint (g_array_index (missing, gint64, 0), ==, 1);
  g_clear_pointer (&missing, g_array_unref);
  missing = natter_store_missing_seqs (store, CONV, ALICE, 5, &error);
  g_assert_cmpuint (missing->len, ==, 0);
  g_clear_pointer (&missing, g_array_unref);
  /* A peer claiming an absurd seq cannot make us allocate without bound. */
  missing = natter_store_missing_seqs (store, CONV, ALICE, G_MAXINT64 / 2, &error);
  g_assert_cmpuint (missing->len, ==, NATTER_STORE_MAX_MISSING);
  g_assert_cmpint (g_array_index (missing, gint64, 0), ==, 6);

  from = natter_store_messages_from (store, CONV, BOB, 2, 10, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (from->len, ==, 3);
  g_assert_cmpint (natter_message_get_seq (from->pdata[0]), ==, 2);
  g_assert_cmpint (natter_message_get_seq (from->pdata[1]), ==, 4);
  g_assert_cmpint (natter_message_get_seq (from->pdata[2]), ==, 5);
  g_clear_pointer (&from, g_ptr_array_unref);
  from = natter_store_messages_from (store, CONV, BOB, 1, 2, &error);
  g_assert_cmpuint (from->len, ==, 2);
  g_assert_cmpint (natter_message_get_seq (from->pdata[1]), ==, 2);

  /* Unacknowledged: everything of Alice's except what got delivered. */
  g_clear_pointer (&from, g_ptr_array_unref);
  from = natter_store_messages_from (store, CONV, ALICE, 2, 1, &error);
  g_assert_true (natter_store_set_message_state (store, natter_message_get_id (from->pdata[0]),
                                                 NATTER_MESSAGE_DELIVERED, &changed, &error));
  queued = natter_store_messages_in_state (store, CONV, ALICE, NATTER_MESSAGE_QUEUED, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (queued->len, ==, 4);
  g_assert_cmpint (natter_message_get_seq (queued->pdata[0]), ==, 1);
  g_assert_cmpint (natter_message_get_seq (queued->pdata[1]), ==, 3);
  g_assert_cmpint (natter_message_get_seq (queued->pdata[3]), ==, 5);

  g_assert_cmpint (natter_store_contiguous_seq (store, CONV, ALICE, &error), ==, 5);
  g_assert_cmpint (natter_store_contiguous_seq (store, CONV, BOB, &error), ==, 2);
  g_assert_cmpint (natter_store_contiguous_seq (store, CONV, CAROL, &error), ==, 0);
  g_assert_cmpint (natter_store_contiguous_seq (store, OTHER, BOB, &error), ==, 9);
  g_assert_no_error (error);

  {
    g_autoptr(GHashTable) authors = natter_store_authors (store, CONV, &error);

    g_assert_no_error (error);
    g_assert_cmpuint (g_hash_table_size (authors), ==, 3);
    g_assert_cmpint (vv_get (authors, ALICE), ==, 5);
    g_assert_cmpint (vv_get (authors, BOB), ==, 5);
    g_assert_cmpint (vv_get (authors, CAROL), ==, 3);
  }

  /* A cumulative ack up to 3: seqs 1 and 3 move (2 was already delivered). */
  {
    g_autoptr(GPtrArray) acked = natter_store_advance_state (store, CONV, ALICE, 3,
                                                               NATTER_MESSAGE_DELIVERED, &error);
    g_autoptr(GPtrArray) again = natter_store_advance_state (store, CONV, ALICE, 3,
                                                             NATTER_MESSAGE_DELIVERED, &error);
    g_autoptr(GPtrArray) sent = natter_store_advance_state (store, CONV, ALICE, 5,
                                                            NATTER_MESSAGE_SENT, &error);
    g_autoptr(GPtrArray) read = natter_store_advance_state (store, CONV, ALICE, 4,
                                                            NATTER_MESSAGE_READ, &error);
    g_autoptr(GPtrArray) still_sent = natter_store_messages_in_state (store, CONV, ALICE,
                                                                      NATTER_MESSAGE_SENT, &error);

    g_assert_no_error (error);
    g_assert_cmpuint (acked->len, ==, 2);
    g_assert_cmpuint (again->len, ==, 0);
    g_assert_cmpuint (sent->len, ==, 2);     /* 4 and 5, never 1…3 backwards */
    g_assert_cmpuint (read->len, ==, 4);     /* 1…4 */
    g_assert_cmpuint (still_sent->len, ==, 1);
    g_assert_cmpint (natter_message_get_seq (still_sent->pdata[0]), ==, 5);
  }
}

static void
test_search (Fixture       *fixture,
             gconstpointer  data)
{
  static const char *hostile[] = {
    "\"", "\"\"", "\"hello", "*", "**", "hello*", "AND", "OR", "NOT", "hello AND",
    "AND OR NOT", "NEAR(", "NEAR(hello world, 2)", "body:hello", "{body}:x", "(", ")",
    "^", "-", "+", "hello -world", "a\"b", "'; DROP TABLE messages; --", "\\", "%", "_",
    "\xff\xfe invalid utf8", "日本語", "hello\tworld", "\n", "", "   ", "col:\"x\" *",
  };
  g_autoptr(NatterStore) store = open_store (fixture->path, NATTER_STORE_NONE);
  g_autoptr(GPtrArray) results = NULL;
  g_autoptr(GError) error = NULL;

  add_new_message (store, CONV, ALICE, 1, 100, 0, "Hello world, anybody there?");
  add_new_message (store, CONV, BOB, 1, 200, 0, "Meet at the café at noon");
  add_new_message (store, CONV, ALICE, 2, 300, 0, "cats AND dogs, \"quoted\" words");
  add_new_message (store, CONV, BOB, 2, 400, 0, "hello again");
  add_new_message (store, OTHER, CAROL, 1, 50, 0, "hello from elsewhere");

  results = natter_store_search (store, CONV, "hello", 10, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (results->len, ==, 2);
  g_assert_cmpstr (natter_message_get_body (results->pdata[0]), ==, "Hello world, anybody there?");
  g_assert_cmpstr (natter_message_get_body (results->pdata[1]), ==, "hello again");
  g_clear_pointer (&results, g_ptr_array_unref);

  /* Everywhere, in display order. */
  results = natter_store_search (store, NULL, "HELLO", 10, &error);
  g_assert_cmpuint (results->len, ==, 3);
  g_assert_cmpstr (natter_message_get_author (results->pdata[0]), ==, CAROL);
  g_clear_pointer (&results, g_ptr_array_unref);

  /* The limit keeps the newest matches. */
  results = natter_store_search (store, NULL, "hello", 2, &error);
  g_assert_cmpuint (results->len, ==, 2);
  g_assert_cmpstr (natter_message_get_body (results->pdata[0]), ==, "Hello world, anybody there?");
  g_assert_cmpstr (natter_message_get_body (results->pdata[1]), ==, "hello again");
  g_clear_pointer (&results, g_ptr_array_unref);

  /* Prefixes, diacritics, several words. */
  results = natter_store_search (store, CONV, "caf", 10, &error);
  g_assert_cmpuint (results->len, ==, 1);
  g_clear_pointer (&results, g_ptr_array_unref);
  results = natter_store_search (store, CONV, "cafe noon", 10, &error);
  g_assert_cmpuint (results->len, ==, 1);
  g_clear_pointer (&results, g_ptr_array_unref);
  results = natter_store_search (store, CONV, "cafe midnight", 10, &error);
  g_assert_cmpuint (results->len, ==, 0);
  g_clear_pointer (&results, g_ptr_array_unref);

  /* Operators are words: "AND" finds the message containing "and". */
  results = natter_store_search (store, CONV, "AND", 10, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (results->len, ==, 1);
  g_assert_cmpstr (natter_message_get_author (results->pdata[0]), ==, ALICE);
  g_clear_pointer (&results, g_ptr_array_unref);
  results = natter_store_search (store, CONV, "\"quoted\"", 10, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (results->len, ==, 1);
  g_clear_pointer (&results, g_ptr_array_unref);

  for (guint i = 0; i < G_N_ELEMENTS (hostile); i++)
    {
      results = natter_store_search (store, CONV, hostile[i], 10, &error);
      g_assert_no_error (error);
      g_assert_nonnull (results);
      g_clear_pointer (&results, g_ptr_array_unref);
    }

  /* …and the table survived the injection attempt. */
  g_assert_cmpint (natter_store_count_messages (store, CONV, &error), ==, 4);
}

static void
test_wal (Fixture       *fixture,
          gconstpointer  data)
{
  g_autoptr(NatterStore) store = open_store (fixture->path, NATTER_STORE_NONE);
  g_autofree char *mode = NULL;
  g_autofree char *wal = g_strconcat (fixture->path, "-wal", NULL);

  add_new_message (store, CONV, ALICE, 1, 100, 0, "wal");
  mode = raw_query_text (fixture->path, "PRAGMA journal_mode");
  g_assert_cmpstr (mode, ==, "wal");
  g_assert_true (g_file_test (wal, G_FILE_TEST_EXISTS));
  g_assert_cmpint (raw_query_int (fixture->path, "PRAGMA user_version"), ==, NATTER_STORE_SCHEMA_VERSION);
}

static void
test_migration (Fixture       *fixture,
                gconstpointer  data)
{
  const char *fixture_name = data;
  g_autofree char *fresh_path = g_build_filename (fixture->dir, "fresh.db", NULL);
  g_autoptr(NatterStore) fresh = open_store (fresh_path, NATTER_STORE_NONE);
  g_autoptr(NatterStore) store = NULL;
  g_autofree char *fresh_schema = NULL;
  g_autofree char *migrated_schema = NULL;
  g_autoptr(GError) error = NULL;
  gboolean has_rows = strcmp (fixture_name, "store-v0.sql") != 0;
  const char *prefix = strstr (fixture_name, "v1") ? "v1" : strstr (fixture_name, "v3") ? "v3" : "v2";

  g_clear_object (&fresh);
  load_sql_fixture (fixture->path, fixture_name);
  store = open_store (fixture->path, NATTER_STORE_NONE);

  g_assert_cmpint (raw_query_int (fixture->path, "PRAGMA user_version"), ==, NATTER_STORE_SCHEMA_VERSION);

  /* A migrated database is indistinguishable from a new one. */
  fresh_schema = raw_schema (fresh_path);
  migrated_schema = raw_schema (fixture->path);
  g_assert_cmpstr (migrated_schema, ==, fresh_schema);

  if (has_rows)
    {
      g_autofree char *m2 = g_strconcat (prefix, "m2", NULL);
      g_autofree char *m1 = g_strconcat (prefix, "m1", NULL);
      g_autoptr(NatterMessage) reply = natter_store_get_message (store, m2, &error);
      g_autoptr(NatterContact) bob = natter_store_load_contact (store, BOB, &error);
      g_autoptr(GPtrArray) listed = natter_store_list_messages (store, "dconvab", 0, 10, &error);
      g_autoptr(GPtrArray) found = natter_store_search (store, NULL, "cafe", 10, &error);
      g_autoptr(GPtrArray) found_other = natter_store_search (store, "dconvac", "carol", 10, &error);
      g_autoptr(GPtrArray) found_new = NULL;
      g_autoptr(GHashTable) vector = natter_store_version_vector (store, "dconvab", &error);
      g_autofree char *name = natter_store_get_meta (store, "display-name", &error);
      g_autofree char *m3 = g_strconcat (prefix, "m3", NULL);
      const char *order[] = { m1, m3, m2, NULL };

      g_assert_no_error (error);
      g_assert_cmpstr (name, ==, "Alice Fixture");
      g_assert_nonnull (bob);
      g_assert_cmpstr (natter_contact_get_name (bob), ==, "Bob");
      g_assert_cmpint (natter_contact_get_state (bob), ==, NATTER_CONTACT_ACCEPTED);
      g_assert_true (natter_contact_get_verified (bob));

      g_assert_nonnull (reply);
      g_assert_cmpstr (natter_message_get_body (reply), ==, "A café answer");
      g_assert_cmpstr (natter_message_get_reply_to (reply), ==, m1);
      g_assert_cmpint (natter_message_get_state (reply), ==, NATTER_MESSAGE_READ);
      g_assert_cmpint (natter_message_get_received_at (reply), ==, 1700000002100);
      assert_ids (listed, order);
      g_assert_true (natter_message_get_late (listed->pdata[1]));
      g_assert_cmpint (vv_get (vector, "ALICE"), ==, 2);
      g_assert_cmpint (vv_get (vector, "BOB"), ==, 1);

      /* Old rows are searchable, and so are new ones. */
      g_assert_cmpuint (found->len, ==, 1);
      g_assert_cmpstr (natter_message_get_id (found->pdata[0]), ==, m2);
      g_assert_cmpuint (found_other->len, ==, 1);
      add_new_message (store, "dconvab", "BOB", 2, 1700000004000, 0, "post-migration zebra");
      found_new = natter_store_search (store, "dconvab", "zebra", 10, &error);
      g_assert_cmpuint (found_new->len, ==, 1);

      /* The timeline holds one row per message, old and new. */
      g_assert_cmpint (raw_query_int (fixture->path, "SELECT count(*) FROM timeline WHERE kind = 'message'"), ==, 5);
      g_assert_cmpint (raw_query_int (fixture->path,
                                      "SELECT count(*) FROM timeline t JOIN messages m ON m.num = t.ref "
                                      "AND m.conversation = t.conversation AND m.hlc_l = t.hlc_l "
                                      "AND m.hlc_c = t.hlc_c AND m.author = t.author"), ==, 5);
    }
  else
    {
      add_new_message (store, CONV, ALICE, 1, 100, 0, "first words");
      g_assert_cmpint (natter_store_count_messages (store, CONV, &error), ==, 1);
    }
}

static void
test_newer_schema (Fixture       *fixture,
                   gconstpointer  data)
{
  g_autoptr(NatterStore) store = NULL;
  g_autoptr(GBytes) before = NULL;
  g_autoptr(GBytes) after = NULL;
  g_autoptr(GError) error = NULL;

  raw_exec (fixture->path, "CREATE TABLE future (x); INSERT INTO future VALUES (1); PRAGMA user_version = 999;");
  before = read_bytes (fixture->path);

  store = natter_store_open (fixture->path, NATTER_STORE_NONE, &error);
  g_assert_error (error, NATTER_ERROR, NATTER_ERROR_NEWER_SCHEMA);
  g_assert_null (store);
  g_assert_nonnull (strstr (error->message, "newer"));
  g_clear_error (&error);

  store = natter_store_open (fixture->path, NATTER_STORE_READ_ONLY, &error);
  g_assert_error (error, NATTER_ERROR, NATTER_ERROR_NEWER_SCHEMA);
  g_assert_null (store);

  after = read_bytes (fixture->path);
  g_assert_true (g_bytes_equal (before, after));
  g_assert_cmpint (raw_query_int (fixture->path, "PRAGMA user_version"), ==, 999);
}

static void
assert_corrupt_untouched (const char *path)
{
  g_autoptr(GBytes) before = read_bytes (path);
  g_autoptr(GBytes) after = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(NatterStore) store = NULL;

  store = natter_store_open (path, NATTER_STORE_NONE, &error);
  g_assert_error (error, NATTER_ERROR, NATTER_ERROR_CORRUPT);
  g_assert_null (store);
  g_assert_nonnull (strstr (error->message, path));
  g_clear_error (&error);

  store = natter_store_open (path, NATTER_STORE_READ_ONLY, &error);
  g_assert_error (error, NATTER_ERROR, NATTER_ERROR_CORRUPT);
  g_assert_null (store);

  after = read_bytes (path);
  g_assert_true (g_bytes_equal (before, after));
}

static void
test_corrupt_random (Fixture       *fixture,
                     gconstpointer  data)
{
  guint8 noise[8192];
  guint8 tiny[40];

  for (guint i = 0; i < sizeof noise; i++)
    noise[i] = g_test_rand_int_range (0, 256);
  write_bytes (fixture->path, noise, sizeof noise);
  assert_corrupt_untouched (fixture->path);

  /* The right magic, then garbage. */
  memcpy (noise, "SQLite format 3", 16);
  write_bytes (fixture->path, noise, sizeof noise);
  assert_corrupt_untouched (fixture->path);

  /* Shorter than a header. */
  memcpy (tiny, "SQLite format 3", 16);
  write_bytes (fixture->path, tiny, sizeof tiny);
  assert_corrupt_untouched (fixture->path);

  /* A text file. */
  write_bytes (fixture->path, "not a database\n", 15);
  assert_corrupt_untouched (fixture->path);
}

static void
test_corrupt_truncated (Fixture       *fixture,
                        gconstpointer  data)
{
  g_autoptr(NatterStore) store = open_store (fixture->path, NATTER_STORE_NONE);
  g_autoptr(GBytes) full = NULL;
  g_autofree char *wal = g_strconcat (fixture->path, "-wal", NULL);
  g_autoptr(GError) error = NULL;
  gsize len;

  g_assert_true (natter_store_begin (store, &error));
  for (gint64 seq = 1; seq <= 2000; seq++)
    add_new_message (store, CONV, ALICE, seq, seq, 0, "some text to fill a few pages of the database file");
  g_assert_true (natter_store_commit (store, &error));
  g_clear_object (&store);
  g_assert_false (g_file_test (wal, G_FILE_TEST_EXISTS));

  full = read_bytes (fixture->path);
  len = g_bytes_get_size (full);
  g_assert_cmpuint (len, >, 16 * 4096);

  write_bytes (fixture->path, g_bytes_get_data (full, NULL), len / 2);
  assert_corrupt_untouched (fixture->path);

  /* Cut inside a page, too. */
  write_bytes (fixture->path, g_bytes_get_data (full, NULL), len - 1000);
  assert_corrupt_untouched (fixture->path);

  /* Damage behind an intact header: an up-to-date history is not scanned
   * on open, but the damage surfaces as CORRUPT, never as a crash. */
  {
    g_autofree guint8 *damaged = g_memdup2 (g_bytes_get_data (full, NULL), len);
    g_autoptr(GBytes) before = NULL;
    g_autoptr(GBytes) after = NULL;
    g_autoptr(GPtrArray) listed = NULL;

    for (gsize i = len / 2; i < len; i++)
      damaged[i] = g_test_rand_int_range (0, 256);
    write_bytes (fixture->path, damaged, len);
    before = read_bytes (fixture->path);

    store = natter_store_open (fixture->path, NATTER_STORE_NONE, &error);
    if (store != NULL)
      {
        listed = natter_store_list_messages (store, CONV, 0, G_MAXUINT, &error);
        g_assert_null (listed);
      }
    g_assert_error (error, NATTER_ERROR, NATTER_ERROR_CORRUPT);
    g_clear_object (&store);
    after = read_bytes (fixture->path);
    g_assert_true (g_bytes_equal (before, after));
  }
}

static void
test_read_only (Fixture       *fixture,
                gconstpointer  data)
{
  g_autoptr(NatterStore) writer = open_store (fixture->path, NATTER_STORE_NONE);
  g_autoptr(NatterStore) reader = NULL;
  g_autoptr(NatterStore) old_reader = NULL;
  g_autoptr(NatterMessage) refused = make_message (CONV, BOB, 1, 1, 0, "from the reader");
  g_autofree char *old_path = g_build_filename (fixture->dir, "old.db", NULL);
  g_autoptr(GBytes) old_before = NULL;
  g_autoptr(GBytes) old_after = NULL;
  g_autoptr(GError) error = NULL;
  gint64 start;

  for (gint64 seq = 1; seq <= 10; seq++)
    add_new_message (writer, CONV, ALICE, seq, seq, 0, "committed");

  /* The writer is in the middle of a write transaction. */
  g_assert_true (natter_store_begin (writer, &error));
  add_new_message (writer, CONV, ALICE, 11, 11, 0, "not yet committed");

  start = g_get_monotonic_time ();
  reader = open_store (fixture->path, NATTER_STORE_READ_ONLY);
  g_assert_true (natter_store_is_read_only (reader));
  g_assert_cmpint (natter_store_count_messages (reader, CONV, &error), ==, 10);
  g_assert_no_error (error);
  /* It did not wait for the writer's lock. */
  g_assert_cmpint (g_get_monotonic_time () - start, <, 2 * G_USEC_PER_SEC);

  g_assert_false (natter_store_add_message (reader, refused, NULL, &error));
  g_assert_nonnull (error);
  g_clear_error (&error);

  g_assert_true (natter_store_commit (writer, &error));
  g_assert_no_error (error);
  g_assert_cmpint (natter_store_count_messages (reader, CONV, &error), ==, 11);

  /* Read-only never migrates: an old history is refused and left as it was. */
  load_sql_fixture (old_path, "store-v1.sql");
  old_before = read_bytes (old_path);
  old_reader = natter_store_open (old_path, NATTER_STORE_READ_ONLY, &error);
  g_assert_error (error, NATTER_ERROR, NATTER_ERROR_FAILED);
  g_assert_null (old_reader);
  old_after = read_bytes (old_path);
  g_assert_true (g_bytes_equal (old_before, old_after));
  g_assert_cmpint (raw_query_int (old_path, "PRAGMA user_version"), ==, 1);
}

static gpointer
call_from_thread (gpointer data)
{
  natter_store_count_messages (data, CONV, NULL);
  return NULL;
}

/* The store asserts that only its owner thread calls it. */
static void
test_owner_thread (void)
{
  g_autofree char *dir = NULL;
  g_autofree char *path = NULL;

  if (g_test_subprocess ())
    {
      g_autoptr(NatterStore) store = open_store (g_getenv ("NATTER_TEST_STORE_PATH"), NATTER_STORE_NONE);

      g_thread_join (g_thread_new ("intruder", call_from_thread, store));
      return;
    }

  dir = natter_test_mkdtemp ("natter-store-XXXXXX");
  path = g_build_filename (dir, "history.db", NULL);
  g_setenv ("NATTER_TEST_STORE_PATH", path, TRUE);
  g_test_trap_subprocess (NULL, 0, 0);
  g_test_trap_assert_failed ();
  g_test_trap_assert_stderr ("*owner*");
  natter_test_rmtree (dir);
}

static void
test_large (Fixture       *fixture,
            gconstpointer  data)
{
  g_autoptr(NatterStore) store = open_store (fixture->path, NATTER_STORE_NONE);
  g_autoptr(GPtrArray) messages = g_ptr_array_new_with_free_func (g_object_unref);
  g_autoptr(GArray) rowids = NULL;
  g_autoptr(GHashTable) vector = NULL;
  g_autoptr(GPtrArray) found = NULL;
  g_autoptr(GPtrArray) page = NULL;
  g_autoptr(NatterMessage) middle = NULL;
  g_autoptr(GError) error = NULL;
  const guint n = 100000;
  gint64 t0;
  gint64 t_build, t_insert, t_rowids, t_reopen, t_count, t_vector, t_search, t_page, t_position;

  t0 = g_get_monotonic_time ();
  for (guint i = 0; i < n; i++)
    {
      g_autofree char *body = g_strdup_printf ("message number %u about topic%u", i, i % 1000);

      g_ptr_array_add (messages, make_message (CONV, i % 2 ? ALICE : BOB, i / 2 + 1,
                                               1700000000000 + i / 3, i % 3, body));
    }
  t_build = g_get_monotonic_time () - t0;

  t0 = g_get_monotonic_time ();
  g_assert_true (natter_store_begin (store, &error));
  for (guint i = 0; i < n; i++)
    {
      gboolean inserted;

      if (!natter_store_add_message (store, messages->pdata[i], &inserted, &error))
        g_error ("%s", error->message);
    }
  g_assert_true (natter_store_commit (store, &error));
  g_assert_no_error (error);
  t_insert = g_get_monotonic_time () - t0;

  t0 = g_get_monotonic_time ();
  rowids = natter_store_list_message_rowids (store, CONV, &error);
  t_rowids = g_get_monotonic_time () - t0;
  g_assert_no_error (error);
  g_assert_cmpuint (rowids->len, ==, n);

  g_clear_object (&store);
  t0 = g_get_monotonic_time ();
  store = open_store (fixture->path, NATTER_STORE_NONE);
  t_reopen = g_get_monotonic_time () - t0;

  t0 = g_get_monotonic_time ();
  g_assert_cmpint (natter_store_count_messages (store, CONV, &error), ==, n);
  t_count = g_get_monotonic_time () - t0;

  t0 = g_get_monotonic_time ();
  vector = natter_store_version_vector (store, CONV, &error);
  t_vector = g_get_monotonic_time () - t0;
  g_assert_cmpint (vv_get (vector, ALICE), ==, n / 2);

  t0 = g_get_monotonic_time ();
  found = natter_store_search (store, CONV, "topic7", 50, &error);
  t_search = g_get_monotonic_time () - t0;
  g_assert_no_error (error);
  g_assert_cmpuint (found->len, ==, 50);

  t0 = g_get_monotonic_time ();
  page = natter_store_list_messages (store, CONV, n - 100, 100, &error);
  t_page = g_get_monotonic_time () - t0;
  g_assert_cmpuint (page->len, ==, 100);
  g_assert_cmpstr (natter_message_get_id (page->pdata[99]), ==,
                   natter_message_get_id (messages->pdata[n - 1]));

  middle = natter_store_get_message_by_rowid (store, g_array_index (rowids, gint64, n / 2), &error);
  t0 = g_get_monotonic_time ();
  g_assert_cmpint (natter_store_message_position (store, middle, &error), ==, n / 2);
  t_position = g_get_monotonic_time () - t0;

  g_test_message ("100,000 messages: build objects %.0f ms, insert in one transaction %.0f ms, "
                  "list rowids %.1f ms, reopen %.1f ms, count %.1f ms, "
                  "version vector %.1f ms, search %.1f ms, last page via OFFSET %.1f ms, "
                  "position of the middle %.1f ms",
                  t_build / 1000.0, t_insert / 1000.0, t_rowids / 1000.0, t_reopen / 1000.0,
                  t_count / 1000.0, t_vector / 1000.0, t_search / 1000.0, t_page / 1000.0,
                  t_position / 1000.0);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

#define ADD(name, func) \
  g_test_add ("/store/" name, Fixture, NULL, fixture_setup, func, fixture_teardown)
#define ADD_DATA(name, data, func) \
  g_test_add ("/store/" name, Fixture, data, fixture_setup, func, fixture_teardown)

  g_test_add_func ("/store/message/id", test_message_id);
  g_test_add_func ("/store/objects/notify", test_objects_notify);
  ADD ("meta", test_meta);
  ADD ("contacts", test_contacts);
  ADD ("message/roundtrip", test_message_roundtrip);
  ADD ("message/duplicate", test_message_duplicate);
  ADD ("message/conflict", test_message_conflict);
  ADD ("message/state", test_message_state);
  ADD ("order", test_display_order);
  ADD ("paging", test_paging);
  ADD ("sync", test_sync_helpers);
  ADD ("search", test_search);
  ADD ("wal", test_wal);
  ADD_DATA ("migrate/v0", "store-v0.sql", test_migration);
  ADD_DATA ("migrate/v1", "store-v1.sql", test_migration);
  ADD_DATA ("migrate/v2", "store-v2.sql", test_migration);
  ADD_DATA ("migrate/v3", "store-v3.sql", test_migration);
  ADD ("newer-schema", test_newer_schema);
  ADD ("corrupt/random", test_corrupt_random);
  ADD ("corrupt/truncated", test_corrupt_truncated);
  ADD ("read-only", test_read_only);
  g_test_add_func ("/store/owner-thread", test_owner_thread);
  ADD ("large", test_large);

  return g_test_run ();
}
