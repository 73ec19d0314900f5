/* natter-store-messages.c: NatterStore's messages in display order, and full-text search. */
#define G_LOG_DOMAIN "natter-store"

#include "natter-store-private.h"

#include "natter-error.h"

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

  stmt = _natter_store_prepare (self,
                                "INSERT INTO messages "
                                "(id, conversation, author, seq, hlc_l, hlc_c, "
                                "  body, reply_to, state, late, received_at) "
                                "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11) "
                                "ON CONFLICT (id) DO NOTHING",
                                error);
  if (stmt == NULL)
    return FALSE;

  _natter_store_bind_text (stmt, 1, natter_message_get_id (message));
  _natter_store_bind_text (stmt, 2, natter_message_get_conversation (message));
  _natter_store_bind_text (stmt, 3, natter_message_get_author (message));
  sqlite3_bind_int64 (stmt, 4, natter_message_get_seq (message));
  sqlite3_bind_int64 (stmt, 5, natter_message_get_hlc_l (message));
  sqlite3_bind_int64 (stmt, 6, natter_message_get_hlc_c (message));
  _natter_store_bind_text (stmt, 7, natter_message_get_body (message));
  _natter_store_bind_text (stmt, 8, natter_message_get_reply_to (message));
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
      _natter_store_set_error (self, error, rc, "Could not save the message");
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

  stmt = _natter_store_prepare (self,
                                "UPDATE messages SET state = ?2 WHERE id = ?1 AND state < ?2",
                                error);
  if (stmt == NULL)
    return FALSE;
  _natter_store_bind_text (stmt, 1, id);
  sqlite3_bind_int (stmt, 2, state);

  if (!_natter_store_step_done (self, stmt, "Could not update the message state", error))
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

  stmt = _natter_store_prepare (self,
                                "SELECT " MESSAGE_COLUMNS " FROM messages AS m WHERE m.id = ?1",
                                error);
  if (stmt == NULL)
    return NULL;
  _natter_store_bind_text (stmt, 1, id);

  return _natter_store_fetch_one (self, stmt, _natter_store_message_from_row,
                                  "Could not load the message", error);
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

  stmt = _natter_store_prepare (self,
                                "SELECT " MESSAGE_COLUMNS " FROM messages AS m WHERE m.num = ?1",
                                error);
  if (stmt == NULL)
    return NULL;
  sqlite3_bind_int64 (stmt, 1, rowid);

  return _natter_store_fetch_one (self, stmt, _natter_store_message_from_row,
                                  "Could not load the message", error);
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

  if ((stmt = _natter_store_prepare (self, "SELECT num FROM messages WHERE id = ?1",
                                     error)) == NULL)
    return -1;
  _natter_store_bind_text (stmt, 1, id);

  return _natter_store_step_int64 (self, stmt, 0, "Could not look up the message", error);
}

/* Runs a `SELECT count(*) … WHERE conversation = ?1` style statement. */
gint64
_natter_store_count (NatterStore  *self,
                     const char   *sql,
                     const char   *conversation,
                     const char   *author,
                     GError      **error)
{
  g_autoptr(StoreStmt) stmt = _natter_store_prepare (self, sql, error);

  if (stmt == NULL)
    return -1;
  _natter_store_bind_text (stmt, 1, conversation);
  if (author != NULL)
    _natter_store_bind_text (stmt, 2, author);

  return _natter_store_step_int64 (self, stmt, 0, "Could not count messages", error);
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

  return _natter_store_count (self, "SELECT count(*) FROM messages WHERE conversation = ?1",
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

  return _natter_store_count (self,
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

  stmt = _natter_store_prepare (self,
                                "SELECT " MESSAGE_COLUMNS " FROM messages AS m "
                                "WHERE m.conversation = ?1 ORDER BY " DISPLAY_ORDER_DESC " LIMIT 1",
                                error);
  if (stmt == NULL)
    return NULL;
  _natter_store_bind_text (stmt, 1, conversation);

  return _natter_store_fetch_one (self, stmt, _natter_store_message_from_row,
                                  "Could not load the message", error);
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

  stmt = _natter_store_prepare (self,
                                "SELECT " MESSAGE_COLUMNS " FROM messages AS m "
                                "WHERE m.conversation = ?1 ORDER BY " DISPLAY_ORDER " "
                                "LIMIT ?3 OFFSET ?2",
                                error);
  if (stmt == NULL)
    return NULL;
  _natter_store_bind_text (stmt, 1, conversation);
  sqlite3_bind_int64 (stmt, 2, offset);
  sqlite3_bind_int64 (stmt, 3, limit);

  return _natter_store_collect (self, stmt, _natter_store_message_from_row,
                                "Could not list messages", error);
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

  stmt = _natter_store_prepare (self,
                                "SELECT m.num FROM messages AS m "
                                "WHERE m.conversation = ?1 ORDER BY " DISPLAY_ORDER,
                                error);
  if (stmt == NULL)
    return NULL;
  _natter_store_bind_text (stmt, 1, conversation);

  rowids = g_array_new (FALSE, FALSE, sizeof (gint64));
  while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
    {
      gint64 rowid = sqlite3_column_int64 (stmt, 0);
      g_array_append_val (rowids, rowid);
    }
  if (rc != SQLITE_DONE)
    {
      _natter_store_set_error (self, error, rc, "Could not list messages");
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
  stmt = _natter_store_prepare (self,
                                "SELECT count(*) FROM messages AS m WHERE m.conversation = ?1 "
                                "AND (m.hlc_l, m.hlc_c, m.author, m.id) < (?2, ?3, ?4, ?5)",
                                error);
  if (stmt == NULL)
    return -1;
  _natter_store_bind_text (stmt, 1, natter_message_get_conversation (message));
  sqlite3_bind_int64 (stmt, 2, natter_message_get_hlc_l (message));
  sqlite3_bind_int64 (stmt, 3, natter_message_get_hlc_c (message));
  _natter_store_bind_text (stmt, 4, natter_message_get_author (message));
  _natter_store_bind_text (stmt, 5, natter_message_get_id (message));

  return _natter_store_step_int64 (self, stmt, 0, "Could not locate the message", error);
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

  stmt = _natter_store_prepare (self,
                                "SELECT " MESSAGE_COLUMNS " FROM messages_fts "
                                "JOIN messages AS m ON m.num = messages_fts.rowid "
                                "WHERE messages_fts MATCH ?2 "
                                "AND (?1 IS NULL OR m.conversation = ?1) "
                                "ORDER BY " DISPLAY_ORDER_DESC " LIMIT ?3",
                                error);
  if (stmt == NULL)
    return NULL;
  _natter_store_bind_text (stmt, 1, conversation);
  _natter_store_bind_text (stmt, 2, fts_query);
  sqlite3_bind_int64 (stmt, 3, limit);

  results = _natter_store_collect (self, stmt, _natter_store_message_from_row,
                                   "Could not search", error);

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
