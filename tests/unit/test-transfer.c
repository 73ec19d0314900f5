/* test-transfer.c: name sanitising, offer validation, and the verified-offset logic of partial files. */
#define G_LOG_DOMAIN "natter-test-transfer"

#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include <glib/gstdio.h>
#include <sodium.h>

#include "natter-error.h"
#include "natter-json.h"
#include "natter-test-broker.h"
#include "natter-transfer-io.h"

#define CHUNK 1024

/* ---- names ---- */

static void
test_sanitize (void)
{
  static const struct { const char *in; const char *out; } cases[] = {
    { "report.pdf", "report.pdf" },
    { "../../etc/passwd", "passwd" },
    { "/absolute/path/x.txt", "x.txt" },
    { "C:\\Users\\me\\evil.exe", "evil.exe" },
    { "..", "file" },
    { ".bashrc", "bashrc" },
    { "...hidden", "hidden" },
    { "  spaced name.txt  ", "spaced name.txt" },
    { "tab\there\n.txt", "tabhere.txt" },
    { "evil\xe2\x80\xaetxt.exe", "eviltxt.exe" },       /* U+202E right-to-left override */
    { "zero\xe2\x80\x8bwidth", "zerowidth" },            /* U+200B */
    { "caf\xc3\xa9.txt", "caf\xc3\xa9.txt" },
    { "bad\xff\xfeutf8", "bad\xef\xbf\xbd\xef\xbf\xbdutf8" },
    { "", "file" },
    { "/", "file" },
    { "dir/", "file" },
    { "\x01\x02\x03", "file" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *out = natter_transfer_sanitize_name (cases[i].in);

      g_assert_cmpstr (out, ==, cases[i].out);
    }
}

static void
test_sanitize_long (void)
{
  g_autoptr(GString) name = g_string_new (NULL);
  g_autofree char *out = NULL;
  g_autofree char *noext = NULL;

  for (guint i = 0; i < 10000; i++)
    g_string_append (name, "\xc3\xa9");  /* é: two bytes, never cut in half */
  g_string_append (name, ".tar");
  out = natter_transfer_sanitize_name (name->str);
  g_assert_cmpuint (strlen (out), <=, NATTER_TRANSFER_NAME_MAX);
  g_assert_cmpuint (strlen (out), >=, NATTER_TRANSFER_NAME_MAX - 1);
  g_assert_true (g_utf8_validate (out, -1, NULL));
  g_assert_true (g_str_has_suffix (out, "\xc3\xa9.tar"));

  /* An "extension" too long to be one is cut like the rest. */
  g_string_truncate (name, 0);
  g_string_append_c (name, 'x');
  g_string_append_c (name, '.');
  for (guint i = 0; i < 400; i++)
    g_string_append_c (name, 'y');
  noext = natter_transfer_sanitize_name (name->str);
  g_assert_cmpuint (strlen (noext), ==, NATTER_TRANSFER_NAME_MAX);
  g_assert_true (g_str_has_prefix (noext, "x.yyy"));
}

static void
test_numbered (void)
{
  g_autofree char *a = natter_transfer_numbered_name ("photo.jpg", 0);
  g_autofree char *b = natter_transfer_numbered_name ("photo.jpg", 1);
  g_autofree char *c = natter_transfer_numbered_name ("README", 12);
  g_autofree char *d = natter_transfer_numbered_name ("archive.tar.gz", 2);
  g_autofree char *full = g_strnfill (NATTER_TRANSFER_NAME_MAX - 4, 'n');
  g_autofree char *full_ext = g_strconcat (full, ".txt", NULL);
  g_autofree char *e = natter_transfer_numbered_name (full_ext, 9999);

  g_assert_cmpstr (a, ==, "photo.jpg");
  g_assert_cmpstr (b, ==, "photo (1).jpg");
  g_assert_cmpstr (c, ==, "README (12)");
  g_assert_cmpstr (d, ==, "archive.tar (2).gz");
  g_assert_cmpuint (strlen (e), ==, NATTER_TRANSFER_NAME_MAX);
  g_assert_true (g_str_has_suffix (e, " (9999).txt"));
}

static void
test_mime_and_ids (void)
{
  g_autofree char *id = natter_transfer_id_new ();
  g_autofree char *m1 = natter_transfer_sanitize_mime ("Image/PNG");
  g_autofree char *m2 = natter_transfer_sanitize_mime ("text/plain; charset=utf-8");
  g_autofree char *m3 = natter_transfer_sanitize_mime ("nonsense");
  g_autofree char *m4 = natter_transfer_sanitize_mime ("a/b/c");

  g_assert_true (natter_transfer_id_is_valid (id));
  g_assert_false (natter_transfer_id_is_valid ("0123456789ABCDEF0123456789ABCDEF"));
  g_assert_false (natter_transfer_id_is_valid ("0123"));
  g_assert_false (natter_transfer_id_is_valid (NULL));
  g_assert_cmpstr (m1, ==, "image/png");
  g_assert_cmpstr (m2, ==, "application/octet-stream");   /* spaces */
  g_assert_cmpstr (m3, ==, "application/octet-stream");
  g_assert_cmpstr (m4, ==, "application/octet-stream");
}

/* ---- offers ---- */

static const char *good_offer =
  "{\"t\":\"file\",\"conv\":\"d0123\",\"op\":\"offer\","
  "\"id\":\"00112233445566778899aabbccddeeff\",\"name\":\"../x.txt\",\"size\":100,"
  "\"mime\":\"text/plain\","
  "\"sha256\":\"2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824\","
  "\"chunk\":65472,\"hlc\":[1700000000000,3]}";

static JsonObject *
parse (const char *text)
{
  g_autoptr(GError) error = NULL;
  JsonObject *object = natter_json_parse_object (text, strlen (text), 65536,
                                                 NATTER_JSON_MAX_DEPTH, &error);

  g_assert_no_error (error);
  return object;
}

static void
test_offer_good (void)
{
  g_autoptr(JsonObject) object = parse (good_offer);
  g_autoptr(GError) error = NULL;
  g_autoptr(NatterTransferOffer) offer = natter_transfer_offer_parse (object, &error);

  g_assert_no_error (error);
  g_assert_nonnull (offer);
  g_assert_cmpstr (offer->name, ==, "x.txt");
  g_assert_cmpint (offer->size, ==, 100);
  g_assert_cmpint (offer->chunk, ==, 65472);
  g_assert_cmpint (offer->hlc_l, ==, 1700000000000);
  g_assert_cmpint (offer->hlc_c, ==, 3);
}

static void
test_offer_bad (void)
{
  /* Each replaces one member of the good offer. */
  static const struct { const char *from; const char *to; } edits[] = {
    { "\"size\":100", "\"size\":-1" },
    { "\"size\":100", "\"size\":9007199254740993" },
    { "\"size\":100", "\"size\":1.5" },
    { "\"size\":100", "\"size\":\"100\"" },
    { "\"chunk\":65472", "\"chunk\":65536" },       /* frame would exceed 64 KiB */
    { "\"chunk\":65472", "\"chunk\":1000" },        /* not a multiple of 64 */
    { "\"chunk\":65472", "\"chunk\":64" },          /* too small */
    { "\"id\":\"00112233445566778899aabbccddeeff\"", "\"id\":\"../../x\"" },
    { "\"id\":\"00112233445566778899aabbccddeeff\"", "\"id\":\"00112233445566778899AABBCCDDEEFF\"" },
    { "\"sha256\":\"2cf2", "\"sha256\":\"XXf2" },
    { "\"hlc\":[1700000000000,3]", "\"hlc\":[1]" },
    { "\"hlc\":[1700000000000,3]", "\"hlc\":[-1,0]" },
    { "\"hlc\":[1700000000000,3]", "\"hlc\":{}" },
    { "\"name\":\"../x.txt\"", "\"name\":7" },
    { "\"mime\":\"text/plain\",", "" },
    { "\"op\":\"offer\",", "\"op\":\"offer\",\"extra\":1," },
  };

  for (guint i = 0; i < G_N_ELEMENTS (edits); i++)
    {
      g_autoptr(GString) text = g_string_new (good_offer);
      g_autoptr(JsonObject) object = NULL;
      g_autoptr(GError) error = NULL;
      g_autoptr(NatterTransferOffer) offer = NULL;

      g_assert_cmpint (g_string_replace (text, edits[i].from, edits[i].to, 1), ==, 1);
      object = natter_json_parse_object (text->str, text->len, 65536, NATTER_JSON_MAX_DEPTH,
                                         &error);
      if (object == NULL)
        continue;  /* refused even earlier, by the strict JSON parser */
      offer = natter_transfer_offer_parse (object, &error);
      if (offer != NULL)
        g_test_message ("accepted: %s", text->str);
      g_assert_null (offer);
      g_assert_error (error, NATTER_ERROR, NATTER_ERROR_INVALID_INPUT);
    }
}

/* ---- partial files: the verified offset ---- */

typedef struct
{
  char    *dir;
  char    *path;
  char    *checkpoints;
  guint8  *data;
  gsize    size;
} Partial;

static void
partial_setup (Partial       *p,
               gconstpointer  user_data)
{
  p->dir = natter_test_mkdtemp ("natter-partial-XXXXXX");
  p->path = g_build_filename (p->dir, "x.part", NULL);
  p->checkpoints = g_build_filename (p->dir, "x.checkpoints", NULL);
  p->size = 10 * CHUNK + 300;
  p->data = g_malloc (p->size);
  randombytes_buf (p->data, p->size);
}

static void
partial_teardown (Partial       *p,
                  gconstpointer  user_data)
{
  natter_test_rmtree (p->dir);
  g_free (p->dir);
  g_free (p->path);
  g_free (p->checkpoints);
  g_free (p->data);
}

static NatterPartial *
open_partial (Partial *p)
{
  g_autoptr(GError) error = NULL;
  NatterPartial *partial = natter_partial_open (p->path, p->checkpoints, p->size, CHUNK, NULL,
                                                &error);

  g_assert_no_error (error);
  g_assert_nonnull (partial);
  return partial;
}

/* Writes chunks from the partial's offset up to @upto (a chunk boundary or the end). */
static void
write_upto (Partial       *p,
            NatterPartial *partial,
            gsize          upto)
{
  while (natter_partial_get_offset (partial) < upto)
    {
      guint64 offset = natter_partial_get_offset (partial);
      gsize len = MIN ((gsize) CHUNK, p->size - offset);
      g_autoptr(GError) error = NULL;

      g_assert_true (natter_partial_write (partial, offset, p->data + offset, len, &error));
      g_assert_no_error (error);
    }
}

static char *
expected_digest (Partial *p)
{
  guint8 digest[32];
  char hex[65];

  crypto_hash_sha256 (digest, p->data, p->size);
  sodium_bin2hex (hex, sizeof hex, digest, sizeof digest);
  return g_strdup (hex);
}

static guint64
size_of (const char *path)
{
  GStatBuf st;

  g_assert_cmpint (g_stat (path, &st), ==, 0);
  return st.st_size;
}

static void
test_partial_resume (Partial       *p,
                     gconstpointer  user_data)
{
  g_autoptr(NatterPartial) first = open_partial (p);
  g_autoptr(NatterPartial) second = NULL;
  g_autofree char *digest = NULL;
  g_autofree char *expected = expected_digest (p);

  g_assert_cmpuint (natter_partial_get_offset (first), ==, 0);
  g_assert_cmpuint (natter_partial_get_found (first), ==, 0);
  write_upto (p, first, 4 * CHUNK);
  g_clear_pointer (&first, natter_partial_free);

  /* Reopened: everything written verifies, and the hash continues from there. */
  second = open_partial (p);
  g_assert_cmpuint (natter_partial_get_found (second), ==, 4 * CHUNK);
  g_assert_cmpuint (natter_partial_get_offset (second), ==, 4 * CHUNK);
  write_upto (p, second, p->size);
  digest = natter_partial_digest (second);
  g_assert_cmpstr (digest, ==, expected);
}

static void
test_partial_corrupt (Partial       *p,
                      gconstpointer  user_data)
{
  g_autoptr(NatterPartial) partial = open_partial (p);
  g_autofree char *digest = NULL;
  g_autofree char *expected = expected_digest (p);
  guint8 byte = 0;
  int fd;

  write_upto (p, partial, 8 * CHUNK);
  g_clear_pointer (&partial, natter_partial_free);

  /* One byte flipped in chunk 3: chunks 0-2 stay, the rest is fetched again. */
  fd = g_open (p->path, O_RDWR, 0);
  g_assert_cmpint (pread (fd, &byte, 1, 3 * CHUNK + 17), ==, 1);
  byte ^= 1;
  g_assert_cmpint (pwrite (fd, &byte, 1, 3 * CHUNK + 17), ==, 1);
  close (fd);

  partial = open_partial (p);
  g_assert_cmpuint (natter_partial_get_found (partial), ==, 8 * CHUNK);
  g_assert_cmpuint (natter_partial_get_offset (partial), ==, 3 * CHUNK);
  /* The bad tail is gone from disk, checkpoints included. */
  g_assert_cmpuint (size_of (p->path), ==, 3 * CHUNK);
  g_assert_cmpuint (size_of (p->checkpoints), ==, 3 * NATTER_TRANSFER_CHECKPOINT_SIZE);
  write_upto (p, partial, p->size);
  digest = natter_partial_digest (partial);
  g_assert_cmpstr (digest, ==, expected);
}

static void
test_partial_crash_shapes (Partial       *p,
                           gconstpointer  user_data)
{
  g_autoptr(NatterPartial) partial = open_partial (p);
  int fd;

  write_upto (p, partial, 6 * CHUNK);
  g_clear_pointer (&partial, natter_partial_free);

  /* A crash after a chunk's data but before its checkpoint, plus a torn
   * half chunk after it: only the checkpointed chunks count. */
  fd = g_open (p->path, O_RDWR, 0);
  g_assert_cmpint (pwrite (fd, p->data + 6 * CHUNK, CHUNK + 100, 6 * CHUNK), ==, CHUNK + 100);
  close (fd);
  partial = open_partial (p);
  g_assert_cmpuint (natter_partial_get_found (partial), ==, 7 * CHUNK + 100);
  g_assert_cmpuint (natter_partial_get_offset (partial), ==, 6 * CHUNK);
  g_assert_cmpuint (natter_partial_get_found (partial) - natter_partial_get_offset (partial), <=,
                    2 * CHUNK);
  g_clear_pointer (&partial, natter_partial_free);

  /* A torn checkpoint record (half written): the chunk before it stays. */
  g_assert_cmpint (truncate (p->checkpoints, 5 * NATTER_TRANSFER_CHECKPOINT_SIZE + 7), ==, 0);
  partial = open_partial (p);
  g_assert_cmpuint (natter_partial_get_offset (partial), ==, 5 * CHUNK);
  g_clear_pointer (&partial, natter_partial_free);

  /* Checkpoints lost altogether: nothing can be trusted. */
  g_assert_cmpint (g_unlink (p->checkpoints), ==, 0);
  partial = open_partial (p);
  g_assert_cmpuint (natter_partial_get_found (partial), ==, 5 * CHUNK);
  g_assert_cmpuint (natter_partial_get_offset (partial), ==, 0);
  g_assert_cmpuint (size_of (p->path), ==, 0);
  g_clear_pointer (&partial, natter_partial_free);

  /* The partial file lost (deleted by the user): start over. */
  write_upto (p, partial = open_partial (p), 2 * CHUNK);
  g_clear_pointer (&partial, natter_partial_free);
  g_assert_cmpint (g_unlink (p->path), ==, 0);
  partial = open_partial (p);
  g_assert_cmpuint (natter_partial_get_offset (partial), ==, 0);
}

static void
test_partial_refuses (Partial       *p,
                      gconstpointer  user_data)
{
  g_autoptr(NatterPartial) partial = open_partial (p);
  g_autoptr(GError) error = NULL;

  /* Out of order. */
  g_assert_false (natter_partial_write (partial, CHUNK, p->data, CHUNK, &error));
  g_assert_error (error, NATTER_ERROR, NATTER_ERROR_INVALID_INPUT);
  g_clear_error (&error);
  /* A short chunk that does not end the file: fewer bytes than announced. */
  g_assert_false (natter_partial_write (partial, 0, p->data, CHUNK - 1, &error));
  g_assert_nonnull (strstr (error->message, "fewer bytes"));
  g_clear_error (&error);
  /* Longer than a chunk. */
  g_assert_false (natter_partial_write (partial, 0, p->data, CHUNK + 64, &error));
  g_clear_error (&error);
  /* Past the announced size. */
  write_upto (p, partial, 10 * CHUNK);
  g_assert_false (natter_partial_write (partial, 10 * CHUNK, p->data, CHUNK, &error));
  g_assert_error (error, NATTER_ERROR, NATTER_ERROR_TOO_LARGE);
  g_assert_cmpuint (natter_partial_get_offset (partial), ==, 10 * CHUNK);
}

static void
test_place (Partial       *p,
            gconstpointer  user_data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *existing = g_build_filename (p->dir, "name.txt", NULL);
  g_autofree char *placed = NULL;
  g_autofree char *contents = NULL;

  g_assert_true (g_file_set_contents (existing, "old", -1, NULL));
  g_assert_true (g_file_set_contents (p->path, "new", -1, NULL));
  placed = natter_transfer_place_file (p->path, p->dir, "name.txt", &error);
  g_assert_no_error (error);
  g_assert_true (g_str_has_suffix (placed, "/name (1).txt"));
  g_assert_false (g_file_test (p->path, G_FILE_TEST_EXISTS));
  /* The existing file is untouched. */
  g_assert_true (g_file_get_contents (existing, &contents, NULL, NULL));
  g_assert_cmpstr (contents, ==, "old");
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);
  g_assert_cmpint (sodium_init (), >=, 0);

  g_test_add_func ("/transfer/sanitize", test_sanitize);
  g_test_add_func ("/transfer/sanitize-long", test_sanitize_long);
  g_test_add_func ("/transfer/numbered", test_numbered);
  g_test_add_func ("/transfer/mime-and-ids", test_mime_and_ids);
  g_test_add_func ("/transfer/offer/good", test_offer_good);
  g_test_add_func ("/transfer/offer/bad", test_offer_bad);
  g_test_add ("/transfer/partial/resume", Partial, NULL, partial_setup, test_partial_resume,
              partial_teardown);
  g_test_add ("/transfer/partial/corrupt", Partial, NULL, partial_setup, test_partial_corrupt,
              partial_teardown);
  g_test_add ("/transfer/partial/crash-shapes", Partial, NULL, partial_setup,
              test_partial_crash_shapes, partial_teardown);
  g_test_add ("/transfer/partial/refuses", Partial, NULL, partial_setup, test_partial_refuses,
              partial_teardown);
  g_test_add ("/transfer/place", Partial, NULL, partial_setup, test_place, partial_teardown);

  return g_test_run ();
}
