/* natter-transfer-row.h: one file transfer in the timeline: name, size, progress, state and what can be done with it. */
#pragma once

#include <gtk/gtk.h>

#include "natter-client.h"

G_BEGIN_DECLS

#define NATTER_TYPE_TRANSFER_ROW (natter_transfer_row_get_type ())
G_DECLARE_FINAL_TYPE (NatterTransferRow, natter_transfer_row, NATTER, TRANSFER_ROW, GtkWidget)

GtkWidget      *natter_transfer_row_new              (NatterClient      *client);
NatterTransfer *natter_transfer_row_get_transfer     (NatterTransferRow *self);
void            natter_transfer_row_set_transfer     (NatterTransferRow *self,
                                                      NatterTransfer    *transfer);
gboolean        natter_transfer_row_get_show_day     (NatterTransferRow *self);
void            natter_transfer_row_set_show_day     (NatterTransferRow *self,
                                                      gboolean           show_day);

char           *natter_transfer_row_dup_status_text  (NatterTransfer    *transfer);

G_END_DECLS
