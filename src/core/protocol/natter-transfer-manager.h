/* natter-transfer-manager.h: every file transfer of one account, and the file protocol that runs them. */
#pragma once

#include <gio/gio.h>

#include "natter-types.h"
#include "natter-transfer.h"

G_BEGIN_DECLS

/* Sender backpressure: at most this much queued in all data channels
 * together (and at least MIN_WINDOW per channel), as the raw baseline. */
#define NATTER_TRANSFER_WINDOW      (4 * 1024 * 1024)
#define NATTER_TRANSFER_MIN_WINDOW  (1024 * 1024)
/* The receiver stores its verified offset at least this often. */
#define NATTER_TRANSFER_PERSIST_INTERVAL (16 * 1024 * 1024)

#define NATTER_TYPE_TRANSFER_MANAGER (natter_transfer_manager_get_type ())
G_DECLARE_FINAL_TYPE (NatterTransferManager, natter_transfer_manager, NATTER, TRANSFER_MANAGER, GObject)

/* Signals:
 *   "transfer-added" (NatterTransfer *)  a new offer arrived or we made one
 */
NatterTransferManager *natter_transfer_manager_new             (NatterStore            *store,
                                                                NatterHlc              *hlc,
                                                                const char             *local_peer_id,
                                                                const char             *state_dir);
/* Called by the client each time a chat protocol starts on a connected
 * session: interrupted transfers continue from here. Holds neither. */
void                   natter_transfer_manager_attach          (NatterTransferManager  *self,
                                                                const char             *peer_id,
                                                                const char             *conversation,
                                                                NatterPeerSession      *session,
                                                                NatterChatProtocol     *protocol);
/* Every transfer, oldest first (item type NatterTransfer). */
GListModel            *natter_transfer_manager_get_transfers   (NatterTransferManager  *self);
NatterTransfer        *natter_transfer_manager_lookup          (NatterTransferManager  *self,
                                                                const char             *id);
NatterTransfer        *natter_transfer_manager_send_file       (NatterTransferManager  *self,
                                                                const char             *peer_id,
                                                                const char             *conversation,
                                                                GFile                  *file,
                                                                GError                **error);
gboolean               natter_transfer_manager_accept          (NatterTransferManager  *self,
                                                                NatterTransfer         *transfer,
                                                                const char             *directory,
                                                                GError                **error);
gboolean               natter_transfer_manager_decline         (NatterTransferManager  *self,
                                                                NatterTransfer         *transfer,
                                                                GError                **error);
gboolean               natter_transfer_manager_pause           (NatterTransferManager  *self,
                                                                NatterTransfer         *transfer,
                                                                GError                **error);
gboolean               natter_transfer_manager_resume          (NatterTransferManager  *self,
                                                                NatterTransfer         *transfer,
                                                                GError                **error);
gboolean               natter_transfer_manager_cancel          (NatterTransferManager  *self,
                                                                NatterTransfer         *transfer,
                                                                GError                **error);
void                   natter_transfer_manager_set_download_dir
                                                               (NatterTransferManager  *self,
                                                                const char             *directory);
const char            *natter_transfer_manager_get_download_dir
                                                               (NatterTransferManager  *self);
/* Accept every offer into @directory (bots, tests); %NULL asks the user. */
void                   natter_transfer_manager_set_auto_accept_dir
                                                               (NatterTransferManager  *self,
                                                                const char             *directory);
/* File bytes put on data channels since start, re-sent ones included. */
guint64                natter_transfer_manager_get_bytes_sent  (NatterTransferManager  *self);
/* File bytes received on data channels since start, refused ones included. */
guint64                natter_transfer_manager_get_bytes_received
                                                               (NatterTransferManager  *self);

G_END_DECLS
