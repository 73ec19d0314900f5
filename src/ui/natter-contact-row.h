/* natter-contact-row.h: one contact in the sidebar (avatar, presence, preview, unread, session). */
#pragma once

#include <adwaita.h>

#include "natter-contact.h"

G_BEGIN_DECLS

#define NATTER_TYPE_CONTACT_ROW (natter_contact_row_get_type ())
G_DECLARE_FINAL_TYPE (NatterContactRow, natter_contact_row, NATTER, CONTACT_ROW, GtkListBoxRow)

GtkWidget     *natter_contact_row_new               (NatterContact    *contact);
NatterContact *natter_contact_row_get_contact       (NatterContactRow *self);
char          *natter_contact_row_dup_status_text   (NatterContact    *contact);

G_END_DECLS
