/* natter-peer-session-private.h: what the pieces of NatterPeerSession share (structs, events). */
#pragma once

/* Include after defining GST_USE_UNSTABLE_API (gst/webrtc wants it). */
#include <gst/gst.h>
#include <gst/webrtc/webrtc.h>

#include "natter-channel.h"
#include "natter-inbox.h"
#include "natter-peer-session.h"

G_BEGIN_DECLS

/* Local candidates are collected this long before one "ice" signal carries
 * them all; gathering-complete flushes at once. */
#define ICE_BATCH_DELAY_MS        40
/* Bounds for what an untrusted (or just confused) peer can make us keep. */
#define MAX_BUFFERED_CANDIDATES   64
#define MAX_EARLY_ICE_SESSIONS    4
#define MAX_RETIRED_SESSIONS      16
#define MAX_SESSION_ID_LEN        64
#define MAX_CANDIDATE_LEN         1024
#define MAX_MLINE                 64
#define CHAT_CHANNEL_LABEL        "chat"
#define CHAT_CHANNEL_ID           0
#define MAX_CHANNEL_LABEL_LEN     64
/* A peer cannot make us hold more channels than this at once. */
#define MAX_CHANNELS              512
/* Logs name peers by an 8 character prefix of their ids, never more. */
#define LOG_PAIR                  "%.8s->%.8s"

/* What a GStreamer thread reports; handled in order on the main context. */
typedef enum
{
  EVENT_OFFER_CREATED,
  EVENT_ANSWER_CREATED,
  EVENT_REMOTE_DESCRIPTION_SET,
  EVENT_ICE_CANDIDATE,
  EVENT_GATHERING_STATE,
  EVENT_GATHERING_DONE,
  EVENT_ICE_CONNECTION_STATE,
  EVENT_CHANNEL_OPEN,           /* of the chat channel; the DTLS check runs here */
  EVENT_CHANNEL_CLOSE,          /* of the chat channel; only matters before it opened */
  EVENT_CHANNEL_ERROR,
  EVENT_REMOTE_CHANNEL,
} EventKind;

typedef struct
{
  EventKind   kind;
  guint       mline;
  char       *candidate;
  GstPromise *promise;
  GObject    *object;
} Event;

/* One negotiation attempt = one webrtcbin pipeline. A new offer, a glare
 * rollback or a reconnect always builds a fresh Attempt: webrtcbin 1.22 cannot
 * roll back a local offer, and a fresh pipeline leaves no half-negotiated
 * state behind. GStreamer callbacks hold a reference to the Attempt, never
 * to the session (only a weak ref), so they may safely outlive both. */
typedef struct
{
  gatomicrefcount       ref_count;
  GWeakRef              session;
  GMainContext         *context;
  char                 *session_id;
  gboolean              offerer;

  /* Owned; only touched on the main context. */
  GstElement           *pipeline;
  GstElement           *webrtc;
  GstWebRTCDataChannel *chat_dc;
  NatterChannel        *chat;             /* wraps chat_dc; delivers only once DTLS is verified */
  GSource              *bus_source;
  GSource              *batch_source;
  GSource              *timeout_source;
  JsonArray            *local_batch;
  GPtrArray            *pending_remote;   /* RemoteCandidate, until the remote description is set */
  char                 *abandoned_offer;  /* our own offer this answer replaces (glare) */
  gboolean              answer_received;
  gboolean              remote_set;
  gboolean              channel_open;
  gboolean              sent_complete;
  GPtrArray            *channels;          /* NatterChannel, announced */
  GPtrArray            *pending_channels;  /* NatterChannel the peer opened before we verified it */
  gboolean              torn_down;

  /* The only cross-thread state: what GStreamer's threads report. */
  NatterInbox          *inbox;
} Attempt;

struct _NatterPeerSession
{
  GObject             parent_instance;

  char               *local_peer_id;
  char               *remote_peer_id;
  NatterIceConfig    *ice;
  GMainContext       *context;
  NatterSessionState  state;
  gboolean            polite;
  guint64             low_threshold;
  guint               connect_timeout_ms;

  Attempt            *attempt;
  GHashTable         *early_ice;     /* session id → GPtrArray of RemoteCandidate */
  GQueue              early_order;   /* session ids of early_ice, oldest first */
  GQueue              retired;       /* session ids we left; their signals are stale */
  char               *local_fingerprint;
  char               *remote_fingerprint;
  char               *failure_reason;
};

enum {
  SIGNAL_OUT,
  FRAME_RECEIVED,
  CHANNEL_OPEN,
  BUFFERED_AMOUNT_LOW,
  CHANNEL_ADDED,
  N_SIGNALS
};

/* Defined in natter-peer-session.c, emitted by every piece. */
extern guint _natter_peer_session_signals[N_SIGNALS];

/* natter-peer-session.c: session state */
void                _natter_peer_session_set_state          (NatterPeerSession  *self,
                                                             NatterSessionState  state);
GPtrArray          *_natter_peer_session_take_early_ice     (NatterPeerSession  *self,
                                                             const char         *session_id);
gboolean            _natter_peer_session_is_retired         (NatterPeerSession  *self,
                                                             const char         *session_id);
void                _natter_peer_session_retire             (NatterPeerSession  *self,
                                                             const char         *session_id);
void                _natter_peer_session_end_attempt        (NatterPeerSession  *self,
                                                             NatterSessionState  state);
void                _natter_peer_session_emit_signal_out    (NatterPeerSession  *self,
                                                             const char         *type,
                                                             const char         *session_id,
                                                             JsonObject         *body);
void                _natter_peer_session_fail               (NatterPeerSession  *self,
                                                             const char         *why);
Attempt            *_natter_peer_session_start_attempt      (NatterPeerSession  *self,
                                                             const char         *session_id,
                                                             gboolean            offerer);

/* natter-peer-attempt.c: the Attempt */
Attempt            *_natter_peer_attempt_new                (NatterPeerSession  *self,
                                                             const char         *session_id,
                                                             gboolean            offerer,
                                                             GError            **error);
void                _natter_peer_attempt_shutdown           (Attempt            *attempt);
void                _natter_peer_attempt_unref              (gpointer            data);
GstPromise         *_natter_peer_attempt_new_promise        (Attempt            *attempt,
                                                             EventKind           kind);
void                _natter_peer_attempt_destroy_source     (GSource           **source);
NatterPeerSession  *_natter_peer_attempt_get_current_session (Attempt           *attempt);

/* natter-peer-negotiation.c: offer/answer and ICE */
void                _natter_peer_remote_candidate_free      (gpointer            data);
void                _natter_peer_session_flush_candidates   (NatterPeerSession  *self,
                                                             Attempt            *attempt,
                                                             gboolean            complete);
gboolean            _natter_peer_session_on_batch_timeout   (gpointer            data);
void                _natter_peer_session_publish_description (NatterPeerSession *self,
                                                              Attempt           *attempt,
                                                              GstPromise        *promise);
void                _natter_peer_session_remote_description_set
                                                            (NatterPeerSession  *self,
                                                             Attempt            *attempt,
                                                             GstPromise         *promise);

G_END_DECLS
