/* natter-test-display.h: a private X server and session bus for GUI tests. */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/* Call once from main(), after g_test_init() and before GTK is initialised.
 * Points the XDG data/config/cache dirs at a temporary home.
 * Starts Xvfb on a free display (so tests never pop up on the developer's
 * desktop and do not depend on it) and a private D-Bus session bus. Without
 * Xvfb, an existing DISPLAY/WAYLAND_DISPLAY is used; without either, GUI tests
 * skip. NATTER_TEST_USE_DISPLAY=1 forces the existing display, to watch. */
void     natter_test_display_setup    (void);
/* Skips the current test (with the reason) when there is no display. */
gboolean natter_test_display_require  (void);
/* Stops what natter_test_display_setup() started. */
void     natter_test_display_teardown (void);

G_END_DECLS
