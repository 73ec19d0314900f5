/* natter-channel.c: an extra webrtcbin data channel whose callbacks are marshalled to the main context. */
#define G_LOG_DOMAIN "natter-channel"
#define GST_USE_UNSTABLE_API

#include <string.h>

#include "natter-channel-private.h"

#include "natter-error.h"
#include "natter-inbox.h"

typedef enum
{
  CHANNEL_EVENT_OPEN,
  CHANNEL_EVENT_CLOSE,
  CHANNEL_EVENT_DATA,
  CHANNEL_EVENT_LOW,
} ChannelEventKind;

typedef struct
{
  ChannelEventKind  kind;
  GBytes           *data;
} ChannelEvent;

struct _NatterChannel
{
  GObject               parent_instance;

  GstWebRTCDataChannel *channel;
  /* What GStreamer's threads hold: never the channel itself (the inbox has
   * only a weak ref to it), so a callback running late cannot resurrect a
   * finished channel. */
  NatterInbox          *inbox;
  char                 *label;
  NatterChannelState    state;
};

G_DEFINE_FINAL_TYPE (NatterChannel, natter_channel, G_TYPE_OBJECT)

enum {
  PROP_0,
  PROP_LABEL,
  PROP_STATE,
  N_PROPS
};

enum {
  MESSAGE,
  BUFFERED_AMOUNT_LOW,
  N_SIGNALS
};

static GParamSpec *properties[N_PROPS];
static guint signals[N_SIGNALS];

G_DEFINE_ENUM_TYPE (NatterChannelState, natter_channel_state,
                    G_DEFINE_ENUM_VALUE (NATTER_CHANNEL_CONNECTING, "connecting"),
                    G_DEFINE_ENUM_VALUE (NATTER_CHANNEL_OPEN, "open"),
                    G_DEFINE_ENUM_VALUE (NATTER_CHANNEL_CLOSED, "closed"))

/* ---- the inbox: any thread -------------------------------------------- */

static void
channel_event_free (ChannelEvent *event)
{
  g_clear_pointer (&event->data, g_bytes_unref);
  g_free (event);
}

static void
inbox_closure_notify (gpointer  data,
                      GClosure *closure)
{
  natter_inbox_unref (data);
}

static void
inbox_post (NatterInbox      *inbox,
            ChannelEventKind  kind,
            GBytes           *data)
{
  ChannelEvent *event = g_new0 (ChannelEvent, 1);

  event->kind = kind;
  event->data = data;
  natter_inbox_post (inbox, event);
}

static void
on_open (GObject     *channel,
         NatterInbox *inbox)
{
  inbox_post (inbox, CHANNEL_EVENT_OPEN, NULL);
}

static void
on_close (GObject     *channel,
          NatterInbox *inbox)
{
  inbox_post (inbox, CHANNEL_EVENT_CLOSE, NULL);
}

static void
on_error (GObject     *channel,
          GError      *error,
          NatterInbox *inbox)
{
  inbox_post (inbox, CHANNEL_EVENT_CLOSE, NULL);
}

static void
on_message_data (GObject     *channel,
                 GBytes      *data,
                 NatterInbox *inbox)
{
  /* webrtcbin hands out NULL for an empty binary message. */
  inbox_post (inbox, CHANNEL_EVENT_DATA, data != NULL ? g_bytes_ref (data) : g_bytes_new (NULL, 0));
}

static void
on_message_string (GObject     *channel,
                   const char  *str,
                   NatterInbox *inbox)
{
  inbox_post (inbox, CHANNEL_EVENT_DATA, g_bytes_new (str, str != NULL ? strlen (str) : 0));
}

static void
on_buffered_amount_low (GObject     *channel,
                        NatterInbox *inbox)
{
  inbox_post (inbox, CHANNEL_EVENT_LOW, NULL);
}

static void
inbox_connect (NatterInbox *inbox,
               gpointer     instance,
               const char  *signal,
               GCallback    callback)
{
  /* Each handler owns a reference: one already running on a streaming
   * thread while we disconnect it keeps the inbox alive. */
  g_signal_connect_data (instance, signal, callback, natter_inbox_ref (inbox),
                         inbox_closure_notify, 0);
}

/* ---- the channel: main context ------------------------------------------ */

static void
natter_channel_set_state (NatterChannel      *self,
                          NatterChannelState  state)
{
  /* CLOSED is final. */
  if (self->state == state || self->state == NATTER_CHANNEL_CLOSED)
    return;
  self->state = state;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_STATE]);
}

/* The inbox's handler: @owner is the channel, held for the call. */
static void
natter_channel_handle_event (GObject     *owner,
                             NatterInbox *inbox,
                             gpointer     data)
{
  NatterChannel *self = NATTER_CHANNEL (owner);
  ChannelEvent *event = data;

  if (self->inbox != inbox || self->state == NATTER_CHANNEL_CLOSED)
    return;

  switch (event->kind)
    {
    case CHANNEL_EVENT_OPEN:
      natter_channel_set_state (self, NATTER_CHANNEL_OPEN);
      break;
    case CHANNEL_EVENT_CLOSE:
      natter_channel_shutdown_internal (self);
      break;
    case CHANNEL_EVENT_DATA:
      g_signal_emit (self, signals[MESSAGE], 0, event->data);
      break;
    case CHANNEL_EVENT_LOW:
      g_signal_emit (self, signals[BUFFERED_AMOUNT_LOW], 0);
      break;
    default:
      g_assert_not_reached ();
    }
}

static void
natter_channel_dispose (GObject *object)
{
  NatterChannel *self = NATTER_CHANNEL (object);

  if (self->channel != NULL)
    {
      g_signal_handlers_disconnect_by_data (self->channel, self->inbox);
      g_clear_object (&self->channel);
    }
  G_OBJECT_CLASS (natter_channel_parent_class)->dispose (object);
}

static void
natter_channel_finalize (GObject *object)
{
  NatterChannel *self = NATTER_CHANNEL (object);

  g_clear_pointer (&self->inbox, natter_inbox_unref);
  g_free (self->label);
  G_OBJECT_CLASS (natter_channel_parent_class)->finalize (object);
}

static void
natter_channel_get_property (GObject    *object,
                             guint       prop_id,
                             GValue     *value,
                             GParamSpec *pspec)
{
  NatterChannel *self = NATTER_CHANNEL (object);

  switch (prop_id)
    {
    case PROP_LABEL:
      g_value_set_string (value, self->label);
      break;
    case PROP_STATE:
      g_value_set_enum (value, self->state);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
natter_channel_class_init (NatterChannelClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = natter_channel_dispose;
  object_class->finalize = natter_channel_finalize;
  object_class->get_property = natter_channel_get_property;

  properties[PROP_LABEL] =
    g_param_spec_string ("label", NULL, NULL, NULL,
                         G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
  properties[PROP_STATE] =
    g_param_spec_enum ("state", NULL, NULL,
                       NATTER_TYPE_CHANNEL_STATE, NATTER_CHANNEL_CONNECTING,
                       G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, properties);

  /**
   * NatterChannel::message:
   * @data: one message from the peer
   */
  signals[MESSAGE] = g_signal_new ("message", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                                   0, NULL, NULL, NULL, G_TYPE_NONE, 1, G_TYPE_BYTES);
  /**
   * NatterChannel::buffered-amount-low:
   *
   * The send queue fell to the threshold: send more.
   */
  signals[BUFFERED_AMOUNT_LOW] = g_signal_new ("buffered-amount-low", G_TYPE_FROM_CLASS (klass),
                                               G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                                               G_TYPE_NONE, 0);
}

static void
natter_channel_init (NatterChannel *self)
{
  self->state = NATTER_CHANNEL_CONNECTING;
}

NatterChannel *
natter_channel_new_internal (GstWebRTCDataChannel *channel,
                             GMainContext         *context,
                             int                   priority)
{
  NatterChannel *self;
  NatterInbox *inbox;

  g_return_val_if_fail (GST_IS_WEBRTC_DATA_CHANNEL (channel), NULL);

  self = g_object_new (NATTER_TYPE_CHANNEL, NULL);
  self->channel = g_object_ref (channel);
  g_object_get (channel, "label", &self->label, NULL);

  /* Gated: nothing is delivered before natter_channel_activate_internal(). */
  inbox = natter_inbox_new (context, priority, "[natter] channel events",
                            G_OBJECT (self), natter_channel_handle_event,
                            (GDestroyNotify) channel_event_free, TRUE);
  self->inbox = inbox;

  inbox_connect (inbox, channel, "on-open", G_CALLBACK (on_open));
  inbox_connect (inbox, channel, "on-close", G_CALLBACK (on_close));
  inbox_connect (inbox, channel, "on-error", G_CALLBACK (on_error));
  inbox_connect (inbox, channel, "on-message-data", G_CALLBACK (on_message_data));
  inbox_connect (inbox, channel, "on-message-string", G_CALLBACK (on_message_string));
  inbox_connect (inbox, channel, "on-buffered-amount-low", G_CALLBACK (on_buffered_amount_low));
  return self;
}

void
natter_channel_activate_internal (NatterChannel *self)
{
  GstWebRTCDataChannelState ready = GST_WEBRTC_DATA_CHANNEL_STATE_CONNECTING;

  g_return_if_fail (NATTER_IS_CHANNEL (self));

  /* A channel the peer opened is usually open before we see it, and
   * "on-open" fired before anyone listened. */
  g_object_get (self->channel, "ready-state", &ready, NULL);
  if (ready == GST_WEBRTC_DATA_CHANNEL_STATE_OPEN)
    natter_channel_set_state (self, NATTER_CHANNEL_OPEN);

  natter_inbox_activate (self->inbox);
}

void
natter_channel_shutdown_internal (NatterChannel *self)
{
  g_return_if_fail (NATTER_IS_CHANNEL (self));

  if (self->channel != NULL)
    g_signal_handlers_disconnect_by_data (self->channel, self->inbox);
  /* What is still queued is dropped, and so is anything posted later. */
  natter_inbox_close (self->inbox);
  natter_channel_set_state (self, NATTER_CHANNEL_CLOSED);
}

const char *
natter_channel_get_label (NatterChannel *self)
{
  g_return_val_if_fail (NATTER_IS_CHANNEL (self), NULL);
  return self->label;
}

NatterChannelState
natter_channel_get_state (NatterChannel *self)
{
  g_return_val_if_fail (NATTER_IS_CHANNEL (self), NATTER_CHANNEL_CLOSED);
  return self->state;
}

/**
 * natter_channel_send:
 * @data: one message, at most %NATTER_MAX_FRAME_SIZE bytes
 *
 * Queues @data for the peer. Never blocks.
 */
gboolean
natter_channel_send (NatterChannel  *self,
                     GBytes         *data,
                     GError        **error)
{
  g_autoptr(GError) local_error = NULL;

  g_return_val_if_fail (NATTER_IS_CHANNEL (self), FALSE);
  g_return_val_if_fail (data != NULL, FALSE);

  if (g_bytes_get_size (data) > NATTER_MAX_FRAME_SIZE)
    {
      g_set_error (error, NATTER_ERROR, NATTER_ERROR_TOO_LARGE,
                   "A channel message is limited to %d bytes", NATTER_MAX_FRAME_SIZE);
      return FALSE;
    }
  if (self->state != NATTER_CHANNEL_OPEN)
    {
      g_set_error_literal (error, NATTER_ERROR, NATTER_ERROR_NOT_CONNECTED,
                           "The channel is not open");
      return FALSE;
    }
  if (!gst_webrtc_data_channel_send_data_full (self->channel, data, &local_error))
    {
      g_set_error (error, NATTER_ERROR, NATTER_ERROR_NOT_CONNECTED,
                   "The channel refused the message: %s", local_error->message);
      return FALSE;
    }
  return TRUE;
}

guint64
natter_channel_get_buffered_amount (NatterChannel *self)
{
  guint64 amount = 0;

  g_return_val_if_fail (NATTER_IS_CHANNEL (self), 0);

  if (self->state != NATTER_CHANNEL_CLOSED)
    g_object_get (self->channel, "buffered-amount", &amount, NULL);
  return amount;
}

void
natter_channel_set_buffered_amount_low_threshold (NatterChannel *self,
                                                  guint64        threshold)
{
  g_return_if_fail (NATTER_IS_CHANNEL (self));

  g_object_set (self->channel, "buffered-amount-low-threshold", threshold, NULL);
}

/**
 * natter_channel_close:
 *
 * Closes the channel for both sides; "notify::state" reports CLOSED.
 */
void
natter_channel_close (NatterChannel *self)
{
  g_return_if_fail (NATTER_IS_CHANNEL (self));

  if (self->state == NATTER_CHANNEL_CLOSED)
    return;
  gst_webrtc_data_channel_close (self->channel);
  natter_channel_shutdown_internal (self);
}
