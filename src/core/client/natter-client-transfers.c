/* natter-client-transfers.c: file transfers, kept by the client's NatterTransferManager. */
#define G_LOG_DOMAIN "natter-client"

#include "natter-client-private.h"
#include "natter-error.h"
#include "natter-transfer-manager.h"

/* ---- file transfers (issue 7) ---- */

static void
transfer_added_cb (NatterClient   *self,
                   NatterTransfer *transfer)
{
  g_signal_emit (self, _natter_client_signals[TRANSFER_ADDED], 0, transfer);
}

void
_natter_client_transfers_init (NatterClient *self)
{
  g_autofree char *state_dir = g_build_filename (self->profile_dir, "transfers", NULL);

  self->transfers = natter_transfer_manager_new (self->store, self->hlc,
                                                 natter_client_get_peer_id (self), state_dir);
  g_signal_connect_swapped (self->transfers, "transfer-added",
                            G_CALLBACK (transfer_added_cb), self);
}

/**
 * natter_client_get_transfer_manager:
 *
 * Returns: (transfer none): the manager behind the transfer calls below
 */
NatterTransferManager *
natter_client_get_transfer_manager (NatterClient *self)
{
  g_return_val_if_fail (NATTER_IS_CLIENT (self), NULL);
  return self->transfers;
}

/**
 * natter_client_get_transfers:
 *
 * Returns: (transfer none): every file transfer, oldest first; each is also
 *   a 'file' event in its conversation's timeline in the store
 */
GListModel *
natter_client_get_transfers (NatterClient *self)
{
  g_return_val_if_fail (NATTER_IS_CLIENT (self), NULL);
  return natter_transfer_manager_get_transfers (self->transfers);
}

/**
 * natter_client_lookup_transfer:
 *
 * Returns: (transfer none) (nullable): the transfer with @id
 */
NatterTransfer *
natter_client_lookup_transfer (NatterClient *self,
                               const char   *id)
{
  g_return_val_if_fail (NATTER_IS_CLIENT (self), NULL);
  return natter_transfer_manager_lookup (self->transfers, id);
}

/**
 * natter_client_send_file:
 *
 * Offers @file to an accepted contact. The file is hashed in a worker
 * thread (state "preparing"), offered when the contact is connected, and
 * resumed after interruptions, restarts included, until it is done,
 * declined or cancelled.
 *
 * Returns: (transfer full): the transfer, or %NULL with @error
 */
NatterTransfer *
natter_client_send_file (NatterClient  *self,
                         const char    *peer_id,
                         GFile         *file,
                         GError       **error)
{
  g_autofree char *conv = NULL;

  g_return_val_if_fail (NATTER_IS_CLIENT (self), NULL);
  g_return_val_if_fail (peer_id != NULL, NULL);
  g_return_val_if_fail (G_IS_FILE (file), NULL);

  if (!_natter_client_contact_is_accepted (self, peer_id))
    {
      g_set_error_literal (error, NATTER_ERROR, NATTER_ERROR_NOT_CONTACT,
                           "Files can only be sent to accepted contacts");
      return NULL;
    }
  conv = natter_client_conversation_for (self, peer_id);
  return natter_transfer_manager_send_file (self->transfers, peer_id, conv, file, error);
}

/**
 * natter_client_accept_transfer:
 * @directory: (nullable): where to save the file; the download folder if %NULL
 */
gboolean
natter_client_accept_transfer (NatterClient    *self,
                               NatterTransfer  *transfer,
                               GFile           *directory,
                               GError         **error)
{
  g_autofree char *path = NULL;

  g_return_val_if_fail (NATTER_IS_CLIENT (self), FALSE);

  if (directory != NULL && (path = g_file_get_path (directory)) == NULL)
    {
      g_set_error_literal (error, NATTER_ERROR, NATTER_ERROR_INVALID_INPUT,
                           "Files can only be saved to a local folder");
      return FALSE;
    }
  return natter_transfer_manager_accept (self->transfers, transfer, path, error);
}

gboolean
natter_client_decline_transfer (NatterClient    *self,
                                NatterTransfer  *transfer,
                                GError         **error)
{
  g_return_val_if_fail (NATTER_IS_CLIENT (self), FALSE);
  return natter_transfer_manager_decline (self->transfers, transfer, error);
}

gboolean
natter_client_pause_transfer (NatterClient    *self,
                              NatterTransfer  *transfer,
                              GError         **error)
{
  g_return_val_if_fail (NATTER_IS_CLIENT (self), FALSE);
  return natter_transfer_manager_pause (self->transfers, transfer, error);
}

/**
 * natter_client_resume_transfer:
 *
 * Continues a paused transfer or retries a failed one.
 */
gboolean
natter_client_resume_transfer (NatterClient    *self,
                               NatterTransfer  *transfer,
                               GError         **error)
{
  g_return_val_if_fail (NATTER_IS_CLIENT (self), FALSE);
  return natter_transfer_manager_resume (self->transfers, transfer, error);
}

gboolean
natter_client_cancel_transfer (NatterClient    *self,
                               NatterTransfer  *transfer,
                               GError         **error)
{
  g_return_val_if_fail (NATTER_IS_CLIENT (self), FALSE);
  return natter_transfer_manager_cancel (self->transfers, transfer, error);
}

/**
 * natter_client_set_download_dir:
 *
 * Where accepted files go unless the accept names a folder (default: the
 * XDG download folder).
 */
void
natter_client_set_download_dir (NatterClient *self,
                                const char   *directory)
{
  g_return_if_fail (NATTER_IS_CLIENT (self));
  natter_transfer_manager_set_download_dir (self->transfers, directory);
}

/**
 * natter_client_set_auto_accept_files:
 * @directory: (nullable): accept every offer into this folder; %NULL to ask
 *
 * For bots and tests (`natter-cli run --accept-files DIR`).
 */
void
natter_client_set_auto_accept_files (NatterClient *self,
                                     const char   *directory)
{
  g_return_if_fail (NATTER_IS_CLIENT (self));
  natter_transfer_manager_set_auto_accept_dir (self->transfers, directory);
}
