/* test-chat-frame.c: the chat frame codec accepts exactly what the protocol allows. */
#include <string.h>

#include "natter-chat-frame.h"
#include "natter-error.h"
#include "natter-identity.h"
#include "natter-message.h"

static char *
peer_id (guint8 fill)
{
  guint8 seed[32];
  g_autoptr(NatterIdentity) identity = NULL;

  memset (seed, fill, sizeof seed);
  identity = natter_identity_new_from_seed (seed);
  return g_strdup (natter_identity_get_peer_id (identity));
}

static NatterMessage *
make_message (const char *author,
              gint64      seq,
              const char *body)
{
  g_autofree char *id = natter_message_compute_id (author, seq, 1000 + seq, 0, body);

  return natter_message_new (id, "conv", author, seq, 1000 + seq, 0, body, NULL,
                             NATTER_MESSAGE_QUEUED, FALSE, 0);
}

static NatterChatFrame *
parse_bytes (GBytes *bytes, GError **error)
{
  gsize len;
  const guint8 *data = g_bytes_get_data (bytes, &len);

  return natter_chat_frame_parse (data, len, error);
}

static void
test_round_trip (void)
{
  g_autofree char *author = peer_id (1);
  g_autoptr(GHashTable) vv = g_hash_table_new_full (g_str_hash, g_str_equal, NULL, g_free);
  g_autoptr(GPtrArray) messages = g_ptr_array_new_with_free_func (g_object_unref);
  g_autoptr(GBytes) bytes = NULL;
  g_autoptr(NatterChatFrame) frame = NULL;
  g_autoptr(GError) error = NULL;
  gint64 seven = 7;
  guint next = 0;

  g_hash_table_insert (vv, author, g_memdup2 (&seven, sizeof seven));
  bytes = natter_chat_frame_build_sync ("conv", vv);
  frame = parse_bytes (bytes, &error);
  g_assert_no_error (error);
  g_assert_cmpint (frame->type, ==, NATTER_FRAME_SYNC);
  g_assert_cmpstr (frame->conversation, ==, "conv");
  g_assert_cmpint (*(gint64 *) g_hash_table_lookup (frame->vv, author), ==, 7);
  g_clear_pointer (&frame, natter_chat_frame_free);
  g_clear_pointer (&bytes, g_bytes_unref);

  bytes = natter_chat_frame_build_upto (NATTER_FRAME_READ, "conv", author, 42);
  frame = parse_bytes (bytes, &error);
  g_assert_no_error (error);
  g_assert_cmpint (frame->type, ==, NATTER_FRAME_READ);
  g_assert_cmpint (frame->upto, ==, 42);
  g_assert_cmpstr (frame->author, ==, author);
  g_clear_pointer (&frame, natter_chat_frame_free);
  g_clear_pointer (&bytes, g_bytes_unref);

  bytes = natter_chat_frame_build_typing ("conv", TRUE);
  frame = parse_bytes (bytes, &error);
  g_assert_no_error (error);
  g_assert_true (frame->typing);
  g_clear_pointer (&frame, natter_chat_frame_free);
  g_clear_pointer (&bytes, g_bytes_unref);

  g_ptr_array_add (messages, make_message (author, 1, "héllo \"quoted\"\n\x01"));
  g_ptr_array_add (messages, make_message (author, 2, ""));
  bytes = natter_chat_frame_build_messages ("conv", author, messages, 0, &next, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (next, ==, 2);
  frame = parse_bytes (bytes, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (frame->messages->len, ==, 2);
  g_assert_cmpstr (((NatterFrameMessage *) frame->messages->pdata[0])->body, ==,
                   "héllo \"quoted\"\n\x01");
  g_assert_cmpint (((NatterFrameMessage *) frame->messages->pdata[1])->seq, ==, 2);
}

static void
test_ping_and_file (void)
{
  g_autoptr(GBytes) ping = natter_chat_frame_build_ping ("conv");
  g_autoptr(JsonObject) fields = json_object_new ();
  g_autoptr(GBytes) file = NULL;
  g_autoptr(NatterChatFrame) frame = NULL;
  g_autoptr(GError) error = NULL;

  frame = parse_bytes (ping, &error);
  g_assert_no_error (error);
  g_assert_cmpint (frame->type, ==, NATTER_FRAME_PING);
  g_assert_cmpstr (frame->conversation, ==, "conv");
  g_clear_pointer (&frame, natter_chat_frame_free);

  /* The file layer's members travel as they are; "t" and "conv" are ours. */
  json_object_set_string_member (fields, "op", "accept");
  json_object_set_string_member (fields, "conv", "elsewhere");
  file = natter_chat_frame_build_file ("conv", fields, &error);
  g_assert_no_error (error);
  frame = parse_bytes (file, &error);
  g_assert_no_error (error);
  g_assert_cmpint (frame->type, ==, NATTER_FRAME_FILE);
  g_assert_cmpstr (frame->conversation, ==, "conv");
  g_assert_cmpstr (json_object_get_string_member (frame->file, "op"), ==, "accept");
  g_assert_cmpstr (json_object_get_string_member (frame->file, "conv"), ==, "conv");
}

static void
test_packing (void)
{
  g_autofree char *author = peer_id (2);
  g_autoptr(GPtrArray) messages = g_ptr_array_new_with_free_func (g_object_unref);
  g_autofree char *body = g_strnfill (1000, 'x');
  g_autofree char *huge = g_strnfill (NATTER_MAX_FRAME_SIZE, 'y');
  g_autoptr(GError) error = NULL;
  guint start = 0;
  guint frames = 0;
  gint64 expected_seq = 1;

  for (gint64 seq = 1; seq <= 500; seq++)
    g_ptr_array_add (messages, make_message (author, seq, body));

  /* Every message arrives once, in order, in frames under the limit. */
  while (start < messages->len)
    {
      g_autoptr(GBytes) bytes = NULL;
      g_autoptr(NatterChatFrame) frame = NULL;
      guint next = start;

      bytes = natter_chat_frame_build_messages ("conv", author, messages, start, &next, &error);
      g_assert_no_error (error);
      g_assert_cmpuint (g_bytes_get_size (bytes), <=, NATTER_MAX_FRAME_SIZE);
      g_assert_cmpuint (next, >, start);
      frame = parse_bytes (bytes, &error);
      g_assert_no_error (error);
      for (guint i = 0; i < frame->messages->len; i++)
        g_assert_cmpint (((NatterFrameMessage *) frame->messages->pdata[i])->seq, ==,
                         expected_seq++);
      start = next;
      frames++;
    }
  g_assert_cmpint (expected_seq, ==, 501);
  /* ~500 KB of bodies need at least 8 frames, and packing leaves little slack. */
  g_assert_cmpuint (frames, >=, 8);
  g_assert_cmpuint (frames, <=, 9);

  /* One body that cannot fit is refused with a clear error. */
  g_ptr_array_add (messages, make_message (author, 501, huge));
  g_assert_null (natter_chat_frame_build_messages ("conv", author, messages, 500, &start, &error));
  g_assert_error (error, NATTER_ERROR, NATTER_ERROR_TOO_LARGE);
}

static void
test_malformed (void)
{
  g_autofree char *author = peer_id (3);
  g_autofree char *deep = NULL;
  g_autofree char *oversized = NULL;
  g_autoptr(GString) many = g_string_new (NULL);
  const char *cases[] = {
    "",
    "garbage",
    "[]",
    "null",
    "{}",
    "{\"t\":\"msg\"}",
    "{\"t\":\"nope\",\"conv\":\"c\"}",
    "{\"t\":1,\"conv\":\"c\"}",
    "{\"t\":\"typing\",\"conv\":\"c\",\"on\":\"yes\"}",
    "{\"t\":\"typing\",\"conv\":\"c\",\"on\":true,\"extra\":1}",
    "{\"t\":\"typing\",\"conv\":7,\"on\":true}",
    "{\"t\":\"ping\",\"conv\":\"c\",\"extra\":1}",
    "{\"t\":\"ping\"}",
    "{\"t\":\"file\"}",
    "{\"t\":\"file\",\"conv\":[]}",
    "{\"t\":\"ack\",\"conv\":\"c\",\"author\":\"nobody\",\"upto\":1}",
    "{\"t\":\"ack\",\"conv\":\"c\",\"author\":\"%s\",\"upto\":-1}",
    "{\"t\":\"ack\",\"conv\":\"c\",\"author\":\"%s\",\"upto\":1.5}",
    "{\"t\":\"ack\",\"conv\":\"c\",\"author\":\"%s\",\"upto\":\"1\"}",
    "{\"t\":\"sync\",\"conv\":\"c\",\"vv\":[]}",
    "{\"t\":\"sync\",\"conv\":\"c\",\"vv\":{\"%s\":\"3\"}}",
    "{\"t\":\"sync\",\"conv\":\"c\",\"vv\":{\"not-a-peer\":3}}",
    "{\"t\":\"msg\",\"conv\":\"c\",\"author\":\"%s\",\"m\":[]}",
    "{\"t\":\"msg\",\"conv\":\"c\",\"author\":\"%s\",\"m\":[[0,1,0,\"x\"]]}",
    "{\"t\":\"msg\",\"conv\":\"c\",\"author\":\"%s\",\"m\":[[1,1,0]]}",
    "{\"t\":\"msg\",\"conv\":\"c\",\"author\":\"%s\",\"m\":[[1,1,0,5]]}",
    "{\"t\":\"msg\",\"conv\":\"c\",\"author\":\"%s\",\"m\":[[1,-1,0,\"x\"]]}",
    "{\"t\":\"msg\",\"conv\":\"c\",\"author\":\"%s\",\"m\":[[2,1,0,\"x\"],[1,1,0,\"y\"]]}",
    "{\"t\":\"msg\",\"conv\":\"c\",\"author\":\"%s\",\"m\":[[1,1,0,\"x\",null]]}",
    "{\"t\":\"msg\",\"conv\":\"c\",\"author\":\"%s\",\"m\":{\"a\":1}}",
    "{\"t\":\"msg\",\"conv\":\"c\",\"author\":\"%s\",\"m\":[[1,99999999999999999999,0,\"x\"]]}",
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_auto(GStrv) parts = g_strsplit (cases[i], "%s", -1);
      g_autofree char *text = g_strjoinv (author, parts);
      g_autoptr(GError) error = NULL;
      NatterChatFrame *frame = natter_chat_frame_parse ((const guint8 *) text, strlen (text),
                                                        &error);

      if (frame != NULL)
        g_error ("case %u was accepted", i);
      g_assert_nonnull (error);
      g_assert_true (error->domain == NATTER_ERROR);
      /* No content in error messages: they end up in logs. */
      g_assert_null (strstr (error->message, author));
    }

  /* Invalid UTF-8, embedded NUL, deep nesting, over the size limit, too many messages. */
  {
    const guint8 bad_utf8[] = "{\"t\":\"typing\",\"conv\":\"\xff\xfe\",\"on\":true}";
    const guint8 nul[] = "{\"t\":\"typing\",\"conv\":\"a\0b\",\"on\":true}";
    g_autoptr(GError) error = NULL;

    g_assert_null (natter_chat_frame_parse (bad_utf8, sizeof bad_utf8 - 1, &error));
    g_assert_error (error, NATTER_ERROR, NATTER_ERROR_INVALID_INPUT);
    g_clear_error (&error);
    g_assert_null (natter_chat_frame_parse (nul, sizeof nul - 1, &error));
    g_assert_error (error, NATTER_ERROR, NATTER_ERROR_INVALID_INPUT);
  }
  {
    g_autoptr(GError) error = NULL;

    deep = g_strnfill (50000, '[');
    g_assert_null (natter_chat_frame_parse ((const guint8 *) deep, strlen (deep), &error));
    g_assert_error (error, NATTER_ERROR, NATTER_ERROR_INVALID_INPUT);
  }
  {
    g_autoptr(GError) error = NULL;

    oversized = g_strnfill (NATTER_MAX_FRAME_SIZE + 1, ' ');
    g_assert_null (natter_chat_frame_parse ((const guint8 *) oversized, strlen (oversized),
                                            &error));
    g_assert_error (error, NATTER_ERROR, NATTER_ERROR_TOO_LARGE);
  }
  {
    g_autoptr(GError) error = NULL;

    g_string_append_printf (many, "{\"t\":\"msg\",\"conv\":\"c\",\"author\":\"%s\",\"m\":[",
                            author);
    for (guint i = 1; i <= NATTER_FRAME_MAX_MESSAGES + 1; i++)
      g_string_append_printf (many, "%s[%u,1,0,\"\"]", i > 1 ? "," : "", i);
    g_string_append (many, "]}");
    g_assert_null (natter_chat_frame_parse ((const guint8 *) many->str, many->len, &error));
    g_assert_error (error, NATTER_ERROR, NATTER_ERROR_INVALID_INPUT);
  }
}

static void
test_random_garbage (void)
{
  g_autoptr(GRand) rand = g_rand_new_with_seed (42);

  /* Random bytes and random mutations of a valid frame never crash. */
  for (guint i = 0; i < 20000; i++)
    {
      guint8 buffer[256];
      const char *valid = "{\"t\":\"typing\",\"conv\":\"c\",\"on\":true}";
      gsize len = g_rand_int_range (rand, 0, sizeof buffer);
      NatterChatFrame *frame;

      if (i % 2 == 0)
        {
          for (gsize j = 0; j < len; j++)
            buffer[j] = g_rand_int_range (rand, 0, 256);
        }
      else
        {
          len = strlen (valid);
          memcpy (buffer, valid, len);
          buffer[g_rand_int_range (rand, 0, len)] = g_rand_int_range (rand, 0, 256);
        }
      frame = natter_chat_frame_parse (buffer, len, NULL);
      natter_chat_frame_free (frame);
    }
}

int
main (int argc, char *argv[])
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/chat-frame/round-trip", test_round_trip);
  g_test_add_func ("/chat-frame/ping-and-file", test_ping_and_file);
  g_test_add_func ("/chat-frame/packing", test_packing);
  g_test_add_func ("/chat-frame/malformed", test_malformed);
  g_test_add_func ("/chat-frame/random-garbage", test_random_garbage);
  return g_test_run ();
}
