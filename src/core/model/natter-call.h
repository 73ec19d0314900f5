/* natter-call.h: one audio or video call with a contact, as the UI and the timeline show it. */
#pragma once

#include <glib-object.h>

#include "natter-types.h"

G_BEGIN_DECLS

typedef enum
{
  NATTER_CALL_OUTGOING,
  NATTER_CALL_INCOMING,
} NatterCallDirection;

typedef enum
{
  NATTER_CALL_INVITING,     /* outgoing: invite sent, the peer has not said it rings yet */
  NATTER_CALL_RINGING,      /* outgoing: the peer rings; incoming: we ring */
  NATTER_CALL_CONNECTING,   /* accepted; media connection being set up and verified */
  NATTER_CALL_ACTIVE,       /* media verified and flowing */
  NATTER_CALL_ENDED,        /* see the end-reason property (final) */
} NatterCallState;

typedef enum
{
  NATTER_CALL_END_NONE,         /* not ended */
  NATTER_CALL_END_HANGUP,       /* ended by us after it was answered */
  NATTER_CALL_END_REMOTE_HANGUP,/* ended by the peer after it was answered */
  NATTER_CALL_END_DECLINED,     /* the callee declined (either side's view) */
  NATTER_CALL_END_BUSY,         /* the callee was in another call */
  NATTER_CALL_END_CANCELLED,    /* the caller gave up before an answer */
  NATTER_CALL_END_MISSED,       /* nobody answered before the ring timeout */
  NATTER_CALL_END_FAILED,       /* connection, media or identity check failed; see failure-reason */
} NatterCallEndReason;

#define NATTER_TYPE_CALL_DIRECTION (natter_call_direction_get_type ())
GType natter_call_direction_get_type (void) G_GNUC_CONST;
#define NATTER_TYPE_CALL_STATE (natter_call_state_get_type ())
GType natter_call_state_get_type (void) G_GNUC_CONST;
#define NATTER_TYPE_CALL_END_REASON (natter_call_end_reason_get_type ())
GType natter_call_end_reason_get_type (void) G_GNUC_CONST;

/**
 * NatterCallStats:
 *
 * What webrtcbin's get-stats says of a call's media, refreshed about once a
 * second while it is active. Figures are -1 when unknown.
 */
typedef struct
{
  double  rtt_ms;              /* round trip of the media connection */
  double  jitter_ms;           /* inbound audio jitter */
  gint64  packets_lost;        /* inbound, all media */
  gint64  packets_received;    /* inbound, all media */
  double  bitrate_in_kbps;     /* inbound, all media, over the last interval */
  double  bitrate_out_kbps;    /* outbound, all media, over the last interval */
  char   *audio_codec;         /* e.g. "audio/opus"; NULL when none */
  char   *video_codec;         /* e.g. "video/VP8"; NULL when none */
} NatterCallStats;

#define NATTER_TYPE_CALL_STATS (natter_call_stats_get_type ())
GType            natter_call_stats_get_type (void) G_GNUC_CONST;
NatterCallStats *natter_call_stats_copy     (const NatterCallStats *stats);
void             natter_call_stats_free     (NatterCallStats       *stats);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (NatterCallStats, natter_call_stats_free)

#define NATTER_TYPE_CALL (natter_call_get_type ())
G_DECLARE_FINAL_TYPE (NatterCall, natter_call, NATTER, CALL, GObject)

/* Objects are made by the client's call manager; every property is
 * read-only for the UI and notifies on change. Act on a call through
 * natter_client_*_call(). */
NatterCall          *natter_call_new                (const char           *id,
                                                     const char           *peer_id,
                                                     NatterCallDirection   direction,
                                                     gboolean              video);
const char          *natter_call_get_id             (NatterCall           *self);
const char          *natter_call_get_peer_id        (NatterCall           *self);
NatterCallDirection  natter_call_get_direction      (NatterCall           *self);
/* Whether video was asked for; a side without a camera still receives video. */
gboolean             natter_call_get_video          (NatterCall           *self);
NatterCallState      natter_call_get_state          (NatterCall           *self);
NatterCallEndReason  natter_call_get_end_reason     (NatterCall           *self);
const char          *natter_call_get_failure_reason (NatterCall           *self);
/* Wall-clock times in µs since the epoch; 0 when not (yet) reached. */
gint64               natter_call_get_started_at     (NatterCall           *self);
gint64               natter_call_get_answered_at    (NatterCall           *self);
gint64               natter_call_get_ended_at       (NatterCall           *self);
/* Seconds between answer and end (or now, while active); 0 if never answered. */
gint64               natter_call_get_duration       (NatterCall           *self);
gboolean             natter_call_get_muted          (NatterCall           *self);
gboolean             natter_call_get_camera_on      (NatterCall           *self);
gboolean             natter_call_get_remote_muted   (NatterCall           *self);
gboolean             natter_call_get_remote_camera_on (NatterCall         *self);
/* (nullable): the last statistics, NULL before the first. */
const NatterCallStats *natter_call_get_stats        (NatterCall           *self);

/* For the call manager (protocol layer) and the store. */
void                 natter_call_set_state          (NatterCall           *self,
                                                     NatterCallState       state);
/* Ends the call (state ENDED) with @reason; @failure only for FAILED. */
void                 natter_call_end                (NatterCall           *self,
                                                     NatterCallEndReason   reason,
                                                     const char           *failure);
void                 natter_call_set_times          (NatterCall           *self,
                                                     gint64                started_at,
                                                     gint64                answered_at,
                                                     gint64                ended_at);
void                 natter_call_set_muted          (NatterCall           *self,
                                                     gboolean              muted);
void                 natter_call_set_camera_on      (NatterCall           *self,
                                                     gboolean              camera_on);
void                 natter_call_set_remote_muted   (NatterCall           *self,
                                                     gboolean              muted);
void                 natter_call_set_remote_camera_on (NatterCall         *self,
                                                     gboolean              camera_on);
void                 natter_call_set_stats          (NatterCall           *self,
                                                     const NatterCallStats *stats);

const char          *natter_call_end_reason_to_string (NatterCallEndReason reason);

G_END_DECLS
