/* natter-transfer-private.h: the fields of a NatterTransfer that the store and the manager fill in. */
#pragma once

#include "natter-transfer.h"

G_BEGIN_DECLS

struct _NatterTransfer
{
  GObject                  parent_instance;

  char                    *id;
  char                    *peer_id;
  char                    *conversation;
  char                    *author;        /* the sender's peer id */
  NatterTransferDirection  direction;
  char                    *file_name;
  char                    *mime_type;
  char                    *sha256;        /* NULL while preparing */
  guint64                  size;
  guint                    chunk;         /* payload bytes per data frame */
  NatterTransferState      state;
  guint64                  bytes_done;
  double                   rate;
  char                    *error;
  char                    *path;          /* sender: source; receiver: final file once done */
  char                    *partial;       /* receiver: the partial file, once accepted */
  gint64                   mtime;         /* sender: the source's modification time (µs) when hashed */
  gint64                   created_at;    /* Unix ms */
  gint64                   hlc_l;
  gint64                   hlc_c;
  gboolean                 pending;       /* a final state the peer has not been told yet */

  /* Throttling of "bytes-done"/"rate" notifications. */
  gint64                   notified_us;
  guint64                  notified_bytes;
};

NatterTransfer *_natter_transfer_new              (void);
void            _natter_transfer_set_state        (NatterTransfer      *self,
                                                   NatterTransferState  state);
/* Notifies at most every 100 ms unless @force. */
void            _natter_transfer_set_bytes_done   (NatterTransfer      *self,
                                                   guint64              bytes,
                                                   gboolean             force);
void            _natter_transfer_set_error        (NatterTransfer      *self,
                                                   const char          *error);
void            _natter_transfer_set_path         (NatterTransfer      *self,
                                                   const char          *path);
void            _natter_transfer_set_sha256       (NatterTransfer      *self,
                                                   const char          *sha256);
void            _natter_transfer_emit_verified    (NatterTransfer      *self,
                                                   guint64              offset,
                                                   guint64              found);

G_END_DECLS
