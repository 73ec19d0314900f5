/* natter-store-sync.c: NatterStore's queries for reconciliation: version vectors, gaps, acks. */
#define G_LOG_DOMAIN "natter-store"

#include "natter-store-private.h"

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
      g_hash_table_insert (map, _natter_store_column_dup_text (stmt, 0), seq);
    }
  if (rc != SQLITE_DONE)
    {
      _natter_store_set_error (self, error, rc, "Could not read sequence numbers");
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
  stmt = _natter_store_prepare (self,
                                "SELECT author, max(seq) FROM ("
                                "  SELECT author, seq,"
                                "    seq - row_number ()"
                                " OVER (PARTITION BY author ORDER BY seq) AS gap"
                                "  FROM messages WHERE conversation = ?1"
                                ") WHERE gap = 0 GROUP BY author",
                                error);
  if (stmt == NULL)
    return NULL;
  _natter_store_bind_text (stmt, 1, conversation);

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

  return _natter_store_count (self,
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

  stmt = _natter_store_prepare (self,
                                "SELECT " MESSAGE_COLUMNS " FROM messages AS m "
                                "WHERE m.conversation = ?1 AND m.author = ?2 AND m.seq >= ?3 "
                                "ORDER BY m.seq LIMIT ?4",
                                error);
  if (stmt == NULL)
    return NULL;
  _natter_store_bind_text (stmt, 1, conversation);
  _natter_store_bind_text (stmt, 2, author);
  sqlite3_bind_int64 (stmt, 3, from_seq);
  sqlite3_bind_int64 (stmt, 4, limit);

  return _natter_store_collect (self, stmt, _natter_store_message_from_row,
                                "Could not list messages", error);
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

  stmt = _natter_store_prepare (self,
                                "SELECT seq FROM messages "
                                "WHERE conversation = ?1 AND author = ?2 AND seq <= ?3 "
                                "ORDER BY seq",
                                error);
  if (stmt == NULL)
    return NULL;
  _natter_store_bind_text (stmt, 1, conversation);
  _natter_store_bind_text (stmt, 2, author);
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
      _natter_store_set_error (self, error, rc, "Could not list missing messages");
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
    stmt = _natter_store_prepare (self,
                                  "SELECT " MESSAGE_COLUMNS " FROM messages AS m "
                                  "WHERE m.conversation = ?1 AND m.author = ?2 AND m.state = ?3 "
                                  "AND m.state < 2 ORDER BY m.seq",
                                  error);
  else
    stmt = _natter_store_prepare (self,
                                  "SELECT " MESSAGE_COLUMNS " FROM messages AS m "
                                  "WHERE m.conversation = ?1 AND m.author = ?2 AND m.state = ?3 "
                                  "ORDER BY m.seq",
                                  error);
  if (stmt == NULL)
    return NULL;
  _natter_store_bind_text (stmt, 1, conversation);
  _natter_store_bind_text (stmt, 2, author);
  sqlite3_bind_int (stmt, 3, state);

  return _natter_store_collect (self, stmt, _natter_store_message_from_row,
                                "Could not list messages", error);
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

    stmt = _natter_store_prepare (self, sql[state], error);
  }
  if (stmt == NULL)
    return NULL;
  _natter_store_bind_text (stmt, 1, conversation);
  _natter_store_bind_text (stmt, 2, author);
  sqlite3_bind_int64 (stmt, 3, upto);

  changed = g_ptr_array_new_with_free_func (g_free);
  while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
    g_ptr_array_add (changed, _natter_store_column_dup_text (stmt, 0));
  if (rc != SQLITE_DONE)
    {
      _natter_store_set_error (self, error, rc, "Could not update delivery states");
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

  stmt = _natter_store_prepare (self,
                                "SELECT seq FROM messages WHERE conversation = ?1 AND author = ?2 "
                                "ORDER BY seq",
                                error);
  if (stmt == NULL)
    return -1;
  _natter_store_bind_text (stmt, 1, conversation);
  _natter_store_bind_text (stmt, 2, author);

  while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
    {
      if (sqlite3_column_int64 (stmt, 0) != contiguous + 1)
        return contiguous;
      contiguous++;
    }
  if (rc != SQLITE_DONE)
    {
      _natter_store_set_error (self, error, rc, "Could not read sequence numbers");
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

  stmt = _natter_store_prepare (self,
                                "SELECT author, max (seq) FROM messages WHERE conversation = ?1 "
                                "GROUP BY author",
                                error);
  if (stmt == NULL)
    return NULL;
  _natter_store_bind_text (stmt, 1, conversation);

  return store_collect_seq_map (self, stmt, error);
}
