/* natter-client-signaling.c: envelopes in: contact requests and answers, presence, negotiation. */
#define G_LOG_DOMAIN "natter-client"

#include "natter-client-private.h"

/* A peer may ask to become a contact at most this often. */
#define CONTACT_REQUEST_INTERVAL_US (10 * G_USEC_PER_SEC)
/* Requests from new senders: a burst of this many, then one per interval,
 * and never more than MAX_PENDING_REQUESTS unanswered ones stored. A
 * flood of fresh keys costs the broker, not our disk. */
#define NEW_REQUEST_BURST       10
#define NEW_REQUEST_INTERVAL_US (6 * G_USEC_PER_SEC)
#define MAX_PENDING_REQUESTS    64

/* ---- signaling ---- */

void
_natter_client_send_contact_envelope (NatterClient *self,
                                      const char   *peer_id,
                                      const char   *type)
{
  g_autoptr(JsonObject) body = json_object_new ();
  g_autofree char *name = natter_client_dup_display_name (self);
  g_autoptr(GError) error = NULL;

  if (name != NULL)
    json_object_set_string_member (body, "name", name);
  if (!natter_signaling_send (self->signaling, peer_id, type, NULL, body, &error))
    g_info ("Cannot send %s: %s", type, error->message);
}

static char *
sanitize_name (JsonObject *body)
{
  const char *name = NULL;
  GString *clean;

  if (body == NULL || !json_object_has_member (body, "name"))
    return NULL;
  if (JSON_NODE_HOLDS_VALUE (json_object_get_member (body, "name")) &&
      json_node_get_value_type (json_object_get_member (body, "name")) == G_TYPE_STRING)
    name = json_object_get_string_member (body, "name");
  if (name == NULL || !g_utf8_validate (name, -1, NULL))
    return NULL;

  /* No control characters, bounded length: it ends up in lists and notifications. */
  clean = g_string_new (NULL);
  for (const char *p = name; *p && g_utf8_strlen (clean->str, -1) < MAX_NAME_LEN;
       p = g_utf8_next_char (p))
    {
      gunichar ch = g_utf8_get_char (p);

      /* Format characters (bidi overrides, zero-width joiners) let one
       * name look like another. */
      if (!g_unichar_iscntrl (ch) && g_unichar_type (ch) != G_UNICODE_FORMAT)
        g_string_append_unichar (clean, ch);
    }
  g_strstrip (clean->str);
  if (clean->str[0] == '\0')
    return g_string_free (clean, TRUE);
  return g_string_free (clean, FALSE);
}

void
_natter_client_follow_contact (NatterClient  *self,
                               NatterContact *contact)
{
  natter_signaling_follow_presence (self->signaling, natter_contact_get_peer_id (contact));
}

static char *
name_key (const char *name)
{
  g_autofree char *normalized = g_utf8_normalize (name, -1, G_NORMALIZE_ALL);

  return normalized != NULL ? g_utf8_casefold (normalized, -1) : NULL;
}

/* Whether @name reads like our own name or another contact's. */
static gboolean
name_is_taken (NatterClient *self,
               const char   *name,
               const char   *requester)
{
  g_autofree char *key = name_key (name);
  g_autofree char *own = natter_client_dup_display_name (self);
  g_autofree char *own_key = own != NULL ? name_key (own) : NULL;
  guint n = g_list_model_get_n_items (G_LIST_MODEL (self->contacts));

  if (key == NULL || g_strcmp0 (key, own_key) == 0)
    return TRUE;
  for (guint i = 0; i < n; i++)
    {
      g_autoptr(NatterContact) other = g_list_model_get_item (G_LIST_MODEL (self->contacts), i);
      const char *other_name = natter_contact_get_name (other);
      g_autofree char *other_key = NULL;

      if (other_name == NULL || g_str_equal (natter_contact_get_peer_id (other), requester))
        continue;
      other_key = name_key (other_name);
      if (g_strcmp0 (key, other_key) == 0)
        return TRUE;
    }
  return FALSE;
}

static guint
count_pending_requests (NatterClient *self)
{
  guint n = g_list_model_get_n_items (G_LIST_MODEL (self->contacts));
  guint pending = 0;

  for (guint i = 0; i < n; i++)
    {
      g_autoptr(NatterContact) contact = g_list_model_get_item (G_LIST_MODEL (self->contacts), i);

      if (natter_contact_get_state (contact) == NATTER_CONTACT_PENDING_IN)
        pending++;
    }
  return pending;
}

/* Token bucket over requests from senders we have never seen. */
static gboolean
take_new_request_token (NatterClient *self)
{
  gint64 now = g_get_monotonic_time ();

  if (self->request_tokens_us == 0)
    self->request_tokens = NEW_REQUEST_BURST;
  else
    self->request_tokens = MIN (NEW_REQUEST_BURST,
                                self->request_tokens +
                                (double) (now - self->request_tokens_us) / NEW_REQUEST_INTERVAL_US);
  self->request_tokens_us = now;
  if (self->request_tokens < 1.0)
    return FALSE;
  self->request_tokens -= 1.0;
  return TRUE;
}

static void
handle_contact_request (NatterClient   *self,
                        NatterEnvelope *envelope)
{
  const char *from = natter_envelope_get_from (envelope);
  NatterContact *contact = natter_client_lookup_contact (self, from);
  g_autofree char *name = sanitize_name (natter_envelope_get_body (envelope));
  Peer *peer;

  if (contact != NULL)
    {
      switch (natter_contact_get_state (contact))
        {
        case NATTER_CONTACT_BLOCKED:
          return;
        case NATTER_CONTACT_PENDING_OUT:
          /* Both asked: that is consent on both sides. */
          natter_client_accept_contact (self, from, NULL);
          return;
        case NATTER_CONTACT_ACCEPTED:
          /* They lost our acceptance (a new install): say it again. */
          _natter_client_send_contact_envelope (self, from, "contact-accept");
          return;
        case NATTER_CONTACT_PENDING_IN:
        case NATTER_CONTACT_DECLINED:
        default:
          break;
        }
    }

  peer = _natter_client_lookup_peer (self, from);
  if (peer->last_request_us != 0 &&
      g_get_monotonic_time () - peer->last_request_us < CONTACT_REQUEST_INTERVAL_US)
    {
      g_info ("Rate-limited a contact request from %.8s…", from);
      return;
    }
  peer->last_request_us = g_get_monotonic_time ();

  if (name != NULL && name_is_taken (self, name, from))
    {
      /* Someone new calling themselves "Alice" must not pass for the
       * Alice we know: the key's short form goes with the name. */
      g_autofree char *marked = g_strdup_printf ("%s (%.8s)", name, from);

      g_free (name);
      name = g_steal_pointer (&marked);
    }

  if (contact == NULL)
    {
      g_autoptr(NatterContact) created = NULL;

      if (count_pending_requests (self) >= MAX_PENDING_REQUESTS || !take_new_request_token (self))
        {
          g_info ("Dropped a contact request from %.8s…: too many requests", from);
          return;
        }
      created = natter_contact_new (from);
      natter_contact_set_name (created, name);
      natter_contact_set_state (created, NATTER_CONTACT_PENDING_IN);
      if (!_natter_client_save_contact (self, created, NULL))
        return;
      g_list_store_append (self->contacts, created);
      contact = created;
    }
  else
    {
      if (natter_contact_get_name (contact) == NULL)
        natter_contact_set_name (contact, name);
      natter_contact_set_state (contact, NATTER_CONTACT_PENDING_IN);
      _natter_client_save_contact (self, contact, NULL);
    }

  g_signal_emit (self, _natter_client_signals[CONTACT_REQUEST], 0, contact);
  if (self->auto_accept)
    natter_client_accept_contact (self, from, NULL);
}

void
_natter_client_envelope_received_cb (NatterClient    *self,
                                     NatterEnvelope  *envelope,
                                     NatterSignaling *signaling)
{
  const char *type = natter_envelope_get_type_name (envelope);
  const char *from = natter_envelope_get_from (envelope);
  NatterContact *contact;

  if (g_str_equal (type, "contact-request"))
    {
      handle_contact_request (self, envelope);
      return;
    }

  contact = natter_client_lookup_contact (self, from);
  if (contact == NULL || natter_contact_get_state (contact) == NATTER_CONTACT_BLOCKED)
    {
      g_info ("Dropped %s from a peer who is not a contact", type);
      return;
    }

  if (g_str_equal (type, "contact-accept") || g_str_equal (type, "contact-decline"))
    {
      if (natter_contact_get_state (contact) != NATTER_CONTACT_PENDING_OUT &&
          natter_contact_get_state (contact) != NATTER_CONTACT_ACCEPTED)
        return;
      natter_contact_set_state (contact, g_str_equal (type, "contact-accept")
                                         ? NATTER_CONTACT_ACCEPTED : NATTER_CONTACT_DECLINED);
      _natter_client_save_contact (self, contact, NULL);
      if (natter_contact_get_state (contact) == NATTER_CONTACT_ACCEPTED &&
          natter_signaling_is_online (self->signaling, from))
        _natter_client_peer_connect (_natter_client_lookup_peer (self, from));
      return;
    }

  if (natter_contact_get_state (contact) != NATTER_CONTACT_ACCEPTED)
    {
      g_info ("Dropped %s from a contact not yet accepted", type);
      return;
    }
  /* Negotiation always names the attempt it belongs to. */
  if (natter_envelope_get_session (envelope) == NULL)
    {
      g_info ("Dropped %s without a session id", type);
      return;
    }
  natter_peer_session_handle_signal (
    _natter_client_peer_ensure_session (_natter_client_lookup_peer (self, from)), type,
    natter_envelope_get_session (envelope), natter_envelope_get_body (envelope));
}

void
_natter_client_presence_changed_cb (NatterClient    *self,
                                    const char      *peer_id,
                                    gboolean         online,
                                    gint64           epoch,
                                    NatterSignaling *signaling)
{
  NatterContact *contact = natter_client_lookup_contact (self, peer_id);
  Peer *peer;

  if (contact == NULL)
    return;
  natter_contact_set_online (contact, online);
  if (!online)
    natter_contact_set_last_seen (contact, g_get_real_time () / G_USEC_PER_SEC);
  g_signal_emit (self, _natter_client_signals[PRESENCE_CHANGED], 0, contact, online);

  peer = _natter_client_lookup_peer (self, peer_id);
  if (!online)
    {
      /* No retries towards someone who is away; presence restarts them. */
      g_clear_handle_id (&peer->retry_source, g_source_remove);
      peer->retry_attempt = 0;
      return;
    }

  switch (natter_contact_get_state (contact))
    {
    case NATTER_CONTACT_PENDING_OUT:
      _natter_client_send_contact_envelope (self, peer_id, "contact-request");
      break;
    case NATTER_CONTACT_ACCEPTED:
      _natter_client_peer_connect (peer);
      break;
    case NATTER_CONTACT_PENDING_IN:
    case NATTER_CONTACT_DECLINED:
    case NATTER_CONTACT_BLOCKED:
    default:
      break;
    }
}
