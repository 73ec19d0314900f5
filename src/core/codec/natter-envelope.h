/* natter-envelope.h: the signaling envelope codec, the one place that parses signaling bytes. */
#pragma once

#include <glib-object.h>
#include <json-glib/json-glib.h>

#include "natter-types.h"
#include "natter-identity.h"

G_BEGIN_DECLS

#define NATTER_TYPE_ENVELOPE (natter_envelope_get_type ())
G_DECLARE_FINAL_TYPE (NatterEnvelope, natter_envelope, NATTER, ENVELOPE, GObject)

#define NATTER_ENVELOPE_VERSION       1
#define NATTER_ENVELOPE_MAX_DEPTH     32
#define NATTER_ENVELOPE_MAX_NONCE     64
#define NATTER_ENVELOPE_MAX_SESSION   128

NatterEnvelope *natter_envelope_new           (const char     *type,
                                               const char     *from,
                                               const char     *to,
                                               const char     *session,
                                               JsonObject     *body);
const char     *natter_envelope_get_type_name (NatterEnvelope *self);
const char     *natter_envelope_get_from      (NatterEnvelope *self);
const char     *natter_envelope_get_to        (NatterEnvelope *self);
const char     *natter_envelope_get_session   (NatterEnvelope *self);
gint64          natter_envelope_get_ts        (NatterEnvelope *self);
const char     *natter_envelope_get_nonce     (NatterEnvelope *self);
JsonObject     *natter_envelope_get_body      (NatterEnvelope *self);
void            natter_envelope_set_ts        (NatterEnvelope *self,
                                               gint64          ts_ms);

GBytes         *natter_envelope_encode        (NatterEnvelope *self,
                                               NatterIdentity *sender,
                                               GError        **error);
NatterEnvelope *natter_envelope_decode        (GBytes         *payload,
                                               NatterIdentity *receiver,
                                               GError        **error);
NatterEnvelope *natter_envelope_parse_json    (const char     *data,
                                               gsize           len,
                                               GError        **error);

gboolean        natter_envelope_type_is_known (const char     *type);

G_END_DECLS
