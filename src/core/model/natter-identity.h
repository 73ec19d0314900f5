/* natter-identity.h: the local Ed25519 key pair, peer ids and safety numbers. */
#pragma once

#include <glib-object.h>

#include "natter-types.h"

G_BEGIN_DECLS

#define NATTER_TYPE_IDENTITY (natter_identity_get_type ())
G_DECLARE_FINAL_TYPE (NatterIdentity, natter_identity, NATTER, IDENTITY, GObject)

#define NATTER_PUBLIC_KEY_SIZE 32
#define NATTER_SIGNATURE_SIZE  64
#define NATTER_SEED_SIZE       32
#define NATTER_PEER_ID_LENGTH  52
#define NATTER_SAFETY_NUMBER_LENGTH 60
/* Bytes crypto_box_seal adds around the plaintext (ephemeral key + MAC). */
#define NATTER_SEAL_OVERHEAD   48

NatterIdentity *natter_identity_load_or_create (const char    *profile_dir,
                                                GError       **error);
NatterIdentity *natter_identity_load           (const char    *profile_dir,
                                                GError       **error);
NatterIdentity *natter_identity_new_from_seed  (const guint8   seed[32]);
const char     *natter_identity_get_peer_id    (NatterIdentity *self);
const guint8   *natter_identity_get_public_key (NatterIdentity *self);
void            natter_identity_sign           (NatterIdentity *self,
                                                const guint8   *data,
                                                gsize           len,
                                                guint8          sig[NATTER_SIGNATURE_SIZE]);
gboolean        natter_identity_verify         (const guint8    public_key[NATTER_PUBLIC_KEY_SIZE],
                                                const guint8   *data,
                                                gsize           len,
                                                const guint8    sig[NATTER_SIGNATURE_SIZE]);
GBytes         *natter_identity_seal           (const guint8    recipient_public_key[NATTER_PUBLIC_KEY_SIZE],
                                                const guint8   *data,
                                                gsize           len);
GBytes         *natter_identity_unseal         (NatterIdentity *self,
                                                const guint8   *data,
                                                gsize           len,
                                                GError        **error);

gboolean        natter_peer_id_is_valid        (const char     *peer_id);
gboolean        natter_peer_id_to_public_key   (const char     *peer_id,
                                                guint8          public_key[NATTER_PUBLIC_KEY_SIZE],
                                                GError        **error);
char           *natter_peer_id_from_public_key (const guint8    public_key[NATTER_PUBLIC_KEY_SIZE]);
char           *natter_peer_id_short           (const char     *peer_id);

char           *natter_safety_number           (const guint8    key_a[NATTER_PUBLIC_KEY_SIZE],
                                                const guint8    key_b[NATTER_PUBLIC_KEY_SIZE]);
char           *natter_safety_number_format    (const char     *digits);

G_END_DECLS
