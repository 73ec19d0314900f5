/* natter-store-transfers.c: NatterStore's file transfers, each one 'file' event in the timeline. */
#define G_LOG_DOMAIN "natter-store"

#include "natter-store-private.h"

#include "natter-transfer-private.h"

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

  transfer->id = g_strdup (_natter_store_column_text_nonnull (stmt, 0));
  transfer->conversation = g_strdup (_natter_store_column_text_nonnull (stmt, 1));
  transfer->peer_id = g_strdup (_natter_store_column_text_nonnull (stmt, 2));
  transfer->author = g_strdup (_natter_store_column_text_nonnull (stmt, 3));
  transfer->direction = sqlite3_column_int (stmt, 4) ? NATTER_TRANSFER_INCOMING
                                                     : NATTER_TRANSFER_OUTGOING;
  transfer->file_name = g_strdup (_natter_store_column_text_nonnull (stmt, 5));
  transfer->size = MAX (sqlite3_column_int64 (stmt, 6), 0);
  transfer->mime_type = g_strdup (_natter_store_column_text_nonnull (stmt, 7));
  transfer->sha256 = _natter_store_column_dup_text (stmt, 8);
  transfer->chunk = (guint) CLAMP (sqlite3_column_int64 (stmt, 9), 64, 65536);
  /* A newer Natter or a damaged row must not trip the enum's range check. */
  transfer->state = state >= NATTER_TRANSFER_PREPARING && state <= NATTER_TRANSFER_DECLINED
                    ? (NatterTransferState) state : NATTER_TRANSFER_FAILED;
  transfer->bytes_done = MAX (sqlite3_column_int64 (stmt, 11), 0);
  transfer->path = _natter_store_column_dup_text (stmt, 12);
  transfer->partial = _natter_store_column_dup_text (stmt, 13);
  transfer->mtime = sqlite3_column_int64 (stmt, 14);
  transfer->error = _natter_store_column_dup_text (stmt, 15);
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

  stmt = _natter_store_prepare (self,
                                "INSERT INTO transfers (" TRANSFER_COLUMNS ") "
                                "VALUES "
                                "(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, "
                                "        ?15, ?16, ?17, ?18, ?19, ?20) "
                                "ON CONFLICT (id) DO UPDATE SET "
                                "  size = excluded.size, sha256 = excluded.sha256,"
                                " state = excluded.state, "
                                "  verified = excluded.verified, path = excluded.path, "
                                "  partial = excluded.partial, mtime = excluded.mtime, "
                                "  error = excluded.error, pending = excluded.pending",
                                error);
  if (stmt == NULL)
    return FALSE;

  _natter_store_bind_text (stmt, 1, transfer->id);
  _natter_store_bind_text (stmt, 2, transfer->conversation);
  _natter_store_bind_text (stmt, 3, transfer->peer_id);
  _natter_store_bind_text (stmt, 4, transfer->author);
  sqlite3_bind_int (stmt, 5, transfer->direction == NATTER_TRANSFER_INCOMING);
  _natter_store_bind_text (stmt, 6, transfer->file_name);
  sqlite3_bind_int64 (stmt, 7, (sqlite3_int64) transfer->size);
  _natter_store_bind_text (stmt, 8, transfer->mime_type);
  _natter_store_bind_text (stmt, 9, transfer->sha256);
  sqlite3_bind_int64 (stmt, 10, transfer->chunk);
  sqlite3_bind_int (stmt, 11, transfer->state);
  sqlite3_bind_int64 (stmt, 12, (sqlite3_int64) transfer->bytes_done);
  _natter_store_bind_text (stmt, 13, transfer->path);
  _natter_store_bind_text (stmt, 14, transfer->partial);
  sqlite3_bind_int64 (stmt, 15, transfer->mtime);
  _natter_store_bind_text (stmt, 16, transfer->error);
  sqlite3_bind_int (stmt, 17, transfer->pending);
  sqlite3_bind_int64 (stmt, 18, transfer->hlc_l);
  sqlite3_bind_int64 (stmt, 19, transfer->hlc_c);
  sqlite3_bind_int64 (stmt, 20, transfer->created_at);

  return _natter_store_step_done (self, stmt, "Could not save the transfer", error);
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

  stmt = _natter_store_prepare (self, "UPDATE transfers SET verified = ?2 WHERE id = ?1", error);
  if (stmt == NULL)
    return FALSE;
  _natter_store_bind_text (stmt, 1, id);
  sqlite3_bind_int64 (stmt, 2, (sqlite3_int64) offset);

  return _natter_store_step_done (self, stmt, "Could not save the transfer's progress", error);
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

  stmt = _natter_store_prepare (self,
                                "SELECT " TRANSFER_COLUMNS " FROM transfers WHERE id = ?1",
                                error);
  if (stmt == NULL)
    return NULL;
  _natter_store_bind_text (stmt, 1, id);

  return _natter_store_fetch_one (self, stmt, transfer_from_row, "Could not load the transfer",
                                  error);
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

  stmt = _natter_store_prepare (self,
                                "SELECT " TRANSFER_COLUMNS " FROM transfers WHERE num = ?1",
                                error);
  if (stmt == NULL)
    return NULL;
  sqlite3_bind_int64 (stmt, 1, rowid);

  return _natter_store_fetch_one (self, stmt, transfer_from_row, "Could not load the transfer",
                                  error);
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
    stmt = _natter_store_prepare (self,
                                  "SELECT " TRANSFER_COLUMNS " FROM transfers "
                                  "WHERE conversation = ?1 "
                                  "ORDER BY num",
                                  error);
  else
    stmt = _natter_store_prepare (self, "SELECT " TRANSFER_COLUMNS " FROM transfers ORDER BY num",
                                  error);
  if (stmt == NULL)
    return NULL;
  if (conversation != NULL)
    _natter_store_bind_text (stmt, 1, conversation);

  return _natter_store_collect (self, stmt, transfer_from_row, "Could not list transfers", error);
}
