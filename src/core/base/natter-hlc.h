/* natter-hlc.h: hybrid logical clock (Kulkarni, Demirbas et al., 2014). */
#pragma once

#include <glib-object.h>

#include "natter-types.h"

G_BEGIN_DECLS

/* A remote stamp further ahead of our physical clock than this is not merged. */
#define NATTER_HLC_MAX_AHEAD_MS (60 * 1000)

typedef struct
{
  gint64 l;   /* ms since the Unix epoch, the largest physical time seen */
  gint64 c;   /* counter that orders events sharing the same l */
} NatterHlcStamp;

/* Returns ms since the Unix epoch; injectable so tests can skew a peer's clock. */
typedef gint64 (*NatterHlcClockFunc) (gpointer user_data);

#define NATTER_TYPE_HLC (natter_hlc_get_type ())
G_DECLARE_FINAL_TYPE (NatterHlc, natter_hlc, NATTER, HLC, GObject)

NatterHlc      *natter_hlc_new           (void);
void            natter_hlc_set_clock     (NatterHlc          *self,
                                          NatterHlcClockFunc  func,
                                          gpointer            user_data);
NatterHlcStamp  natter_hlc_get_last      (NatterHlc          *self);
void            natter_hlc_restore       (NatterHlc          *self,
                                          NatterHlcStamp      last);
NatterHlcStamp  natter_hlc_send          (NatterHlc          *self);
gboolean        natter_hlc_receive       (NatterHlc          *self,
                                          NatterHlcStamp      remote);
int             natter_hlc_stamp_compare (NatterHlcStamp      a,
                                          NatterHlcStamp      b);

G_END_DECLS
