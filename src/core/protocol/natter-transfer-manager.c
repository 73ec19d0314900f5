/* natter-transfer-manager.c: offers, answers and data channels of file transfers (docs/PROTOCOL.md §17).
 *
 * Control frames travel on the chat channel as {"t":"file", …}; the bytes
 * travel on one data channel "file/<id>" per run, opened by the sender when
 * the receiver asks for them with "accept" and an offset. The receiver is
 * the authority on what it holds: after any interruption the sender offers
 * again, the receiver re-verifies its partial file and asks for the rest.
 */
#define G_LOG_DOMAIN "natter-transfer"

#include "natter-transfer-manager.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "natter-channel.h"
#include "natter-chat-protocol.h"
#include "natter-error.h"
#include "natter-hlc.h"
#include "natter-json.h"
#include "natter-peer-session.h"
#include "natter-store.h"
#include "natter-transfer-io.h"
#include "natter-transfer-private.h"

#define LABEL_PREFIX "file/"
#define OP_MAX       16

/* One contact's current connection, as last attached. */
typedef struct
{
  char     *peer_id;
  char     *conversation;
  GWeakRef  session;
  GWeakRef  protocol;
} Link;

/* The runtime side of one transfer. */
typedef struct
{
  NatterTransferManager *manager;      /* borrowed: the manager owns the job */
  NatterTransfer        *transfer;
  NatterChannel         *channel;      /* the current run's data channel */
  GCancellable          *cancellable;  /* the hash or verification in flight */
  NatterPartial         *partial;      /* receiver, while a run is open */
  int                    fd;           /* sender, while a run is open */
  guint64                sent;         /* sender: next offset to send */
  guint64                window;       /* sender: current backpressure window */
  guint64                persisted;    /* offset last written to the store */
  gboolean               end_sent;
  gboolean               pause_told;   /* receiver: told a sender that ignored our pause */
  gboolean               paused_locally; /* our user paused (else the peer did) */
  gboolean               resume_pending; /* sender: resumed, the receiver's "accept" not yet seen */
  gboolean               final_this_run; /* reached a final state since we started */
} Job;

struct _NatterTransferManager
{
  GObject      parent_instance;

  NatterStore *store;
  NatterHlc   *hlc;
  char        *local_peer_id;
  char        *state_dir;
  char        *download_dir;
  char        *auto_accept_dir;
  GListStore  *transfers;
  GHashTable  *jobs;      /* id → Job */
  GHashTable  *links;     /* peer id → Link */
  GPtrArray   *abandoned;  /* data channels of finished runs, open until their connection ends */
  guint64      bytes_sent;
  guint64      bytes_received;
};

enum {
  TRANSFER_ADDED,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

G_DEFINE_FINAL_TYPE (NatterTransferManager, natter_transfer_manager, G_TYPE_OBJECT)

static void job_pump (Job *job);
static void job_start_receive (Job *job);

/* ---- links ---- */

static void
link_free (Link *link)
{
  g_weak_ref_clear (&link->session);
  g_weak_ref_clear (&link->protocol);
  g_free (link->peer_id);
  g_free (link->conversation);
  g_free (link);
}

static NatterChatProtocol *
link_get_protocol (NatterTransferManager *self,
                   const char            *peer_id)
{
  Link *link = g_hash_table_lookup (self->links, peer_id);

  return link ? g_weak_ref_get (&link->protocol) : NULL;
}

/* Returns: (transfer full) (nullable): the session, if connected */
static NatterPeerSession *
link_get_session (NatterTransferManager *self,
                  const char            *peer_id)
{
  Link *link = g_hash_table_lookup (self->links, peer_id);
  g_autoptr(NatterPeerSession) session = link ? g_weak_ref_get (&link->session) : NULL;

  if (session == NULL || natter_peer_session_get_state (session) != NATTER_SESSION_CONNECTED)
    return NULL;
  return g_steal_pointer (&session);
}

static gboolean
is_connected (NatterTransferManager *self,
              const char            *peer_id)
{
  g_autoptr(NatterChatProtocol) protocol = link_get_protocol (self, peer_id);
  g_autoptr(NatterPeerSession) session = link_get_session (self, peer_id);

  return protocol != NULL && session != NULL;
}

/* ---- control frames ---- */

static gboolean
send_control (Job        *job,
              const char *op,
              JsonObject *extra)
{
  NatterTransfer *t = job->transfer;
  g_autoptr(NatterChatProtocol) protocol = link_get_protocol (job->manager, t->peer_id);
  g_autoptr(JsonObject) fields = extra ? json_object_ref (extra) : json_object_new ();
  g_autoptr(GError) error = NULL;

  if (protocol == NULL)
    return FALSE;
  json_object_set_string_member (fields, "op", op);
  json_object_set_string_member (fields, "id", t->id);
  if (!natter_chat_protocol_send_file (protocol, t->conversation, fields, &error))
    {
      g_info ("Cannot send %s for transfer %.8s: %s", op, t->id, error->message);
      return FALSE;
    }
  g_debug ("Transfer %.8s: sent %s", t->id, op);
  return TRUE;
}

static gboolean
send_offer (Job *job)
{
  NatterTransfer *t = job->transfer;
  g_autoptr(JsonObject) fields = json_object_new ();
  g_autoptr(JsonArray) hlc = json_array_new ();

  json_object_set_string_member (fields, "name", t->file_name);
  json_object_set_int_member (fields, "size", (gint64) t->size);
  json_object_set_string_member (fields, "mime", t->mime_type);
  json_object_set_string_member (fields, "sha256", t->sha256);
  json_object_set_int_member (fields, "chunk", t->chunk);
  json_array_add_int_element (hlc, t->hlc_l);
  json_array_add_int_element (hlc, t->hlc_c);
  json_object_set_array_member (fields, "hlc", g_steal_pointer (&hlc));
  return send_control (job, "offer", fields);
}

static gboolean
send_accept (Job     *job,
             guint64  offset)
{
  g_autoptr(JsonObject) fields = json_object_new ();

  json_object_set_int_member (fields, "offset", (gint64) offset);
  return send_control (job, "accept", fields);
}

/* The frame that tells the peer about a state it must mirror. */
static gboolean
send_state (Job *job)
{
  NatterTransfer *t = job->transfer;
  g_autoptr(JsonObject) fields = json_object_new ();

  switch (t->state)
    {
    case NATTER_TRANSFER_DONE:
      json_object_set_string_member (fields, "sha256", t->sha256);
      return send_control (job, "done", fields);
    case NATTER_TRANSFER_FAILED:
      {
        g_autofree char *reason = g_strndup (t->error ? t->error : "failed",
                                             NATTER_TRANSFER_REASON_MAX);

        /* Cut on a character boundary: the frame must stay valid UTF-8. */
        if (!g_utf8_validate (reason, -1, NULL))
          {
            const char *end = NULL;

            g_utf8_validate (reason, -1, &end);
            reason[end - reason] = '\0';
          }
        json_object_set_string_member (fields, "reason", reason);
        return send_control (job, "fail", fields);
      }
    case NATTER_TRANSFER_CANCELLED:
      return send_control (job, "cancel", NULL);
    case NATTER_TRANSFER_DECLINED:
      return send_control (job, "decline", NULL);
    case NATTER_TRANSFER_PAUSED:
      return send_control (job, "pause", NULL);
    case NATTER_TRANSFER_PREPARING:
    case NATTER_TRANSFER_OFFERED:
    case NATTER_TRANSFER_ACCEPTED:
    case NATTER_TRANSFER_ACTIVE:
    default:
      return FALSE;
    }
}

/* ---- jobs ---- */

static char *
checkpoint_path (Job *job)
{
  g_autofree char *name = g_strconcat (job->transfer->id, ".checkpoints", NULL);

  return g_build_filename (job->manager->state_dir, name, NULL);
}

static void
job_save (Job *job)
{
  g_autoptr(GError) error = NULL;

  job->persisted = job->transfer->bytes_done;
  if (!natter_store_save_transfer (job->manager->store, job->transfer, &error))
    g_warning ("Cannot save transfer %.8s: %s", job->transfer->id, error->message);
}

static void
job_persist_offset (Job *job)
{
  g_autoptr(GError) error = NULL;

  if (job->persisted == job->transfer->bytes_done)
    return;
  job->persisted = job->transfer->bytes_done;
  if (!natter_store_set_transfer_offset (job->manager->store, job->transfer->id,
                                         job->persisted, &error))
    g_warning ("Cannot save the progress of %.8s: %s", job->transfer->id, error->message);
}

/* A finished run's channel is left open until its connection ends instead
 * of being closed: webrtcbin (1.22) hands a closed channel's SCTP stream id
 * to the next new channel before usrsctp has finished resetting the stream,
 * the new channel's first send fails, and the whole session goes down.
 * Open channels cost a stream id each (65,535 per connection). */
static void
abandoned_state_cb (NatterChannel         *channel,
                    GParamSpec            *pspec,
                    NatterTransferManager *self)
{
  if (natter_channel_get_state (channel) != NATTER_CHANNEL_CLOSED)
    return;
  g_signal_handlers_disconnect_by_func (channel, abandoned_state_cb, self);
  g_ptr_array_remove_fast (self->abandoned, channel);
}

static void
job_release_channel (Job *job)
{
  g_autoptr(NatterChannel) channel = g_steal_pointer (&job->channel);

  if (channel == NULL)
    return;
  g_signal_handlers_disconnect_by_data (channel, job);
  /* The receiver leaves channels to the sender; see abandoned_state_cb(). */
  if (job->transfer->direction != NATTER_TRANSFER_OUTGOING ||
      natter_channel_get_state (channel) == NATTER_CHANNEL_CLOSED)
    return;
  g_ptr_array_add (job->manager->abandoned, g_object_ref (channel));
  g_signal_connect_object (channel, "notify::state", G_CALLBACK (abandoned_state_cb),
                           job->manager, 0);
}

/* Ends the current run (not the transfer): no channel, no open files. */
static void
job_stop_run (Job *job)
{
  if (job->cancellable != NULL)
    {
      g_cancellable_cancel (job->cancellable);
      g_clear_object (&job->cancellable);
    }
  job_release_channel (job);
  g_clear_pointer (&job->partial, natter_partial_free);
  if (job->fd >= 0)
    {
      close (job->fd);
      job->fd = -1;
    }
  job->end_sent = FALSE;
  job->pause_told = FALSE;
  if (job->transfer->direction == NATTER_TRANSFER_INCOMING)
    job_persist_offset (job);
}

static void
job_free (Job *job)
{
  job_stop_run (job);
  g_clear_object (&job->transfer);
  g_free (job);
}

static void
job_set_state (Job                 *job,
               NatterTransferState  state)
{
  _natter_transfer_set_state (job->transfer, state);
  job_save (job);
}

static void
delete_partial (Job *job)
{
  g_autofree char *checkpoints = checkpoint_path (job);

  if (job->transfer->direction != NATTER_TRANSFER_INCOMING)
    return;
  g_unlink (checkpoints);
  if (job->transfer->partial != NULL)
    g_unlink (job->transfer->partial);
}

/* Moves to a state the peer must learn of (done, failed, cancelled,
 * declined); if it cannot be told now, it is told on the next connect. */
static void
job_finish (Job                 *job,
            NatterTransferState  state,
            const char          *reason,
            gboolean             tell)
{
  NatterTransfer *t = job->transfer;

  job_stop_run (job);
  g_object_freeze_notify (G_OBJECT (t));
  _natter_transfer_set_state (t, state);
  if (reason != NULL)
    _natter_transfer_set_error (t, reason);
  g_object_thaw_notify (G_OBJECT (t));
  if (state == NATTER_TRANSFER_CANCELLED || state == NATTER_TRANSFER_DECLINED)
    delete_partial (job);
  t->pending = tell && !send_state (job);
  job->final_this_run = tell;
  job_save (job);
  if (state == NATTER_TRANSFER_FAILED)
    g_info ("Transfer %.8s failed: %s", t->id, reason);
}

static Job *
add_job (NatterTransferManager *self,
         NatterTransfer        *transfer)
{
  Job *job = g_new0 (Job, 1);

  job->manager = self;
  job->transfer = g_object_ref (transfer);
  job->fd = -1;
  job->persisted = transfer->bytes_done;
  g_hash_table_insert (self->jobs, transfer->id, job);
  g_list_store_append (self->transfers, transfer);
  return job;
}

/* ---- sender ---- */

typedef struct
{
  char    *path;
  char    *sha256;
  guint64  size;
  gint64   mtime;
} HashData;

static void
hash_data_free (HashData *data)
{
  g_free (data->path);
  g_free (data->sha256);
  g_free (data);
}

static void
hash_thread (GTask        *task,
             gpointer      source,
             gpointer      task_data,
             GCancellable *cancellable)
{
  HashData *data = task_data;
  GError *error = NULL;

  if (natter_transfer_hash_file (data->path, cancellable, &data->sha256, &data->size,
                                 &data->mtime, &error))
    g_task_return_boolean (task, TRUE);
  else
    g_task_return_error (task, error);
}

static void
hash_done_cb (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  GTask *task = G_TASK (result);
  HashData *data = g_task_get_task_data (task);
  g_autoptr(GError) error = NULL;
  Job *job = user_data;

  /* Cancelled means the job may be gone: touch nothing. */
  if (g_cancellable_is_cancelled (g_task_get_cancellable (task)))
    return;
  g_clear_object (&job->cancellable);
  if (!g_task_propagate_boolean (task, &error))
    {
      job_finish (job, NATTER_TRANSFER_FAILED, error->message, FALSE);
      return;
    }
  job->transfer->size = data->size;
  job->transfer->mtime = data->mtime;
  _natter_transfer_set_sha256 (job->transfer, data->sha256);
  job_set_state (job, NATTER_TRANSFER_OFFERED);
  send_offer (job);
}

static void
job_start_hash (Job *job)
{
  g_autoptr(GTask) task = NULL;
  HashData *data = g_new0 (HashData, 1);

  data->path = g_strdup (job->transfer->path);
  job->cancellable = g_cancellable_new ();
  task = g_task_new (job->manager, job->cancellable, hash_done_cb, job);
  g_task_set_source_tag (task, job_start_hash);
  g_task_set_task_data (task, data, (GDestroyNotify) hash_data_free);
  g_task_run_in_thread (task, hash_thread);
}

static guint
count_sending (NatterTransferManager *self)
{
  GHashTableIter iter;
  gpointer value;
  guint n = 0;

  g_hash_table_iter_init (&iter, self->jobs);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    {
      Job *job = value;

      if (job->channel != NULL && job->transfer->direction == NATTER_TRANSFER_OUTGOING &&
          job->transfer->state == NATTER_TRANSFER_ACTIVE && !job->end_sent)
        n++;
    }
  return n;
}

static void
pump_all (NatterTransferManager *self)
{
  g_autoptr(GList) jobs = g_hash_table_get_values (self->jobs);

  for (GList *l = jobs; l != NULL; l = l->next)
    {
      Job *job = l->data;

      if (job->channel != NULL && job->transfer->direction == NATTER_TRANSFER_OUTGOING)
        job_pump (job);
    }
}

static void
channel_low_cb (NatterChannel *channel,
                Job           *job)
{
  /* Windows are shared: when one channel drains, others may have room. */
  if (count_sending (job->manager) > 1)
    pump_all (job->manager);
  else
    job_pump (job);
}

static GBytes *
build_frame (guint8        kind,
             guint64       offset,
             guint8      **out_payload,
             gsize         payload_len)
{
  guint8 *frame = g_malloc (NATTER_TRANSFER_HEADER_SIZE + payload_len);
  guint64 be = GUINT64_TO_BE (offset);

  frame[0] = kind;
  memcpy (frame + 1, &be, sizeof be);
  if (out_payload != NULL)
    *out_payload = frame + NATTER_TRANSFER_HEADER_SIZE;
  return g_bytes_new_take (frame, NATTER_TRANSFER_HEADER_SIZE + payload_len);
}

static void
job_pump (Job *job)
{
  NatterTransfer *t = job->transfer;
  guint64 window;

  if (job->channel == NULL || t->state != NATTER_TRANSFER_ACTIVE ||
      natter_channel_get_state (job->channel) != NATTER_CHANNEL_OPEN || job->end_sent)
    return;

  window = MAX (NATTER_TRANSFER_WINDOW / MAX (count_sending (job->manager), 1u),
                NATTER_TRANSFER_MIN_WINDOW);
  if (window != job->window)
    {
      job->window = window;
      natter_channel_set_buffered_amount_low_threshold (job->channel, window / 4);
    }

  while (job->sent < t->size)
    {
      gsize len = (gsize) MIN ((guint64) t->chunk, t->size - job->sent);
      g_autoptr(GBytes) frame = NULL;
      g_autoptr(GError) error = NULL;
      guint8 *payload;
      gsize done = 0;

      if (natter_channel_get_buffered_amount (job->channel) >= window)
        return;

      frame = build_frame (NATTER_TRANSFER_KIND_DATA, job->sent, &payload, len);
      while (done < len)
        {
          ssize_t n = pread (job->fd, payload + done, len - done, job->sent + done);

          if (n < 0 && errno == EINTR)
            continue;
          if (n <= 0)
            {
              job_finish (job, NATTER_TRANSFER_FAILED,
                          n == 0 ? "The file became shorter while it was sent"
                                 : g_strerror (errno), TRUE);
              return;
            }
          done += n;
        }
      if (!natter_channel_send (job->channel, frame, &error))
        {
          /* The channel is going away; its close starts the next run. */
          g_info ("Cannot send data of %.8s: %s", t->id, error->message);
          return;
        }
      job->sent += len;
      job->manager->bytes_sent += len;
      _natter_transfer_set_bytes_done (t, job->sent, job->sent == t->size);
    }

  /* The end marker lets the receiver tell "fewer bytes than announced" from a stall. */
  {
    g_autoptr(GBytes) end = build_frame (NATTER_TRANSFER_KIND_END, t->size, NULL, 0);
    g_autoptr(GError) error = NULL;

    if (natter_channel_send (job->channel, end, &error))
      job->end_sent = TRUE;
    else
      g_info ("Cannot end the data of %.8s: %s", t->id, error->message);
  }
}

static void
channel_state_cb (NatterChannel *channel,
                  GParamSpec    *pspec,
                  Job           *job)
{
  NatterTransfer *t = job->transfer;

  switch (natter_channel_get_state (channel))
    {
    case NATTER_CHANNEL_OPEN:
      if (t->direction == NATTER_TRANSFER_OUTGOING)
        job_pump (job);
      break;

    case NATTER_CHANNEL_CLOSED:
      /* The connection ended (or the peer closed the run): wait for the next. */
      job_stop_run (job);
      if (t->state == NATTER_TRANSFER_ACTIVE)
        job_set_state (job, NATTER_TRANSFER_ACCEPTED);
      if (count_sending (job->manager) > 0)
        pump_all (job->manager);
      break;

    case NATTER_CHANNEL_CONNECTING:
    default:
      break;
    }
}

static gboolean
source_unchanged (Job     *job,
                  GError **error)
{
  NatterTransfer *t = job->transfer;
  struct stat st;

  if (job->fd < 0)
    job->fd = g_open (t->path, O_RDONLY | O_CLOEXEC, 0);
  if (job->fd < 0)
    {
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errno),
                   "The file cannot be opened any more: %s", g_strerror (errno));
      return FALSE;
    }
  if (fstat (job->fd, &st) != 0 || (guint64) st.st_size != t->size ||
      (gint64) st.st_mtim.tv_sec * G_USEC_PER_SEC + st.st_mtim.tv_nsec / 1000 != t->mtime)
    {
      g_set_error_literal (error, NATTER_ERROR, NATTER_ERROR_FAILED,
                           "The file changed since it was offered");
      return FALSE;
    }
  return TRUE;
}

static void
attach_channel (Job           *job,
                NatterChannel *channel)
{
  job_release_channel (job);
  job->channel = g_object_ref (channel);
  job->window = 0;
  g_signal_connect (channel, "notify::state", G_CALLBACK (channel_state_cb), job);
}

static void
sender_handle_accept (Job     *job,
                      guint64  offset)
{
  NatterTransfer *t = job->transfer;
  g_autoptr(NatterPeerSession) session = NULL;
  g_autoptr(NatterChannel) channel = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *label = NULL;

  switch (t->state)
    {
    case NATTER_TRANSFER_OFFERED:
    case NATTER_TRANSFER_ACCEPTED:
    case NATTER_TRANSFER_ACTIVE:
    case NATTER_TRANSFER_PAUSED:   /* the receiver resumed */
    case NATTER_TRANSFER_FAILED:   /* the receiver retries */
      break;
    case NATTER_TRANSFER_CANCELLED:
      send_state (job);
      return;
    case NATTER_TRANSFER_PREPARING:
    case NATTER_TRANSFER_DONE:
    case NATTER_TRANSFER_DECLINED:
    default:
      return;
    }

  job_stop_run (job);
  if (!source_unchanged (job, &error))
    {
      job_finish (job, NATTER_TRANSFER_FAILED, error->message, TRUE);
      return;
    }
  session = link_get_session (job->manager, t->peer_id);
  label = g_strconcat (LABEL_PREFIX, t->id, NULL);
  if (session == NULL ||
      (channel = natter_peer_session_create_channel (session, label, &error)) == NULL)
    {
      /* The next connect offers again. */
      g_info ("Cannot open the data channel of %.8s: %s", t->id,
              error ? error->message : "not connected");
      job_stop_run (job);
      job_set_state (job, NATTER_TRANSFER_ACCEPTED);
      return;
    }
  job->sent = offset;
  _natter_transfer_set_bytes_done (t, offset, TRUE);
  job_set_state (job, NATTER_TRANSFER_ACTIVE);
  attach_channel (job, channel);
  g_signal_connect (channel, "buffered-amount-low", G_CALLBACK (channel_low_cb), job);
  job_pump (job);
}

/* ---- receiver ---- */

static void
receiver_complete (Job *job)
{
  NatterTransfer *t = job->transfer;
  g_autofree char *digest = natter_partial_digest (job->partial);
  g_autofree char *dir = g_path_get_dirname (t->partial);
  g_autofree char *checkpoints = checkpoint_path (job);
  g_autofree char *final = NULL;
  g_autoptr(GError) error = NULL;

  g_clear_pointer (&job->partial, natter_partial_free);
  if (!g_str_equal (digest, t->sha256))
    {
      /* Never presented as the file; the partial stays for a retry. */
      job_finish (job, NATTER_TRANSFER_FAILED,
                  "The received data does not match the file's SHA-256", TRUE);
      return;
    }
  final = natter_transfer_place_file (t->partial, dir, t->file_name, &error);
  if (final == NULL)
    {
      job_finish (job, NATTER_TRANSFER_FAILED, error->message, TRUE);
      return;
    }
  g_unlink (checkpoints);
  _natter_transfer_set_path (t, final);
  _natter_transfer_set_bytes_done (t, t->size, TRUE);
  job_finish (job, NATTER_TRANSFER_DONE, NULL, TRUE);
}

static void
receiver_fail (Job        *job,
               const char *reason)
{
  job_finish (job, NATTER_TRANSFER_FAILED, reason, TRUE);
}

static void
channel_message_cb (NatterChannel *channel,
                    GBytes        *bytes,
                    Job           *job)
{
  NatterTransfer *t = job->transfer;
  g_autoptr(GError) error = NULL;
  const guint8 *data;
  guint64 offset;
  gsize len;

  data = g_bytes_get_data (bytes, &len);
  if (t->state == NATTER_TRANSFER_PAUSED)
    {
      /* Our pause crossed their data; say it again, once. */
      if (!job->pause_told)
        job->pause_told = send_state (job);
      return;
    }
  if (job->partial == NULL || t->state != NATTER_TRANSFER_ACTIVE)
    return;
  if (len < NATTER_TRANSFER_HEADER_SIZE)
    {
      receiver_fail (job, "The sender sent a malformed data frame");
      return;
    }
  memcpy (&offset, data + 1, sizeof offset);
  offset = GUINT64_FROM_BE (offset);
  job->manager->bytes_received += len - NATTER_TRANSFER_HEADER_SIZE;

  switch (data[0])
    {
    case NATTER_TRANSFER_KIND_DATA:
      if (!natter_partial_write (job->partial, offset, data + NATTER_TRANSFER_HEADER_SIZE,
                                 len - NATTER_TRANSFER_HEADER_SIZE, &error))
        {
          receiver_fail (job, error->message);
          return;
        }
      _natter_transfer_set_bytes_done (t, natter_partial_get_offset (job->partial), FALSE);
      if (t->bytes_done - job->persisted >= NATTER_TRANSFER_PERSIST_INTERVAL)
        job_persist_offset (job);
      if (t->bytes_done == t->size)
        receiver_complete (job);
      break;

    case NATTER_TRANSFER_KIND_END:
      if (len != NATTER_TRANSFER_HEADER_SIZE || offset != t->size)
        receiver_fail (job, "The sender sent a malformed end frame");
      else if (natter_partial_get_offset (job->partial) < t->size)
        receiver_fail (job, "The sender ended early: fewer bytes than announced");
      break;

    default:
      receiver_fail (job, "The sender sent an unknown data frame");
    }
}

typedef struct
{
  char          *path;
  char          *checkpoints;
  guint64        size;
  guint          chunk;
  NatterPartial *partial;
} VerifyData;

static void
verify_data_free (VerifyData *data)
{
  g_free (data->path);
  g_free (data->checkpoints);
  g_clear_pointer (&data->partial, natter_partial_free);
  g_free (data);
}

static void
verify_thread (GTask        *task,
               gpointer      source,
               gpointer      task_data,
               GCancellable *cancellable)
{
  VerifyData *data = task_data;
  GError *error = NULL;
  g_autofree char *dir = g_path_get_dirname (data->path);

  if (g_mkdir_with_parents (dir, 0755) != 0)
    {
      int saved_errno = errno;

      g_task_return_new_error (task, G_IO_ERROR, g_io_error_from_errno (saved_errno),
                               "Cannot create the download folder: %s", g_strerror (saved_errno));
      return;
    }
  data->partial = natter_partial_open (data->path, data->checkpoints, data->size, data->chunk,
                                       cancellable, &error);
  if (data->partial == NULL)
    g_task_return_error (task, error);
  else
    g_task_return_boolean (task, TRUE);
}

static void
verify_done_cb (GObject      *source,
                GAsyncResult *result,
                gpointer      user_data)
{
  GTask *task = G_TASK (result);
  VerifyData *data = g_task_get_task_data (task);
  g_autoptr(GError) error = NULL;
  Job *job = user_data;
  NatterTransfer *t;
  guint64 offset;

  if (g_cancellable_is_cancelled (g_task_get_cancellable (task)))
    return;
  t = job->transfer;
  g_clear_object (&job->cancellable);
  if (!g_task_propagate_boolean (task, &error))
    {
      receiver_fail (job, error->message);
      return;
    }
  job->partial = g_steal_pointer (&data->partial);
  offset = natter_partial_get_offset (job->partial);
  g_debug ("Transfer %.8s: %" G_GUINT64_FORMAT " of %" G_GUINT64_FORMAT
           " bytes on disk verified", t->id, offset, natter_partial_get_found (job->partial));
  _natter_transfer_set_bytes_done (t, offset, TRUE);
  job_persist_offset (job);
  _natter_transfer_emit_verified (t, offset, natter_partial_get_found (job->partial));

  if (offset == t->size)
    receiver_complete (job);
  else if (t->state != NATTER_TRANSFER_ACCEPTED || !send_accept (job, offset))
    g_clear_pointer (&job->partial, natter_partial_free);
}

/* (Re)starts receiving: re-verify what is on disk, then ask for the rest. */
static void
job_start_receive (Job *job)
{
  NatterTransfer *t = job->transfer;
  g_autoptr(GTask) task = NULL;
  VerifyData *data;

  if (job->cancellable != NULL)
    return;  /* a verification is running; it asks when done */
  job_stop_run (job);
  if (t->state != NATTER_TRANSFER_ACCEPTED)
    job_set_state (job, NATTER_TRANSFER_ACCEPTED);

  data = g_new0 (VerifyData, 1);
  data->path = g_strdup (t->partial);
  data->checkpoints = checkpoint_path (job);
  data->size = t->size;
  data->chunk = t->chunk;
  job->cancellable = g_cancellable_new ();
  task = g_task_new (job->manager, job->cancellable, verify_done_cb, job);
  g_task_set_source_tag (task, job_start_receive);
  g_task_set_task_data (task, data, (GDestroyNotify) verify_data_free);
  g_task_run_in_thread (task, verify_thread);
}

static void
channel_added_cb (NatterPeerSession     *session,
                  NatterChannel         *channel,
                  NatterTransferManager *self)
{
  const char *label = natter_channel_get_label (channel);
  const char *id;
  Job *job;

  if (label == NULL || !g_str_has_prefix (label, LABEL_PREFIX))
    return;
  id = label + strlen (LABEL_PREFIX);
  job = natter_transfer_id_is_valid (id) ? g_hash_table_lookup (self->jobs, id) : NULL;
  /* Only the peer of an accepted incoming transfer, after we asked. */
  if (job == NULL || job->transfer->direction != NATTER_TRANSFER_INCOMING ||
      g_strcmp0 (job->transfer->peer_id, natter_peer_session_get_remote_peer_id (session)) != 0 ||
      job->partial == NULL ||
      (job->transfer->state != NATTER_TRANSFER_ACCEPTED &&
       job->transfer->state != NATTER_TRANSFER_ACTIVE))
    {
      g_info ("Closed an unexpected data channel from %.8s…",
              natter_peer_session_get_remote_peer_id (session));
      natter_channel_close (channel);
      return;
    }
  attach_channel (job, channel);
  g_signal_connect (channel, "message", G_CALLBACK (channel_message_cb), job);
  job_set_state (job, NATTER_TRANSFER_ACTIVE);
}

static gboolean
enough_space (const char  *dir,
              guint64      size,
              GError     **error)
{
  struct statvfs st;

  g_mkdir_with_parents (dir, 0755);
  if (statvfs (dir, &st) == 0 && (guint64) st.f_bavail * st.f_frsize < size)
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_NO_SPACE,
                           "Not enough free disk space for this file");
      return FALSE;
    }
  return TRUE;
}

static void
receiver_handle_offer (NatterTransferManager *self,
                       Link                  *link,
                       JsonObject            *object)
{
  g_autoptr(NatterTransferOffer) offer = NULL;
  g_autoptr(NatterTransfer) t = NULL;
  g_autoptr(GError) error = NULL;
  Job *job;

  offer = natter_transfer_offer_parse (object, &error);
  if (offer == NULL)
    {
      g_info ("Refused a file offer from %.8s…: %s", link->peer_id, error->message);
      return;
    }
  job = g_hash_table_lookup (self->jobs, offer->id);
  if (job != NULL)
    {
      NatterTransfer *known = job->transfer;

      if (known->direction != NATTER_TRANSFER_INCOMING ||
          !g_str_equal (known->peer_id, link->peer_id) || known->size != (guint64) offer->size ||
          known->chunk != offer->chunk || g_strcmp0 (known->sha256, offer->sha256) != 0)
        {
          g_info ("Refused an offer that conflicts with transfer %.8s", offer->id);
          return;
        }
      /* A repeated offer asks where we are. */
      switch (known->state)
        {
        case NATTER_TRANSFER_ACCEPTED:
        case NATTER_TRANSFER_ACTIVE:
          job_start_receive (job);
          break;
        case NATTER_TRANSFER_OFFERED:
        case NATTER_TRANSFER_PREPARING:
          break;
        case NATTER_TRANSFER_PAUSED:
        case NATTER_TRANSFER_DONE:
        case NATTER_TRANSFER_FAILED:
        case NATTER_TRANSFER_CANCELLED:
        case NATTER_TRANSFER_DECLINED:
        default:
          known->pending = !send_state (job) && known->pending;
          break;
        }
      return;
    }

  t = _natter_transfer_new ();
  t->id = g_strdup (offer->id);
  t->peer_id = g_strdup (link->peer_id);
  t->conversation = g_strdup (link->conversation);
  t->author = g_strdup (link->peer_id);
  t->direction = NATTER_TRANSFER_INCOMING;
  t->file_name = g_strdup (offer->name);
  t->mime_type = g_strdup (offer->mime);
  t->sha256 = g_strdup (offer->sha256);
  t->size = offer->size;
  t->chunk = offer->chunk;
  t->state = NATTER_TRANSFER_OFFERED;
  t->created_at = g_get_real_time () / 1000;
  t->hlc_l = offer->hlc_l;
  t->hlc_c = offer->hlc_c;
  natter_hlc_receive (self->hlc, (NatterHlcStamp) { offer->hlc_l, offer->hlc_c });
  if (!natter_store_save_transfer (self->store, t, &error))
    {
      g_warning ("Cannot store an offer: %s", error->message);
      return;
    }
  job = add_job (self, t);
  g_signal_emit (self, signals[TRANSFER_ADDED], 0, t);
  if (self->auto_accept_dir != NULL && t->state == NATTER_TRANSFER_OFFERED &&
      !natter_transfer_manager_accept (self, t, self->auto_accept_dir, &error))
    job_finish (job, NATTER_TRANSFER_FAILED, error->message, TRUE);
}

/* ---- the control frames' dispatcher ---- */

static gboolean
check_members (JsonObject  *object,
               const char  *extra,
               GError     **error)
{
  const char *members[] = { "t", "conv", "op", "id", extra, NULL };

  return natter_json_check_members (object, members, error);
}

static Link *
link_for_conversation (NatterTransferManager *self,
                       const char            *conversation)
{
  GHashTableIter iter;
  gpointer value;

  g_hash_table_iter_init (&iter, self->links);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    if (g_strcmp0 (((Link *) value)->conversation, conversation) == 0)
      return value;
  return NULL;
}

/* Text from a peer, shown to a person: no control or format characters, bounded. */
static char *
clean_text (const char *text)
{
  g_autofree char *valid = g_utf8_make_valid (text, -1);
  GString *clean = g_string_new (NULL);

  for (const char *p = valid; *p != '\0'; p = g_utf8_next_char (p))
    {
      gunichar ch = g_utf8_get_char (p);
      GUnicodeType type = g_unichar_type (ch);

      if (type != G_UNICODE_CONTROL && type != G_UNICODE_FORMAT)
        g_string_append_unichar (clean, ch);
    }
  return g_string_free (clean, FALSE);
}

static void
file_frame_cb (NatterChatProtocol    *protocol,
               const char            *conversation,
               JsonObject            *object,
               NatterTransferManager *self)
{
  g_autoptr(GError) error = NULL;
  const char *op = NULL;
  const char *id = NULL;
  Link *link = link_for_conversation (self, conversation);
  const char *peer_id;
  NatterTransfer *t;
  gboolean outgoing;
  Job *job;

  if (link == NULL)
    return;
  peer_id = link->peer_id;
  if (!natter_json_get_string (object, "op", TRUE, OP_MAX, &op, &error) ||
      !natter_json_get_string (object, "id", TRUE, NATTER_TRANSFER_ID_LENGTH, &id, &error))
    goto refused;

  if (g_str_equal (op, "offer"))
    {
      receiver_handle_offer (self, link, object);
      return;
    }

  job = g_hash_table_lookup (self->jobs, id);
  /* A peer only ever speaks about its own transfers with us. */
  if (job == NULL || !g_str_equal (job->transfer->peer_id, peer_id))
    {
      g_info ("Ignored \"%s\" for an unknown transfer from %.8s…", op, peer_id);
      return;
    }
  t = job->transfer;
  outgoing = t->direction == NATTER_TRANSFER_OUTGOING;
  g_debug ("Transfer %.8s: received %s while %s", t->id, op,
           natter_transfer_state_to_string (t->state));

  if (g_str_equal (op, "accept") && outgoing)
    {
      gint64 offset = 0;

      if (!check_members (object, "offset", &error) ||
          !natter_json_get_int (object, "offset", TRUE, 0, (gint64) t->size, &offset, &error))
        goto refused;
      if (offset % t->chunk != 0 && (guint64) offset != t->size)
        {
          g_set_error_literal (&error, NATTER_ERROR, NATTER_ERROR_INVALID_INPUT,
                               "offset not on a chunk boundary");
          goto refused;
        }
      job->resume_pending = FALSE;
      sender_handle_accept (job, offset);
    }
  else if (g_str_equal (op, "done") && outgoing)
    {
      const char *sha256 = NULL;

      if (!check_members (object, "sha256", &error) ||
          !natter_json_get_string (object, "sha256", TRUE, 64, &sha256, &error))
        goto refused;
      if (g_strcmp0 (sha256, t->sha256) != 0)
        job_finish (job, NATTER_TRANSFER_FAILED, "The receiver saved a different file", FALSE);
      else if (t->state != NATTER_TRANSFER_DONE)
        {
          _natter_transfer_set_bytes_done (t, t->size, TRUE);
          job_finish (job, NATTER_TRANSFER_DONE, NULL, FALSE);
        }
    }
  else if (g_str_equal (op, "fail"))
    {
      const char *reason = NULL;
      g_autofree char *text = NULL;

      if (!check_members (object, "reason", &error) ||
          !natter_json_get_string (object, "reason", TRUE, NATTER_TRANSFER_REASON_MAX, &reason,
                                   &error))
        goto refused;
      if (natter_transfer_state_is_final (t->state))
        return;
      {
        g_autofree char *clean = clean_text (reason);

        text = g_strdup_printf ("The peer reported: %s", clean);
      }
      job_finish (job, NATTER_TRANSFER_FAILED, text, FALSE);
    }
  else if (g_str_equal (op, "decline") && outgoing)
    {
      if (!check_members (object, NULL, &error))
        goto refused;
      if (!natter_transfer_state_is_final (t->state))
        job_finish (job, NATTER_TRANSFER_DECLINED, NULL, FALSE);
    }
  else if (g_str_equal (op, "cancel"))
    {
      if (!check_members (object, NULL, &error))
        goto refused;
      if (!natter_transfer_state_is_final (t->state))
        job_finish (job, NATTER_TRANSFER_CANCELLED, NULL, FALSE);
    }
  else if (g_str_equal (op, "pause"))
    {
      if (!check_members (object, NULL, &error))
        goto refused;
      /* A pause from before our resume reached them (their answer to our
       * offer, or a connection that died with our resume on it): the resume
       * that follows it wins. */
      if (outgoing && job->resume_pending)
        return;
      if (t->state == NATTER_TRANSFER_ACCEPTED || t->state == NATTER_TRANSFER_ACTIVE ||
          t->state == NATTER_TRANSFER_OFFERED)
        {
          job_stop_run (job);
          job->paused_locally = FALSE;
          job_set_state (job, NATTER_TRANSFER_PAUSED);
        }
    }
  else if (g_str_equal (op, "resume") && !outgoing)
    {
      if (!check_members (object, NULL, &error))
        goto refused;
      if (t->state == NATTER_TRANSFER_FAILED)
        {
          /* A retry after a failed check starts over: the data on disk did not verify. */
          g_autofree char *checkpoints = checkpoint_path (job);

          g_unlink (checkpoints);
        }
      if (t->state == NATTER_TRANSFER_PAUSED || t->state == NATTER_TRANSFER_FAILED)
        {
          job_set_state (job, NATTER_TRANSFER_ACCEPTED);
          job_start_receive (job);
        }
    }
  else
    {
      g_set_error (&error, NATTER_ERROR, NATTER_ERROR_INVALID_INPUT,
                   "\"%s\" is not valid for this transfer", op);
      goto refused;
    }
  return;

refused:
  g_info ("Refused a file frame from %.8s…: %s", peer_id, error->message);
}

/* ---- GObject ---- */

static void
natter_transfer_manager_dispose (GObject *object)
{
  NatterTransferManager *self = (NatterTransferManager *) object;

  g_clear_pointer (&self->jobs, g_hash_table_unref);
  g_clear_pointer (&self->links, g_hash_table_unref);
  if (self->abandoned != NULL)
    for (guint i = 0; i < self->abandoned->len; i++)
      g_signal_handlers_disconnect_by_data (g_ptr_array_index (self->abandoned, i), self);
  g_clear_pointer (&self->abandoned, g_ptr_array_unref);
  if (self->transfers != NULL)
    g_list_store_remove_all (self->transfers);
  g_clear_object (&self->transfers);

  G_OBJECT_CLASS (natter_transfer_manager_parent_class)->dispose (object);
}

static void
natter_transfer_manager_finalize (GObject *object)
{
  NatterTransferManager *self = (NatterTransferManager *) object;

  g_clear_object (&self->store);
  g_clear_object (&self->hlc);
  g_free (self->local_peer_id);
  g_free (self->state_dir);
  g_free (self->download_dir);
  g_free (self->auto_accept_dir);

  G_OBJECT_CLASS (natter_transfer_manager_parent_class)->finalize (object);
}

static void
natter_transfer_manager_class_init (NatterTransferManagerClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = natter_transfer_manager_dispose;
  object_class->finalize = natter_transfer_manager_finalize;

  /**
   * NatterTransferManager::transfer-added:
   * @transfer: a transfer we just offered, or an offer that just arrived
   */
  signals[TRANSFER_ADDED] = g_signal_new ("transfer-added", G_TYPE_FROM_CLASS (klass),
                                          G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                                          G_TYPE_NONE, 1, NATTER_TYPE_TRANSFER);
}

static void
natter_transfer_manager_init (NatterTransferManager *self)
{
  self->transfers = g_list_store_new (NATTER_TYPE_TRANSFER);
  self->jobs = g_hash_table_new_full (g_str_hash, g_str_equal, NULL, (GDestroyNotify) job_free);
  self->links = g_hash_table_new_full (g_str_hash, g_str_equal, NULL, (GDestroyNotify) link_free);
  self->abandoned = g_ptr_array_new_with_free_func (g_object_unref);
}

static void
load_transfers (NatterTransferManager *self)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) stored = natter_store_list_transfers (self->store, NULL, &error);

  if (stored == NULL)
    {
      g_warning ("Cannot load transfers: %s", error->message);
      return;
    }
  for (guint i = 0; i < stored->len; i++)
    {
      NatterTransfer *t = g_ptr_array_index (stored, i);
      Job *job;

      /* Nothing runs before the next connect. */
      if (t->state == NATTER_TRANSFER_ACTIVE)
        t->state = NATTER_TRANSFER_ACCEPTED;
      job = add_job (self, t);
      /* Who paused is not stored: keep it paused until someone resumes. */
      job->paused_locally = t->state == NATTER_TRANSFER_PAUSED;
      if (t->state == NATTER_TRANSFER_PREPARING && !natter_store_is_read_only (self->store))
        job_start_hash (job);
    }
}

/**
 * natter_transfer_manager_new:
 * @state_dir: where receivers keep their checkpoint files
 *
 * Loads the stored transfers; unfinished ones continue when their peer's
 * session is attached.
 */
NatterTransferManager *
natter_transfer_manager_new (NatterStore *store,
                             NatterHlc   *hlc,
                             const char  *local_peer_id,
                             const char  *state_dir)
{
  NatterTransferManager *self;
  const char *downloads = g_get_user_special_dir (G_USER_DIRECTORY_DOWNLOAD);

  g_return_val_if_fail (NATTER_IS_STORE (store), NULL);
  g_return_val_if_fail (local_peer_id != NULL && state_dir != NULL, NULL);

  self = g_object_new (NATTER_TYPE_TRANSFER_MANAGER, NULL);
  self->store = g_object_ref (store);
  self->hlc = g_object_ref (hlc);
  self->local_peer_id = g_strdup (local_peer_id);
  self->state_dir = g_strdup (state_dir);
  self->download_dir = g_strdup (downloads ? downloads : g_get_home_dir ());
  if (!natter_store_is_read_only (store))
    g_mkdir_with_parents (state_dir, 0700);
  load_transfers (self);
  return self;
}

void
natter_transfer_manager_attach (NatterTransferManager *self,
                                const char            *peer_id,
                                const char            *conversation,
                                NatterPeerSession     *session,
                                NatterChatProtocol    *protocol)
{
  g_autoptr(NatterPeerSession) hooked = NULL;
  g_autoptr(GList) jobs = NULL;
  Link *link;

  g_return_if_fail (NATTER_IS_TRANSFER_MANAGER (self));
  g_return_if_fail (NATTER_IS_PEER_SESSION (session));
  g_return_if_fail (NATTER_IS_CHAT_PROTOCOL (protocol));

  link = g_hash_table_lookup (self->links, peer_id);
  if (link == NULL)
    {
      link = g_new0 (Link, 1);
      link->peer_id = g_strdup (peer_id);
      g_weak_ref_init (&link->session, NULL);
      g_weak_ref_init (&link->protocol, NULL);
      g_hash_table_insert (self->links, link->peer_id, link);
    }
  g_free (link->conversation);
  link->conversation = g_strdup (conversation);
  hooked = g_weak_ref_get (&link->session);
  if (hooked != session)
    {
      g_signal_connect_object (session, "channel-added", G_CALLBACK (channel_added_cb), self, 0);
      g_weak_ref_set (&link->session, session);
    }
  g_weak_ref_set (&link->protocol, protocol);
  g_signal_connect_object (protocol, "file-frame", G_CALLBACK (file_frame_cb), self, 0);

  /* Senders drive resumption: offer again, the receiver answers from its state. */
  jobs = g_hash_table_get_values (self->jobs);
  for (GList *l = jobs; l != NULL; l = l->next)
    {
      Job *job = l->data;
      NatterTransfer *t = job->transfer;

      if (!g_str_equal (t->peer_id, peer_id))
        continue;
      /* A final frame sent just before a connection died may be lost: say
       * it again (they are idempotent). */
      if (t->pending ||
          (job->final_this_run && (natter_transfer_state_is_final (t->state) ||
                                   t->state == NATTER_TRANSFER_FAILED)))
        {
          gboolean was_pending = t->pending;

          t->pending = !send_state (job);
          if (was_pending && !t->pending)
            job_save (job);
          continue;
        }
      if (t->direction != NATTER_TRANSFER_OUTGOING)
        continue;
      switch (t->state)
        {
        case NATTER_TRANSFER_OFFERED:
        case NATTER_TRANSFER_ACCEPTED:
        case NATTER_TRANSFER_ACTIVE:
          send_offer (job);
          if (job->resume_pending)
            send_control (job, "resume", NULL);
          break;
        case NATTER_TRANSFER_PAUSED:
          /* Our own pause stands; theirs they still know (the offer asks). */
          if (job->paused_locally)
            send_state (job);
          else
            send_offer (job);
          break;
        case NATTER_TRANSFER_PREPARING:
        case NATTER_TRANSFER_DONE:
        case NATTER_TRANSFER_FAILED:
        case NATTER_TRANSFER_CANCELLED:
        case NATTER_TRANSFER_DECLINED:
        default:
          break;
        }
    }
}

GListModel *
natter_transfer_manager_get_transfers (NatterTransferManager *self)
{
  g_return_val_if_fail (NATTER_IS_TRANSFER_MANAGER (self), NULL);
  return G_LIST_MODEL (self->transfers);
}

/**
 * natter_transfer_manager_lookup:
 *
 * Returns: (transfer none) (nullable): the transfer with @id
 */
NatterTransfer *
natter_transfer_manager_lookup (NatterTransferManager *self,
                                const char            *id)
{
  Job *job;

  g_return_val_if_fail (NATTER_IS_TRANSFER_MANAGER (self), NULL);

  job = id ? g_hash_table_lookup (self->jobs, id) : NULL;
  return job ? job->transfer : NULL;
}

/**
 * natter_transfer_manager_send_file:
 *
 * Stores a new outgoing transfer of @file and hashes it in a worker thread;
 * the offer goes out once hashed and connected.
 *
 * Returns: (transfer full): the transfer, or %NULL with @error
 */
NatterTransfer *
natter_transfer_manager_send_file (NatterTransferManager  *self,
                                   const char             *peer_id,
                                   const char             *conversation,
                                   GFile                  *file,
                                   GError                **error)
{
  g_autoptr(GFileInfo) info = NULL;
  g_autoptr(NatterTransfer) t = NULL;
  g_autofree char *path = NULL;
  NatterHlcStamp stamp;
  const char *content_type;
  Job *job;

  g_return_val_if_fail (NATTER_IS_TRANSFER_MANAGER (self), NULL);
  g_return_val_if_fail (G_IS_FILE (file), NULL);

  path = g_file_get_path (file);
  if (path == NULL)
    {
      g_set_error_literal (error, NATTER_ERROR, NATTER_ERROR_INVALID_INPUT,
                           "Only local files can be sent");
      return NULL;
    }
  info = g_file_query_info (file,
                            G_FILE_ATTRIBUTE_STANDARD_TYPE ","
                            G_FILE_ATTRIBUTE_STANDARD_SIZE ","
                            G_FILE_ATTRIBUTE_STANDARD_CONTENT_TYPE ","
                            G_FILE_ATTRIBUTE_STANDARD_DISPLAY_NAME,
                            G_FILE_QUERY_INFO_NONE, NULL, error);
  if (info == NULL)
    return NULL;
  if (g_file_info_get_file_type (info) != G_FILE_TYPE_REGULAR)
    {
      g_set_error_literal (error, NATTER_ERROR, NATTER_ERROR_INVALID_INPUT,
                           "Only regular files can be sent");
      return NULL;
    }

  content_type = g_file_info_get_content_type (info);
  t = _natter_transfer_new ();
  t->id = natter_transfer_id_new ();
  t->peer_id = g_strdup (peer_id);
  t->conversation = g_strdup (conversation);
  t->author = g_strdup (self->local_peer_id);
  t->direction = NATTER_TRANSFER_OUTGOING;
  /* Our own names follow the receiver's rules, so it shows what we show. */
  t->file_name = natter_transfer_sanitize_name (g_file_info_get_display_name (info));
  {
    g_autofree char *mime = content_type ? g_content_type_get_mime_type (content_type) : NULL;

    t->mime_type = natter_transfer_sanitize_mime (mime);
  }
  t->size = g_file_info_get_size (info);
  t->chunk = NATTER_TRANSFER_CHUNK_SIZE;
  t->state = NATTER_TRANSFER_PREPARING;
  t->path = g_steal_pointer (&path);
  t->created_at = g_get_real_time () / 1000;
  stamp = natter_hlc_send (self->hlc);
  t->hlc_l = stamp.l;
  t->hlc_c = stamp.c;
  if (!natter_store_save_transfer (self->store, t, error))
    return NULL;

  job = add_job (self, t);
  g_signal_emit (self, signals[TRANSFER_ADDED], 0, t);
  job_start_hash (job);
  return g_steal_pointer (&t);
}

static Job *
lookup_job (NatterTransferManager  *self,
            NatterTransfer         *transfer,
            GError                **error)
{
  Job *job;

  g_return_val_if_fail (NATTER_IS_TRANSFER_MANAGER (self), NULL);
  g_return_val_if_fail (NATTER_IS_TRANSFER (transfer), NULL);

  job = g_hash_table_lookup (self->jobs, transfer->id);
  if (job == NULL || job->transfer != transfer)
    {
      g_set_error_literal (error, NATTER_ERROR, NATTER_ERROR_INVALID_INPUT, "Unknown transfer");
      return NULL;
    }
  return job;
}

static gboolean
refuse_in_state (NatterTransfer  *transfer,
                 const char      *action,
                 GError         **error)
{
  g_set_error (error, NATTER_ERROR, NATTER_ERROR_REFUSED, "Cannot %s a transfer that is %s",
               action, natter_transfer_state_to_string (transfer->state));
  return FALSE;
}

/**
 * natter_transfer_manager_accept:
 * @directory: (nullable): where to save it; the download folder if %NULL
 */
gboolean
natter_transfer_manager_accept (NatterTransferManager  *self,
                                NatterTransfer         *transfer,
                                const char             *directory,
                                GError                **error)
{
  Job *job = lookup_job (self, transfer, error);
  g_autofree char *partial_name = NULL;
  const char *dir;

  if (job == NULL)
    return FALSE;
  if (transfer->direction != NATTER_TRANSFER_INCOMING || transfer->state != NATTER_TRANSFER_OFFERED)
    return refuse_in_state (transfer, "accept", error);
  dir = directory ? directory : self->download_dir;
  if (!enough_space (dir, transfer->size, error))
    return FALSE;

  /* Beside its final place (same file system, so the rename is atomic),
   * and unique per transfer. */
  partial_name = g_strdup_printf ("%.200s.%.8s.part", transfer->file_name, transfer->id);
  g_free (transfer->partial);
  transfer->partial = g_build_filename (dir, partial_name, NULL);
  job_set_state (job, NATTER_TRANSFER_ACCEPTED);
  if (is_connected (self, transfer->peer_id))
    job_start_receive (job);
  return TRUE;
}

gboolean
natter_transfer_manager_decline (NatterTransferManager  *self,
                                 NatterTransfer         *transfer,
                                 GError                **error)
{
  Job *job = lookup_job (self, transfer, error);

  if (job == NULL)
    return FALSE;
  if (transfer->direction != NATTER_TRANSFER_INCOMING || transfer->state != NATTER_TRANSFER_OFFERED)
    return refuse_in_state (transfer, "decline", error);
  job_finish (job, NATTER_TRANSFER_DECLINED, NULL, TRUE);
  return TRUE;
}

gboolean
natter_transfer_manager_pause (NatterTransferManager  *self,
                               NatterTransfer         *transfer,
                               GError                **error)
{
  Job *job = lookup_job (self, transfer, error);

  if (job == NULL)
    return FALSE;
  if (transfer->state != NATTER_TRANSFER_ACCEPTED && transfer->state != NATTER_TRANSFER_ACTIVE)
    return refuse_in_state (transfer, "pause", error);
  job_stop_run (job);
  job->paused_locally = TRUE;
  job->resume_pending = FALSE;
  job_set_state (job, NATTER_TRANSFER_PAUSED);
  /* If the peer cannot hear it now, the next connect tells it. */
  send_state (job);
  return TRUE;
}

/**
 * natter_transfer_manager_resume:
 *
 * Continues a paused transfer, or retries a failed one (a receiver whose
 * data did not verify fetches the file again from the start).
 */
gboolean
natter_transfer_manager_resume (NatterTransferManager  *self,
                                NatterTransfer         *transfer,
                                GError                **error)
{
  Job *job = lookup_job (self, transfer, error);
  gboolean failed;

  if (job == NULL)
    return FALSE;
  if (transfer->state != NATTER_TRANSFER_PAUSED && transfer->state != NATTER_TRANSFER_FAILED)
    return refuse_in_state (transfer, "resume", error);
  failed = transfer->state == NATTER_TRANSFER_FAILED;
  transfer->pending = FALSE;

  if (transfer->direction == NATTER_TRANSFER_INCOMING)
    {
      if (transfer->partial == NULL)
        return refuse_in_state (transfer, "resume", error);
      if (failed)
        {
          g_autofree char *checkpoints = checkpoint_path (job);

          g_unlink (checkpoints);
        }
      job_set_state (job, NATTER_TRANSFER_ACCEPTED);
      /* Our "accept" is what resumes the sender. */
      if (is_connected (self, transfer->peer_id))
        job_start_receive (job);
      return TRUE;
    }

  if (transfer->sha256 == NULL)
    {
      job_set_state (job, NATTER_TRANSFER_PREPARING);
      job_start_hash (job);
      return TRUE;
    }
  job_set_state (job, NATTER_TRANSFER_ACCEPTED);
  /* Until their "accept" arrives, every connect says it again. */
  job->resume_pending = TRUE;
  send_control (job, "resume", NULL);
  return TRUE;
}

gboolean
natter_transfer_manager_cancel (NatterTransferManager  *self,
                                NatterTransfer         *transfer,
                                GError                **error)
{
  Job *job = lookup_job (self, transfer, error);

  if (job == NULL)
    return FALSE;
  if (natter_transfer_state_is_final (transfer->state))
    return refuse_in_state (transfer, "cancel", error);
  job_finish (job, NATTER_TRANSFER_CANCELLED, NULL, TRUE);
  return TRUE;
}

void
natter_transfer_manager_set_download_dir (NatterTransferManager *self,
                                          const char            *directory)
{
  g_return_if_fail (NATTER_IS_TRANSFER_MANAGER (self));
  g_return_if_fail (directory != NULL);

  g_free (self->download_dir);
  self->download_dir = g_strdup (directory);
}

const char *
natter_transfer_manager_get_download_dir (NatterTransferManager *self)
{
  g_return_val_if_fail (NATTER_IS_TRANSFER_MANAGER (self), NULL);
  return self->download_dir;
}

void
natter_transfer_manager_set_auto_accept_dir (NatterTransferManager *self,
                                             const char            *directory)
{
  g_return_if_fail (NATTER_IS_TRANSFER_MANAGER (self));

  g_free (self->auto_accept_dir);
  self->auto_accept_dir = g_strdup (directory);
}

guint64
natter_transfer_manager_get_bytes_sent (NatterTransferManager *self)
{
  g_return_val_if_fail (NATTER_IS_TRANSFER_MANAGER (self), 0);
  return self->bytes_sent;
}

guint64
natter_transfer_manager_get_bytes_received (NatterTransferManager *self)
{
  g_return_val_if_fail (NATTER_IS_TRANSFER_MANAGER (self), 0);
  return self->bytes_received;
}
