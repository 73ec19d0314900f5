/* natter-peer-session.c: a contact's webrtcbin: perfect negotiation, batched ICE, chat channel. */
#define G_LOG_DOMAIN "natter-peer-session"
#define GST_USE_UNSTABLE_API

#include "natter-peer-session.h"

#include <string.h>

#include <gst/gst.h>
#include <gst/sdp/sdp.h>
#include <gst/webrtc/webrtc.h>

#include "natter-channel-private.h"
#include "natter-error.h"
#include "natter-inbox.h"
#include "natter-sdp.h"

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

typedef struct
{
  guint  mline;
  char  *candidate;
} RemoteCandidate;

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

typedef struct
{
  Attempt   *attempt;
  EventKind  kind;
} PromiseContext;

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

G_DEFINE_FINAL_TYPE (NatterPeerSession, natter_peer_session, G_TYPE_OBJECT)

enum {
  PROP_0,
  PROP_LOCAL_PEER_ID,
  PROP_REMOTE_PEER_ID,
  PROP_ICE_CONFIG,
  PROP_STATE,
  PROP_CONNECT_TIMEOUT,
  N_PROPS
};

enum {
  SIGNAL_OUT,
  FRAME_RECEIVED,
  CHANNEL_OPEN,
  BUFFERED_AMOUNT_LOW,
  CHANNEL_ADDED,
  N_SIGNALS
};

static GParamSpec *properties[N_PROPS];
static guint signals[N_SIGNALS];

static void session_handle_event (NatterPeerSession *self,
                                  Attempt           *attempt,
                                  Event             *event);

/* ---- small helpers ---------------------------------------------------- */

static void
remote_candidate_free (gpointer data)
{
  RemoteCandidate *rc = data;

  g_free (rc->candidate);
  g_free (rc);
}

static void
event_free (Event *event)
{
  g_free (event->candidate);
  g_clear_pointer (&event->promise, gst_promise_unref);
  g_clear_object (&event->object);
  g_free (event);
}

static gboolean
is_valid_session_id (const char *session_id)
{
  gsize len = strlen (session_id);

  if (len == 0 || len > MAX_SESSION_ID_LEN)
    return FALSE;
  for (gsize i = 0; i < len; i++)
    if (!g_ascii_isalnum (session_id[i]) && session_id[i] != '-' && session_id[i] != '_')
      return FALSE;
  return TRUE;
}

/* ---- Attempt: lifetime and the cross-thread inbox ---------------------- */

static Attempt *
attempt_ref (Attempt *attempt)
{
  g_atomic_ref_count_inc (&attempt->ref_count);
  return attempt;
}

static void
attempt_unref (gpointer data)
{
  Attempt *attempt = data;

  if (!g_atomic_ref_count_dec (&attempt->ref_count))
    return;

  g_assert (attempt->pipeline == NULL);
  g_clear_pointer (&attempt->inbox, natter_inbox_unref);
  g_weak_ref_clear (&attempt->session);
  g_main_context_unref (attempt->context);
  g_clear_pointer (&attempt->local_batch, json_array_unref);
  g_clear_pointer (&attempt->pending_remote, g_ptr_array_unref);
  g_clear_pointer (&attempt->channels, g_ptr_array_unref);
  g_clear_pointer (&attempt->pending_channels, g_ptr_array_unref);
  g_free (attempt->abandoned_offer);
  g_free (attempt->session_id);
  g_free (attempt);
}

static void
attempt_closure_notify (gpointer  data,
                        GClosure *closure)
{
  attempt_unref (data);
}

/* Any thread. The event is handled in order on the main context, never
 * inside this call (see natter_inbox_post()). */
static void
attempt_post (Attempt *attempt,
              Event   *event)
{
  natter_inbox_post (attempt->inbox, event);
}

static void
attempt_post_simple (Attempt   *attempt,
                     EventKind  kind)
{
  Event *event = g_new0 (Event, 1);

  event->kind = kind;
  attempt_post (attempt, event);
}

/* The inbox's handler; @owner is the session, held for the call. Late
 * callbacks of a replaced or closed attempt are dropped here: their inbox is
 * not the current attempt's. */
static void
attempt_handle_event (GObject     *owner,
                      NatterInbox *inbox,
                      gpointer     event)
{
  NatterPeerSession *self = NATTER_PEER_SESSION (owner);
  Attempt *attempt = self->attempt;

  if (attempt == NULL || attempt->inbox != inbox || attempt->torn_down)
    return;
  /* Held for the call: handling may drop the attempt, and what follows
   * compares it with self->attempt. */
  attempt_ref (attempt);
  session_handle_event (self, attempt, event);
  attempt_unref (attempt);
}

/* ---- GStreamer-thread callbacks: they only post events ------------------ */

static void
on_promise_replied (GstPromise *promise,
                    gpointer    data)
{
  PromiseContext *ctx = data;
  Event *event = g_new0 (Event, 1);

  event->kind = ctx->kind;
  event->promise = gst_promise_ref (promise);
  attempt_post (ctx->attempt, event);
}

static void
promise_context_free (gpointer data)
{
  PromiseContext *ctx = data;

  attempt_unref (ctx->attempt);
  g_free (ctx);
}

static GstPromise *
attempt_new_promise (Attempt   *attempt,
                     EventKind  kind)
{
  PromiseContext *ctx = g_new0 (PromiseContext, 1);

  ctx->attempt = attempt_ref (attempt);
  ctx->kind = kind;
  return gst_promise_new_with_change_func (on_promise_replied, ctx, promise_context_free);
}

static void
on_ice_candidate (GstElement *webrtc,
                  guint       mline,
                  const char *candidate,
                  Attempt    *attempt)
{
  Event *event = g_new0 (Event, 1);

  event->kind = EVENT_ICE_CANDIDATE;
  event->mline = mline;
  event->candidate = g_strdup (candidate);
  attempt_post (attempt, event);
}

static void
on_gathering_state (GObject    *object,
                    GParamSpec *pspec,
                    Attempt    *attempt)
{
  /* Read the value later on the main context, never inside webrtcbin's notify. */
  attempt_post_simple (attempt, EVENT_GATHERING_STATE);
}

static void
on_ice_connection_state (GObject    *object,
                         GParamSpec *pspec,
                         Attempt    *attempt)
{
  attempt_post_simple (attempt, EVENT_ICE_CONNECTION_STATE);
}

static void
on_data_channel (GstElement *webrtc,
                 GObject    *channel,
                 Attempt    *attempt)
{
  Event *event = g_new0 (Event, 1);

  /* Wired here, on webrtcbin's thread: the peer may send on it before the
   * main context gets to look at it. */
  event->kind = EVENT_REMOTE_CHANNEL;
  event->object = G_OBJECT (natter_channel_new_internal (GST_WEBRTC_DATA_CHANNEL (channel),
                                                         attempt->context,
                                                         G_PRIORITY_DEFAULT_IDLE));
  attempt_post (attempt, event);
}

/* Until the chat channel is open and verified, it is the attempt that
 * watches it: the NatterChannel wrapping it delivers nothing before. */
static void
on_channel_open (GObject *channel,
                 Attempt *attempt)
{
  attempt_post_simple (attempt, EVENT_CHANNEL_OPEN);
}

static void
on_channel_close (GObject *channel,
                  Attempt *attempt)
{
  attempt_post_simple (attempt, EVENT_CHANNEL_CLOSE);
}

static void
on_channel_error (GObject *channel,
                  GError  *error,
                  Attempt *attempt)
{
  attempt_post_simple (attempt, EVENT_CHANNEL_ERROR);
}

/* ---- Attempt: main-context side --------------------------------------- */

static void
attempt_connect (gpointer    instance,
                 const char *signal,
                 GCallback   callback,
                 Attempt    *attempt)
{
  /* Each handler owns a reference: a handler already running on a streaming
   * thread while we disconnect it keeps its Attempt alive. */
  g_signal_connect_data (instance, signal, callback, attempt_ref (attempt),
                         attempt_closure_notify, 0);
}

static void
attempt_destroy_source (GSource **source)
{
  if (*source != NULL)
    {
      g_source_destroy (*source);
      g_clear_pointer (source, g_source_unref);
    }
}

static GSource *
attempt_add_timeout (Attempt     *attempt,
                     guint        ms,
                     GSourceFunc  func)
{
  GSource *source = g_timeout_source_new (ms);

  g_source_set_callback (source, func, attempt_ref (attempt), attempt_unref);
  g_source_attach (source, attempt->context);
  return source;
}

static NatterPeerSession *
attempt_get_current_session (Attempt *attempt)
{
  NatterPeerSession *self = g_weak_ref_get (&attempt->session);

  if (self != NULL && (self->attempt != attempt || attempt->torn_down))
    g_clear_object (&self);
  return self;
}

/* sctpenc's chain function waits, holding its pad's stream lock, until
 * usrsctp takes more data; towards a dead peer that never happens, and the
 * state change to NULL would wait for that lock forever. FLUSH_START is not
 * serialized: it wakes the waiting chain up without the lock. */
static void
flush_sctp_sender (const GValue *item,
                   gpointer      user_data)
{
  GstElement *element = g_value_get_object (item);
  GstElementFactory *factory = gst_element_get_factory (element);
  GstIterator *pads;
  GValue pad = G_VALUE_INIT;

  if (factory == NULL || g_strcmp0 (GST_OBJECT_NAME (factory), "sctpenc") != 0)
    return;
  pads = gst_element_iterate_sink_pads (element);
  while (gst_iterator_next (pads, &pad) == GST_ITERATOR_OK)
    {
      gst_pad_send_event (g_value_get_object (&pad), gst_event_new_flush_start ());
      g_value_reset (&pad);
    }
  g_value_unset (&pad);
  gst_iterator_free (pads);
}

static void
flush_sctp_senders (GstElement *pipeline)
{
  GstIterator *elements = gst_bin_iterate_recurse (GST_BIN (pipeline));

  while (gst_iterator_foreach (elements, flush_sctp_sender, NULL) == GST_ITERATOR_RESYNC)
    gst_iterator_resync (elements);
  gst_iterator_free (elements);
}

/* Stops every callback path and takes the pipeline down. Main context only:
 * setting webrtcbin to NULL from one of its own threads deadlocks. */
static void
attempt_shutdown (Attempt *attempt)
{
  attempt->torn_down = TRUE;
  attempt_destroy_source (&attempt->bus_source);
  attempt_destroy_source (&attempt->batch_source);
  attempt_destroy_source (&attempt->timeout_source);

  for (guint i = 0; i < attempt->channels->len; i++)
    natter_channel_shutdown_internal (g_ptr_array_index (attempt->channels, i));
  for (guint i = 0; i < attempt->pending_channels->len; i++)
    natter_channel_shutdown_internal (g_ptr_array_index (attempt->pending_channels, i));
  g_ptr_array_set_size (attempt->channels, 0);
  g_ptr_array_set_size (attempt->pending_channels, 0);

  if (attempt->chat != NULL)
    {
      g_signal_handlers_disconnect_by_data (attempt->chat, attempt);
      natter_channel_shutdown_internal (attempt->chat);
    }
  if (attempt->chat_dc != NULL)
    g_signal_handlers_disconnect_by_data (attempt->chat_dc, attempt);
  if (attempt->webrtc != NULL)
    g_signal_handlers_disconnect_by_data (attempt->webrtc, attempt);

  if (attempt->pipeline != NULL)
    {
      flush_sctp_senders (attempt->pipeline);
      gst_element_set_state (attempt->pipeline, GST_STATE_NULL);
    }

  g_clear_object (&attempt->chat);
  g_clear_object (&attempt->chat_dc);
  attempt->webrtc = NULL;
  g_clear_object (&attempt->pipeline);

  /* Queued promise events hold the Attempt through their promise: drop them
   * now (and whatever is posted later) so no reference cycle survives. */
  natter_inbox_close (attempt->inbox);
}

static gboolean
on_bus_message (GstBus     *bus,
                GstMessage *message,
                gpointer    data);
static gboolean on_connect_timeout (gpointer data);
static void on_chat_state (NatterChannel *chat,
                           GParamSpec    *pspec,
                           Attempt       *attempt);
static void on_chat_message (NatterChannel *chat,
                             GBytes        *data,
                             Attempt       *attempt);
static void on_chat_buffered_amount_low (NatterChannel *chat,
                                         Attempt       *attempt);

static Attempt *
attempt_new (NatterPeerSession  *self,
             const char         *session_id,
             gboolean            offerer,
             GError            **error)
{
  Attempt *attempt = g_new0 (Attempt, 1);
  g_autoptr(GstBus) bus = NULL;
  g_autoptr(GstStructure) options = NULL;

  g_atomic_ref_count_init (&attempt->ref_count);
  g_weak_ref_init (&attempt->session, self);
  attempt->inbox = natter_inbox_new (self->context, G_PRIORITY_DEFAULT,
                                     "[natter] peer session events",
                                     G_OBJECT (self), attempt_handle_event,
                                     (GDestroyNotify) event_free, FALSE);
  attempt->context = g_main_context_ref (self->context);
  attempt->session_id = g_strdup (session_id);
  attempt->offerer = offerer;
  attempt->local_batch = json_array_new ();
  attempt->pending_remote = g_ptr_array_new_with_free_func (remote_candidate_free);
  attempt->channels = g_ptr_array_new_with_free_func (g_object_unref);
  attempt->pending_channels = g_ptr_array_new_with_free_func (g_object_unref);

  attempt->pipeline = gst_object_ref_sink (gst_pipeline_new (NULL));
  attempt->webrtc = gst_element_factory_make ("webrtcbin", NULL);
  if (attempt->webrtc == NULL)
    {
      g_set_error (error, NATTER_ERROR, NATTER_ERROR_FAILED,
                   "The GStreamer element webrtcbin is missing (gst-plugins-bad)");
      goto fail;
    }
  /* The pipeline owns webrtcbin from here on. */
  gst_bin_add (GST_BIN (attempt->pipeline), attempt->webrtc);
  g_object_set (attempt->webrtc, "bundle-policy", GST_WEBRTC_BUNDLE_POLICY_MAX_BUNDLE, NULL);

  if (!natter_ice_config_apply (self->ice, attempt->webrtc, error))
    goto fail;

  attempt_connect (attempt->webrtc, "on-ice-candidate", G_CALLBACK (on_ice_candidate), attempt);
  attempt_connect (attempt->webrtc, "notify::ice-gathering-state",
                   G_CALLBACK (on_gathering_state), attempt);
  attempt_connect (attempt->webrtc, "notify::ice-connection-state",
                   G_CALLBACK (on_ice_connection_state), attempt);
  attempt_connect (attempt->webrtc, "on-data-channel", G_CALLBACK (on_data_channel), attempt);
  /* on-negotiation-needed is ignored on purpose: offers start from connect(). */

  bus = gst_pipeline_get_bus (GST_PIPELINE (attempt->pipeline));
  attempt->bus_source = gst_bus_create_watch (bus);
  g_source_set_callback (attempt->bus_source, G_SOURCE_FUNC (on_bus_message),
                         attempt_ref (attempt), attempt_unref);
  g_source_attach (attempt->bus_source, attempt->context);

  if (gst_element_set_state (attempt->pipeline, GST_STATE_PLAYING) == GST_STATE_CHANGE_FAILURE)
    {
      g_set_error (error, NATTER_ERROR, NATTER_ERROR_FAILED, "webrtcbin did not start");
      goto fail;
    }

  /* Pre-negotiated on both sides before any SDP, so the channel opens as soon
   * as SCTP is up, without an in-band DCEP round trip. */
  options = gst_structure_new ("application/data-channel",
                               "ordered", G_TYPE_BOOLEAN, TRUE,
                               "negotiated", G_TYPE_BOOLEAN, TRUE,
                               "id", G_TYPE_INT, CHAT_CHANNEL_ID,
                               NULL);
  g_signal_emit_by_name (attempt->webrtc, "create-data-channel", CHAT_CHANNEL_LABEL, options,
                         &attempt->chat_dc);
  if (attempt->chat_dc == NULL)
    {
      g_set_error (error, NATTER_ERROR, NATTER_ERROR_FAILED, "Could not create the chat channel");
      goto fail;
    }
  /* Wrapped at once, so nothing the peer sends is missed; it is activated
   * only once the DTLS check passed (EVENT_CHANNEL_OPEN). It drains at the
   * attempt's own priority, not at a transfer channel's idle one. */
  attempt->chat = natter_channel_new_internal (attempt->chat_dc, attempt->context,
                                               G_PRIORITY_DEFAULT);
  if (self->low_threshold > 0)
    natter_channel_set_buffered_amount_low_threshold (attempt->chat, self->low_threshold);
  attempt_connect (attempt->chat_dc, "on-open", G_CALLBACK (on_channel_open), attempt);
  attempt_connect (attempt->chat_dc, "on-close", G_CALLBACK (on_channel_close), attempt);
  attempt_connect (attempt->chat_dc, "on-error", G_CALLBACK (on_channel_error), attempt);
  attempt_connect (attempt->chat, "notify::state", G_CALLBACK (on_chat_state), attempt);
  attempt_connect (attempt->chat, "message", G_CALLBACK (on_chat_message), attempt);
  attempt_connect (attempt->chat, "buffered-amount-low",
                   G_CALLBACK (on_chat_buffered_amount_low), attempt);

  attempt->timeout_source = attempt_add_timeout (attempt, self->connect_timeout_ms,
                                                 on_connect_timeout);
  return attempt;

fail:
  attempt_shutdown (attempt);
  attempt_unref (attempt);
  return NULL;
}

/* ---- session state ------------------------------------------------------ */

static void
session_set_state (NatterPeerSession  *self,
                   NatterSessionState  state)
{
  if (self->state == state)
    return;

  g_debug (LOG_PAIR ": %s", self->local_peer_id, self->remote_peer_id,
           g_enum_get_value (g_type_class_peek (NATTER_TYPE_SESSION_STATE), state)->value_nick);
  self->state = state;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_STATE]);
}

/* Removes and returns the candidates that arrived for @session_id before its
 * offer (or answer) did. */
static GPtrArray *
session_take_early_ice (NatterPeerSession *self,
                        const char        *session_id)
{
  GList *link = g_queue_find_custom (&self->early_order, session_id, (GCompareFunc) g_strcmp0);
  gpointer key = NULL;
  gpointer candidates = NULL;

  if (link == NULL)
    return NULL;

  g_queue_delete_link (&self->early_order, link);
  g_hash_table_steal_extended (self->early_ice, session_id, &key, &candidates);
  g_free (key);
  return candidates;
}

static gboolean
session_is_retired (NatterPeerSession *self,
                    const char        *session_id)
{
  return g_queue_find_custom (&self->retired, session_id, (GCompareFunc) g_strcmp0) != NULL;
}

static void
session_retire (NatterPeerSession *self,
                const char        *session_id)
{
  g_autoptr(GPtrArray) early = NULL;

  if (session_is_retired (self, session_id))
    return;

  g_queue_push_tail (&self->retired, g_strdup (session_id));
  while (self->retired.length > MAX_RETIRED_SESSIONS)
    g_free (g_queue_pop_head (&self->retired));

  /* Candidates buffered for it are stale too. */
  early = session_take_early_ice (self, session_id);
}

/* Drops the current attempt (if any). Its session id becomes stale. */
static void
session_drop_attempt (NatterPeerSession *self)
{
  Attempt *attempt = g_steal_pointer (&self->attempt);

  if (attempt == NULL)
    return;

  session_retire (self, attempt->session_id);
  attempt_shutdown (attempt);
  attempt_unref (attempt);
}

static void
session_end_attempt (NatterPeerSession  *self,
                     NatterSessionState  state)
{
  session_drop_attempt (self);
  session_set_state (self, state);
}

static void
session_emit_signal_out (NatterPeerSession *self,
                         const char        *type,
                         const char        *session_id,
                         JsonObject        *body)
{
  g_autoptr(JsonObject) owned = body;

  g_debug (LOG_PAIR ": %s %.8s", self->local_peer_id, self->remote_peer_id, type, session_id);
  g_signal_emit (self, signals[SIGNAL_OUT], 0, type, session_id, owned);
}

static void
session_fail (NatterPeerSession *self,
              const char        *why)
{
  g_message (LOG_PAIR ": failed: %s", self->local_peer_id, self->remote_peer_id, why);
  g_free (self->failure_reason);
  self->failure_reason = g_strdup (why);
  session_end_attempt (self, NATTER_SESSION_FAILED);
}

/* Starts a fresh attempt (a new webrtcbin) and makes it current. */
static Attempt *
session_start_attempt (NatterPeerSession *self,
                       const char        *session_id,
                       gboolean           offerer)
{
  g_autoptr(GError) error = NULL;

  session_drop_attempt (self);
  g_clear_pointer (&self->local_fingerprint, g_free);
  g_clear_pointer (&self->remote_fingerprint, g_free);
  g_clear_pointer (&self->failure_reason, g_free);

  self->attempt = attempt_new (self, session_id, offerer, &error);
  if (self->attempt == NULL)
    {
      session_fail (self, error->message);
      return NULL;
    }

  session_set_state (self, NATTER_SESSION_CONNECTING);
  return self->attempt;
}

/* ---- local ICE candidate batching -------------------------------------- */

static void
session_flush_candidates (NatterPeerSession *self,
                          Attempt           *attempt,
                          gboolean           complete)
{
  JsonObject *body;

  attempt_destroy_source (&attempt->batch_source);

  /* Late candidates after "complete" still go out; an empty batch only
   * when it is the first end-of-candidates. */
  if (json_array_get_length (attempt->local_batch) == 0 && (!complete || attempt->sent_complete))
    return;

  body = json_object_new ();
  json_object_set_array_member (body, "candidates", g_steal_pointer (&attempt->local_batch));
  json_object_set_boolean_member (body, "complete", complete);
  attempt->local_batch = json_array_new ();
  attempt->sent_complete |= complete;
  session_emit_signal_out (self, "ice", attempt->session_id, body);
}

static gboolean
on_batch_timeout (gpointer data)
{
  Attempt *attempt = data;
  g_autoptr(NatterPeerSession) self = attempt_get_current_session (attempt);

  /* The source is being dispatched: forget it before the flush destroys it. */
  g_clear_pointer (&attempt->batch_source, g_source_unref);
  if (self != NULL)
    session_flush_candidates (self, attempt, FALSE);
  return G_SOURCE_REMOVE;
}

static gboolean
on_connect_timeout (gpointer data)
{
  Attempt *attempt = data;
  g_autoptr(NatterPeerSession) self = attempt_get_current_session (attempt);

  g_clear_pointer (&attempt->timeout_source, g_source_unref);
  if (self != NULL && !attempt->channel_open)
    session_fail (self, "no connection before the timeout");
  return G_SOURCE_REMOVE;
}

static gboolean
on_bus_message (GstBus     *bus,
                GstMessage *message,
                gpointer    data)
{
  Attempt *attempt = data;
  g_autoptr(NatterPeerSession) self = NULL;
  g_autoptr(GError) error = NULL;

  if (GST_MESSAGE_TYPE (message) != GST_MESSAGE_ERROR)
    return G_SOURCE_CONTINUE;

  self = attempt_get_current_session (attempt);
  gst_message_parse_error (message, &error, NULL);
  if (self != NULL)
    {
      g_clear_pointer (&attempt->bus_source, g_source_unref);
      session_fail (self, error->message);
      return G_SOURCE_REMOVE;
    }
  return G_SOURCE_CONTINUE;
}

/* ---- remote candidates -------------------------------------------------- */

static void
attempt_add_remote_candidates (Attempt   *attempt,
                               GPtrArray *candidates)
{
  for (guint i = 0; i < candidates->len; i++)
    {
      RemoteCandidate *rc = g_ptr_array_index (candidates, i);

      g_signal_emit_by_name (attempt->webrtc, "add-ice-candidate", rc->mline, rc->candidate);
    }
}

static void
buffer_candidates (GPtrArray *into,
                   GPtrArray *candidates)
{
  while (candidates->len > 0 && into->len < MAX_BUFFERED_CANDIDATES)
    g_ptr_array_add (into, g_ptr_array_steal_index (candidates, 0));
}

/* ---- handling GStreamer events on the main context ---------------------- */

static GstWebRTCSessionDescription *
promise_take_description (GstPromise *promise,
                          const char *field)
{
  GstWebRTCSessionDescription *desc = NULL;
  const GstStructure *reply;

  if (gst_promise_wait (promise) != GST_PROMISE_RESULT_REPLIED)
    return NULL;
  reply = gst_promise_get_reply (promise);
  if (reply == NULL || !gst_structure_has_field (reply, field))
    return NULL;
  gst_structure_get (reply, field, GST_TYPE_WEBRTC_SESSION_DESCRIPTION, &desc, NULL);
  return desc;
}

static void
session_publish_description (NatterPeerSession *self,
                             Attempt           *attempt,
                             GstPromise        *promise)
{
  const char *type = attempt->offerer ? "offer" : "answer";
  g_autoptr(GstWebRTCSessionDescription) desc = promise_take_description (promise, type);
  g_autofree char *text = NULL;
  JsonObject *body;

  if (desc == NULL)
    {
      session_fail (self, attempt->offerer ? "could not create an offer"
                                           : "could not create an answer");
      return;
    }

  g_signal_emit_by_name (attempt->webrtc, "set-local-description", desc, NULL);

  text = gst_sdp_message_as_text (desc->sdp);
  g_free (self->local_fingerprint);
  self->local_fingerprint = natter_sdp_message_get_fingerprint (desc->sdp, NULL);
  body = json_object_new ();
  json_object_set_string_member (body, "sdp", text);
  if (attempt->abandoned_offer != NULL)
    json_object_set_string_member (body, "abandoned", attempt->abandoned_offer);
  session_emit_signal_out (self, type, attempt->session_id, body);
}

static void
session_remote_description_set (NatterPeerSession *self,
                                Attempt           *attempt,
                                GstPromise        *promise)
{
  const GstStructure *reply;

  reply = gst_promise_wait (promise) == GST_PROMISE_RESULT_REPLIED
          ? gst_promise_get_reply (promise) : NULL;
  /* webrtcbin replies with an "error" field when it refuses the SDP. */
  if (reply != NULL && gst_structure_has_field (reply, "error"))
    {
      session_fail (self, "the peer's description was refused");
      return;
    }

  attempt->remote_set = TRUE;
  attempt_add_remote_candidates (attempt, attempt->pending_remote);
  g_ptr_array_set_size (attempt->pending_remote, 0);

  if (!attempt->offerer)
    {
      g_autoptr(GstPromise) answer = attempt_new_promise (attempt, EVENT_ANSWER_CREATED);

      g_signal_emit_by_name (attempt->webrtc, "create-answer", NULL, answer);
    }
}

/* Compares the certificate DTLS actually negotiated with the fingerprint in
 * the peer's signed description. GStreamer's DTLS layer accepts any
 * certificate; this check is what binds the connection to the peer id. */
static gboolean
session_verify_dtls (NatterPeerSession  *self,
                     Attempt            *attempt,
                     GError            **error)
{
  g_autoptr(GObject) sctp = NULL;
  g_autoptr(GObject) dtls = NULL;
  g_autofree char *pem = NULL;
  g_autofree char *actual = NULL;

  if (self->remote_fingerprint == NULL)
    {
      g_set_error_literal (error, NATTER_ERROR, NATTER_ERROR_REFUSED,
                           "the peer's description had no DTLS fingerprint");
      return FALSE;
    }
  g_object_get (attempt->webrtc, "sctp-transport", &sctp, NULL);
  if (sctp != NULL)
    g_object_get (sctp, "transport", &dtls, NULL);
  if (dtls != NULL)
    g_object_get (dtls, "remote-certificate", &pem, NULL);
  if (pem == NULL)
    {
      g_set_error_literal (error, NATTER_ERROR, NATTER_ERROR_REFUSED,
                           "DTLS reported no peer certificate");
      return FALSE;
    }
  actual = natter_pem_certificate_fingerprint (pem, error);
  if (actual == NULL)
    return FALSE;
  if (g_ascii_strcasecmp (actual, self->remote_fingerprint) != 0)
    {
      g_set_error_literal (error, NATTER_ERROR, NATTER_ERROR_REFUSED,
                           "the peer's DTLS certificate does not match its signed fingerprint");
      return FALSE;
    }
  return TRUE;
}

/* Takes @channel: from here on its events reach whoever "channel-added" gives it to. */
static void
session_announce_channel (NatterPeerSession *self,
                          Attempt           *attempt,
                          NatterChannel     *channel)
{
  g_ptr_array_add (attempt->channels, channel);
  natter_channel_activate_internal (channel);
  g_signal_emit (self, signals[CHANNEL_ADDED], 0, channel);
}

/* The chat channel is activated only after the DTLS check, so all it
 * reports belongs to a verified connection. Main context. */
static void
on_chat_state (NatterChannel *chat,
               GParamSpec    *pspec,
               Attempt       *attempt)
{
  g_autoptr(NatterPeerSession) self = attempt_get_current_session (attempt);

  /* Closed by the peer or with an error, after whatever it still held. */
  if (self != NULL && natter_channel_get_state (chat) == NATTER_CHANNEL_CLOSED)
    session_end_attempt (self, NATTER_SESSION_DISCONNECTED);
}

static void
on_chat_message (NatterChannel *chat,
                 GBytes        *data,
                 Attempt       *attempt)
{
  g_autoptr(NatterPeerSession) self = attempt_get_current_session (attempt);

  if (self != NULL)
    g_signal_emit (self, signals[FRAME_RECEIVED], 0, data);
}

static void
on_chat_buffered_amount_low (NatterChannel *chat,
                             Attempt       *attempt)
{
  g_autoptr(NatterPeerSession) self = attempt_get_current_session (attempt);

  if (self != NULL)
    g_signal_emit (self, signals[BUFFERED_AMOUNT_LOW], 0);
}

static void
session_handle_event (NatterPeerSession *self,
                      Attempt           *attempt,
                      Event             *event)
{
  switch (event->kind)
    {
    case EVENT_OFFER_CREATED:
    case EVENT_ANSWER_CREATED:
      session_publish_description (self, attempt, event->promise);
      break;

    case EVENT_REMOTE_DESCRIPTION_SET:
      session_remote_description_set (self, attempt, event->promise);
      break;

    case EVENT_ICE_CANDIDATE:
      {
        JsonObject *candidate = json_object_new ();


        json_object_set_int_member (candidate, "mline", event->mline);
        json_object_set_string_member (candidate, "candidate", event->candidate);
        json_array_add_object_element (attempt->local_batch, candidate);
        if (attempt->batch_source == NULL)
          attempt->batch_source = attempt_add_timeout (attempt, ICE_BATCH_DELAY_MS,
                                                       on_batch_timeout);
      }
      break;

    case EVENT_GATHERING_STATE:
      {
        GstWebRTCICEGatheringState gathering;

        /* We read the state later than webrtcbin notified it, so this may
         * already say "complete" while handling the earlier "gathering"
         * notify, with the candidates still queued behind us. webrtcbin posts
         * every candidate before it sets "complete" (same thread), so they are
         * all queued by now: flush from the queue's tail, after them. */
        g_object_get (attempt->webrtc, "ice-gathering-state", &gathering, NULL);
        if (gathering == GST_WEBRTC_ICE_GATHERING_STATE_COMPLETE)
          attempt_post_simple (attempt, EVENT_GATHERING_DONE);
      }
      break;

    case EVENT_GATHERING_DONE:
      session_flush_candidates (self, attempt, TRUE);
      break;

    case EVENT_ICE_CONNECTION_STATE:
      {
        GstWebRTCICEConnectionState ice_state;

        g_object_get (attempt->webrtc, "ice-connection-state", &ice_state, NULL);
        if (ice_state == GST_WEBRTC_ICE_CONNECTION_STATE_FAILED)
          session_fail (self, "ICE failed");
        else if (ice_state == GST_WEBRTC_ICE_CONNECTION_STATE_DISCONNECTED &&
                 attempt->channel_open)
          session_end_attempt (self, NATTER_SESSION_DISCONNECTED);
      }
      break;

    case EVENT_CHANNEL_OPEN:
      {
        g_autoptr(GError) error = NULL;

        /* DTLS is up by now; until its certificate is the one the peer
         * signed for, nothing it sends reaches anyone. */
        if (!session_verify_dtls (self, attempt, &error))
          {
            session_fail (self, error->message);
            break;
          }
        attempt->channel_open = TRUE;
        attempt_destroy_source (&attempt->timeout_source);
        /* Before CONNECTED, so a "channel-open" handler can send; what the
         * channel holds is delivered after this handler, never inside it. */
        natter_channel_activate_internal (attempt->chat);
        session_set_state (self, NATTER_SESSION_CONNECTED);
        if (self->attempt != attempt)
          break;
        g_signal_emit (self, signals[CHANNEL_OPEN], 0);
        while (self->attempt == attempt && attempt->pending_channels->len > 0)
          session_announce_channel (self, attempt,
                                    g_ptr_array_steal_index (attempt->pending_channels, 0));
      }
      break;

    case EVENT_CHANNEL_CLOSE:
    case EVENT_CHANNEL_ERROR:
      /* Once open, the chat channel reports its own end (on_chat_state),
       * after the frames it still holds. */
      if (!attempt->channel_open)
        session_fail (self, "the chat channel closed before it opened");
      break;

    case EVENT_REMOTE_CHANNEL:
      {
        NatterChannel *channel = NATTER_CHANNEL (event->object);
        const char *label = natter_channel_get_label (channel);

        if (label == NULL || strlen (label) > MAX_CHANNEL_LABEL_LEN ||
            g_str_equal (label, CHAT_CHANNEL_LABEL) ||
            attempt->channels->len + attempt->pending_channels->len >= MAX_CHANNELS)
          {
            g_info (LOG_PAIR ": refusing a data channel the peer opened",
                    self->local_peer_id, self->remote_peer_id);
            natter_channel_close (channel);
            break;
          }
        if (attempt->channel_open)
          session_announce_channel (self, attempt, g_object_ref (channel));
        else
          g_ptr_array_add (attempt->pending_channels, g_object_ref (channel));
      }
      break;

    default:
      g_assert_not_reached ();
    }
}

/* ---- incoming signaling ------------------------------------------------- */

/* A description without exactly one usable DTLS fingerprint could never be
 * bound to the peer's identity, so it is refused before it costs anything. */
static GstSDPMessage *
parse_sdp_body (NatterPeerSession  *self,
                JsonObject         *body,
                char              **fingerprint)
{
  g_autoptr(GstSDPMessage) sdp = NULL;
  g_autoptr(GError) error = NULL;
  const char *text;

  if (!json_object_has_member (body, "sdp") ||
      json_node_get_value_type (json_object_get_member (body, "sdp")) != G_TYPE_STRING)
    return NULL;
  text = json_object_get_string_member (body, "sdp");

  if (gst_sdp_message_new_from_text (text, &sdp) != GST_SDP_OK ||
      gst_sdp_message_medias_len (sdp) == 0)
    return NULL;
  *fingerprint = natter_sdp_message_get_fingerprint (sdp, &error);
  if (*fingerprint == NULL)
    {
      g_info (LOG_PAIR ": refusing a description: %s",
              self->local_peer_id, self->remote_peer_id, error->message);
      return NULL;
    }
  return g_steal_pointer (&sdp);
}

static GPtrArray *
parse_ice_body (JsonObject *body)
{
  GPtrArray *candidates = g_ptr_array_new_with_free_func (remote_candidate_free);
  JsonNode *node = json_object_get_member (body, "candidates");
  JsonArray *array;

  if (node == NULL || !JSON_NODE_HOLDS_ARRAY (node))
    return candidates;
  array = json_node_get_array (node);

  for (guint i = 0; i < json_array_get_length (array) && i < MAX_BUFFERED_CANDIDATES; i++)
    {
      JsonNode *element = json_array_get_element (array, i);
      JsonObject *object;
      JsonNode *mline, *text;
      RemoteCandidate *rc;

      if (!JSON_NODE_HOLDS_OBJECT (element))
        continue;
      object = json_node_get_object (element);
      mline = json_object_get_member (object, "mline");
      text = json_object_get_member (object, "candidate");
      if (mline == NULL || text == NULL ||
          json_node_get_value_type (mline) != G_TYPE_INT64 ||
          json_node_get_value_type (text) != G_TYPE_STRING ||
          json_node_get_int (mline) < 0 || json_node_get_int (mline) > MAX_MLINE ||
          !g_str_has_prefix (json_node_get_string (text), "candidate:") ||
          strlen (json_node_get_string (text)) > MAX_CANDIDATE_LEN)
        continue;

      rc = g_new0 (RemoteCandidate, 1);
      rc->mline = json_node_get_int (mline);
      rc->candidate = g_strdup (json_node_get_string (text));
      g_ptr_array_add (candidates, rc);
    }

  return candidates;
}

static void
session_handle_offer (NatterPeerSession *self,
                      const char        *session_id,
                      JsonObject        *body)
{
  g_autofree char *fingerprint = NULL;
  g_autoptr(GstSDPMessage) sdp = parse_sdp_body (self, body, &fingerprint);
  g_autofree char *abandoned = NULL;
  Attempt *current = self->attempt;
  Attempt *attempt;
  g_autoptr(GPtrArray) early = NULL;
  g_autoptr(GstPromise) promise = NULL;
  GstWebRTCSessionDescription *desc;

  if (sdp == NULL || session_is_retired (self, session_id) ||
      (current != NULL && g_str_equal (current->session_id, session_id)))
    return;

  /* Glare: we are making an offer too (or waiting for its answer). */
  if (current != NULL && current->offerer && !current->answer_received)
    {
      if (!self->polite)
        {
          g_debug (LOG_PAIR ": ignoring a colliding offer",
                   self->local_peer_id, self->remote_peer_id);
          session_retire (self, session_id);
          return;
        }
      /* Rolling back = a fresh webrtcbin (1.22 has no SDP rollback). The
       * answer names the offer we dropped, so the impolite peer can tell it
       * is stale even if it is delivered late. */
      abandoned = g_strdup (current->session_id);
    }

  /* No collision, or a new offer for an established session (the peer
   * restarted): the new offer replaces whatever we had. */
  attempt = session_start_attempt (self, session_id, FALSE);
  if (attempt == NULL)
    return;
  attempt->abandoned_offer = g_steal_pointer (&abandoned);

  early = session_take_early_ice (self, session_id);
  if (early != NULL)
    buffer_candidates (attempt->pending_remote, early);

  self->remote_fingerprint = g_steal_pointer (&fingerprint);
  desc = gst_webrtc_session_description_new (GST_WEBRTC_SDP_TYPE_OFFER, g_steal_pointer (&sdp));
  promise = attempt_new_promise (attempt, EVENT_REMOTE_DESCRIPTION_SET);
  g_signal_emit_by_name (attempt->webrtc, "set-remote-description", desc, promise);
  gst_webrtc_session_description_free (desc);
}

static void
session_handle_answer (NatterPeerSession *self,
                       const char        *session_id,
                       JsonObject        *body)
{
  g_autoptr(GstSDPMessage) sdp = NULL;
  g_autoptr(GstPromise) promise = NULL;
  g_autofree char *fingerprint = NULL;
  Attempt *attempt = self->attempt;
  GstWebRTCSessionDescription *desc;
  const char *abandoned;
  JsonNode *node;

  if (attempt == NULL || !attempt->offerer || attempt->answer_received ||
      !g_str_equal (attempt->session_id, session_id))
    return;

  sdp = parse_sdp_body (self, body, &fingerprint);
  if (sdp == NULL)
    return;

  /* The polite peer dropped its own colliding offer; if that offer is still
   * on its way to us, it must not replace this connection. */
  node = json_object_get_member (body, "abandoned");
  abandoned = node != NULL && JSON_NODE_HOLDS_VALUE (node) &&
              json_node_get_value_type (node) == G_TYPE_STRING
              ? json_node_get_string (node) : NULL;
  if (abandoned != NULL && is_valid_session_id (abandoned))
    session_retire (self, abandoned);

  attempt->answer_received = TRUE;
  g_free (self->remote_fingerprint);
  self->remote_fingerprint = g_steal_pointer (&fingerprint);
  desc = gst_webrtc_session_description_new (GST_WEBRTC_SDP_TYPE_ANSWER, g_steal_pointer (&sdp));
  promise = attempt_new_promise (attempt, EVENT_REMOTE_DESCRIPTION_SET);
  g_signal_emit_by_name (attempt->webrtc, "set-remote-description", desc, promise);
  gst_webrtc_session_description_free (desc);
}

static void
session_handle_ice (NatterPeerSession *self,
                    const char        *session_id,
                    JsonObject        *body)
{
  g_autoptr(GPtrArray) candidates = parse_ice_body (body);
  Attempt *attempt = self->attempt;
  GPtrArray *early;

  if (attempt != NULL && g_str_equal (attempt->session_id, session_id))
    {
      if (attempt->remote_set)
        attempt_add_remote_candidates (attempt, candidates);
      else
        buffer_candidates (attempt->pending_remote, candidates);
      return;
    }

  if (session_is_retired (self, session_id) || candidates->len == 0)
    return;

  /* Offer and ice travel on different topics, so candidates may overtake
   * their offer: keep a few, for a few session ids. */
  early = g_hash_table_lookup (self->early_ice, session_id);
  if (early == NULL)
    {
      char *key = g_strdup (session_id);

      while (self->early_order.length >= MAX_EARLY_ICE_SESSIONS)
        g_hash_table_remove (self->early_ice, g_queue_pop_head (&self->early_order));

      early = g_ptr_array_new_with_free_func (remote_candidate_free);
      g_hash_table_insert (self->early_ice, key, early);
      g_queue_push_tail (&self->early_order, key);
    }
  buffer_candidates (early, candidates);
}

/**
 * natter_peer_session_handle_signal:
 * @type: "offer", "answer", "ice" or "bye"
 * @session_id: the attempt the signal belongs to
 * @body: the signal's JSON body
 *
 * Feeds one signaling message from the peer into the session. Stale,
 * duplicate and malformed signals are dropped quietly: the transport may
 * deliver twice or out of order.
 */
void
natter_peer_session_handle_signal (NatterPeerSession *self,
                                   const char        *type,
                                   const char        *session_id,
                                   JsonObject        *body)
{
  g_return_if_fail (NATTER_IS_PEER_SESSION (self));
  g_return_if_fail (type != NULL);
  g_return_if_fail (session_id != NULL);
  g_return_if_fail (body != NULL);

  if (self->state == NATTER_SESSION_CLOSED || !is_valid_session_id (session_id))
    return;

  if (g_str_equal (type, "offer"))
    session_handle_offer (self, session_id, body);
  else if (g_str_equal (type, "answer"))
    session_handle_answer (self, session_id, body);
  else if (g_str_equal (type, "ice"))
    session_handle_ice (self, session_id, body);
  else if (g_str_equal (type, "bye"))
    {
      if (self->attempt != NULL && g_str_equal (self->attempt->session_id, session_id))
        session_end_attempt (self, NATTER_SESSION_DISCONNECTED);
    }
  else
    g_debug (LOG_PAIR ": dropping an unknown signal type",
             self->local_peer_id, self->remote_peer_id);
}

/* ---- public API ---------------------------------------------------------- */

/**
 * natter_peer_session_new:
 * @local_peer_id: our peer id
 * @remote_peer_id: the contact's peer id (must differ)
 * @ice: (nullable): ICE settings; %NULL for defaults (host candidates only)
 */
NatterPeerSession *
natter_peer_session_new (const char      *local_peer_id,
                         const char      *remote_peer_id,
                         NatterIceConfig *ice)
{
  g_return_val_if_fail (local_peer_id != NULL && *local_peer_id != '\0', NULL);
  g_return_val_if_fail (remote_peer_id != NULL && *remote_peer_id != '\0', NULL);
  g_return_val_if_fail (g_strcmp0 (local_peer_id, remote_peer_id) != 0, NULL);

  return g_object_new (NATTER_TYPE_PEER_SESSION,
                       "local-peer-id", local_peer_id,
                       "remote-peer-id", remote_peer_id,
                       "ice-config", ice,
                       NULL);
}

/**
 * natter_peer_session_connect:
 *
 * Starts a fresh attempt with our own offer. Does nothing while connecting
 * or connected; after DISCONNECTED or FAILED it builds a new webrtcbin.
 */
void
natter_peer_session_connect (NatterPeerSession *self)
{
  g_autofree char *session_id = NULL;
  g_autoptr(GstPromise) promise = NULL;
  Attempt *attempt;

  g_return_if_fail (NATTER_IS_PEER_SESSION (self));
  g_return_if_fail (self->state != NATTER_SESSION_CLOSED);

  if (self->state == NATTER_SESSION_CONNECTING || self->state == NATTER_SESSION_CONNECTED)
    return;

  session_id = g_uuid_string_random ();
  attempt = session_start_attempt (self, session_id, TRUE);
  if (attempt == NULL)
    return;

  promise = attempt_new_promise (attempt, EVENT_OFFER_CREATED);
  g_signal_emit_by_name (attempt->webrtc, "create-offer", NULL, promise);
}

/**
 * natter_peer_session_send:
 * @frame: at most %NATTER_MAX_FRAME_SIZE bytes
 *
 * Queues @frame on the chat channel. Never blocks: watch
 * natter_peer_session_get_buffered_amount() for backpressure.
 */
gboolean
natter_peer_session_send (NatterPeerSession  *self,
                          GBytes             *frame,
                          GError            **error)
{
  g_return_val_if_fail (NATTER_IS_PEER_SESSION (self), FALSE);
  g_return_val_if_fail (frame != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (g_bytes_get_size (frame) > NATTER_MAX_FRAME_SIZE)
    {
      g_set_error (error, NATTER_ERROR, NATTER_ERROR_TOO_LARGE,
                   "A frame may be at most %d bytes", NATTER_MAX_FRAME_SIZE);
      return FALSE;
    }

  if (self->state != NATTER_SESSION_CONNECTED || self->attempt == NULL ||
      !self->attempt->channel_open)
    {
      g_set_error (error, NATTER_ERROR, NATTER_ERROR_NOT_CONNECTED, "Not connected to the peer");
      return FALSE;
    }

  return natter_channel_send (self->attempt->chat, frame, error);
}

/**
 * natter_peer_session_get_buffered_amount:
 *
 * Bytes queued on the chat channel but not yet handed to SCTP; 0 when not
 * connected.
 */
guint64
natter_peer_session_get_buffered_amount (NatterPeerSession *self)
{
  guint64 amount = 0;

  g_return_val_if_fail (NATTER_IS_PEER_SESSION (self), 0);

  if (self->attempt != NULL && self->attempt->chat != NULL)
    amount = natter_channel_get_buffered_amount (self->attempt->chat);
  return amount;
}

/**
 * natter_peer_session_set_buffered_amount_low_threshold:
 *
 * "buffered-amount-low" is emitted when the buffered amount falls to
 * @threshold; it applies to this and every later attempt.
 */
void
natter_peer_session_set_buffered_amount_low_threshold (NatterPeerSession *self,
                                                       guint64            threshold)
{
  g_return_if_fail (NATTER_IS_PEER_SESSION (self));

  self->low_threshold = threshold;
  if (self->attempt != NULL && self->attempt->chat != NULL)
    natter_channel_set_buffered_amount_low_threshold (self->attempt->chat, threshold);
}

/**
 * natter_peer_session_close:
 *
 * Says "bye" to the peer (if an attempt is under way), tears the connection
 * down and ends in CLOSED for good.
 */
void
natter_peer_session_close (NatterPeerSession *self)
{
  g_return_if_fail (NATTER_IS_PEER_SESSION (self));

  if (self->state == NATTER_SESSION_CLOSED)
    return;

  if (self->attempt != NULL)
    session_emit_signal_out (self, "bye", self->attempt->session_id, json_object_new ());
  session_end_attempt (self, NATTER_SESSION_CLOSED);
}

/**
 * natter_peer_session_set_connect_timeout:
 * @timeout_ms: how long an attempt may take to open the chat channel
 *
 * An attempt that takes longer ends in FAILED. Applies from the next attempt.
 */
void
natter_peer_session_set_connect_timeout (NatterPeerSession *self,
                                         guint              timeout_ms)
{
  g_return_if_fail (NATTER_IS_PEER_SESSION (self));
  g_return_if_fail (timeout_ms > 0);

  if (self->connect_timeout_ms == timeout_ms)
    return;

  self->connect_timeout_ms = timeout_ms;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_CONNECT_TIMEOUT]);
}

guint
natter_peer_session_get_connect_timeout (NatterPeerSession *self)
{
  g_return_val_if_fail (NATTER_IS_PEER_SESSION (self), 0);

  return self->connect_timeout_ms;
}

NatterSessionState
natter_peer_session_get_state (NatterPeerSession *self)
{
  g_return_val_if_fail (NATTER_IS_PEER_SESSION (self), NATTER_SESSION_CLOSED);

  return self->state;
}

/**
 * natter_peer_session_is_polite:
 *
 * The peer with the lexicographically lower peer id is polite: in glare it
 * drops its own offer and answers.
 */
gboolean
natter_peer_session_is_polite (NatterPeerSession *self)
{
  g_return_val_if_fail (NATTER_IS_PEER_SESSION (self), FALSE);

  return self->polite;
}

const char *
natter_peer_session_get_local_peer_id (NatterPeerSession *self)
{
  g_return_val_if_fail (NATTER_IS_PEER_SESSION (self), NULL);

  return self->local_peer_id;
}

const char *
natter_peer_session_get_remote_peer_id (NatterPeerSession *self)
{
  g_return_val_if_fail (NATTER_IS_PEER_SESSION (self), NULL);

  return self->remote_peer_id;
}

/**
 * natter_peer_session_get_session_id:
 *
 * Returns: (nullable): the id of the current attempt
 */
const char *
natter_peer_session_get_session_id (NatterPeerSession *self)
{
  g_return_val_if_fail (NATTER_IS_PEER_SESSION (self), NULL);

  return self->attempt != NULL ? self->attempt->session_id : NULL;
}

/**
 * natter_peer_session_get_local_fingerprint:
 *
 * Returns: (nullable): the `a=fingerprint` value ("sha-256 AB:…") of our
 *   current local description
 */
const char *
natter_peer_session_get_local_fingerprint (NatterPeerSession *self)
{
  g_return_val_if_fail (NATTER_IS_PEER_SESSION (self), NULL);

  return self->local_fingerprint;
}

/**
 * natter_peer_session_get_remote_fingerprint:
 *
 * Returns: (nullable): the `a=fingerprint` value of the peer's current
 *   description, to compare with the DTLS certificate it presents
 */
const char *
natter_peer_session_get_remote_fingerprint (NatterPeerSession *self)
{
  g_return_val_if_fail (NATTER_IS_PEER_SESSION (self), NULL);

  return self->remote_fingerprint;
}

/**
 * natter_peer_session_get_failure_reason:
 *
 * Returns: (nullable): why the last attempt failed, in words for a log or a
 *   details page; %NULL when it did not
 */
const char *
natter_peer_session_get_failure_reason (NatterPeerSession *self)
{
  g_return_val_if_fail (NATTER_IS_PEER_SESSION (self), NULL);

  return self->failure_reason;
}

/**
 * natter_peer_session_create_channel:
 * @label: at most 64 bytes, not "chat"
 *
 * Opens an extra reliable, ordered data channel on the connected session.
 *
 * Returns: (transfer full): the channel (CONNECTING until the peer
 *   acknowledges it), or %NULL with @error set
 */
NatterChannel *
natter_peer_session_create_channel (NatterPeerSession  *self,
                                    const char         *label,
                                    GError            **error)
{
  g_autoptr(GstStructure) options = NULL;
  g_autoptr(GstWebRTCDataChannel) dc = NULL;
  NatterChannel *channel;
  Attempt *attempt;

  g_return_val_if_fail (NATTER_IS_PEER_SESSION (self), NULL);
  g_return_val_if_fail (label != NULL, NULL);

  attempt = self->attempt;
  if (self->state != NATTER_SESSION_CONNECTED || attempt == NULL || !attempt->channel_open)
    {
      g_set_error_literal (error, NATTER_ERROR, NATTER_ERROR_NOT_CONNECTED,
                           "The session is not connected");
      return NULL;
    }
  if (*label == '\0' || strlen (label) > MAX_CHANNEL_LABEL_LEN ||
      g_str_equal (label, CHAT_CHANNEL_LABEL) || !g_utf8_validate (label, -1, NULL))
    {
      g_set_error_literal (error, NATTER_ERROR, NATTER_ERROR_INVALID_INPUT,
                           "Invalid channel label");
      return NULL;
    }
  if (attempt->channels->len >= MAX_CHANNELS)
    {
      g_set_error_literal (error, NATTER_ERROR, NATTER_ERROR_TOO_LARGE,
                           "Too many channels on one session");
      return NULL;
    }

  options = gst_structure_new ("application/data-channel",
                               "ordered", G_TYPE_BOOLEAN, TRUE,
                               NULL);
  g_signal_emit_by_name (attempt->webrtc, "create-data-channel", label, options, &dc);
  if (dc == NULL)
    {
      g_set_error_literal (error, NATTER_ERROR, NATTER_ERROR_FAILED,
                           "webrtcbin could not create the channel");
      return NULL;
    }
  channel = natter_channel_new_internal (dc, attempt->context, G_PRIORITY_DEFAULT_IDLE);
  g_ptr_array_add (attempt->channels, g_object_ref (channel));
  natter_channel_activate_internal (channel);
  return channel;
}

/* ---- GObject ------------------------------------------------------------- */

static void
natter_peer_session_constructed (GObject *object)
{
  NatterPeerSession *self = NATTER_PEER_SESSION (object);

  G_OBJECT_CLASS (natter_peer_session_parent_class)->constructed (object);

  self->polite = g_strcmp0 (self->local_peer_id, self->remote_peer_id) < 0;
  if (self->ice == NULL)
    self->ice = natter_ice_config_new ();
}

static void
natter_peer_session_dispose (GObject *object)
{
  NatterPeerSession *self = NATTER_PEER_SESSION (object);

  /* No "bye" here: only close() speaks to the peer. */
  session_drop_attempt (self);

  G_OBJECT_CLASS (natter_peer_session_parent_class)->dispose (object);
}

static void
natter_peer_session_finalize (GObject *object)
{
  NatterPeerSession *self = NATTER_PEER_SESSION (object);

  g_queue_clear (&self->early_order);
  g_clear_pointer (&self->early_ice, g_hash_table_unref);
  g_queue_clear_full (&self->retired, g_free);
  g_clear_pointer (&self->ice, natter_ice_config_unref);
  g_clear_pointer (&self->context, g_main_context_unref);
  g_free (self->local_peer_id);
  g_free (self->remote_peer_id);
  g_free (self->local_fingerprint);
  g_free (self->remote_fingerprint);
  g_free (self->failure_reason);

  G_OBJECT_CLASS (natter_peer_session_parent_class)->finalize (object);
}

static void
natter_peer_session_get_property (GObject    *object,
                                  guint       prop_id,
                                  GValue     *value,
                                  GParamSpec *pspec)
{
  NatterPeerSession *self = NATTER_PEER_SESSION (object);

  switch (prop_id)
    {
    case PROP_LOCAL_PEER_ID:
      g_value_set_string (value, self->local_peer_id);
      break;

    case PROP_REMOTE_PEER_ID:
      g_value_set_string (value, self->remote_peer_id);
      break;

    case PROP_ICE_CONFIG:
      g_value_set_boxed (value, self->ice);
      break;

    case PROP_STATE:
      g_value_set_enum (value, self->state);
      break;

    case PROP_CONNECT_TIMEOUT:
      g_value_set_uint (value, self->connect_timeout_ms);
      break;

    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
natter_peer_session_set_property (GObject      *object,
                                  guint         prop_id,
                                  const GValue *value,
                                  GParamSpec   *pspec)
{
  NatterPeerSession *self = NATTER_PEER_SESSION (object);

  switch (prop_id)
    {
    case PROP_LOCAL_PEER_ID:
      self->local_peer_id = g_value_dup_string (value);
      break;

    case PROP_REMOTE_PEER_ID:
      self->remote_peer_id = g_value_dup_string (value);
      break;

    case PROP_ICE_CONFIG:
      self->ice = g_value_dup_boxed (value);
      break;

    case PROP_CONNECT_TIMEOUT:
      natter_peer_session_set_connect_timeout (self, g_value_get_uint (value));
      break;

    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
natter_peer_session_class_init (NatterPeerSessionClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->constructed = natter_peer_session_constructed;
  object_class->dispose = natter_peer_session_dispose;
  object_class->finalize = natter_peer_session_finalize;
  object_class->get_property = natter_peer_session_get_property;
  object_class->set_property = natter_peer_session_set_property;

  properties[PROP_LOCAL_PEER_ID] =
    g_param_spec_string ("local-peer-id", NULL, NULL, NULL,
                         G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);
  properties[PROP_REMOTE_PEER_ID] =
    g_param_spec_string ("remote-peer-id", NULL, NULL, NULL,
                         G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);
  properties[PROP_ICE_CONFIG] =
    g_param_spec_boxed ("ice-config", NULL, NULL, NATTER_TYPE_ICE_CONFIG,
                        G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);
  properties[PROP_STATE] =
    g_param_spec_enum ("state", NULL, NULL, NATTER_TYPE_SESSION_STATE, NATTER_SESSION_NEW,
                       G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  properties[PROP_CONNECT_TIMEOUT] =
    g_param_spec_uint ("connect-timeout", NULL, NULL,
                       1, G_MAXUINT, NATTER_PEER_SESSION_CONNECT_TIMEOUT_MS,
                       G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, properties);

  /**
   * NatterPeerSession::signal-out:
   * @type: "offer", "answer", "ice" or "bye"
   * @session_id: the attempt it belongs to
   * @body: the JSON body
   *
   * A signaling message the owner must deliver to the peer, whose side feeds
   * it to natter_peer_session_handle_signal().
   */
  signals[SIGNAL_OUT] =
    g_signal_new ("signal-out", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 3,
                  G_TYPE_STRING, G_TYPE_STRING, JSON_TYPE_OBJECT);

  /**
   * NatterPeerSession::frame-received:
   * @frame: one chat-channel message
   *
   * Emitted on the main context, in the order the peer sent them.
   */
  signals[FRAME_RECEIVED] =
    g_signal_new ("frame-received", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 1, G_TYPE_BYTES);

  /**
   * NatterPeerSession::channel-open:
   *
   * The chat channel of a new connection is open (state is CONNECTED).
   */
  signals[CHANNEL_OPEN] =
    g_signal_new ("channel-open", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 0);

  /**
   * NatterPeerSession::buffered-amount-low:
   *
   * The chat channel's send queue fell to the configured threshold.
   */
  signals[BUFFERED_AMOUNT_LOW] =
    g_signal_new ("buffered-amount-low", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 0);

  /**
   * NatterPeerSession::channel-added:
   * @channel: a data channel the peer opened on the verified connection
   *
   * Keep a reference to use it; it closes when the connection ends.
   */
  signals[CHANNEL_ADDED] =
    g_signal_new ("channel-added", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 1, NATTER_TYPE_CHANNEL);

  /* Sessions are the first thing in the core that needs GStreamer. */
  gst_init (NULL, NULL);
}

static void
natter_peer_session_init (NatterPeerSession *self)
{
  self->context = g_main_context_ref_thread_default ();
  self->connect_timeout_ms = NATTER_PEER_SESSION_CONNECT_TIMEOUT_MS;
  self->early_ice = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                           (GDestroyNotify) g_ptr_array_unref);
  g_queue_init (&self->early_order);
  g_queue_init (&self->retired);
}
