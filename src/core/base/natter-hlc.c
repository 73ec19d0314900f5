/* natter-hlc.c: hybrid logical clock that stamps every message (docs/PROTOCOL.md §Clock). */
#define G_LOG_DOMAIN "natter-hlc"

#include "natter-hlc.h"

struct _NatterHlc
{
  GObject             parent_instance;

  NatterHlcClockFunc  clock;
  gpointer            clock_data;

  NatterHlcStamp      last;
};

enum {
  ADVANCED,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

G_DEFINE_FINAL_TYPE (NatterHlc, natter_hlc, G_TYPE_OBJECT)

static const NatterHlcStamp zero_stamp = { 0, 0 };

static gint64
wall_clock_ms (gpointer user_data)
{
  return g_get_real_time () / 1000;
}

static void
natter_hlc_class_init (NatterHlcClass *klass)
{
  /**
   * NatterHlc::advanced:
   *
   * Emitted whenever the clock moved, so the owner can persist it and a
   * restart never goes backwards.
   */
  signals[ADVANCED] = g_signal_new ("advanced",
                                    G_TYPE_FROM_CLASS (klass),
                                    G_SIGNAL_RUN_LAST,
                                    0, NULL, NULL, NULL,
                                    G_TYPE_NONE, 0);
}

static void
natter_hlc_init (NatterHlc *self)
{
  self->clock = wall_clock_ms;
}

NatterHlc *
natter_hlc_new (void)
{
  return g_object_new (NATTER_TYPE_HLC, NULL);
}

/**
 * natter_hlc_set_clock:
 * @func: (nullable): the physical clock, or %NULL for the wall clock
 *
 * Replaces the physical clock (tests inject skewed clocks).
 */
void
natter_hlc_set_clock (NatterHlc          *self,
                      NatterHlcClockFunc  func,
                      gpointer            user_data)
{
  g_return_if_fail (NATTER_IS_HLC (self));

  self->clock = func ? func : wall_clock_ms;
  self->clock_data = user_data;
}

NatterHlcStamp
natter_hlc_get_last (NatterHlc *self)
{
  g_return_val_if_fail (NATTER_IS_HLC (self), zero_stamp);

  return self->last;
}

/**
 * natter_hlc_restore:
 *
 * Seeds the clock with the last persisted stamp; it only ever moves forward.
 */
void
natter_hlc_restore (NatterHlc      *self,
                    NatterHlcStamp  last)
{
  g_return_if_fail (NATTER_IS_HLC (self));

  if (natter_hlc_stamp_compare (last, self->last) > 0)
    self->last = last;
}

/**
 * natter_hlc_send:
 *
 * Stamps a local event: l = max (l, pt); c counts events within one l.
 *
 * Returns: the new stamp
 */
NatterHlcStamp
natter_hlc_send (NatterHlc *self)
{
  gint64 pt;
  gint64 old_l;

  g_return_val_if_fail (NATTER_IS_HLC (self), zero_stamp);

  pt = self->clock (self->clock_data);
  old_l = self->last.l;
  self->last.l = MAX (old_l, pt);
  self->last.c = self->last.l == old_l ? self->last.c + 1 : 0;
  g_signal_emit (self, signals[ADVANCED], 0);
  return self->last;
}

/**
 * natter_hlc_receive:
 * @remote: the stamp carried by a received message
 *
 * Merges a remote stamp. A stamp more than %NATTER_HLC_MAX_AHEAD_MS ahead of
 * our physical clock is quarantined: it is not merged, so one peer with a
 * wrong clock cannot drag every clock forward. The message keeps its stamp
 * (it is part of its id), it just does not move ours.
 *
 * Returns: %FALSE if @remote was quarantined
 */
gboolean
natter_hlc_receive (NatterHlc      *self,
                    NatterHlcStamp  remote)
{
  gint64 pt;
  gint64 old_l;
  gint64 old_c;

  g_return_val_if_fail (NATTER_IS_HLC (self), FALSE);

  pt = self->clock (self->clock_data);
  if (remote.l > pt + NATTER_HLC_MAX_AHEAD_MS || remote.l < 0 || remote.c < 0)
    return FALSE;

  old_l = self->last.l;
  old_c = self->last.c;
  self->last.l = MAX (MAX (old_l, remote.l), pt);
  if (self->last.l == old_l && self->last.l == remote.l)
    self->last.c = MAX (old_c, remote.c) + 1;
  else if (self->last.l == old_l)
    self->last.c = old_c + 1;
  else if (self->last.l == remote.l)
    self->last.c = remote.c + 1;
  else
    self->last.c = 0;
  g_signal_emit (self, signals[ADVANCED], 0);
  return TRUE;
}

int
natter_hlc_stamp_compare (NatterHlcStamp a,
                          NatterHlcStamp b)
{
  if (a.l != b.l)
    return a.l < b.l ? -1 : 1;
  if (a.c != b.c)
    return a.c < b.c ? -1 : 1;
  return 0;
}
