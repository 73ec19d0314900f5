/* natter-transfer.c: the observable state of one file transfer (a row in the UI and in history). */
#define G_LOG_DOMAIN "natter-transfer"

#include "natter-transfer-private.h"

/* A progress bar needs no more than this; every frame would be 1000 notifies a second. */
#define NOTIFY_INTERVAL_US (100 * 1000)
/* Weight of the newest interval in the smoothed rate. */
#define RATE_SMOOTHING 0.3

enum {
  PROP_0,
  PROP_ID,
  PROP_PEER_ID,
  PROP_DIRECTION,
  PROP_FILE_NAME,
  PROP_SIZE,
  PROP_MIME_TYPE,
  PROP_SHA256,
  PROP_STATE,
  PROP_BYTES_DONE,
  PROP_RATE,
  PROP_ERROR,
  PROP_PATH,
  N_PROPS
};

enum {
  VERIFIED,
  N_SIGNALS
};

static GParamSpec *properties[N_PROPS];
static guint signals[N_SIGNALS];

G_DEFINE_ENUM_TYPE (NatterTransferDirection, natter_transfer_direction,
                    G_DEFINE_ENUM_VALUE (NATTER_TRANSFER_OUTGOING, "outgoing"),
                    G_DEFINE_ENUM_VALUE (NATTER_TRANSFER_INCOMING, "incoming"))

G_DEFINE_ENUM_TYPE (NatterTransferState, natter_transfer_state,
                    G_DEFINE_ENUM_VALUE (NATTER_TRANSFER_PREPARING, "preparing"),
                    G_DEFINE_ENUM_VALUE (NATTER_TRANSFER_OFFERED, "offered"),
                    G_DEFINE_ENUM_VALUE (NATTER_TRANSFER_ACCEPTED, "accepted"),
                    G_DEFINE_ENUM_VALUE (NATTER_TRANSFER_ACTIVE, "active"),
                    G_DEFINE_ENUM_VALUE (NATTER_TRANSFER_PAUSED, "paused"),
                    G_DEFINE_ENUM_VALUE (NATTER_TRANSFER_DONE, "done"),
                    G_DEFINE_ENUM_VALUE (NATTER_TRANSFER_FAILED, "failed"),
                    G_DEFINE_ENUM_VALUE (NATTER_TRANSFER_CANCELLED, "cancelled"),
                    G_DEFINE_ENUM_VALUE (NATTER_TRANSFER_DECLINED, "declined"))

G_DEFINE_FINAL_TYPE (NatterTransfer, natter_transfer, G_TYPE_OBJECT)

static void
natter_transfer_finalize (GObject *object)
{
  NatterTransfer *self = (NatterTransfer *) object;

  g_free (self->id);
  g_free (self->peer_id);
  g_free (self->conversation);
  g_free (self->author);
  g_free (self->file_name);
  g_free (self->mime_type);
  g_free (self->sha256);
  g_free (self->error);
  g_free (self->path);
  g_free (self->partial);

  G_OBJECT_CLASS (natter_transfer_parent_class)->finalize (object);
}

static void
natter_transfer_get_property (GObject    *object,
                              guint       prop_id,
                              GValue     *value,
                              GParamSpec *pspec)
{
  NatterTransfer *self = NATTER_TRANSFER (object);

  switch (prop_id)
    {
    case PROP_ID:
      g_value_set_string (value, self->id);
      break;
    case PROP_PEER_ID:
      g_value_set_string (value, self->peer_id);
      break;
    case PROP_DIRECTION:
      g_value_set_enum (value, self->direction);
      break;
    case PROP_FILE_NAME:
      g_value_set_string (value, self->file_name);
      break;
    case PROP_SIZE:
      g_value_set_uint64 (value, self->size);
      break;
    case PROP_MIME_TYPE:
      g_value_set_string (value, self->mime_type);
      break;
    case PROP_SHA256:
      g_value_set_string (value, self->sha256);
      break;
    case PROP_STATE:
      g_value_set_enum (value, self->state);
      break;
    case PROP_BYTES_DONE:
      g_value_set_uint64 (value, self->bytes_done);
      break;
    case PROP_RATE:
      g_value_set_double (value, self->rate);
      break;
    case PROP_ERROR:
      g_value_set_string (value, self->error);
      break;
    case PROP_PATH:
      g_value_set_string (value, self->path);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
natter_transfer_class_init (NatterTransferClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GParamFlags flags = G_PARAM_READABLE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY;

  object_class->finalize = natter_transfer_finalize;
  object_class->get_property = natter_transfer_get_property;

  properties[PROP_ID] = g_param_spec_string ("id", NULL, NULL, NULL, flags);
  properties[PROP_PEER_ID] = g_param_spec_string ("peer-id", NULL, NULL, NULL, flags);
  properties[PROP_DIRECTION] = g_param_spec_enum ("direction", NULL, NULL,
                                                  NATTER_TYPE_TRANSFER_DIRECTION,
                                                  NATTER_TRANSFER_OUTGOING, flags);
  properties[PROP_FILE_NAME] = g_param_spec_string ("file-name", NULL, NULL, NULL, flags);
  properties[PROP_SIZE] = g_param_spec_uint64 ("size", NULL, NULL, 0, G_MAXUINT64, 0, flags);
  properties[PROP_MIME_TYPE] = g_param_spec_string ("mime-type", NULL, NULL, NULL, flags);
  properties[PROP_SHA256] = g_param_spec_string ("sha256", NULL, NULL, NULL, flags);
  properties[PROP_STATE] = g_param_spec_enum ("state", NULL, NULL, NATTER_TYPE_TRANSFER_STATE,
                                              NATTER_TRANSFER_PREPARING, flags);
  properties[PROP_BYTES_DONE] = g_param_spec_uint64 ("bytes-done", NULL, NULL,
                                                     0, G_MAXUINT64, 0, flags);
  properties[PROP_RATE] = g_param_spec_double ("rate", NULL, NULL, 0, G_MAXDOUBLE, 0, flags);
  properties[PROP_ERROR] = g_param_spec_string ("error", NULL, NULL, NULL, flags);
  properties[PROP_PATH] = g_param_spec_string ("path", NULL, NULL, NULL, flags);
  g_object_class_install_properties (object_class, N_PROPS, properties);

  /**
   * NatterTransfer::verified:
   * @offset: bytes of the partial file that verified; the transfer continues here
   * @found: bytes that were in the partial file before the check
   */
  signals[VERIFIED] = g_signal_new ("verified", G_TYPE_FROM_CLASS (klass),
                                    G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                                    G_TYPE_NONE, 2, G_TYPE_INT64, G_TYPE_INT64);
}

static void
natter_transfer_init (NatterTransfer *self)
{
}

NatterTransfer *
_natter_transfer_new (void)
{
  return g_object_new (NATTER_TYPE_TRANSFER, NULL);
}

static void
update_rate (NatterTransfer *self,
             gint64          now)
{
  double interval_s = (now - self->notified_us) / (double) G_USEC_PER_SEC;
  double sample;

  if (self->notified_us == 0 || interval_s <= 0 || self->bytes_done < self->notified_bytes)
    return;
  sample = (self->bytes_done - self->notified_bytes) / interval_s;
  self->rate = self->rate == 0 ? sample : RATE_SMOOTHING * sample + (1 - RATE_SMOOTHING) * self->rate;
}

void
_natter_transfer_set_state (NatterTransfer      *self,
                            NatterTransferState  state)
{
  g_return_if_fail (NATTER_IS_TRANSFER (self));

  if (self->state == state)
    return;
  self->state = state;
  g_object_freeze_notify (G_OBJECT (self));
  if (state != NATTER_TRANSFER_ACTIVE && self->rate != 0)
    {
      self->rate = 0;
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_RATE]);
    }
  /* The rate restarts from the first interval of the next run. */
  self->notified_us = 0;
  if (state != NATTER_TRANSFER_FAILED && self->error != NULL)
    _natter_transfer_set_error (self, NULL);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_STATE]);
  g_object_thaw_notify (G_OBJECT (self));
}

void
_natter_transfer_set_bytes_done (NatterTransfer *self,
                                 guint64         bytes,
                                 gboolean        force)
{
  gint64 now;

  if (self->bytes_done == bytes && !force)
    return;
  self->bytes_done = bytes;
  now = g_get_monotonic_time ();
  if (!force && self->notified_us != 0 && now - self->notified_us < NOTIFY_INTERVAL_US)
    return;

  g_object_freeze_notify (G_OBJECT (self));
  if (self->state == NATTER_TRANSFER_ACTIVE)
    {
      double before = self->rate;

      update_rate (self, now);
      if (self->rate != before)
        g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_RATE]);
    }
  self->notified_us = now;
  self->notified_bytes = bytes;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_BYTES_DONE]);
  g_object_thaw_notify (G_OBJECT (self));
}

void
_natter_transfer_set_error (NatterTransfer *self,
                            const char     *error)
{
  if (g_strcmp0 (self->error, error) == 0)
    return;
  g_free (self->error);
  self->error = g_strdup (error);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_ERROR]);
}

void
_natter_transfer_set_path (NatterTransfer *self,
                           const char     *path)
{
  if (g_strcmp0 (self->path, path) == 0)
    return;
  g_free (self->path);
  self->path = g_strdup (path);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_PATH]);
}

void
_natter_transfer_set_sha256 (NatterTransfer *self,
                             const char     *sha256)
{
  if (g_strcmp0 (self->sha256, sha256) == 0)
    return;
  g_free (self->sha256);
  self->sha256 = g_strdup (sha256);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_SHA256]);
}

void
_natter_transfer_emit_verified (NatterTransfer *self,
                                guint64         offset,
                                guint64         found)
{
  g_signal_emit (self, signals[VERIFIED], 0, (gint64) offset, (gint64) found);
}

const char *
natter_transfer_get_id (NatterTransfer *self)
{
  g_return_val_if_fail (NATTER_IS_TRANSFER (self), NULL);
  return self->id;
}

const char *
natter_transfer_get_peer_id (NatterTransfer *self)
{
  g_return_val_if_fail (NATTER_IS_TRANSFER (self), NULL);
  return self->peer_id;
}

const char *
natter_transfer_get_conversation (NatterTransfer *self)
{
  g_return_val_if_fail (NATTER_IS_TRANSFER (self), NULL);
  return self->conversation;
}

NatterTransferDirection
natter_transfer_get_direction (NatterTransfer *self)
{
  g_return_val_if_fail (NATTER_IS_TRANSFER (self), NATTER_TRANSFER_OUTGOING);
  return self->direction;
}

const char *
natter_transfer_get_file_name (NatterTransfer *self)
{
  g_return_val_if_fail (NATTER_IS_TRANSFER (self), NULL);
  return self->file_name;
}

guint64
natter_transfer_get_size (NatterTransfer *self)
{
  g_return_val_if_fail (NATTER_IS_TRANSFER (self), 0);
  return self->size;
}

const char *
natter_transfer_get_mime_type (NatterTransfer *self)
{
  g_return_val_if_fail (NATTER_IS_TRANSFER (self), NULL);
  return self->mime_type;
}

const char *
natter_transfer_get_sha256 (NatterTransfer *self)
{
  g_return_val_if_fail (NATTER_IS_TRANSFER (self), NULL);
  return self->sha256;
}

NatterTransferState
natter_transfer_get_state (NatterTransfer *self)
{
  g_return_val_if_fail (NATTER_IS_TRANSFER (self), NATTER_TRANSFER_FAILED);
  return self->state;
}

guint64
natter_transfer_get_bytes_done (NatterTransfer *self)
{
  g_return_val_if_fail (NATTER_IS_TRANSFER (self), 0);
  return self->bytes_done;
}

double
natter_transfer_get_rate (NatterTransfer *self)
{
  g_return_val_if_fail (NATTER_IS_TRANSFER (self), 0);
  return self->rate;
}

gint64
natter_transfer_get_time_left (NatterTransfer *self)
{
  g_return_val_if_fail (NATTER_IS_TRANSFER (self), -1);

  if (self->state != NATTER_TRANSFER_ACTIVE || self->rate < 1 || self->bytes_done > self->size)
    return -1;
  return (gint64) ((self->size - self->bytes_done) / self->rate + 0.5);
}

const char *
natter_transfer_get_error (NatterTransfer *self)
{
  g_return_val_if_fail (NATTER_IS_TRANSFER (self), NULL);
  return self->error;
}

const char *
natter_transfer_get_path (NatterTransfer *self)
{
  g_return_val_if_fail (NATTER_IS_TRANSFER (self), NULL);
  return self->path;
}

gint64
natter_transfer_get_created_at (NatterTransfer *self)
{
  g_return_val_if_fail (NATTER_IS_TRANSFER (self), 0);
  return self->created_at;
}

gboolean
natter_transfer_state_is_final (NatterTransferState state)
{
  return state == NATTER_TRANSFER_DONE || state == NATTER_TRANSFER_CANCELLED ||
         state == NATTER_TRANSFER_DECLINED;
}

const char *
natter_transfer_state_to_string (NatterTransferState state)
{
  static const char * const names[] = {
    "preparing", "offered", "accepted", "active", "paused", "done", "failed", "cancelled",
    "declined",
  };

  return (guint) state < G_N_ELEMENTS (names) ? names[state] : "unknown";
}
