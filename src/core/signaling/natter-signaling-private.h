/* natter-signaling-private.h: the NatterSignaling struct and what its pieces share. */
#pragma once

#include <mosquitto.h>

#include "natter-signaling.h"

G_BEGIN_DECLS

#define TOPIC_ROOT            "natter/v1/user/"

typedef enum
{
  EVENT_CONNACK,
  EVENT_DISCONNECT,
  EVENT_MESSAGE,
  EVENT_PUBACK,
} EventKind;

typedef struct
{
  EventKind  kind;
  guint      generation;   /* which connection it belongs to */
  int        rc;
  char      *topic;
  GBytes    *payload;
} Event;

typedef struct
{
  char       *to;
  char       *type;
  char       *session;
  JsonObject *body;
} Outgoing;

typedef struct
{
  gboolean known;
  gboolean unconfirmed;   /* online before our reconnect, not heard of since */
  gboolean online;
  gint64   epoch;
  gint64   seq;
} Presence;

typedef struct
{
  char   *key;
  gint64  expires_ms;
} ReplayEntry;

struct _NatterSignaling
{
  GObject               parent_instance;

  /* owned references */
  NatterIdentity       *identity;
  struct mosquitto     *mosq;
  GSource              *io_source;
  GSource              *misc_source;
  GSource              *retry_source;
  GSource              *connect_timeout_source;
  GSource              *close_timeout_source;
  GSource              *confirm_source;
  GCancellable         *resolve_cancellable;
  char                 *host;
  char                 *username;
  char                 *password;
  char                 *ca_file;
  char                 *epoch_str;
  GHashTable           *followed;        /* peer id → Presence */
  GHashTable           *inflight;        /* mids of our QoS 1 publishes not yet acknowledged */
  GHashTable           *replay;          /* "from nonce" → ReplayEntry (owned by replay_order) */
  GQueue                replay_order;
  GQueue                events;
  GQueue                outbox;

  /* the watched socket */
  gpointer              io_tag;
  int                   io_fd;
  GIOCondition          io_condition;
  gboolean              saw_writable;    /* this connection's TCP handshake finished */

  guint16               port;
  gboolean              tls;
  gboolean              running;         /* between start and stop */
  gboolean              closing;         /* flushing the DISCONNECT after stop */
  gboolean              processing;
  NatterSignalingState  state;
  guint                 generation;
  guint                 attempt;
  gint64                next_retry;
  char                 *last_error;
  gboolean              refused;       /* this attempt ended in a refused CONNACK */
  double                backoff_scale;
  gint64                epoch;
  gint64                presence_seq;
  guint                 rejected_count;
  guint                 replay_count;
};

enum {
  PROP_0,
  PROP_IDENTITY,
  PROP_STATE,
  PROP_NEXT_RETRY,
  PROP_BACKOFF_SCALE,
  PROP_REJECTED_COUNT,
  PROP_LAST_ERROR,
  N_PROPS
};

enum {
  ENVELOPE_RECEIVED,
  PRESENCE_CHANGED,
  N_SIGNALS
};

/* natter-signaling.c: the GObject and the helpers every piece uses. */
extern GParamSpec        *_natter_signaling_properties[N_PROPS];
extern guint              _natter_signaling_signals[N_SIGNALS];
/* Our own topics; the definition's initializer must have as many. */
extern const char * const _natter_signaling_direct_kinds[4];

void                      _natter_signaling_event_free        (Event           *event);
void                      _natter_signaling_outgoing_free     (Outgoing        *out);
void                      _natter_signaling_replay_entry_free (ReplayEntry     *entry);
void                      _natter_signaling_clear_source      (GSource        **source);
const char               *_natter_signaling_own_id            (NatterSignaling *self);
char                     *_natter_signaling_topic_for         (const char      *peer_id,
                                                               const char      *kind);
gint64                    _natter_signaling_now_ms            (void);
const char               *_natter_signaling_mosq_error_string (int              rc);

/* natter-signaling-watch.c: libmosquitto's callbacks and the socket watch. */
typedef struct
{
  GSource          source;
  NatterSignaling *self;   /* unowned: dispose destroys the source */
} IoSource;

extern GSourceFuncs       _natter_signaling_io_source_funcs;

void                      _natter_signaling_push_event        (NatterSignaling *self,
                                                               EventKind        kind,
                                                               int              rc,
                                                               const char      *topic,
                                                               GBytes          *payload);
void                      _natter_signaling_on_connect        (struct mosquitto *mosq,
                                                               void             *user_data,
                                                               int               rc);
void                      _natter_signaling_on_disconnect     (struct mosquitto *mosq,
                                                               void             *user_data,
                                                               int               rc);
void                      _natter_signaling_on_publish        (struct mosquitto *mosq,
                                                               void             *user_data,
                                                               int               mid);
void                      _natter_signaling_on_message        (struct mosquitto                *mosq,
                                                               void                            *user_data,
                                                               const struct mosquitto_message  *message);
void                      _natter_signaling_update_io         (NatterSignaling *self);
void                      _natter_signaling_check_rc          (NatterSignaling *self,
                                                               int              rc);

/* natter-signaling-connect.c: connecting, reconnecting, disconnecting. */
void                      _natter_signaling_destroy_mosq      (NatterSignaling *self);
void                      _natter_signaling_cancel_resolve    (NatterSignaling *self);
void                      _natter_signaling_handle_connack    (NatterSignaling *self,
                                                               int              rc);
void                      _natter_signaling_handle_disconnect (NatterSignaling *self,
                                                               int              rc);

/* natter-signaling-out.c: presence and envelopes out. */
GBytes                   *_natter_signaling_build_presence    (NatterSignaling *self,
                                                               const char      *status);
void                      _natter_signaling_publish_presence  (NatterSignaling *self,
                                                               const char      *status);
void                      _natter_signaling_flush_outbox      (NatterSignaling *self);
void                      _natter_signaling_subscribe         (NatterSignaling *self,
                                                               const char      *peer_id,
                                                               const char      *kind);

/* natter-signaling-in.c: envelopes and presence in. Drains the events
 * libmosquitto's callbacks recorded, then updates the socket watch; call it
 * after every libmosquitto call that may have sent or received a packet. */
void                      _natter_signaling_after_io          (NatterSignaling *self);

G_END_DECLS
