/* natter-message.c: one immutable chat message, its content id and its display order. */
#define G_LOG_DOMAIN "natter-message"

#include "natter-message.h"

#include <string.h>

struct _NatterMessage
{
  GObject parent_instance;

  char *id;
  char *conversation;
  char *author;
  char *body;
  char *reply_to;
  gint64 seq;
  gint64 hlc_l;
  gint64 hlc_c;
  gint64 received_at;
  NatterMessageState state;
  guint late : 1;
};

G_DEFINE_ENUM_TYPE (NatterMessageState, natter_message_state,
  G_DEFINE_ENUM_VALUE (NATTER_MESSAGE_QUEUED, "queued"),
  G_DEFINE_ENUM_VALUE (NATTER_MESSAGE_SENT, "sent"),
  G_DEFINE_ENUM_VALUE (NATTER_MESSAGE_DELIVERED, "delivered"),
  G_DEFINE_ENUM_VALUE (NATTER_MESSAGE_READ, "read"))

G_DEFINE_FINAL_TYPE (NatterMessage, natter_message, G_TYPE_OBJECT)

enum {
  PROP_0,
  PROP_ID,
  PROP_CONVERSATION,
  PROP_AUTHOR,
  PROP_SEQ,
  PROP_HLC_L,
  PROP_HLC_C,
  PROP_BODY,
  PROP_REPLY_TO,
  PROP_RECEIVED_AT,
  PROP_STATE,
  PROP_LATE,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

static void
natter_message_constructed (GObject *object)
{
  NatterMessage *self = (NatterMessage *)object;

  G_OBJECT_CLASS (natter_message_parent_class)->constructed (object);

  /* Without an explicit id (a message we author), the id is the content hash. */
  if (self->id == NULL)
    self->id = natter_message_compute_id (self->author, self->seq,
                                          self->hlc_l, self->hlc_c, self->body);
}

static void
natter_message_finalize (GObject *object)
{
  NatterMessage *self = (NatterMessage *)object;

  g_clear_pointer (&self->id, g_free);
  g_clear_pointer (&self->conversation, g_free);
  g_clear_pointer (&self->author, g_free);
  g_clear_pointer (&self->body, g_free);
  g_clear_pointer (&self->reply_to, g_free);

  G_OBJECT_CLASS (natter_message_parent_class)->finalize (object);
}

static void
natter_message_get_property (GObject    *object,
                             guint       prop_id,
                             GValue     *value,
                             GParamSpec *pspec)
{
  NatterMessage *self = NATTER_MESSAGE (object);

  switch (prop_id)
    {
    case PROP_ID:
      g_value_set_string (value, self->id);
      break;

    case PROP_CONVERSATION:
      g_value_set_string (value, self->conversation);
      break;

    case PROP_AUTHOR:
      g_value_set_string (value, self->author);
      break;

    case PROP_SEQ:
      g_value_set_int64 (value, self->seq);
      break;

    case PROP_HLC_L:
      g_value_set_int64 (value, self->hlc_l);
      break;

    case PROP_HLC_C:
      g_value_set_int64 (value, self->hlc_c);
      break;

    case PROP_BODY:
      g_value_set_string (value, self->body);
      break;

    case PROP_REPLY_TO:
      g_value_set_string (value, self->reply_to);
      break;

    case PROP_RECEIVED_AT:
      g_value_set_int64 (value, self->received_at);
      break;

    case PROP_STATE:
      g_value_set_enum (value, self->state);
      break;

    case PROP_LATE:
      g_value_set_boolean (value, self->late);
      break;

    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
natter_message_set_property (GObject      *object,
                             guint         prop_id,
                             const GValue *value,
                             GParamSpec   *pspec)
{
  NatterMessage *self = NATTER_MESSAGE (object);

  switch (prop_id)
    {
    case PROP_ID:
      self->id = g_value_dup_string (value);
      break;

    case PROP_CONVERSATION:
      self->conversation = g_value_dup_string (value);
      break;

    case PROP_AUTHOR:
      self->author = g_value_dup_string (value);
      break;

    case PROP_SEQ:
      self->seq = g_value_get_int64 (value);
      break;

    case PROP_HLC_L:
      self->hlc_l = g_value_get_int64 (value);
      break;

    case PROP_HLC_C:
      self->hlc_c = g_value_get_int64 (value);
      break;

    case PROP_BODY:
      self->body = g_value_dup_string (value);
      break;

    case PROP_REPLY_TO:
      self->reply_to = g_value_dup_string (value);
      break;

    case PROP_RECEIVED_AT:
      self->received_at = g_value_get_int64 (value);
      break;

    case PROP_STATE:
      natter_message_set_state (self, g_value_get_enum (value));
      break;

    case PROP_LATE:
      natter_message_set_late (self, g_value_get_boolean (value));
      break;

    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
natter_message_class_init (NatterMessageClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  const GParamFlags ro_construct = G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS;
  const GParamFlags rw = G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS;

  object_class->constructed = natter_message_constructed;
  object_class->finalize = natter_message_finalize;
  object_class->get_property = natter_message_get_property;
  object_class->set_property = natter_message_set_property;

  /**
   * NatterMessage:id:
   *
   * The content hash (natter_message_compute_id()); computed when not given.
   */
  properties[PROP_ID] =
    g_param_spec_string ("id", NULL, NULL, NULL, ro_construct);
  properties[PROP_CONVERSATION] =
    g_param_spec_string ("conversation", NULL, NULL, NULL, ro_construct);
  /* The author's peer id. */
  properties[PROP_AUTHOR] =
    g_param_spec_string ("author", NULL, NULL, NULL, ro_construct);
  /* Per-author, per-conversation sequence number, starting at 1. */
  properties[PROP_SEQ] =
    g_param_spec_int64 ("seq", NULL, NULL, 0, G_MAXINT64, 0, ro_construct);
  /* Hybrid logical clock: wall time part in Unix milliseconds, and counter. */
  properties[PROP_HLC_L] =
    g_param_spec_int64 ("hlc-l", NULL, NULL, 0, G_MAXINT64, 0, ro_construct);
  properties[PROP_HLC_C] =
    g_param_spec_int64 ("hlc-c", NULL, NULL, 0, G_MAXINT64, 0, ro_construct);
  properties[PROP_BODY] =
    g_param_spec_string ("body", NULL, NULL, NULL, ro_construct);
  properties[PROP_REPLY_TO] =
    g_param_spec_string ("reply-to", NULL, NULL, NULL, ro_construct);
  /* Local Unix milliseconds when this peer stored it. */
  properties[PROP_RECEIVED_AT] =
    g_param_spec_int64 ("received-at", NULL, NULL, 0, G_MAXINT64, 0, ro_construct);
  properties[PROP_STATE] =
    g_param_spec_enum ("state", NULL, NULL,
                       NATTER_TYPE_MESSAGE_STATE, NATTER_MESSAGE_QUEUED, rw);
  /* TRUE when it arrived after messages that sort after it (shown as such). */
  properties[PROP_LATE] =
    g_param_spec_boolean ("late", NULL, NULL, FALSE, rw);

  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
natter_message_init (NatterMessage *self)
{
}

/**
 * natter_message_new:
 * @id: (nullable): the content id, or %NULL to compute it
 * @reply_to: (nullable): id of the message this answers
 *
 * Returns: (transfer full): a new message
 */
NatterMessage *
natter_message_new (const char         *id,
                    const char         *conversation,
                    const char         *author,
                    gint64              seq,
                    gint64              hlc_l,
                    gint64              hlc_c,
                    const char         *body,
                    const char         *reply_to,
                    NatterMessageState  state,
                    gboolean            late,
                    gint64              received_at)
{
  g_return_val_if_fail (conversation != NULL, NULL);
  g_return_val_if_fail (author != NULL, NULL);
  g_return_val_if_fail (body != NULL, NULL);

  return g_object_new (NATTER_TYPE_MESSAGE,
                       "id", id,
                       "conversation", conversation,
                       "author", author,
                       "seq", seq,
                       "hlc-l", hlc_l,
                       "hlc-c", hlc_c,
                       "body", body,
                       "reply-to", reply_to,
                       "state", state,
                       "late", late,
                       "received-at", received_at,
                       NULL);
}

const char *
natter_message_get_id (NatterMessage *self)
{
  g_return_val_if_fail (NATTER_IS_MESSAGE (self), NULL);
  return self->id;
}

const char *
natter_message_get_conversation (NatterMessage *self)
{
  g_return_val_if_fail (NATTER_IS_MESSAGE (self), NULL);
  return self->conversation;
}

const char *
natter_message_get_author (NatterMessage *self)
{
  g_return_val_if_fail (NATTER_IS_MESSAGE (self), NULL);
  return self->author;
}

gint64
natter_message_get_seq (NatterMessage *self)
{
  g_return_val_if_fail (NATTER_IS_MESSAGE (self), 0);
  return self->seq;
}

gint64
natter_message_get_hlc_l (NatterMessage *self)
{
  g_return_val_if_fail (NATTER_IS_MESSAGE (self), 0);
  return self->hlc_l;
}

gint64
natter_message_get_hlc_c (NatterMessage *self)
{
  g_return_val_if_fail (NATTER_IS_MESSAGE (self), 0);
  return self->hlc_c;
}

const char *
natter_message_get_body (NatterMessage *self)
{
  g_return_val_if_fail (NATTER_IS_MESSAGE (self), NULL);
  return self->body;
}

const char *
natter_message_get_reply_to (NatterMessage *self)
{
  g_return_val_if_fail (NATTER_IS_MESSAGE (self), NULL);
  return self->reply_to;
}

gint64
natter_message_get_received_at (NatterMessage *self)
{
  g_return_val_if_fail (NATTER_IS_MESSAGE (self), 0);
  return self->received_at;
}

NatterMessageState
natter_message_get_state (NatterMessage *self)
{
  g_return_val_if_fail (NATTER_IS_MESSAGE (self), NATTER_MESSAGE_QUEUED);
  return self->state;
}

/**
 * natter_message_set_state:
 *
 * Sets the state as the store reports it; the forward-only rule lives in
 * natter_store_set_message_state(), which owns the truth.
 */
void
natter_message_set_state (NatterMessage      *self,
                          NatterMessageState  state)
{
  g_return_if_fail (NATTER_IS_MESSAGE (self));
  g_return_if_fail (state >= NATTER_MESSAGE_QUEUED && state <= NATTER_MESSAGE_READ);

  if (self->state == state)
    return;

  self->state = state;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_STATE]);
}

gboolean
natter_message_get_late (NatterMessage *self)
{
  g_return_val_if_fail (NATTER_IS_MESSAGE (self), FALSE);
  return self->late;
}

void
natter_message_set_late (NatterMessage *self,
                         gboolean       late)
{
  g_return_if_fail (NATTER_IS_MESSAGE (self));

  late = !!late;
  if (self->late == (guint)late)
    return;

  self->late = late;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_LATE]);
}

/**
 * natter_message_compare:
 *
 * The display order, identical on every peer: (hlc.l, hlc.c, author, id),
 * strings compared bytewise (as SQLite's BINARY collation does).  This is
 * the one definition in C; NatterStore's ORDER BY must agree with it.
 *
 * Returns: <0, 0 or >0 like strcmp()
 */
int
natter_message_compare (NatterMessage *a,
                        NatterMessage *b)
{
  int r;

  g_return_val_if_fail (NATTER_IS_MESSAGE (a), 0);
  g_return_val_if_fail (NATTER_IS_MESSAGE (b), 0);

  if (a->hlc_l != b->hlc_l)
    return a->hlc_l < b->hlc_l ? -1 : 1;
  if (a->hlc_c != b->hlc_c)
    return a->hlc_c < b->hlc_c ? -1 : 1;
  if ((r = strcmp (a->author, b->author)) != 0)
    return r;
  return strcmp (a->id, b->id);
}

static void
checksum_update_i64 (GChecksum *checksum,
                     gint64     value)
{
  guint64 be = GUINT64_TO_BE ((guint64)value);

  g_checksum_update (checksum, (const guchar *)&be, sizeof be);
}

static void
checksum_update_str (GChecksum  *checksum,
                     const char *str)
{
  gsize len = strlen (str);
  guint32 be;

  g_assert (len <= G_MAXUINT32);
  be = GUINT32_TO_BE ((guint32)len);
  g_checksum_update (checksum, (const guchar *)&be, sizeof be);
  g_checksum_update (checksum, (const guchar *)str, len);
}

/**
 * natter_message_compute_id:
 *
 * The message id: lowercase hex SHA-256 (64 characters) of
 *
 *     "natter-message-v1"            17 ASCII bytes, no terminator
 *     str (author)
 *     i64 (seq)
 *     i64 (hlc_l)
 *     i64 (hlc_c)
 *     str (body)
 *
 * where str (s) is the byte length of the UTF-8 string s as a 4-byte
 * big-endian unsigned integer followed by its bytes (no NUL), and i64 (n)
 * is n as an 8-byte big-endian two's complement integer.  Every field has
 * a fixed size or a length prefix, so no two different messages encode to
 * the same bytes (docs/PROTOCOL.md).
 *
 * Returns: (transfer full): the id
 */
char *
natter_message_compute_id (const char *author,
                           gint64      seq,
                           gint64      hlc_l,
                           gint64      hlc_c,
                           const char *body)
{
  static const char domain[] = "natter-message-v1";
  g_autoptr(GChecksum) checksum = NULL;

  g_return_val_if_fail (author != NULL, NULL);
  g_return_val_if_fail (body != NULL, NULL);

  checksum = g_checksum_new (G_CHECKSUM_SHA256);
  g_checksum_update (checksum, (const guchar *)domain, sizeof domain - 1);
  checksum_update_str (checksum, author);
  checksum_update_i64 (checksum, seq);
  checksum_update_i64 (checksum, hlc_l);
  checksum_update_i64 (checksum, hlc_c);
  checksum_update_str (checksum, body);

  return g_strdup (g_checksum_get_string (checksum));
}

/**
 * natter_conversation_id_direct:
 *
 * The id of the two-person conversation between @peer_a and @peer_b, the
 * same whichever side computes it: "d" followed by the first 32 lowercase
 * hex characters of SHA-256 ("<lower id>:<higher id>"), ids ordered bytewise.
 *
 * Returns: (transfer full): the conversation id
 */
char *
natter_conversation_id_direct (const char *peer_a,
                               const char *peer_b)
{
  g_autoptr(GChecksum) checksum = NULL;
  const char *lo;
  const char *hi;

  g_return_val_if_fail (peer_a != NULL, NULL);
  g_return_val_if_fail (peer_b != NULL, NULL);

  if (strcmp (peer_a, peer_b) <= 0)
    lo = peer_a, hi = peer_b;
  else
    lo = peer_b, hi = peer_a;

  checksum = g_checksum_new (G_CHECKSUM_SHA256);
  g_checksum_update (checksum, (const guchar *)lo, strlen (lo));
  g_checksum_update (checksum, (const guchar *)":", 1);
  g_checksum_update (checksum, (const guchar *)hi, strlen (hi));

  return g_strdup_printf ("d%.32s", g_checksum_get_string (checksum));
}
