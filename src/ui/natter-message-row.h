/* natter-message-row.h: one timeline row: day separator, body, time, delivery state. */
#pragma once

#include <gtk/gtk.h>

#include "natter-message.h"

G_BEGIN_DECLS

#define NATTER_TYPE_MESSAGE_ROW (natter_message_row_get_type ())
G_DECLARE_FINAL_TYPE (NatterMessageRow, natter_message_row, NATTER, MESSAGE_ROW, GtkWidget)

GtkWidget     *natter_message_row_new          (void);
NatterMessage *natter_message_row_get_message  (NatterMessageRow *self);
void           natter_message_row_set_message  (NatterMessageRow *self,
                                                NatterMessage    *message,
                                                gboolean          outgoing);
gboolean       natter_message_row_get_show_day (NatterMessageRow *self);
void           natter_message_row_set_show_day (NatterMessageRow *self,
                                                gboolean          show_day);

char          *natter_message_row_linkify      (const char       *text);

G_END_DECLS
