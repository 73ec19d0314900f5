/* natter-client-contacts.c: the contact list, requests, answers, rename, verify, delete. */
#define G_LOG_DOMAIN "natter-client"

#include "natter-client-private.h"
#include "natter-error.h"
#include "natter-identity.h"
#include "natter-store.h"

#define PREVIEW_LEN  80

/* ---- helpers ---- */

void
_natter_client_touch_contact (NatterClient  *self,
                              const char    *peer_id,
                              NatterMessage *message,
                              gboolean       incoming)
{
  NatterContact *contact = natter_client_lookup_contact (self, peer_id);
  g_autofree char *preview = NULL;
  const char *body;

  if (contact == NULL)
    return;
  body = natter_message_get_body (message);
  preview = g_utf8_substring (body, 0, MIN (g_utf8_strlen (body, -1), PREVIEW_LEN));
  natter_contact_set_last_message_preview (contact, preview);
  natter_contact_set_last_activity (contact,
                                    MAX (natter_contact_get_last_activity (contact),
                                         natter_message_get_hlc_l (message)));
  if (incoming)
    natter_contact_set_unread_count (contact, natter_contact_get_unread_count (contact) + 1);
}

static void
emit_contact_changed (NatterClient  *self,
                      NatterContact *contact)
{
  g_signal_emit (self, _natter_client_signals[CONTACT_CHANGED], 0, contact);
}

gboolean
_natter_client_save_contact (NatterClient   *self,
                             NatterContact  *contact,
                             GError        **error)
{
  if (!natter_store_save_contact (self->store, contact, error))
    return FALSE;
  emit_contact_changed (self, contact);
  return TRUE;
}

/* ---- contacts ---- */

GListModel *
natter_client_get_contacts (NatterClient *self)
{
  g_return_val_if_fail (NATTER_IS_CLIENT (self), NULL);
  return G_LIST_MODEL (self->contacts);
}

/**
 * natter_client_lookup_contact:
 *
 * Returns: (transfer none) (nullable): the contact with @peer_id
 */
NatterContact *
natter_client_lookup_contact (NatterClient *self,
                              const char   *peer_id)
{
  guint n;

  g_return_val_if_fail (NATTER_IS_CLIENT (self), NULL);

  n = g_list_model_get_n_items (G_LIST_MODEL (self->contacts));
  for (guint i = 0; i < n; i++)
    {
      NatterContact *contact = g_list_model_get_item (G_LIST_MODEL (self->contacts), i);

      g_object_unref (contact);  /* the store keeps it alive */
      if (g_str_equal (natter_contact_get_peer_id (contact), peer_id))
        return contact;
    }
  return NULL;
}

/**
 * natter_client_add_contact:
 * @name: (nullable): a local name for the contact
 *
 * Asks @peer_id to become a contact; the request is sent now and again each
 * time the peer comes online until answered.
 *
 * Returns: (transfer none): the contact, or %NULL with @error
 */
NatterContact *
natter_client_add_contact (NatterClient  *self,
                           const char    *peer_id,
                           const char    *name,
                           GError       **error)
{
  NatterContact *contact;

  g_return_val_if_fail (NATTER_IS_CLIENT (self), NULL);
  g_return_val_if_fail (peer_id != NULL, NULL);

  if (!natter_peer_id_is_valid (peer_id))
    {
      g_set_error_literal (error, NATTER_ERROR, NATTER_ERROR_INVALID_INPUT,
                           "That is not a valid Natter peer id");
      return NULL;
    }
  if (g_str_equal (peer_id, natter_client_get_peer_id (self)))
    {
      g_set_error_literal (error, NATTER_ERROR, NATTER_ERROR_INVALID_INPUT,
                           "That is your own peer id");
      return NULL;
    }

  contact = natter_client_lookup_contact (self, peer_id);
  if (contact != NULL && natter_contact_get_state (contact) == NATTER_CONTACT_PENDING_IN)
    return natter_client_accept_contact (self, peer_id, error) ? contact : NULL;
  if (contact != NULL && natter_contact_get_state (contact) == NATTER_CONTACT_ACCEPTED)
    return contact;

  if (contact == NULL)
    {
      g_autoptr(NatterContact) created = natter_contact_new (peer_id);

      g_list_store_append (self->contacts, created);
      contact = created;
    }
  if (name != NULL)
    natter_contact_set_name (contact, name);
  natter_contact_set_state (contact, NATTER_CONTACT_PENDING_OUT);
  if (!_natter_client_save_contact (self, contact, error))
    return NULL;

  if (self->signaling != NULL)
    {
      _natter_client_follow_contact (self, contact);
      _natter_client_send_contact_envelope (self, peer_id, "contact-request");
    }
  return contact;
}

static gboolean
answer_contact (NatterClient        *self,
                const char          *peer_id,
                NatterContactState   state,
                const char          *reply,
                GError             **error)
{
  NatterContact *contact;

  g_return_val_if_fail (NATTER_IS_CLIENT (self), FALSE);
  g_return_val_if_fail (peer_id != NULL, FALSE);

  contact = natter_client_lookup_contact (self, peer_id);
  if (contact == NULL)
    {
      g_set_error_literal (error, NATTER_ERROR, NATTER_ERROR_NOT_CONTACT,
                           "No contact or request with that peer id");
      return FALSE;
    }
  natter_contact_set_state (contact, state);
  if (!_natter_client_save_contact (self, contact, error))
    return FALSE;
  if (self->signaling == NULL)
    return TRUE;

  if (reply != NULL)
    _natter_client_send_contact_envelope (self, peer_id, reply);
  if (state == NATTER_CONTACT_ACCEPTED)
    {
      _natter_client_follow_contact (self, contact);
      if (natter_signaling_is_online (self->signaling, peer_id))
        _natter_client_peer_connect (_natter_client_lookup_peer (self, peer_id));
    }
  else
    {
      natter_signaling_unfollow_presence (self->signaling, peer_id);
      g_hash_table_remove (self->peers, peer_id);
    }
  return TRUE;
}

gboolean
natter_client_accept_contact (NatterClient  *self,
                              const char    *peer_id,
                              GError       **error)
{
  return answer_contact (self, peer_id, NATTER_CONTACT_ACCEPTED, "contact-accept", error);
}

gboolean
natter_client_decline_contact (NatterClient  *self,
                               const char    *peer_id,
                               GError       **error)
{
  return answer_contact (self, peer_id, NATTER_CONTACT_DECLINED, "contact-decline", error);
}

/**
 * natter_client_block_contact:
 *
 * Stops sessions and signaling with @peer_id; the history is kept.
 */
gboolean
natter_client_block_contact (NatterClient  *self,
                             const char    *peer_id,
                             GError       **error)
{
  return answer_contact (self, peer_id, NATTER_CONTACT_BLOCKED, NULL, error);
}

/* ---- contact management (UI) ---- */

static NatterContact *
require_contact (NatterClient  *self,
                 const char    *peer_id,
                 GError       **error)
{
  NatterContact *contact = natter_client_lookup_contact (self, peer_id);

  if (contact == NULL)
    g_set_error_literal (error, NATTER_ERROR, NATTER_ERROR_NOT_CONTACT,
                         "No contact with that peer id");
  return contact;
}

/**
 * natter_client_rename_contact:
 * @name: (nullable): the local name; %NULL or blank goes back to the short id
 *
 * Renames a contact for this profile only; the peer never learns it.
 */
gboolean
natter_client_rename_contact (NatterClient  *self,
                              const char    *peer_id,
                              const char    *name,
                              GError       **error)
{
  g_autofree char *clean = NULL;
  NatterContact *contact;

  g_return_val_if_fail (NATTER_IS_CLIENT (self), FALSE);
  g_return_val_if_fail (peer_id != NULL, FALSE);

  if (name != NULL)
    {
      if (!g_utf8_validate (name, -1, NULL) || g_utf8_strlen (name, -1) > MAX_NAME_LEN)
        {
          g_set_error (error, NATTER_ERROR, NATTER_ERROR_INVALID_INPUT,
                       "A name is at most %d characters of text", MAX_NAME_LEN);
          return FALSE;
        }
      for (const char *p = name; *p != '\0'; p = g_utf8_next_char (p))
        {
          /* Names end up in lists and notifications: no line breaks or escapes. */
          if (g_unichar_iscntrl (g_utf8_get_char (p)))
            {
              g_set_error_literal (error, NATTER_ERROR, NATTER_ERROR_INVALID_INPUT,
                                   "A name cannot contain control characters");
              return FALSE;
            }
        }
      clean = g_strstrip (g_strdup (name));
      if (clean[0] == '\0')
        g_clear_pointer (&clean, g_free);
    }

  if ((contact = require_contact (self, peer_id, error)) == NULL)
    return FALSE;
  if (g_strcmp0 (natter_contact_get_name (contact), clean) == 0)
    return TRUE;
  natter_contact_set_name (contact, clean);
  return _natter_client_save_contact (self, contact, error);
}

/**
 * natter_client_delete_contact:
 * @keep_history: %FALSE to also delete the conversation's messages
 *
 * Ends the session with @peer_id, stops following its presence and forgets
 * the contact. A later contact request from the peer arrives as a new one.
 */
gboolean
natter_client_delete_contact (NatterClient  *self,
                              const char    *peer_id,
                              gboolean       keep_history,
                              GError       **error)
{
  g_autoptr(NatterContact) contact = NULL;
  g_autofree char *conv = NULL;
  NatterContact *found;
  guint position;

  g_return_val_if_fail (NATTER_IS_CLIENT (self), FALSE);
  g_return_val_if_fail (peer_id != NULL, FALSE);

  found = require_contact (self, peer_id, error);
  if (found == NULL)
    return FALSE;
  /* Kept alive until the model no longer lists it. */
  contact = g_object_ref (found);
  conv = natter_client_conversation_for (self, peer_id);

  /* Contact and history go together or not at all. */
  if (!natter_store_begin (self->store, error))
    return FALSE;
  if (!natter_store_delete_contact (self->store, peer_id, error) ||
      (!keep_history && !natter_store_delete_conversation (self->store, conv, error)) ||
      !natter_store_commit (self->store, error))
    {
      natter_store_rollback (self->store);
      return FALSE;
    }

  if (self->signaling != NULL)
    natter_signaling_unfollow_presence (self->signaling, peer_id);
  g_hash_table_remove (self->peers, peer_id);
  if (!keep_history)
    g_hash_table_remove (self->message_lists, conv);
  if (g_list_store_find (self->contacts, contact, &position))
    g_list_store_remove (self->contacts, position);
  return TRUE;
}

/**
 * natter_client_set_contact_verified:
 *
 * Records that the user compared the safety number with @peer_id (or
 * withdraws that).
 */
gboolean
natter_client_set_contact_verified (NatterClient  *self,
                                    const char    *peer_id,
                                    gboolean       verified,
                                    GError       **error)
{
  NatterContact *contact;

  g_return_val_if_fail (NATTER_IS_CLIENT (self), FALSE);
  g_return_val_if_fail (peer_id != NULL, FALSE);

  if ((contact = require_contact (self, peer_id, error)) == NULL)
    return FALSE;
  if (natter_contact_get_verified (contact) == !!verified)
    return TRUE;
  natter_contact_set_verified (contact, verified);
  if (!_natter_client_save_contact (self, contact, error))
    {
      natter_contact_set_verified (contact, !verified);
      return FALSE;
    }
  return TRUE;
}

/**
 * natter_client_dup_safety_number:
 *
 * Returns: (transfer full) (nullable): the safety number of this profile and
 *   @peer_id as 12 groups of 5 digits, the same on both sides; %NULL if
 *   @peer_id is not a valid peer id
 */
char *
natter_client_dup_safety_number (NatterClient *self,
                                 const char   *peer_id)
{
  guint8 key[NATTER_PUBLIC_KEY_SIZE];
  g_autofree char *digits = NULL;

  g_return_val_if_fail (NATTER_IS_CLIENT (self), NULL);
  g_return_val_if_fail (peer_id != NULL, NULL);

  if (!natter_peer_id_to_public_key (peer_id, key, NULL))
    return NULL;
  digits = natter_safety_number (natter_identity_get_public_key (self->identity), key);
  return natter_safety_number_format (digits);
}

/**
 * natter_client_load_contact_summaries:
 *
 * Fills each contact's last message preview and last activity from the
 * store, so a freshly opened profile lists its conversations by activity
 * before any new message arrives. (Not the unread count: our own reading
 * is not stored yet, so the store cannot tell it.)
 */
void
natter_client_load_contact_summaries (NatterClient *self)
{
  guint n;

  g_return_if_fail (NATTER_IS_CLIENT (self));

  n = g_list_model_get_n_items (G_LIST_MODEL (self->contacts));
  for (guint i = 0; i < n; i++)
    {
      g_autoptr(NatterContact) contact = g_list_model_get_item (G_LIST_MODEL (self->contacts), i);
      const char *peer_id = natter_contact_get_peer_id (contact);
      g_autofree char *conv = natter_client_conversation_for (self, peer_id);
      g_autoptr(NatterMessage) last = natter_store_get_last_message (self->store, conv, NULL);

      if (last != NULL)
        _natter_client_touch_contact (self, peer_id, last, FALSE);
    }
}
