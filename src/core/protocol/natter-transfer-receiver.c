/* natter-transfer-receiver.c: the receiving end: offers, re-verification, the final file. */
#define G_LOG_DOMAIN "natter-transfer"

#include "natter-transfer-manager.h"

#include <errno.h>
#include <glib/gstdio.h>
#include <string.h>
#include <sys/statvfs.h>

#include "natter-channel.h"
#include "natter-hlc.h"
#include "natter-peer-session.h"
#include "natter-store.h"
#include "natter-transfer-io.h"
#include "natter-transfer-manager-private.h"
#include "natter-transfer-private.h"

/* ---- receiver ---- */

static void
receiver_complete (Job *job)
{
  NatterTransfer *t = job->transfer;
  g_autofree char *digest = natter_partial_digest (job->partial);
  g_autofree char *dir = g_path_get_dirname (t->partial);
  g_autofree char *checkpoints = _natter_transfer_manager_checkpoint_path (job);
  g_autofree char *final = NULL;
  g_autoptr(GError) error = NULL;

  g_clear_pointer (&job->partial, natter_partial_free);
  if (!g_str_equal (digest, t->sha256))
    {
      /* Never presented as the file; the partial stays for a retry. */
      _natter_transfer_manager_job_finish (job, NATTER_TRANSFER_FAILED,
                                           "The received data does not match the file's SHA-256",
                                           TRUE);
      return;
    }
  final = natter_transfer_place_file (t->partial, dir, t->file_name, &error);
  if (final == NULL)
    {
      _natter_transfer_manager_job_finish (job, NATTER_TRANSFER_FAILED, error->message, TRUE);
      return;
    }
  g_unlink (checkpoints);
  _natter_transfer_set_path (t, final);
  _natter_transfer_set_bytes_done (t, t->size, TRUE);
  _natter_transfer_manager_job_finish (job, NATTER_TRANSFER_DONE, NULL, TRUE);
}

static void
receiver_fail (Job        *job,
               const char *reason)
{
  _natter_transfer_manager_job_finish (job, NATTER_TRANSFER_FAILED, reason, TRUE);
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
        job->pause_told = _natter_transfer_manager_send_state (job);
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
        _natter_transfer_manager_job_persist_offset (job);
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
  _natter_transfer_manager_job_persist_offset (job);
  _natter_transfer_emit_verified (t, offset, natter_partial_get_found (job->partial));

  if (offset == t->size)
    receiver_complete (job);
  else if (t->state != NATTER_TRANSFER_ACCEPTED ||
           !_natter_transfer_manager_send_accept (job, offset))
    g_clear_pointer (&job->partial, natter_partial_free);
}

/* (Re)starts receiving: re-verify what is on disk, then ask for the rest. */
void
_natter_transfer_manager_job_start_receive (Job *job)
{
  NatterTransfer *t = job->transfer;
  g_autoptr(GTask) task = NULL;
  VerifyData *data;

  if (job->cancellable != NULL)
    return;  /* a verification is running; it asks when done */
  _natter_transfer_manager_job_stop_run (job);
  if (t->state != NATTER_TRANSFER_ACCEPTED)
    _natter_transfer_manager_job_set_state (job, NATTER_TRANSFER_ACCEPTED);

  data = g_new0 (VerifyData, 1);
  data->path = g_strdup (t->partial);
  data->checkpoints = _natter_transfer_manager_checkpoint_path (job);
  data->size = t->size;
  data->chunk = t->chunk;
  job->cancellable = g_cancellable_new ();
  task = g_task_new (job->manager, job->cancellable, verify_done_cb, job);
  g_task_set_source_tag (task, _natter_transfer_manager_job_start_receive);
  g_task_set_task_data (task, data, (GDestroyNotify) verify_data_free);
  g_task_run_in_thread (task, verify_thread);
}

void
_natter_transfer_manager_channel_added_cb (NatterPeerSession     *session,
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
  _natter_transfer_manager_attach_channel (job, channel);
  g_signal_connect (channel, "message", G_CALLBACK (channel_message_cb), job);
  _natter_transfer_manager_job_set_state (job, NATTER_TRANSFER_ACTIVE);
}

gboolean
_natter_transfer_manager_enough_space (const char  *dir,
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

void
_natter_transfer_manager_receiver_handle_offer (NatterTransferManager *self,
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
          _natter_transfer_manager_job_start_receive (job);
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
          known->pending = !_natter_transfer_manager_send_state (job) && known->pending;
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
  job = _natter_transfer_manager_add_job (self, t);
  _natter_transfer_manager_emit_transfer_added (self, t);
  if (self->auto_accept_dir != NULL && t->state == NATTER_TRANSFER_OFFERED &&
      !natter_transfer_manager_accept (self, t, self->auto_accept_dir, &error))
    _natter_transfer_manager_job_finish (job, NATTER_TRANSFER_FAILED, error->message, TRUE);
}
