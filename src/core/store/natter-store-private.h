/* natter-store-private.h: NatterStore's struct and the helpers its natter-store-*.c share. */
#pragma once

#include <sqlite3.h>

#include "natter-store.h"

G_BEGIN_DECLS

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

/* Read back by _natter_store_message_from_row(), in this order. */
#define MESSAGE_COLUMNS \
  "m.id, m.conversation, m.author, m.seq, m.hlc_l, m.hlc_c, m.body, " \
  "m.reply_to, m.state, m.late, m.received_at"

#define CONTACT_COLUMNS "peer_id, name, state, verified, last_seen"

/* A cached statement is "released" by resetting it: a SELECT left half
 * stepped would keep its read snapshot (and pin the WAL) until the next use. */
typedef sqlite3_stmt StoreStmt;

void        _natter_store_stmt_release         (StoreStmt     *stmt);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (StoreStmt, _natter_store_stmt_release)

typedef gpointer (*RowFunc) (StoreStmt *stmt);

/* natter-store-stmt.c: errors, statements */
void        _natter_store_set_error            (NatterStore   *self,
                                                GError       **error,
                                                int            rc,
                                                const char    *what);
StoreStmt  *_natter_store_prepare              (NatterStore   *self,
                                                const char    *sql,
                                                GError       **error);
gboolean    _natter_store_step_done            (NatterStore   *self,
                                                StoreStmt     *stmt,
                                                const char    *what,
                                                GError       **error);
gint64      _natter_store_step_int64           (NatterStore   *self,
                                                StoreStmt     *stmt,
                                                gint64         fallback,
                                                const char    *what,
                                                GError       **error);
gboolean    _natter_store_exec                 (NatterStore   *self,
                                                const char    *sql,
                                                GError       **error);
void        _natter_store_bind_text            (StoreStmt     *stmt,
                                                int            index,
                                                const char    *text);
char       *_natter_store_column_dup_text      (StoreStmt     *stmt,
                                                int            column);

/* natter-store-stmt.c: rows → objects */
const char *_natter_store_column_text_nonnull  (StoreStmt     *stmt,
                                                int            column);
gpointer    _natter_store_message_from_row     (StoreStmt     *stmt);
gpointer    _natter_store_contact_from_row     (StoreStmt     *stmt);
GPtrArray  *_natter_store_collect              (NatterStore   *self,
                                                StoreStmt     *stmt,
                                                RowFunc        row_func,
                                                const char    *what,
                                                GError       **error);
gpointer    _natter_store_fetch_one            (NatterStore   *self,
                                                StoreStmt     *stmt,
                                                RowFunc        row_func,
                                                const char    *what,
                                                GError       **error);

/* natter-store-schema.c */
gboolean    _natter_store_get_user_version     (NatterStore   *self,
                                                int           *out_version,
                                                GError       **error);
gboolean    _natter_store_check_version        (NatterStore   *self,
                                                int            version,
                                                GError       **error);
gboolean    _natter_store_migrate              (NatterStore   *self,
                                                GError       **error);

/* natter-store-messages.c */
gint64      _natter_store_count                (NatterStore   *self,
                                                const char    *sql,
                                                const char    *conversation,
                                                const char    *author,
                                                GError       **error);

G_END_DECLS
