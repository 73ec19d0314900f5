/* natter-peer-attempt.c: one webrtcbin per attempt: callbacks, DTLS check, chat channel, teardown. */
#define G_LOG_DOMAIN "natter-peer-session"
#define GST_USE_UNSTABLE_API

#include "natter-peer-session-private.h"

#include <string.h>

#include "natter-channel-private.h"
#include "natter-error.h"
#include "natter-sdp.h"

typedef struct
{
  Attempt   *attempt;
  EventKind  kind;
} PromiseContext;

static void session_handle_event (NatterPeerSession *self,
                                  Attempt           *attempt,
                                  Event             *event);

/* ---- small helpers ---------------------------------------------------- */

static void
event_free (Event *event)
{
  g_free (event->candidate);
  g_clear_pointer (&event->promise, gst_promise_unref);
  g_clear_object (&event->object);
  g_free (event);
}

/* ---- Attempt: lifetime and the cross-thread inbox ---------------------- */

static Attempt *
attempt_ref (Attempt *attempt)
{
  g_atomic_ref_count_inc (&attempt->ref_count);
  return attempt;
}

void
_natter_peer_attempt_unref (gpointer data)
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
  _natter_peer_attempt_unref (data);
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
  _natter_peer_attempt_unref (attempt);
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

  _natter_peer_attempt_unref (ctx->attempt);
  g_free (ctx);
}

GstPromise *
_natter_peer_attempt_new_promise (Attempt   *attempt,
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

void
_natter_peer_attempt_destroy_source (GSource **source)
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

  g_source_set_callback (source, func, attempt_ref (attempt), _natter_peer_attempt_unref);
  g_source_attach (source, attempt->context);
  return source;
}

NatterPeerSession *
_natter_peer_attempt_get_current_session (Attempt *attempt)
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
void
_natter_peer_attempt_shutdown (Attempt *attempt)
{
  attempt->torn_down = TRUE;
  _natter_peer_attempt_destroy_source (&attempt->bus_source);
  _natter_peer_attempt_destroy_source (&attempt->batch_source);
  _natter_peer_attempt_destroy_source (&attempt->timeout_source);

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
on_connect_timeout (gpointer data)
{
  Attempt *attempt = data;
  g_autoptr(NatterPeerSession) self = _natter_peer_attempt_get_current_session (attempt);

  g_clear_pointer (&attempt->timeout_source, g_source_unref);
  if (self != NULL && !attempt->channel_open)
    _natter_peer_session_fail (self, "no connection before the timeout");
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

  self = _natter_peer_attempt_get_current_session (attempt);
  gst_message_parse_error (message, &error, NULL);
  if (self != NULL)
    {
      g_clear_pointer (&attempt->bus_source, g_source_unref);
      _natter_peer_session_fail (self, error->message);
      return G_SOURCE_REMOVE;
    }
  return G_SOURCE_CONTINUE;
}

/* The chat channel is activated only after the DTLS check, so all it
 * reports belongs to a verified connection. Main context. */
static void
on_chat_state (NatterChannel *chat,
               GParamSpec    *pspec,
               Attempt       *attempt)
{
  g_autoptr(NatterPeerSession) self = _natter_peer_attempt_get_current_session (attempt);

  /* Closed by the peer or with an error, after whatever it still held. */
  if (self != NULL && natter_channel_get_state (chat) == NATTER_CHANNEL_CLOSED)
    _natter_peer_session_end_attempt (self, NATTER_SESSION_DISCONNECTED);
}

static void
on_chat_message (NatterChannel *chat,
                 GBytes        *data,
                 Attempt       *attempt)
{
  g_autoptr(NatterPeerSession) self = _natter_peer_attempt_get_current_session (attempt);

  if (self != NULL)
    g_signal_emit (self, _natter_peer_session_signals[FRAME_RECEIVED], 0, data);
}

static void
on_chat_buffered_amount_low (NatterChannel *chat,
                             Attempt       *attempt)
{
  g_autoptr(NatterPeerSession) self = _natter_peer_attempt_get_current_session (attempt);

  if (self != NULL)
    g_signal_emit (self, _natter_peer_session_signals[BUFFERED_AMOUNT_LOW], 0);
}

Attempt *
_natter_peer_attempt_new (NatterPeerSession  *self,
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
  attempt->pending_remote = g_ptr_array_new_with_free_func (_natter_peer_remote_candidate_free);
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
                         attempt_ref (attempt), _natter_peer_attempt_unref);
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
  _natter_peer_attempt_shutdown (attempt);
  _natter_peer_attempt_unref (attempt);
  return NULL;
}

/* ---- handling GStreamer events on the main context ---------------------- */

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
  g_signal_emit (self, _natter_peer_session_signals[CHANNEL_ADDED], 0, channel);
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
      _natter_peer_session_publish_description (self, attempt, event->promise);
      break;

    case EVENT_REMOTE_DESCRIPTION_SET:
      _natter_peer_session_remote_description_set (self, attempt, event->promise);
      break;

    case EVENT_ICE_CANDIDATE:
      {
        JsonObject *candidate = json_object_new ();


        json_object_set_int_member (candidate, "mline", event->mline);
        json_object_set_string_member (candidate, "candidate", event->candidate);
        json_array_add_object_element (attempt->local_batch, candidate);
        if (attempt->batch_source == NULL)
          attempt->batch_source = attempt_add_timeout (attempt, ICE_BATCH_DELAY_MS,
                                                       _natter_peer_session_on_batch_timeout);
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
      _natter_peer_session_flush_candidates (self, attempt, TRUE);
      break;

    case EVENT_ICE_CONNECTION_STATE:
      {
        GstWebRTCICEConnectionState ice_state;

        g_object_get (attempt->webrtc, "ice-connection-state", &ice_state, NULL);
        if (ice_state == GST_WEBRTC_ICE_CONNECTION_STATE_FAILED)
          _natter_peer_session_fail (self, "ICE failed");
        else if (ice_state == GST_WEBRTC_ICE_CONNECTION_STATE_DISCONNECTED &&
                 attempt->channel_open)
          _natter_peer_session_end_attempt (self, NATTER_SESSION_DISCONNECTED);
      }
      break;

    case EVENT_CHANNEL_OPEN:
      {
        g_autoptr(GError) error = NULL;

        /* DTLS is up by now; until its certificate is the one the peer
         * signed for, nothing it sends reaches anyone. */
        if (!session_verify_dtls (self, attempt, &error))
          {
            _natter_peer_session_fail (self, error->message);
            break;
          }
        attempt->channel_open = TRUE;
        _natter_peer_attempt_destroy_source (&attempt->timeout_source);
        /* Before CONNECTED, so a "channel-open" handler can send; what the
         * channel holds is delivered after this handler, never inside it. */
        natter_channel_activate_internal (attempt->chat);
        _natter_peer_session_set_state (self, NATTER_SESSION_CONNECTED);
        if (self->attempt != attempt)
          break;
        g_signal_emit (self, _natter_peer_session_signals[CHANNEL_OPEN], 0);
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
        _natter_peer_session_fail (self, "the chat channel closed before it opened");
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
