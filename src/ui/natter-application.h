/* natter-application.h: the Natter desktop application (profile, options, windows). */
#pragma once

#include <adwaita.h>

#include "natter-types.h"

G_BEGIN_DECLS

#define NATTER_TYPE_APPLICATION (natter_application_get_type ())
G_DECLARE_FINAL_TYPE (NatterApplication, natter_application, NATTER, APPLICATION, AdwApplication)

NatterApplication   *natter_application_new               (void);
const char          *natter_application_get_profile_dir   (NatterApplication *self);
const char          *natter_application_get_broker_url    (NatterApplication *self);
const char * const  *natter_application_get_ice_addresses (NatterApplication *self);
NatterIdentity      *natter_application_get_identity      (NatterApplication *self);
NatterClient        *natter_application_get_client        (NatterApplication *self);
char                *natter_application_dup_broker_password (NatterApplication *self);
gboolean             natter_application_set_broker_password (NatterApplication  *self,
                                                             const char         *password,
                                                             GError            **error);

G_END_DECLS
