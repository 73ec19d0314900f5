/* natter-contact-details.h: one contact's safety number, presence and management (rename, verify, block, delete). */
#pragma once

#include <adwaita.h>

#include "natter-client.h"

G_BEGIN_DECLS

#define NATTER_TYPE_CONTACT_DETAILS (natter_contact_details_get_type ())
G_DECLARE_FINAL_TYPE (NatterContactDetails, natter_contact_details, NATTER, CONTACT_DETAILS, AdwWindow)

GtkWidget     *natter_contact_details_new         (GtkWindow            *parent,
                                                   NatterClient         *client,
                                                   NatterContact        *contact);
NatterContact *natter_contact_details_get_contact (NatterContactDetails *self);

G_END_DECLS
