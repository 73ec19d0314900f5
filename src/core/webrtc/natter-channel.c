/* natter-channel.c: an extra webrtcbin data channel whose callbacks are marshalled to the main context. */
#define G_LOG_DOMAIN "natter-channel"
#define GST_USE_UNSTABLE_API

#include <string.h>

#include "natter-channel-private.h"

#include "natter-error.h"

/* Bounds the work of one main-loop dispatch, like the session's own inbox. */
#define MAX_EVENTS_PER_DISPATCH 64

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

/* What GStreamer's threads hold: never the channel itself, only a weak ref,
 * so a callback running late cannot resurrect a finished channel. */
typedef struct
{
  gatomicrefcount  ref_count;
  GMutex           lock;
  GQueue           events;
  gboolean         drain_scheduled;
  gboolean         active;
  GMainContext    *context;
  GWeakRef         channel;
} Inbox;

struct _NatterChannel
{
  GObject               parent_instance;

  GstWebRTCDataChannel *channel;
  Inbox                *inbox;
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

static Inbox *
inbox_ref (Inbox *inbox)
{
  g_atomic_ref_count_inc (&inbox->ref_count);
  return inbox;
}

static void
inbox_unref (gpointer data)
{
  Inbox *inbox = data;

  if (!g_atomic_ref_count_dec (&inbox->ref_count))
    return;
  g_queue_clear_full (&inbox->events, (GDestroyNotify) channel_event_free);
  g_mutex_clear (&inbox->lock);
  g_weak_ref_clear (&inbox->channel);
  g_main_context_unref (inbox->context);
  g_free (inbox);
}

static void
inbox_closure_notify (gpointer  data,
                      GClosure *closure)
{
  inbox_unref (data);
}

static void natter_channel_handle_event (NatterChannel *self,
                                         ChannelEvent  *event);

static gboolean
inbox_drain (gpointer data)
{
  Inbox *inbox = data;
  g_autoptr(NatterChannel) self = g_weak_ref_get (&inbox->channel);

  for (guint i = 0; i < MAX_EVENTS_PER_DISPATCH; i++)
    {
      ChannelEvent *event;

      g_mutex_lock (&inbox->lock);
      event = g_queue_pop_head (&inbox->events);
      if (event == NULL)
        inbox->drain_scheduled = FALSE;
      g_mutex_unlock (&inbox->lock);

      if (event == NULL)
        return G_SOURCE_REMOVE;
      if (self != NULL && self->inbox == inbox)
        natter_channel_handle_event (self, event);
      channel_event_free (event);
    }
  return G_SOURCE_CONTINUE;
}

/* Caller holds the lock. */
static gboolean
inbox_needs_drain_locked (Inbox *inbox)
{
  gboolean schedule = inbox->active && !inbox->drain_scheduled && inbox->events.length > 0;

  if (schedule)
    inbox->drain_scheduled = TRUE;
  return schedule;
}

static void
inbox_schedule_drain (Inbox *inbox)
{
  g_autoptr(GSource) source = g_idle_source_new ();

  /* Always an idle, even on the main thread: never re-enter a caller that
   * is inside a webrtcbin action. */
  g_source_set_callback (source, inbox_drain, inbox_ref (inbox), inbox_unref);
  g_source_set_static_name (source, "[natter] channel events");
  g_source_attach (source, inbox->context);
}

static void
inbox_post (Inbox            *inbox,
            ChannelEventKind  kind,
            GBytes           *data)
{
  ChannelEvent *event = g_new0 (ChannelEvent, 1);
  gboolean schedule;

  event->kind = kind;
  event->data = data;
  g_mutex_lock (&inbox->lock);
  g_queue_push_tail (&inbox->events, event);
  schedule = inbox_needs_drain_locked (inbox);
  g_mutex_unlock (&inbox->lock);
  if (schedule)
    inbox_schedule_drain (inbox);
}

static void
on_open (GObject *channel,
         Inbox   *inbox)
{
  inbox_post (inbox, CHANNEL_EVENT_OPEN, NULL);
}

static void
on_close (GObject *channel,
          Inbox   *inbox)
{
  inbox_post (inbox, CHANNEL_EVENT_CLOSE, NULL);
}

static void
on_error (GObject *channel,
          GError  *error,
          Inbox   *inbox)
{
  inbox_post (inbox, CHANNEL_EVENT_CLOSE, NULL);
}

static void
on_message_data (GObject *channel,
                 GBytes  *data,
                 Inbox   *inbox)
{
  /* webrtcbin hands out NULL for an empty binary message. */
  inbox_post (inbox, CHANNEL_EVENT_DATA, data != NULL ? g_bytes_ref (data) : g_bytes_new (NULL, 0));
}

static void
on_message_string (GObject    *channel,
                   const char *str,
                   Inbox      *inbox)
{
  inbox_post (inbox, CHANNEL_EVENT_DATA, g_bytes_new (str, str != NULL ? strlen (str) : 0));
}

static void
on_buffered_amount_low (GObject *channel,
                        Inbox   *inbox)
{
  inbox_post (inbox, CHANNEL_EVENT_LOW, NULL);
}

static void
inbox_connect (Inbox      *inbox,
               gpointer    instance,
               const char *signal,
               GCallback   callback)
{
  g_signal_connect_data (instance, signal, callback, inbox_ref (inbox), inbox_closure_notify, 0);
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

static void
natter_channel_handle_event (NatterChannel *self,
                             ChannelEvent  *event)
{
  if (self->state == NATTER_CHANNEL_CLOSED)
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

  g_clear_pointer (&self->inbox, inbox_unref);
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
                             GMainContext         *context)
{
  NatterChannel *self;
  Inbox *inbox;

  g_return_val_if_fail (GST_IS_WEBRTC_DATA_CHANNEL (channel), NULL);

  self = g_object_new (NATTER_TYPE_CHANNEL, NULL);
  self->channel = g_object_ref (channel);
  g_object_get (channel, "label", &self->label, NULL);

  inbox = g_new0 (Inbox, 1);
  g_atomic_ref_count_init (&inbox->ref_count);
  g_mutex_init (&inbox->lock);
  g_queue_init (&inbox->events);
  g_weak_ref_init (&inbox->channel, self);
  inbox->context = g_main_context_ref (context);
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
  gboolean schedule;

  g_return_if_fail (NATTER_IS_CHANNEL (self));

  /* A channel the peer opened is usually open before we see it, and
   * "on-open" fired before anyone listened. */
  g_object_get (self->channel, "ready-state", &ready, NULL);
  if (ready == GST_WEBRTC_DATA_CHANNEL_STATE_OPEN)
    natter_channel_set_state (self, NATTER_CHANNEL_OPEN);

  g_mutex_lock (&self->inbox->lock);
  self->inbox->active = TRUE;
  schedule = inbox_needs_drain_locked (self->inbox);
  g_mutex_unlock (&self->inbox->lock);
  if (schedule)
    inbox_schedule_drain (self->inbox);
}

void
natter_channel_shutdown_internal (NatterChannel *self)
{
  g_return_if_fail (NATTER_IS_CHANNEL (self));

  if (self->channel != NULL)
    g_signal_handlers_disconnect_by_data (self->channel, self->inbox);
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
