/* natter-enums.h: enums that more than one layer speaks of. */
#pragma once

#include <glib-object.h>

G_BEGIN_DECLS

/**
 * NatterSessionState:
 *
 * The state of the direct connection to one contact, as a #NatterPeerSession
 * reports it and a #NatterContact shows it.
 */
typedef enum
{
  NATTER_SESSION_NEW,
  NATTER_SESSION_CONNECTING,
  NATTER_SESSION_CONNECTED,     /* the chat channel is open */
  NATTER_SESSION_DISCONNECTED,  /* ICE lost, channel closed or the peer said "bye" */
  NATTER_SESSION_FAILED,        /* ICE failed or no connection within the timeout */
  NATTER_SESSION_CLOSED,        /* natter_peer_session_close(); final */
} NatterSessionState;

#define NATTER_TYPE_SESSION_STATE (natter_session_state_get_type ())
GType natter_session_state_get_type (void) G_GNUC_CONST;

G_END_DECLS
