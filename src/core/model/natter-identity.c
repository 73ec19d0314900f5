/* natter-identity.c: the local Ed25519 key pair, its file in the profile, peer ids and safety numbers. */
#define G_LOG_DOMAIN "natter-identity"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include <glib/gstdio.h>
#include <sodium.h>

#include "natter-error.h"
#include "natter-identity.h"

/*
 * identity.key (in the profile directory, mode 0600, directory 0700) is a
 * GKeyFile:
 *
 *   [Identity]
 *   version=1
 *   seed=<standard base64 of the 32-byte Ed25519 seed>
 *   peer-id=<the peer id derived from that seed>
 *
 * peer-id is redundant on purpose: it lets a flipped bit in the seed be
 * reported as corruption instead of silently becoming a new identity.
 * The file is never rewritten once it exists; a file we cannot understand is
 * reported (NATTER_ERROR_CORRUPT, naming the path) and left untouched, since
 * it may be the only copy of the user's identity.
 */
#define IDENTITY_FILE_NAME    "identity.key"
#define IDENTITY_GROUP        "Identity"
#define IDENTITY_FILE_VERSION 1
/* A valid file is ~150 bytes; anything much larger is not ours. */
#define IDENTITY_FILE_MAX     4096

/* RFC 4648 base32 alphabet, lowercase (peer ids appear in MQTT topics and
 * are compared byte-wise, so exactly one spelling is accepted). */
static const char base32_alphabet[] = "abcdefghijklmnopqrstuvwxyz234567";

/* Safety number: see natter_safety_number(). */
#define SAFETY_VERSION    0
#define SAFETY_ITERATIONS 5200

struct _NatterIdentity
{
  GObject parent_instance;

  /* Ed25519 secret key (seed || public key) and its X25519 form for unsealing. */
  guint8 secret_key[crypto_sign_SECRETKEYBYTES];
  guint8 public_key[crypto_sign_PUBLICKEYBYTES];
  guint8 x25519_secret[crypto_box_SECRETKEYBYTES];
  guint8 x25519_public[crypto_box_PUBLICKEYBYTES];
  char   peer_id[NATTER_PEER_ID_LENGTH + 1];
};

G_DEFINE_FINAL_TYPE (NatterIdentity, natter_identity, G_TYPE_OBJECT)

G_STATIC_ASSERT (NATTER_PUBLIC_KEY_SIZE == crypto_sign_PUBLICKEYBYTES);
G_STATIC_ASSERT (NATTER_SIGNATURE_SIZE == crypto_sign_BYTES);
G_STATIC_ASSERT (NATTER_SEED_SIZE == crypto_sign_SEEDBYTES);
G_STATIC_ASSERT (NATTER_SEAL_OVERHEAD == crypto_box_SEALBYTES);

static void
ensure_sodium (void)
{
  static gsize initialized = 0;

  /* sodium_init() is itself thread-safe, but calling it once keeps the
   * failure check in one place. */
  if (g_once_init_enter (&initialized))
    {
      if (sodium_init () < 0)
        g_error ("libsodium could not be initialised");
      g_once_init_leave (&initialized, 1);
    }
}

static void
natter_identity_finalize (GObject *object)
{
  NatterIdentity *self = (NatterIdentity *)object;

  sodium_memzero (self->secret_key, sizeof self->secret_key);
  sodium_memzero (self->x25519_secret, sizeof self->x25519_secret);

  G_OBJECT_CLASS (natter_identity_parent_class)->finalize (object);
}

static void
natter_identity_class_init (NatterIdentityClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->finalize = natter_identity_finalize;
}

static void
natter_identity_init (NatterIdentity *self)
{
}

/**
 * natter_identity_new_from_seed:
 * @seed: 32 bytes of Ed25519 seed
 *
 * Builds an identity from a known seed (tests, benchmarks, and the key file).
 *
 * Returns: (transfer full): the identity
 */
NatterIdentity *
natter_identity_new_from_seed (const guint8 seed[32])
{
  g_autoptr(NatterIdentity) self = NULL;
  g_autofree char *peer_id = NULL;

  g_return_val_if_fail (seed != NULL, NULL);

  ensure_sodium ();

  self = g_object_new (NATTER_TYPE_IDENTITY, NULL);
  crypto_sign_seed_keypair (self->public_key, self->secret_key, seed);

  /* Our own key is a proper Ed25519 point, so the conversions cannot fail. */
  if (crypto_sign_ed25519_pk_to_curve25519 (self->x25519_public, self->public_key) != 0 ||
      crypto_sign_ed25519_sk_to_curve25519 (self->x25519_secret, self->secret_key) != 0)
    g_assert_not_reached ();

  peer_id = natter_peer_id_from_public_key (self->public_key);
  memcpy (self->peer_id, peer_id, sizeof self->peer_id);

  return g_steal_pointer (&self);
}

static char *
identity_file_path (const char *profile_dir)
{
  return g_build_filename (profile_dir, IDENTITY_FILE_NAME, NULL);
}

static gboolean
set_corrupt (GError     **error,
             const char  *path,
             const char  *why)
{
  g_set_error (error, NATTER_ERROR, NATTER_ERROR_CORRUPT,
               "The identity file “%s” cannot be used (%s). It was left untouched; "
               "restore it from a backup or move it away to create a new identity.",
               path, why);
  return FALSE;
}

/* Parses an identity file's contents; fills @seed. */
static gboolean
parse_identity_file (const char  *contents,
                     gsize        length,
                     guint8       seed[NATTER_SEED_SIZE],
                     char         peer_id[NATTER_PEER_ID_LENGTH + 1])
{
  g_autoptr(GKeyFile) key_file = g_key_file_new ();
  g_autoptr(GError) local_error = NULL;
  g_autofree char *seed_b64 = NULL;
  g_autofree char *stored_peer_id = NULL;
  g_autofree guint8 *decoded = NULL;
  gsize decoded_len = 0;
  gint64 version;

  if (length > IDENTITY_FILE_MAX || !g_utf8_validate_len (contents, length, NULL))
    return FALSE;
  if (!g_key_file_load_from_data (key_file, contents, length, G_KEY_FILE_NONE, NULL))
    return FALSE;

  version = g_key_file_get_int64 (key_file, IDENTITY_GROUP, "version", &local_error);
  if (local_error != NULL || version != IDENTITY_FILE_VERSION)
    return FALSE;

  seed_b64 = g_key_file_get_string (key_file, IDENTITY_GROUP, "seed", NULL);
  stored_peer_id = g_key_file_get_string (key_file, IDENTITY_GROUP, "peer-id", NULL);
  if (seed_b64 == NULL || stored_peer_id == NULL)
    return FALSE;

  /* g_base64_decode() skips characters outside the alphabet; insist on the
   * exact encoding of 32 bytes so garbage is never taken for a key. */
  if (strlen (seed_b64) != 44 ||
      strspn (seed_b64, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/") != 43 ||
      seed_b64[43] != '=')
    return FALSE;
  decoded = g_base64_decode (seed_b64, &decoded_len);
  if (decoded_len != NATTER_SEED_SIZE)
    {
      if (decoded != NULL)
        sodium_memzero (decoded, decoded_len);
      return FALSE;
    }

  memcpy (seed, decoded, NATTER_SEED_SIZE);
  sodium_memzero (decoded, decoded_len);
  sodium_memzero (seed_b64, strlen (seed_b64));

  if (!natter_peer_id_is_valid (stored_peer_id))
    return FALSE;
  memcpy (peer_id, stored_peer_id, NATTER_PEER_ID_LENGTH + 1);

  return TRUE;
}

/* Reads @path into an identity. On a missing file, reports G_FILE_ERROR_NOENT
 * (so load_or_create can create it); every other problem is CORRUPT. */
static NatterIdentity *
load_identity_file (const char  *path,
                    GError     **error)
{
  g_autoptr(GError) local_error = NULL;
  g_autoptr(NatterIdentity) identity = NULL;
  g_autofree char *contents = NULL;
  gsize length = 0;
  guint8 seed[NATTER_SEED_SIZE];
  char stored_peer_id[NATTER_PEER_ID_LENGTH + 1];
  GStatBuf st;

  if (!g_file_get_contents (path, &contents, &length, &local_error))
    {
      if (g_error_matches (local_error, G_FILE_ERROR, G_FILE_ERROR_NOENT))
        {
          g_propagate_error (error, g_steal_pointer (&local_error));
          return NULL;
        }
      set_corrupt (error, path, local_error->message);
      return NULL;
    }

  if (!parse_identity_file (contents, length, seed, stored_peer_id))
    {
      sodium_memzero (contents, length);
      sodium_memzero (seed, sizeof seed);
      set_corrupt (error, path, "not a valid version 1 identity file");
      return NULL;
    }
  sodium_memzero (contents, length);

  identity = natter_identity_new_from_seed (seed);
  sodium_memzero (seed, sizeof seed);

  if (strcmp (identity->peer_id, stored_peer_id) != 0)
    {
      set_corrupt (error, path, "the key does not match the recorded peer id");
      return NULL;
    }

  /* Usable, but others may have read the key: say so, leave the file be. */
  if (g_stat (path, &st) == 0 && (st.st_mode & 077) != 0)
    g_warning ("The identity file “%s” is accessible by other users (mode %03o); it should be 0600",
               path, (guint)(st.st_mode & 0777));

  return g_steal_pointer (&identity);
}

static gboolean
write_all (int           fd,
           const char   *data,
           gsize         len)
{
  while (len > 0)
    {
      gssize n = write (fd, data, len);

      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        return FALSE;
      data += n;
      len -= n;
    }

  return TRUE;
}

/* Creates @path with @contents (mode 0600) atomically and without ever
 * replacing an existing file: the data goes to a temporary file that is
 * fsync()ed and then hard-linked into place, which fails with EEXIST if
 * another process won the race. */
static gboolean
create_file_exclusive (const char  *dir,
                       const char  *path,
                       const char  *contents,
                       gsize        length,
                       gboolean    *out_exists,
                       GError     **error)
{
  g_autofree char *tmp_path = g_build_filename (dir, ".identity.key.XXXXXX", NULL);
  int saved_errno;
  int fd;
  int dir_fd;

  *out_exists = FALSE;

  fd = g_mkstemp_full (tmp_path, O_WRONLY | O_CLOEXEC, 0600);
  if (fd < 0)
    goto fail;

  if (!write_all (fd, contents, length) || fsync (fd) != 0)
    {
      saved_errno = errno;
      close (fd);
      g_unlink (tmp_path);
      errno = saved_errno;
      goto fail;
    }
  if (close (fd) != 0)
    {
      saved_errno = errno;
      g_unlink (tmp_path);
      errno = saved_errno;
      goto fail;
    }

  if (link (tmp_path, path) != 0)
    {
      saved_errno = errno;
      g_unlink (tmp_path);
      errno = saved_errno;
      if (errno == EEXIST)
        {
          *out_exists = TRUE;
          return TRUE;
        }
      goto fail;
    }
  g_unlink (tmp_path);

  /* Make the new directory entry durable too. */
  dir_fd = open (dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir_fd >= 0)
    {
      fsync (dir_fd);
      close (dir_fd);
    }

  return TRUE;

fail:
  saved_errno = errno;
  g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (saved_errno),
               "Could not create the identity file “%s”: %s",
               path, g_strerror (saved_errno));
  return FALSE;
}

/**
 * natter_identity_load:
 * @profile_dir: the profile directory
 * @error: return location for a #GError
 *
 * Loads the identity stored in @profile_dir; never creates one. A missing
 * file is G_FILE_ERROR_NOENT; an unreadable or malformed one is
 * NATTER_ERROR_CORRUPT with a message naming the file.
 *
 * Returns: (transfer full): the identity, or %NULL
 */
NatterIdentity *
natter_identity_load (const char  *profile_dir,
                      GError     **error)
{
  g_autofree char *path = NULL;

  g_return_val_if_fail (profile_dir != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  ensure_sodium ();

  path = identity_file_path (profile_dir);
  return load_identity_file (path, error);
}

/**
 * natter_identity_load_or_create:
 * @profile_dir: the profile directory (created 0700 when missing)
 * @error: return location for a #GError
 *
 * Loads the identity of @profile_dir, creating a new random one on first run.
 * An existing file is never overwritten, even when it cannot be read.
 *
 * Returns: (transfer full): the identity, or %NULL
 */
NatterIdentity *
natter_identity_load_or_create (const char  *profile_dir,
                                GError     **error)
{
  g_autoptr(GError) local_error = NULL;
  g_autoptr(NatterIdentity) identity = NULL;
  g_autoptr(GKeyFile) key_file = NULL;
  g_autofree char *path = NULL;
  g_autofree char *seed_b64 = NULL;
  g_autofree char *contents = NULL;
  gsize length = 0;
  gboolean exists = FALSE;
  guint8 seed[NATTER_SEED_SIZE];

  g_return_val_if_fail (profile_dir != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  ensure_sodium ();

  path = identity_file_path (profile_dir);
  identity = load_identity_file (path, &local_error);
  if (identity != NULL)
    return g_steal_pointer (&identity);
  if (!g_error_matches (local_error, G_FILE_ERROR, G_FILE_ERROR_NOENT))
    {
      g_propagate_error (error, g_steal_pointer (&local_error));
      return NULL;
    }
  g_clear_error (&local_error);

  if (g_mkdir_with_parents (profile_dir, 0700) != 0)
    {
      int saved_errno = errno;

      g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (saved_errno),
                   "Could not create the profile directory “%s”: %s",
                   profile_dir, g_strerror (saved_errno));
      return NULL;
    }

  randombytes_buf (seed, sizeof seed);
  identity = natter_identity_new_from_seed (seed);

  key_file = g_key_file_new ();
  seed_b64 = g_base64_encode (seed, sizeof seed);
  sodium_memzero (seed, sizeof seed);
  g_key_file_set_int64 (key_file, IDENTITY_GROUP, "version", IDENTITY_FILE_VERSION);
  g_key_file_set_string (key_file, IDENTITY_GROUP, "seed", seed_b64);
  g_key_file_set_string (key_file, IDENTITY_GROUP, "peer-id", identity->peer_id);
  sodium_memzero (seed_b64, strlen (seed_b64));
  contents = g_key_file_to_data (key_file, &length, NULL);

  if (!create_file_exclusive (profile_dir, path, contents, length, &exists, error))
    {
      sodium_memzero (contents, length);
      return NULL;
    }
  sodium_memzero (contents, length);

  /* Another process created it between our read and our link: theirs wins. */
  if (exists)
    return load_identity_file (path, error);

  g_debug ("Created a new identity %.8s… in the profile", identity->peer_id);

  return g_steal_pointer (&identity);
}

/**
 * natter_identity_get_peer_id:
 * @self: a #NatterIdentity
 *
 * Returns: the 52-character peer id (lowercase base32 of the public key)
 */
const char *
natter_identity_get_peer_id (NatterIdentity *self)
{
  g_return_val_if_fail (NATTER_IS_IDENTITY (self), NULL);

  return self->peer_id;
}

/**
 * natter_identity_get_public_key:
 * @self: a #NatterIdentity
 *
 * Returns: the 32-byte Ed25519 public key
 */
const guint8 *
natter_identity_get_public_key (NatterIdentity *self)
{
  g_return_val_if_fail (NATTER_IS_IDENTITY (self), NULL);

  return self->public_key;
}

/**
 * natter_identity_sign:
 * @self: a #NatterIdentity
 * @data: bytes to sign
 * @len: length of @data
 * @sig: (out caller-allocates): 64 bytes for the Ed25519 signature
 */
void
natter_identity_sign (NatterIdentity *self,
                      const guint8   *data,
                      gsize           len,
                      guint8          sig[NATTER_SIGNATURE_SIZE])
{
  g_return_if_fail (NATTER_IS_IDENTITY (self));
  g_return_if_fail (data != NULL || len == 0);
  g_return_if_fail (sig != NULL);

  crypto_sign_detached (sig, NULL, data, len, self->secret_key);
}

/**
 * natter_identity_verify:
 * @public_key: the signer's 32-byte Ed25519 key
 * @data: the signed bytes
 * @len: length of @data
 * @sig: the 64-byte signature
 *
 * Returns: %TRUE if @sig is a valid signature of @data by @public_key
 */
gboolean
natter_identity_verify (const guint8  public_key[NATTER_PUBLIC_KEY_SIZE],
                        const guint8 *data,
                        gsize         len,
                        const guint8  sig[NATTER_SIGNATURE_SIZE])
{
  g_return_val_if_fail (public_key != NULL, FALSE);
  g_return_val_if_fail (data != NULL || len == 0, FALSE);
  g_return_val_if_fail (sig != NULL, FALSE);

  ensure_sodium ();

  return crypto_sign_verify_detached (sig, data, len, public_key) == 0;
}

/**
 * natter_identity_seal:
 * @recipient_public_key: the recipient's Ed25519 key
 * @data: plaintext
 * @len: length of @data
 *
 * Encrypts @data anonymously to the recipient (crypto_box_seal to the X25519
 * form of its Ed25519 key). The result is @len + %NATTER_SEAL_OVERHEAD bytes.
 *
 * Returns: (transfer full) (nullable): the sealed box, or %NULL if
 *   @recipient_public_key is not a usable Ed25519 key
 */
GBytes *
natter_identity_seal (const guint8  recipient_public_key[NATTER_PUBLIC_KEY_SIZE],
                      const guint8 *data,
                      gsize         len)
{
  guint8 x25519_public[crypto_box_PUBLICKEYBYTES];
  guint8 *sealed;

  g_return_val_if_fail (recipient_public_key != NULL, NULL);
  g_return_val_if_fail (data != NULL || len == 0, NULL);
  g_return_val_if_fail (len <= G_MAXSIZE - crypto_box_SEALBYTES, NULL);

  ensure_sodium ();

  /* Fails for small-order or non-canonical points: a peer id can carry any
   * 32 bytes, not all of which are keys. */
  if (crypto_sign_ed25519_pk_to_curve25519 (x25519_public, recipient_public_key) != 0)
    return NULL;

  sealed = g_malloc (len + crypto_box_SEALBYTES);
  if (crypto_box_seal (sealed, data, len, x25519_public) != 0)
    {
      g_free (sealed);
      return NULL;
    }

  return g_bytes_new_take (sealed, len + crypto_box_SEALBYTES);
}

/**
 * natter_identity_unseal:
 * @self: a #NatterIdentity
 * @data: a sealed box
 * @len: length of @data
 * @error: return location for a #GError
 *
 * Opens a box made by natter_identity_seal() for this identity.
 * NATTER_ERROR_REFUSED when it was not sealed to us or was altered.
 *
 * Returns: (transfer full): the plaintext, or %NULL
 */
GBytes *
natter_identity_unseal (NatterIdentity  *self,
                        const guint8    *data,
                        gsize            len,
                        GError         **error)
{
  guint8 *plain;

  g_return_val_if_fail (NATTER_IS_IDENTITY (self), NULL);
  g_return_val_if_fail (data != NULL || len == 0, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (len < crypto_box_SEALBYTES)
    {
      g_set_error_literal (error, NATTER_ERROR, NATTER_ERROR_REFUSED,
                           "Sealed data is too short");
      return NULL;
    }

  /* +1 so an empty plaintext still gets a real allocation. */
  plain = g_malloc (len - crypto_box_SEALBYTES + 1);
  if (crypto_box_seal_open (plain, data, len, self->x25519_public, self->x25519_secret) != 0)
    {
      g_free (plain);
      g_set_error_literal (error, NATTER_ERROR, NATTER_ERROR_REFUSED,
                           "Sealed data is not for this identity or was altered");
      return NULL;
    }

  return g_bytes_new_take (plain, len - crypto_box_SEALBYTES);
}

static int
base32_value (char c)
{
  if (c >= 'a' && c <= 'z')
    return c - 'a';
  if (c >= '2' && c <= '7')
    return c - '2' + 26;
  return -1;
}

/* Decodes exactly one canonical peer id; the single place that does. */
static gboolean
peer_id_decode (const char *peer_id,
                guint8      out[NATTER_PUBLIC_KEY_SIZE])
{
  guint32 buffer = 0;
  guint bits = 0;
  gsize n = 0;

  for (gsize i = 0; i < NATTER_PEER_ID_LENGTH; i++)
    {
      int v = base32_value (peer_id[i]);

      /* Also stops at the terminating NUL of a short string. */
      if (v < 0)
        return FALSE;

      buffer = (buffer << 5) | (guint32)v;
      bits += 5;
      if (bits >= 8)
        {
          bits -= 8;
          out[n++] = (guint8)(buffer >> bits);
          buffer &= (1u << bits) - 1;
        }
    }

  /* 52 * 5 = 260 bits: 4 trailing bits that must be zero, or two spellings
   * would name the same key. */
  if (peer_id[NATTER_PEER_ID_LENGTH] != '\0' || n != NATTER_PUBLIC_KEY_SIZE || buffer != 0)
    return FALSE;

  return TRUE;
}

/**
 * natter_peer_id_is_valid:
 * @peer_id: (nullable): a string
 *
 * Returns: %TRUE if @peer_id is a canonical peer id (52 lowercase base32
 *   characters, no padding, zero trailing bits)
 */
gboolean
natter_peer_id_is_valid (const char *peer_id)
{
  guint8 key[NATTER_PUBLIC_KEY_SIZE];

  if (peer_id == NULL)
    return FALSE;

  return peer_id_decode (peer_id, key);
}

/**
 * natter_peer_id_to_public_key:
 * @peer_id: a peer id
 * @public_key: (out caller-allocates): 32 bytes
 * @error: return location for a #GError
 *
 * Returns: %TRUE on success; NATTER_ERROR_INVALID_INPUT otherwise
 */
gboolean
natter_peer_id_to_public_key (const char  *peer_id,
                              guint8       public_key[NATTER_PUBLIC_KEY_SIZE],
                              GError     **error)
{
  g_return_val_if_fail (peer_id != NULL, FALSE);
  g_return_val_if_fail (public_key != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (!peer_id_decode (peer_id, public_key))
    {
      g_set_error_literal (error, NATTER_ERROR, NATTER_ERROR_INVALID_INPUT,
                           "Not a valid peer id");
      return FALSE;
    }

  return TRUE;
}

/**
 * natter_peer_id_from_public_key:
 * @public_key: 32 bytes
 *
 * Returns: (transfer full): the 52-character peer id
 */
char *
natter_peer_id_from_public_key (const guint8 public_key[NATTER_PUBLIC_KEY_SIZE])
{
  char *out;
  guint32 buffer = 0;
  guint bits = 0;
  gsize n = 0;

  g_return_val_if_fail (public_key != NULL, NULL);

  out = g_malloc (NATTER_PEER_ID_LENGTH + 1);
  for (gsize i = 0; i < NATTER_PUBLIC_KEY_SIZE; i++)
    {
      buffer = (buffer << 8) | public_key[i];
      bits += 8;
      while (bits >= 5)
        {
          bits -= 5;
          out[n++] = base32_alphabet[(buffer >> bits) & 0x1f];
        }
      buffer &= (1u << bits) - 1;
    }
  if (bits > 0)
    out[n++] = base32_alphabet[(buffer << (5 - bits)) & 0x1f];
  g_assert (n == NATTER_PEER_ID_LENGTH);
  out[n] = '\0';

  return out;
}

/**
 * natter_peer_id_short:
 * @peer_id: a peer id
 *
 * A display form of the first 8 characters, "abcd efgh": enough to tell
 * peers apart in a log or a list, too short to identify a key. Returns
 * "(invalid)" for anything that is not a peer id, so untrusted input can be
 * passed to a log safely.
 *
 * Returns: (transfer full): the short form
 */
char *
natter_peer_id_short (const char *peer_id)
{
  g_return_val_if_fail (peer_id != NULL, NULL);

  if (!natter_peer_id_is_valid (peer_id))
    return g_strdup ("(invalid)");

  return g_strdup_printf ("%.4s %.4s", peer_id, peer_id + 4);
}

/* 30 digits for one key: SHA-512 over (u16 big-endian version || key), then
 * 5200 more rounds of SHA-512 over (previous digest || key); the first 30
 * bytes of the last digest as six 40-bit big-endian integers, each mod 100000,
 * zero-padded to 5 digits. The iteration count follows Signal's numeric
 * fingerprints: it makes searching for a key with a chosen half costly. */
static void
safety_half (const guint8 key[NATTER_PUBLIC_KEY_SIZE],
             char         out[31])
{
  guint8 digest[crypto_hash_sha512_BYTES];
  crypto_hash_sha512_state state;
  const guint8 version[2] = { (SAFETY_VERSION >> 8) & 0xff, SAFETY_VERSION & 0xff };

  crypto_hash_sha512_init (&state);
  crypto_hash_sha512_update (&state, version, sizeof version);
  crypto_hash_sha512_update (&state, key, NATTER_PUBLIC_KEY_SIZE);
  crypto_hash_sha512_final (&state, digest);

  for (guint i = 0; i < SAFETY_ITERATIONS; i++)
    {
      crypto_hash_sha512_init (&state);
      crypto_hash_sha512_update (&state, digest, sizeof digest);
      crypto_hash_sha512_update (&state, key, NATTER_PUBLIC_KEY_SIZE);
      crypto_hash_sha512_final (&state, digest);
    }

  for (guint chunk = 0; chunk < 6; chunk++)
    {
      guint64 v = 0;

      for (guint j = 0; j < 5; j++)
        v = (v << 8) | digest[chunk * 5 + j];
      g_snprintf (out + chunk * 5, 6, "%05u", (guint)(v % 100000));
    }
}

/**
 * natter_safety_number:
 * @key_a: one public key
 * @key_b: the other public key
 *
 * The number two users compare to check they see each other's real keys:
 * 30 digits per key (see safety_half()), the numerically lower half first,
 * so both sides compute the same 60 digits whatever the argument order.
 *
 * Returns: (transfer full): 60 decimal digits
 */
char *
natter_safety_number (const guint8 key_a[NATTER_PUBLIC_KEY_SIZE],
                      const guint8 key_b[NATTER_PUBLIC_KEY_SIZE])
{
  char half_a[31];
  char half_b[31];

  g_return_val_if_fail (key_a != NULL, NULL);
  g_return_val_if_fail (key_b != NULL, NULL);

  ensure_sodium ();

  safety_half (key_a, half_a);
  safety_half (key_b, half_b);

  if (strcmp (half_a, half_b) <= 0)
    return g_strconcat (half_a, half_b, NULL);
  else
    return g_strconcat (half_b, half_a, NULL);
}

/**
 * natter_safety_number_format:
 * @digits: a safety number from natter_safety_number()
 *
 * Returns: (transfer full): the digits in groups of five separated by
 *   spaces ("12345 67890 …", 12 groups for a safety number)
 */
char *
natter_safety_number_format (const char *digits)
{
  GString *out;
  gsize len;

  g_return_val_if_fail (digits != NULL, NULL);

  len = strlen (digits);
  out = g_string_sized_new (len + len / 5 + 1);
  for (gsize i = 0; i < len; i++)
    {
      if (i > 0 && i % 5 == 0)
        g_string_append_c (out, ' ');
      g_string_append_c (out, digits[i]);
    }

  return g_string_free (out, FALSE);
}
