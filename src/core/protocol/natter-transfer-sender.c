/* natter-transfer-sender.c: the sending end of a transfer: hashing, data frames, backpressure. */
#define G_LOG_DOMAIN "natter-transfer"

#include "natter-transfer-manager.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "natter-channel.h"
#include "natter-error.h"
#include "natter-peer-session.h"
#include "natter-transfer-io.h"
#include "natter-transfer-manager-private.h"
#include "natter-transfer-private.h"

static void job_pump (Job *job);

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
      _natter_transfer_manager_job_finish (job, NATTER_TRANSFER_FAILED, error->message, FALSE);
      return;
    }
  job->transfer->size = data->size;
  job->transfer->mtime = data->mtime;
  _natter_transfer_set_sha256 (job->transfer, data->sha256);
  _natter_transfer_manager_job_set_state (job, NATTER_TRANSFER_OFFERED);
  _natter_transfer_manager_send_offer (job);
}

void
_natter_transfer_manager_job_start_hash (Job *job)
{
  g_autoptr(GTask) task = NULL;
  HashData *data = g_new0 (HashData, 1);

  data->path = g_strdup (job->transfer->path);
  job->cancellable = g_cancellable_new ();
  task = g_task_new (job->manager, job->cancellable, hash_done_cb, job);
  g_task_set_source_tag (task, _natter_transfer_manager_job_start_hash);
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
              _natter_transfer_manager_job_finish (job, NATTER_TRANSFER_FAILED,
                                                   n == 0
                                                   ? "The file became shorter while it was sent"
                                                   : g_strerror (errno),
                                                   TRUE);
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
      _natter_transfer_manager_job_stop_run (job);
      if (t->state == NATTER_TRANSFER_ACTIVE)
        _natter_transfer_manager_job_set_state (job, NATTER_TRANSFER_ACCEPTED);
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

void
_natter_transfer_manager_attach_channel (Job           *job,
                                         NatterChannel *channel)
{
  _natter_transfer_manager_job_release_channel (job);
  job->channel = g_object_ref (channel);
  job->window = 0;
  g_signal_connect (channel, "notify::state", G_CALLBACK (channel_state_cb), job);
}

void
_natter_transfer_manager_sender_handle_accept (Job     *job,
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
      _natter_transfer_manager_send_state (job);
      return;
    case NATTER_TRANSFER_PREPARING:
    case NATTER_TRANSFER_DONE:
    case NATTER_TRANSFER_DECLINED:
    default:
      return;
    }

  _natter_transfer_manager_job_stop_run (job);
  if (!source_unchanged (job, &error))
    {
      _natter_transfer_manager_job_finish (job, NATTER_TRANSFER_FAILED, error->message, TRUE);
      return;
    }
  session = _natter_transfer_manager_link_get_session (job->manager, t->peer_id);
  label = g_strconcat (LABEL_PREFIX, t->id, NULL);
  if (session == NULL ||
      (channel = natter_peer_session_create_channel (session, label, &error)) == NULL)
    {
      /* The next connect offers again. */
      g_info ("Cannot open the data channel of %.8s: %s", t->id,
              error ? error->message : "not connected");
      _natter_transfer_manager_job_stop_run (job);
      _natter_transfer_manager_job_set_state (job, NATTER_TRANSFER_ACCEPTED);
      return;
    }
  job->sent = offset;
  _natter_transfer_set_bytes_done (t, offset, TRUE);
  _natter_transfer_manager_job_set_state (job, NATTER_TRANSFER_ACTIVE);
  _natter_transfer_manager_attach_channel (job, channel);
  g_signal_connect (channel, "buffered-amount-low", G_CALLBACK (channel_low_cb), job);
  job_pump (job);
}
