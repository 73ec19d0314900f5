/* natter-timeline-model.c: one conversation's events — messages and file transfers — as one list in time order.
 *
 * The message list is lazy and may hold 100,000 items, while a conversation
 * has few transfers. So the model never walks the messages: it keeps this
 * conversation's transfers sorted by when they were offered, and for each
 * the number of messages shown before it (its "anchor"), found by binary
 * search over the message list. Every position then follows from the
 * anchors alone, and a change on either side is translated into the
 * smallest items-changed that describes it.
 */
#define G_LOG_DOMAIN "natter-ui"

#include <glib/gi18n.h>

#include "natter-timeline-model.h"

struct _NatterTimelineModel
{
  GObject     parent_instance;

  /* owned references */
  GListModel *messages;       /* NatterMessage in display order */
  GListModel *all_transfers;  /* every NatterTransfer of the account */
  char       *conversation;
  GPtrArray  *transfers;      /* this conversation's, by (created-at, id) */
  GArray     *anchors;        /* guint per transfer: messages before it */
};

static void list_model_iface_init (GListModelInterface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (NatterTimelineModel, natter_timeline_model, G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (G_TYPE_LIST_MODEL, list_model_iface_init))

#define ANCHOR(self, i) g_array_index ((self)->anchors, guint, (i))
#define TRANSFER(self, i) ((NatterTransfer *) g_ptr_array_index ((self)->transfers, (i)))

/**
 * natter_timeline_item_get_time:
 * @item: a #NatterMessage or a #NatterTransfer
 *
 * Returns: when the event happened, in Unix ms: a message's HLC physical
 *   time (its author's wall clock), a transfer's offer time
 */
gint64
natter_timeline_item_get_time (gpointer item)
{
  if (NATTER_IS_MESSAGE (item))
    return natter_message_get_hlc_l (item);
  if (NATTER_IS_TRANSFER (item))
    return natter_transfer_get_created_at (item);
  g_return_val_if_reached (0);
}

static GDateTime *
local_time (gint64 ms)
{
  return g_date_time_new_from_unix_local (ms / 1000);
}

/**
 * natter_timeline_same_day:
 *
 * Returns: whether two Unix ms times fall on the same local calendar day
 */
gboolean
natter_timeline_same_day (gint64 a_ms,
                          gint64 b_ms)
{
  g_autoptr(GDateTime) da = local_time (a_ms);
  g_autoptr(GDateTime) db = local_time (b_ms);

  return g_date_time_get_year (da) == g_date_time_get_year (db) &&
         g_date_time_get_day_of_year (da) == g_date_time_get_day_of_year (db);
}

/**
 * natter_timeline_format_day:
 *
 * Returns: (transfer full): the day separator text for a Unix ms time:
 *   "Today", "Yesterday", or the date
 */
char *
natter_timeline_format_day (gint64 ms)
{
  g_autoptr(GDateTime) when = local_time (ms);
  g_autoptr(GDateTime) now = g_date_time_new_now_local ();
  g_autoptr(GDateTime) today = g_date_time_new_local (g_date_time_get_year (now),
                                                      g_date_time_get_month (now),
                                                      g_date_time_get_day_of_month (now),
                                                      0, 0, 0);
  GTimeSpan ago = g_date_time_difference (today, when);

  if (ago <= 0)
    return g_strdup (_("Today"));
  if (ago <= G_TIME_SPAN_DAY)
    return g_strdup (_("Yesterday"));
  if (g_date_time_get_year (when) == g_date_time_get_year (now))
    /* Translators: a day separator in the timeline, see strftime(3) */
    return g_date_time_format (when, _("%A, %B %e"));
  /* Translators: a day separator in the timeline for another year, see strftime(3) */
  return g_date_time_format (when, _("%A, %B %e, %Y"));
}

/* ------------------------------------------------------------------ */
/* Positions                                                           */
/* ------------------------------------------------------------------ */

static gint64
message_time (NatterTimelineModel *self,
              guint                position)
{
  g_autoptr(NatterMessage) message = g_list_model_get_item (self->messages, position);

  /* An unreadable row sorts first rather than breaking the search. */
  return message ? natter_message_get_hlc_l (message) : G_MININT64;
}

/* How many messages in [@lo, @hi) were written at or before @time, plus
 * @lo: messages are in display order, whose first key is the HLC time. A
 * message of the same millisecond goes first, as it was most likely
 * written before the file was offered. */
static guint
messages_up_to (NatterTimelineModel *self,
                gint64               time,
                guint                lo,
                guint                hi)
{
  while (lo < hi)
    {
      guint mid = lo + (hi - lo) / 2;

      if (message_time (self, mid) <= time)
        lo = mid + 1;
      else
        hi = mid;
    }
  return lo;
}

/* The first transfer whose anchor is >= @anchor (or > @anchor if @after). */
static guint
transfer_by_anchor (NatterTimelineModel *self,
                    guint                anchor,
                    gboolean             after)
{
  guint lo = 0, hi = self->transfers->len;

  while (lo < hi)
    {
      guint mid = lo + (hi - lo) / 2;

      if (ANCHOR (self, mid) < anchor || (after && ANCHOR (self, mid) == anchor))
        lo = mid + 1;
      else
        hi = mid;
    }
  return lo;
}

/* The number of transfers placed before timeline position @position.
 * Transfer i sits at anchor + i, which grows strictly with i. */
static guint
transfers_before (NatterTimelineModel *self,
                  guint                position)
{
  guint lo = 0, hi = self->transfers->len;

  while (lo < hi)
    {
      guint mid = lo + (hi - lo) / 2;

      if (ANCHOR (self, mid) + mid < position)
        lo = mid + 1;
      else
        hi = mid;
    }
  return lo;
}

static int
compare_transfers (NatterTransfer *a,
                   NatterTransfer *b)
{
  gint64 ta = natter_transfer_get_created_at (a);
  gint64 tb = natter_transfer_get_created_at (b);

  if (ta != tb)
    return ta < tb ? -1 : 1;
  return g_strcmp0 (natter_transfer_get_id (a), natter_transfer_get_id (b));
}

/* ------------------------------------------------------------------ */
/* GListModel                                                          */
/* ------------------------------------------------------------------ */

static GType
natter_timeline_model_get_item_type (GListModel *model)
{
  return G_TYPE_OBJECT;
}

static guint
natter_timeline_model_get_n_items (GListModel *model)
{
  NatterTimelineModel *self = NATTER_TIMELINE_MODEL (model);

  return g_list_model_get_n_items (self->messages) + self->transfers->len;
}

static gpointer
natter_timeline_model_get_item (GListModel *model,
                                guint       position)
{
  NatterTimelineModel *self = NATTER_TIMELINE_MODEL (model);
  guint k = transfers_before (self, position);

  if (k < self->transfers->len && ANCHOR (self, k) + k == position)
    return g_object_ref (TRANSFER (self, k));
  return g_list_model_get_item (self->messages, position - k);
}

static void
list_model_iface_init (GListModelInterface *iface)
{
  iface->get_item_type = natter_timeline_model_get_item_type;
  iface->get_n_items = natter_timeline_model_get_n_items;
  iface->get_item = natter_timeline_model_get_item;
}

/* ------------------------------------------------------------------ */
/* Following both sides                                                */
/* ------------------------------------------------------------------ */

/* Messages [@p, @p + @r) became [@p, @p + @a). Transfers anchored before
 * @p stay; those anchored after the old range shift; only those anchored
 * inside it (or at its edges) can move relative to the new messages, and
 * are searched again, within the new range only. */
static void
messages_changed_cb (NatterTimelineModel *self,
                     guint                p,
                     guint                r,
                     guint                a,
                     GListModel          *messages)
{
  guint first = transfer_by_anchor (self, p, FALSE);
  guint last = transfer_by_anchor (self, p + r, TRUE);
  guint block = last - first;
  guint prefix = 0, suffix = 0;
  g_autofree guint *old = NULL;

  if (r == 0 && a == 0)
    return;

  for (guint i = last; i < self->transfers->len; i++)
    ANCHOR (self, i) = ANCHOR (self, i) - r + a;

  old = g_new (guint, block + 1);
  for (guint i = first; i < last; i++)
    {
      guint lo = i > first ? ANCHOR (self, i - 1) : p;

      old[i - first] = ANCHOR (self, i);
      ANCHOR (self, i) = messages_up_to (self, natter_transfer_get_created_at (TRANSFER (self, i)),
                                         lo, p + a);
    }

  /* Transfers that stay before (or after) every changed message keep their
   * rows: only the part in between is replaced. */
  while (prefix < block && old[prefix] == p && ANCHOR (self, first + prefix) == p)
    prefix++;
  while (suffix < block - prefix && old[block - 1 - suffix] == p + r &&
         ANCHOR (self, last - 1 - suffix) == p + a)
    suffix++;

  g_list_model_items_changed (G_LIST_MODEL (self), p + first + prefix,
                              r + block - prefix - suffix, a + block - prefix - suffix);
}

static gboolean
is_ours (NatterTimelineModel *self,
         NatterTransfer      *transfer)
{
  return g_strcmp0 (natter_transfer_get_conversation (transfer), self->conversation) == 0;
}

/* Returns: the timeline position @transfer got */
static guint
insert_transfer (NatterTimelineModel *self,
                 NatterTransfer      *transfer)
{
  guint index = self->transfers->len;
  guint lo, hi, anchor;

  /* Nearly always the newest: search from the end. */
  while (index > 0 && compare_transfers (TRANSFER (self, index - 1), transfer) > 0)
    index--;
  lo = index > 0 ? ANCHOR (self, index - 1) : 0;
  hi = index < self->transfers->len ? ANCHOR (self, index)
                                    : g_list_model_get_n_items (self->messages);
  anchor = messages_up_to (self, natter_transfer_get_created_at (transfer), lo, hi);

  g_ptr_array_insert (self->transfers, index, g_object_ref (transfer));
  g_array_insert_val (self->anchors, index, anchor);
  return anchor + index;
}

/* The account's transfer list changed: rare (an offer made or received),
 * so this simply compares what is there with what is shown. */
static void
sync_transfers (NatterTimelineModel *self,
                gboolean             emit)
{
  g_autoptr(GHashTable) present = g_hash_table_new (NULL, NULL);
  g_autoptr(GHashTable) shown = g_hash_table_new (NULL, NULL);
  guint n = g_list_model_get_n_items (self->all_transfers);

  for (guint i = 0; i < n; i++)
    {
      g_autoptr(NatterTransfer) transfer = g_list_model_get_item (self->all_transfers, i);

      if (is_ours (self, transfer))
        g_hash_table_add (present, transfer);
    }

  for (guint i = self->transfers->len; i > 0; i--)
    {
      NatterTransfer *transfer = TRANSFER (self, i - 1);
      guint position = ANCHOR (self, i - 1) + i - 1;

      if (g_hash_table_contains (present, transfer))
        {
          g_hash_table_add (shown, transfer);
          continue;
        }
      g_ptr_array_remove_index (self->transfers, i - 1);
      g_array_remove_index (self->anchors, i - 1);
      if (emit)
        g_list_model_items_changed (G_LIST_MODEL (self), position, 1, 0);
    }

  for (guint i = 0; i < n; i++)
    {
      g_autoptr(NatterTransfer) transfer = g_list_model_get_item (self->all_transfers, i);
      guint position;

      if (!is_ours (self, transfer) || g_hash_table_contains (shown, transfer))
        continue;
      position = insert_transfer (self, transfer);
      if (emit)
        g_list_model_items_changed (G_LIST_MODEL (self), position, 0, 1);
    }
}

static void
transfers_changed_cb (NatterTimelineModel *self)
{
  sync_transfers (self, TRUE);
}

/* ------------------------------------------------------------------ */
/* GObject                                                             */
/* ------------------------------------------------------------------ */

static void
natter_timeline_model_dispose (GObject *object)
{
  NatterTimelineModel *self = NATTER_TIMELINE_MODEL (object);

  if (self->messages != NULL)
    g_signal_handlers_disconnect_by_data (self->messages, self);
  if (self->all_transfers != NULL)
    g_signal_handlers_disconnect_by_data (self->all_transfers, self);
  g_clear_object (&self->messages);
  g_clear_object (&self->all_transfers);
  if (self->transfers != NULL)
    g_ptr_array_set_size (self->transfers, 0);
  if (self->anchors != NULL)
    g_array_set_size (self->anchors, 0);

  G_OBJECT_CLASS (natter_timeline_model_parent_class)->dispose (object);
}

static void
natter_timeline_model_finalize (GObject *object)
{
  NatterTimelineModel *self = NATTER_TIMELINE_MODEL (object);

  g_clear_pointer (&self->transfers, g_ptr_array_unref);
  g_clear_pointer (&self->anchors, g_array_unref);
  g_clear_pointer (&self->conversation, g_free);

  G_OBJECT_CLASS (natter_timeline_model_parent_class)->finalize (object);
}

static void
natter_timeline_model_class_init (NatterTimelineModelClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = natter_timeline_model_dispose;
  object_class->finalize = natter_timeline_model_finalize;
}

static void
natter_timeline_model_init (NatterTimelineModel *self)
{
  self->transfers = g_ptr_array_new_with_free_func (g_object_unref);
  self->anchors = g_array_new (FALSE, FALSE, sizeof (guint));
}

/**
 * natter_timeline_model_new:
 * @messages: the conversation's #NatterMessage list, in display order
 * @transfers: every #NatterTransfer of the account
 * @conversation: the conversation id whose transfers to show
 *
 * Returns: (transfer full): a model of #NatterMessage and #NatterTransfer
 *   items, each transfer after the messages written up to its offer
 */
NatterTimelineModel *
natter_timeline_model_new (GListModel *messages,
                           GListModel *transfers,
                           const char *conversation)
{
  NatterTimelineModel *self;

  g_return_val_if_fail (G_IS_LIST_MODEL (messages), NULL);
  g_return_val_if_fail (G_IS_LIST_MODEL (transfers), NULL);
  g_return_val_if_fail (conversation != NULL, NULL);

  self = g_object_new (NATTER_TYPE_TIMELINE_MODEL, NULL);
  self->messages = g_object_ref (messages);
  self->all_transfers = g_object_ref (transfers);
  self->conversation = g_strdup (conversation);
  sync_transfers (self, FALSE);
  g_signal_connect_object (messages, "items-changed", G_CALLBACK (messages_changed_cb), self,
                           G_CONNECT_SWAPPED);
  g_signal_connect_object (transfers, "items-changed", G_CALLBACK (transfers_changed_cb), self,
                           G_CONNECT_SWAPPED);
  return self;
}

/**
 * natter_timeline_model_get_messages:
 *
 * Returns: (transfer none): the message list the timeline is built on
 */
GListModel *
natter_timeline_model_get_messages (NatterTimelineModel *self)
{
  g_return_val_if_fail (NATTER_IS_TIMELINE_MODEL (self), NULL);

  return self->messages;
}

guint
natter_timeline_model_get_n_transfers (NatterTimelineModel *self)
{
  g_return_val_if_fail (NATTER_IS_TIMELINE_MODEL (self), 0);

  return self->transfers->len;
}

/**
 * natter_timeline_model_position_of_message:
 * @message_position: a position in the message list
 *
 * Returns: where that message is in the timeline
 */
guint
natter_timeline_model_position_of_message (NatterTimelineModel *self,
                                           guint                message_position)
{
  g_return_val_if_fail (NATTER_IS_TIMELINE_MODEL (self), G_MAXUINT);

  return message_position + transfer_by_anchor (self, message_position, TRUE);
}

/**
 * natter_timeline_model_position_of_transfer:
 *
 * Returns: where @transfer is in the timeline, or %G_MAXUINT if it is not
 *   part of this conversation
 */
guint
natter_timeline_model_position_of_transfer (NatterTimelineModel *self,
                                            NatterTransfer      *transfer)
{
  guint index;

  g_return_val_if_fail (NATTER_IS_TIMELINE_MODEL (self), G_MAXUINT);

  if (!g_ptr_array_find (self->transfers, transfer, &index))
    return G_MAXUINT;
  return ANCHOR (self, index) + index;
}
