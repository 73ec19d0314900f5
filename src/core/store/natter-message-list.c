/* natter-message-list.c: a conversation as a GListModel that loads rows only when asked.
 *
 * Only the rowids are read up front (a few ms for 100,000 messages); a
 * message object is built the first time a view asks for its position and
 * kept so later state changes reach the same object the view shows.
 */
#define G_LOG_DOMAIN "natter-message-list"

#include "natter-message-list.h"

#include "natter-store.h"

struct _NatterMessageList
{
  GObject      parent_instance;

  NatterStore *store;
  char        *conversation;
  GArray      *rowids;     /* gint64, in display order */
  GHashTable  *by_rowid;   /* gint64 * → NatterMessage */
  GHashTable  *by_id;      /* id → NatterMessage (borrowed from by_rowid) */
};

static void list_model_iface_init (GListModelInterface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (NatterMessageList, natter_message_list, G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (G_TYPE_LIST_MODEL, list_model_iface_init))

static GType
natter_message_list_get_item_type (GListModel *model)
{
  return NATTER_TYPE_MESSAGE;
}

static guint
natter_message_list_get_n_items (GListModel *model)
{
  return NATTER_MESSAGE_LIST (model)->rowids->len;
}

static NatterMessage *
get_message (NatterMessageList *self,
             guint              position)
{
  gint64 rowid = g_array_index (self->rowids, gint64, position);
  g_autoptr(GError) error = NULL;
  NatterMessage *message;

  message = g_hash_table_lookup (self->by_rowid, &rowid);
  if (message != NULL)
    return message;

  message = natter_store_get_message_by_rowid (self->store, rowid, &error);
  if (message == NULL)
    {
      g_warning ("Cannot load a message: %s", error ? error->message : "missing");
      return NULL;
    }
  g_hash_table_insert (self->by_rowid, g_memdup2 (&rowid, sizeof rowid), message);
  g_hash_table_insert (self->by_id, (gpointer) natter_message_get_id (message), message);
  return message;
}

static gpointer
natter_message_list_get_item (GListModel *model,
                              guint       position)
{
  NatterMessageList *self = NATTER_MESSAGE_LIST (model);
  NatterMessage *message;

  if (position >= self->rowids->len)
    return NULL;
  message = get_message (self, position);
  return message ? g_object_ref (message) : NULL;
}

static void
list_model_iface_init (GListModelInterface *iface)
{
  iface->get_item_type = natter_message_list_get_item_type;
  iface->get_n_items = natter_message_list_get_n_items;
  iface->get_item = natter_message_list_get_item;
}

static void
natter_message_list_finalize (GObject *object)
{
  NatterMessageList *self = (NatterMessageList *) object;

  g_clear_pointer (&self->by_id, g_hash_table_unref);
  g_clear_pointer (&self->by_rowid, g_hash_table_unref);
  g_clear_pointer (&self->rowids, g_array_unref);
  g_clear_object (&self->store);
  g_free (self->conversation);

  G_OBJECT_CLASS (natter_message_list_parent_class)->finalize (object);
}

static void
natter_message_list_class_init (NatterMessageListClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = natter_message_list_finalize;
}

static void
natter_message_list_init (NatterMessageList *self)
{
  self->by_rowid = g_hash_table_new_full (g_int64_hash, g_int64_equal, g_free, g_object_unref);
  self->by_id = g_hash_table_new (g_str_hash, g_str_equal);
}

/**
 * natter_message_list_new:
 *
 * Returns: (transfer full): the conversation's messages, or %NULL with @error
 */
NatterMessageList *
natter_message_list_new (NatterStore  *store,
                         const char   *conversation,
                         GError      **error)
{
  g_autoptr(NatterMessageList) self = NULL;

  g_return_val_if_fail (NATTER_IS_STORE (store), NULL);
  g_return_val_if_fail (conversation != NULL, NULL);

  self = g_object_new (NATTER_TYPE_MESSAGE_LIST, NULL);
  self->store = g_object_ref (store);
  self->conversation = g_strdup (conversation);
  self->rowids = natter_store_list_message_rowids (store, conversation, error);
  if (self->rowids == NULL)
    return NULL;
  return g_steal_pointer (&self);
}

const char *
natter_message_list_get_conversation (NatterMessageList *self)
{
  g_return_val_if_fail (NATTER_IS_MESSAGE_LIST (self), NULL);

  return self->conversation;
}

/**
 * natter_message_list_insert:
 * @message: a message just committed to the store
 *
 * Inserts @message at its sorted position, so a late message lands where
 * it belongs and views see one precise items-changed.
 *
 * Returns: the position
 */
guint
natter_message_list_insert (NatterMessageList *self,
                            NatterMessage     *message)
{
  g_autoptr(GError) error = NULL;
  guint lo = 0;
  guint hi;
  gint64 rowid;

  g_return_val_if_fail (NATTER_IS_MESSAGE_LIST (self), 0);
  g_return_val_if_fail (NATTER_IS_MESSAGE (message), 0);

  if (g_hash_table_contains (self->by_id, natter_message_get_id (message)))
    return G_MAXUINT;

  rowid = natter_store_get_message_rowid (self->store, natter_message_get_id (message), &error);
  g_return_val_if_fail (rowid > 0, 0);

  /* Most messages are the newest: check the end before searching. */
  hi = self->rowids->len;
  if (hi > 0)
    {
      NatterMessage *last = get_message (self, hi - 1);

      if (last != NULL && natter_message_compare (last, message) < 0)
        lo = hi;
    }
  while (lo < hi)
    {
      guint mid = lo + (hi - lo) / 2;
      NatterMessage *other = get_message (self, mid);

      if (other != NULL && natter_message_compare (other, message) < 0)
        lo = mid + 1;
      else
        hi = mid;
    }

  g_array_insert_val (self->rowids, lo, rowid);
  g_hash_table_insert (self->by_rowid, g_memdup2 (&rowid, sizeof rowid), g_object_ref (message));
  g_hash_table_insert (self->by_id, (gpointer) natter_message_get_id (message), message);
  g_list_model_items_changed (G_LIST_MODEL (self), lo, 0, 1);
  return lo;
}

/**
 * natter_message_list_lookup:
 *
 * Returns: (transfer none) (nullable): the object a view was given for @id, if any
 */
NatterMessage *
natter_message_list_lookup (NatterMessageList *self,
                            const char        *id)
{
  g_return_val_if_fail (NATTER_IS_MESSAGE_LIST (self), NULL);

  return g_hash_table_lookup (self->by_id, id);
}
