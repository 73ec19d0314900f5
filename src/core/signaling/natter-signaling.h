/* natter-signaling.h: the MQTT signaling client (topics, presence, reconnect). */
#pragma once

#include <glib-object.h>
#include <json-glib/json-glib.h>

#include "natter-types.h"
#include "natter-identity.h"
#include "natter-envelope.h"

G_BEGIN_DECLS

typedef enum
{
  NATTER_SIGNALING_DISCONNECTED,
  NATTER_SIGNALING_CONNECTING,
  NATTER_SIGNALING_CONNECTED,
} NatterSignalingState;

#define NATTER_TYPE_SIGNALING_STATE (natter_signaling_state_get_type ())
GType natter_signaling_state_get_type (void) G_GNUC_CONST;

#define NATTER_TYPE_SIGNALING (natter_signaling_get_type ())
G_DECLARE_FINAL_TYPE (NatterSignaling, natter_signaling, NATTER, SIGNALING, GObject)

/* Envelopes whose ts is further than this from our clock are refused. */
#define NATTER_SIGNALING_TS_WINDOW_MS   (120 * 1000)
/* Envelopes sent while disconnected wait (at most this many; when full the oldest is dropped). */
#define NATTER_SIGNALING_OUTBOX_MAX     256
#define NATTER_SIGNALING_REPLAY_MAX     4096

gboolean              natter_signaling_parse_broker_url   (const char        *url,
                                                           char             **host,
                                                           guint16           *port,
                                                           gboolean          *tls,
                                                           GError           **error);
const char           *natter_signaling_topic_for_type     (const char        *type);

NatterSignaling      *natter_signaling_new                (NatterIdentity    *identity);
NatterIdentity       *natter_signaling_get_identity       (NatterSignaling   *self);
gboolean              natter_signaling_set_broker         (NatterSignaling   *self,
                                                           const char        *url,
                                                           const char        *username,
                                                           const char        *password,
                                                           const char        *ca_file,
                                                           GError           **error);
void                  natter_signaling_start              (NatterSignaling   *self);
void                  natter_signaling_stop               (NatterSignaling   *self);
NatterSignalingState  natter_signaling_get_state          (NatterSignaling   *self);
gint64                natter_signaling_get_next_retry     (NatterSignaling   *self);
const char           *natter_signaling_get_last_error     (NatterSignaling   *self);
double                natter_signaling_get_backoff_scale  (NatterSignaling   *self);
void                  natter_signaling_set_backoff_scale  (NatterSignaling   *self,
                                                           double             scale);
const char           *natter_signaling_get_epoch          (NatterSignaling   *self);
void                  natter_signaling_follow_presence    (NatterSignaling   *self,
                                                           const char        *peer_id);
void                  natter_signaling_unfollow_presence  (NatterSignaling   *self,
                                                           const char        *peer_id);
gboolean              natter_signaling_is_online          (NatterSignaling   *self,
                                                           const char        *peer_id);
gboolean              natter_signaling_send               (NatterSignaling   *self,
                                                           const char        *to,
                                                           const char        *type,
                                                           const char        *session,
                                                           JsonObject        *body,
                                                           GError           **error);
guint                 natter_signaling_get_rejected_count (NatterSignaling   *self);
guint                 natter_signaling_get_replay_count   (NatterSignaling   *self);
gboolean              natter_signaling_flush              (NatterSignaling   *self,
                                                           guint              timeout_ms);

G_END_DECLS
