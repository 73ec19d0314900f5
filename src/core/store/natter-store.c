/* natter-store.c: the NatterStore object: opening, closing, transactions and metadata. */
#define G_LOG_DOMAIN "natter-store"

#include "natter-store-private.h"

#include <glib/gi18n-lib.h>
#include <glib/gstdio.h>
#include <sys/stat.h>
#include <stdio.h>
#include <string.h>

#include "natter-error.h"

/* A reader waits this long for a writer's lock instead of failing. */
#define BUSY_TIMEOUT_MS 5000

G_DEFINE_FINAL_TYPE (NatterStore, natter_store, G_TYPE_OBJECT)

static void
store_stmt_finalize (gpointer stmt)
{
  sqlite3_finalize (stmt);
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

  if ((stmt = _natter_store_prepare (self, "SELECT count(*) FROM sqlite_master",
                                     &local_error)) == NULL ||
      _natter_store_step_int64 (self, stmt, 0, "Could not read the schema", &local_error) < 0 ||
      !_natter_store_get_user_version (self, out_version, &local_error))
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

  if ((stmt = _natter_store_prepare (self, "PRAGMA quick_check", &local_error)) == NULL)
    return store_fail_open (self, local_error, error);

  while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
    {
      if (g_strcmp0 ((const char *)sqlite3_column_text (stmt, 0), "ok") != 0)
        return store_fail_open (self, NULL, error);
    }
  if (rc != SQLITE_DONE)
    {
      _natter_store_set_error (self, &local_error, rc, "quick_check");
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

  if ((stmt = _natter_store_prepare (self, "PRAGMA journal_mode = WAL", error)) == NULL)
    return FALSE;
  if (sqlite3_step (stmt) != SQLITE_ROW)
    {
      _natter_store_set_error (self, error, sqlite3_errcode (self->db), "Could not enable WAL");
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
      !_natter_store_check_version (self, version, error) ||
      !_natter_store_exec (self, "PRAGMA foreign_keys = ON", error))
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
      !_natter_store_exec (self, "PRAGMA synchronous = NORMAL; PRAGMA journal_size_limit = 8388608",
                           error) ||
      !_natter_store_migrate (self, error))
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
  g_autoptr(StoreStmt) stmt = _natter_store_prepare (self, sql, error);

  return stmt != NULL && _natter_store_step_done (self, stmt, what, error);
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

  if ((stmt = _natter_store_prepare (self, "SELECT value FROM meta WHERE key = ?1", error)) == NULL)
    return NULL;
  _natter_store_bind_text (stmt, 1, key);

  rc = sqlite3_step (stmt);
  if (rc == SQLITE_ROW)
    return _natter_store_column_dup_text (stmt, 0);
  if (rc != SQLITE_DONE)
    _natter_store_set_error (self, error, rc, "Could not read metadata");
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
    stmt = _natter_store_prepare (self,
                                  "INSERT INTO meta (key, value) VALUES (?1, ?2) "
                                  "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                                  error);
  else
    stmt = _natter_store_prepare (self, "DELETE FROM meta WHERE key = ?1", error);
  if (stmt == NULL)
    return FALSE;

  _natter_store_bind_text (stmt, 1, key);
  if (value != NULL)
    _natter_store_bind_text (stmt, 2, value);

  return _natter_store_step_done (self, stmt, "Could not save metadata", error);
}
