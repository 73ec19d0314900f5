/* natter-signaling-in.c: incoming: the event queue, envelope checks, the replay cache, presence. */
#define G_LOG_DOMAIN "natter-signaling"

#include <string.h>

#include "natter-signaling-private.h"

typedef enum
{
  REJECT_EMPTY,
  REJECT_UNDECODABLE,
  REJECT_TYPE_MISMATCH,
  REJECT_NOT_FOR_US,
  REJECT_FROM_SELF,
  REJECT_STALE,
  REJECT_REPLAY,
  REJECT_WRONG_SENDER,
  REJECT_BAD_PRESENCE,
} RejectReason;

static const char * const reject_reasons[] = {
  [REJECT_EMPTY] = "empty payload",
  [REJECT_UNDECODABLE] = "undecodable",
  [REJECT_TYPE_MISMATCH] = "type does not match topic",
  [REJECT_NOT_FOR_US] = "not addressed to us",
  [REJECT_FROM_SELF] = "claims to be from us",
  [REJECT_STALE] = "timestamp outside the window",
  [REJECT_REPLAY] = "nonce seen before",
  [REJECT_WRONG_SENDER] = "sender is not the topic owner",
  [REJECT_BAD_PRESENCE] = "malformed presence body",
};

/* ------------------------------------------------------------------------ */
/* Envelopes and presence in                                                */
/* ------------------------------------------------------------------------ */

static void
reject (NatterSignaling *self,
        RejectReason     reason,
        const char      *kind,
        const char      *sender,
        const char      *detail)
{
  g_autofree char *short_sender = sender != NULL ? natter_peer_id_short (sender) : NULL;

  self->rejected_count++;
  if (reason == REJECT_REPLAY)
    self->replay_count++;
  g_debug ("Rejected an envelope on the %s topic from %s: %s%s%s",
           kind, short_sender != NULL ? short_sender : "(unknown)",
           reject_reasons[reason],
           detail != NULL ? ": " : "", detail != NULL ? detail : "");
  g_object_notify_by_pspec (G_OBJECT (self), _natter_signaling_properties[PROP_REJECTED_COUNT]);
}

/* Decode with the checks every topic shares. */
static NatterEnvelope *
decode_payload (NatterSignaling *self,
                const char      *kind,
                GBytes          *payload)
{
  g_autoptr(GError) error = NULL;
  NatterEnvelope *envelope;

  if (g_bytes_get_size (payload) == 0)
    {
      reject (self, REJECT_EMPTY, kind, NULL, NULL);
      return NULL;
    }
  /* The codec's messages name the failed check, never content. */
  envelope = natter_envelope_decode (payload, self->identity, &error);
  if (envelope == NULL)
    reject (self, REJECT_UNDECODABLE, kind, NULL, error->message);
  return envelope;
}

/* Returns TRUE if the nonce is new, and remembers it. Entries are needed only
 * while a replay could still pass the freshness window. */
static gboolean
replay_check (NatterSignaling *self,
              NatterEnvelope  *envelope,
              gint64           now)
{
  ReplayEntry *entry;
  char *key;

  while ((entry = g_queue_peek_head (&self->replay_order)) != NULL &&
         (entry->expires_ms < now ||
          g_queue_get_length (&self->replay_order) >= NATTER_SIGNALING_REPLAY_MAX))
    {
      g_hash_table_remove (self->replay, entry->key);
      _natter_signaling_replay_entry_free (g_queue_pop_head (&self->replay_order));
    }

  key = g_strconcat (natter_envelope_get_from (envelope), " ",
                     natter_envelope_get_nonce (envelope), NULL);
  if (g_hash_table_contains (self->replay, key))
    {
      g_free (key);
      return FALSE;
    }

  entry = g_new0 (ReplayEntry, 1);
  entry->key = key;
  entry->expires_ms = natter_envelope_get_ts (envelope) + NATTER_SIGNALING_TS_WINDOW_MS;
  g_queue_push_tail (&self->replay_order, entry);
  g_hash_table_add (self->replay, entry->key);
  return TRUE;
}

static void
handle_direct (NatterSignaling *self,
               const char      *kind,
               GBytes          *payload)
{
  g_autoptr(NatterEnvelope) envelope = NULL;
  const char *topic_kind;
  const char *from;
  const char *to;
  gint64 now = _natter_signaling_now_ms ();
  gint64 ts;

  envelope = decode_payload (self, kind, payload);
  if (envelope == NULL)
    return;

  from = natter_envelope_get_from (envelope);
  to = natter_envelope_get_to (envelope);
  ts = natter_envelope_get_ts (envelope);
  topic_kind = natter_signaling_topic_for_type (natter_envelope_get_type_name (envelope));

  if (topic_kind == NULL || !g_str_equal (topic_kind, kind))
    reject (self, REJECT_TYPE_MISMATCH, kind, from, NULL);
  else if (g_str_equal (from, _natter_signaling_own_id (self)))
    reject (self, REJECT_FROM_SELF, kind, NULL, NULL);
  else if (to == NULL || !g_str_equal (to, _natter_signaling_own_id (self)))
    reject (self, REJECT_NOT_FOR_US, kind, from, NULL);
  else if (ts < now - NATTER_SIGNALING_TS_WINDOW_MS || ts > now + NATTER_SIGNALING_TS_WINDOW_MS)
    reject (self, REJECT_STALE, kind, from, NULL);
  else if (!replay_check (self, envelope, now))
    reject (self, REJECT_REPLAY, kind, from, NULL);
  else
    g_signal_emit (self, _natter_signaling_signals[ENVELOPE_RECEIVED], 0, envelope);
}

static gboolean
get_int (JsonObject *object,
         const char *name,
         gint64     *value)
{
  JsonNode *node = json_object_get_member (object, name);

  if (node == NULL || !JSON_NODE_HOLDS_VALUE (node) ||
      json_node_get_value_type (node) != G_TYPE_INT64)
    return FALSE;
  *value = json_node_get_int (node);
  return *value >= 0;
}

static void
handle_presence (NatterSignaling *self,
                 const char      *peer_id,
                 GBytes          *payload)
{
  g_autoptr(NatterEnvelope) envelope = NULL;
  g_autofree char *short_id = NULL;
  Presence *presence;
  JsonObject *body;
  JsonNode *status_node;
  const char *status;
  gboolean online;
  gboolean changed;
  gint64 epoch;
  gint64 seq;

  presence = g_hash_table_lookup (self->followed, peer_id);
  if (presence == NULL)
    return;   /* unfollowed while the message was on its way */

  /* An empty retained message only clears the topic. */
  if (g_bytes_get_size (payload) == 0)
    return;

  envelope = decode_payload (self, "presence", payload);
  if (envelope == NULL)
    return;

  /* No freshness window here: a retained presence or a will is old by
   * nature. The signature binds it to the sender and the epoch orders it. */
  if (!g_str_equal (natter_envelope_get_type_name (envelope), "presence") ||
      natter_envelope_get_to (envelope) != NULL)
    {
      reject (self, REJECT_TYPE_MISMATCH, "presence", natter_envelope_get_from (envelope), NULL);
      return;
    }
  if (!g_str_equal (natter_envelope_get_from (envelope), peer_id))
    {
      reject (self, REJECT_WRONG_SENDER, "presence", natter_envelope_get_from (envelope), NULL);
      return;
    }

  /* Genuinely from the peer: the broker still holds (or relays) its presence. */
  presence->unconfirmed = FALSE;

  body = natter_envelope_get_body (envelope);
  status_node = body != NULL ? json_object_get_member (body, "status") : NULL;
  status = status_node != NULL && JSON_NODE_HOLDS_VALUE (status_node) &&
           json_node_get_value_type (status_node) == G_TYPE_STRING
           ? json_node_get_string (status_node) : NULL;
  if (status == NULL || !get_int (body, "epoch", &epoch) || !get_int (body, "seq", &seq) ||
      (!g_str_equal (status, "online") && !g_str_equal (status, "offline")))
    {
      reject (self, REJECT_BAD_PRESENCE, "presence", peer_id, NULL);
      return;
    }
  online = g_str_equal (status, "online");

  short_id = natter_peer_id_short (peer_id);
  if (presence->known &&
      (epoch < presence->epoch ||
       (epoch == presence->epoch && (!presence->online || (online && seq <= presence->seq)))))
    {
      /* Older than what we know, or "offline" already ended that epoch. */
      g_debug ("Ignoring outdated presence of %s", short_id);
      return;
    }

  changed = !presence->known || presence->online != online ||
            (online && presence->epoch != epoch);
  presence->known = TRUE;
  presence->online = online;
  presence->epoch = epoch;
  presence->seq = seq;

  if (changed)
    {
      g_debug ("%s is %s", short_id, status);
      g_signal_emit (self, _natter_signaling_signals[PRESENCE_CHANGED], 0, peer_id, online, epoch);
    }
}

static void
handle_message (NatterSignaling *self,
                const char      *topic,
                GBytes          *payload)
{
  g_autofree char *peer_id = NULL;
  const char *rest;
  const char *slash;
  const char *kind;

  if (!self->running || !g_str_has_prefix (topic, TOPIC_ROOT))
    return;

  rest = topic + strlen (TOPIC_ROOT);
  slash = strchr (rest, '/');
  if (slash == NULL)
    return;
  peer_id = g_strndup (rest, slash - rest);
  kind = slash + 1;

  if (g_str_equal (kind, "presence"))
    {
      handle_presence (self, peer_id, payload);
      return;
    }
  if (!g_str_equal (peer_id, _natter_signaling_own_id (self)))
    return;
  for (guint i = 0; i < G_N_ELEMENTS (_natter_signaling_direct_kinds); i++)
    {
      if (g_str_equal (kind, _natter_signaling_direct_kinds[i]))
        {
          handle_direct (self, kind, payload);
          return;
        }
    }
}

static void
process_events (NatterSignaling *self)
{
  g_autoptr(NatterSignaling) keep = NULL;
  Event *event;

  /* A signal handler may call back into us; the outer loop drains the rest. */
  if (self->processing)
    return;
  keep = g_object_ref (self);
  self->processing = TRUE;

  while ((event = g_queue_pop_head (&self->events)) != NULL)
    {
      if (event->generation == self->generation)
        {
          switch (event->kind)
            {
            case EVENT_CONNACK:
              _natter_signaling_handle_connack (self, event->rc);
              break;
            case EVENT_DISCONNECT:
              _natter_signaling_handle_disconnect (self, event->rc);
              break;
            case EVENT_MESSAGE:
              handle_message (self, event->topic, event->payload);
              break;
            case EVENT_PUBACK:
              g_hash_table_remove (self->inflight, GINT_TO_POINTER (event->rc));
              break;
            default:
              g_assert_not_reached ();
            }
        }
      _natter_signaling_event_free (event);
    }

  self->processing = FALSE;
}

void
_natter_signaling_after_io (NatterSignaling *self)
{
  process_events (self);
  _natter_signaling_update_io (self);
}
