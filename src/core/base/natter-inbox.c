/* natter-inbox.c: the one place where another thread hands work to the main context. */
#define G_LOG_DOMAIN "natter-inbox"

#include "natter-inbox.h"

/* Everything but the event queue is fixed at construction; the queue and the
 * flags below it are guarded by the lock, because GStreamer's streaming
 * threads post while the main context drains. */
struct _NatterInbox
{
  gatomicrefcount     ref_count;
  GMainContext       *context;
  int                 priority;
  char               *name;
  GWeakRef            owner;
  NatterInboxHandler  handler;
  GDestroyNotify      event_free;

  GMutex              lock;
  GQueue              events;
  gboolean            drain_scheduled;
  gboolean            active;
  gboolean            closed;
};

G_DEFINE_BOXED_TYPE (NatterInbox, natter_inbox, natter_inbox_ref, natter_inbox_unref)

static void
free_event (NatterInbox *inbox,
            gpointer     event)
{
  if (inbox->event_free != NULL && event != NULL)
    inbox->event_free (event);
}

static void
clear_events (NatterInbox *inbox,
              GQueue      *events)
{
  gpointer event;

  while ((event = g_queue_pop_head (events)) != NULL)
    free_event (inbox, event);
}

/**
 * natter_inbox_new:
 * @context: the main context that handles the events
 * @priority: the priority of the drain source (e.g. %G_PRIORITY_DEFAULT)
 * @name: a static name for the drain source, shown by debuggers and profilers
 * @owner: the object events are for; held weakly, so a late post never keeps
 *   it alive, and once it is gone events are dropped
 * @handler: called for each event on @context
 * @event_free: (nullable): frees an event that was handled or dropped
 * @gated: when %TRUE nothing is handled until natter_inbox_activate()
 *
 * Returns: (transfer full): a new inbox
 */
NatterInbox *
natter_inbox_new (GMainContext       *context,
                  int                 priority,
                  const char         *name,
                  GObject            *owner,
                  NatterInboxHandler  handler,
                  GDestroyNotify      event_free,
                  gboolean            gated)
{
  NatterInbox *inbox;

  g_return_val_if_fail (context != NULL, NULL);
  g_return_val_if_fail (G_IS_OBJECT (owner), NULL);
  g_return_val_if_fail (handler != NULL, NULL);

  inbox = g_new0 (NatterInbox, 1);
  g_atomic_ref_count_init (&inbox->ref_count);
  inbox->context = g_main_context_ref (context);
  inbox->priority = priority;
  inbox->name = g_strdup (name);
  g_weak_ref_init (&inbox->owner, owner);
  inbox->handler = handler;
  inbox->event_free = event_free;
  g_mutex_init (&inbox->lock);
  g_queue_init (&inbox->events);
  inbox->active = !gated;
  return inbox;
}

NatterInbox *
natter_inbox_ref (NatterInbox *inbox)
{
  g_return_val_if_fail (inbox != NULL, NULL);

  g_atomic_ref_count_inc (&inbox->ref_count);
  return inbox;
}

void
natter_inbox_unref (NatterInbox *inbox)
{
  g_return_if_fail (inbox != NULL);

  if (!g_atomic_ref_count_dec (&inbox->ref_count))
    return;
  clear_events (inbox, &inbox->events);
  g_mutex_clear (&inbox->lock);
  g_weak_ref_clear (&inbox->owner);
  g_main_context_unref (inbox->context);
  g_free (inbox->name);
  g_free (inbox);
}

static gboolean
inbox_drain (gpointer data)
{
  NatterInbox *inbox = data;
  g_autoptr(GObject) owner = g_weak_ref_get (&inbox->owner);

  for (guint i = 0; i < NATTER_INBOX_MAX_PER_DISPATCH; i++)
    {
      gpointer event = NULL;

      g_mutex_lock (&inbox->lock);
      if (inbox->active && !inbox->closed)
        event = g_queue_pop_head (&inbox->events);
      if (event == NULL)
        inbox->drain_scheduled = FALSE;
      g_mutex_unlock (&inbox->lock);

      if (event == NULL)
        return G_SOURCE_REMOVE;
      if (owner != NULL)
        inbox->handler (owner, inbox, event);
      free_event (inbox, event);
    }
  return G_SOURCE_CONTINUE;
}

/* Caller holds the lock. */
static gboolean
needs_drain_locked (NatterInbox *inbox)
{
  gboolean schedule = inbox->active && !inbox->closed && !inbox->drain_scheduled &&
                      inbox->events.length > 0;

  if (schedule)
    inbox->drain_scheduled = TRUE;
  return schedule;
}

static void
schedule_drain (NatterInbox *inbox)
{
  g_autoptr(GSource) source = g_idle_source_new ();

  /* Always a source, even on the main thread: g_main_context_invoke() would
   * run the handler inside a webrtcbin action we are in the middle of. */
  g_source_set_priority (source, inbox->priority);
  g_source_set_callback (source, inbox_drain, natter_inbox_ref (inbox),
                         (GDestroyNotify) natter_inbox_unref);
  g_source_set_name (source, inbox->name);
  g_source_attach (source, inbox->context);
}

/**
 * natter_inbox_post:
 * @event: (transfer full): the event
 *
 * Any thread. Queues @event behind every earlier one. A closed inbox frees
 * it at once.
 */
void
natter_inbox_post (NatterInbox *inbox,
                   gpointer     event)
{
  gboolean schedule = FALSE;
  gboolean refused;

  g_return_if_fail (inbox != NULL);
  g_return_if_fail (event != NULL);

  g_mutex_lock (&inbox->lock);
  refused = inbox->closed;
  if (!refused)
    {
      g_queue_push_tail (&inbox->events, event);
      schedule = needs_drain_locked (inbox);
    }
  g_mutex_unlock (&inbox->lock);

  if (refused)
    free_event (inbox, event);
  else if (schedule)
    schedule_drain (inbox);
}

/**
 * natter_inbox_activate:
 *
 * Any thread. Opens the gate of an inbox created gated: what was posted so
 * far is handled first, in order.
 */
void
natter_inbox_activate (NatterInbox *inbox)
{
  gboolean schedule;

  g_return_if_fail (inbox != NULL);

  g_mutex_lock (&inbox->lock);
  inbox->active = TRUE;
  schedule = needs_drain_locked (inbox);
  g_mutex_unlock (&inbox->lock);
  if (schedule)
    schedule_drain (inbox);
}

/**
 * natter_inbox_close:
 *
 * Any thread. Drops every queued event and every later post; the handler is
 * not called again.
 */
void
natter_inbox_close (NatterInbox *inbox)
{
  GQueue dropped = G_QUEUE_INIT;

  g_return_if_fail (inbox != NULL);

  g_mutex_lock (&inbox->lock);
  inbox->closed = TRUE;
  dropped = inbox->events;
  g_queue_init (&inbox->events);
  g_mutex_unlock (&inbox->lock);
  /* Outside the lock: an event's destructor may post to another inbox. */
  clear_events (inbox, &dropped);
}

gboolean
natter_inbox_is_closed (NatterInbox *inbox)
{
  gboolean closed;

  g_return_val_if_fail (inbox != NULL, TRUE);

  g_mutex_lock (&inbox->lock);
  closed = inbox->closed;
  g_mutex_unlock (&inbox->lock);
  return closed;
}
