/* natter-contact.c: one contact, its stored fields and the runtime state the UI shows. */
#define G_LOG_DOMAIN "natter-contact"

#include "natter-contact.h"

/* Enough of a base32 public key to tell contacts apart on screen and in
 * logs, short enough not to identify anybody on its own. */
#define SHORT_ID_LEN 8

struct _NatterContact
{
  GObject parent_instance;

  char *peer_id;
  char *short_id;
  char *name;
  char *last_message_preview;
  gint64 last_seen;
  gint64 last_activity;
  NatterContactState state;
  NatterSessionState session_state;
  int unread_count;
  guint verified : 1;
  guint online : 1;
};

G_DEFINE_ENUM_TYPE (NatterContactState, natter_contact_state,
  G_DEFINE_ENUM_VALUE (NATTER_CONTACT_PENDING_OUT, "pending-out"),
  G_DEFINE_ENUM_VALUE (NATTER_CONTACT_PENDING_IN, "pending-in"),
  G_DEFINE_ENUM_VALUE (NATTER_CONTACT_ACCEPTED, "accepted"),
  G_DEFINE_ENUM_VALUE (NATTER_CONTACT_DECLINED, "declined"),
  G_DEFINE_ENUM_VALUE (NATTER_CONTACT_BLOCKED, "blocked"))

G_DEFINE_FINAL_TYPE (NatterContact, natter_contact, G_TYPE_OBJECT)

enum {
  PROP_0,
  PROP_PEER_ID,
  PROP_DISPLAY_NAME,
  PROP_NAME,
  PROP_STATE,
  PROP_VERIFIED,
  PROP_LAST_SEEN,
  PROP_ONLINE,
  PROP_SESSION_STATE,
  PROP_UNREAD_COUNT,
  PROP_LAST_ACTIVITY,
  PROP_LAST_MESSAGE_PREVIEW,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

/* g_set_str() arrives only in GLib 2.76. */
static gboolean
replace_str (char       **ptr,
             const char  *value)
{
  if (g_strcmp0 (*ptr, value) == 0)
    return FALSE;

  g_free (*ptr);
  *ptr = g_strdup (value);
  return TRUE;
}

static void
natter_contact_finalize (GObject *object)
{
  NatterContact *self = (NatterContact *)object;

  g_clear_pointer (&self->peer_id, g_free);
  g_clear_pointer (&self->short_id, g_free);
  g_clear_pointer (&self->name, g_free);
  g_clear_pointer (&self->last_message_preview, g_free);

  G_OBJECT_CLASS (natter_contact_parent_class)->finalize (object);
}

static void
natter_contact_get_property (GObject    *object,
                             guint       prop_id,
                             GValue     *value,
                             GParamSpec *pspec)
{
  NatterContact *self = NATTER_CONTACT (object);

  switch (prop_id)
    {
    case PROP_PEER_ID:
      g_value_set_string (value, self->peer_id);
      break;

    case PROP_DISPLAY_NAME:
      g_value_set_string (value, natter_contact_get_display_name (self));
      break;

    case PROP_NAME:
      g_value_set_string (value, self->name);
      break;

    case PROP_STATE:
      g_value_set_enum (value, self->state);
      break;

    case PROP_VERIFIED:
      g_value_set_boolean (value, self->verified);
      break;

    case PROP_LAST_SEEN:
      g_value_set_int64 (value, self->last_seen);
      break;

    case PROP_ONLINE:
      g_value_set_boolean (value, self->online);
      break;

    case PROP_SESSION_STATE:
      g_value_set_enum (value, self->session_state);
      break;

    case PROP_UNREAD_COUNT:
      g_value_set_int (value, self->unread_count);
      break;

    case PROP_LAST_ACTIVITY:
      g_value_set_int64 (value, self->last_activity);
      break;

    case PROP_LAST_MESSAGE_PREVIEW:
      g_value_set_string (value, self->last_message_preview);
      break;

    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
natter_contact_set_property (GObject      *object,
                             guint         prop_id,
                             const GValue *value,
                             GParamSpec   *pspec)
{
  NatterContact *self = NATTER_CONTACT (object);

  switch (prop_id)
    {
    case PROP_PEER_ID:
      self->peer_id = g_value_dup_string (value);
      self->short_id = g_utf8_substring (self->peer_id, 0, SHORT_ID_LEN);
      break;

    case PROP_NAME:
      natter_contact_set_name (self, g_value_get_string (value));
      break;

    case PROP_STATE:
      natter_contact_set_state (self, g_value_get_enum (value));
      break;

    case PROP_VERIFIED:
      natter_contact_set_verified (self, g_value_get_boolean (value));
      break;

    case PROP_LAST_SEEN:
      natter_contact_set_last_seen (self, g_value_get_int64 (value));
      break;

    case PROP_ONLINE:
      natter_contact_set_online (self, g_value_get_boolean (value));
      break;

    case PROP_SESSION_STATE:
      natter_contact_set_session_state (self, g_value_get_enum (value));
      break;

    case PROP_UNREAD_COUNT:
      natter_contact_set_unread_count (self, g_value_get_int (value));
      break;

    case PROP_LAST_ACTIVITY:
      natter_contact_set_last_activity (self, g_value_get_int64 (value));
      break;

    case PROP_LAST_MESSAGE_PREVIEW:
      natter_contact_set_last_message_preview (self, g_value_get_string (value));
      break;

    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
natter_contact_class_init (NatterContactClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  const GParamFlags rw = G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS;

  object_class->finalize = natter_contact_finalize;
  object_class->get_property = natter_contact_get_property;
  object_class->set_property = natter_contact_set_property;

  /* The peer id is the contact's public key, so it never changes. */
  properties[PROP_PEER_ID] =
    g_param_spec_string ("peer-id", NULL, NULL, NULL,
                         G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);
  /* The name, or the short id when there is none. */
  properties[PROP_DISPLAY_NAME] =
    g_param_spec_string ("display-name", NULL, NULL, NULL,
                         G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
  properties[PROP_NAME] =
    g_param_spec_string ("name", NULL, NULL, NULL, rw);
  properties[PROP_STATE] =
    g_param_spec_enum ("state", NULL, NULL,
                       NATTER_TYPE_CONTACT_STATE, NATTER_CONTACT_PENDING_OUT, rw);
  /* The user compared the safety number. */
  properties[PROP_VERIFIED] =
    g_param_spec_boolean ("verified", NULL, NULL, FALSE, rw);
  /* Unix milliseconds; 0 = never. */
  properties[PROP_LAST_SEEN] =
    g_param_spec_int64 ("last-seen", NULL, NULL, 0, G_MAXINT64, 0, rw);
  properties[PROP_ONLINE] =
    g_param_spec_boolean ("online", NULL, NULL, FALSE, rw);
  properties[PROP_SESSION_STATE] =
    g_param_spec_enum ("session-state", NULL, NULL, NATTER_TYPE_SESSION_STATE,
                       NATTER_SESSION_NEW, rw);
  properties[PROP_UNREAD_COUNT] =
    g_param_spec_int ("unread-count", NULL, NULL, 0, G_MAXINT, 0, rw);
  /* Unix milliseconds of the newest event in the conversation, for sorting. */
  properties[PROP_LAST_ACTIVITY] =
    g_param_spec_int64 ("last-activity", NULL, NULL, 0, G_MAXINT64, 0, rw);
  properties[PROP_LAST_MESSAGE_PREVIEW] =
    g_param_spec_string ("last-message-preview", NULL, NULL, NULL, rw);

  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
natter_contact_init (NatterContact *self)
{
}

NatterContact *
natter_contact_new (const char *peer_id)
{
  g_return_val_if_fail (peer_id != NULL && *peer_id != '\0', NULL);

  return g_object_new (NATTER_TYPE_CONTACT, "peer-id", peer_id, NULL);
}

const char *
natter_contact_get_peer_id (NatterContact *self)
{
  g_return_val_if_fail (NATTER_IS_CONTACT (self), NULL);
  return self->peer_id;
}

/**
 * natter_contact_get_short_id:
 *
 * Returns: the first characters of the peer id, safe to show and to log
 */
const char *
natter_contact_get_short_id (NatterContact *self)
{
  g_return_val_if_fail (NATTER_IS_CONTACT (self), NULL);
  return self->short_id;
}

/**
 * natter_contact_get_display_name:
 *
 * Returns: the name the user gave, or the short id when there is none
 */
const char *
natter_contact_get_display_name (NatterContact *self)
{
  g_return_val_if_fail (NATTER_IS_CONTACT (self), NULL);

  if (self->name != NULL && *self->name != '\0')
    return self->name;
  return self->short_id;
}

const char *
natter_contact_get_name (NatterContact *self)
{
  g_return_val_if_fail (NATTER_IS_CONTACT (self), NULL);
  return self->name;
}

void
natter_contact_set_name (NatterContact *self,
                         const char    *name)
{
  g_return_if_fail (NATTER_IS_CONTACT (self));

  if (replace_str (&self->name, name))
    {
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_NAME]);
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_DISPLAY_NAME]);
    }
}

NatterContactState
natter_contact_get_state (NatterContact *self)
{
  g_return_val_if_fail (NATTER_IS_CONTACT (self), NATTER_CONTACT_PENDING_OUT);
  return self->state;
}

void
natter_contact_set_state (NatterContact      *self,
                          NatterContactState  state)
{
  g_return_if_fail (NATTER_IS_CONTACT (self));
  g_return_if_fail (state >= NATTER_CONTACT_PENDING_OUT && state <= NATTER_CONTACT_BLOCKED);

  if (self->state == state)
    return;

  self->state = state;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_STATE]);
}

gboolean
natter_contact_get_verified (NatterContact *self)
{
  g_return_val_if_fail (NATTER_IS_CONTACT (self), FALSE);
  return self->verified;
}

void
natter_contact_set_verified (NatterContact *self,
                             gboolean       verified)
{
  g_return_if_fail (NATTER_IS_CONTACT (self));

  verified = !!verified;
  if (self->verified == (guint)verified)
    return;

  self->verified = verified;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_VERIFIED]);
}

gint64
natter_contact_get_last_seen (NatterContact *self)
{
  g_return_val_if_fail (NATTER_IS_CONTACT (self), 0);
  return self->last_seen;
}

void
natter_contact_set_last_seen (NatterContact *self,
                              gint64         last_seen)
{
  g_return_if_fail (NATTER_IS_CONTACT (self));

  if (self->last_seen == last_seen)
    return;

  self->last_seen = last_seen;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_LAST_SEEN]);
}

gboolean
natter_contact_get_online (NatterContact *self)
{
  g_return_val_if_fail (NATTER_IS_CONTACT (self), FALSE);
  return self->online;
}

void
natter_contact_set_online (NatterContact *self,
                           gboolean       online)
{
  g_return_if_fail (NATTER_IS_CONTACT (self));

  online = !!online;
  if (self->online == (guint)online)
    return;

  self->online = online;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_ONLINE]);
}

NatterSessionState
natter_contact_get_session_state (NatterContact *self)
{
  g_return_val_if_fail (NATTER_IS_CONTACT (self), NATTER_SESSION_NEW);
  return self->session_state;
}

void
natter_contact_set_session_state (NatterContact      *self,
                                  NatterSessionState  session_state)
{
  g_return_if_fail (NATTER_IS_CONTACT (self));

  if (self->session_state == session_state)
    return;

  self->session_state = session_state;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_SESSION_STATE]);
}

int
natter_contact_get_unread_count (NatterContact *self)
{
  g_return_val_if_fail (NATTER_IS_CONTACT (self), 0);
  return self->unread_count;
}

void
natter_contact_set_unread_count (NatterContact *self,
                                 int            unread_count)
{
  g_return_if_fail (NATTER_IS_CONTACT (self));
  g_return_if_fail (unread_count >= 0);

  if (self->unread_count == unread_count)
    return;

  self->unread_count = unread_count;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_UNREAD_COUNT]);
}

gint64
natter_contact_get_last_activity (NatterContact *self)
{
  g_return_val_if_fail (NATTER_IS_CONTACT (self), 0);
  return self->last_activity;
}

void
natter_contact_set_last_activity (NatterContact *self,
                                  gint64         last_activity)
{
  g_return_if_fail (NATTER_IS_CONTACT (self));

  if (self->last_activity == last_activity)
    return;

  self->last_activity = last_activity;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_LAST_ACTIVITY]);
}

const char *
natter_contact_get_last_message_preview (NatterContact *self)
{
  g_return_val_if_fail (NATTER_IS_CONTACT (self), NULL);
  return self->last_message_preview;
}

void
natter_contact_set_last_message_preview (NatterContact *self,
                                         const char    *preview)
{
  g_return_if_fail (NATTER_IS_CONTACT (self));

  if (replace_str (&self->last_message_preview, preview))
    g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_LAST_MESSAGE_PREVIEW]);
}
