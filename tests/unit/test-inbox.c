/* test-inbox.c: the cross-thread inbox keeps order, caps a dispatch, gates, and outlives its owner safely. */
#include "natter-inbox.h"

typedef struct
{
  GArray  *seen;       /* guint, in handling order */
  GThread *thread;     /* where every handler ran */
  guint    handled;
  gboolean wrong_thread;
} Record;

static Record *record_of (GObject *owner) { return g_object_get_data (owner, "record"); }

static gint freed;

static void
event_free (gpointer event)
{
  g_atomic_int_inc (&freed);
  g_free (event);
}

static gpointer
event_new (guint value)
{
  guint *event = g_new (guint, 1);

  *event = value;
  return event;
}

static void
record_event (GObject     *owner,
              NatterInbox *inbox,
              gpointer     event)
{
  Record *record = record_of (owner);

  if (g_thread_self () != record->thread)
    record->wrong_thread = TRUE;
  g_array_append_val (record->seen, *(guint *) event);
  record->handled++;
}

static GObject *
owner_new (Record *record)
{
  GObject *owner = g_object_new (G_TYPE_OBJECT, NULL);

  record->seen = g_array_new (FALSE, FALSE, sizeof (guint));
  record->thread = g_thread_self ();
  g_object_set_data (owner, "record", record);
  return owner;
}

static NatterInbox *
inbox_for (GObject            *owner,
           NatterInboxHandler  handler,
           int                 priority,
           gboolean            gated)
{
  return natter_inbox_new (g_main_context_default (), priority, "test", owner, handler,
                           event_free, gated);
}

static void
drain_all (void)
{
  while (g_main_context_iteration (NULL, FALSE))
    ;
}

static void
test_order (void)
{
  Record record = { 0 };
  g_autoptr(GObject) owner = owner_new (&record);
  g_autoptr(NatterInbox) inbox = inbox_for (owner, record_event, G_PRIORITY_DEFAULT, FALSE);

  freed = 0;
  for (guint i = 0; i < 500; i++)
    natter_inbox_post (inbox, event_new (i));
  /* Never handled inside post. */
  g_assert_cmpuint (record.handled, ==, 0);
  drain_all ();
  g_assert_cmpuint (record.seen->len, ==, 500);
  for (guint i = 0; i < 500; i++)
    g_assert_cmpuint (g_array_index (record.seen, guint, i), ==, i);
  g_assert_cmpint (freed, ==, 500);
  g_array_unref (record.seen);
}

static void
test_cap (void)
{
  Record record = { 0 };
  g_autoptr(GObject) owner = owner_new (&record);
  g_autoptr(NatterInbox) inbox = inbox_for (owner, record_event, G_PRIORITY_DEFAULT, FALSE);

  for (guint i = 0; i < 3 * NATTER_INBOX_MAX_PER_DISPATCH + 5; i++)
    natter_inbox_post (inbox, event_new (i));
  g_main_context_iteration (NULL, FALSE);
  g_assert_cmpuint (record.handled, ==, NATTER_INBOX_MAX_PER_DISPATCH);
  g_main_context_iteration (NULL, FALSE);
  g_assert_cmpuint (record.handled, ==, 2 * NATTER_INBOX_MAX_PER_DISPATCH);
  drain_all ();
  g_assert_cmpuint (record.handled, ==, 3 * NATTER_INBOX_MAX_PER_DISPATCH + 5);
  g_array_unref (record.seen);
}

static void
test_gate (void)
{
  Record record = { 0 };
  g_autoptr(GObject) owner = owner_new (&record);
  g_autoptr(NatterInbox) inbox = inbox_for (owner, record_event, G_PRIORITY_DEFAULT, TRUE);

  for (guint i = 0; i < 10; i++)
    natter_inbox_post (inbox, event_new (i));
  drain_all ();
  g_assert_cmpuint (record.handled, ==, 0);

  natter_inbox_activate (inbox);
  natter_inbox_post (inbox, event_new (10));
  drain_all ();
  g_assert_cmpuint (record.seen->len, ==, 11);
  for (guint i = 0; i < 11; i++)
    g_assert_cmpuint (g_array_index (record.seen, guint, i), ==, i);
  g_array_unref (record.seen);
}

static void
test_close (void)
{
  Record record = { 0 };
  g_autoptr(GObject) owner = owner_new (&record);
  g_autoptr(NatterInbox) inbox = inbox_for (owner, record_event, G_PRIORITY_DEFAULT, FALSE);

  freed = 0;
  for (guint i = 0; i < 10; i++)
    natter_inbox_post (inbox, event_new (i));
  natter_inbox_close (inbox);
  g_assert_cmpint (freed, ==, 10);
  natter_inbox_post (inbox, event_new (99));
  g_assert_cmpint (freed, ==, 11);
  drain_all ();
  g_assert_cmpuint (record.handled, ==, 0);
  g_assert_true (natter_inbox_is_closed (inbox));
  g_array_unref (record.seen);
}

static void
close_on_first (GObject     *owner,
                NatterInbox *inbox,
                gpointer     event)
{
  record_event (owner, inbox, event);
  natter_inbox_close (inbox);
}

static void
test_close_from_handler (void)
{
  Record record = { 0 };
  g_autoptr(GObject) owner = owner_new (&record);
  g_autoptr(NatterInbox) inbox = inbox_for (owner, close_on_first, G_PRIORITY_DEFAULT, FALSE);

  freed = 0;
  for (guint i = 0; i < 5; i++)
    natter_inbox_post (inbox, event_new (i));
  drain_all ();
  g_assert_cmpuint (record.handled, ==, 1);
  g_assert_cmpint (freed, ==, 5);
  g_array_unref (record.seen);
}

static void
test_vanished_owner (void)
{
  Record record = { 0 };
  GObject *owner = owner_new (&record);
  g_autoptr(NatterInbox) inbox = inbox_for (owner, record_event, G_PRIORITY_DEFAULT, FALSE);

  freed = 0;
  natter_inbox_post (inbox, event_new (1));
  g_object_unref (owner);
  natter_inbox_post (inbox, event_new (2));
  drain_all ();
  g_assert_cmpuint (record.handled, ==, 0);
  g_assert_cmpint (freed, ==, 2);
  g_array_unref (record.seen);
}

#define POSTERS 4
#define PER_POSTER 5000

static gpointer
poster (gpointer data)
{
  NatterInbox *inbox = g_object_get_data (G_OBJECT (data), "inbox");
  guint base = GPOINTER_TO_UINT (g_object_get_data (G_OBJECT (data), "base"));

  for (guint i = 0; i < PER_POSTER; i++)
    natter_inbox_post (inbox, event_new (base * PER_POSTER + i));
  return NULL;
}

static void
test_other_threads (void)
{
  Record record = { 0 };
  g_autoptr(GObject) owner = owner_new (&record);
  g_autoptr(NatterInbox) inbox = inbox_for (owner, record_event, G_PRIORITY_DEFAULT, FALSE);
  GThread *threads[POSTERS];
  GObject *args[POSTERS];
  guint next[POSTERS] = { 0 };
  gint64 deadline;

  for (guint t = 0; t < POSTERS; t++)
    {
      args[t] = g_object_new (G_TYPE_OBJECT, NULL);
      g_object_set_data (args[t], "inbox", inbox);
      g_object_set_data (args[t], "base", GUINT_TO_POINTER (t));
      threads[t] = g_thread_new ("poster", poster, args[t]);
    }
  /* Handle while they post. */
  deadline = g_get_monotonic_time () + 30 * G_USEC_PER_SEC;
  while (record.handled < POSTERS * PER_POSTER && g_get_monotonic_time () < deadline)
    g_main_context_iteration (NULL, FALSE);
  for (guint t = 0; t < POSTERS; t++)
    {
      g_thread_join (threads[t]);
      g_object_unref (args[t]);
    }
  drain_all ();

  g_assert_false (record.wrong_thread);
  g_assert_cmpuint (record.seen->len, ==, POSTERS * PER_POSTER);
  /* Each poster's events arrive in the order it posted them. */
  for (guint i = 0; i < record.seen->len; i++)
    {
      guint value = g_array_index (record.seen, guint, i);
      guint t = value / PER_POSTER;

      g_assert_cmpuint (value % PER_POSTER, ==, next[t]);
      next[t]++;
    }
  g_array_unref (record.seen);
}

static void
test_priority (void)
{
  Record record = { 0 };
  g_autoptr(GObject) owner = owner_new (&record);
  g_autoptr(NatterInbox) idle = inbox_for (owner, record_event, G_PRIORITY_DEFAULT_IDLE, FALSE);
  g_autoptr(NatterInbox) normal = inbox_for (owner, record_event, G_PRIORITY_DEFAULT, FALSE);

  /* Posted first, but at idle priority: handled after the default one. */
  natter_inbox_post (idle, event_new (1));
  natter_inbox_post (normal, event_new (2));
  drain_all ();
  g_assert_cmpuint (record.seen->len, ==, 2);
  g_assert_cmpuint (g_array_index (record.seen, guint, 0), ==, 2);
  g_assert_cmpuint (g_array_index (record.seen, guint, 1), ==, 1);
  g_array_unref (record.seen);
}

int
main (int argc, char *argv[])
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/inbox/order", test_order);
  g_test_add_func ("/inbox/cap", test_cap);
  g_test_add_func ("/inbox/gate", test_gate);
  g_test_add_func ("/inbox/close", test_close);
  g_test_add_func ("/inbox/close-from-handler", test_close_from_handler);
  g_test_add_func ("/inbox/vanished-owner", test_vanished_owner);
  g_test_add_func ("/inbox/other-threads", test_other_threads);
  g_test_add_func ("/inbox/priority", test_priority);
  return g_test_run ();
}
