/* natter-transfer-manager.c: offers, answers and data channels of file transfers (docs/PROTOCOL.md §17).
 *
 * Control frames travel on the chat channel as {"t":"file", …}; the bytes
 * travel on one data channel "file/<id>" per run, opened by the sender when
 * the receiver asks for them with "accept" and an offset. The receiver is
 * the authority on what it holds: after any interruption the sender offers
 * again, the receiver re-verifies its partial file and asks for the rest.
 *
 * This file holds the object, its links to connected peers, the jobs and
 * the public API; the pieces are natter-transfer-control.c (control frames),
 * natter-transfer-sender.c and natter-transfer-receiver.c.
 */
#define G_LOG_DOMAIN "natter-transfer"

#include "natter-transfer-manager.h"

#include <glib/gstdio.h>
#include <unistd.h>

#include "natter-channel.h"
#include "natter-chat-protocol.h"
#include "natter-error.h"
#include "natter-hlc.h"
#include "natter-peer-session.h"
#include "natter-store.h"
#include "natter-transfer-io.h"
#include "natter-transfer-manager-private.h"
#include "natter-transfer-private.h"

enum {
  TRANSFER_ADDED,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

G_DEFINE_FINAL_TYPE (NatterTransferManager, natter_transfer_manager, G_TYPE_OBJECT)

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

NatterChatProtocol *
_natter_transfer_manager_link_get_protocol (NatterTransferManager *self,
                                            const char            *peer_id)
{
  Link *link = g_hash_table_lookup (self->links, peer_id);

  return link ? g_weak_ref_get (&link->protocol) : NULL;
}

/* Returns: (transfer full) (nullable): the session, if connected */
NatterPeerSession *
_natter_transfer_manager_link_get_session (NatterTransferManager *self,
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
  g_autoptr(NatterChatProtocol) protocol =
    _natter_transfer_manager_link_get_protocol (self, peer_id);
  g_autoptr(NatterPeerSession) session = _natter_transfer_manager_link_get_session (self, peer_id);

  return protocol != NULL && session != NULL;
}

/* ---- jobs ---- */

char *
_natter_transfer_manager_checkpoint_path (Job *job)
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

void
_natter_transfer_manager_job_persist_offset (Job *job)
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

void
_natter_transfer_manager_job_release_channel (Job *job)
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
void
_natter_transfer_manager_job_stop_run (Job *job)
{
  if (job->cancellable != NULL)
    {
      g_cancellable_cancel (job->cancellable);
      g_clear_object (&job->cancellable);
    }
  _natter_transfer_manager_job_release_channel (job);
  g_clear_pointer (&job->partial, natter_partial_free);
  if (job->fd >= 0)
    {
      close (job->fd);
      job->fd = -1;
    }
  job->end_sent = FALSE;
  job->pause_told = FALSE;
  if (job->transfer->direction == NATTER_TRANSFER_INCOMING)
    _natter_transfer_manager_job_persist_offset (job);
}

static void
job_free (Job *job)
{
  _natter_transfer_manager_job_stop_run (job);
  g_clear_object (&job->transfer);
  g_free (job);
}

void
_natter_transfer_manager_job_set_state (Job                 *job,
                                        NatterTransferState  state)
{
  _natter_transfer_set_state (job->transfer, state);
  job_save (job);
}

static void
delete_partial (Job *job)
{
  g_autofree char *checkpoints = _natter_transfer_manager_checkpoint_path (job);

  if (job->transfer->direction != NATTER_TRANSFER_INCOMING)
    return;
  g_unlink (checkpoints);
  if (job->transfer->partial != NULL)
    g_unlink (job->transfer->partial);
}

/* Moves to a state the peer must learn of (done, failed, cancelled,
 * declined); if it cannot be told now, it is told on the next connect. */
void
_natter_transfer_manager_job_finish (Job                 *job,
                                     NatterTransferState  state,
                                     const char          *reason,
                                     gboolean             tell)
{
  NatterTransfer *t = job->transfer;

  _natter_transfer_manager_job_stop_run (job);
  g_object_freeze_notify (G_OBJECT (t));
  _natter_transfer_set_state (t, state);
  if (reason != NULL)
    _natter_transfer_set_error (t, reason);
  g_object_thaw_notify (G_OBJECT (t));
  if (state == NATTER_TRANSFER_CANCELLED || state == NATTER_TRANSFER_DECLINED)
    delete_partial (job);
  t->pending = tell && !_natter_transfer_manager_send_state (job);
  job->final_this_run = tell;
  job_save (job);
  if (state == NATTER_TRANSFER_FAILED)
    g_info ("Transfer %.8s failed: %s", t->id, reason);
}

Job *
_natter_transfer_manager_add_job (NatterTransferManager *self,
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

/* The receiver emits it for an offer that arrived. */
void
_natter_transfer_manager_emit_transfer_added (NatterTransferManager *self,
                                              NatterTransfer        *transfer)
{
  g_signal_emit (self, signals[TRANSFER_ADDED], 0, transfer);
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
      job = _natter_transfer_manager_add_job (self, t);
      /* Who paused is not stored: keep it paused until someone resumes. */
      job->paused_locally = t->state == NATTER_TRANSFER_PAUSED;
      if (t->state == NATTER_TRANSFER_PREPARING && !natter_store_is_read_only (self->store))
        _natter_transfer_manager_job_start_hash (job);
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
      g_signal_connect_object (session, "channel-added",
                               G_CALLBACK (_natter_transfer_manager_channel_added_cb), self, 0);
      g_weak_ref_set (&link->session, session);
    }
  g_weak_ref_set (&link->protocol, protocol);
  g_signal_connect_object (protocol, "file-frame",
                           G_CALLBACK (_natter_transfer_manager_file_frame_cb), self, 0);

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

          t->pending = !_natter_transfer_manager_send_state (job);
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
          _natter_transfer_manager_send_offer (job);
          if (job->resume_pending)
            _natter_transfer_manager_send_control (job, "resume", NULL);
          break;
        case NATTER_TRANSFER_PAUSED:
          /* Our own pause stands; theirs they still know (the offer asks). */
          if (job->paused_locally)
            _natter_transfer_manager_send_state (job);
          else
            _natter_transfer_manager_send_offer (job);
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

  job = _natter_transfer_manager_add_job (self, t);
  g_signal_emit (self, signals[TRANSFER_ADDED], 0, t);
  _natter_transfer_manager_job_start_hash (job);
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
  if (!_natter_transfer_manager_enough_space (dir, transfer->size, error))
    return FALSE;

  /* Beside its final place (same file system, so the rename is atomic),
   * and unique per transfer. */
  partial_name = g_strdup_printf ("%.200s.%.8s.part", transfer->file_name, transfer->id);
  g_free (transfer->partial);
  transfer->partial = g_build_filename (dir, partial_name, NULL);
  _natter_transfer_manager_job_set_state (job, NATTER_TRANSFER_ACCEPTED);
  if (is_connected (self, transfer->peer_id))
    _natter_transfer_manager_job_start_receive (job);
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
  _natter_transfer_manager_job_finish (job, NATTER_TRANSFER_DECLINED, NULL, TRUE);
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
  _natter_transfer_manager_job_stop_run (job);
  job->paused_locally = TRUE;
  job->resume_pending = FALSE;
  _natter_transfer_manager_job_set_state (job, NATTER_TRANSFER_PAUSED);
  /* If the peer cannot hear it now, the next connect tells it. */
  _natter_transfer_manager_send_state (job);
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
          g_autofree char *checkpoints = _natter_transfer_manager_checkpoint_path (job);

          g_unlink (checkpoints);
        }
      _natter_transfer_manager_job_set_state (job, NATTER_TRANSFER_ACCEPTED);
      /* Our "accept" is what resumes the sender. */
      if (is_connected (self, transfer->peer_id))
        _natter_transfer_manager_job_start_receive (job);
      return TRUE;
    }

  if (transfer->sha256 == NULL)
    {
      _natter_transfer_manager_job_set_state (job, NATTER_TRANSFER_PREPARING);
      _natter_transfer_manager_job_start_hash (job);
      return TRUE;
    }
  _natter_transfer_manager_job_set_state (job, NATTER_TRANSFER_ACCEPTED);
  /* Until their "accept" arrives, every connect says it again. */
  job->resume_pending = TRUE;
  _natter_transfer_manager_send_control (job, "resume", NULL);
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
  _natter_transfer_manager_job_finish (job, NATTER_TRANSFER_CANCELLED, NULL, TRUE);
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
