/* natter-envelope.c: the signaling envelope codec; the one place that parses signaling bytes. */
#define G_LOG_DOMAIN "natter-envelope"

/*
 * Envelope wire format, version 1
 * ===============================
 *
 * Inner text T: one JSON object (RFC 8259, UTF-8), written by the sender in
 * any member order and any whitespace; the signature covers T's exact bytes,
 * so a receiver never re-serialises it.
 *
 *   {"v":1, "type":TYPE, "from":PEER, "to":PEER, "session":STR, "ts":INT,
 *    "nonce":STR, "body":OBJECT}
 *
 *   v        integer, must be 1 (any other value is refused)
 *   type     one of "offer" "answer" "ice" "contact-request" "contact-accept"
 *            "contact-decline" "presence" "bye"
 *   from     the sender's peer id: lowercase RFC 4648 base32 of its 32-byte
 *            Ed25519 public key, no padding (52 chars, trailing bits zero)
 *   to       the recipient's peer id; ABSENT for a broadcast (presence)
 *   session  optional; 1..128 bytes of printable ASCII (0x21..0x7e)
 *   ts       integer, milliseconds since the Unix epoch, >= 0
 *   nonce    1..64 characters of [A-Za-z0-9_-] (senders use 16 random bytes
 *            in unpadded base64url)
 *   body     a JSON object, its content defined per type by the signaling layer
 *
 * Signature: Ed25519 (RFC 8032, pure) by the key `from` names, over
 *
 *   "natter/v1/envelope" 0x00 || T
 *
 * Signed frame F:  "NTR1" (4 bytes) || signature (64 bytes) || T
 *
 * MQTT payload:
 *   - `to` present:  "NTS1" (4 bytes) || crypto_box_seal (F, X25519 (to))
 *     where X25519 (to) is the Ed25519 key `to` converted with
 *     crypto_sign_ed25519_pk_to_curve25519 (libsodium), and crypto_box_seal
 *     is libsodium's sealed box (ephemeral X25519 key || XSalsa20-Poly1305
 *     box, nonce = BLAKE2b (ephemeral pk || recipient pk), 48 bytes overhead).
 *   - `to` absent:   F itself.
 *
 * A receiver refuses, in this order:
 *   - a payload over 65536 bytes (NATTER_ERROR_TOO_LARGE), before anything else;
 *   - an unknown magic, a sealed payload that does not open with its key,
 *     a sealed payload whose inner frame is not "NTR1";
 *   - T that is not strict JSON (natter_json_parse_object): invalid UTF-8,
 *     NUL anywhere (also as \u0000), unpaired surrogate escapes, comments,
 *     trailing commas, leading zeros, nesting deeper than 32 (checked before
 *     the tree is built),
 *     duplicate member names in any object, trailing bytes, an integer
 *     (no fraction or exponent) outside the signed 64-bit range, any other
 *     number that is not a finite IEEE 754 double;
 *   - a top level that is not an object, a missing or mistyped field, an
 *     unknown top-level member, `to` or `session` present as null;
 *   - a signature that does not verify with `from` (NATTER_ERROR_REFUSED);
 *   - a sealed envelope whose `to` is not the receiver (NATTER_ERROR_REFUSED),
 *     or a plain (unsealed) one that has a `to` (NATTER_ERROR_INVALID_INPUT),
 *     so an addressed envelope never travels in the clear.
 *
 * Freshness (ts window), replay (nonce cache) and contact policy are checked
 * by the signaling layer, not here.
 */

#include <math.h>
#include <string.h>

#include <sodium.h>

#include "natter-envelope.h"
#include "natter-error.h"
#include "natter-json.h"

#define MAGIC_SIGNED   "NTR1"
#define MAGIC_SEALED   "NTS1"
#define MAGIC_LEN      4
#define SIGN_CONTEXT   "natter/v1/envelope"   /* signed with its NUL */
#define SIGNED_HEADER  (MAGIC_LEN + NATTER_SIGNATURE_SIZE)
#define NONCE_BYTES    16

struct _NatterEnvelope
{
  GObject parent_instance;

  char       *type;
  char       *from;
  char       *to;
  char       *session;
  char       *nonce;
  JsonObject *body;
  gint64      ts;
};

G_DEFINE_FINAL_TYPE (NatterEnvelope, natter_envelope, G_TYPE_OBJECT)

static const char * const known_types[] = {
  "offer", "answer", "ice", "contact-request", "contact-accept",
  "contact-decline", "presence", "bye", NULL
};

static const char * const known_fields[] = {
  "v", "type", "from", "to", "session", "ts", "nonce", "body", NULL
};

static void
natter_envelope_finalize (GObject *object)
{
  NatterEnvelope *self = (NatterEnvelope *)object;

  g_clear_pointer (&self->type, g_free);
  g_clear_pointer (&self->from, g_free);
  g_clear_pointer (&self->to, g_free);
  g_clear_pointer (&self->session, g_free);
  g_clear_pointer (&self->nonce, g_free);
  g_clear_pointer (&self->body, json_object_unref);

  G_OBJECT_CLASS (natter_envelope_parent_class)->finalize (object);
}

static void
natter_envelope_class_init (NatterEnvelopeClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->finalize = natter_envelope_finalize;
}

static void
natter_envelope_init (NatterEnvelope *self)
{
}

static gboolean
set_invalid (GError     **error,
             const char  *why)
{
  /* @why is always one of our literals: a message never echoes payload bytes. */
  g_set_error (error, NATTER_ERROR, NATTER_ERROR_INVALID_INPUT, "Invalid envelope: %s", why);
  return FALSE;
}

static gboolean
set_refused (GError     **error,
             const char  *why)
{
  g_set_error (error, NATTER_ERROR, NATTER_ERROR_REFUSED, "Envelope refused: %s", why);
  return FALSE;
}

static gboolean
set_too_large (GError **error,
               gsize    len)
{
  g_set_error (error, NATTER_ERROR, NATTER_ERROR_TOO_LARGE,
               "Envelope of %" G_GSIZE_FORMAT " bytes is over the %d byte limit",
               len, NATTER_MAX_ENVELOPE_SIZE);
  return FALSE;
}

/**
 * natter_envelope_type_is_known:
 * @type: a type name
 *
 * Returns: %TRUE if @type is one of the envelope types of protocol version 1
 */
gboolean
natter_envelope_type_is_known (const char *type)
{
  g_return_val_if_fail (type != NULL, FALSE);

  return g_strv_contains (known_types, type);
}

/* The length limits are applied where the field is read. */
static gboolean
nonce_is_valid (const char *nonce)
{
  gsize len = strlen (nonce);

  return len > 0 &&
         strspn (nonce, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") == len;
}

static gboolean
session_is_valid (const char *session)
{
  if (*session == '\0')
    return FALSE;
  for (; *session; session++)
    if (*session < 0x21 || *session > 0x7e)
      return FALSE;

  return TRUE;
}

/* The one place an envelope's fields are set, for a new or a parsed one. */
static NatterEnvelope *
envelope_new_full (const char *type,
                   const char *from,
                   const char *to,
                   const char *session,
                   const char *nonce,
                   gint64      ts,
                   JsonObject *body)
{
  NatterEnvelope *self = g_object_new (NATTER_TYPE_ENVELOPE, NULL);

  self->type = g_strdup (type);
  self->from = g_strdup (from);
  self->to = g_strdup (to);
  self->session = g_strdup (session);
  self->nonce = g_strdup (nonce);
  self->ts = ts;
  self->body = body != NULL ? json_object_ref (body) : json_object_new ();

  return self;
}

/**
 * natter_envelope_new:
 * @type: the envelope type, e.g. "offer"
 * @from: the sender's peer id
 * @to: (nullable): the recipient's peer id, %NULL for a broadcast (presence)
 * @session: (nullable): a session id
 * @body: (nullable): the body; the envelope takes its own reference. %NULL
 *   means an empty object.
 *
 * Creates an envelope stamped with the current time and a fresh random
 * nonce. The fields are checked when it is encoded.
 *
 * Returns: (transfer full): the envelope
 */
NatterEnvelope *
natter_envelope_new (const char *type,
                     const char *from,
                     const char *to,
                     const char *session,
                     JsonObject *body)
{
  guint8 nonce[NONCE_BYTES];
  char nonce_b64[sodium_base64_ENCODED_LEN (NONCE_BYTES, sodium_base64_VARIANT_URLSAFE_NO_PADDING)];

  g_return_val_if_fail (type != NULL, NULL);
  g_return_val_if_fail (from != NULL, NULL);

  if (sodium_init () < 0)
    g_error ("libsodium could not be initialised");

  randombytes_buf (nonce, sizeof nonce);
  sodium_bin2base64 (nonce_b64, sizeof nonce_b64, nonce, sizeof nonce,
                     sodium_base64_VARIANT_URLSAFE_NO_PADDING);

  return envelope_new_full (type, from, to, session, nonce_b64, g_get_real_time () / 1000, body);
}

/**
 * natter_envelope_get_type_name:
 * @self: a #NatterEnvelope
 *
 * Returns: the envelope type, e.g. "offer"
 */
const char *
natter_envelope_get_type_name (NatterEnvelope *self)
{
  g_return_val_if_fail (NATTER_IS_ENVELOPE (self), NULL);

  return self->type;
}

/**
 * natter_envelope_get_from:
 * @self: a #NatterEnvelope
 *
 * Returns: the sender's peer id (verified against the signature for a
 *   decoded envelope)
 */
const char *
natter_envelope_get_from (NatterEnvelope *self)
{
  g_return_val_if_fail (NATTER_IS_ENVELOPE (self), NULL);

  return self->from;
}

/**
 * natter_envelope_get_to:
 * @self: a #NatterEnvelope
 *
 * Returns: (nullable): the recipient's peer id, %NULL for a broadcast
 */
const char *
natter_envelope_get_to (NatterEnvelope *self)
{
  g_return_val_if_fail (NATTER_IS_ENVELOPE (self), NULL);

  return self->to;
}

/**
 * natter_envelope_get_session:
 * @self: a #NatterEnvelope
 *
 * Returns: (nullable): the session id
 */
const char *
natter_envelope_get_session (NatterEnvelope *self)
{
  g_return_val_if_fail (NATTER_IS_ENVELOPE (self), NULL);

  return self->session;
}

/**
 * natter_envelope_get_ts:
 * @self: a #NatterEnvelope
 *
 * Returns: the sender's timestamp, milliseconds since the Unix epoch
 */
gint64
natter_envelope_get_ts (NatterEnvelope *self)
{
  g_return_val_if_fail (NATTER_IS_ENVELOPE (self), 0);

  return self->ts;
}

/**
 * natter_envelope_get_nonce:
 * @self: a #NatterEnvelope
 *
 * Returns: the nonce (for the receiver's replay cache)
 */
const char *
natter_envelope_get_nonce (NatterEnvelope *self)
{
  g_return_val_if_fail (NATTER_IS_ENVELOPE (self), NULL);

  return self->nonce;
}

/**
 * natter_envelope_get_body:
 * @self: a #NatterEnvelope
 *
 * Returns: (transfer none): the body object
 */
JsonObject *
natter_envelope_get_body (NatterEnvelope *self)
{
  g_return_val_if_fail (NATTER_IS_ENVELOPE (self), NULL);

  return self->body;
}

/**
 * natter_envelope_set_ts:
 * @self: a #NatterEnvelope
 * @ts_ms: milliseconds since the Unix epoch
 *
 * Overrides the timestamp (tests of the receiver's freshness window).
 */
void
natter_envelope_set_ts (NatterEnvelope *self,
                        gint64          ts_ms)
{
  g_return_if_fail (NATTER_IS_ENVELOPE (self));

  self->ts = ts_ms;
}

/* ------------------------------------------------------------------------ */
/* Parsing                                                                   */
/* ------------------------------------------------------------------------ */

/* A string member that must also satisfy @is_valid. */
static gboolean
get_checked_string (JsonObject   *object,
                    const char   *name,
                    gboolean      required,
                    gsize         max_len,
                    gboolean    (*is_valid) (const char *value),
                    const char  **out,
                    GError      **error)
{
  if (!natter_json_get_string (object, name, required, max_len, out, error))
    return FALSE;
  if (*out != NULL && !is_valid (*out))
    {
      /* @name is ours; the value is never quoted. */
      g_set_error (error, NATTER_ERROR, NATTER_ERROR_INVALID_INPUT, "field \"%s\" is invalid", name);
      return FALSE;
    }
  return TRUE;
}

/* The envelope fields of T's top-level object. An optional member present
 * as null is mistyped, not absent. */
static NatterEnvelope *
envelope_from_object (JsonObject  *root,
                      GError     **error)
{
  JsonObject *body;
  const char *type;
  const char *from;
  const char *to;
  const char *session;
  const char *nonce;
  gint64 v;
  gint64 ts;

  if (!natter_json_check_members (root, known_fields, error) ||
      !natter_json_get_int (root, "v", TRUE, NATTER_ENVELOPE_VERSION, NATTER_ENVELOPE_VERSION,
                            &v, error) ||
      !get_checked_string (root, "type", TRUE, G_MAXSIZE, natter_envelope_type_is_known,
                           &type, error) ||
      !get_checked_string (root, "from", TRUE, NATTER_PEER_ID_LENGTH, natter_peer_id_is_valid,
                           &from, error) ||
      !get_checked_string (root, "to", FALSE, NATTER_PEER_ID_LENGTH, natter_peer_id_is_valid,
                           &to, error) ||
      !get_checked_string (root, "session", FALSE, NATTER_ENVELOPE_MAX_SESSION, session_is_valid,
                           &session, error) ||
      !natter_json_get_int (root, "ts", TRUE, 0, G_MAXINT64, &ts, error) ||
      !get_checked_string (root, "nonce", TRUE, NATTER_ENVELOPE_MAX_NONCE, nonce_is_valid,
                           &nonce, error) ||
      (body = natter_json_get_object (root, "body", error)) == NULL)
    return NULL;

  return envelope_new_full (type, from, to, session, nonce, ts, body);
}

/**
 * natter_envelope_parse_json:
 * @data: the inner text T (not NUL-terminated necessarily)
 * @len: length of @data
 * @error: return location for a #GError
 *
 * The strict validation of an envelope's JSON alone: no signature, no
 * sealing. See the format description at the top of this file.
 *
 * Returns: (transfer full): the envelope, or %NULL with
 *   NATTER_ERROR_TOO_LARGE or NATTER_ERROR_INVALID_INPUT
 */
NatterEnvelope *
natter_envelope_parse_json (const char  *data,
                            gsize        len,
                            GError     **error)
{
  g_autoptr(JsonObject) root = NULL;
  g_autoptr(GError) local_error = NULL;
  NatterEnvelope *self = NULL;
  const char *prefix;

  g_return_val_if_fail (data != NULL || len == 0, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  root = natter_json_parse_object (data, len, NATTER_MAX_ENVELOPE_SIZE,
                                   NATTER_ENVELOPE_MAX_DEPTH, &local_error);
  if (root != NULL)
    self = envelope_from_object (root, &local_error);
  if (self == NULL)
    {
      prefix = g_error_matches (local_error, NATTER_ERROR, NATTER_ERROR_TOO_LARGE)
               ? "Envelope too large: " : "Invalid envelope: ";
      g_propagate_prefixed_error (error, g_steal_pointer (&local_error), "%s", prefix);
    }

  return self;
}

/* ------------------------------------------------------------------------ */
/* Signing and sealing                                                       */
/* ------------------------------------------------------------------------ */

/* The bytes a signature covers: SIGN_CONTEXT with its NUL, then T. */
static guint8 *
signed_message (const guint8 *text,
                gsize         text_len,
                gsize        *out_len)
{
  guint8 *message = g_malloc (sizeof SIGN_CONTEXT + text_len);

  memcpy (message, SIGN_CONTEXT, sizeof SIGN_CONTEXT);
  memcpy (message + sizeof SIGN_CONTEXT, text, text_len);
  *out_len = sizeof SIGN_CONTEXT + text_len;

  return message;
}

/* Our own writer rather than JsonGenerator: json-glib 1.6 writes doubles
 * such as 5e64 as "5e+64.0", which is not JSON, and we only send what our
 * strict reader accepts. */
static void
write_string (GString    *out,
              const char *s)
{
  g_string_append_c (out, '"');
  for (; *s; s++)
    {
      guchar c = (guchar)*s;

      switch (c)
        {
        case '"':  g_string_append (out, "\\\""); break;
        case '\\': g_string_append (out, "\\\\"); break;
        case '\b': g_string_append (out, "\\b"); break;
        case '\f': g_string_append (out, "\\f"); break;
        case '\n': g_string_append (out, "\\n"); break;
        case '\r': g_string_append (out, "\\r"); break;
        case '\t': g_string_append (out, "\\t"); break;
        default:
          if (c < 0x20)
            g_string_append_printf (out, "\\u%04x", c);
          else
            g_string_append_c (out, (char)c);
        }
    }
  g_string_append_c (out, '"');
}

/* Writes @node at nesting level @depth; FALSE for what JSON cannot carry
 * (non-finite doubles, invalid UTF-8) or nesting beyond the limit. */
static gboolean
write_node (GString  *out,
            JsonNode *node,
            guint     depth)
{
  switch (json_node_get_node_type (node))
    {
    case JSON_NODE_NULL:
      g_string_append (out, "null");
      return TRUE;

    case JSON_NODE_VALUE:
      switch (json_node_get_value_type (node))
        {
        case G_TYPE_INT64:
          g_string_append_printf (out, "%" G_GINT64_FORMAT, json_node_get_int (node));
          return TRUE;

        case G_TYPE_BOOLEAN:
          g_string_append (out, json_node_get_boolean (node) ? "true" : "false");
          return TRUE;

        case G_TYPE_DOUBLE:
          {
            char buffer[G_ASCII_DTOSTR_BUF_SIZE];
            double d = json_node_get_double (node);

            if (!isfinite (d))
              return FALSE;
            g_ascii_dtostr (buffer, sizeof buffer, d);
            g_string_append (out, buffer);
            /* Keep it a double for the reader: "100" would come back an int. */
            if (strpbrk (buffer, ".eE") == NULL)
              g_string_append (out, ".0");
            return TRUE;
          }

        case G_TYPE_STRING:
          {
            const char *str = json_node_get_string (node);

            if (!g_utf8_validate (str, -1, NULL))
              return FALSE;
            write_string (out, str);
            return TRUE;
          }

        default:
          return FALSE;
        }

    case JSON_NODE_ARRAY:
      {
        JsonArray *array = json_node_get_array (node);

        if (depth > NATTER_ENVELOPE_MAX_DEPTH)
          return FALSE;
        g_string_append_c (out, '[');
        for (guint i = 0; i < json_array_get_length (array); i++)
          {
            if (i > 0)
              g_string_append_c (out, ',');
            if (!write_node (out, json_array_get_element (array, i), depth + 1))
              return FALSE;
          }
        g_string_append_c (out, ']');
        return TRUE;
      }

    case JSON_NODE_OBJECT:
      {
        JsonObject *object = json_node_get_object (node);
        JsonObjectIter iter;
        const char *name;
        JsonNode *child;
        gboolean first = TRUE;

        if (depth > NATTER_ENVELOPE_MAX_DEPTH)
          return FALSE;
        g_string_append_c (out, '{');
        json_object_iter_init (&iter, object);
        while (json_object_iter_next (&iter, &name, &child))
          {
            if (!first)
              g_string_append_c (out, ',');
            first = FALSE;
            if (!g_utf8_validate (name, -1, NULL))
              return FALSE;
            write_string (out, name);
            g_string_append_c (out, ':');
            if (!write_node (out, child, depth + 1))
              return FALSE;
          }
        g_string_append_c (out, '}');
        return TRUE;
      }

    default:
      return FALSE;
    }
}

static void
write_member (GString    *out,
              const char *name,
              const char *value)
{
  if (out->len > 1)
    g_string_append_c (out, ',');
  write_string (out, name);
  g_string_append_c (out, ':');
  write_string (out, value);
}

/* The inner text T, members in the documented order. */
static char *
envelope_to_json (NatterEnvelope *self,
                  gsize          *out_len)
{
  g_autoptr(GString) out = g_string_new ("{");
  g_autoptr(JsonNode) body = json_node_init_object (json_node_alloc (), self->body);

  g_string_append_printf (out, "\"v\":%d", NATTER_ENVELOPE_VERSION);
  write_member (out, "type", self->type);
  write_member (out, "from", self->from);
  if (self->to != NULL)
    write_member (out, "to", self->to);
  if (self->session != NULL)
    write_member (out, "session", self->session);
  g_string_append_printf (out, ",\"ts\":%" G_GINT64_FORMAT, self->ts);
  write_member (out, "nonce", self->nonce);
  g_string_append (out, ",\"body\":");
  if (!write_node (out, body, 2))
    return NULL;
  g_string_append_c (out, '}');

  *out_len = out->len;
  return g_string_free (g_steal_pointer (&out), FALSE);
}

/**
 * natter_envelope_encode:
 * @self: a #NatterEnvelope
 * @sender: the identity whose peer id is the envelope's `from`
 * @error: return location for a #GError
 *
 * Serialises, signs and (when `to` is set) seals the envelope into an MQTT
 * payload. What is encoded is checked with the same strict rules a receiver
 * applies, so an envelope that would be refused is never sent.
 *
 * Returns: (transfer full): the payload, or %NULL with
 *   NATTER_ERROR_INVALID_INPUT or NATTER_ERROR_TOO_LARGE
 */
GBytes *
natter_envelope_encode (NatterEnvelope  *self,
                        NatterIdentity  *sender,
                        GError         **error)
{
  g_autoptr(NatterEnvelope) check = NULL;
  g_autoptr(GBytes) sealed = NULL;
  g_autofree char *text = NULL;
  g_autofree guint8 *message = NULL;
  g_autofree guint8 *frame = NULL;
  guint8 *payload;
  guint8 to_key[NATTER_PUBLIC_KEY_SIZE];
  gsize text_len = 0;
  gsize message_len = 0;
  gsize frame_len;
  gsize sealed_len;

  g_return_val_if_fail (NATTER_IS_ENVELOPE (self), NULL);
  g_return_val_if_fail (NATTER_IS_IDENTITY (sender), NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (g_strcmp0 (self->from, natter_identity_get_peer_id (sender)) != 0)
    {
      set_invalid (error, "“from” is not the sender’s peer id");
      return NULL;
    }

  text = envelope_to_json (self, &text_len);
  if (text == NULL)
    {
      set_invalid (error, "the body cannot be written as JSON");
      return NULL;
    }
  frame_len = SIGNED_HEADER + text_len;
  if (frame_len > NATTER_MAX_ENVELOPE_SIZE)
    {
      set_too_large (error, frame_len);
      return NULL;
    }

  /* Send only what we would accept ourselves. */
  check = natter_envelope_parse_json (text, text_len, error);
  if (check == NULL)
    return NULL;

  message = signed_message ((const guint8 *)text, text_len, &message_len);
  frame = g_malloc (frame_len);
  memcpy (frame, MAGIC_SIGNED, MAGIC_LEN);
  natter_identity_sign (sender, message, message_len, frame + MAGIC_LEN);
  memcpy (frame + SIGNED_HEADER, text, text_len);

  if (self->to == NULL)
    return g_bytes_new_take (g_steal_pointer (&frame), frame_len);

  if (!natter_peer_id_to_public_key (self->to, to_key, NULL) ||
      (sealed = natter_identity_seal (to_key, frame, frame_len)) == NULL)
    {
      set_invalid (error, "“to” is not a usable public key");
      return NULL;
    }

  sealed_len = g_bytes_get_size (sealed);
  if (MAGIC_LEN + sealed_len > NATTER_MAX_ENVELOPE_SIZE)
    {
      set_too_large (error, MAGIC_LEN + sealed_len);
      return NULL;
    }

  payload = g_malloc (MAGIC_LEN + sealed_len);
  memcpy (payload, MAGIC_SEALED, MAGIC_LEN);
  memcpy (payload + MAGIC_LEN, g_bytes_get_data (sealed, NULL), sealed_len);

  return g_bytes_new_take (payload, MAGIC_LEN + sealed_len);
}

/**
 * natter_envelope_decode:
 * @payload: an MQTT payload
 * @receiver: (nullable): our identity; required to open sealed envelopes
 * @error: return location for a #GError
 *
 * Opens (if sealed), parses strictly, and verifies the signature against the
 * key that `from` is; a sealed envelope must name @receiver in `to`.
 *
 * Returns: (transfer full): the envelope, or %NULL with
 *   NATTER_ERROR_TOO_LARGE, NATTER_ERROR_INVALID_INPUT or NATTER_ERROR_REFUSED
 */
NatterEnvelope *
natter_envelope_decode (GBytes          *payload,
                        NatterIdentity  *receiver,
                        GError         **error)
{
  g_autoptr(NatterEnvelope) self = NULL;
  g_autoptr(GBytes) opened = NULL;
  g_autofree guint8 *message = NULL;
  const guint8 *data;
  const guint8 *frame;
  gsize len;
  gsize frame_len;
  gsize message_len = 0;
  gboolean sealed;
  guint8 from_key[NATTER_PUBLIC_KEY_SIZE];

  g_return_val_if_fail (payload != NULL, NULL);
  g_return_val_if_fail (receiver == NULL || NATTER_IS_IDENTITY (receiver), NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  data = g_bytes_get_data (payload, &len);
  if (len > NATTER_MAX_ENVELOPE_SIZE)
    {
      set_too_large (error, len);
      return NULL;
    }
  if (len < MAGIC_LEN)
    {
      set_invalid (error, "too short");
      return NULL;
    }

  if (memcmp (data, MAGIC_SEALED, MAGIC_LEN) == 0)
    {
      if (receiver == NULL)
        {
          set_refused (error, "sealed, and no identity to open it");
          return NULL;
        }
      opened = natter_identity_unseal (receiver, data + MAGIC_LEN, len - MAGIC_LEN, NULL);
      if (opened == NULL)
        {
          set_refused (error, "not sealed to us, or altered");
          return NULL;
        }
      frame = g_bytes_get_data (opened, &frame_len);
      sealed = TRUE;
    }
  else if (memcmp (data, MAGIC_SIGNED, MAGIC_LEN) == 0)
    {
      frame = data;
      frame_len = len;
      sealed = FALSE;
    }
  else
    {
      set_invalid (error, "unknown format");
      return NULL;
    }

  if (frame_len < SIGNED_HEADER || memcmp (frame, MAGIC_SIGNED, MAGIC_LEN) != 0)
    {
      set_invalid (error, "malformed signed frame");
      return NULL;
    }

  /* The key to check against is in the text, so parse first; the parse is
   * strict and bounded, and nothing from it is used before the signature
   * has verified. */
  self = natter_envelope_parse_json ((const char *)frame + SIGNED_HEADER,
                                     frame_len - SIGNED_HEADER, error);
  if (self == NULL)
    return NULL;

  if (!natter_peer_id_to_public_key (self->from, from_key, NULL))
    g_assert_not_reached ();  /* parse_json validated it */

  message = signed_message (frame + SIGNED_HEADER, frame_len - SIGNED_HEADER, &message_len);
  if (!natter_identity_verify (from_key, message, message_len, frame + MAGIC_LEN))
    {
      set_refused (error, "bad signature");
      return NULL;
    }

  if (sealed)
    {
      if (self->to == NULL || strcmp (self->to, natter_identity_get_peer_id (receiver)) != 0)
        {
          set_refused (error, "addressed to someone else");
          return NULL;
        }
    }
  else if (self->to != NULL)
    {
      set_invalid (error, "an addressed envelope must be sealed");
      return NULL;
    }

  return g_steal_pointer (&self);
}
