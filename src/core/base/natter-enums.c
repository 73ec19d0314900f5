/* natter-enums.c: GTypes of the enums in natter-enums.h. */
#include "natter-enums.h"

G_DEFINE_ENUM_TYPE (NatterSessionState, natter_session_state,
  G_DEFINE_ENUM_VALUE (NATTER_SESSION_NEW, "new"),
  G_DEFINE_ENUM_VALUE (NATTER_SESSION_CONNECTING, "connecting"),
  G_DEFINE_ENUM_VALUE (NATTER_SESSION_CONNECTED, "connected"),
  G_DEFINE_ENUM_VALUE (NATTER_SESSION_DISCONNECTED, "disconnected"),
  G_DEFINE_ENUM_VALUE (NATTER_SESSION_FAILED, "failed"),
  G_DEFINE_ENUM_VALUE (NATTER_SESSION_CLOSED, "closed"))
