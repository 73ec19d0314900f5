/* natter-timeline-model.h: one conversation's events — messages and file transfers — as one list in time order. */
#pragma once

#include <gio/gio.h>

#include "natter-message.h"
#include "natter-transfer.h"

G_BEGIN_DECLS

#define NATTER_TYPE_TIMELINE_MODEL (natter_timeline_model_get_type ())
G_DECLARE_FINAL_TYPE (NatterTimelineModel, natter_timeline_model, NATTER, TIMELINE_MODEL, GObject)

NatterTimelineModel *natter_timeline_model_new                 (GListModel          *messages,
                                                                GListModel          *transfers,
                                                                const char          *conversation);
GListModel          *natter_timeline_model_get_messages        (NatterTimelineModel *self);
guint                natter_timeline_model_get_n_transfers     (NatterTimelineModel *self);
guint                natter_timeline_model_position_of_message (NatterTimelineModel *self,
                                                                guint                message_position);
guint                natter_timeline_model_position_of_transfer
                                                               (NatterTimelineModel *self,
                                                                NatterTransfer      *transfer);

gint64               natter_timeline_item_get_time             (gpointer             item);
gboolean             natter_timeline_same_day                  (gint64               a_ms,
                                                                gint64               b_ms);
char                *natter_timeline_format_day                (gint64               ms);

G_END_DECLS
