/* fuzz-chat-frame.c: libFuzzer target for the chat frame codec (untrusted data-channel bytes). */
#define G_LOG_DOMAIN "natter-fuzz-chat-frame"

#include <stdlib.h>
#include <string.h>

#include "natter-chat-frame.h"
#include "natter-error.h"
#include "natter-identity.h"
#include "natter-message.h"

int LLVMFuzzerTestOneInput (const guint8 *data, size_t size);

/* Checks that hold for every frame the codec lets through. */
static void
check_frame (NatterChatFrame *frame)
{
  g_assert (frame->conversation != NULL);
  g_assert (g_utf8_validate (frame->conversation, -1, NULL));

  switch (frame->type)
    {
    case NATTER_FRAME_MSG:
      {
        gint64 previous_seq = 0;

        g_assert (natter_peer_id_is_valid (frame->author));
        g_assert (frame->messages->len > 0);
        g_assert (frame->messages->len <= NATTER_FRAME_MAX_MESSAGES);
        for (guint i = 0; i < frame->messages->len; i++)
          {
            NatterFrameMessage *message = g_ptr_array_index (frame->messages, i);

            g_assert (message->seq > previous_seq);
            g_assert (message->hlc_l >= 0 && message->hlc_c >= 0);
            g_assert (g_utf8_validate (message->body, -1, NULL));
            g_assert (message->reply_to == NULL ||
                      strlen (message->reply_to) <= NATTER_MESSAGE_ID_MAX);
            previous_seq = message->seq;
          }
        break;
      }

    case NATTER_FRAME_ACK:
    case NATTER_FRAME_READ:
      g_assert (natter_peer_id_is_valid (frame->author));
      g_assert (frame->upto >= 0);
      break;

    case NATTER_FRAME_TYPING:
    case NATTER_FRAME_PING:
      break;

    case NATTER_FRAME_FILE:
      g_assert (frame->file != NULL);
      break;

    case NATTER_FRAME_SYNC:
      {
        GHashTableIter iter;
        gpointer key, value;

        g_assert (g_hash_table_size (frame->vv) <= NATTER_FRAME_MAX_AUTHORS);
        g_hash_table_iter_init (&iter, frame->vv);
        while (g_hash_table_iter_next (&iter, &key, &value))
          g_assert (natter_peer_id_is_valid (key) && *(gint64 *) value >= 0);
        break;
      }

    default:
      g_assert_not_reached ();
    }
}

static NatterChatFrame *
parse_bytes (GBytes *bytes)
{
  g_autoptr(GError) error = NULL;
  gsize len;
  const guint8 *data = g_bytes_get_data (bytes, &len);
  NatterChatFrame *frame = natter_chat_frame_parse (data, len, &error);

  /* What we build, we accept: the builder and the strict reader agree.
   * abort(), not g_error(): libFuzzer saves the input only on SIGABRT. */
  if (frame == NULL)
    {
      g_printerr ("a rebuilt frame was refused: %s\n", error->message);
      abort ();
    }
  g_assert (len <= NATTER_MAX_FRAME_SIZE);
  return frame;
}

/* Builds the messages again (in as many frames as they need) and checks
 * that reading those frames gives back exactly what @frame held. */
static void
round_trip_messages (NatterChatFrame *frame)
{
  g_autoptr(GPtrArray) messages = g_ptr_array_new_with_free_func (g_object_unref);
  guint start = 0;
  guint n = 0;

  for (guint i = 0; i < frame->messages->len; i++)
    {
      NatterFrameMessage *m = g_ptr_array_index (frame->messages, i);

      g_ptr_array_add (messages, natter_message_new (NULL, frame->conversation, frame->author,
                                                     m->seq, m->hlc_l, m->hlc_c, m->body,
                                                     m->reply_to, NATTER_MESSAGE_QUEUED,
                                                     FALSE, 0));
    }

  while (start < messages->len)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(GBytes) bytes = NULL;
      g_autoptr(NatterChatFrame) again = NULL;
      guint next = start;

      bytes = natter_chat_frame_build_messages (frame->conversation, frame->author, messages,
                                                start, &next, &error);
      if (bytes == NULL)
        {
          g_printerr ("an accepted message could not be built again: %s\n", error->message);
          abort ();
        }
      g_assert (next > start);
      again = parse_bytes (bytes);
      g_assert (again->type == NATTER_FRAME_MSG);
      g_assert (g_str_equal (again->conversation, frame->conversation));
      g_assert (g_str_equal (again->author, frame->author));
      g_assert (again->messages->len == next - start);
      for (guint i = 0; i < again->messages->len; i++, n++)
        {
          NatterFrameMessage *a = g_ptr_array_index (again->messages, i);
          NatterFrameMessage *b = g_ptr_array_index (frame->messages, n);

          g_assert (a->seq == b->seq && a->hlc_l == b->hlc_l && a->hlc_c == b->hlc_c);
          g_assert (g_str_equal (a->body, b->body));
          g_assert (g_strcmp0 (a->reply_to, b->reply_to) == 0);
        }
      start = next;
    }
  g_assert (n == frame->messages->len);
}

static void
round_trip (NatterChatFrame *frame)
{
  g_autoptr(GBytes) bytes = NULL;
  g_autoptr(NatterChatFrame) again = NULL;

  switch (frame->type)
    {
    case NATTER_FRAME_MSG:
      round_trip_messages (frame);
      return;

    case NATTER_FRAME_ACK:
    case NATTER_FRAME_READ:
      bytes = natter_chat_frame_build_upto (frame->type, frame->conversation, frame->author,
                                            frame->upto);
      break;

    case NATTER_FRAME_TYPING:
      bytes = natter_chat_frame_build_typing (frame->conversation, frame->typing);
      break;

    case NATTER_FRAME_SYNC:
      bytes = natter_chat_frame_build_sync (frame->conversation, frame->vv);
      break;

    case NATTER_FRAME_PING:
      bytes = natter_chat_frame_build_ping (frame->conversation);
      break;

    case NATTER_FRAME_FILE:
      /* The file layer's members pass through unchanged; a frame that parsed
       * fits again (t and conv are rewritten to the same values). */
      bytes = natter_chat_frame_build_file (frame->conversation, frame->file, NULL);
      g_assert (bytes != NULL);
      break;

    default:
      g_assert_not_reached ();
    }

  again = parse_bytes (bytes);
  g_assert (again->type == frame->type);
  g_assert (g_str_equal (again->conversation, frame->conversation));
  g_assert (g_strcmp0 (again->author, frame->author) == 0);
  g_assert (again->upto == frame->upto);
  g_assert (again->typing == frame->typing);
  if (frame->type == NATTER_FRAME_SYNC)
    {
      GHashTableIter iter;
      gpointer key, value;

      g_assert (g_hash_table_size (again->vv) == g_hash_table_size (frame->vv));
      g_hash_table_iter_init (&iter, frame->vv);
      while (g_hash_table_iter_next (&iter, &key, &value))
        {
          gint64 *seq = g_hash_table_lookup (again->vv, key);

          g_assert (seq != NULL && *seq == *(gint64 *) value);
        }
    }
}

int
LLVMFuzzerTestOneInput (const guint8 *data,
                        size_t        size)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(NatterChatFrame) frame = natter_chat_frame_parse (data, size, &error);

  g_assert ((frame == NULL) == (error != NULL));
  g_assert (error == NULL || error->domain == NATTER_ERROR);
  if (frame != NULL)
    {
      check_frame (frame);
      round_trip (frame);
    }

  return 0;
}
