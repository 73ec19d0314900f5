/* natter-profile-error-window.h: shown instead of the main window when a profile cannot be opened. */
#pragma once

#include <adwaita.h>

G_BEGIN_DECLS

#define NATTER_TYPE_PROFILE_ERROR_WINDOW (natter_profile_error_window_get_type ())
G_DECLARE_FINAL_TYPE (NatterProfileErrorWindow, natter_profile_error_window, NATTER, PROFILE_ERROR_WINDOW, AdwApplicationWindow)

NatterProfileErrorWindow *natter_profile_error_window_new (GtkApplication *application,
                                                           const char     *profile_dir,
                                                           const GError   *error);

G_END_DECLS
