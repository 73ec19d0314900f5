/* natter-chat-frame.c: parses and builds chat frames; the only code reading chat bytes from a peer. */
#define G_LOG_DOMAIN "natter-frame"

#include "natter-chat-frame.h"

#include "natter-error.h"
#include "natter-identity.h"
#include "natter-json.h"
#include "natter-message.h"

/* Largest seq or clock value accepted: keeps every number exact in JSON doubles elsewhere. */
#define MAX_SAFE_INT ((gint64) 1 << 53)
#define MAX_CONVERSATION_LEN 128

static const char * const frame_names[] = { "msg", "ack", "read", "typing", "sync", "ping", "file" };

static void
frame_message_free (NatterFrameMessage *message)
{
  g_free (message->body);
  g_free (message->reply_to);
  g_free (message);
}

void
natter_chat_frame_free (NatterChatFrame *frame)
{
  if (frame == NULL)
    return;
  g_free (frame->conversation);
  g_free (frame->author);
  g_clear_pointer (&frame->messages, g_ptr_array_unref);
  g_clear_pointer (&frame->vv, g_hash_table_unref);
  g_clear_pointer (&frame->file, json_object_unref);
  g_free (frame);
}

static gboolean
parse_author (JsonObject       *object,
              NatterChatFrame  *frame,
              GError          **error)
{
  const char *author;

  if (!natter_json_get_string (object, "author", TRUE, NATTER_PEER_ID_LENGTH, &author, error))
    return FALSE;
  if (!natter_peer_id_is_valid (author))
    {
      g_set_error_literal (error, NATTER_ERROR, NATTER_ERROR_INVALID_INPUT,
                           "author is not a peer id");
      return FALSE;
    }
  frame->author = g_strdup (author);
  return TRUE;
}

/* One message is [seq, l, c, body] or [seq, l, c, body, reply_to]. */
static NatterFrameMessage *
parse_message (JsonNode  *node,
               GError   **error)
{
  NatterFrameMessage *message;
  JsonArray *array;
  JsonNode *body;
  JsonNode *reply_to = NULL;
  gint64 seq, l, c;
  guint len;

  if (!JSON_NODE_HOLDS_ARRAY (node))
    goto invalid;
  array = json_node_get_array (node);
  len = json_array_get_length (array);
  if (len != 4 && len != 5)
    goto invalid;
  if (!natter_json_node_get_int (json_array_get_element (array, 0), &seq) || seq < 1 ||
      seq > MAX_SAFE_INT ||
      !natter_json_node_get_int (json_array_get_element (array, 1), &l) || l < 0 ||
      l > MAX_SAFE_INT ||
      !natter_json_node_get_int (json_array_get_element (array, 2), &c) || c < 0 ||
      c > MAX_SAFE_INT)
    goto invalid;
  body = json_array_get_element (array, 3);
  if (!JSON_NODE_HOLDS_VALUE (body) || json_node_get_value_type (body) != G_TYPE_STRING)
    goto invalid;
  if (len == 5)
    {
      reply_to = json_array_get_element (array, 4);
      if (!JSON_NODE_HOLDS_VALUE (reply_to) ||
          json_node_get_value_type (reply_to) != G_TYPE_STRING ||
          strlen (json_node_get_string (reply_to)) > NATTER_MESSAGE_ID_MAX)
        goto invalid;
    }

  message = g_new0 (NatterFrameMessage, 1);
  message->seq = seq;
  message->hlc_l = l;
  message->hlc_c = c;
  message->body = g_strdup (json_node_get_string (body));
  message->reply_to = reply_to ? g_strdup (json_node_get_string (reply_to)) : NULL;
  return message;

invalid:
  g_set_error_literal (error, NATTER_ERROR, NATTER_ERROR_INVALID_INPUT,
                       "malformed message entry");
  return NULL;
}

static gboolean
parse_messages (JsonObject       *object,
                NatterChatFrame  *frame,
                GError          **error)
{
  JsonArray *array = natter_json_get_array (object, "m", error);
  gint64 previous_seq = 0;
  guint len;

  if (array == NULL)
    return FALSE;
  len = json_array_get_length (array);
  if (len == 0 || len > NATTER_FRAME_MAX_MESSAGES)
    {
      g_set_error_literal (error, NATTER_ERROR, NATTER_ERROR_INVALID_INPUT,
                           "message count out of range");
      return FALSE;
    }
  frame->messages = g_ptr_array_new_full (len, (GDestroyNotify) frame_message_free);
  for (guint i = 0; i < len; i++)
    {
      NatterFrameMessage *message = parse_message (json_array_get_element (array, i), error);

      if (message == NULL)
        return FALSE;
      g_ptr_array_add (frame->messages, message);
      /* A sender lists one author's messages in strictly increasing seq order. */
      if (message->seq <= previous_seq)
        {
          g_set_error_literal (error, NATTER_ERROR, NATTER_ERROR_INVALID_INPUT,
                               "messages out of seq order");
          return FALSE;
        }
      previous_seq = message->seq;
    }
  return TRUE;
}

static gboolean
parse_vv (JsonObject       *object,
          NatterChatFrame  *frame,
          GError          **error)
{
  JsonObject *vv = natter_json_get_object (object, "vv", error);
  JsonObjectIter iter;
  const char *author;
  JsonNode *node;

  if (vv == NULL)
    return FALSE;
  if (json_object_get_size (vv) > NATTER_FRAME_MAX_AUTHORS)
    {
      g_set_error_literal (error, NATTER_ERROR, NATTER_ERROR_INVALID_INPUT,
                           "too many authors");
      return FALSE;
    }
  frame->vv = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  json_object_iter_init (&iter, vv);
  while (json_object_iter_next (&iter, &author, &node))
    {
      gint64 seq;

      if (!natter_peer_id_is_valid (author) || !natter_json_node_get_int (node, &seq) ||
          seq < 0 || seq > MAX_SAFE_INT)
        {
          g_set_error_literal (error, NATTER_ERROR, NATTER_ERROR_INVALID_INPUT,
                               "malformed version vector");
          return FALSE;
        }
      g_hash_table_insert (frame->vv, g_strdup (author), g_memdup2 (&seq, sizeof seq));
    }
  return TRUE;
}

/**
 * natter_chat_frame_parse:
 *
 * Strictly parses one frame from the chat channel: size, UTF-8, depth, known
 * type, exact members and their types. Nothing of the content goes into
 * error messages.
 *
 * Returns: (transfer full): the frame, or %NULL with @error set
 */
NatterChatFrame *
natter_chat_frame_parse (const guint8  *data,
                         gsize          len,
                         GError       **error)
{
  static const char * const msg_members[] = { "t", "conv", "author", "m", NULL };
  static const char * const upto_members[] = { "t", "conv", "author", "upto", NULL };
  static const char * const typing_members[] = { "t", "conv", "on", NULL };
  static const char * const sync_members[] = { "t", "conv", "vv", NULL };
  static const char * const ping_members[] = { "t", "conv", NULL };
  g_autoptr(NatterChatFrame) frame = g_new0 (NatterChatFrame, 1);
  g_autoptr(JsonObject) object = NULL;
  const char *type_name;
  const char *conversation;
  guint type;

  object = natter_json_parse_object ((const char *) data, len, NATTER_MAX_FRAME_SIZE,
                                     NATTER_JSON_MAX_DEPTH, error);
  if (object == NULL)
    return NULL;
  if (!natter_json_get_string (object, "t", TRUE, 16, &type_name, error))
    return NULL;
  for (type = 0; type < G_N_ELEMENTS (frame_names); type++)
    if (g_str_equal (type_name, frame_names[type]))
      break;
  if (type == G_N_ELEMENTS (frame_names))
    {
      g_set_error_literal (error, NATTER_ERROR, NATTER_ERROR_INVALID_INPUT,
                           "unknown frame type");
      return NULL;
    }
  frame->type = type;

  if (!natter_json_get_string (object, "conv", TRUE, MAX_CONVERSATION_LEN, &conversation, error))
    return NULL;
  frame->conversation = g_strdup (conversation);

  switch (frame->type)
    {
    case NATTER_FRAME_MSG:
      if (!natter_json_check_members (object, msg_members, error) ||
          !parse_author (object, frame, error) ||
          !parse_messages (object, frame, error))
        return NULL;
      break;

    case NATTER_FRAME_ACK:
    case NATTER_FRAME_READ:
      if (!natter_json_check_members (object, upto_members, error) ||
          !parse_author (object, frame, error) ||
          !natter_json_get_int (object, "upto", TRUE, 0, MAX_SAFE_INT, &frame->upto, error))
        return NULL;
      break;

    case NATTER_FRAME_TYPING:
      if (!natter_json_check_members (object, typing_members, error) ||
          !natter_json_get_bool (object, "on", TRUE, &frame->typing, error))
        return NULL;
      break;

    case NATTER_FRAME_SYNC:
      if (!natter_json_check_members (object, sync_members, error) ||
          !parse_vv (object, frame, error))
        return NULL;
      break;

    case NATTER_FRAME_PING:
      if (!natter_json_check_members (object, ping_members, error))
        return NULL;
      break;

    case NATTER_FRAME_FILE:
      /* Size, depth and UTF-8 are checked above; the transfer layer owns
       * the members. */
      frame->file = json_object_ref (object);
      break;

    default:
      g_assert_not_reached ();
    }

  return g_steal_pointer (&frame);
}

static JsonBuilder *
begin_frame (NatterFrameType  type,
             const char      *conversation)
{
  JsonBuilder *builder = json_builder_new_immutable ();

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "t");
  json_builder_add_string_value (builder, frame_names[type]);
  json_builder_set_member_name (builder, "conv");
  json_builder_add_string_value (builder, conversation);
  return builder;
}

static GBytes *
end_frame (JsonBuilder *builder)
{
  g_autoptr(JsonNode) root = NULL;

  json_builder_end_object (builder);
  root = json_builder_get_root (builder);
  return natter_json_to_bytes (root);
}

GBytes *
natter_chat_frame_build_sync (const char *conversation,
                              GHashTable *vv)
{
  g_autoptr(JsonBuilder) builder = begin_frame (NATTER_FRAME_SYNC, conversation);
  GHashTableIter iter;
  gpointer key, value;

  json_builder_set_member_name (builder, "vv");
  json_builder_begin_object (builder);
  g_hash_table_iter_init (&iter, vv);
  while (g_hash_table_iter_next (&iter, &key, &value))
    {
      json_builder_set_member_name (builder, key);
      json_builder_add_int_value (builder, *(gint64 *) value);
    }
  json_builder_end_object (builder);
  return end_frame (builder);
}

/* ACK and READ share one shape: everything of @author up to @upto. */
GBytes *
natter_chat_frame_build_upto (NatterFrameType  type,
                              const char      *conversation,
                              const char      *author,
                              gint64           upto)
{
  g_autoptr(JsonBuilder) builder = NULL;

  g_return_val_if_fail (type == NATTER_FRAME_ACK || type == NATTER_FRAME_READ, NULL);

  builder = begin_frame (type, conversation);
  json_builder_set_member_name (builder, "author");
  json_builder_add_string_value (builder, author);
  json_builder_set_member_name (builder, "upto");
  json_builder_add_int_value (builder, upto);
  return end_frame (builder);
}

GBytes *
natter_chat_frame_build_typing (const char *conversation,
                                gboolean    typing)
{
  g_autoptr(JsonBuilder) builder = begin_frame (NATTER_FRAME_TYPING, conversation);

  json_builder_set_member_name (builder, "on");
  json_builder_add_boolean_value (builder, typing);
  return end_frame (builder);
}

GBytes *
natter_chat_frame_build_ping (const char *conversation)
{
  g_autoptr(JsonBuilder) builder = begin_frame (NATTER_FRAME_PING, conversation);

  return end_frame (builder);
}

GBytes *
natter_chat_frame_build_file (const char  *conversation,
                              JsonObject  *fields,
                              GError     **error)
{
  g_autoptr(JsonObject) object = json_object_new ();
  g_autoptr(JsonNode) root = json_node_new (JSON_NODE_OBJECT);
  g_autoptr(GList) members = NULL;
  g_autoptr(GBytes) bytes = NULL;

  g_return_val_if_fail (fields != NULL, NULL);

  json_object_set_string_member (object, "t", frame_names[NATTER_FRAME_FILE]);
  json_object_set_string_member (object, "conv", conversation);
  members = json_object_get_members (fields);
  for (GList *l = members; l != NULL; l = l->next)
    if (!g_str_equal (l->data, "t") && !g_str_equal (l->data, "conv"))
      json_object_set_member (object, l->data, json_object_dup_member (fields, l->data));
  json_node_set_object (root, object);
  bytes = natter_json_to_bytes (root);
  if (g_bytes_get_size (bytes) > NATTER_MAX_FRAME_SIZE)
    {
      g_set_error_literal (error, NATTER_ERROR, NATTER_ERROR_TOO_LARGE,
                           "file frame over the frame size limit");
      return NULL;
    }
  return g_steal_pointer (&bytes);
}

static GBytes *
build_messages_range (const char *conversation,
                      const char *author,
                      GPtrArray  *messages,
                      guint       start,
                      guint       end)
{
  g_autoptr(JsonBuilder) builder = begin_frame (NATTER_FRAME_MSG, conversation);

  json_builder_set_member_name (builder, "author");
  json_builder_add_string_value (builder, author);
  json_builder_set_member_name (builder, "m");
  json_builder_begin_array (builder);
  for (guint i = start; i < end; i++)
    {
      NatterMessage *message = g_ptr_array_index (messages, i);
      const char *reply_to = natter_message_get_reply_to (message);

      json_builder_begin_array (builder);
      json_builder_add_int_value (builder, natter_message_get_seq (message));
      json_builder_add_int_value (builder, natter_message_get_hlc_l (message));
      json_builder_add_int_value (builder, natter_message_get_hlc_c (message));
      json_builder_add_string_value (builder, natter_message_get_body (message));
      if (reply_to != NULL)
        json_builder_add_string_value (builder, reply_to);
      json_builder_end_array (builder);
    }
  json_builder_end_array (builder);
  return end_frame (builder);
}

/**
 * natter_chat_frame_build_messages:
 * @messages: (element-type NatterMessage): messages of @author in seq order
 * @start: index of the first message to pack
 * @out_next: (out): index of the first message that did not fit
 *
 * Packs as many messages from @start as fit in one frame. The message id is
 * not sent: the receiver recomputes it from the fields, which also checks them.
 *
 * Returns: (transfer full): the frame, or %NULL with %NATTER_ERROR_TOO_LARGE
 *   when the message at @start alone does not fit in a frame
 */
GBytes *
natter_chat_frame_build_messages (const char  *conversation,
                                  const char  *author,
                                  GPtrArray   *messages,
                                  guint        start,
                                  guint       *out_next,
                                  GError     **error)
{
  g_autoptr(GBytes) best = NULL;
  guint lo, hi;

  g_return_val_if_fail (start < messages->len, NULL);

  /* Binary search on the count that fits: a frame is built O(log n) times. */
  lo = start + 1;
  hi = MIN (messages->len, start + NATTER_FRAME_MAX_MESSAGES);
  while (lo <= hi)
    {
      guint mid = lo + (hi - lo) / 2;
      g_autoptr(GBytes) frame = build_messages_range (conversation, author, messages, start, mid);

      if (g_bytes_get_size (frame) <= NATTER_MAX_FRAME_SIZE)
        {
          g_clear_pointer (&best, g_bytes_unref);
          best = g_steal_pointer (&frame);
          *out_next = mid;
          lo = mid + 1;
        }
      else
        hi = mid - 1;
    }

  if (best == NULL)
    g_set_error (error, NATTER_ERROR, NATTER_ERROR_TOO_LARGE,
                 "The message is too large to send (limit %u bytes)", NATTER_MAX_FRAME_SIZE);
  return g_steal_pointer (&best);
}
