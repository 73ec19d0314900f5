/* natter-sdp.c: DTLS fingerprints from untrusted SDP text and from PEM certificates. */
#define G_LOG_DOMAIN "natter-sdp"

#include <string.h>

#include <gst/sdp/sdp.h>

#include "natter-sdp.h"

#include "natter-error.h"

#define SHA256_LEN 32
#define PEM_BEGIN "-----BEGIN CERTIFICATE-----"
#define PEM_END   "-----END CERTIFICATE-----"
/* Matches the envelope limit: an SDP never arrives in anything larger. */
#define MAX_SDP_LEN 65536

static gboolean
invalid (GError     **error,
         const char  *why)
{
  g_set_error_literal (error, NATTER_ERROR, NATTER_ERROR_INVALID_INPUT, why);
  return FALSE;
}

static char *
format_fingerprint (const guint8 *digest)
{
  GString *out = g_string_sized_new (8 + SHA256_LEN * 3);

  g_string_append (out, "sha-256 ");
  for (guint i = 0; i < SHA256_LEN; i++)
    g_string_append_printf (out, i == 0 ? "%02X" : ":%02X", digest[i]);
  return g_string_free (out, FALSE);
}

/* "sha-256 ab:CD:…" (RFC 8122: hash name case-insensitive, hex pairs of
 * either case) → 32 bytes. Any other hash function is refused: SHA-256 is
 * what webrtcbin offers and all we compare against. */
static gboolean
parse_fingerprint (const char  *value,
                   guint8      *digest,
                   GError     **error)
{
  const char *p;

  if (g_ascii_strncasecmp (value, "sha-256 ", 8) != 0)
    return invalid (error, "the fingerprint is not SHA-256");
  p = value + 8;
  for (guint i = 0; i < SHA256_LEN; i++)
    {
      int hi, lo;

      if (i > 0 && *p++ != ':')
        return invalid (error, "malformed fingerprint");
      hi = g_ascii_xdigit_value (p[0]);
      lo = hi < 0 ? -1 : g_ascii_xdigit_value (p[1]);
      if (lo < 0)
        return invalid (error, "malformed fingerprint");
      digest[i] = (guint8) (hi << 4 | lo);
      p += 2;
    }
  /* Trailing spaces are what some writers leave; anything else is not ours. */
  while (*p == ' ' || *p == '\t')
    p++;
  if (*p != '\0')
    return invalid (error, "malformed fingerprint");
  return TRUE;
}

/* Every fingerprint of @attributes must agree with @digest (set on first use). */
static gboolean
collect_fingerprints (const GstSDPAttribute *attributes,
                      guint                  n,
                      guint8                *digest,
                      gboolean              *found,
                      GError               **error)
{
  for (guint i = 0; i < n; i++)
    {
      guint8 this_digest[SHA256_LEN];

      if (g_strcmp0 (attributes[i].key, "fingerprint") != 0)
        continue;
      if (attributes[i].value == NULL)
        return invalid (error, "malformed fingerprint");
      if (!parse_fingerprint (attributes[i].value, this_digest, error))
        return FALSE;
      if (*found && memcmp (digest, this_digest, SHA256_LEN) != 0)
        return invalid (error, "the description has conflicting fingerprints");
      memcpy (digest, this_digest, SHA256_LEN);
      *found = TRUE;
    }
  return TRUE;
}

/**
 * natter_sdp_get_fingerprint:
 * @sdp: SDP text from a peer (not necessarily NUL-terminated)
 *
 * Returns: (transfer full): the normalised fingerprint, or %NULL with @error
 */
char *
natter_sdp_get_fingerprint (const char  *sdp,
                            gsize        length,
                            GError     **error)
{
  g_autoptr(GstSDPMessage) message = NULL;
  g_autofree char *text = NULL;

  g_return_val_if_fail (sdp != NULL || length == 0, NULL);

  if (length > MAX_SDP_LEN)
    {
      g_set_error_literal (error, NATTER_ERROR, NATTER_ERROR_TOO_LARGE, "description too large");
      return NULL;
    }
  if (length > 0 && memchr (sdp, '\0', length) != NULL)
    {
      invalid (error, "the description contains a NUL byte");
      return NULL;
    }
  text = g_strndup (sdp, length);
  if (gst_sdp_message_new_from_text (text, &message) != GST_SDP_OK)
    {
      invalid (error, "the description cannot be parsed");
      return NULL;
    }
  return natter_sdp_message_get_fingerprint (message, error);
}

/**
 * natter_sdp_message_get_fingerprint:
 * @message: an SDP already parsed (from a peer, or our own)
 *
 * The same as natter_sdp_get_fingerprint(), for a caller that needs the
 * parsed message anyway.
 *
 * Returns: (transfer full): the normalised fingerprint, or %NULL with @error
 */
char *
natter_sdp_message_get_fingerprint (const GstSDPMessage  *message,
                                    GError              **error)
{
  guint8 digest[SHA256_LEN];
  gboolean found = FALSE;
  GArray *attributes;

  g_return_val_if_fail (message != NULL, NULL);

  /* Identity binding must not depend on which m-line a reader looks at, so
   * all of them (and the session level) have to agree. */
  attributes = message->attributes;
  if (!collect_fingerprints ((const GstSDPAttribute *) attributes->data, attributes->len,
                             digest, &found, error))
    return NULL;
  for (guint i = 0; i < gst_sdp_message_medias_len (message); i++)
    {
      const GstSDPMedia *media = gst_sdp_message_get_media (message, i);

      attributes = media->attributes;
      if (!collect_fingerprints ((const GstSDPAttribute *) attributes->data, attributes->len,
                                 digest, &found, error))
        return NULL;
    }
  if (!found)
    {
      invalid (error, "the description has no fingerprint");
      return NULL;
    }
  return format_fingerprint (digest);
}

/**
 * natter_pem_certificate_fingerprint:
 * @pem: a PEM certificate as GStreamer's DTLS transport reports it
 *
 * Returns: (transfer full): "sha-256 AB:…" of the DER bytes, or %NULL with @error
 */
char *
natter_pem_certificate_fingerprint (const char  *pem,
                                    GError     **error)
{
  g_autofree char *base64 = NULL;
  g_autofree guchar *der = NULL;
  const char *begin, *end;
  gsize der_len = 0;
  guint8 digest[SHA256_LEN];
  gsize digest_len = sizeof digest;
  g_autoptr(GChecksum) checksum = NULL;

  g_return_val_if_fail (pem != NULL, NULL);

  begin = strstr (pem, PEM_BEGIN);
  if (begin != NULL)
    begin += strlen (PEM_BEGIN);
  /* Searched after the whole BEGIN line: the markers' dashes may overlap. */
  end = begin != NULL ? strstr (begin, PEM_END) : NULL;
  if (end == NULL)
    {
      invalid (error, "no certificate in the PEM text");
      return NULL;
    }
  base64 = g_strndup (begin, end - begin);
  der = g_base64_decode (g_strstrip (base64), &der_len);
  if (der_len == 0)
    {
      invalid (error, "empty certificate");
      return NULL;
    }

  checksum = g_checksum_new (G_CHECKSUM_SHA256);
  g_checksum_update (checksum, der, der_len);
  g_checksum_get_digest (checksum, digest, &digest_len);
  return format_fingerprint (digest);
}
