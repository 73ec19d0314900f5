/* natter-transfer.h: one file transfer to or from a contact, as a UI row shows it. */
#pragma once

#include <glib-object.h>

#include "natter-types.h"

G_BEGIN_DECLS

typedef enum
{
  NATTER_TRANSFER_OUTGOING,
  NATTER_TRANSFER_INCOMING,
} NatterTransferDirection;

typedef enum
{
  NATTER_TRANSFER_PREPARING,   /* sender: hashing the file before offering it */
  NATTER_TRANSFER_OFFERED,     /* waiting for the receiver to accept or decline */
  NATTER_TRANSFER_ACCEPTED,    /* accepted; waiting for a connection or checking the partial file */
  NATTER_TRANSFER_ACTIVE,      /* bytes are flowing */
  NATTER_TRANSFER_PAUSED,      /* paused by either side */
  NATTER_TRANSFER_DONE,        /* verified and in place (final) */
  NATTER_TRANSFER_FAILED,      /* see the error property; resume retries */
  NATTER_TRANSFER_CANCELLED,   /* by either side (final) */
  NATTER_TRANSFER_DECLINED,    /* by the receiver (final) */
} NatterTransferState;

#define NATTER_TYPE_TRANSFER_DIRECTION (natter_transfer_direction_get_type ())
GType natter_transfer_direction_get_type (void) G_GNUC_CONST;
#define NATTER_TYPE_TRANSFER_STATE (natter_transfer_state_get_type ())
GType natter_transfer_state_get_type (void) G_GNUC_CONST;

#define NATTER_TYPE_TRANSFER (natter_transfer_get_type ())
G_DECLARE_FINAL_TYPE (NatterTransfer, natter_transfer, NATTER, TRANSFER, GObject)

/* Objects are made by the client's NatterTransferManager; every property is
 * read-only and notifies on change ("bytes-done" and "rate" at most about
 * ten times a second). Act on a transfer through natter_client_*_transfer().
 *
 * Signals:
 *   "verified" (gint64 offset, gint64 found)  receiver: the partial file was
 *       checked before asking for more; @found bytes were on disk and the
 *       first @offset of them verified, so the rest is fetched again.
 */
const char              *natter_transfer_get_id           (NatterTransfer *self);
const char              *natter_transfer_get_peer_id      (NatterTransfer *self);
const char              *natter_transfer_get_conversation (NatterTransfer *self);
NatterTransferDirection  natter_transfer_get_direction    (NatterTransfer *self);
/* For incoming transfers, already sanitised (no directories, no control
 * characters, no leading dot, at most 255 bytes). */
const char              *natter_transfer_get_file_name    (NatterTransfer *self);
guint64                  natter_transfer_get_size         (NatterTransfer *self);
const char              *natter_transfer_get_mime_type    (NatterTransfer *self);
/* Lowercase hex SHA-256 of the whole file; NULL while preparing. */
const char              *natter_transfer_get_sha256       (NatterTransfer *self);
NatterTransferState      natter_transfer_get_state        (NatterTransfer *self);
/* Receiver: bytes verified on disk; sender: bytes handed to the channel. */
guint64                  natter_transfer_get_bytes_done   (NatterTransfer *self);
/* Bytes per second, smoothed; 0 unless active. */
double                   natter_transfer_get_rate         (NatterTransfer *self);
/* Seconds left at the current rate, or -1 when unknown. */
gint64                   natter_transfer_get_time_left    (NatterTransfer *self);
/* Why it failed (or was refused), for people; NULL otherwise. */
const char              *natter_transfer_get_error        (NatterTransfer *self);
/* Sender: the file sent; receiver: where it was saved once done (else NULL). */
const char              *natter_transfer_get_path         (NatterTransfer *self);
/* Unix ms when the transfer was offered. */
gint64                   natter_transfer_get_created_at   (NatterTransfer *self);
gboolean                 natter_transfer_state_is_final   (NatterTransferState state);
const char              *natter_transfer_state_to_string  (NatterTransferState state);

G_END_DECLS
