/* natter-peer-negotiation.c: offer/answer, perfect negotiation (glare), ICE both ways, signals in. */
#define G_LOG_DOMAIN "natter-peer-session"
#define GST_USE_UNSTABLE_API

#include "natter-peer-session-private.h"

#include <string.h>

#include <gst/sdp/sdp.h>

#include "natter-sdp.h"

typedef struct
{
  guint  mline;
  char  *candidate;
} RemoteCandidate;

/* ---- small helpers ---------------------------------------------------- */

void
_natter_peer_remote_candidate_free (gpointer data)
{
  RemoteCandidate *rc = data;

  g_free (rc->candidate);
  g_free (rc);
}

static gboolean
is_valid_session_id (const char *session_id)
{
  gsize len = strlen (session_id);

  if (len == 0 || len > MAX_SESSION_ID_LEN)
    return FALSE;
  for (gsize i = 0; i < len; i++)
    if (!g_ascii_isalnum (session_id[i]) && session_id[i] != '-' && session_id[i] != '_')
      return FALSE;
  return TRUE;
}

/* ---- local ICE candidate batching -------------------------------------- */

void
_natter_peer_session_flush_candidates (NatterPeerSession *self,
                                       Attempt           *attempt,
                                       gboolean           complete)
{
  JsonObject *body;

  _natter_peer_attempt_destroy_source (&attempt->batch_source);

  /* Late candidates after "complete" still go out; an empty batch only
   * when it is the first end-of-candidates. */
  if (json_array_get_length (attempt->local_batch) == 0 && (!complete || attempt->sent_complete))
    return;

  body = json_object_new ();
  json_object_set_array_member (body, "candidates", g_steal_pointer (&attempt->local_batch));
  json_object_set_boolean_member (body, "complete", complete);
  attempt->local_batch = json_array_new ();
  attempt->sent_complete |= complete;
  _natter_peer_session_emit_signal_out (self, "ice", attempt->session_id, body);
}

gboolean
_natter_peer_session_on_batch_timeout (gpointer data)
{
  Attempt *attempt = data;
  g_autoptr(NatterPeerSession) self = _natter_peer_attempt_get_current_session (attempt);

  /* The source is being dispatched: forget it before the flush destroys it. */
  g_clear_pointer (&attempt->batch_source, g_source_unref);
  if (self != NULL)
    _natter_peer_session_flush_candidates (self, attempt, FALSE);
  return G_SOURCE_REMOVE;
}

/* ---- remote candidates -------------------------------------------------- */

static void
attempt_add_remote_candidates (Attempt   *attempt,
                               GPtrArray *candidates)
{
  for (guint i = 0; i < candidates->len; i++)
    {
      RemoteCandidate *rc = g_ptr_array_index (candidates, i);

      g_signal_emit_by_name (attempt->webrtc, "add-ice-candidate", rc->mline, rc->candidate);
    }
}

static void
buffer_candidates (GPtrArray *into,
                   GPtrArray *candidates)
{
  while (candidates->len > 0 && into->len < MAX_BUFFERED_CANDIDATES)
    g_ptr_array_add (into, g_ptr_array_steal_index (candidates, 0));
}

/* ---- handling GStreamer events on the main context ---------------------- */

static GstWebRTCSessionDescription *
promise_take_description (GstPromise *promise,
                          const char *field)
{
  GstWebRTCSessionDescription *desc = NULL;
  const GstStructure *reply;

  if (gst_promise_wait (promise) != GST_PROMISE_RESULT_REPLIED)
    return NULL;
  reply = gst_promise_get_reply (promise);
  if (reply == NULL || !gst_structure_has_field (reply, field))
    return NULL;
  gst_structure_get (reply, field, GST_TYPE_WEBRTC_SESSION_DESCRIPTION, &desc, NULL);
  return desc;
}

void
_natter_peer_session_publish_description (NatterPeerSession *self,
                                          Attempt           *attempt,
                                          GstPromise        *promise)
{
  const char *type = attempt->offerer ? "offer" : "answer";
  g_autoptr(GstWebRTCSessionDescription) desc = promise_take_description (promise, type);
  g_autofree char *text = NULL;
  JsonObject *body;

  if (desc == NULL)
    {
      _natter_peer_session_fail (self, attempt->offerer ? "could not create an offer"
                                                        : "could not create an answer");
      return;
    }

  g_signal_emit_by_name (attempt->webrtc, "set-local-description", desc, NULL);

  text = gst_sdp_message_as_text (desc->sdp);
  g_free (self->local_fingerprint);
  self->local_fingerprint = natter_sdp_message_get_fingerprint (desc->sdp, NULL);
  body = json_object_new ();
  json_object_set_string_member (body, "sdp", text);
  if (attempt->abandoned_offer != NULL)
    json_object_set_string_member (body, "abandoned", attempt->abandoned_offer);
  _natter_peer_session_emit_signal_out (self, type, attempt->session_id, body);
}

void
_natter_peer_session_remote_description_set (NatterPeerSession *self,
                                             Attempt           *attempt,
                                             GstPromise        *promise)
{
  const GstStructure *reply;

  reply = gst_promise_wait (promise) == GST_PROMISE_RESULT_REPLIED
          ? gst_promise_get_reply (promise) : NULL;
  /* webrtcbin replies with an "error" field when it refuses the SDP. */
  if (reply != NULL && gst_structure_has_field (reply, "error"))
    {
      _natter_peer_session_fail (self, "the peer's description was refused");
      return;
    }

  attempt->remote_set = TRUE;
  attempt_add_remote_candidates (attempt, attempt->pending_remote);
  g_ptr_array_set_size (attempt->pending_remote, 0);

  if (!attempt->offerer)
    {
      g_autoptr(GstPromise) answer = _natter_peer_attempt_new_promise (attempt,
                                                                       EVENT_ANSWER_CREATED);

      g_signal_emit_by_name (attempt->webrtc, "create-answer", NULL, answer);
    }
}

/* ---- incoming signaling ------------------------------------------------- */

/* A description without exactly one usable DTLS fingerprint could never be
 * bound to the peer's identity, so it is refused before it costs anything. */
static GstSDPMessage *
parse_sdp_body (NatterPeerSession  *self,
                JsonObject         *body,
                char              **fingerprint)
{
  g_autoptr(GstSDPMessage) sdp = NULL;
  g_autoptr(GError) error = NULL;
  const char *text;

  if (!json_object_has_member (body, "sdp") ||
      json_node_get_value_type (json_object_get_member (body, "sdp")) != G_TYPE_STRING)
    return NULL;
  text = json_object_get_string_member (body, "sdp");

  if (gst_sdp_message_new_from_text (text, &sdp) != GST_SDP_OK ||
      gst_sdp_message_medias_len (sdp) == 0)
    return NULL;
  *fingerprint = natter_sdp_message_get_fingerprint (sdp, &error);
  if (*fingerprint == NULL)
    {
      g_info (LOG_PAIR ": refusing a description: %s",
              self->local_peer_id, self->remote_peer_id, error->message);
      return NULL;
    }
  return g_steal_pointer (&sdp);
}

static GPtrArray *
parse_ice_body (JsonObject *body)
{
  GPtrArray *candidates = g_ptr_array_new_with_free_func (_natter_peer_remote_candidate_free);
  JsonNode *node = json_object_get_member (body, "candidates");
  JsonArray *array;

  if (node == NULL || !JSON_NODE_HOLDS_ARRAY (node))
    return candidates;
  array = json_node_get_array (node);

  for (guint i = 0; i < json_array_get_length (array) && i < MAX_BUFFERED_CANDIDATES; i++)
    {
      JsonNode *element = json_array_get_element (array, i);
      JsonObject *object;
      JsonNode *mline, *text;
      RemoteCandidate *rc;

      if (!JSON_NODE_HOLDS_OBJECT (element))
        continue;
      object = json_node_get_object (element);
      mline = json_object_get_member (object, "mline");
      text = json_object_get_member (object, "candidate");
      if (mline == NULL || text == NULL ||
          json_node_get_value_type (mline) != G_TYPE_INT64 ||
          json_node_get_value_type (text) != G_TYPE_STRING ||
          json_node_get_int (mline) < 0 || json_node_get_int (mline) > MAX_MLINE ||
          !g_str_has_prefix (json_node_get_string (text), "candidate:") ||
          strlen (json_node_get_string (text)) > MAX_CANDIDATE_LEN)
        continue;

      rc = g_new0 (RemoteCandidate, 1);
      rc->mline = json_node_get_int (mline);
      rc->candidate = g_strdup (json_node_get_string (text));
      g_ptr_array_add (candidates, rc);
    }

  return candidates;
}

static void
session_handle_offer (NatterPeerSession *self,
                      const char        *session_id,
                      JsonObject        *body)
{
  g_autofree char *fingerprint = NULL;
  g_autoptr(GstSDPMessage) sdp = parse_sdp_body (self, body, &fingerprint);
  g_autofree char *abandoned = NULL;
  Attempt *current = self->attempt;
  Attempt *attempt;
  g_autoptr(GPtrArray) early = NULL;
  g_autoptr(GstPromise) promise = NULL;
  GstWebRTCSessionDescription *desc;

  if (sdp == NULL || _natter_peer_session_is_retired (self, session_id) ||
      (current != NULL && g_str_equal (current->session_id, session_id)))
    return;

  /* Glare: we are making an offer too (or waiting for its answer). */
  if (current != NULL && current->offerer && !current->answer_received)
    {
      if (!self->polite)
        {
          g_debug (LOG_PAIR ": ignoring a colliding offer",
                   self->local_peer_id, self->remote_peer_id);
          _natter_peer_session_retire (self, session_id);
          return;
        }
      /* Rolling back = a fresh webrtcbin (1.22 has no SDP rollback). The
       * answer names the offer we dropped, so the impolite peer can tell it
       * is stale even if it is delivered late. */
      abandoned = g_strdup (current->session_id);
    }

  /* No collision, or a new offer for an established session (the peer
   * restarted): the new offer replaces whatever we had. */
  attempt = _natter_peer_session_start_attempt (self, session_id, FALSE);
  if (attempt == NULL)
    return;
  attempt->abandoned_offer = g_steal_pointer (&abandoned);

  early = _natter_peer_session_take_early_ice (self, session_id);
  if (early != NULL)
    buffer_candidates (attempt->pending_remote, early);

  self->remote_fingerprint = g_steal_pointer (&fingerprint);
  desc = gst_webrtc_session_description_new (GST_WEBRTC_SDP_TYPE_OFFER, g_steal_pointer (&sdp));
  promise = _natter_peer_attempt_new_promise (attempt, EVENT_REMOTE_DESCRIPTION_SET);
  g_signal_emit_by_name (attempt->webrtc, "set-remote-description", desc, promise);
  gst_webrtc_session_description_free (desc);
}

static void
session_handle_answer (NatterPeerSession *self,
                       const char        *session_id,
                       JsonObject        *body)
{
  g_autoptr(GstSDPMessage) sdp = NULL;
  g_autoptr(GstPromise) promise = NULL;
  g_autofree char *fingerprint = NULL;
  Attempt *attempt = self->attempt;
  GstWebRTCSessionDescription *desc;
  const char *abandoned;
  JsonNode *node;

  if (attempt == NULL || !attempt->offerer || attempt->answer_received ||
      !g_str_equal (attempt->session_id, session_id))
    return;

  sdp = parse_sdp_body (self, body, &fingerprint);
  if (sdp == NULL)
    return;

  /* The polite peer dropped its own colliding offer; if that offer is still
   * on its way to us, it must not replace this connection. */
  node = json_object_get_member (body, "abandoned");
  abandoned = node != NULL && JSON_NODE_HOLDS_VALUE (node) &&
              json_node_get_value_type (node) == G_TYPE_STRING
              ? json_node_get_string (node) : NULL;
  if (abandoned != NULL && is_valid_session_id (abandoned))
    _natter_peer_session_retire (self, abandoned);

  attempt->answer_received = TRUE;
  g_free (self->remote_fingerprint);
  self->remote_fingerprint = g_steal_pointer (&fingerprint);
  desc = gst_webrtc_session_description_new (GST_WEBRTC_SDP_TYPE_ANSWER, g_steal_pointer (&sdp));
  promise = _natter_peer_attempt_new_promise (attempt, EVENT_REMOTE_DESCRIPTION_SET);
  g_signal_emit_by_name (attempt->webrtc, "set-remote-description", desc, promise);
  gst_webrtc_session_description_free (desc);
}

static void
session_handle_ice (NatterPeerSession *self,
                    const char        *session_id,
                    JsonObject        *body)
{
  g_autoptr(GPtrArray) candidates = parse_ice_body (body);
  Attempt *attempt = self->attempt;
  GPtrArray *early;

  if (attempt != NULL && g_str_equal (attempt->session_id, session_id))
    {
      if (attempt->remote_set)
        attempt_add_remote_candidates (attempt, candidates);
      else
        buffer_candidates (attempt->pending_remote, candidates);
      return;
    }

  if (_natter_peer_session_is_retired (self, session_id) || candidates->len == 0)
    return;

  /* Offer and ice travel on different topics, so candidates may overtake
   * their offer: keep a few, for a few session ids. */
  early = g_hash_table_lookup (self->early_ice, session_id);
  if (early == NULL)
    {
      char *key = g_strdup (session_id);

      while (self->early_order.length >= MAX_EARLY_ICE_SESSIONS)
        g_hash_table_remove (self->early_ice, g_queue_pop_head (&self->early_order));

      early = g_ptr_array_new_with_free_func (_natter_peer_remote_candidate_free);
      g_hash_table_insert (self->early_ice, key, early);
      g_queue_push_tail (&self->early_order, key);
    }
  buffer_candidates (early, candidates);
}

/**
 * natter_peer_session_handle_signal:
 * @type: "offer", "answer", "ice" or "bye"
 * @session_id: the attempt the signal belongs to
 * @body: the signal's JSON body
 *
 * Feeds one signaling message from the peer into the session. Stale,
 * duplicate and malformed signals are dropped quietly: the transport may
 * deliver twice or out of order.
 */
void
natter_peer_session_handle_signal (NatterPeerSession *self,
                                   const char        *type,
                                   const char        *session_id,
                                   JsonObject        *body)
{
  g_return_if_fail (NATTER_IS_PEER_SESSION (self));
  g_return_if_fail (type != NULL);
  g_return_if_fail (session_id != NULL);
  g_return_if_fail (body != NULL);

  if (self->state == NATTER_SESSION_CLOSED || !is_valid_session_id (session_id))
    return;

  if (g_str_equal (type, "offer"))
    session_handle_offer (self, session_id, body);
  else if (g_str_equal (type, "answer"))
    session_handle_answer (self, session_id, body);
  else if (g_str_equal (type, "ice"))
    session_handle_ice (self, session_id, body);
  else if (g_str_equal (type, "bye"))
    {
      if (self->attempt != NULL && g_str_equal (self->attempt->session_id, session_id))
        _natter_peer_session_end_attempt (self, NATTER_SESSION_DISCONNECTED);
    }
  else
    g_debug (LOG_PAIR ": dropping an unknown signal type",
             self->local_peer_id, self->remote_peer_id);
}
