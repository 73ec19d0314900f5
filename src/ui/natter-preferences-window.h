/* natter-preferences-window.h: the Preferences window (GSettings: name, broker, STUN/TURN, notifications). */
#pragma once

#include <adwaita.h>

#include "natter-client.h"

G_BEGIN_DECLS

#define NATTER_TYPE_PREFERENCES_WINDOW (natter_preferences_window_get_type ())
G_DECLARE_FINAL_TYPE (NatterPreferencesWindow, natter_preferences_window, NATTER, PREFERENCES_WINDOW, AdwPreferencesWindow)

GtkWidget *natter_preferences_window_new (GtkApplication *application,
                                          NatterClient   *client,
                                          GtkWindow      *parent);

G_END_DECLS
