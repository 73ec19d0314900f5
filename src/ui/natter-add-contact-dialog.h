/* natter-add-contact-dialog.h: asks for a peer id (checked as it is typed) and an optional name. */
#pragma once

#include <adwaita.h>

#include "natter-client.h"

G_BEGIN_DECLS

#define NATTER_TYPE_ADD_CONTACT_DIALOG (natter_add_contact_dialog_get_type ())
G_DECLARE_FINAL_TYPE (NatterAddContactDialog, natter_add_contact_dialog, NATTER, ADD_CONTACT_DIALOG, AdwWindow)

GtkWidget *natter_add_contact_dialog_new (GtkWindow    *parent,
                                          NatterClient *client);

G_END_DECLS
