/* natter-sdp.h: the DTLS fingerprint of an SDP and of a certificate, for identity binding. */
#pragma once

#include <gst/sdp/sdp.h>

G_BEGIN_DECLS

/* The session's "a=fingerprint" (session level, else the first media that
 * has one), normalised to "sha-256 AB:CD:…" (32 upper-case hex pairs).
 * Anything but exactly one SHA-256 fingerprint value fails with
 * NATTER_ERROR_INVALID_INPUT; conflicting fingerprints in one SDP fail too. */
char     *natter_sdp_get_fingerprint         (const char  *sdp,
                                              gsize        length,
                                              GError     **error);
char     *natter_sdp_message_get_fingerprint (const GstSDPMessage  *message,
                                              GError              **error);
/* The SHA-256 fingerprint of the first certificate in a PEM string, in the
 * same normalised form. */
char     *natter_pem_certificate_fingerprint (const char  *pem,
                                              GError     **error);

G_END_DECLS
