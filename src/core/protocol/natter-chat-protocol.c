/* natter-chat-protocol.c: reconciliation, delivery and receipts on one peer's chat channel.
 *
 * On channel open each side sends, per conversation, its version vector
 * (author → highest contiguous seq held). Each side then sends what the
 * other lacks, oldest first, in frames ≤ 64 KiB and only while the channel's
 * buffer is below NATTER_CHAT_HIGH_WATER. New messages written after that are
 * sent live. A receiver commits to SQLite before it acks; the ack names the
 * highest contiguous seq it now holds, so an ack can never claim a gap. The
 * peer's version vector on the next connect doubles as an ack for anything
 * whose ack was lost with the connection. Duplicates are absorbed by the
 * message id (a content hash), gaps are re-requested with a fresh sync.
 */
#define G_LOG_DOMAIN "natter-chat"

#include "natter-chat-protocol.h"

#include "natter-chat-frame.h"
#include "natter-error.h"
#include "natter-hlc.h"
#include "natter-identity.h"
#include "natter-store.h"

/* Messages read from the store per refill of the outgoing queue. */
#define REFILL_BATCH 2048

typedef struct
{
  char   *author;
  gint64  next_seq;
} OutRange;

typedef struct
{
  char           *id;
  GStrv           members;
  GHashTable     *remote_vv;         /* author → gint64 *, as last told by the peer */
  GQueue          outgoing;          /* OutRange: what the peer still lacks */
  gboolean        remote_synced;     /* the peer's version vector has arrived */
  NatterMessage  *newest;            /* newest message in display order, for "late" */
  gboolean        newest_loaded;
  GHashTable     *gap_requested;     /* author → gint64 *, contiguous seq when we asked */
} Conversation;

struct _NatterChatProtocol
{
  GObject                    parent_instance;

  /* borrowed */
  const NatterChatTransport *transport;
  gpointer                   transport_data;

  /* owned */
  NatterStore               *store;
  NatterHlc                 *hlc;
  char                      *local_peer_id;
  char                      *remote_peer_id;
  GHashTable                *conversations;  /* id → Conversation */
  guint64                    bytes_sent;
  guint64                    frames_sent;
  guint64                    rejected;
  gboolean                   pumping;

  /* keep-alive */
  guint                      keepalive_interval_ms;
  guint                      keepalive_timeout_ms;
  guint                      keepalive_source;
  gint64                     last_sent_us;
  gint64                     last_received_us;
  gboolean                   timed_out;
};

enum {
  MESSAGE_RECEIVED,
  MESSAGE_STATE_CHANGED,
  TYPING,
  SYNCED,
  FILE_FRAME,
  PEER_TIMEOUT,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

G_DEFINE_FINAL_TYPE (NatterChatProtocol, natter_chat_protocol, G_TYPE_OBJECT)

static void
out_range_free (OutRange *range)
{
  g_free (range->author);
  g_free (range);
}

static void
conversation_free (Conversation *conv)
{
  g_free (conv->id);
  g_strfreev (conv->members);
  g_clear_pointer (&conv->remote_vv, g_hash_table_unref);
  g_queue_clear_full (&conv->outgoing, (GDestroyNotify) out_range_free);
  g_clear_object (&conv->newest);
  g_clear_pointer (&conv->gap_requested, g_hash_table_unref);
  g_free (conv);
}

static gint64
vv_get (GHashTable *vv,
        const char *author)
{
  gint64 *value = vv ? g_hash_table_lookup (vv, author) : NULL;

  return value ? *value : 0;
}

static void
natter_chat_protocol_finalize (GObject *object)
{
  NatterChatProtocol *self = (NatterChatProtocol *) object;

  g_clear_handle_id (&self->keepalive_source, g_source_remove);
  g_clear_pointer (&self->conversations, g_hash_table_unref);
  g_clear_object (&self->store);
  g_clear_object (&self->hlc);
  g_free (self->local_peer_id);
  g_free (self->remote_peer_id);

  G_OBJECT_CLASS (natter_chat_protocol_parent_class)->finalize (object);
}

static void
natter_chat_protocol_class_init (NatterChatProtocolClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->finalize = natter_chat_protocol_finalize;

  /**
   * NatterChatProtocol::message-received:
   * @message: a message the peer sent that was new to us, already committed
   */
  signals[MESSAGE_RECEIVED] = g_signal_new ("message-received",
                                            G_TYPE_FROM_CLASS (klass),
                                            G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                                            G_TYPE_NONE, 1, NATTER_TYPE_MESSAGE);
  /**
   * NatterChatProtocol::message-state-changed:
   * @id: id of one of our messages
   * @state: its new #NatterMessageState, already committed
   */
  signals[MESSAGE_STATE_CHANGED] = g_signal_new ("message-state-changed",
                                                 G_TYPE_FROM_CLASS (klass),
                                                 G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                                                 G_TYPE_NONE, 2,
                                                 G_TYPE_STRING, NATTER_TYPE_MESSAGE_STATE);
  /**
   * NatterChatProtocol::typing:
   * @conversation: the conversation id
   * @typing: whether the peer is typing
   */
  signals[TYPING] = g_signal_new ("typing",
                                  G_TYPE_FROM_CLASS (klass),
                                  G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                                  G_TYPE_NONE, 2, G_TYPE_STRING, G_TYPE_BOOLEAN);
  /**
   * NatterChatProtocol::synced:
   * @conversation: the conversation id
   *
   * Emitted when the peer has acked everything we sent it after a sync and
   * nothing is left to send: both sides hold the same history.
   */
  signals[SYNCED] = g_signal_new ("synced",
                                  G_TYPE_FROM_CLASS (klass),
                                  G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                                  G_TYPE_NONE, 1, G_TYPE_STRING);
  /**
   * NatterChatProtocol::file-frame:
   * @conversation: the conversation id
   * @object: the whole frame, not yet validated beyond its type
   */
  signals[FILE_FRAME] = g_signal_new ("file-frame",
                                      G_TYPE_FROM_CLASS (klass),
                                      G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                                      G_TYPE_NONE, 2, G_TYPE_STRING, JSON_TYPE_OBJECT);
  /**
   * NatterChatProtocol::peer-timeout:
   *
   * Nothing arrived from the peer for the keep-alive timeout: the channel
   * is dead even if the transport under it has not noticed. Emitted once.
   */
  signals[PEER_TIMEOUT] = g_signal_new ("peer-timeout",
                                        G_TYPE_FROM_CLASS (klass),
                                        G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                                        G_TYPE_NONE, 0);
}

static guint
keepalive_scaled (guint ms)
{
  const char *env = g_getenv ("NATTER_KEEPALIVE_SCALE");
  double scale = env != NULL ? g_ascii_strtod (env, NULL) : 1.0;

  if (!(scale > 0.0) || scale > 100.0)
    scale = 1.0;
  return (guint) MAX (1.0, ms * scale);
}

static void
natter_chat_protocol_init (NatterChatProtocol *self)
{
  self->conversations = g_hash_table_new_full (g_str_hash, g_str_equal, NULL,
                                               (GDestroyNotify) conversation_free);
  self->keepalive_interval_ms = keepalive_scaled (NATTER_CHAT_KEEPALIVE_INTERVAL_MS);
  self->keepalive_timeout_ms = keepalive_scaled (NATTER_CHAT_KEEPALIVE_TIMEOUT_MS);
}

/**
 * natter_chat_protocol_new:
 * @transport: (not nullable): must outlive the protocol
 *
 * Returns: (transfer full): a protocol for the chat channel to @remote_peer_id
 */
NatterChatProtocol *
natter_chat_protocol_new (NatterStore               *store,
                          NatterHlc                 *hlc,
                          const char                *local_peer_id,
                          const char                *remote_peer_id,
                          const NatterChatTransport *transport,
                          gpointer                   transport_data)
{
  NatterChatProtocol *self;

  g_return_val_if_fail (NATTER_IS_STORE (store), NULL);
  g_return_val_if_fail (NATTER_IS_HLC (hlc), NULL);
  g_return_val_if_fail (transport != NULL, NULL);

  self = g_object_new (NATTER_TYPE_CHAT_PROTOCOL, NULL);
  self->store = g_object_ref (store);
  self->hlc = g_object_ref (hlc);
  self->local_peer_id = g_strdup (local_peer_id);
  self->remote_peer_id = g_strdup (remote_peer_id);
  self->transport = transport;
  self->transport_data = transport_data;
  return self;
}

/**
 * natter_chat_protocol_add_conversation:
 * @members: the conversation's peer ids (both people, for a direct chat)
 *
 * Declares a conversation this channel carries. The peer may deliver
 * messages by any member but us; a direct chat thus accepts only the peer's.
 */
void
natter_chat_protocol_add_conversation (NatterChatProtocol *self,
                                       const char         *conversation,
                                       const char * const *members)
{
  Conversation *conv;

  g_return_if_fail (NATTER_IS_CHAT_PROTOCOL (self));
  g_return_if_fail (conversation != NULL);

  conv = g_new0 (Conversation, 1);
  conv->id = g_strdup (conversation);
  conv->members = g_strdupv ((char **) members);
  conv->gap_requested = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  g_queue_init (&conv->outgoing);
  g_hash_table_replace (self->conversations, conv->id, conv);
}

static gboolean
send_frame (NatterChatProtocol  *self,
            GBytes              *frame,
            GError             **error)
{
  if (!self->transport->send (self->transport_data, frame, error))
    return FALSE;
  self->bytes_sent += g_bytes_get_size (frame);
  self->frames_sent++;
  self->last_sent_us = g_get_monotonic_time ();
  return TRUE;
}

static gboolean
keepalive_tick_cb (gpointer user_data)
{
  NatterChatProtocol *self = user_data;
  gint64 now = g_get_monotonic_time ();
  GHashTableIter iter;
  gpointer value;

  if (now - self->last_received_us >= (gint64) self->keepalive_timeout_ms * 1000)
    {
      self->keepalive_source = 0;
      self->timed_out = TRUE;
      g_signal_emit (self, signals[PEER_TIMEOUT], 0);
      return G_SOURCE_REMOVE;
    }

  /* Any frame will do as a sign of life; the ping names a conversation only
   * because every frame does. */
  g_hash_table_iter_init (&iter, self->conversations);
  if (now - self->last_sent_us >= (gint64) self->keepalive_interval_ms * 1000 &&
      g_hash_table_iter_next (&iter, NULL, &value))
    {
      g_autoptr(GBytes) frame = natter_chat_frame_build_ping (((Conversation *) value)->id);
      g_autoptr(GError) error = NULL;

      if (!send_frame (self, frame, &error))
        g_debug ("Cannot send a keep-alive: %s", error->message);
    }
  return G_SOURCE_CONTINUE;
}

static void
keepalive_restart (NatterChatProtocol *self)
{
  guint period;

  g_clear_handle_id (&self->keepalive_source, g_source_remove);
  if (self->keepalive_interval_ms == 0 || self->keepalive_timeout_ms == 0 || self->timed_out)
    return;
  /* Ticking at a fraction of both bounds keeps each within a tick of its value. */
  period = MAX (MIN (self->keepalive_interval_ms, self->keepalive_timeout_ms) / 4, 10);
  self->keepalive_source = g_timeout_add (period, keepalive_tick_cb, self);
}

/**
 * natter_chat_protocol_set_keepalive:
 * @interval_ms: send a ping after this long without sending anything
 * @timeout_ms: emit "peer-timeout" after this long without receiving anything
 */
void
natter_chat_protocol_set_keepalive (NatterChatProtocol *self,
                                    guint               interval_ms,
                                    guint               timeout_ms)
{
  g_return_if_fail (NATTER_IS_CHAT_PROTOCOL (self));

  self->keepalive_interval_ms = interval_ms;
  self->keepalive_timeout_ms = timeout_ms;
  if (self->keepalive_source != 0)
    keepalive_restart (self);
}

static void
send_sync (NatterChatProtocol *self,
           Conversation       *conv)
{
  g_autoptr(GHashTable) vv = NULL;
  g_autoptr(GBytes) frame = NULL;
  g_autoptr(GError) error = NULL;

  vv = natter_store_version_vector (self->store, conv->id, &error);
  if (vv == NULL)
    {
      g_warning ("Cannot read the version vector: %s", error->message);
      return;
    }
  frame = natter_chat_frame_build_sync (conv->id, vv);
  if (!send_frame (self, frame, &error))
    g_debug ("Sync not sent: %s", error->message);
}

/**
 * natter_chat_protocol_start:
 *
 * Call once the channel is open: sends our version vector for every conversation.
 */
void
natter_chat_protocol_start (NatterChatProtocol *self)
{
  GHashTableIter iter;
  gpointer value;

  g_return_if_fail (NATTER_IS_CHAT_PROTOCOL (self));

  self->last_received_us = g_get_monotonic_time ();
  g_hash_table_iter_init (&iter, self->conversations);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    send_sync (self, value);
  keepalive_restart (self);
}

/* Moves our messages of @conv up to @upto forward to @state and tells listeners. */
static void
advance_own_messages (NatterChatProtocol *self,
                      Conversation       *conv,
                      gint64              upto,
                      NatterMessageState  state)
{
  g_autoptr(GPtrArray) changed = NULL;
  g_autoptr(GError) error = NULL;

  if (upto <= 0)
    return;
  changed = natter_store_advance_state (self->store, conv->id, self->local_peer_id, upto,
                                        state, &error);
  if (changed == NULL)
    {
      g_warning ("Cannot update delivery states: %s", error->message);
      return;
    }
  for (guint i = 0; i < changed->len; i++)
    g_signal_emit (self, signals[MESSAGE_STATE_CHANGED], 0,
                   (const char *) g_ptr_array_index (changed, i), state);
}

static void
enqueue_range (Conversation *conv,
               const char   *author,
               gint64        from_seq)
{
  OutRange *range;

  for (GList *l = conv->outgoing.head; l != NULL; l = l->next)
    {
      range = l->data;
      if (g_str_equal (range->author, author))
        {
          range->next_seq = MIN (range->next_seq, from_seq);
          return;
        }
    }
  range = g_new0 (OutRange, 1);
  range->author = g_strdup (author);
  range->next_seq = from_seq;
  g_queue_push_tail (&conv->outgoing, range);
}

static gboolean
conversation_idle (Conversation *conv)
{
  return conv->remote_synced && g_queue_is_empty (&conv->outgoing);
}

/* What pump_range() left of a range. */
typedef enum
{
  RANGE_DONE,     /* nothing left to send */
  RANGE_MORE,     /* more to send once the channel has room */
  RANGE_STALLED,  /* the channel refused a frame: retrying now would spin forever */
} RangeStatus;

/* Sends one store batch of @range. */
static RangeStatus
pump_range (NatterChatProtocol *self,
            Conversation       *conv,
            OutRange           *range)
{
  g_autoptr(GPtrArray) batch = NULL;
  g_autoptr(GError) error = NULL;
  guint start = 0;

  batch = natter_store_messages_from (self->store, conv->id, range->author, range->next_seq,
                                      REFILL_BATCH, &error);
  if (batch == NULL)
    {
      g_warning ("Cannot read messages to send: %s", error->message);
      return RANGE_DONE;
    }
  if (batch->len == 0)
    return RANGE_DONE;

  while (start < batch->len &&
         self->transport->buffered (self->transport_data) < NATTER_CHAT_HIGH_WATER)
    {
      g_autoptr(GBytes) frame = NULL;
      NatterMessage *last;
      guint next = start;

      frame = natter_chat_frame_build_messages (conv->id, range->author, batch, start, &next,
                                                &error);
      if (frame == NULL)
        {
          /* Only a message stored before the size check existed could be this big. */
          g_warning ("Skipping a message that does not fit in a frame");
          next = start + 1;
        }
      else if (!send_frame (self, frame, &error))
        {
          g_debug ("Send interrupted: %s", error->message);
          return RANGE_STALLED;
        }
      last = g_ptr_array_index (batch, next - 1);
      range->next_seq = natter_message_get_seq (last) + 1;
      if (g_str_equal (range->author, self->local_peer_id))
        advance_own_messages (self, conv, natter_message_get_seq (last), NATTER_MESSAGE_SENT);
      start = next;
    }

  return start < batch->len || batch->len == REFILL_BATCH ? RANGE_MORE : RANGE_DONE;
}

/**
 * natter_chat_protocol_pump:
 *
 * Sends what the peer lacks while the channel has room. The owner calls it
 * again when the channel's buffered amount drops low.
 */
void
natter_chat_protocol_pump (NatterChatProtocol *self)
{
  GHashTableIter iter;
  gpointer value;

  g_return_if_fail (NATTER_IS_CHAT_PROTOCOL (self));

  /* State signals emitted while sending can re-enter through listeners. */
  if (self->pumping)
    return;
  self->pumping = TRUE;

  g_hash_table_iter_init (&iter, self->conversations);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    {
      Conversation *conv = value;

      while (!g_queue_is_empty (&conv->outgoing) &&
             self->transport->buffered (self->transport_data) < NATTER_CHAT_HIGH_WATER)
        {
          OutRange *range = g_queue_peek_head (&conv->outgoing);
          RangeStatus status = pump_range (self, conv, range);

          /* The range stays queued; the next pump or sync sends it. */
          if (status == RANGE_STALLED)
            goto out;
          if (status == RANGE_DONE)
            out_range_free (g_queue_pop_head (&conv->outgoing));
        }
    }

out:
  self->pumping = FALSE;
}

/**
 * natter_chat_protocol_message_added:
 * @message: a message of ours just stored as queued
 *
 * Sends it now if the peer has synced; otherwise the sync will carry it.
 */
void
natter_chat_protocol_message_added (NatterChatProtocol *self,
                                    NatterMessage      *message)
{
  Conversation *conv;

  g_return_if_fail (NATTER_IS_CHAT_PROTOCOL (self));
  g_return_if_fail (NATTER_IS_MESSAGE (message));

  conv = g_hash_table_lookup (self->conversations, natter_message_get_conversation (message));
  if (conv == NULL || !conv->remote_synced)
    return;
  enqueue_range (conv, natter_message_get_author (message), natter_message_get_seq (message));
  natter_chat_protocol_pump (self);
}

static gboolean
reject (NatterChatProtocol  *self,
        GError             **error,
        const char          *reason)
{
  self->rejected++;
  g_set_error_literal (error, NATTER_ERROR, NATTER_ERROR_REFUSED, reason);
  return FALSE;
}

static gboolean
author_allowed (NatterChatProtocol *self,
                Conversation       *conv,
                const char         *author)
{
  return !g_str_equal (author, self->local_peer_id) &&
         g_strv_contains ((const char * const *) conv->members, author);
}

static NatterMessage *
newest_message (NatterChatProtocol *self,
                Conversation       *conv)
{
  if (!conv->newest_loaded)
    {
      conv->newest = natter_store_get_last_message (self->store, conv->id, NULL);
      conv->newest_loaded = TRUE;
    }
  return conv->newest;
}

static void
handle_sync (NatterChatProtocol *self,
             Conversation       *conv,
             NatterChatFrame    *frame)
{
  g_autoptr(GHashTable) local_vv = NULL;
  g_autoptr(GError) error = NULL;
  GHashTableIter iter;
  gpointer key;

  g_clear_pointer (&conv->remote_vv, g_hash_table_unref);
  conv->remote_vv = g_hash_table_ref (frame->vv);
  conv->remote_synced = TRUE;

  /* The peer's vector acks whatever it holds of ours, lost acks included. */
  advance_own_messages (self, conv, vv_get (conv->remote_vv, self->local_peer_id),
                        NATTER_MESSAGE_DELIVERED);

  local_vv = natter_store_authors (self->store, conv->id, &error);
  if (local_vv == NULL)
    {
      g_warning ("Cannot read the authors of a conversation: %s", error->message);
      return;
    }
  g_hash_table_iter_init (&iter, local_vv);
  while (g_hash_table_iter_next (&iter, &key, NULL))
    {
      const char *author = key;
      gint64 theirs = vv_get (conv->remote_vv, author);

      /* The peer never lacks its own messages except after losing its store,
       * and it would refuse them from us in a direct chat. */
      if (g_str_equal (author, self->remote_peer_id))
        continue;
      if (natter_store_max_seq (self->store, conv->id, author, NULL) > theirs)
        enqueue_range (conv, author, theirs + 1);
    }

  natter_chat_protocol_pump (self);
  if (conversation_idle (conv) &&
      natter_store_max_seq (self->store, conv->id, self->local_peer_id, NULL) <=
      vv_get (conv->remote_vv, self->local_peer_id))
    g_signal_emit (self, signals[SYNCED], 0, conv->id);
}

static gboolean
handle_messages (NatterChatProtocol  *self,
                 Conversation        *conv,
                 NatterChatFrame     *frame,
                 GError             **error)
{
  g_autoptr(GPtrArray) inserted = g_ptr_array_new_with_free_func (g_object_unref);
  g_autoptr(GBytes) ack = NULL;
  g_autoptr(GError) local_error = NULL;
  gint64 now = g_get_real_time () / G_USEC_PER_SEC;
  gint64 contiguous;
  gint64 max_seq;
  gint64 *asked;

  if (!author_allowed (self, conv, frame->author))
    return reject (self, error, "messages by an author the peer may not deliver");

  if (!natter_store_begin (self->store, error))
    return FALSE;
  for (guint i = 0; i < frame->messages->len; i++)
    {
      NatterFrameMessage *fm = g_ptr_array_index (frame->messages, i);
      g_autoptr(NatterMessage) message = NULL;
      g_autofree char *id = NULL;
      NatterMessage *newest;
      gboolean is_new = FALSE;
      gboolean late;

      id = natter_message_compute_id (frame->author, fm->seq, fm->hlc_l, fm->hlc_c, fm->body);
      message = natter_message_new (id, conv->id, frame->author, fm->seq, fm->hlc_l, fm->hlc_c,
                                    fm->body, fm->reply_to, NATTER_MESSAGE_DELIVERED, FALSE,
                                    now);
      newest = newest_message (self, conv);
      late = newest != NULL && natter_message_compare (message, newest) < 0;
      natter_message_set_late (message, late);

      if (!natter_store_add_message (self->store, message, &is_new, &local_error))
        {
          /* A different message under an existing (author, seq): the peer is
           * misbehaving; keep what we have and the rest of the frame. */
          self->rejected++;
          g_info ("Refused a conflicting message: %s", local_error->message);
          g_clear_error (&local_error);
          continue;
        }
      if (!is_new)
        continue;
      if (!late)
        g_set_object (&conv->newest, message);
      natter_hlc_receive (self->hlc, (NatterHlcStamp) { fm->hlc_l, fm->hlc_c });
      g_ptr_array_add (inserted, g_steal_pointer (&message));
    }
  if (!natter_store_commit (self->store, error))
    {
      natter_store_rollback (self->store);
      conv->newest_loaded = FALSE;
      g_clear_object (&conv->newest);
      return FALSE;
    }

  for (guint i = 0; i < inserted->len; i++)
    g_signal_emit (self, signals[MESSAGE_RECEIVED], 0, g_ptr_array_index (inserted, i));

  /* Ack only what is committed, and only the contiguous part. */
  contiguous = natter_store_contiguous_seq (self->store, conv->id, frame->author, NULL);
  ack = natter_chat_frame_build_upto (NATTER_FRAME_ACK, conv->id, frame->author, contiguous);
  if (!send_frame (self, ack, &local_error))
    g_debug ("Ack not sent: %s", local_error->message);

  /* A hole below what we hold: ask again, once per position of the hole. */
  max_seq = natter_store_max_seq (self->store, conv->id, frame->author, NULL);
  asked = g_hash_table_lookup (conv->gap_requested, frame->author);
  /* Not vv_get(): a hole at seq 1 (contiguous 0) was never asked about either. */
  if (max_seq > contiguous && (asked == NULL || *asked != contiguous))
    {
      g_hash_table_replace (conv->gap_requested, g_strdup (frame->author),
                            g_memdup2 (&contiguous, sizeof contiguous));
      send_sync (self, conv);
    }
  return TRUE;
}

static void
handle_ack (NatterChatProtocol *self,
            Conversation       *conv,
            NatterChatFrame    *frame,
            NatterMessageState  state)
{
  advance_own_messages (self, conv, frame->upto, state);
  if (state == NATTER_MESSAGE_DELIVERED && conversation_idle (conv) &&
      frame->upto >= natter_store_max_seq (self->store, conv->id, self->local_peer_id, NULL))
    g_signal_emit (self, signals[SYNCED], 0, conv->id);
}

/**
 * natter_chat_protocol_receive:
 * @frame: bytes from the chat channel
 *
 * Handles one frame. A malformed or disallowed frame is refused with @error
 * and changes nothing; the caller keeps the session up.
 */
gboolean
natter_chat_protocol_receive (NatterChatProtocol  *self,
                              GBytes              *bytes,
                              GError             **error)
{
  g_autoptr(NatterChatFrame) frame = NULL;
  Conversation *conv;
  gsize len;
  const guint8 *data;

  g_return_val_if_fail (NATTER_IS_CHAT_PROTOCOL (self), FALSE);
  g_return_val_if_fail (bytes != NULL, FALSE);

  /* Even a frame we refuse shows the peer is alive. */
  self->last_received_us = g_get_monotonic_time ();
  data = g_bytes_get_data (bytes, &len);
  frame = natter_chat_frame_parse (data, len, error);
  if (frame == NULL)
    {
      self->rejected++;
      return FALSE;
    }
  conv = g_hash_table_lookup (self->conversations, frame->conversation);
  if (conv == NULL)
    return reject (self, error, "frame for a conversation this peer is not in");

  switch (frame->type)
    {
    case NATTER_FRAME_SYNC:
      handle_sync (self, conv, frame);
      return TRUE;
    case NATTER_FRAME_MSG:
      return handle_messages (self, conv, frame, error);
    case NATTER_FRAME_ACK:
    case NATTER_FRAME_READ:
      /* In a group we relay other members' messages and the peer acks
       * those too; nothing of ours changes state. */
      if (frame->type == NATTER_FRAME_ACK && !g_str_equal (frame->author, self->local_peer_id) &&
          !g_str_equal (frame->author, self->remote_peer_id) &&
          g_strv_contains ((const char * const *) conv->members, frame->author))
        return TRUE;
      if (!g_str_equal (frame->author, self->local_peer_id))
        return reject (self, error, "receipt for messages that are not ours");
      handle_ack (self, conv, frame,
                  frame->type == NATTER_FRAME_ACK ? NATTER_MESSAGE_DELIVERED : NATTER_MESSAGE_READ);
      return TRUE;
    case NATTER_FRAME_TYPING:
      g_signal_emit (self, signals[TYPING], 0, conv->id, frame->typing);
      return TRUE;
    case NATTER_FRAME_PING:
      return TRUE;
    case NATTER_FRAME_FILE:
      g_signal_emit (self, signals[FILE_FRAME], 0, conv->id, frame->file);
      return TRUE;
    default:
      g_assert_not_reached ();
    }
}

gboolean
natter_chat_protocol_send_typing (NatterChatProtocol  *self,
                                  const char          *conversation,
                                  gboolean             typing,
                                  GError             **error)
{
  g_autoptr(GBytes) frame = NULL;

  g_return_val_if_fail (NATTER_IS_CHAT_PROTOCOL (self), FALSE);

  frame = natter_chat_frame_build_typing (conversation, typing);
  return send_frame (self, frame, error);
}

/**
 * natter_chat_protocol_send_read:
 * @upto: the peer's messages up to this seq have been read
 */
gboolean
natter_chat_protocol_send_read (NatterChatProtocol  *self,
                                const char          *conversation,
                                gint64               upto,
                                GError             **error)
{
  g_autoptr(GBytes) frame = NULL;

  g_return_val_if_fail (NATTER_IS_CHAT_PROTOCOL (self), FALSE);

  frame = natter_chat_frame_build_upto (NATTER_FRAME_READ, conversation, self->remote_peer_id,
                                        upto);
  return send_frame (self, frame, error);
}

gboolean
natter_chat_protocol_send_file (NatterChatProtocol  *self,
                                const char          *conversation,
                                JsonObject          *fields,
                                GError             **error)
{
  g_autoptr(GBytes) frame = NULL;

  g_return_val_if_fail (NATTER_IS_CHAT_PROTOCOL (self), FALSE);
  g_return_val_if_fail (fields != NULL, FALSE);

  frame = natter_chat_frame_build_file (conversation, fields, error);
  return frame != NULL && send_frame (self, frame, error);
}

gboolean
natter_chat_protocol_is_synced (NatterChatProtocol *self,
                                const char         *conversation)
{
  Conversation *conv;

  g_return_val_if_fail (NATTER_IS_CHAT_PROTOCOL (self), FALSE);

  conv = g_hash_table_lookup (self->conversations, conversation);
  return conv != NULL && conv->remote_synced;
}

guint64
natter_chat_protocol_get_bytes_sent (NatterChatProtocol *self)
{
  return self->bytes_sent;
}

guint64
natter_chat_protocol_get_frames_sent (NatterChatProtocol *self)
{
  return self->frames_sent;
}

guint64
natter_chat_protocol_get_rejected (NatterChatProtocol *self)
{
  return self->rejected;
}
