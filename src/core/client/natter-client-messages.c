/* natter-client-messages.c: conversations: send, size check, search, read receipts, typing. */
#define G_LOG_DOMAIN "natter-client"

#include <string.h>

#include "natter-client-private.h"
#include "natter-chat-frame.h"
#include "natter-chat-protocol.h"
#include "natter-error.h"
#include "natter-hlc.h"
#include "natter-store.h"

/* ---- helpers ---- */

NatterMessageList *
_natter_client_lookup_list (NatterClient *self,
                            const char   *conversation)
{
  return g_hash_table_lookup (self->message_lists, conversation);
}

static char *
read_upto_key (const char *conversation)
{
  return g_strconcat ("read-upto:", conversation, NULL);
}

/* The highest seq of the peer's messages we told (or will tell) it we read. */
gint64
_natter_client_read_upto (NatterClient *self,
                          const char   *conversation)
{
  g_autofree char *key = read_upto_key (conversation);
  g_autofree char *value = natter_store_get_meta (self->store, key, NULL);

  return value != NULL ? g_ascii_strtoll (value, NULL, 10) : 0;
}

static gboolean
store_read_upto (NatterClient  *self,
                 Peer          *peer,
                 gint64         upto,
                 GError       **error)
{
  g_autofree char *key = read_upto_key (peer->conversation);
  g_autofree char *value = g_strdup_printf ("%" G_GINT64_FORMAT, upto);

  return natter_store_set_meta (self->store, key, value, error);
}

/* ---- messages ---- */

/**
 * natter_client_conversation_for:
 *
 * Returns: (transfer full): the id of the direct conversation with @peer_id
 */
char *
natter_client_conversation_for (NatterClient *self,
                                const char   *peer_id)
{
  g_return_val_if_fail (NATTER_IS_CLIENT (self), NULL);
  return natter_conversation_id_direct (natter_client_get_peer_id (self), peer_id);
}

/**
 * natter_client_get_messages:
 *
 * Returns: (transfer none): the conversation with @peer_id in display order
 */
GListModel *
natter_client_get_messages (NatterClient  *self,
                            const char    *peer_id,
                            GError       **error)
{
  g_autofree char *conv = NULL;
  NatterMessageList *list;

  g_return_val_if_fail (NATTER_IS_CLIENT (self), NULL);

  conv = natter_client_conversation_for (self, peer_id);
  list = _natter_client_lookup_list (self, conv);
  if (list == NULL)
    {
      list = natter_message_list_new (self->store, conv, error);
      if (list == NULL)
        return NULL;
      g_hash_table_insert (self->message_lists, g_steal_pointer (&conv), list);
    }
  return G_LIST_MODEL (list);
}

/* Whether @message goes out in one chat frame: the one check behind both
 * natter_client_send_message() and natter_client_message_fits(). */
static gboolean
message_fits_frame (const char     *conversation,
                    const char     *author,
                    NatterMessage  *message,
                    GError        **error)
{
  g_autoptr(GPtrArray) single = g_ptr_array_new ();
  g_autoptr(GBytes) frame = NULL;
  guint next = 0;

  g_ptr_array_add (single, message);
  frame = natter_chat_frame_build_messages (conversation, author, single, 0, &next, error);
  return frame != NULL;
}

/**
 * natter_client_message_fits:
 *
 * Whether natter_client_send_message() would take @body for @peer_id, as
 * far as its size goes (it refuses what cannot fit in one chat frame with
 * %NATTER_ERROR_TOO_LARGE). Cheap enough to ask on every keystroke: bodies
 * far below the limit are decided by length alone, JSON escaping at most
 * sextuples a byte. Near the limit the answer errs on the safe side by the
 * few bytes a larger sequence number or clock would add.
 */
gboolean
natter_client_message_fits (NatterClient *self,
                            const char   *peer_id,
                            const char   *body)
{
  g_autoptr(NatterMessage) probe = NULL;
  g_autofree char *conv = NULL;
  g_autofree char *id = NULL;
  const char *me;
  gint64 now_ms;
  gsize len;

  g_return_val_if_fail (NATTER_IS_CLIENT (self), FALSE);
  g_return_val_if_fail (peer_id != NULL, FALSE);
  g_return_val_if_fail (body != NULL, FALSE);

  len = strlen (body);
  if (len <= (NATTER_MAX_FRAME_SIZE - 2048) / 6)
    return TRUE;
  if (len > NATTER_MAX_FRAME_SIZE)
    return FALSE;

  /* The largest sequence number and clock a message can carry. */
  me = natter_client_get_peer_id (self);
  conv = natter_client_conversation_for (self, peer_id);
  now_ms = g_get_real_time () / 1000;
  id = natter_message_compute_id (me, G_MAXINT32, now_ms, G_MAXUINT16, body);
  probe = natter_message_new (id, conv, me, G_MAXINT32, now_ms, G_MAXUINT16, body, NULL,
                              NATTER_MESSAGE_QUEUED, FALSE, now_ms / 1000);
  return message_fits_frame (conv, me, probe, NULL);
}

/**
 * natter_client_search:
 * @peer_id: (nullable): whose conversation to search, or %NULL for all
 * @query: what the user typed, taken as plain words (each a prefix)
 *
 * Returns: (transfer container) (element-type NatterMessage): the newest
 *   @limit messages containing every word, in display order; %NULL with
 *   @error on failure
 */
GPtrArray *
natter_client_search (NatterClient  *self,
                      const char    *peer_id,
                      const char    *query,
                      guint          limit,
                      GError       **error)
{
  g_autofree char *conv = NULL;

  g_return_val_if_fail (NATTER_IS_CLIENT (self), NULL);
  g_return_val_if_fail (query != NULL, NULL);

  if (peer_id != NULL)
    conv = natter_client_conversation_for (self, peer_id);
  return natter_store_search (self->store, conv, query, limit, error);
}

/**
 * natter_client_message_position:
 *
 * Where @message sorts in its conversation: the number of stored messages
 * before it in display order, which is its position in the conversation's
 * natter_client_get_messages() list.
 *
 * Returns: the position, -1 with @error on failure
 */
gint64
natter_client_message_position (NatterClient  *self,
                                NatterMessage *message,
                                GError       **error)
{
  g_return_val_if_fail (NATTER_IS_CLIENT (self), -1);
  g_return_val_if_fail (NATTER_IS_MESSAGE (message), -1);

  return natter_store_message_position (self->store, message, error);
}

/**
 * natter_client_send_message:
 * @reply_to: (nullable): id of the message this answers
 *
 * Stores a new message as queued and sends it as soon as a session is open.
 * A body that cannot fit in one chat frame is refused with
 * %NATTER_ERROR_TOO_LARGE and nothing is stored.
 *
 * Returns: (transfer full): the message; watch notify::state for delivery
 */
NatterMessage *
natter_client_send_message (NatterClient  *self,
                            const char    *peer_id,
                            const char    *body,
                            const char    *reply_to,
                            GError       **error)
{
  g_autoptr(NatterMessage) message = NULL;
  g_autofree char *conv = NULL;
  g_autofree char *id = NULL;
  NatterMessageList *list;
  NatterHlcStamp stamp;
  const char *me;
  gboolean inserted = FALSE;
  Peer *peer;
  gint64 seq;

  g_return_val_if_fail (NATTER_IS_CLIENT (self), NULL);
  g_return_val_if_fail (peer_id != NULL, NULL);
  g_return_val_if_fail (body != NULL, NULL);

  if (!_natter_client_contact_is_accepted (self, peer_id))
    {
      g_set_error_literal (error, NATTER_ERROR, NATTER_ERROR_NOT_CONTACT,
                           "Messages can only be sent to accepted contacts");
      return NULL;
    }
  if (!g_utf8_validate (body, -1, NULL) || body[0] == '\0')
    {
      g_set_error_literal (error, NATTER_ERROR, NATTER_ERROR_INVALID_INPUT,
                           "A message must be non-empty text");
      return NULL;
    }

  me = natter_client_get_peer_id (self);
  conv = natter_client_conversation_for (self, peer_id);
  seq = natter_store_max_seq (self->store, conv, me, error) + 1;
  if (seq <= 0)
    return NULL;
  stamp = natter_hlc_send (self->hlc);
  id = natter_message_compute_id (me, seq, stamp.l, stamp.c, body);
  message = natter_message_new (id, conv, me, seq, stamp.l, stamp.c, body, reply_to,
                                NATTER_MESSAGE_QUEUED, FALSE,
                                g_get_real_time () / G_USEC_PER_SEC);

  /* Refuse now what could never be sent, rather than queue it forever. */
  if (!message_fits_frame (conv, me, message, error))
    return NULL;

  /* State updates reach the returned object only through the
   * conversation's list, so make sure there is one; it must read the
   * store before the message is in it, or it would list it twice. */
  list = NATTER_MESSAGE_LIST (natter_client_get_messages (self, peer_id, error));
  if (list == NULL)
    return NULL;

  if (!natter_store_add_message (self->store, message, &inserted, error))
    return NULL;

  natter_message_list_insert (list, message);
  _natter_client_touch_contact (self, peer_id, message, FALSE);

  peer = g_hash_table_lookup (self->peers, peer_id);
  if (peer != NULL && peer->protocol != NULL)
    natter_chat_protocol_message_added (peer->protocol, message);
  return g_steal_pointer (&message);
}

/**
 * natter_client_mark_read:
 *
 * Marks the conversation with @peer_id read and tells the peer.
 */
gboolean
natter_client_mark_read (NatterClient  *self,
                         const char    *peer_id,
                         GError       **error)
{
  NatterContact *contact;
  Peer *peer;
  gint64 upto;

  g_return_val_if_fail (NATTER_IS_CLIENT (self), FALSE);

  contact = natter_client_lookup_contact (self, peer_id);
  if (contact == NULL)
    return TRUE;
  natter_contact_set_unread_count (contact, 0);
  peer = _natter_client_lookup_peer (self, peer_id);
  /* Only what we hold without gaps counts as read. Stored, so a receipt
   * written while no session is up goes out on the next connection. */
  upto = natter_store_contiguous_seq (self->store, peer->conversation, peer_id, error);
  if (upto < 0)
    return FALSE;
  if (upto > _natter_client_read_upto (self, peer->conversation) &&
      !store_read_upto (self, peer, upto, error))
    return FALSE;
  if (peer->protocol == NULL)
    return TRUE;
  return natter_chat_protocol_send_read (peer->protocol, peer->conversation, upto, error);
}

gboolean
natter_client_set_typing (NatterClient  *self,
                          const char    *peer_id,
                          gboolean       typing,
                          GError       **error)
{
  Peer *peer;

  g_return_val_if_fail (NATTER_IS_CLIENT (self), FALSE);

  peer = g_hash_table_lookup (self->peers, peer_id);
  if (peer == NULL || peer->protocol == NULL)
    {
      g_set_error_literal (error, NATTER_ERROR, NATTER_ERROR_NOT_CONNECTED,
                           "No direct connection to this contact");
      return FALSE;
    }
  return natter_chat_protocol_send_typing (peer->protocol, peer->conversation, typing, error);
}
