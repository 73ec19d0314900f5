/* test-hlc.c: hybrid logical clock rules, skew quarantine and persistence. */
#include "natter-hlc.h"

typedef struct
{
  gint64 now;
} FakeClock;

static gint64
fake_clock (gpointer data)
{
  return ((FakeClock *) data)->now;
}

static NatterHlc *
hlc_with_clock (FakeClock *clock)
{
  NatterHlc *hlc = natter_hlc_new ();

  natter_hlc_set_clock (hlc, fake_clock, clock);
  return hlc;
}

static void
test_send_monotonic (void)
{
  FakeClock clock = { 1000000 };
  g_autoptr(NatterHlc) hlc = hlc_with_clock (&clock);
  NatterHlcStamp a, b, c;

  a = natter_hlc_send (hlc);
  b = natter_hlc_send (hlc);
  g_assert_cmpint (a.l, ==, 1000000);
  g_assert_cmpint (a.c, ==, 0);
  g_assert_cmpint (b.l, ==, 1000000);
  g_assert_cmpint (b.c, ==, 1);

  /* The wall clock steps back: stamps still increase. */
  clock.now = 500000;
  c = natter_hlc_send (hlc);
  g_assert_cmpint (natter_hlc_stamp_compare (c, b), >, 0);
  g_assert_cmpint (c.l, ==, 1000000);
  g_assert_cmpint (c.c, ==, 2);

  /* The wall clock moves ahead: the counter resets. */
  clock.now = 2000000;
  c = natter_hlc_send (hlc);
  g_assert_cmpint (c.l, ==, 2000000);
  g_assert_cmpint (c.c, ==, 0);
}

static void
test_receive_rules (void)
{
  FakeClock clock = { 1000 };
  g_autoptr(NatterHlc) hlc = hlc_with_clock (&clock);
  NatterHlcStamp last;

  natter_hlc_restore (hlc, (NatterHlcStamp) { 5000, 3 });

  /* l == l' == l.m: c = max (c, c.m) + 1 */
  g_assert_true (natter_hlc_receive (hlc, (NatterHlcStamp) { 5000, 7 }));
  last = natter_hlc_get_last (hlc);
  g_assert_cmpint (last.l, ==, 5000);
  g_assert_cmpint (last.c, ==, 8);

  /* l == l' > l.m: c + 1 */
  g_assert_true (natter_hlc_receive (hlc, (NatterHlcStamp) { 4000, 99 }));
  last = natter_hlc_get_last (hlc);
  g_assert_cmpint (last.l, ==, 5000);
  g_assert_cmpint (last.c, ==, 9);

  /* l.m ahead of both: take it, c = c.m + 1 */
  g_assert_true (natter_hlc_receive (hlc, (NatterHlcStamp) { 6000, 4 }));
  last = natter_hlc_get_last (hlc);
  g_assert_cmpint (last.l, ==, 6000);
  g_assert_cmpint (last.c, ==, 5);

  /* Physical time ahead of everything: c = 0 */
  clock.now = 9000;
  g_assert_true (natter_hlc_receive (hlc, (NatterHlcStamp) { 7000, 1 }));
  last = natter_hlc_get_last (hlc);
  g_assert_cmpint (last.l, ==, 9000);
  g_assert_cmpint (last.c, ==, 0);
}

static void
test_skew_quarantine (void)
{
  const gint64 hour = 3600 * 1000;
  FakeClock clock = { 100 * hour };
  g_autoptr(NatterHlc) hlc = hlc_with_clock (&clock);
  NatterHlcStamp before, after;

  before = natter_hlc_send (hlc);

  /* A peer one hour ahead cannot drag us forward. */
  g_assert_false (natter_hlc_receive (hlc, (NatterHlcStamp) { 101 * hour, 0 }));
  after = natter_hlc_get_last (hlc);
  g_assert_cmpint (natter_hlc_stamp_compare (after, before), ==, 0);

  /* Just inside the window is merged. */
  g_assert_true (natter_hlc_receive (hlc, (NatterHlcStamp) {
    100 * hour + NATTER_HLC_MAX_AHEAD_MS, 0 }));

  /* A peer one hour behind is merged and changes nothing backwards. */
  before = natter_hlc_get_last (hlc);
  g_assert_true (natter_hlc_receive (hlc, (NatterHlcStamp) { 99 * hour, 5 }));
  after = natter_hlc_get_last (hlc);
  g_assert_cmpint (natter_hlc_stamp_compare (after, before), >, 0);
  g_assert_cmpint (after.l, ==, before.l);
}

static void
test_skewed_peers_agree (void)
{
  const gint64 hour = 3600 * 1000;
  FakeClock fast_clock = { 100 * hour };
  FakeClock slow_clock = { 99 * hour };
  g_autoptr(NatterHlc) fast = hlc_with_clock (&fast_clock);
  g_autoptr(NatterHlc) slow = hlc_with_clock (&slow_clock);
  NatterHlcStamp question, answer, slow_before;

  /* Two peers an hour apart cannot tell whose clock is wrong: neither drags
   * the other. The slow peer's answer keeps its own (earlier) stamp, and both
   * sides order the pair the same way, since the order is the stamps'. */
  slow_before = natter_hlc_send (slow);
  question = natter_hlc_send (fast);
  g_assert_false (natter_hlc_receive (slow, question));
  answer = natter_hlc_send (slow);
  g_assert_cmpint (answer.l, ==, slow_before.l);
  g_assert_cmpint (answer.l, <, question.l - hour + NATTER_HLC_MAX_AHEAD_MS);
  g_assert_true (natter_hlc_receive (fast, answer));
  g_assert_cmpint (natter_hlc_get_last (fast).l, ==, 100 * hour);

  /* Within the window they do converge: an answer sorts after its question. */
  slow_clock.now = fast_clock.now - 30 * 1000;
  question = natter_hlc_send (fast);
  g_assert_true (natter_hlc_receive (slow, question));
  answer = natter_hlc_send (slow);
  g_assert_cmpint (natter_hlc_stamp_compare (answer, question), >, 0);
}

static void
test_restore_never_backwards (void)
{
  FakeClock clock = { 10 };
  g_autoptr(NatterHlc) hlc = hlc_with_clock (&clock);
  NatterHlcStamp stamp;
  guint advanced = 0;

  g_signal_connect_swapped (hlc, "advanced", G_CALLBACK (g_atomic_int_inc), &advanced);
  natter_hlc_restore (hlc, (NatterHlcStamp) { 5000, 2 });
  natter_hlc_restore (hlc, (NatterHlcStamp) { 4000, 9 });
  stamp = natter_hlc_send (hlc);
  g_assert_cmpint (stamp.l, ==, 5000);
  g_assert_cmpint (stamp.c, ==, 3);
  g_assert_cmpuint (advanced, ==, 1);
}

int
main (int argc, char *argv[])
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/hlc/send-monotonic", test_send_monotonic);
  g_test_add_func ("/hlc/receive-rules", test_receive_rules);
  g_test_add_func ("/hlc/skew-quarantine", test_skew_quarantine);
  g_test_add_func ("/hlc/skewed-peers-agree", test_skewed_peers_agree);
  g_test_add_func ("/hlc/restore-never-backwards", test_restore_never_backwards);
  return g_test_run ();
}
