/* natter-store.c: the SQLite history of one profile: schema, migrations and queries. */
#define G_LOG_DOMAIN "natter-store"

#include "natter-store.h"

#include <glib/gi18n-lib.h>
#include <glib/gstdio.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <stdio.h>
#include <string.h>

#include "natter-error.h"
#include "natter-transfer-private.h"

/* A reader waits this long for a writer's lock instead of failing. */
#define BUSY_TIMEOUT_MS 5000

struct _NatterStore
{
  GObject parent_instance;

  /* owned */
  sqlite3 *db;
  char *path;
  GHashTable *stmts; /* SQL text (static) → sqlite3_stmt, prepared once */

  GThread *owner;
  NatterStoreFlags flags;
};

G_DEFINE_FINAL_TYPE (NatterStore, natter_store, G_TYPE_OBJECT)

/* Every call comes from the thread that opened the store (CONVENTIONS §10):
 * SQLite handles and cached statements are not shared between threads. */
#define STORE_ENTER(self, val) G_STMT_START {           \
    g_return_val_if_fail (NATTER_IS_STORE (self), val);  \
    g_return_val_if_fail ((self)->db != NULL, val);      \
    g_assert ((self)->owner == g_thread_self ());        \
  } G_STMT_END

/* The display order.  Must match natter_message_compare(): SQLite's BINARY
 * collation compares bytes as strcmp() does. */
#define DISPLAY_ORDER      "m.hlc_l, m.hlc_c, m.author, m.id"
#define DISPLAY_ORDER_DESC "m.hlc_l DESC, m.hlc_c DESC, m.author DESC, m.id DESC"

/* Read back by message_from_row(), in this order. */
#define MESSAGE_COLUMNS \
  "m.id, m.conversation, m.author, m.seq, m.hlc_l, m.hlc_c, m.body, " \
  "m.reply_to, m.state, m.late, m.received_at"

#define CONTACT_COLUMNS "peer_id, name, state, verified, last_seen"

/* A cached statement is "released" by resetting it: a SELECT left half
 * stepped would keep its read snapshot (and pin the WAL) until the next use. */
typedef sqlite3_stmt StoreStmt;

static void
store_stmt_release (StoreStmt *stmt)
{
  sqlite3_reset (stmt);
  sqlite3_clear_bindings (stmt);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (StoreStmt, store_stmt_release)

static void
store_stmt_finalize (gpointer stmt)
{
  sqlite3_finalize (stmt);
}

/* ------------------------------------------------------------------ */
/* Errors, statements                                                  */
/* ------------------------------------------------------------------ */

static void
store_set_error (NatterStore  *self,
                 GError      **error,
                 int           rc,
                 const char   *what)
{
  int code;

  switch (rc & 0xff)
    {
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
      code = NATTER_ERROR_CORRUPT;
      break;

    case SQLITE_CONSTRAINT:
      code = NATTER_ERROR_REFUSED;
      break;

    default:
      code = NATTER_ERROR_FAILED;
    }

  g_set_error (error, NATTER_ERROR, code, "%s: %s", what,
               self->db != NULL ? sqlite3_errmsg (self->db) : sqlite3_errstr (rc));
}

/* Returns the cached statement for @sql (a string literal), preparing it on
 * first use.  Hold it in g_autoptr(StoreStmt) so it is reset after use. */
static StoreStmt *
store_prepare (NatterStore  *self,
               const char   *sql,
               GError      **error)
{
  sqlite3_stmt *stmt = g_hash_table_lookup (self->stmts, sql);

  if (stmt == NULL)
    {
      int rc = sqlite3_prepare_v3 (self->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &stmt, NULL);

      if (rc != SQLITE_OK)
        {
          store_set_error (self, error, rc, "Could not prepare a query");
          return NULL;
        }
      g_hash_table_insert (self->stmts, (gpointer)sql, stmt);
    }

  return stmt;
}

/* Steps a statement that returns no rows. */
static gboolean
store_step_done (NatterStore  *self,
                 StoreStmt    *stmt,
                 const char   *what,
                 GError      **error)
{
  int rc = sqlite3_step (stmt);

  if (rc != SQLITE_DONE)
    {
      store_set_error (self, error, rc, what);
      return FALSE;
    }
  return TRUE;
}

/* Steps a statement that returns one row with one integer; @fallback when it
 * returns no row.  Returns -1 on error. */
static gint64
store_step_int64 (NatterStore  *self,
                  StoreStmt    *stmt,
                  gint64        fallback,
                  const char   *what,
                  GError      **error)
{
  int rc = sqlite3_step (stmt);

  if (rc == SQLITE_ROW)
    return sqlite3_column_int64 (stmt, 0);
  if (rc == SQLITE_DONE)
    return fallback;

  store_set_error (self, error, rc, what);
  return -1;
}

/* For schema changes and pragmas; never with user input. */
static gboolean
store_exec (NatterStore  *self,
            const char   *sql,
            GError      **error)
{
  int rc = sqlite3_exec (self->db, sql, NULL, NULL, NULL);

  if (rc != SQLITE_OK)
    {
      store_set_error (self, error, rc, "Could not update the database");
      return FALSE;
    }
  return TRUE;
}

static void
bind_text (StoreStmt  *stmt,
           int         index,
           const char *text)
{
  /* SQLITE_STATIC: every caller keeps @text alive until the statement is reset. */
  sqlite3_bind_text (stmt, index, text, -1, SQLITE_STATIC);
}

static char *
column_dup_text (StoreStmt *stmt,
                 int        column)
{
  return g_strdup ((const char *)sqlite3_column_text (stmt, column));
}

/* ------------------------------------------------------------------ */
/* Rows → objects                                                      */
/* ------------------------------------------------------------------ */

static NatterMessageState
message_state_from_db (sqlite3_int64 value)
{
  /* A newer Natter or a damaged row must not trip the enum's range check. */
  if (value < NATTER_MESSAGE_QUEUED || value > NATTER_MESSAGE_READ)
    {
      g_warning ("Unknown message state %" G_GINT64_FORMAT " in the database", (gint64)value);
      return value < NATTER_MESSAGE_QUEUED ? NATTER_MESSAGE_QUEUED : NATTER_MESSAGE_READ;
    }
  return (NatterMessageState)value;
}

static NatterContactState
contact_state_from_db (sqlite3_int64 value)
{
  if (value < NATTER_CONTACT_PENDING_OUT || value > NATTER_CONTACT_BLOCKED)
    {
      /* Unknown means we cannot tell whether the user trusts this peer. */
      g_warning ("Unknown contact state %" G_GINT64_FORMAT " in the database", (gint64)value);
      return NATTER_CONTACT_PENDING_IN;
    }
  return (NatterContactState)value;
}

/* NOT NULL columns can still read as NULL from a damaged page; a message
 * must never be built without its id (it would hash a NULL author). */
static const char *
column_text_nonnull (StoreStmt *stmt,
                     int        column)
{
  const char *text = (const char *)sqlite3_column_text (stmt, column);

  return text != NULL ? text : "";
}

static gpointer
message_from_row (StoreStmt *stmt)
{
  return g_object_new (NATTER_TYPE_MESSAGE,
                       "id", column_text_nonnull (stmt, 0),
                       "conversation", column_text_nonnull (stmt, 1),
                       "author", column_text_nonnull (stmt, 2),
                       "seq", (gint64)sqlite3_column_int64 (stmt, 3),
                       "hlc-l", (gint64)sqlite3_column_int64 (stmt, 4),
                       "hlc-c", (gint64)sqlite3_column_int64 (stmt, 5),
                       "body", column_text_nonnull (stmt, 6),
                       "reply-to", sqlite3_column_text (stmt, 7),
                       "state", message_state_from_db (sqlite3_column_int64 (stmt, 8)),
                       "late", sqlite3_column_int (stmt, 9) != 0,
                       "received-at", (gint64)sqlite3_column_int64 (stmt, 10),
                       NULL);
}

static gpointer
contact_from_row (StoreStmt *stmt)
{
  return g_object_new (NATTER_TYPE_CONTACT,
                       "peer-id", column_text_nonnull (stmt, 0),
                       "name", sqlite3_column_text (stmt, 1),
                       "state", contact_state_from_db (sqlite3_column_int64 (stmt, 2)),
                       "verified", sqlite3_column_int (stmt, 3) != 0,
                       "last-seen", (gint64)sqlite3_column_int64 (stmt, 4),
                       NULL);
}

typedef gpointer (*RowFunc) (StoreStmt *stmt);

/* Steps @stmt to the end, one object per row. */
static GPtrArray *
store_collect (NatterStore  *self,
               StoreStmt    *stmt,
               RowFunc       row_func,
               const char   *what,
               GError      **error)
{
  g_autoptr(GPtrArray) items = g_ptr_array_new_with_free_func (g_object_unref);
  int rc;

  while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
    g_ptr_array_add (items, row_func (stmt));

  if (rc != SQLITE_DONE)
    {
      store_set_error (self, error, rc, what);
      return NULL;
    }
  return g_steal_pointer (&items);
}

/* Steps @stmt for at most one object; NULL without error when there is none. */
static gpointer
store_fetch_one (NatterStore  *self,
                 StoreStmt    *stmt,
                 RowFunc       row_func,
                 const char   *what,
                 GError      **error)
{
  int rc = sqlite3_step (stmt);

  if (rc == SQLITE_ROW)
    return row_func (stmt);
  if (rc != SQLITE_DONE)
    store_set_error (self, error, rc, what);
  return NULL;
}

/* ------------------------------------------------------------------ */
/* Schema and migrations                                               */
/* ------------------------------------------------------------------ */

/* v1: identity metadata, contacts, messages.  `num` is an explicit
 * INTEGER PRIMARY KEY so the rowid that FTS and list models key on
 * survives VACUUM; the content id is UNIQUE.  messages_unacked holds only
 * queued/sent messages (a handful), so cumulative acks and resends do not
 * scan a long history. */
static gboolean
migrate_v0_to_v1 (NatterStore  *self,
                  GError      **error)
{
  return store_exec (self,
    "CREATE TABLE meta ("
    "  key   TEXT PRIMARY KEY NOT NULL,"
    "  value TEXT NOT NULL"
    ") STRICT;"
    "CREATE TABLE contacts ("
    "  peer_id    TEXT PRIMARY KEY NOT NULL,"
    "  name       TEXT,"
    "  state      INTEGER NOT NULL,"
    "  verified   INTEGER NOT NULL DEFAULT 0,"
    "  created_at INTEGER NOT NULL,"
    "  last_seen  INTEGER NOT NULL DEFAULT 0"
    ") STRICT;"
    "CREATE TABLE messages ("
    "  num          INTEGER PRIMARY KEY,"
    "  id           TEXT NOT NULL UNIQUE,"
    "  conversation TEXT NOT NULL,"
    "  author       TEXT NOT NULL,"
    "  seq          INTEGER NOT NULL,"
    "  hlc_l        INTEGER NOT NULL,"
    "  hlc_c        INTEGER NOT NULL,"
    "  body         TEXT NOT NULL,"
    "  reply_to     TEXT,"
    "  state        INTEGER NOT NULL DEFAULT 0,"
    "  late         INTEGER NOT NULL DEFAULT 0,"
    "  received_at  INTEGER NOT NULL,"
    "  UNIQUE (conversation, author, seq)"
    ") STRICT;"
    "CREATE INDEX messages_display ON messages (conversation, hlc_l, hlc_c, author, id);"
    "CREATE INDEX messages_unacked ON messages (conversation, author, seq) WHERE state < 2;",
    error);
}

/* v2: full-text search over bodies, an external-content FTS5 table kept in
 * step by triggers and filled from the rows that already exist. */
static gboolean
migrate_v1_to_v2 (NatterStore  *self,
                  GError      **error)
{
  return store_exec (self,
    "CREATE VIRTUAL TABLE messages_fts USING fts5 ("
    "  body, content='messages', content_rowid='num',"
    "  tokenize='unicode61 remove_diacritics 2');"
    "CREATE TRIGGER messages_fts_insert AFTER INSERT ON messages BEGIN"
    "  INSERT INTO messages_fts (rowid, body) VALUES (new.num, new.body);"
    "END;"
    "CREATE TRIGGER messages_fts_delete AFTER DELETE ON messages BEGIN"
    "  INSERT INTO messages_fts (messages_fts, rowid, body) VALUES ('delete', old.num, old.body);"
    "END;"
    "CREATE TRIGGER messages_fts_update AFTER UPDATE OF body ON messages BEGIN"
    "  INSERT INTO messages_fts (messages_fts, rowid, body) VALUES ('delete', old.num, old.body);"
    "  INSERT INTO messages_fts (rowid, body) VALUES (new.num, new.body);"
    "END;"
    "INSERT INTO messages_fts (messages_fts) VALUES ('rebuild');",
    error);
}

/* v3: one timeline row per conversation event (CONVENTIONS §16), so files
 * and calls can join messages in history later; backfilled from messages.
 * `ref` is the rowid in the event's own table (messages.num for messages):
 * an integer keeps the (kind, ref) index append-only and cheap. */
static gboolean
migrate_v2_to_v3 (NatterStore  *self,
                  GError      **error)
{
  return store_exec (self,
    "CREATE TABLE timeline ("
    "  num          INTEGER PRIMARY KEY,"
    "  conversation TEXT NOT NULL,"
    "  kind         TEXT NOT NULL CHECK (kind IN ('message', 'file', 'call')),"
    "  ref          INTEGER NOT NULL,"
    "  hlc_l        INTEGER NOT NULL,"
    "  hlc_c        INTEGER NOT NULL,"
    "  author       TEXT NOT NULL,"
    "  UNIQUE (kind, ref)"
    ") STRICT;"
    "CREATE INDEX timeline_display ON timeline (conversation, hlc_l, hlc_c, author, ref);"
    "INSERT INTO timeline (conversation, kind, ref, hlc_l, hlc_c, author)"
    "  SELECT conversation, 'message', num, hlc_l, hlc_c, author FROM messages ORDER BY num;"
    "CREATE TRIGGER messages_timeline_insert AFTER INSERT ON messages BEGIN"
    "  INSERT INTO timeline (conversation, kind, ref, hlc_l, hlc_c, author)"
    "    VALUES (new.conversation, 'message', new.num, new.hlc_l, new.hlc_c, new.author);"
    "END;"
    "CREATE TRIGGER messages_timeline_delete AFTER DELETE ON messages BEGIN"
    "  DELETE FROM timeline WHERE kind = 'message' AND ref = old.num;"
    "END;",
    error);
}

/* v4: file transfers (issue 7). `verified` is the receiver's verified offset
 * (the sender keeps the last offset the receiver asked for), written in
 * batches; the partial file's own checkpoints are the authority on resume.
 * Each transfer is one 'file' event in the timeline. */
static gboolean
migrate_v3_to_v4 (NatterStore  *self,
                  GError      **error)
{
  return store_exec (self,
    "CREATE TABLE transfers ("
    "  num          INTEGER PRIMARY KEY,"
    "  id           TEXT NOT NULL UNIQUE,"
    "  conversation TEXT NOT NULL,"
    "  peer_id      TEXT NOT NULL,"
    "  author       TEXT NOT NULL,"
    "  incoming     INTEGER NOT NULL,"
    "  name         TEXT NOT NULL,"
    "  size         INTEGER NOT NULL,"
    "  mime         TEXT NOT NULL,"
    "  sha256       TEXT,"
    "  chunk        INTEGER NOT NULL,"
    "  state        INTEGER NOT NULL,"
    "  verified     INTEGER NOT NULL DEFAULT 0,"
    "  path         TEXT,"
    "  partial      TEXT,"
    "  mtime        INTEGER NOT NULL DEFAULT 0,"
    "  error        TEXT,"
    "  pending      INTEGER NOT NULL DEFAULT 0,"
    "  hlc_l        INTEGER NOT NULL,"
    "  hlc_c        INTEGER NOT NULL,"
    "  created_at   INTEGER NOT NULL"
    ") STRICT;"
    "CREATE INDEX transfers_conversation ON transfers (conversation, num);"
    "CREATE TRIGGER transfers_timeline_insert AFTER INSERT ON transfers BEGIN"
    "  INSERT INTO timeline (conversation, kind, ref, hlc_l, hlc_c, author)"
    "    VALUES (new.conversation, 'file', new.num, new.hlc_l, new.hlc_c, new.author);"
    "END;"
    "CREATE TRIGGER transfers_timeline_delete AFTER DELETE ON transfers BEGIN"
    "  DELETE FROM timeline WHERE kind = 'file' AND ref = old.num;"
    "END;",
    error);
}

typedef gboolean (*StoreMigration) (NatterStore  *self,
                                    GError      **error);

/* migrations[v] takes the schema from version v to v + 1. */
static const StoreMigration migrations[] = {
  migrate_v0_to_v1,
  migrate_v1_to_v2,
  migrate_v2_to_v3,
  migrate_v3_to_v4,
};

G_STATIC_ASSERT (G_N_ELEMENTS (migrations) == NATTER_STORE_SCHEMA_VERSION);

static gboolean
store_get_user_version (NatterStore  *self,
                        int          *out_version,
                        GError      **error)
{
  g_autoptr(StoreStmt) stmt = store_prepare (self, "PRAGMA user_version", error);
  gint64 version;

  if (stmt == NULL)
    return FALSE;
  if ((version = store_step_int64 (self, stmt, 0, "Could not read the schema version", error)) < 0)
    return FALSE;

  *out_version = (int)version;
  return TRUE;
}

static gboolean
store_check_version (NatterStore  *self,
                     int           version,
                     GError      **error)
{
  if (version > NATTER_STORE_SCHEMA_VERSION)
    {
      g_set_error (error, NATTER_ERROR, NATTER_ERROR_NEWER_SCHEMA,
                   _("The history “%s” was written by a newer version of Natter "
                     "(schema %d; this version understands up to %d). "
                     "It was left untouched; update Natter to open it."),
                   self->path, version, NATTER_STORE_SCHEMA_VERSION);
      return FALSE;
    }
  return TRUE;
}

static gboolean
store_migrate (NatterStore  *self,
               GError      **error)
{
  for (;;)
    {
      g_autofree char *set_version = NULL;
      int version;

      /* The version is read again inside the write transaction: another
       * process may have migrated while we waited for the lock. */
      if (!natter_store_begin (self, error))
        return FALSE;

      if (!store_get_user_version (self, &version, error) ||
          !store_check_version (self, version, error))
        goto fail;

      if (version == NATTER_STORE_SCHEMA_VERSION)
        {
          if (!natter_store_commit (self, error))
            goto fail;
          return TRUE;
        }

      set_version = g_strdup_printf ("PRAGMA user_version = %d", version + 1);
      if (!migrations[version] (self, error) ||
          !store_exec (self, set_version, error) ||
          !natter_store_commit (self, error))
        goto fail;

      g_debug ("Migrated the history schema to version %d", version + 1);
    }

fail:
  natter_store_rollback (self);
  return FALSE;
}

/* ------------------------------------------------------------------ */
/* Opening                                                             */
/* ------------------------------------------------------------------ */

static void
set_corrupt_error (GError     **error,
                   const char  *path)
{
  g_set_error (error, NATTER_ERROR, NATTER_ERROR_CORRUPT,
               _("The history “%s” is damaged or is not a Natter database. "
                 "It was left untouched; move it away to start a new history."),
               path);
}

/* Reports a failed open check: damage gets the message a user can act on,
 * anything else (busy, I/O, permissions) is not proof of damage. */
static gboolean
store_fail_open (NatterStore  *self,
                 GError       *local_error,
                 GError      **error)
{
  if (local_error == NULL || local_error->code == NATTER_ERROR_CORRUPT)
    {
      if (local_error != NULL)
        g_debug ("Damaged history: %s", local_error->message);
      g_clear_error (&local_error);
      set_corrupt_error (error, self->path);
    }
  else
    {
      g_propagate_error (error, local_error);
    }
  return FALSE;
}

/* Looks at the file header before SQLite touches the file: SQLite would
 * happily turn a foreign file into a WAL database on the first write.
 * @out_wal: whether the file is already in WAL mode (header bytes 18, 19). */
static gboolean
check_header (const char  *path,
              gboolean    *out_wal,
              GError     **error)
{
  static const char magic[16] = "SQLite format 3";
  guint8 header[100];
  GStatBuf st;
  guint page_size;
  size_t n;
  FILE *file;

  *out_wal = FALSE;

  /* A missing file is a new history; other failures SQLite reports. */
  if ((file = g_fopen (path, "rbe")) == NULL)
    return TRUE;
  n = fread (header, 1, sizeof header, file);
  if (fstat (fileno (file), &st) != 0)
    st.st_size = 0;
  fclose (file);

  /* An empty file is what sqlite3 leaves for a new database. */
  if (n == 0)
    return TRUE;

  /* SQLite writes and truncates the main file in whole pages only, so a
   * partial last page means the file was cut (SQLite rounds up and would
   * read zeros instead). */
  page_size = header[16] << 8 | header[17];
  if (page_size == 1)
    page_size = 65536;

  if (n < sizeof header || memcmp (header, magic, sizeof magic) != 0 ||
      page_size < 512 || (page_size & (page_size - 1)) != 0 ||
      st.st_size % page_size != 0)
    {
      set_corrupt_error (error, path);
      return FALSE;
    }

  *out_wal = header[18] == 2 && header[19] == 2;
  return TRUE;
}

/* Reads the schema and its version.  This alone catches a foreign or
 * truncated file: SQLite refuses a header whose page count runs past the
 * end of the file, and a garbled schema page. */
static gboolean
store_probe (NatterStore  *self,
             int          *out_version,
             GError      **error)
{
  g_autoptr(StoreStmt) stmt = NULL;
  GError *local_error = NULL;

  if ((stmt = store_prepare (self, "SELECT count(*) FROM sqlite_master", &local_error)) == NULL ||
      store_step_int64 (self, stmt, 0, "Could not read the schema", &local_error) < 0 ||
      !store_get_user_version (self, out_version, &local_error))
    return store_fail_open (self, local_error, error);

  return TRUE;
}

/* Scans every page, read-only: ~100 ms per 100,000 messages, so it runs
 * only before the open writes to the file (migration, switch to WAL). */
static gboolean
store_quick_check (NatterStore  *self,
                   GError      **error)
{
  g_autoptr(StoreStmt) stmt = NULL;
  GError *local_error = NULL;
  int rc;

  if ((stmt = store_prepare (self, "PRAGMA quick_check", &local_error)) == NULL)
    return store_fail_open (self, local_error, error);

  while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
    {
      if (g_strcmp0 ((const char *)sqlite3_column_text (stmt, 0), "ok") != 0)
        return store_fail_open (self, NULL, error);
    }
  if (rc != SQLITE_DONE)
    {
      store_set_error (self, &local_error, rc, "quick_check");
      return store_fail_open (self, local_error, error);
    }

  return TRUE;
}

static gboolean
store_enable_wal (NatterStore  *self,
                  GError      **error)
{
  g_autoptr(StoreStmt) stmt = NULL;
  const char *mode;

  if ((stmt = store_prepare (self, "PRAGMA journal_mode = WAL", error)) == NULL)
    return FALSE;
  if (sqlite3_step (stmt) != SQLITE_ROW)
    {
      store_set_error (self, error, sqlite3_errcode (self->db), "Could not enable WAL");
      return FALSE;
    }

  mode = (const char *)sqlite3_column_text (stmt, 0);
  if (g_ascii_strcasecmp (mode ? mode : "", "wal") != 0)
    {
      g_set_error (error, NATTER_ERROR, NATTER_ERROR_FAILED,
                   "Could not enable WAL (journal mode is %s)", mode ? mode : "unknown");
      return FALSE;
    }
  return TRUE;
}

/**
 * natter_store_open:
 * @path: the database file; created when missing (unless read-only)
 * @flags: #NatterStoreFlags
 * @error: %NATTER_ERROR_CORRUPT for a damaged or foreign file,
 *   %NATTER_ERROR_NEWER_SCHEMA for a newer Natter's history (both left
 *   byte-for-byte untouched)
 *
 * Opens the history and brings its schema up to date.  Nothing is written
 * before the file has passed its checks.  A read-only store fails on a
 * schema older than this version, since it may not migrate it.
 *
 * Returns: (transfer full): the store, or %NULL
 */
NatterStore *
natter_store_open (const char        *path,
                   NatterStoreFlags   flags,
                   GError           **error)
{
  g_autoptr(NatterStore) self = NULL;
  gboolean read_only = (flags & NATTER_STORE_READ_ONLY) != 0;
  gboolean is_wal;
  int version = 0;
  int rc;

  g_return_val_if_fail (path != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (!check_header (path, &is_wal, error))
    return NULL;

  self = g_object_new (NATTER_TYPE_STORE, NULL);
  self->path = g_strdup (path);
  self->flags = flags;

  rc = sqlite3_open_v2 (path, &self->db,
                        (read_only ? SQLITE_OPEN_READONLY
                                   : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE) |
                        SQLITE_OPEN_NOMUTEX,
                        NULL);
  if (rc != SQLITE_OK)
    {
      g_set_error (error, NATTER_ERROR, NATTER_ERROR_FAILED,
                   _("Could not open the history “%s”: %s"),
                   path, self->db != NULL ? sqlite3_errmsg (self->db) : sqlite3_errstr (rc));
      return NULL;
    }

  sqlite3_extended_result_codes (self->db, 1);
  sqlite3_busy_timeout (self->db, BUSY_TIMEOUT_MS);

  /* Only reads until the file is known to be ours and not from the future. */
  if (!store_probe (self, &version, error) ||
      !store_check_version (self, version, error) ||
      !store_exec (self, "PRAGMA foreign_keys = ON", error))
    return NULL;

  if (read_only)
    {
      if (version < NATTER_STORE_SCHEMA_VERSION)
        {
          g_set_error (error, NATTER_ERROR, NATTER_ERROR_FAILED,
                       _("The history “%s” needs an upgrade (schema %d of %d); "
                         "open it once without read-only mode."),
                       path, version, NATTER_STORE_SCHEMA_VERSION);
          return NULL;
        }
      return g_steal_pointer (&self);
    }

  /* An up-to-date WAL history is not scanned on every start; damage met
   * later surfaces as NATTER_ERROR_CORRUPT from the query that meets it. */
  if ((version < NATTER_STORE_SCHEMA_VERSION || !is_wal) &&
      !store_quick_check (self, error))
    return NULL;

  /* WAL: readers (the UI, a read-only CLI) never wait for the writer.
   * NORMAL sync cannot corrupt in WAL mode and survives application
   * crashes; only a power cut may lose the last commits.  The size limit
   * shrinks the WAL back after a large reconciliation. */
  if (!store_enable_wal (self, error) ||
      !store_exec (self, "PRAGMA synchronous = NORMAL; PRAGMA journal_size_limit = 8388608", error) ||
      !store_migrate (self, error))
    return NULL;

  return g_steal_pointer (&self);
}

/**
 * natter_store_close:
 *
 * Finalizes the statements and closes the database; the store is unusable
 * afterwards.  An open transaction is rolled back.  Also done on finalize.
 */
void
natter_store_close (NatterStore *self)
{
  int rc;

  g_return_if_fail (NATTER_IS_STORE (self));

  if (self->db == NULL)
    return;

  g_assert (self->owner == g_thread_self ());

  if (!sqlite3_get_autocommit (self->db))
    {
      g_warning ("Closing the history with a transaction open; rolling it back");
      natter_store_rollback (self);
    }

  g_hash_table_remove_all (self->stmts);
  if ((rc = sqlite3_close (self->db)) != SQLITE_OK)
    g_critical ("Could not close the history: %s", sqlite3_errstr (rc));
  self->db = NULL;
}

static void
natter_store_finalize (GObject *object)
{
  NatterStore *self = (NatterStore *)object;

  natter_store_close (self);
  g_clear_pointer (&self->stmts, g_hash_table_unref);
  g_clear_pointer (&self->path, g_free);

  G_OBJECT_CLASS (natter_store_parent_class)->finalize (object);
}

static void
natter_store_class_init (NatterStoreClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->finalize = natter_store_finalize;
}

static void
natter_store_init (NatterStore *self)
{
  self->owner = g_thread_self ();
  self->stmts = g_hash_table_new_full (g_str_hash, g_str_equal, NULL,
                                       store_stmt_finalize);
}

const char *
natter_store_get_path (NatterStore *self)
{
  g_return_val_if_fail (NATTER_IS_STORE (self), NULL);
  return self->path;
}

gboolean
natter_store_is_read_only (NatterStore *self)
{
  g_return_val_if_fail (NATTER_IS_STORE (self), TRUE);
  return (self->flags & NATTER_STORE_READ_ONLY) != 0;
}

/* ------------------------------------------------------------------ */
/* Transactions                                                        */
/* ------------------------------------------------------------------ */

static gboolean
store_run (NatterStore  *self,
           const char   *sql,
           const char   *what,
           GError      **error)
{
  g_autoptr(StoreStmt) stmt = store_prepare (self, sql, error);

  return stmt != NULL && store_step_done (self, stmt, what, error);
}

/**
 * natter_store_begin:
 *
 * Starts a write transaction (not nested), taking the write lock now so
 * that a batch never fails half way for want of it.  End it with
 * natter_store_commit() or natter_store_rollback().
 */
gboolean
natter_store_begin (NatterStore  *self,
                    GError      **error)
{
  STORE_ENTER (self, FALSE);
  g_return_val_if_fail (sqlite3_get_autocommit (self->db), FALSE);

  return store_run (self, "BEGIN IMMEDIATE", "Could not start a transaction", error);
}

/**
 * natter_store_commit:
 *
 * On failure the transaction is still open: call natter_store_rollback().
 */
gboolean
natter_store_commit (NatterStore  *self,
                     GError      **error)
{
  STORE_ENTER (self, FALSE);

  return store_run (self, "COMMIT", "Could not commit", error);
}

void
natter_store_rollback (NatterStore *self)
{
  g_autoptr(GError) error = NULL;

  g_return_if_fail (NATTER_IS_STORE (self));
  g_return_if_fail (self->db != NULL);
  g_assert (self->owner == g_thread_self ());

  /* SQLite may already have rolled back on its own (e.g. after SQLITE_FULL). */
  if (sqlite3_get_autocommit (self->db))
    return;

  if (!store_run (self, "ROLLBACK", "Could not roll back", &error))
    g_warning ("%s", error->message);
}

/* ------------------------------------------------------------------ */
/* Meta                                                                */
/* ------------------------------------------------------------------ */

/**
 * natter_store_get_meta:
 *
 * Returns: (transfer full) (nullable): the value, or %NULL (error unset)
 *   when @key is not set
 */
char *
natter_store_get_meta (NatterStore  *self,
                       const char   *key,
                       GError      **error)
{
  g_autoptr(StoreStmt) stmt = NULL;
  int rc;

  STORE_ENTER (self, NULL);
  g_return_val_if_fail (key != NULL, NULL);

  if ((stmt = store_prepare (self, "SELECT value FROM meta WHERE key = ?1", error)) == NULL)
    return NULL;
  bind_text (stmt, 1, key);

  rc = sqlite3_step (stmt);
  if (rc == SQLITE_ROW)
    return column_dup_text (stmt, 0);
  if (rc != SQLITE_DONE)
    store_set_error (self, error, rc, "Could not read metadata");
  return NULL;
}

/**
 * natter_store_set_meta:
 * @value: (nullable): the new value, or %NULL to remove @key
 */
gboolean
natter_store_set_meta (NatterStore  *self,
                       const char   *key,
                       const char   *value,
                       GError      **error)
{
  g_autoptr(StoreStmt) stmt = NULL;

  STORE_ENTER (self, FALSE);
  g_return_val_if_fail (key != NULL, FALSE);

  if (value != NULL)
    stmt = store_prepare (self,
                          "INSERT INTO meta (key, value) VALUES (?1, ?2) "
                          "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                          error);
  else
    stmt = store_prepare (self, "DELETE FROM meta WHERE key = ?1", error);
  if (stmt == NULL)
    return FALSE;

  bind_text (stmt, 1, key);
  if (value != NULL)
    bind_text (stmt, 2, value);

  return store_step_done (self, stmt, "Could not save metadata", error);
}

/* ------------------------------------------------------------------ */
/* Contacts                                                            */
/* ------------------------------------------------------------------ */

/**
 * natter_store_save_contact:
 *
 * Inserts or updates the stored fields of @contact; the creation time is
 * set on first save.
 */
gboolean
natter_store_save_contact (NatterStore    *self,
                           NatterContact  *contact,
                           GError        **error)
{
  g_autoptr(StoreStmt) stmt = NULL;

  STORE_ENTER (self, FALSE);
  g_return_val_if_fail (NATTER_IS_CONTACT (contact), FALSE);

  stmt = store_prepare (self,
                        "INSERT INTO contacts (peer_id, name, state, verified, created_at, last_seen) "
                        "VALUES (?1, ?2, ?3, ?4, ?5, ?6) "
                        "ON CONFLICT (peer_id) DO UPDATE SET "
                        "  name = excluded.name, state = excluded.state, "
                        "  verified = excluded.verified, last_seen = excluded.last_seen",
                        error);
  if (stmt == NULL)
    return FALSE;

  bind_text (stmt, 1, natter_contact_get_peer_id (contact));
  bind_text (stmt, 2, natter_contact_get_name (contact));
  sqlite3_bind_int (stmt, 3, natter_contact_get_state (contact));
  sqlite3_bind_int (stmt, 4, natter_contact_get_verified (contact));
  sqlite3_bind_int64 (stmt, 5, g_get_real_time () / 1000);
  sqlite3_bind_int64 (stmt, 6, natter_contact_get_last_seen (contact));

  return store_step_done (self, stmt, "Could not save the contact", error);
}

/**
 * natter_store_load_contact:
 *
 * Returns: (transfer full) (nullable): the contact, or %NULL (error unset)
 *   when it is not stored
 */
NatterContact *
natter_store_load_contact (NatterStore  *self,
                           const char   *peer_id,
                           GError      **error)
{
  g_autoptr(StoreStmt) stmt = NULL;

  STORE_ENTER (self, NULL);
  g_return_val_if_fail (peer_id != NULL, NULL);

  stmt = store_prepare (self, "SELECT " CONTACT_COLUMNS " FROM contacts WHERE peer_id = ?1", error);
  if (stmt == NULL)
    return NULL;
  bind_text (stmt, 1, peer_id);

  return store_fetch_one (self, stmt, contact_from_row, "Could not load the contact", error);
}

/**
 * natter_store_list_contacts:
 *
 * Returns: (transfer container) (element-type NatterContact): every contact,
 *   oldest first
 */
GPtrArray *
natter_store_list_contacts (NatterStore  *self,
                            GError      **error)
{
  g_autoptr(StoreStmt) stmt = NULL;

  STORE_ENTER (self, NULL);

  stmt = store_prepare (self,
                        "SELECT " CONTACT_COLUMNS " FROM contacts ORDER BY created_at, peer_id",
                        error);
  if (stmt == NULL)
    return NULL;

  return store_collect (self, stmt, contact_from_row, "Could not list contacts", error);
}

/**
 * natter_store_delete_contact:
 *
 * Forgets the contact; the conversation history stays.
 */
gboolean
natter_store_delete_contact (NatterStore  *self,
                             const char   *peer_id,
                             GError      **error)
{
  g_autoptr(StoreStmt) stmt = NULL;

  STORE_ENTER (self, FALSE);
  g_return_val_if_fail (peer_id != NULL, FALSE);

  if ((stmt = store_prepare (self, "DELETE FROM contacts WHERE peer_id = ?1", error)) == NULL)
    return FALSE;
  bind_text (stmt, 1, peer_id);

  return store_step_done (self, stmt, "Could not delete the contact", error);
}

/**
 * natter_store_delete_conversation:
 *
 * Deletes every message of @conversation (their search index and timeline
 * rows go with them, through the triggers) and the conversation's other
 * timeline events. Callers combining it with other changes wrap it in
 * natter_store_begin()/natter_store_commit().
 */
gboolean
natter_store_delete_conversation (NatterStore  *self,
                                  const char   *conversation,
                                  GError      **error)
{
  static const char * const statements[] = {
    "DELETE FROM messages WHERE conversation = ?1",
    "DELETE FROM timeline WHERE conversation = ?1",
  };

  STORE_ENTER (self, FALSE);
  g_return_val_if_fail (conversation != NULL, FALSE);

  for (guint i = 0; i < G_N_ELEMENTS (statements); i++)
    {
      g_autoptr(StoreStmt) stmt = store_prepare (self, statements[i], error);

      if (stmt == NULL)
        return FALSE;
      bind_text (stmt, 1, conversation);
      if (!store_step_done (self, stmt, "Could not delete the conversation", error))
        return FALSE;
    }
  return TRUE;
}

/* ------------------------------------------------------------------ */
/* Messages                                                            */
/* ------------------------------------------------------------------ */

/**
 * natter_store_add_message:
 * @out_inserted: (out) (optional): %FALSE when a message with this id was
 *   already stored (nothing changes: QoS-1 and resends make duplicates normal)
 *
 * Stores @message.  A different message with the same conversation, author
 * and seq is refused with %NATTER_ERROR_REFUSED: an author never reuses a
 * seq, so one of the two is forged or broken.
 */
gboolean
natter_store_add_message (NatterStore    *self,
                          NatterMessage  *message,
                          gboolean       *out_inserted,
                          GError        **error)
{
  g_autoptr(StoreStmt) stmt = NULL;
  int rc;

  STORE_ENTER (self, FALSE);
  g_return_val_if_fail (NATTER_IS_MESSAGE (message), FALSE);

  if (out_inserted != NULL)
    *out_inserted = FALSE;

  if (natter_message_get_seq (message) < 1)
    {
      g_set_error (error, NATTER_ERROR, NATTER_ERROR_INVALID_INPUT,
                   "Message sequence numbers start at 1");
      return FALSE;
    }

  stmt = store_prepare (self,
                        "INSERT INTO messages (id, conversation, author, seq, hlc_l, hlc_c, "
                        "  body, reply_to, state, late, received_at) "
                        "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11) "
                        "ON CONFLICT (id) DO NOTHING",
                        error);
  if (stmt == NULL)
    return FALSE;

  bind_text (stmt, 1, natter_message_get_id (message));
  bind_text (stmt, 2, natter_message_get_conversation (message));
  bind_text (stmt, 3, natter_message_get_author (message));
  sqlite3_bind_int64 (stmt, 4, natter_message_get_seq (message));
  sqlite3_bind_int64 (stmt, 5, natter_message_get_hlc_l (message));
  sqlite3_bind_int64 (stmt, 6, natter_message_get_hlc_c (message));
  bind_text (stmt, 7, natter_message_get_body (message));
  bind_text (stmt, 8, natter_message_get_reply_to (message));
  sqlite3_bind_int (stmt, 9, natter_message_get_state (message));
  sqlite3_bind_int (stmt, 10, natter_message_get_late (message));
  sqlite3_bind_int64 (stmt, 11, natter_message_get_received_at (message));

  rc = sqlite3_step (stmt);
  if (rc == SQLITE_CONSTRAINT_UNIQUE)
    {
      g_set_error (error, NATTER_ERROR, NATTER_ERROR_REFUSED,
                   "A different message from author %.8s… already has seq %" G_GINT64_FORMAT,
                   natter_message_get_author (message), natter_message_get_seq (message));
      return FALSE;
    }
  if (rc != SQLITE_DONE)
    {
      store_set_error (self, error, rc, "Could not save the message");
      return FALSE;
    }

  if (out_inserted != NULL)
    *out_inserted = sqlite3_changes (self->db) > 0;
  return TRUE;
}

/**
 * natter_store_set_message_state:
 * @out_changed: (out) (optional): whether the stored state moved
 *
 * Moves the message forward (queued → sent → delivered → read) and never
 * back: a late "sent" after "delivered" changes nothing.  An unknown @id
 * changes nothing either.
 */
gboolean
natter_store_set_message_state (NatterStore         *self,
                                const char          *id,
                                NatterMessageState   state,
                                gboolean            *out_changed,
                                GError             **error)
{
  g_autoptr(StoreStmt) stmt = NULL;

  STORE_ENTER (self, FALSE);
  g_return_val_if_fail (id != NULL, FALSE);
  g_return_val_if_fail (state >= NATTER_MESSAGE_QUEUED && state <= NATTER_MESSAGE_READ, FALSE);

  if (out_changed != NULL)
    *out_changed = FALSE;

  stmt = store_prepare (self, "UPDATE messages SET state = ?2 WHERE id = ?1 AND state < ?2", error);
  if (stmt == NULL)
    return FALSE;
  bind_text (stmt, 1, id);
  sqlite3_bind_int (stmt, 2, state);

  if (!store_step_done (self, stmt, "Could not update the message state", error))
    return FALSE;

  if (out_changed != NULL)
    *out_changed = sqlite3_changes (self->db) > 0;
  return TRUE;
}

/**
 * natter_store_get_message:
 *
 * Returns: (transfer full) (nullable): the message, or %NULL (error unset)
 *   when it is not stored
 */
NatterMessage *
natter_store_get_message (NatterStore  *self,
                          const char   *id,
                          GError      **error)
{
  g_autoptr(StoreStmt) stmt = NULL;

  STORE_ENTER (self, NULL);
  g_return_val_if_fail (id != NULL, NULL);

  stmt = store_prepare (self, "SELECT " MESSAGE_COLUMNS " FROM messages AS m WHERE m.id = ?1", error);
  if (stmt == NULL)
    return NULL;
  bind_text (stmt, 1, id);

  return store_fetch_one (self, stmt, message_from_row, "Could not load the message", error);
}

/**
 * natter_store_get_message_by_rowid:
 * @rowid: from natter_store_list_message_rowids()
 *
 * Returns: (transfer full) (nullable): the message, or %NULL (error unset)
 *   when there is none with this rowid
 */
NatterMessage *
natter_store_get_message_by_rowid (NatterStore  *self,
                                   gint64        rowid,
                                   GError      **error)
{
  g_autoptr(StoreStmt) stmt = NULL;

  STORE_ENTER (self, NULL);

  stmt = store_prepare (self, "SELECT " MESSAGE_COLUMNS " FROM messages AS m WHERE m.num = ?1", error);
  if (stmt == NULL)
    return NULL;
  sqlite3_bind_int64 (stmt, 1, rowid);

  return store_fetch_one (self, stmt, message_from_row, "Could not load the message", error);
}

/**
 * natter_store_get_message_rowid:
 *
 * Returns: the rowid of message @id (stable for the life of the database),
 *   0 when it is not stored, -1 on error
 */
gint64
natter_store_get_message_rowid (NatterStore  *self,
                                const char   *id,
                                GError      **error)
{
  g_autoptr(StoreStmt) stmt = NULL;

  STORE_ENTER (self, -1);
  g_return_val_if_fail (id != NULL, -1);

  if ((stmt = store_prepare (self, "SELECT num FROM messages WHERE id = ?1", error)) == NULL)
    return -1;
  bind_text (stmt, 1, id);

  return store_step_int64 (self, stmt, 0, "Could not look up the message", error);
}

/* Runs a `SELECT count(*) … WHERE conversation = ?1` style statement. */
static gint64
store_count (NatterStore  *self,
             const char   *sql,
             const char   *conversation,
             const char   *author,
             GError      **error)
{
  g_autoptr(StoreStmt) stmt = store_prepare (self, sql, error);

  if (stmt == NULL)
    return -1;
  bind_text (stmt, 1, conversation);
  if (author != NULL)
    bind_text (stmt, 2, author);

  return store_step_int64 (self, stmt, 0, "Could not count messages", error);
}

/**
 * natter_store_count_messages:
 *
 * Returns: the number of messages in @conversation, -1 on error
 */
gint64
natter_store_count_messages (NatterStore  *self,
                             const char   *conversation,
                             GError      **error)
{
  STORE_ENTER (self, -1);
  g_return_val_if_fail (conversation != NULL, -1);

  return store_count (self, "SELECT count(*) FROM messages WHERE conversation = ?1",
                      conversation, NULL, error);
}

/**
 * natter_store_count_unread:
 * @me: our own peer id
 *
 * Returns: the messages in @conversation from others not yet read, -1 on error
 */
gint64
natter_store_count_unread (NatterStore  *self,
                           const char   *conversation,
                           const char   *me,
                           GError      **error)
{
  STORE_ENTER (self, -1);
  g_return_val_if_fail (conversation != NULL, -1);
  g_return_val_if_fail (me != NULL, -1);

  return store_count (self,
                      "SELECT count(*) FROM messages "
                      "WHERE conversation = ?1 AND author != ?2 AND state < 3",
                      conversation, me, error);
}

/**
 * natter_store_get_last_message:
 *
 * Returns: (transfer full) (nullable): the last message in display order
 *   (for previews and sorting conversations), or %NULL
 */
NatterMessage *
natter_store_get_last_message (NatterStore  *self,
                               const char   *conversation,
                               GError      **error)
{
  g_autoptr(StoreStmt) stmt = NULL;

  STORE_ENTER (self, NULL);
  g_return_val_if_fail (conversation != NULL, NULL);

  stmt = store_prepare (self,
                        "SELECT " MESSAGE_COLUMNS " FROM messages AS m "
                        "WHERE m.conversation = ?1 ORDER BY " DISPLAY_ORDER_DESC " LIMIT 1",
                        error);
  if (stmt == NULL)
    return NULL;
  bind_text (stmt, 1, conversation);

  return store_fetch_one (self, stmt, message_from_row, "Could not load the message", error);
}

/**
 * natter_store_list_messages:
 *
 * One page of @conversation in display order.  The cost grows with
 * @offset; a long timeline should use natter_store_list_message_rowids().
 *
 * Returns: (transfer container) (element-type NatterMessage): the messages
 */
GPtrArray *
natter_store_list_messages (NatterStore  *self,
                            const char   *conversation,
                            gint64        offset,
                            guint         limit,
                            GError      **error)
{
  g_autoptr(StoreStmt) stmt = NULL;

  STORE_ENTER (self, NULL);
  g_return_val_if_fail (conversation != NULL, NULL);
  g_return_val_if_fail (offset >= 0, NULL);

  stmt = store_prepare (self,
                        "SELECT " MESSAGE_COLUMNS " FROM messages AS m "
                        "WHERE m.conversation = ?1 ORDER BY " DISPLAY_ORDER " LIMIT ?3 OFFSET ?2",
                        error);
  if (stmt == NULL)
    return NULL;
  bind_text (stmt, 1, conversation);
  sqlite3_bind_int64 (stmt, 2, offset);
  sqlite3_bind_int64 (stmt, 3, limit);

  return store_collect (self, stmt, message_from_row, "Could not list messages", error);
}

/**
 * natter_store_list_message_rowids:
 *
 * Every rowid of @conversation in display order, read from the display
 * index alone: cheap enough for a lazy list model over 100,000 messages,
 * which then loads rows with natter_store_get_message_by_rowid().
 *
 * Returns: (transfer full) (element-type gint64): the rowids
 */
GArray *
natter_store_list_message_rowids (NatterStore  *self,
                                  const char   *conversation,
                                  GError      **error)
{
  g_autoptr(StoreStmt) stmt = NULL;
  g_autoptr(GArray) rowids = NULL;
  int rc;

  STORE_ENTER (self, NULL);
  g_return_val_if_fail (conversation != NULL, NULL);

  stmt = store_prepare (self,
                        "SELECT m.num FROM messages AS m "
                        "WHERE m.conversation = ?1 ORDER BY " DISPLAY_ORDER,
                        error);
  if (stmt == NULL)
    return NULL;
  bind_text (stmt, 1, conversation);

  rowids = g_array_new (FALSE, FALSE, sizeof (gint64));
  while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
    {
      gint64 rowid = sqlite3_column_int64 (stmt, 0);
      g_array_append_val (rowids, rowid);
    }
  if (rc != SQLITE_DONE)
    {
      store_set_error (self, error, rc, "Could not list messages");
      return NULL;
    }

  return g_steal_pointer (&rowids);
}

/**
 * natter_store_message_position:
 *
 * Where @message sorts in its conversation: the number of stored messages
 * before it in display order.  @message need not be stored yet, so a late
 * arrival can be inserted into a list model at its place.
 *
 * Returns: the position, -1 on error
 */
gint64
natter_store_message_position (NatterStore    *self,
                               NatterMessage  *message,
                               GError        **error)
{
  g_autoptr(StoreStmt) stmt = NULL;

  STORE_ENTER (self, -1);
  g_return_val_if_fail (NATTER_IS_MESSAGE (message), -1);

  /* The row value comparison is the display order, answered from the index. */
  stmt = store_prepare (self,
                        "SELECT count(*) FROM messages AS m WHERE m.conversation = ?1 "
                        "AND (m.hlc_l, m.hlc_c, m.author, m.id) < (?2, ?3, ?4, ?5)",
                        error);
  if (stmt == NULL)
    return -1;
  bind_text (stmt, 1, natter_message_get_conversation (message));
  sqlite3_bind_int64 (stmt, 2, natter_message_get_hlc_l (message));
  sqlite3_bind_int64 (stmt, 3, natter_message_get_hlc_c (message));
  bind_text (stmt, 4, natter_message_get_author (message));
  bind_text (stmt, 5, natter_message_get_id (message));

  return store_step_int64 (self, stmt, 0, "Could not locate the message", error);
}

/* ------------------------------------------------------------------ */
/* Reconciliation                                                      */
/* ------------------------------------------------------------------ */

/* Rows of (author, seq) → a table author → gint64 *. */
static GHashTable *
store_collect_seq_map (NatterStore  *self,
                       StoreStmt    *stmt,
                       GError      **error)
{
  g_autoptr(GHashTable) map = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  int rc;

  while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
    {
      gint64 *seq = g_new (gint64, 1);

      *seq = sqlite3_column_int64 (stmt, 1);
      g_hash_table_insert (map, column_dup_text (stmt, 0), seq);
    }
  if (rc != SQLITE_DONE)
    {
      store_set_error (self, error, rc, "Could not read sequence numbers");
      return NULL;
    }

  return g_steal_pointer (&map);
}

/**
 * natter_store_version_vector:
 *
 * For each author in @conversation, the highest seq n such that seqs 1…n
 * are all stored.  Authors without seq 1 are absent (read them as 0).
 *
 * Returns: (transfer full) (element-type utf8 gint64*): author → gint64 *
 */
GHashTable *
natter_store_version_vector (NatterStore  *self,
                             const char   *conversation,
                             GError      **error)
{
  g_autoptr(StoreStmt) stmt = NULL;

  STORE_ENTER (self, NULL);
  g_return_val_if_fail (conversation != NULL, NULL);

  /* Seqs are unique and ≥ 1, so the k-th smallest seq of an author is ≥ k,
   * and equals k exactly while 1…k are all present. */
  stmt = store_prepare (self,
                        "SELECT author, max(seq) FROM ("
                        "  SELECT author, seq,"
                        "    seq - row_number () OVER (PARTITION BY author ORDER BY seq) AS gap"
                        "  FROM messages WHERE conversation = ?1"
                        ") WHERE gap = 0 GROUP BY author",
                        error);
  if (stmt == NULL)
    return NULL;
  bind_text (stmt, 1, conversation);

  return store_collect_seq_map (self, stmt, error);
}

/**
 * natter_store_max_seq:
 *
 * Returns: the highest stored seq of @author in @conversation (0 when
 *   none), -1 on error
 */
gint64
natter_store_max_seq (NatterStore  *self,
                      const char   *conversation,
                      const char   *author,
                      GError      **error)
{
  STORE_ENTER (self, -1);
  g_return_val_if_fail (conversation != NULL, -1);
  g_return_val_if_fail (author != NULL, -1);

  return store_count (self,
                      "SELECT coalesce (max (seq), 0) FROM messages "
                      "WHERE conversation = ?1 AND author = ?2",
                      conversation, author, error);
}

/**
 * natter_store_messages_from:
 *
 * Returns: (transfer container) (element-type NatterMessage): up to @limit
 *   messages of @author with seq ≥ @from_seq, in seq order
 */
GPtrArray *
natter_store_messages_from (NatterStore  *self,
                            const char   *conversation,
                            const char   *author,
                            gint64        from_seq,
                            guint         limit,
                            GError      **error)
{
  g_autoptr(StoreStmt) stmt = NULL;

  STORE_ENTER (self, NULL);
  g_return_val_if_fail (conversation != NULL, NULL);
  g_return_val_if_fail (author != NULL, NULL);

  stmt = store_prepare (self,
                        "SELECT " MESSAGE_COLUMNS " FROM messages AS m "
                        "WHERE m.conversation = ?1 AND m.author = ?2 AND m.seq >= ?3 "
                        "ORDER BY m.seq LIMIT ?4",
                        error);
  if (stmt == NULL)
    return NULL;
  bind_text (stmt, 1, conversation);
  bind_text (stmt, 2, author);
  sqlite3_bind_int64 (stmt, 3, from_seq);
  sqlite3_bind_int64 (stmt, 4, limit);

  return store_collect (self, stmt, message_from_row, "Could not list messages", error);
}

static gboolean
append_gap (GArray *seqs,
            gint64  seq)
{
  if (seqs->len >= NATTER_STORE_MAX_MISSING)
    return FALSE;
  g_array_append_val (seqs, seq);
  return TRUE;
}

/**
 * natter_store_missing_seqs:
 * @up_to: the highest seq the peer says exists
 *
 * The seqs of @author in 1…@up_to that are not stored, ascending; at most
 * %NATTER_STORE_MAX_MISSING of them (the lowest), so a peer announcing a
 * huge seq cannot make us allocate without bound — ask again later.
 *
 * Returns: (transfer full) (element-type gint64): the missing seqs
 */
GArray *
natter_store_missing_seqs (NatterStore  *self,
                           const char   *conversation,
                           const char   *author,
                           gint64        up_to,
                           GError      **error)
{
  g_autoptr(StoreStmt) stmt = NULL;
  g_autoptr(GArray) missing = NULL;
  gint64 expect = 1;
  int rc;

  STORE_ENTER (self, NULL);
  g_return_val_if_fail (conversation != NULL, NULL);
  g_return_val_if_fail (author != NULL, NULL);

  stmt = store_prepare (self,
                        "SELECT seq FROM messages "
                        "WHERE conversation = ?1 AND author = ?2 AND seq <= ?3 ORDER BY seq",
                        error);
  if (stmt == NULL)
    return NULL;
  bind_text (stmt, 1, conversation);
  bind_text (stmt, 2, author);
  sqlite3_bind_int64 (stmt, 3, up_to);

  missing = g_array_new (FALSE, FALSE, sizeof (gint64));
  while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
    {
      gint64 seq = sqlite3_column_int64 (stmt, 0);

      while (expect < seq)
        if (!append_gap (missing, expect++))
          return g_steal_pointer (&missing);
      expect = seq + 1;
    }
  if (rc != SQLITE_DONE)
    {
      store_set_error (self, error, rc, "Could not list missing messages");
      return NULL;
    }

  while (expect <= up_to && append_gap (missing, expect))
    expect++;

  return g_steal_pointer (&missing);
}

/**
 * natter_store_messages_in_state:
 *
 * For resending what the peer has not acknowledged.
 *
 * Returns: (transfer container) (element-type NatterMessage): messages of
 *   @author in @state, in seq order
 */
GPtrArray *
natter_store_messages_in_state (NatterStore         *self,
                                const char          *conversation,
                                const char          *author,
                                NatterMessageState   state,
                                GError             **error)
{
  g_autoptr(StoreStmt) stmt = NULL;

  STORE_ENTER (self, NULL);
  g_return_val_if_fail (conversation != NULL, NULL);
  g_return_val_if_fail (author != NULL, NULL);

  /* The literal `state < 2` lets SQLite use the small messages_unacked index. */
  if (state < NATTER_MESSAGE_DELIVERED)
    stmt = store_prepare (self,
                          "SELECT " MESSAGE_COLUMNS " FROM messages AS m "
                          "WHERE m.conversation = ?1 AND m.author = ?2 AND m.state = ?3 "
                          "AND m.state < 2 ORDER BY m.seq",
                          error);
  else
    stmt = store_prepare (self,
                          "SELECT " MESSAGE_COLUMNS " FROM messages AS m "
                          "WHERE m.conversation = ?1 AND m.author = ?2 AND m.state = ?3 "
                          "ORDER BY m.seq",
                          error);
  if (stmt == NULL)
    return NULL;
  bind_text (stmt, 1, conversation);
  bind_text (stmt, 2, author);
  sqlite3_bind_int (stmt, 3, state);

  return store_collect (self, stmt, message_from_row, "Could not list messages", error);
}

/**
 * natter_store_advance_state:
 * @upto: acknowledge every seq ≤ @upto (acks are cumulative)
 *
 * Moves the messages of @author in @conversation with seq ≤ @upto forward
 * to @state; messages already there or beyond are left alone.
 *
 * Returns: (transfer container) (element-type utf8): the ids of the
 *   messages that changed (in no particular order), %NULL on error
 */
GPtrArray *
natter_store_advance_state (NatterStore         *self,
                            const char          *conversation,
                            const char          *author,
                            gint64               upto,
                            NatterMessageState   state,
                            GError             **error)
{
  g_autoptr(StoreStmt) stmt = NULL;
  g_autoptr(GPtrArray) changed = NULL;
  int rc;

  STORE_ENTER (self, NULL);
  g_return_val_if_fail (conversation != NULL, NULL);
  g_return_val_if_fail (author != NULL, NULL);
  g_return_val_if_fail (state >= NATTER_MESSAGE_QUEUED && state <= NATTER_MESSAGE_READ, NULL);

  /* The target state is a literal, not a parameter: a bound value in the
   * WHERE clause made SQLite re-plan the statement on every call (the partial
   * index depends on it). Up to DELIVERED only unacked rows can change, and
   * `state < 2` keeps the hot path (acks) on the small messages_unacked index. */
  {
    static const char * const sql[] = {
      [NATTER_MESSAGE_QUEUED] = "UPDATE messages SET state = 0 WHERE conversation = ?1 AND "
                                "author = ?2 AND seq <= ?3 AND state < 0 RETURNING id",
      [NATTER_MESSAGE_SENT] = "UPDATE messages SET state = 1 WHERE conversation = ?1 AND "
                              "author = ?2 AND seq <= ?3 AND state < 1 RETURNING id",
      [NATTER_MESSAGE_DELIVERED] = "UPDATE messages SET state = 2 WHERE conversation = ?1 AND "
                                   "author = ?2 AND seq <= ?3 AND state < 2 RETURNING id",
      [NATTER_MESSAGE_READ] = "UPDATE messages SET state = 3 WHERE conversation = ?1 AND "
                              "author = ?2 AND seq <= ?3 AND state < 3 RETURNING id",
    };

    stmt = store_prepare (self, sql[state], error);
  }
  if (stmt == NULL)
    return NULL;
  bind_text (stmt, 1, conversation);
  bind_text (stmt, 2, author);
  sqlite3_bind_int64 (stmt, 3, upto);

  changed = g_ptr_array_new_with_free_func (g_free);
  while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
    g_ptr_array_add (changed, column_dup_text (stmt, 0));
  if (rc != SQLITE_DONE)
    {
      store_set_error (self, error, rc, "Could not update delivery states");
      return NULL;
    }

  return g_steal_pointer (&changed);
}

/**
 * natter_store_contiguous_seq:
 *
 * One author's entry of natter_store_version_vector(): the highest n such
 * that seqs 1…n of @author are all stored.  Reads the seqs in order and
 * stops at the first gap.
 *
 * Returns: n (0 when seq 1 is missing), -1 on error
 */
gint64
natter_store_contiguous_seq (NatterStore  *self,
                             const char   *conversation,
                             const char   *author,
                             GError      **error)
{
  g_autoptr(StoreStmt) stmt = NULL;
  gint64 contiguous = 0;
  int rc;

  STORE_ENTER (self, -1);
  g_return_val_if_fail (conversation != NULL, -1);
  g_return_val_if_fail (author != NULL, -1);

  stmt = store_prepare (self,
                        "SELECT seq FROM messages WHERE conversation = ?1 AND author = ?2 "
                        "ORDER BY seq",
                        error);
  if (stmt == NULL)
    return -1;
  bind_text (stmt, 1, conversation);
  bind_text (stmt, 2, author);

  while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
    {
      if (sqlite3_column_int64 (stmt, 0) != contiguous + 1)
        return contiguous;
      contiguous++;
    }
  if (rc != SQLITE_DONE)
    {
      store_set_error (self, error, rc, "Could not read sequence numbers");
      return -1;
    }

  return contiguous;
}

/**
 * natter_store_authors:
 *
 * Every author of @conversation with the highest seq stored for each
 * (gaps or not; compare natter_store_version_vector()).
 *
 * Returns: (transfer full) (element-type utf8 gint64*): author → gint64 *
 */
GHashTable *
natter_store_authors (NatterStore  *self,
                      const char   *conversation,
                      GError      **error)
{
  g_autoptr(StoreStmt) stmt = NULL;

  STORE_ENTER (self, NULL);
  g_return_val_if_fail (conversation != NULL, NULL);

  stmt = store_prepare (self,
                        "SELECT author, max (seq) FROM messages WHERE conversation = ?1 "
                        "GROUP BY author",
                        error);
  if (stmt == NULL)
    return NULL;
  bind_text (stmt, 1, conversation);

  return store_collect_seq_map (self, stmt, error);
}

/* ------------------------------------------------------------------ */
/* File transfers                                                      */
/* ------------------------------------------------------------------ */

/* Read back by transfer_from_row(), in this order. */
#define TRANSFER_COLUMNS \
  "id, conversation, peer_id, author, incoming, name, size, mime, sha256, chunk, state, " \
  "verified, path, partial, mtime, error, pending, hlc_l, hlc_c, created_at"

static gpointer
transfer_from_row (StoreStmt *stmt)
{
  NatterTransfer *transfer = _natter_transfer_new ();
  gint64 state = sqlite3_column_int64 (stmt, 10);

  transfer->id = g_strdup (column_text_nonnull (stmt, 0));
  transfer->conversation = g_strdup (column_text_nonnull (stmt, 1));
  transfer->peer_id = g_strdup (column_text_nonnull (stmt, 2));
  transfer->author = g_strdup (column_text_nonnull (stmt, 3));
  transfer->direction = sqlite3_column_int (stmt, 4) ? NATTER_TRANSFER_INCOMING
                                                     : NATTER_TRANSFER_OUTGOING;
  transfer->file_name = g_strdup (column_text_nonnull (stmt, 5));
  transfer->size = MAX (sqlite3_column_int64 (stmt, 6), 0);
  transfer->mime_type = g_strdup (column_text_nonnull (stmt, 7));
  transfer->sha256 = column_dup_text (stmt, 8);
  transfer->chunk = (guint) CLAMP (sqlite3_column_int64 (stmt, 9), 64, 65536);
  /* A newer Natter or a damaged row must not trip the enum's range check. */
  transfer->state = state >= NATTER_TRANSFER_PREPARING && state <= NATTER_TRANSFER_DECLINED
                    ? (NatterTransferState) state : NATTER_TRANSFER_FAILED;
  transfer->bytes_done = MAX (sqlite3_column_int64 (stmt, 11), 0);
  transfer->path = column_dup_text (stmt, 12);
  transfer->partial = column_dup_text (stmt, 13);
  transfer->mtime = sqlite3_column_int64 (stmt, 14);
  transfer->error = column_dup_text (stmt, 15);
  transfer->pending = sqlite3_column_int (stmt, 16) != 0;
  transfer->hlc_l = sqlite3_column_int64 (stmt, 17);
  transfer->hlc_c = sqlite3_column_int64 (stmt, 18);
  transfer->created_at = sqlite3_column_int64 (stmt, 19);
  return transfer;
}

/**
 * natter_store_save_transfer:
 *
 * Inserts @transfer (and its timeline event) or updates what can change:
 * hash, size, state, offset, paths, error.
 */
gboolean
natter_store_save_transfer (NatterStore     *self,
                            NatterTransfer  *transfer,
                            GError         **error)
{
  g_autoptr(StoreStmt) stmt = NULL;

  STORE_ENTER (self, FALSE);
  g_return_val_if_fail (NATTER_IS_TRANSFER (transfer), FALSE);

  stmt = store_prepare (self,
                        "INSERT INTO transfers (" TRANSFER_COLUMNS ") "
                        "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, "
                        "        ?15, ?16, ?17, ?18, ?19, ?20) "
                        "ON CONFLICT (id) DO UPDATE SET "
                        "  size = excluded.size, sha256 = excluded.sha256, state = excluded.state, "
                        "  verified = excluded.verified, path = excluded.path, "
                        "  partial = excluded.partial, mtime = excluded.mtime, "
                        "  error = excluded.error, pending = excluded.pending",
                        error);
  if (stmt == NULL)
    return FALSE;

  bind_text (stmt, 1, transfer->id);
  bind_text (stmt, 2, transfer->conversation);
  bind_text (stmt, 3, transfer->peer_id);
  bind_text (stmt, 4, transfer->author);
  sqlite3_bind_int (stmt, 5, transfer->direction == NATTER_TRANSFER_INCOMING);
  bind_text (stmt, 6, transfer->file_name);
  sqlite3_bind_int64 (stmt, 7, (sqlite3_int64) transfer->size);
  bind_text (stmt, 8, transfer->mime_type);
  bind_text (stmt, 9, transfer->sha256);
  sqlite3_bind_int64 (stmt, 10, transfer->chunk);
  sqlite3_bind_int (stmt, 11, transfer->state);
  sqlite3_bind_int64 (stmt, 12, (sqlite3_int64) transfer->bytes_done);
  bind_text (stmt, 13, transfer->path);
  bind_text (stmt, 14, transfer->partial);
  sqlite3_bind_int64 (stmt, 15, transfer->mtime);
  bind_text (stmt, 16, transfer->error);
  sqlite3_bind_int (stmt, 17, transfer->pending);
  sqlite3_bind_int64 (stmt, 18, transfer->hlc_l);
  sqlite3_bind_int64 (stmt, 19, transfer->hlc_c);
  sqlite3_bind_int64 (stmt, 20, transfer->created_at);

  return store_step_done (self, stmt, "Could not save the transfer", error);
}

gboolean
natter_store_set_transfer_offset (NatterStore  *self,
                                  const char   *id,
                                  guint64       offset,
                                  GError      **error)
{
  g_autoptr(StoreStmt) stmt = NULL;

  STORE_ENTER (self, FALSE);
  g_return_val_if_fail (id != NULL, FALSE);

  stmt = store_prepare (self, "UPDATE transfers SET verified = ?2 WHERE id = ?1", error);
  if (stmt == NULL)
    return FALSE;
  bind_text (stmt, 1, id);
  sqlite3_bind_int64 (stmt, 2, (sqlite3_int64) offset);

  return store_step_done (self, stmt, "Could not save the transfer's progress", error);
}

/**
 * natter_store_load_transfer:
 *
 * Returns: (transfer full) (nullable): the transfer, or %NULL (error unset)
 *   when it is not stored
 */
NatterTransfer *
natter_store_load_transfer (NatterStore  *self,
                            const char   *id,
                            GError      **error)
{
  g_autoptr(StoreStmt) stmt = NULL;

  STORE_ENTER (self, NULL);
  g_return_val_if_fail (id != NULL, NULL);

  stmt = store_prepare (self, "SELECT " TRANSFER_COLUMNS " FROM transfers WHERE id = ?1", error);
  if (stmt == NULL)
    return NULL;
  bind_text (stmt, 1, id);

  return store_fetch_one (self, stmt, transfer_from_row, "Could not load the transfer", error);
}

/**
 * natter_store_get_transfer_by_rowid:
 * @rowid: the `ref` of a timeline event of kind 'file'
 *
 * Returns: (transfer full) (nullable): the transfer
 */
NatterTransfer *
natter_store_get_transfer_by_rowid (NatterStore  *self,
                                    gint64        rowid,
                                    GError      **error)
{
  g_autoptr(StoreStmt) stmt = NULL;

  STORE_ENTER (self, NULL);

  stmt = store_prepare (self, "SELECT " TRANSFER_COLUMNS " FROM transfers WHERE num = ?1", error);
  if (stmt == NULL)
    return NULL;
  sqlite3_bind_int64 (stmt, 1, rowid);

  return store_fetch_one (self, stmt, transfer_from_row, "Could not load the transfer", error);
}

/**
 * natter_store_list_transfers:
 *
 * Returns: (transfer container) (element-type NatterTransfer): the transfers
 */
GPtrArray *
natter_store_list_transfers (NatterStore  *self,
                             const char   *conversation,
                             GError      **error)
{
  g_autoptr(StoreStmt) stmt = NULL;

  STORE_ENTER (self, NULL);

  if (conversation != NULL)
    stmt = store_prepare (self,
                          "SELECT " TRANSFER_COLUMNS " FROM transfers WHERE conversation = ?1 "
                          "ORDER BY num",
                          error);
  else
    stmt = store_prepare (self, "SELECT " TRANSFER_COLUMNS " FROM transfers ORDER BY num", error);
  if (stmt == NULL)
    return NULL;
  if (conversation != NULL)
    bind_text (stmt, 1, conversation);

  return store_collect (self, stmt, transfer_from_row, "Could not list transfers", error);
}

/* ------------------------------------------------------------------ */
/* Search                                                              */
/* ------------------------------------------------------------------ */

/* Turns what the user typed into an FTS5 query that cannot be a syntax
 * error: every whitespace-separated word becomes a quoted string (quotes
 * doubled), so `"`, `*`, `AND`, `NEAR(`, `col:` are plain text, and each is
 * a prefix match so results follow typing.  Words are ANDed.  Returns NULL
 * when there is no word. */
static char *
build_fts_query (const char *query)
{
  g_auto(GStrv) words = g_strsplit_set (query, " \t\n\r\f\v", -1);
  g_autoptr(GString) fts = g_string_new (NULL);

  for (guint i = 0; words[i] != NULL; i++)
    {
      if (words[i][0] == '\0')
        continue;

      if (fts->len > 0)
        g_string_append_c (fts, ' ');
      g_string_append_c (fts, '"');
      for (const char *p = words[i]; *p != '\0'; p++)
        {
          if (*p == '"')
            g_string_append_c (fts, '"');
          g_string_append_c (fts, *p);
        }
      g_string_append (fts, "\"*");
    }

  if (fts->len == 0)
    return NULL;
  return g_string_free (g_steal_pointer (&fts), FALSE);
}

/**
 * natter_store_search:
 * @conversation: (nullable): where to search, or %NULL for everywhere
 * @query: what the user typed, taken as plain words (each a prefix)
 *
 * Returns: (transfer container) (element-type NatterMessage): the newest
 *   @limit messages containing every word, in display order
 */
GPtrArray *
natter_store_search (NatterStore  *self,
                     const char   *conversation,
                     const char   *query,
                     guint         limit,
                     GError      **error)
{
  g_autoptr(StoreStmt) stmt = NULL;
  g_autofree char *fts_query = NULL;
  GPtrArray *results;

  STORE_ENTER (self, NULL);
  g_return_val_if_fail (query != NULL, NULL);

  if ((fts_query = build_fts_query (query)) == NULL)
    return g_ptr_array_new_with_free_func (g_object_unref);

  stmt = store_prepare (self,
                        "SELECT " MESSAGE_COLUMNS " FROM messages_fts "
                        "JOIN messages AS m ON m.num = messages_fts.rowid "
                        "WHERE messages_fts MATCH ?2 AND (?1 IS NULL OR m.conversation = ?1) "
                        "ORDER BY " DISPLAY_ORDER_DESC " LIMIT ?3",
                        error);
  if (stmt == NULL)
    return NULL;
  bind_text (stmt, 1, conversation);
  bind_text (stmt, 2, fts_query);
  sqlite3_bind_int64 (stmt, 3, limit);

  results = store_collect (self, stmt, message_from_row, "Could not search", error);

  /* Newest first was only to apply the limit. */
  if (results != NULL)
    {
      for (guint i = 0, j = results->len; i + 1 < j; i++, j--)
        {
          gpointer tmp = results->pdata[i];

          results->pdata[i] = results->pdata[j - 1];
          results->pdata[j - 1] = tmp;
        }
    }

  return results;
}
