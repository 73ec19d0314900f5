/* natter-chat-frame.h: codec for frames on the "chat" data channel (docs/PROTOCOL.md). */
#pragma once

#include <json-glib/json-glib.h>

#include "natter-types.h"

G_BEGIN_DECLS

typedef enum
{
  NATTER_FRAME_MSG,      /* messages of one author, in seq order */
  NATTER_FRAME_ACK,      /* receiver committed every message of author up to seq */
  NATTER_FRAME_READ,     /* receiver read every message of author up to seq */
  NATTER_FRAME_TYPING,
  NATTER_FRAME_SYNC,     /* version vector: author → highest contiguous seq held */
  NATTER_FRAME_PING,     /* keep-alive: sent when the channel has been quiet */
  NATTER_FRAME_FILE,     /* file transfer control; members checked by natter-transfer */
} NatterFrameType;

typedef struct
{
  gint64  seq;
  gint64  hlc_l;
  gint64  hlc_c;
  char   *body;
  char   *reply_to;  /* nullable */
} NatterFrameMessage;

typedef struct
{
  NatterFrameType  type;
  char            *conversation;
  char            *author;     /* MSG, ACK, READ */
  GPtrArray       *messages;   /* MSG: NatterFrameMessage */
  gint64           upto;       /* ACK, READ */
  gboolean         typing;     /* TYPING */
  GHashTable      *vv;         /* SYNC: author → gint64 * */
  JsonObject      *file;       /* FILE: the whole frame object, still unchecked */
} NatterChatFrame;

/* Hard caps that keep one hostile frame from costing more than a frame's worth of work. */
#define NATTER_FRAME_MAX_MESSAGES 4096
#define NATTER_FRAME_MAX_AUTHORS  256
#define NATTER_MESSAGE_ID_MAX     128

NatterChatFrame *natter_chat_frame_parse          (const guint8          *data,
                                                   gsize                  len,
                                                   GError               **error);
void             natter_chat_frame_free           (NatterChatFrame       *frame);

GBytes          *natter_chat_frame_build_sync     (const char            *conversation,
                                                   GHashTable            *vv);
GBytes          *natter_chat_frame_build_upto     (NatterFrameType        type,
                                                   const char            *conversation,
                                                   const char            *author,
                                                   gint64                 upto);
GBytes          *natter_chat_frame_build_typing   (const char            *conversation,
                                                   gboolean               typing);
GBytes          *natter_chat_frame_build_ping     (const char            *conversation);
/* @fields: the frame's own members; "t" and "conv" are added. NULL with
 * NATTER_ERROR_TOO_LARGE when the frame would exceed NATTER_MAX_FRAME_SIZE. */
GBytes          *natter_chat_frame_build_file     (const char            *conversation,
                                                   JsonObject            *fields,
                                                   GError               **error);
GBytes          *natter_chat_frame_build_messages (const char            *conversation,
                                                   const char            *author,
                                                   GPtrArray             *messages,
                                                   guint                  start,
                                                   guint                 *out_next,
                                                   GError               **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (NatterChatFrame, natter_chat_frame_free)

G_END_DECLS
