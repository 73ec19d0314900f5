/* natter-store.h: the SQLite history of one profile (contacts, messages, metadata). */
#pragma once

#include <glib-object.h>

#include "natter-types.h"
#include "natter-contact.h"
#include "natter-message.h"
#include "natter-transfer.h"

G_BEGIN_DECLS

typedef enum
{
  NATTER_STORE_NONE      = 0,
  /* Opens with SQLITE_OPEN_READONLY and never migrates: for commands that
   * read while another process owns the profile. */
  NATTER_STORE_READ_ONLY = 1 << 0,
} NatterStoreFlags;

/* The schema version this build writes (PRAGMA user_version). */
#define NATTER_STORE_SCHEMA_VERSION 4

/* natter_store_missing_seqs() never returns more than this many gaps. */
#define NATTER_STORE_MAX_MISSING 10000

#define NATTER_TYPE_STORE (natter_store_get_type ())
G_DECLARE_FINAL_TYPE (NatterStore, natter_store, NATTER, STORE, GObject)

/* All timestamps in the store are Unix milliseconds.  A store belongs to the
 * thread that opened it; every call asserts that. */

NatterStore   *natter_store_open                    (const char          *path,
                                                     NatterStoreFlags     flags,
                                                     GError             **error);
void           natter_store_close                   (NatterStore         *self);
const char    *natter_store_get_path                (NatterStore         *self);
gboolean       natter_store_is_read_only            (NatterStore         *self);

gboolean       natter_store_begin                   (NatterStore         *self,
                                                     GError             **error);
gboolean       natter_store_commit                  (NatterStore         *self,
                                                     GError             **error);
void           natter_store_rollback                (NatterStore         *self);

/* Identity metadata (display name …). */
char          *natter_store_get_meta                (NatterStore         *self,
                                                     const char          *key,
                                                     GError             **error);
gboolean       natter_store_set_meta                (NatterStore         *self,
                                                     const char          *key,
                                                     const char          *value,
                                                     GError             **error);

/* Contacts: only the stored fields (name, state, verified, last-seen). */
gboolean       natter_store_save_contact            (NatterStore         *self,
                                                     NatterContact       *contact,
                                                     GError             **error);
NatterContact *natter_store_load_contact            (NatterStore         *self,
                                                     const char          *peer_id,
                                                     GError             **error);
GPtrArray     *natter_store_list_contacts           (NatterStore         *self,
                                                     GError             **error);
gboolean       natter_store_delete_contact          (NatterStore         *self,
                                                     const char          *peer_id,
                                                     GError             **error);
gboolean       natter_store_delete_conversation     (NatterStore         *self,
                                                     const char          *conversation,
                                                     GError             **error);

/* Messages. */
gboolean       natter_store_add_message             (NatterStore         *self,
                                                     NatterMessage       *message,
                                                     gboolean            *out_inserted,
                                                     GError             **error);
gboolean       natter_store_set_message_state       (NatterStore         *self,
                                                     const char          *id,
                                                     NatterMessageState   state,
                                                     gboolean            *out_changed,
                                                     GError             **error);
NatterMessage *natter_store_get_message             (NatterStore         *self,
                                                     const char          *id,
                                                     GError             **error);
NatterMessage *natter_store_get_message_by_rowid    (NatterStore         *self,
                                                     gint64               rowid,
                                                     GError             **error);
gint64         natter_store_get_message_rowid       (NatterStore         *self,
                                                     const char          *id,
                                                     GError             **error);
gint64         natter_store_count_messages          (NatterStore         *self,
                                                     const char          *conversation,
                                                     GError             **error);
NatterMessage *natter_store_get_last_message        (NatterStore         *self,
                                                     const char          *conversation,
                                                     GError             **error);
gint64         natter_store_count_unread            (NatterStore         *self,
                                                     const char          *conversation,
                                                     const char          *me,
                                                     GError             **error);

/* Display order (natter_message_compare()). */
GPtrArray     *natter_store_list_messages           (NatterStore         *self,
                                                     const char          *conversation,
                                                     gint64               offset,
                                                     guint                limit,
                                                     GError             **error);
GArray        *natter_store_list_message_rowids     (NatterStore         *self,
                                                     const char          *conversation,
                                                     GError             **error);
gint64         natter_store_message_position        (NatterStore         *self,
                                                     NatterMessage       *message,
                                                     GError             **error);

/* Reconciliation. */
GHashTable    *natter_store_version_vector          (NatterStore         *self,
                                                     const char          *conversation,
                                                     GError             **error);
gint64         natter_store_max_seq                 (NatterStore         *self,
                                                     const char          *conversation,
                                                     const char          *author,
                                                     GError             **error);
GPtrArray     *natter_store_messages_from           (NatterStore         *self,
                                                     const char          *conversation,
                                                     const char          *author,
                                                     gint64               from_seq,
                                                     guint                limit,
                                                     GError             **error);
GArray        *natter_store_missing_seqs            (NatterStore         *self,
                                                     const char          *conversation,
                                                     const char          *author,
                                                     gint64               up_to,
                                                     GError             **error);
GPtrArray     *natter_store_messages_in_state       (NatterStore         *self,
                                                     const char          *conversation,
                                                     const char          *author,
                                                     NatterMessageState   state,
                                                     GError             **error);
GPtrArray     *natter_store_advance_state           (NatterStore         *self,
                                                     const char          *conversation,
                                                     const char          *author,
                                                     gint64               upto,
                                                     NatterMessageState   state,
                                                     GError             **error);
gint64         natter_store_contiguous_seq          (NatterStore         *self,
                                                     const char          *conversation,
                                                     const char          *author,
                                                     GError             **error);
GHashTable    *natter_store_authors                 (NatterStore         *self,
                                                     const char          *conversation,
                                                     GError             **error);

/* File transfers (schema v4): one row per transfer, and one timeline row
 * of kind 'file' for it. */
gboolean        natter_store_save_transfer           (NatterStore         *self,
                                                      NatterTransfer      *transfer,
                                                      GError             **error);
/* Only the persisted offset (batched during a transfer). */
gboolean        natter_store_set_transfer_offset     (NatterStore         *self,
                                                      const char          *id,
                                                      guint64              offset,
                                                      GError             **error);
NatterTransfer *natter_store_load_transfer           (NatterStore         *self,
                                                      const char          *id,
                                                      GError             **error);
NatterTransfer *natter_store_get_transfer_by_rowid   (NatterStore         *self,
                                                      gint64               rowid,
                                                      GError             **error);
/* @conversation: (nullable): all conversations when %NULL; oldest first. */
GPtrArray      *natter_store_list_transfers          (NatterStore         *self,
                                                      const char          *conversation,
                                                      GError             **error);

/* Full-text search. */
GPtrArray     *natter_store_search                  (NatterStore         *self,
                                                     const char          *conversation,
                                                     const char          *query,
                                                     guint                limit,
                                                     GError             **error);

G_END_DECLS
