/* fuzz-sdp.c: libFuzzer target for the DTLS fingerprint extraction from peer SDP (identity binding). */
#define G_LOG_DOMAIN "natter-fuzz-sdp"

#include <string.h>

#include "natter-error.h"
#include "natter-sdp.h"

int LLVMFuzzerTestOneInput (const guint8 *data, size_t size);

/* "sha-256 " and 32 upper-case hex pairs separated by colons. */
static void
check_normalised (const char *fingerprint)
{
  g_assert (strlen (fingerprint) == 8 + 32 * 3 - 1);
  g_assert (strncmp (fingerprint, "sha-256 ", 8) == 0);
  for (guint i = 0; i < 32; i++)
    {
      const char *pair = fingerprint + 8 + i * 3;

      g_assert (g_ascii_isxdigit (pair[0]) && !g_ascii_islower (pair[0]));
      g_assert (g_ascii_isxdigit (pair[1]) && !g_ascii_islower (pair[1]));
      g_assert (i == 31 || pair[2] == ':');
    }
}

int
LLVMFuzzerTestOneInput (const guint8 *data,
                        size_t        size)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *fingerprint = NULL;
  g_autofree char *copy = NULL;

  /* Exactly @size bytes, no terminator: an overread is caught by ASan.
   * Callers pass a string, never NULL, also when it is empty. */
  copy = g_memdup2 (data, size);
  fingerprint = natter_sdp_get_fingerprint (copy != NULL ? copy : "", size, &error);
  g_assert ((fingerprint == NULL) == (error != NULL));
  g_assert (error == NULL || error->domain == NATTER_ERROR);
  if (fingerprint != NULL)
    {
      g_autofree char *sdp = NULL;
      g_autofree char *again = NULL;

      check_normalised (fingerprint);
      /* What we extract, written back as the only fingerprint, reads the same. */
      sdp = g_strdup_printf ("v=0\r\no=- 1 0 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n"
                             "m=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\n"
                             "a=fingerprint:%s\r\n", fingerprint);
      again = natter_sdp_get_fingerprint (sdp, strlen (sdp), NULL);
      g_assert (g_strcmp0 (again, fingerprint) == 0);
    }
  g_clear_error (&error);

  /* The same bytes as the PEM text of a certificate. */
  if (memchr (data, '\0', size) == NULL)
    {
      g_autofree char *text = g_strndup ((const char *) data, size);
      g_autofree char *pem = natter_pem_certificate_fingerprint (text, &error);

      g_assert ((pem == NULL) == (error != NULL));
      if (pem != NULL)
        check_normalised (pem);
    }
  return 0;
}
