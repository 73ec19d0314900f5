/* natter-transfer-manager-private.h: what the pieces of NatterTransferManager share. */
#pragma once

#include <gio/gio.h>
#include <json-glib/json-glib.h>

#include "natter-transfer-io.h"
#include "natter-transfer-manager.h"

G_BEGIN_DECLS

#define LABEL_PREFIX "file/"

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


/* natter-transfer-manager.c: links */
NatterChatProtocol *_natter_transfer_manager_link_get_protocol   (NatterTransferManager *self,
                                                                  const char            *peer_id);
/* Returns: (transfer full) (nullable): the session, if connected */
NatterPeerSession  *_natter_transfer_manager_link_get_session    (NatterTransferManager *self,
                                                                  const char            *peer_id);
void                _natter_transfer_manager_emit_transfer_added (NatterTransferManager *self,
                                                                  NatterTransfer        *transfer);

/* natter-transfer-manager.c: jobs */
char *_natter_transfer_manager_checkpoint_path     (Job                   *job);
void  _natter_transfer_manager_job_persist_offset  (Job                   *job);
void  _natter_transfer_manager_job_release_channel (Job                   *job);
/* Ends the current run (not the transfer): no channel, no open files. */
void  _natter_transfer_manager_job_stop_run        (Job                   *job);
void  _natter_transfer_manager_job_set_state       (Job                   *job,
                                                    NatterTransferState    state);
/* Moves to a state the peer must learn of (done, failed, cancelled,
 * declined); if it cannot be told now, it is told on the next connect. */
void  _natter_transfer_manager_job_finish          (Job                   *job,
                                                    NatterTransferState    state,
                                                    const char            *reason,
                                                    gboolean               tell);
Job  *_natter_transfer_manager_add_job             (NatterTransferManager *self,
                                                    NatterTransfer        *transfer);

/* natter-transfer-control.c: control frames and their dispatcher */
gboolean _natter_transfer_manager_send_control  (Job                   *job,
                                                 const char            *op,
                                                 JsonObject            *extra);
gboolean _natter_transfer_manager_send_offer    (Job                   *job);
gboolean _natter_transfer_manager_send_accept   (Job                   *job,
                                                 guint64                offset);
/* The frame that tells the peer about a state it must mirror. */
gboolean _natter_transfer_manager_send_state    (Job                   *job);
/* The chat protocol's "file-frame" handler. */
void     _natter_transfer_manager_file_frame_cb (NatterChatProtocol    *protocol,
                                                 const char            *conversation,
                                                 JsonObject            *object,
                                                 NatterTransferManager *self);

/* natter-transfer-sender.c */
void _natter_transfer_manager_job_start_hash       (Job           *job);
void _natter_transfer_manager_attach_channel       (Job           *job,
                                                    NatterChannel *channel);
void _natter_transfer_manager_sender_handle_accept (Job           *job,
                                                    guint64        offset);

/* natter-transfer-receiver.c */
/* (Re)starts receiving: re-verify what is on disk, then ask for the rest. */
void     _natter_transfer_manager_job_start_receive     (Job                    *job);
/* The peer session's "channel-added" handler. */
void     _natter_transfer_manager_channel_added_cb      (NatterPeerSession      *session,
                                                         NatterChannel          *channel,
                                                         NatterTransferManager  *self);
gboolean _natter_transfer_manager_enough_space          (const char             *dir,
                                                         guint64                 size,
                                                         GError                **error);
void     _natter_transfer_manager_receiver_handle_offer (NatterTransferManager  *self,
                                                         Link                   *link,
                                                         JsonObject             *object);

G_END_DECLS
