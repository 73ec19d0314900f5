/* natter-media-session.h: the media connection of one call: its own webrtcbin, verified like the chat session. */
#pragma once

#include <json-glib/json-glib.h>

#include "natter-call.h"
#include "natter-ice-config.h"
#include "natter-media-config.h"
#include "natter-types.h"

G_BEGIN_DECLS

/* Why a second webrtcbin and not a renegotiation of the chat one: see
 * docs/PROTOCOL.md §18 (webrtcbin 1.22 crashes on RTP it cannot map to an
 * m-line, cannot re-activate an inactive m-line, and an inactive m-line
 * that still receives RTP ends the whole bundle, chat included). */

typedef enum
{
  NATTER_MEDIA_NEW,
  NATTER_MEDIA_CONNECTING,
  NATTER_MEDIA_CONNECTED,   /* DTLS certificate matches the peer's fingerprint; media plays */
  NATTER_MEDIA_FAILED,      /* see natter_media_session_get_failure_reason() (final) */
  NATTER_MEDIA_CLOSED,      /* natter_media_session_close() (final) */
} NatterMediaState;

#define NATTER_TYPE_MEDIA_STATE (natter_media_state_get_type ())
GType natter_media_state_get_type (void) G_GNUC_CONST;

#define NATTER_TYPE_MEDIA_SESSION (natter_media_session_get_type ())
G_DECLARE_FINAL_TYPE (NatterMediaSession, natter_media_session, NATTER, MEDIA_SESSION, GObject)

/* @name names the call in logs and in the recording directory (the call id).
 * @offerer: the caller makes the offer once started, the callee answers it.
 * @video: offer or accept video; sent only if the config has a video source.
 *
 * Signals (main context):
 *   "signal-out" (const char *type, JsonObject *body)  carry to the peer's
 *       natter_media_session_handle_signal(): "offer"/"answer" {"sdp"},
 *       "ice" {"candidates":[{"mline","candidate"}…],"complete"},
 *       "ready" {} (the offerer applied the answer; the answerer may send)
 *   "stats" (NatterCallStats *)   after natter_media_session_refresh_stats()
 *   "first-audio" (gint64 monotonic_us)  the first decoded remote audio buffer
 *       reached the playback sink (after the identity check)
 *   notify::state
 */
NatterMediaSession *natter_media_session_new        (const char         *name,
                                                     NatterIceConfig    *ice,
                                                     NatterMediaConfig  *media,
                                                     gboolean            offerer,
                                                     gboolean            video);
gboolean            natter_media_session_start      (NatterMediaSession *self,
                                                     GError            **error);
void                natter_media_session_handle_signal (NatterMediaSession *self,
                                                     const char         *type,
                                                     JsonObject         *body);
void                natter_media_session_set_muted  (NatterMediaSession *self,
                                                     gboolean            muted);
/* Off sends black frames (the stream keeps its numbering, see §18). */
void                natter_media_session_set_camera (NatterMediaSession *self,
                                                     gboolean            on);
/* Whether we send camera video at all (a video source exists and video was asked). */
gboolean            natter_media_session_get_sends_video (NatterMediaSession *self);
NatterMediaState    natter_media_session_get_state  (NatterMediaSession *self);
const char         *natter_media_session_get_failure_reason (NatterMediaSession *self);
void                natter_media_session_refresh_stats (NatterMediaSession *self);
/* Ends the media: recordings are finished (EOS) before the pipeline stops. */
void                natter_media_session_close      (NatterMediaSession *self);

G_END_DECLS
