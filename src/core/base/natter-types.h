/* natter-types.h: forward declarations shared by every core header. */
#pragma once

#include <glib-object.h>

G_BEGIN_DECLS

typedef struct _NatterIdentity     NatterIdentity;
typedef struct _NatterEnvelope     NatterEnvelope;
typedef struct _NatterSignaling    NatterSignaling;
typedef struct _NatterStore        NatterStore;
typedef struct _NatterPeerSession  NatterPeerSession;
typedef struct _NatterChatProtocol NatterChatProtocol;
typedef struct _NatterSync         NatterSync;
typedef struct _NatterHlc          NatterHlc;
typedef struct _NatterContact      NatterContact;
typedef struct _NatterMessage      NatterMessage;
typedef struct _NatterClient       NatterClient;
typedef struct _NatterChannel      NatterChannel;
typedef struct _NatterTransfer     NatterTransfer;

/* Wire limits shared by every layer (docs/PROTOCOL.md). */
#define NATTER_MAX_ENVELOPE_SIZE  65536
#define NATTER_MAX_FRAME_SIZE     65536

G_END_DECLS
