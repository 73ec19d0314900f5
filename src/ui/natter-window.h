/* natter-window.h: the main window (contact sidebar + conversation pane). */
#pragma once

#include <adwaita.h>

#include "natter-application.h"
#include "natter-client.h"

G_BEGIN_DECLS

#define NATTER_TYPE_WINDOW (natter_window_get_type ())
G_DECLARE_FINAL_TYPE (NatterWindow, natter_window, NATTER, WINDOW, AdwApplicationWindow)

NatterWindow   *natter_window_new                      (NatterApplication *application,
                                                        NatterClient      *client);
NatterClient   *natter_window_get_client               (NatterWindow      *self);
NatterIdentity *natter_window_get_identity             (NatterWindow      *self);
GtkWidget      *natter_window_get_conversation_view    (NatterWindow      *self);
gboolean        natter_window_select_contact           (NatterWindow      *self,
                                                        const char        *peer_id);
gboolean        natter_window_is_showing_conversation  (NatterWindow      *self,
                                                        const char        *peer_id);

G_END_DECLS
