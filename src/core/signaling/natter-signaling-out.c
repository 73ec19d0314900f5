/* natter-signaling-out.c: publishing: our presence and Last Will, envelopes out, the outbox. */
#define G_LOG_DOMAIN "natter-signaling"

#include "natter-error.h"
#include "natter-signaling-private.h"

/* ------------------------------------------------------------------------ */
/* Presence and envelopes out                                               */
/* ------------------------------------------------------------------------ */

GBytes *
_natter_signaling_build_presence (NatterSignaling *self,
                                  const char      *status)
{
  g_autoptr(JsonObject) body = json_object_new ();
  g_autoptr(NatterEnvelope) envelope = NULL;
  g_autoptr(GError) error = NULL;
  GBytes *payload;

  json_object_set_string_member (body, "status", status);
  json_object_set_int_member (body, "epoch", self->epoch);
  json_object_set_int_member (body, "seq", ++self->presence_seq);
  envelope = natter_envelope_new ("presence", _natter_signaling_own_id (self), NULL, NULL, body);
  payload = natter_envelope_encode (envelope, self->identity, &error);
  if (payload == NULL)
    g_critical ("Cannot encode our presence: %s", error->message);
  return payload;
}

static int
publish (NatterSignaling *self,
         const char      *topic,
         GBytes          *payload,
         gboolean         retain)
{
  gsize len;
  const void *data = g_bytes_get_data (payload, &len);
  int mid = 0;
  int rc;

  rc = mosquitto_publish (self->mosq, &mid, topic, (int) len, data, 1, retain);
  /* Also after a write error: libmosquitto keeps the message for a resend. */
  if (mid != 0)
    g_hash_table_add (self->inflight, GINT_TO_POINTER (mid));
  return rc;
}

void
_natter_signaling_publish_presence (NatterSignaling *self,
                                    const char      *status)
{
  g_autoptr(GBytes) payload = _natter_signaling_build_presence (self, status);
  g_autofree char *topic = _natter_signaling_topic_for (_natter_signaling_own_id (self),
                                                        "presence");
  int rc;

  if (payload == NULL)
    return;
  rc = publish (self, topic, payload, TRUE);
  if (rc != MOSQ_ERR_SUCCESS)
    g_info ("Cannot publish presence “%s”: %s", status,
            _natter_signaling_mosq_error_string (rc));
}

static GBytes *
encode_direct (NatterSignaling  *self,
               const char       *to,
               const char       *type,
               const char       *session,
               JsonObject       *body,
               GError          **error)
{
  g_autoptr(NatterEnvelope) envelope = natter_envelope_new (type, _natter_signaling_own_id (self),
                                                            to, session, body);

  return natter_envelope_encode (envelope, self->identity, error);
}

/* Returns FALSE (with @error) only for envelopes that can never be sent;
 * when the link is down libmosquitto keeps the QoS 1 message and resends it
 * after the reconnect. */
static gboolean
publish_direct (NatterSignaling  *self,
                const char       *to,
                const char       *type,
                GBytes           *payload,
                GError          **error)
{
  g_autofree char *topic = _natter_signaling_topic_for (to, natter_signaling_topic_for_type (type));
  int rc = publish (self, topic, payload, FALSE);

  switch (rc)
    {
    case MOSQ_ERR_INVAL:
    case MOSQ_ERR_NOMEM:
    case MOSQ_ERR_PAYLOAD_SIZE:
    case MOSQ_ERR_OVERSIZE_PACKET:
    case MOSQ_ERR_MALFORMED_UTF8:
    case MOSQ_ERR_QOS_NOT_SUPPORTED:
      g_set_error (error, NATTER_ERROR, NATTER_ERROR_FAILED,
                   "Cannot publish: %s", mosquitto_strerror (rc));
      return FALSE;
    case MOSQ_ERR_SUCCESS:
      break;
    default:
      g_debug ("Publish hit a broken link (%s); it is resent after the reconnect",
               _natter_signaling_mosq_error_string (rc));
      break;
    }
  return TRUE;
}

void
_natter_signaling_flush_outbox (NatterSignaling *self)
{
  Outgoing *out;

  while (self->state == NATTER_SIGNALING_CONNECTED &&
         (out = g_queue_pop_head (&self->outbox)) != NULL)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(GBytes) payload = NULL;

      /* Encoded now, so the receiver's freshness window counts from the
       * moment the envelope really leaves. */
      payload = encode_direct (self, out->to, out->type, out->session, out->body, &error);
      if (payload == NULL || !publish_direct (self, out->to, out->type, payload, &error))
        g_warning ("Dropping a queued “%s” envelope: %s", out->type, error->message);
      _natter_signaling_outgoing_free (out);
    }
}

void
_natter_signaling_subscribe (NatterSignaling *self,
                             const char      *peer_id,
                             const char      *kind)
{
  g_autofree char *topic = _natter_signaling_topic_for (peer_id, kind);
  int rc = mosquitto_subscribe (self->mosq, NULL, topic, 1);

  if (rc != MOSQ_ERR_SUCCESS)
    g_info ("Cannot subscribe to a %s topic: %s", kind, _natter_signaling_mosq_error_string (rc));
}

/* ------------------------------------------------------------------------ */
/* Public API: sending                                                      */
/* ------------------------------------------------------------------------ */

/**
 * natter_signaling_send:
 * @self: a #NatterSignaling
 * @to: the recipient's peer id
 * @type: an envelope type other than "presence"
 * @session: (nullable): the session the envelope belongs to
 * @body: (nullable): the body
 * @error: return location for a #GError
 *
 * Signs, seals to @to and publishes with QoS 1. While disconnected the
 * envelope waits (at most %NATTER_SIGNALING_OUTBOX_MAX of them, oldest
 * dropped first) and is encoded afresh when the connection is back.
 *
 * Returns: %TRUE if sent or queued
 */
gboolean
natter_signaling_send (NatterSignaling  *self,
                       const char       *to,
                       const char       *type,
                       const char       *session,
                       JsonObject       *body,
                       GError          **error)
{
  g_autoptr(GBytes) payload = NULL;
  const char *kind;

  g_return_val_if_fail (NATTER_IS_SIGNALING (self), FALSE);
  g_return_val_if_fail (to != NULL, FALSE);
  g_return_val_if_fail (type != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  kind = natter_signaling_topic_for_type (type);
  if (kind == NULL || g_str_equal (kind, "presence"))
    {
      g_set_error (error, NATTER_ERROR, NATTER_ERROR_INVALID_INPUT,
                   "“%s” is not an envelope type that can be sent", type);
      return FALSE;
    }
  if (!natter_peer_id_is_valid (to) || g_str_equal (to, _natter_signaling_own_id (self)))
    {
      g_set_error_literal (error, NATTER_ERROR, NATTER_ERROR_INVALID_INPUT,
                           "Not a valid recipient");
      return FALSE;
    }

  /* Encoding now also checks the size limit while the caller can still
   * hear about it. */
  payload = encode_direct (self, to, type, session, body, error);
  if (payload == NULL)
    return FALSE;

  if (self->state == NATTER_SIGNALING_CONNECTED)
    {
      gboolean ok = publish_direct (self, to, type, payload, error);

      _natter_signaling_after_io (self);
      return ok;
    }
  else
    {
      Outgoing *out = g_new0 (Outgoing, 1);

      out->to = g_strdup (to);
      out->type = g_strdup (type);
      out->session = g_strdup (session);
      out->body = body != NULL ? json_object_ref (body) : NULL;
      g_queue_push_tail (&self->outbox, out);
      if (g_queue_get_length (&self->outbox) > NATTER_SIGNALING_OUTBOX_MAX)
        {
          g_info ("Outbox full while disconnected; dropping the oldest envelope");
          _natter_signaling_outgoing_free (g_queue_pop_head (&self->outbox));
        }
      return TRUE;
    }
}

static gboolean
flush_timeout_cb (gpointer user_data)
{
  *(gboolean *) user_data = TRUE;
  return G_SOURCE_REMOVE;
}

/**
 * natter_signaling_flush:
 * @self: a #NatterSignaling
 * @timeout_ms: how long to wait at most
 *
 * Runs the thread-default main context until the broker has acknowledged
 * every envelope (and presence) we published and the outbox is empty, or
 * @timeout_ms passed. For command-line tools that send and exit; an
 * application never needs to wait like this.
 *
 * Returns: %TRUE if everything was acknowledged in time
 */
gboolean
natter_signaling_flush (NatterSignaling *self,
                        guint            timeout_ms)
{
  g_autoptr(NatterSignaling) keep = NULL;
  g_autoptr(GMainContext) context = NULL;
  GSource *timeout;
  gboolean timed_out = FALSE;
  gboolean drained;

  g_return_val_if_fail (NATTER_IS_SIGNALING (self), FALSE);

  keep = g_object_ref (self);
  context = g_main_context_ref_thread_default ();
  timeout = g_timeout_source_new (timeout_ms);
  g_source_set_callback (timeout, flush_timeout_cb, &timed_out, NULL);
  g_source_attach (timeout, context);

  while (!(drained = g_hash_table_size (self->inflight) == 0 &&
                     g_queue_is_empty (&self->outbox)) &&
         !timed_out && self->running)
    g_main_context_iteration (context, TRUE);

  g_source_destroy (timeout);
  g_source_unref (timeout);
  return drained;
}
