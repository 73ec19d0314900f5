/* natter-signaling-watch.c: the GSource on libmosquitto's socket; its callbacks only record. */
#define G_LOG_DOMAIN "natter-signaling"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <glib-unix.h>

#include "natter-signaling-private.h"

/* ------------------------------------------------------------------------ */
/* libmosquitto callbacks: record only (see the top of natter-signaling.c)  */
/* ------------------------------------------------------------------------ */

void
_natter_signaling_push_event (NatterSignaling *self,
                              EventKind        kind,
                              int              rc,
                              const char      *topic,
                              GBytes          *payload)
{
  Event *event = g_new0 (Event, 1);

  event->kind = kind;
  event->generation = self->generation;
  event->rc = rc;
  event->topic = g_strdup (topic);
  event->payload = payload;
  g_queue_push_tail (&self->events, event);
}

void
_natter_signaling_on_connect (struct mosquitto *mosq,
                              void             *user_data,
                              int               rc)
{
  _natter_signaling_push_event (user_data, EVENT_CONNACK, rc, NULL, NULL);
}

void
_natter_signaling_on_disconnect (struct mosquitto *mosq,
                                 void             *user_data,
                                 int               rc)
{
  _natter_signaling_push_event (user_data, EVENT_DISCONNECT, rc, NULL, NULL);
}

void
_natter_signaling_on_publish (struct mosquitto *mosq,
                              void             *user_data,
                              int               mid)
{
  _natter_signaling_push_event (user_data, EVENT_PUBACK, mid, NULL, NULL);
}

void
_natter_signaling_on_message (struct mosquitto                *mosq,
                              void                            *user_data,
                              const struct mosquitto_message  *message)
{
  GBytes *payload;

  if (message->topic == NULL || message->payloadlen < 0)
    return;
  payload = g_bytes_new (message->payload, (gsize) message->payloadlen);
  _natter_signaling_push_event (user_data, EVENT_MESSAGE, 0, message->topic, payload);
}

/* ------------------------------------------------------------------------ */
/* The socket watch                                                         */
/* ------------------------------------------------------------------------ */

static void handle_io (NatterSignaling *self,
                       GIOCondition     revents);

static gboolean
io_source_dispatch (GSource     *source,
                    GSourceFunc  callback,
                    gpointer     user_data)
{
  NatterSignaling *self = ((IoSource *) source)->self;
  GIOCondition revents = 0;

  if (self->io_tag != NULL)
    revents = g_source_query_unix_fd (source, self->io_tag);
  if (revents != 0)
    handle_io (self, revents);
  return G_SOURCE_CONTINUE;
}

GSourceFuncs _natter_signaling_io_source_funcs = {
  .dispatch = io_source_dispatch,
};

/* Whether the socket is ours to drive: a connection we gave up on (timeout,
 * failed TLS) keeps its descriptor inside libmosquitto until the next
 * connect, but we stop listening to it. */
static gboolean
io_active (NatterSignaling *self)
{
  return self->mosq != NULL &&
         (self->state != NATTER_SIGNALING_DISCONNECTED || self->closing);
}

void
_natter_signaling_update_io (NatterSignaling *self)
{
  GIOCondition condition = G_IO_IN | G_IO_HUP | G_IO_ERR;
  gboolean tls_handshake;
  int fd = -1;

  if (io_active (self))
    fd = mosquitto_socket (self->mosq);

  if (fd != self->io_fd && self->io_tag != NULL)
    {
      g_source_remove_unix_fd (self->io_source, self->io_tag);
      self->io_tag = NULL;
    }
  self->io_fd = fd;
  if (fd < 0)
    return;

  /* While a TLS handshake runs, libmosquitto keeps saying it wants to write
   * (its flag is only cleared by the first application write), which would
   * make us spin on a writable socket. Writability matters only until the
   * TCP connection is up; after that the handshake waits for the broker. */
  tls_handshake = self->tls && self->state == NATTER_SIGNALING_CONNECTING;
  if (tls_handshake ? !self->saw_writable : mosquitto_want_write (self->mosq))
    condition |= G_IO_OUT;

  if (self->io_tag == NULL)
    self->io_tag = g_source_add_unix_fd (self->io_source, fd, condition);
  else if (condition != self->io_condition)
    g_source_modify_unix_fd (self->io_source, self->io_tag, condition);
  self->io_condition = condition;
}

/* A libmosquitto call failed. Most failures also reach the disconnect callback, but
 * not all (a failed TLS handshake does not), so record one in any case; the
 * handler ignores the second. */
void
_natter_signaling_check_rc (NatterSignaling *self,
                            int              rc)
{
  if (rc != MOSQ_ERR_SUCCESS)
    _natter_signaling_push_event (self, EVENT_DISCONNECT, rc, NULL, NULL);
}

/* The broker leaves Nagle on, so its PUBACK for our second publish waits
 * for our delayed ACK (~40 ms) and an answer queued behind it waits too.
 * Linux clears TCP_QUICKACK after use, so it is re-armed after every read. */
static void
quick_ack (NatterSignaling *self)
{
#ifdef TCP_QUICKACK
  int fd = mosquitto_socket (self->mosq);
  int one = 1;

  if (fd >= 0)
    setsockopt (fd, IPPROTO_TCP, TCP_QUICKACK, &one, sizeof one);
#endif
}

static void
handle_io (NatterSignaling *self,
           GIOCondition     revents)
{
  g_autoptr(NatterSignaling) keep = g_object_ref (self);
  gboolean tls_handshake = self->tls && self->state == NATTER_SIGNALING_CONNECTING;

  if (revents & G_IO_OUT)
    self->saw_writable = TRUE;

  /* libmosquitto runs its TLS handshake from loop_read (whatever the socket
   * is ready for), and the queued CONNECT goes out once it has finished. */
  if (((revents & (G_IO_IN | G_IO_HUP | G_IO_ERR)) || tls_handshake) &&
      mosquitto_socket (self->mosq) >= 0)
    {
      _natter_signaling_check_rc (self, mosquitto_loop_read (self->mosq, 1));
      quick_ack (self);
    }
  if (((revents & G_IO_OUT) || tls_handshake) && mosquitto_socket (self->mosq) >= 0)
    _natter_signaling_check_rc (self, mosquitto_loop_write (self->mosq, 1));

  _natter_signaling_after_io (self);
}
