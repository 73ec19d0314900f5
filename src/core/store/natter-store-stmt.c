/* natter-store-stmt.c: NatterStore's cached statements, error mapping and rows → objects. */
#define G_LOG_DOMAIN "natter-store"

#include "natter-store-private.h"

#include "natter-error.h"

void
_natter_store_stmt_release (StoreStmt *stmt)
{
  sqlite3_reset (stmt);
  sqlite3_clear_bindings (stmt);
}

/* ------------------------------------------------------------------ */
/* Errors, statements                                                  */
/* ------------------------------------------------------------------ */

void
_natter_store_set_error (NatterStore  *self,
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
StoreStmt *
_natter_store_prepare (NatterStore  *self,
                       const char   *sql,
                       GError      **error)
{
  sqlite3_stmt *stmt = g_hash_table_lookup (self->stmts, sql);

  if (stmt == NULL)
    {
      int rc = sqlite3_prepare_v3 (self->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &stmt, NULL);

      if (rc != SQLITE_OK)
        {
          _natter_store_set_error (self, error, rc, "Could not prepare a query");
          return NULL;
        }
      g_hash_table_insert (self->stmts, (gpointer)sql, stmt);
    }

  return stmt;
}

/* Steps a statement that returns no rows. */
gboolean
_natter_store_step_done (NatterStore  *self,
                         StoreStmt    *stmt,
                         const char   *what,
                         GError      **error)
{
  int rc = sqlite3_step (stmt);

  if (rc != SQLITE_DONE)
    {
      _natter_store_set_error (self, error, rc, what);
      return FALSE;
    }
  return TRUE;
}

/* Steps a statement that returns one row with one integer; @fallback when it
 * returns no row.  Returns -1 on error. */
gint64
_natter_store_step_int64 (NatterStore  *self,
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

  _natter_store_set_error (self, error, rc, what);
  return -1;
}

/* For schema changes and pragmas; never with user input. */
gboolean
_natter_store_exec (NatterStore  *self,
                    const char   *sql,
                    GError      **error)
{
  int rc = sqlite3_exec (self->db, sql, NULL, NULL, NULL);

  if (rc != SQLITE_OK)
    {
      _natter_store_set_error (self, error, rc, "Could not update the database");
      return FALSE;
    }
  return TRUE;
}

void
_natter_store_bind_text (StoreStmt  *stmt,
                         int         index,
                         const char *text)
{
  /* SQLITE_STATIC: every caller keeps @text alive until the statement is reset. */
  sqlite3_bind_text (stmt, index, text, -1, SQLITE_STATIC);
}

char *
_natter_store_column_dup_text (StoreStmt *stmt,
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
const char *
_natter_store_column_text_nonnull (StoreStmt *stmt,
                                   int        column)
{
  const char *text = (const char *)sqlite3_column_text (stmt, column);

  return text != NULL ? text : "";
}

gpointer
_natter_store_message_from_row (StoreStmt *stmt)
{
  return g_object_new (NATTER_TYPE_MESSAGE,
                       "id", _natter_store_column_text_nonnull (stmt, 0),
                       "conversation", _natter_store_column_text_nonnull (stmt, 1),
                       "author", _natter_store_column_text_nonnull (stmt, 2),
                       "seq", (gint64)sqlite3_column_int64 (stmt, 3),
                       "hlc-l", (gint64)sqlite3_column_int64 (stmt, 4),
                       "hlc-c", (gint64)sqlite3_column_int64 (stmt, 5),
                       "body", _natter_store_column_text_nonnull (stmt, 6),
                       "reply-to", sqlite3_column_text (stmt, 7),
                       "state", message_state_from_db (sqlite3_column_int64 (stmt, 8)),
                       "late", sqlite3_column_int (stmt, 9) != 0,
                       "received-at", (gint64)sqlite3_column_int64 (stmt, 10),
                       NULL);
}

gpointer
_natter_store_contact_from_row (StoreStmt *stmt)
{
  return g_object_new (NATTER_TYPE_CONTACT,
                       "peer-id", _natter_store_column_text_nonnull (stmt, 0),
                       "name", sqlite3_column_text (stmt, 1),
                       "state", contact_state_from_db (sqlite3_column_int64 (stmt, 2)),
                       "verified", sqlite3_column_int (stmt, 3) != 0,
                       "last-seen", (gint64)sqlite3_column_int64 (stmt, 4),
                       NULL);
}

/* Steps @stmt to the end, one object per row. */
GPtrArray *
_natter_store_collect (NatterStore  *self,
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
      _natter_store_set_error (self, error, rc, what);
      return NULL;
    }
  return g_steal_pointer (&items);
}

/* Steps @stmt for at most one object; NULL without error when there is none. */
gpointer
_natter_store_fetch_one (NatterStore  *self,
                         StoreStmt    *stmt,
                         RowFunc       row_func,
                         const char   *what,
                         GError      **error)
{
  int rc = sqlite3_step (stmt);

  if (rc == SQLITE_ROW)
    return row_func (stmt);
  if (rc != SQLITE_DONE)
    _natter_store_set_error (self, error, rc, what);
  return NULL;
}
