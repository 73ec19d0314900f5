/* natter-transfer-io.h: the file side of transfers: names, offers, hashing, verified partial files. */
#pragma once

#include <gio/gio.h>
#include <json-glib/json-glib.h>

G_BEGIN_DECLS

/* Payload bytes per data frame: 9 header bytes + this ≤ NATTER_MAX_FRAME_SIZE,
 * and a multiple of 64 so every chunk boundary is a SHA-256 block boundary. */
#define NATTER_TRANSFER_CHUNK_SIZE   65472
#define NATTER_TRANSFER_MIN_CHUNK    1024
#define NATTER_TRANSFER_HEADER_SIZE  9
#define NATTER_TRANSFER_KIND_DATA    'D'
#define NATTER_TRANSFER_KIND_END     'E'
#define NATTER_TRANSFER_ID_LENGTH    32
#define NATTER_TRANSFER_NAME_MAX     255     /* bytes, as most file systems allow */
#define NATTER_TRANSFER_NAME_WIRE_MAX 32768  /* bytes of "name" read from an offer */
#define NATTER_TRANSFER_MIME_MAX     255
#define NATTER_TRANSFER_REASON_MAX   256
#define NATTER_TRANSFER_MAX_SIZE     (G_GINT64_CONSTANT (1) << 53)
/* One checkpoint per chunk: the SHA-256 chaining state after it, 8 × u32 big-endian. */
#define NATTER_TRANSFER_CHECKPOINT_SIZE 32

char      *natter_transfer_id_new            (void);
gboolean   natter_transfer_id_is_valid       (const char  *id);
gboolean   natter_transfer_sha256_is_valid   (const char  *hex);
/* Never NULL: the last path component, without control or format
 * characters, leading dots or spaces, at most NATTER_TRANSFER_NAME_MAX
 * bytes (the extension kept), "file" if nothing is left. */
char      *natter_transfer_sanitize_name     (const char  *name);
/* "type/subtype" in printable ASCII, else "application/octet-stream". */
char      *natter_transfer_sanitize_mime     (const char  *mime);
/* "name (n).ext" for n > 0, still at most NATTER_TRANSFER_NAME_MAX bytes. */
char      *natter_transfer_numbered_name     (const char  *name,
                                              guint        n);

typedef struct
{
  char   *id;
  char   *name;      /* sanitised */
  char   *mime;      /* sanitised */
  char   *sha256;
  gint64  size;
  gint64  chunk;
  gint64  hlc_l;
  gint64  hlc_c;
} NatterTransferOffer;

/* Checks a received "offer" file frame member by member (docs/PROTOCOL.md §17). */
NatterTransferOffer *natter_transfer_offer_parse (JsonObject          *frame,
                                                  GError             **error);
void                 natter_transfer_offer_free  (NatterTransferOffer *offer);

/* Blocking (call from a worker thread): SHA-256 of a regular file. */
gboolean   natter_transfer_hash_file         (const char    *path,
                                              GCancellable  *cancellable,
                                              char         **out_sha256,
                                              guint64       *out_size,
                                              gint64        *out_mtime,
                                              GError       **error);

/* A partial download and its checkpoint file. Opening re-reads the partial
 * file and keeps only the chunks whose chained SHA-256 state matches their
 * checkpoint, so the result is the verified offset and the hash state there
 * (blocking: call from a worker thread; afterwards use it from one thread). */
typedef struct _NatterPartial NatterPartial;

NatterPartial *natter_partial_open           (const char    *path,
                                              const char    *checkpoint_path,
                                              guint64        size,
                                              guint          chunk,
                                              GCancellable  *cancellable,
                                              GError       **error);
guint64        natter_partial_get_offset     (NatterPartial *self);
/* Bytes the partial file held before verification. */
guint64        natter_partial_get_found      (NatterPartial *self);
/* Appends @len bytes at @offset, which must be the current offset; a chunk
 * shorter than the chunk size only ends the file; never past the size. */
gboolean       natter_partial_write          (NatterPartial *self,
                                              guint64        offset,
                                              const guint8  *data,
                                              gsize          len,
                                              GError       **error);
/* Lowercase hex SHA-256 of the bytes written so far (from 0). */
char          *natter_partial_digest         (NatterPartial *self);
void           natter_partial_free           (NatterPartial *self);

/* Moves @partial into @dir as @name, or "name (n).ext" if taken; never
 * replaces an existing file. Returns the final path. */
char          *natter_transfer_place_file    (const char    *partial,
                                              const char    *dir,
                                              const char    *name,
                                              GError       **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (NatterTransferOffer, natter_transfer_offer_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (NatterPartial, natter_partial_free)

G_END_DECLS
