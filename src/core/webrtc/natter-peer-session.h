/* natter-peer-session.h: one WebRTC connection (webrtcbin) to one contact, transport-agnostic. */
#pragma once

#include <json-glib/json-glib.h>

#include "natter-channel.h"
#include "natter-enums.h"
#include "natter-ice-config.h"
#include "natter-types.h"

G_BEGIN_DECLS

#define NATTER_TYPE_PEER_SESSION (natter_peer_session_get_type ())

G_DECLARE_FINAL_TYPE (NatterPeerSession, natter_peer_session, NATTER, PEER_SESSION, GObject)

/* Default for how long an attempt may take from offer to an open chat channel. */
#define NATTER_PEER_SESSION_CONNECT_TIMEOUT_MS 15000

NatterPeerSession  *natter_peer_session_new                  (const char         *local_peer_id,
                                                              const char         *remote_peer_id,
                                                              NatterIceConfig    *ice);
void                natter_peer_session_connect              (NatterPeerSession  *self);
void                natter_peer_session_handle_signal        (NatterPeerSession  *self,
                                                              const char         *type,
                                                              const char         *session_id,
                                                              JsonObject         *body);
gboolean            natter_peer_session_send                 (NatterPeerSession  *self,
                                                              GBytes             *frame,
                                                              GError            **error);
guint64             natter_peer_session_get_buffered_amount  (NatterPeerSession  *self);
void                natter_peer_session_set_buffered_amount_low_threshold
                                                             (NatterPeerSession  *self,
                                                              guint64             threshold);
void                natter_peer_session_close                (NatterPeerSession  *self);
void                natter_peer_session_set_connect_timeout  (NatterPeerSession  *self,
                                                              guint               timeout_ms);
guint               natter_peer_session_get_connect_timeout  (NatterPeerSession  *self);

NatterSessionState  natter_peer_session_get_state            (NatterPeerSession  *self);
gboolean            natter_peer_session_is_polite            (NatterPeerSession  *self);
const char         *natter_peer_session_get_local_peer_id    (NatterPeerSession  *self);
const char         *natter_peer_session_get_remote_peer_id   (NatterPeerSession  *self);
const char         *natter_peer_session_get_session_id       (NatterPeerSession  *self);
const char         *natter_peer_session_get_local_fingerprint  (NatterPeerSession *self);
const char         *natter_peer_session_get_remote_fingerprint (NatterPeerSession *self);
/* Why the last attempt failed or was closed by us (e.g. a DTLS certificate
 * that does not match the signed fingerprint); NULL after a clean run. */
const char         *natter_peer_session_get_failure_reason   (NatterPeerSession  *self);

/* An extra reliable, ordered channel on the connected session (in-band, so
 * the peer learns of it through "channel-added"). Labels are at most 64
 * bytes; "chat" is reserved. Closed when the session's connection ends. */
NatterChannel      *natter_peer_session_create_channel       (NatterPeerSession  *self,
                                                              const char         *label,
                                                              GError            **error);

G_END_DECLS
