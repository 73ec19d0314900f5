/* natter-channel.h: one extra data channel of a peer session (a file transfer), on the main context. */
#pragma once

#include <gio/gio.h>

#include "natter-types.h"

G_BEGIN_DECLS

typedef enum
{
  NATTER_CHANNEL_CONNECTING,
  NATTER_CHANNEL_OPEN,
  NATTER_CHANNEL_CLOSED,        /* closed by either side or with its session; final */
} NatterChannelState;

#define NATTER_TYPE_CHANNEL_STATE (natter_channel_state_get_type ())
GType natter_channel_state_get_type (void) G_GNUC_CONST;

#define NATTER_TYPE_CHANNEL (natter_channel_get_type ())

G_DECLARE_FINAL_TYPE (NatterChannel, natter_channel, NATTER, CHANNEL, GObject)

/* Created by natter_peer_session_create_channel() or announced by the
 * session's "channel-added" signal; never constructed directly.
 *
 * Signals (all emitted on the session's main context):
 *   "message" (GBytes *data)     one binary message from the peer
 *   "buffered-amount-low" ()     the send queue fell to the threshold
 *   notify::state                CONNECTING → OPEN → CLOSED
 */
const char         *natter_channel_get_label                     (NatterChannel  *self);
NatterChannelState  natter_channel_get_state                     (NatterChannel  *self);
/* At most NATTER_MAX_FRAME_SIZE bytes (NATTER_ERROR_TOO_LARGE); the channel
 * must be open (NATTER_ERROR_NOT_CONNECTED). Never blocks: watch
 * get_buffered_amount() and "buffered-amount-low" for backpressure. */
gboolean            natter_channel_send                          (NatterChannel  *self,
                                                                  GBytes         *data,
                                                                  GError        **error);
guint64             natter_channel_get_buffered_amount           (NatterChannel  *self);
void                natter_channel_set_buffered_amount_low_threshold
                                                                 (NatterChannel  *self,
                                                                  guint64         threshold);
void                natter_channel_close                         (NatterChannel  *self);

G_END_DECLS
