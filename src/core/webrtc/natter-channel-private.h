/* natter-channel-private.h: how a peer session creates and ends its channels (chat included). */
#pragma once

#include <gst/webrtc/webrtc.h>

#include "natter-channel.h"

G_BEGIN_DECLS

/* Any thread: wires the GStreamer callbacks at once (so nothing the peer
 * sends is missed), but delivers nothing until activated. Events are handled
 * on @context at @priority: G_PRIORITY_DEFAULT_IDLE for a transfer's
 * channel, G_PRIORITY_DEFAULT for the chat channel (as the rest of its
 * attempt). */
NatterChannel *natter_channel_new_internal      (GstWebRTCDataChannel *channel,
                                                 GMainContext         *context,
                                                 int                   priority);
/* Main context: start delivering events (queued ones first). */
void           natter_channel_activate_internal (NatterChannel        *self);
/* Main context: the connection under it is gone. */
void           natter_channel_shutdown_internal (NatterChannel        *self);

G_END_DECLS
