/* natter-transfer-io.c: untrusted names and offers, file hashing, verified partial downloads. */
#define G_LOG_DOMAIN "natter-transfer"
#define _GNU_SOURCE

#include "natter-transfer-io.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "natter-error.h"
#include "natter-json.h"

/* Sequential reads for hashing: large enough to amortise the syscalls. */
#define READ_BUFFER_SIZE (1024 * 1024)
/* An extension longer than this is not worth keeping when shortening a name. */
#define MAX_KEPT_EXTENSION 32

/* ---- ids, names ---- */

char *
natter_transfer_id_new (void)
{
  guint8 raw[NATTER_TRANSFER_ID_LENGTH / 2];
  char *id = g_malloc (NATTER_TRANSFER_ID_LENGTH + 1);

  randombytes_buf (raw, sizeof raw);
  for (guint i = 0; i < sizeof raw; i++)
    g_snprintf (id + 2 * i, 3, "%02x", raw[i]);
  return id;
}

static gboolean
is_lower_hex (const char *text,
              gsize       length)
{
  if (text == NULL || strlen (text) != length)
    return FALSE;
  for (gsize i = 0; i < length; i++)
    if (!g_ascii_isxdigit (text[i]) || g_ascii_isupper (text[i]))
      return FALSE;
  return TRUE;
}

gboolean
natter_transfer_id_is_valid (const char *id)
{
  return is_lower_hex (id, NATTER_TRANSFER_ID_LENGTH);
}

gboolean
natter_transfer_sha256_is_valid (const char *hex)
{
  return is_lower_hex (hex, 64);
}

static gboolean
is_unwanted (gunichar ch)
{
  switch (g_unichar_type (ch))
    {
    /* Control characters, and format characters such as U+202E (right-to-left
     * override), which can make "evil[U+202E]txt.exe" read as "evilexe.txt". */
    case G_UNICODE_CONTROL:
    case G_UNICODE_FORMAT:
    case G_UNICODE_LINE_SEPARATOR:
    case G_UNICODE_PARAGRAPH_SEPARATOR:
    case G_UNICODE_UNASSIGNED:
    case G_UNICODE_SURROGATE:
    case G_UNICODE_PRIVATE_USE:
      return TRUE;
    default:
      return FALSE;
    }
}

/* The longest prefix of @text that is at most @max bytes and ends on a character boundary. */
static gsize
utf8_prefix_len (const char *text,
                 gsize       max)
{
  const char *end = text;

  while (*end != '\0')
    {
      const char *next = g_utf8_next_char (end);

      if ((gsize) (next - text) > max)
        break;
      end = next;
    }
  return end - text;
}

/* Shortens "stem.ext" to @max bytes, keeping a short extension whole. */
static char *
fit_name (const char *name,
          const char *suffix,
          gsize       max)
{
  const char *dot = strrchr (name, '.');
  gsize ext_len = 0;
  gsize stem_len;
  gsize room;

  if (dot != NULL && dot != name && strlen (dot) <= MAX_KEPT_EXTENSION)
    ext_len = strlen (dot);
  stem_len = strlen (name) - ext_len;
  room = max > ext_len + strlen (suffix) ? max - ext_len - strlen (suffix) : 0;
  {
    g_autofree char *stem = g_strndup (name, stem_len);
    gsize keep = utf8_prefix_len (stem, room);

    stem[keep] = '\0';
    return g_strconcat (stem, suffix, name + stem_len, NULL);
  }
}

char *
natter_transfer_sanitize_name (const char *name)
{
  g_autofree char *valid = NULL;
  g_autoptr(GString) clean = g_string_new (NULL);
  const char *base;
  const char *p;

  if (name == NULL)
    return g_strdup ("file");
  valid = g_utf8_make_valid (name, -1);

  /* Only the last component: a name never chooses a directory. */
  base = valid;
  for (p = valid; *p != '\0'; p++)
    if (*p == '/' || *p == '\\')
      base = p + 1;

  for (p = base; *p != '\0'; p = g_utf8_next_char (p))
    {
      gunichar ch = g_utf8_get_char (p);

      if (is_unwanted (ch))
        continue;
      /* No leading dots (hidden files, "..") or spaces. */
      if (clean->len == 0 && (ch == '.' || g_unichar_isspace (ch)))
        continue;
      g_string_append_unichar (clean, ch);
    }
  while (clean->len > 0 && g_ascii_isspace (clean->str[clean->len - 1]))
    g_string_truncate (clean, clean->len - 1);
  if (clean->len == 0)
    return g_strdup ("file");
  if (clean->len <= NATTER_TRANSFER_NAME_MAX)
    return g_string_free (g_steal_pointer (&clean), FALSE);
  return fit_name (clean->str, "", NATTER_TRANSFER_NAME_MAX);
}

char *
natter_transfer_sanitize_mime (const char *mime)
{
  const char *slash;

  if (mime == NULL || strlen (mime) > NATTER_TRANSFER_MIME_MAX)
    return g_strdup ("application/octet-stream");
  slash = strchr (mime, '/');
  if (slash == NULL || slash == mime || slash[1] == '\0' || strchr (slash + 1, '/') != NULL)
    return g_strdup ("application/octet-stream");
  for (const char *p = mime; *p != '\0'; p++)
    if (!g_ascii_isgraph (*p))
      return g_strdup ("application/octet-stream");
  return g_ascii_strdown (mime, -1);
}

char *
natter_transfer_numbered_name (const char *name,
                               guint       n)
{
  g_autofree char *suffix = NULL;

  if (n == 0)
    return g_strdup (name);
  suffix = g_strdup_printf (" (%u)", n);
  return fit_name (name, suffix, NATTER_TRANSFER_NAME_MAX);
}

/* ---- offers ---- */

void
natter_transfer_offer_free (NatterTransferOffer *offer)
{
  if (offer == NULL)
    return;
  g_free (offer->id);
  g_free (offer->name);
  g_free (offer->mime);
  g_free (offer->sha256);
  g_free (offer);
}

static gpointer
refuse (GError     **error,
        const char  *what)
{
  g_set_error (error, NATTER_ERROR, NATTER_ERROR_INVALID_INPUT, "bad offer: %s", what);
  return NULL;
}

NatterTransferOffer *
natter_transfer_offer_parse (JsonObject  *frame,
                             GError     **error)
{
  static const char * const members[] = {
    "t", "conv", "op", "id", "name", "size", "mime", "sha256", "chunk", "hlc", NULL
  };
  g_autoptr(NatterTransferOffer) offer = g_new0 (NatterTransferOffer, 1);
  const char *id = NULL, *name = NULL, *mime = NULL, *sha256 = NULL;
  JsonArray *hlc;

  if (!natter_json_check_members (frame, members, error) ||
      !natter_json_get_string (frame, "id", TRUE, NATTER_TRANSFER_ID_LENGTH, &id, error) ||
      !natter_json_get_string (frame, "name", TRUE, NATTER_TRANSFER_NAME_WIRE_MAX, &name, error) ||
      !natter_json_get_int (frame, "size", TRUE, 0, NATTER_TRANSFER_MAX_SIZE, &offer->size, error) ||
      !natter_json_get_string (frame, "mime", TRUE, NATTER_TRANSFER_MIME_MAX, &mime, error) ||
      !natter_json_get_string (frame, "sha256", TRUE, 64, &sha256, error) ||
      !natter_json_get_int (frame, "chunk", TRUE, NATTER_TRANSFER_MIN_CHUNK,
                            NATTER_TRANSFER_CHUNK_SIZE, &offer->chunk, error) ||
      (hlc = natter_json_get_array (frame, "hlc", error)) == NULL)
    return NULL;

  if (!natter_transfer_id_is_valid (id))
    return refuse (error, "id");
  if (!natter_transfer_sha256_is_valid (sha256))
    return refuse (error, "sha256");
  /* Chunk boundaries must be SHA-256 block boundaries for the checkpoints. */
  if (offer->chunk % 64 != 0)
    return refuse (error, "chunk");
  if (json_array_get_length (hlc) != 2 ||
      !natter_json_node_get_int (json_array_get_element (hlc, 0), &offer->hlc_l) ||
      !natter_json_node_get_int (json_array_get_element (hlc, 1), &offer->hlc_c) ||
      offer->hlc_l < 0 || offer->hlc_c < 0 ||
      offer->hlc_l > NATTER_TRANSFER_MAX_SIZE || offer->hlc_c > NATTER_TRANSFER_MAX_SIZE)
    return refuse (error, "hlc");

  offer->id = g_strdup (id);
  offer->name = natter_transfer_sanitize_name (name);
  offer->mime = natter_transfer_sanitize_mime (mime);
  offer->sha256 = g_strdup (sha256);
  return g_steal_pointer (&offer);
}

/* ---- hashing ---- */

static void
set_errno_error (GError     **error,
                 int          saved_errno,
                 const char  *what,
                 const char  *path)
{
  g_autofree char *display = g_filename_display_name (path);

  g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved_errno), "%s %s: %s", what,
               display, g_strerror (saved_errno));
}

static char *
state_to_hex (const crypto_hash_sha256_state *state)
{
  crypto_hash_sha256_state copy = *state;
  guint8 digest[crypto_hash_sha256_BYTES];
  char *hex = g_malloc (2 * sizeof digest + 1);

  crypto_hash_sha256_final (&copy, digest);
  sodium_bin2hex (hex, 2 * sizeof digest + 1, digest, sizeof digest);
  return hex;
}

gboolean
natter_transfer_hash_file (const char    *path,
                           GCancellable  *cancellable,
                           char         **out_sha256,
                           guint64       *out_size,
                           gint64        *out_mtime,
                           GError       **error)
{
  g_autofree guint8 *buffer = g_malloc (READ_BUFFER_SIZE);
  crypto_hash_sha256_state state;
  struct stat before, after;
  guint64 total = 0;
  int fd;

  fd = g_open (path, O_RDONLY | O_CLOEXEC, 0);
  if (fd < 0)
    {
      set_errno_error (error, errno, "Cannot open", path);
      return FALSE;
    }
  if (fstat (fd, &before) != 0 || !S_ISREG (before.st_mode))
    {
      g_set_error (error, NATTER_ERROR, NATTER_ERROR_INVALID_INPUT, "Only regular files can be sent");
      close (fd);
      return FALSE;
    }
  crypto_hash_sha256_init (&state);
  for (;;)
    {
      ssize_t n = read (fd, buffer, READ_BUFFER_SIZE);

      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        {
          set_errno_error (error, errno, "Cannot read", path);
          close (fd);
          return FALSE;
        }
      if (n == 0)
        break;
      crypto_hash_sha256_update (&state, buffer, n);
      total += n;
      if (g_cancellable_set_error_if_cancelled (cancellable, error))
        {
          close (fd);
          return FALSE;
        }
    }
  if (fstat (fd, &after) != 0 || (guint64) after.st_size != total ||
      after.st_mtim.tv_sec != before.st_mtim.tv_sec ||
      after.st_mtim.tv_nsec != before.st_mtim.tv_nsec)
    {
      g_set_error (error, NATTER_ERROR, NATTER_ERROR_FAILED, "The file changed while it was read");
      close (fd);
      return FALSE;
    }
  close (fd);
  if (total > (guint64) NATTER_TRANSFER_MAX_SIZE)
    {
      g_set_error_literal (error, NATTER_ERROR, NATTER_ERROR_TOO_LARGE, "The file is too large");
      return FALSE;
    }
  *out_sha256 = state_to_hex (&state);
  *out_size = total;
  *out_mtime = (gint64) after.st_mtim.tv_sec * G_USEC_PER_SEC + after.st_mtim.tv_nsec / 1000;
  return TRUE;
}

/* ---- partial files ---- */

struct _NatterPartial
{
  int                       fd;
  int                       checkpoint_fd;
  char                     *path;
  guint64                   size;
  guint                     chunk;
  guint64                   offset;
  guint64                   found;
  crypto_hash_sha256_state  state;
};

/* libsodium's state is public: 8 chaining words, a bit count and a block
 * buffer. At a 64-byte boundary the buffer is empty, so the words and the
 * offset are the whole state: that is what a checkpoint stores. */
static void
state_to_checkpoint (const crypto_hash_sha256_state *state,
                     guint8                         *out)
{
  for (guint i = 0; i < 8; i++)
    {
      guint32 word = GUINT32_TO_BE (state->state[i]);

      memcpy (out + 4 * i, &word, 4);
    }
}

static gboolean
write_all (int            fd,
           const guint8  *data,
           gsize          len,
           guint64        offset)
{
  while (len > 0)
    {
      ssize_t n = pwrite (fd, data, len, offset);

      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        return FALSE;
      data += n;
      len -= n;
      offset += n;
    }
  return TRUE;
}

static gssize
read_full (int      fd,
           guint8  *buffer,
           gsize    len,
           guint64  offset)
{
  gsize done = 0;

  while (done < len)
    {
      ssize_t n = pread (fd, buffer + done, len - done, offset + done);

      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        return -1;
      if (n == 0)
        break;
      done += n;
    }
  return done;
}

void
natter_partial_free (NatterPartial *self)
{
  if (self == NULL)
    return;
  if (self->fd >= 0)
    close (self->fd);
  if (self->checkpoint_fd >= 0)
    close (self->checkpoint_fd);
  g_free (self->path);
  g_free (self);
}

/* Re-hashes the partial file chunk by chunk against its checkpoints; the
 * first chunk that does not match (corrupted, torn by a crash, or written
 * without its checkpoint) and everything after it is dropped. */
static gboolean
verify (NatterPartial  *self,
        GCancellable   *cancellable,
        GError        **error)
{
  guint batch = MAX (1u, READ_BUFFER_SIZE / self->chunk);
  g_autofree guint8 *buffer = g_malloc ((gsize) batch * self->chunk);
  g_autofree guint8 *checkpoints = NULL;
  guint64 max_chunks = self->size / self->chunk;
  guint64 n_checkpoints;
  guint64 good = 0;
  struct stat st;

  crypto_hash_sha256_init (&self->state);
  if (fstat (self->checkpoint_fd, &st) != 0)
    return FALSE;
  n_checkpoints = MIN ((guint64) st.st_size / NATTER_TRANSFER_CHECKPOINT_SIZE, max_chunks);
  n_checkpoints = MIN (n_checkpoints, self->found / self->chunk);
  if (n_checkpoints > 0)
    {
      gsize len = n_checkpoints * NATTER_TRANSFER_CHECKPOINT_SIZE;

      checkpoints = g_malloc (len);
      if (read_full (self->checkpoint_fd, checkpoints, len, 0) != (gssize) len)
        n_checkpoints = 0;
    }

  while (good < n_checkpoints)
    {
      guint n = (guint) MIN ((guint64) batch, n_checkpoints - good);
      gssize got = read_full (self->fd, buffer, (gsize) n * self->chunk, good * self->chunk);

      if (got < 0)
        return FALSE;
      n = MIN (n, (guint) (got / self->chunk));
      if (n == 0)
        break;
      for (guint i = 0; i < n; i++)
        {
          crypto_hash_sha256_state next = self->state;
          guint8 expected[NATTER_TRANSFER_CHECKPOINT_SIZE];

          crypto_hash_sha256_update (&next, buffer + (gsize) i * self->chunk, self->chunk);
          state_to_checkpoint (&next, expected);
          if (memcmp (expected, checkpoints + (good + i) * NATTER_TRANSFER_CHECKPOINT_SIZE,
                      NATTER_TRANSFER_CHECKPOINT_SIZE) != 0)
            {
              good += i;
              goto done;
            }
          self->state = next;
        }
      good += n;
      if (g_cancellable_set_error_if_cancelled (cancellable, error))
        return FALSE;
    }

done:
  self->offset = good * self->chunk;
  if (ftruncate (self->fd, self->offset) != 0 ||
      ftruncate (self->checkpoint_fd, good * NATTER_TRANSFER_CHECKPOINT_SIZE) != 0)
    return FALSE;
  return TRUE;
}

NatterPartial *
natter_partial_open (const char    *path,
                     const char    *checkpoint_path,
                     guint64        size,
                     guint          chunk,
                     GCancellable  *cancellable,
                     GError       **error)
{
  g_autoptr(NatterPartial) self = g_new0 (NatterPartial, 1);
  struct stat st;

  g_return_val_if_fail (chunk >= 64 && chunk % 64 == 0, NULL);

  self->checkpoint_fd = -1;
  self->path = g_strdup (path);
  self->size = size;
  self->chunk = chunk;
  self->fd = g_open (path, O_RDWR | O_CREAT | O_CLOEXEC, 0666);
  if (self->fd < 0)
    {
      set_errno_error (error, errno, "Cannot open", path);
      return NULL;
    }
  self->checkpoint_fd = g_open (checkpoint_path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (self->checkpoint_fd < 0)
    {
      set_errno_error (error, errno, "Cannot open", checkpoint_path);
      return NULL;
    }
  if (fstat (self->fd, &st) != 0)
    {
      set_errno_error (error, errno, "Cannot read", path);
      return NULL;
    }
  self->found = st.st_size;
  if (!verify (self, cancellable, error))
    {
      if (error != NULL && *error == NULL)
        set_errno_error (error, errno, "Cannot check", path);
      return NULL;
    }
  return g_steal_pointer (&self);
}

guint64
natter_partial_get_offset (NatterPartial *self)
{
  return self->offset;
}

guint64
natter_partial_get_found (NatterPartial *self)
{
  return self->found;
}

gboolean
natter_partial_write (NatterPartial  *self,
                      guint64         offset,
                      const guint8   *data,
                      gsize           len,
                      GError        **error)
{
  if (offset != self->offset)
    {
      g_set_error (error, NATTER_ERROR, NATTER_ERROR_INVALID_INPUT,
                   "Data out of order (offset %" G_GUINT64_FORMAT ", expected %" G_GUINT64_FORMAT ")",
                   offset, self->offset);
      return FALSE;
    }
  if (len > self->size - offset)
    {
      g_set_error_literal (error, NATTER_ERROR, NATTER_ERROR_TOO_LARGE,
                           "The sender sent more bytes than it announced");
      return FALSE;
    }
  if (len == 0 || len > self->chunk || (len < self->chunk && offset + len != self->size))
    {
      g_set_error_literal (error, NATTER_ERROR, NATTER_ERROR_INVALID_INPUT,
                           "The sender sent a short chunk before the end: fewer bytes than announced");
      return FALSE;
    }
  if (!write_all (self->fd, data, len, offset))
    {
      set_errno_error (error, errno, "Cannot write", self->path);
      return FALSE;
    }
  crypto_hash_sha256_update (&self->state, data, len);
  self->offset += len;
  if (self->offset % self->chunk == 0)
    {
      guint8 checkpoint[NATTER_TRANSFER_CHECKPOINT_SIZE];

      /* After the data: a crash in between only costs this chunk. */
      state_to_checkpoint (&self->state, checkpoint);
      if (!write_all (self->checkpoint_fd, checkpoint, sizeof checkpoint,
                      (self->offset / self->chunk - 1) * NATTER_TRANSFER_CHECKPOINT_SIZE))
        {
          set_errno_error (error, errno, "Cannot write the checkpoint of", self->path);
          return FALSE;
        }
    }
  return TRUE;
}

char *
natter_partial_digest (NatterPartial *self)
{
  return state_to_hex (&self->state);
}

/* ---- placing the finished file ---- */

char *
natter_transfer_place_file (const char  *partial,
                            const char  *dir,
                            const char  *name,
                            GError     **error)
{
  if (g_mkdir_with_parents (dir, 0755) != 0)
    {
      set_errno_error (error, errno, "Cannot create", dir);
      return NULL;
    }
  for (guint n = 0; n < 10000; n++)
    {
      g_autofree char *candidate = natter_transfer_numbered_name (name, n);
      g_autofree char *target = g_build_filename (dir, candidate, NULL);
      int rc = renameat2 (AT_FDCWD, partial, AT_FDCWD, target, RENAME_NOREPLACE);

      /* Some file systems cannot do an exclusive rename: a hard link is exclusive too. */
      if (rc != 0 && (errno == EINVAL || errno == ENOSYS || errno == ENOTSUP))
        {
          rc = link (partial, target);
          if (rc == 0)
            g_unlink (partial);
        }
      if (rc == 0)
        return g_steal_pointer (&target);
      if (errno != EEXIST)
        {
          set_errno_error (error, errno, "Cannot move the download to", target);
          return NULL;
        }
    }
  g_set_error_literal (error, NATTER_ERROR, NATTER_ERROR_FAILED, "No free file name left");
  return NULL;
}
