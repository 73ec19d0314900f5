/* natter-store-contacts.c: NatterStore's contacts, and deleting a conversation. */
#define G_LOG_DOMAIN "natter-store"

#include "natter-store-private.h"

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

  stmt = _natter_store_prepare (self,
                                "INSERT INTO contacts "
                                "(peer_id, name, state, verified, created_at, last_seen) "
                                "VALUES (?1, ?2, ?3, ?4, ?5, ?6) "
                                "ON CONFLICT (peer_id) DO UPDATE SET "
                                "  name = excluded.name, state = excluded.state, "
                                "  verified = excluded.verified, last_seen = excluded.last_seen",
                                error);
  if (stmt == NULL)
    return FALSE;

  _natter_store_bind_text (stmt, 1, natter_contact_get_peer_id (contact));
  _natter_store_bind_text (stmt, 2, natter_contact_get_name (contact));
  sqlite3_bind_int (stmt, 3, natter_contact_get_state (contact));
  sqlite3_bind_int (stmt, 4, natter_contact_get_verified (contact));
  sqlite3_bind_int64 (stmt, 5, g_get_real_time () / 1000);
  sqlite3_bind_int64 (stmt, 6, natter_contact_get_last_seen (contact));

  return _natter_store_step_done (self, stmt, "Could not save the contact", error);
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

  stmt = _natter_store_prepare (self,
                                "SELECT " CONTACT_COLUMNS " FROM contacts WHERE peer_id = ?1",
                                error);
  if (stmt == NULL)
    return NULL;
  _natter_store_bind_text (stmt, 1, peer_id);

  return _natter_store_fetch_one (self, stmt, _natter_store_contact_from_row,
                                  "Could not load the contact", error);
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

  stmt = _natter_store_prepare (self,
                                "SELECT " CONTACT_COLUMNS " FROM contacts "
                                "ORDER BY created_at, peer_id",
                                error);
  if (stmt == NULL)
    return NULL;

  return _natter_store_collect (self, stmt, _natter_store_contact_from_row,
                                "Could not list contacts", error);
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

  if ((stmt = _natter_store_prepare (self, "DELETE FROM contacts WHERE peer_id = ?1",
                                     error)) == NULL)
    return FALSE;
  _natter_store_bind_text (stmt, 1, peer_id);

  return _natter_store_step_done (self, stmt, "Could not delete the contact", error);
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
      g_autoptr(StoreStmt) stmt = _natter_store_prepare (self, statements[i], error);

      if (stmt == NULL)
        return FALSE;
      _natter_store_bind_text (stmt, 1, conversation);
      if (!_natter_store_step_done (self, stmt, "Could not delete the conversation", error))
        return FALSE;
    }
  return TRUE;
}
