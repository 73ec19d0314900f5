/* fuzz-envelope.c: libFuzzer target for the signaling envelope codec (untrusted MQTT payloads). */
#define G_LOG_DOMAIN "natter-fuzz-envelope"

#include <string.h>

#include "natter-envelope.h"
#include "natter-error.h"
#include "natter-identity.h"

int LLVMFuzzerTestOneInput (const guint8 *data, size_t size);

/* Fixed identities, so corpus files can carry real peer ids and real
 * signatures/seals: "sender" is the seed of 32 'a', "receiver" of 32 'b'
 * (the same as alice and bob in tests/unit/test-envelope.c). */
static NatterIdentity *sender;
static NatterIdentity *receiver;

static void
ensure_identities (void)
{
  guint8 seed[32];

  if (receiver != NULL)
    return;

  memset (seed, 'a', sizeof seed);
  sender = natter_identity_new_from_seed (seed);
  memset (seed, 'b', sizeof seed);
  receiver = natter_identity_new_from_seed (seed);
}

/* Checks that hold for every envelope the codec lets through. */
static void
check_envelope (NatterEnvelope *envelope)
{
  const char *session = natter_envelope_get_session (envelope);
  const char *to = natter_envelope_get_to (envelope);

  g_assert (natter_envelope_type_is_known (natter_envelope_get_type_name (envelope)));
  g_assert (natter_peer_id_is_valid (natter_envelope_get_from (envelope)));
  g_assert (to == NULL || natter_peer_id_is_valid (to));
  g_assert (session == NULL || strlen (session) <= NATTER_ENVELOPE_MAX_SESSION);
  g_assert (natter_envelope_get_ts (envelope) >= 0);
  g_assert (natter_envelope_get_body (envelope) != NULL);
}

/* Signs @text as the sender would (whatever `from` says), optionally seals
 * it to the receiver, and decodes it: reaches the code after a successful
 * signature check, which random bytes never do. */
static void
decode_signed (const guint8 *text,
               size_t        size,
               gboolean      seal)
{
  static const char context[] = "natter/v1/envelope";
  g_autofree guint8 *message = g_malloc (sizeof context + size);
  g_autofree guint8 *frame = g_malloc (68 + size);
  g_autoptr(GBytes) payload = NULL;
  g_autoptr(NatterEnvelope) envelope = NULL;

  memcpy (message, context, sizeof context);
  memcpy (message + sizeof context, text, size);
  memcpy (frame, "NTR1", 4);
  natter_identity_sign (sender, message, sizeof context + size, frame + 4);
  memcpy (frame + 68, text, size);

  if (seal)
    {
      g_autoptr(GBytes) sealed = natter_identity_seal (natter_identity_get_public_key (receiver), frame, 68 + size);
      GByteArray *array = g_byte_array_new ();

      g_byte_array_append (array, (const guint8 *)"NTS1", 4);
      g_byte_array_append (array, g_bytes_get_data (sealed, NULL), g_bytes_get_size (sealed));
      payload = g_byte_array_free_to_bytes (array);
    }
  else
    payload = g_bytes_new (frame, 68 + size);

  envelope = natter_envelope_decode (payload, receiver, NULL);
  if (envelope != NULL)
    {
      check_envelope (envelope);
      g_assert (g_strcmp0 (natter_envelope_get_from (envelope), natter_identity_get_peer_id (sender)) == 0);
      g_assert (seal == (natter_envelope_get_to (envelope) != NULL));
    }
}

int
LLVMFuzzerTestOneInput (const guint8 *data,
                        size_t        size)
{
  g_autoptr(GBytes) payload = NULL;
  g_autoptr(NatterEnvelope) parsed = NULL;
  g_autoptr(NatterEnvelope) decoded = NULL;
  g_autoptr(GError) error = NULL;

  ensure_identities ();

  /* As an MQTT payload. */
  payload = g_bytes_new (data, size);
  decoded = natter_envelope_decode (payload, receiver, &error);
  g_assert ((decoded == NULL) == (error != NULL));
  g_assert (error == NULL || error->domain == NATTER_ERROR);
  if (decoded != NULL)
    check_envelope (decoded);
  g_clear_error (&error);

  /* As the inner JSON text. */
  parsed = natter_envelope_parse_json ((const char *)data, size, &error);
  g_assert ((parsed == NULL) == (error != NULL));
  if (parsed != NULL)
    {
      g_autoptr(GBytes) encoded = NULL;

      check_envelope (parsed);

      /* Valid text: exercise the signed and sealed paths with a real
       * signature, and re-encoding (what we accept, we can send). */
      decode_signed (data, size, FALSE);
      decode_signed (data, size, TRUE);

      if (g_strcmp0 (natter_envelope_get_from (parsed), natter_identity_get_peer_id (sender)) == 0)
        {
          /* Without `to`: a syntactically valid peer id may be no usable
           * key, which encode rightly refuses. */
          g_autoptr(NatterEnvelope) copy = natter_envelope_new (natter_envelope_get_type_name (parsed),
                                                                natter_envelope_get_from (parsed), NULL,
                                                                natter_envelope_get_session (parsed),
                                                                natter_envelope_get_body (parsed));

          natter_envelope_set_ts (copy, natter_envelope_get_ts (parsed));
          encoded = natter_envelope_encode (copy, sender, &error);
          g_assert (encoded != NULL || g_error_matches (error, NATTER_ERROR, NATTER_ERROR_TOO_LARGE));
        }
    }

  return 0;
}
