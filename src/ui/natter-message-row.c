/* natter-message-row.c: one timeline row: day separator, body, time, delivery state.
 *
 * Rows are recycled by the timeline's GtkListView: set_message() rebinds a
 * row to another message, so everything shown is derived from the message
 * there and kept current through its notify signals.
 */
#define G_LOG_DOMAIN "natter-ui"

#include <string.h>

#include <glib/gi18n.h>

#include "natter-message-row.h"
#include "natter-timeline-model.h"

struct _NatterMessageRow
{
  GtkWidget      parent_instance;

  /* template widgets */
  GtkWidget     *content;
  GtkLabel      *day_label;
  GtkBox        *bubble;
  GtkLabel      *body_label;
  GtkImage      *late_icon;
  GtkLabel      *time_label;
  GtkImage      *state_icon;

  /* owned references */
  NatterMessage *message;

  gboolean       outgoing;
  gboolean       show_day;
};

G_DEFINE_FINAL_TYPE (NatterMessageRow, natter_message_row, GTK_TYPE_WIDGET)

static GDateTime *
message_local_time (NatterMessage *message)
{
  /* The HLC's physical part is the author's wall clock when it was written. */
  return g_date_time_new_from_unix_local (natter_message_get_hlc_l (message) / 1000);
}

static GRegex *
url_regex (void)
{
  static GRegex *regex;

  if (g_once_init_enter (&regex))
    {
      /* Only http(s): a link can never run a custom scheme handler. */
      GRegex *r = g_regex_new ("\\bhttps?://[^\\s<>\"]+", G_REGEX_CASELESS | G_REGEX_OPTIMIZE,
                               0, NULL);

      g_once_init_leave (&regex, r);
    }
  return regex;
}

/**
 * natter_message_row_linkify:
 * @text: a message body, untrusted
 *
 * Escapes @text as Pango markup and turns http(s) URLs into links. Trailing
 * punctuation stays outside the link, as a reader expects in a sentence.
 *
 * Returns: (transfer full): markup safe for gtk_label_set_markup()
 */
char *
natter_message_row_linkify (const char *text)
{
  g_autoptr(GMatchInfo) match = NULL;
  g_autoptr(GString) markup = g_string_new (NULL);
  const char *done = text;

  g_return_val_if_fail (text != NULL, NULL);

  g_regex_match (url_regex (), text, 0, &match);
  while (g_match_info_matches (match))
    {
      int start, end;
      g_autofree char *before = NULL;
      g_autofree char *url = NULL;
      g_autofree char *escaped = NULL;

      g_match_info_fetch_pos (match, 0, &start, &end);
      while (end > start && strchr (".,;:!?)]}'", text[end - 1]) != NULL)
        end--;

      before = g_markup_escape_text (done, text + start - done);
      g_string_append (markup, before);
      url = g_strndup (text + start, end - start);
      escaped = g_markup_escape_text (url, -1);
      if (g_uri_is_valid (url, G_URI_FLAGS_NONE, NULL))
        g_string_append_printf (markup, "<a href=\"%s\">%s</a>", escaped, escaped);
      else
        g_string_append (markup, escaped);
      done = text + end;
      g_match_info_next (match, NULL);
    }
  {
    g_autofree char *rest = g_markup_escape_text (done, -1);

    g_string_append (markup, rest);
  }
  return g_string_free (g_steal_pointer (&markup), FALSE);
}

static void
update_state (NatterMessageRow *self)
{
  static const struct {
    const char *icon;
    const char *label;
  } states[] = {
    [NATTER_MESSAGE_QUEUED]    = { "natter-message-queued-symbolic",    N_("Not sent yet") },
    [NATTER_MESSAGE_SENT]      = { "natter-message-sent-symbolic",      N_("Sent") },
    [NATTER_MESSAGE_DELIVERED] = { "natter-message-delivered-symbolic", N_("Delivered") },
    [NATTER_MESSAGE_READ]      = { "natter-message-read-symbolic",      N_("Read") },
  };
  NatterMessageState state;
  const char *label;

  gtk_widget_set_visible (GTK_WIDGET (self->state_icon), self->outgoing);
  if (!self->outgoing || self->message == NULL)
    return;

  state = natter_message_get_state (self->message);
  g_return_if_fail (state < G_N_ELEMENTS (states));
  label = _(states[state].label);
  gtk_image_set_from_icon_name (self->state_icon, states[state].icon);
  gtk_widget_set_tooltip_text (GTK_WIDGET (self->state_icon), label);
  gtk_accessible_update_property (GTK_ACCESSIBLE (self->state_icon),
                                  GTK_ACCESSIBLE_PROPERTY_LABEL, label,
                                  -1);
  if (state == NATTER_MESSAGE_READ)
    gtk_widget_add_css_class (GTK_WIDGET (self->state_icon), "accent");
  else
    gtk_widget_remove_css_class (GTK_WIDGET (self->state_icon), "accent");
}

static void
update_late (NatterMessageRow *self)
{
  gtk_widget_set_visible (GTK_WIDGET (self->late_icon),
                          self->message != NULL && natter_message_get_late (self->message));
}

static void
update_day (NatterMessageRow *self)
{
  g_autofree char *day = NULL;

  gtk_widget_set_visible (GTK_WIDGET (self->day_label), self->show_day && self->message != NULL);
  if (!self->show_day || self->message == NULL)
    return;
  day = natter_timeline_format_day (natter_message_get_hlc_l (self->message));
  gtk_label_set_text (self->day_label, day);
}

static void
message_notify_cb (NatterMessageRow *self,
                   GParamSpec       *pspec,
                   NatterMessage    *message)
{
  if (g_str_equal (pspec->name, "state"))
    update_state (self);
  else if (g_str_equal (pspec->name, "late"))
    update_late (self);
}

static void
natter_message_row_dispose (GObject *object)
{
  NatterMessageRow *self = NATTER_MESSAGE_ROW (object);

  natter_message_row_set_message (self, NULL, FALSE);
  gtk_widget_dispose_template (GTK_WIDGET (self), NATTER_TYPE_MESSAGE_ROW);

  G_OBJECT_CLASS (natter_message_row_parent_class)->dispose (object);
}

static void
natter_message_row_class_init (NatterMessageRowClass *klass)
{
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  G_OBJECT_CLASS (klass)->dispose = natter_message_row_dispose;

  gtk_widget_class_set_template_from_resource (widget_class,
                                               "/io/github/natter/Natter/natter-message-row.ui");
  gtk_widget_class_bind_template_child (widget_class, NatterMessageRow, content);
  gtk_widget_class_bind_template_child (widget_class, NatterMessageRow, day_label);
  gtk_widget_class_bind_template_child (widget_class, NatterMessageRow, bubble);
  gtk_widget_class_bind_template_child (widget_class, NatterMessageRow, body_label);
  gtk_widget_class_bind_template_child (widget_class, NatterMessageRow, late_icon);
  gtk_widget_class_bind_template_child (widget_class, NatterMessageRow, time_label);
  gtk_widget_class_bind_template_child (widget_class, NatterMessageRow, state_icon);
  gtk_widget_class_set_layout_manager_type (widget_class, GTK_TYPE_BIN_LAYOUT);
  gtk_widget_class_set_css_name (widget_class, "natter-message-row");
}

static void
natter_message_row_init (NatterMessageRow *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));
}

GtkWidget *
natter_message_row_new (void)
{
  return g_object_new (NATTER_TYPE_MESSAGE_ROW, NULL);
}

/**
 * natter_message_row_get_message:
 *
 * Returns: (transfer none) (nullable): the message shown
 */
NatterMessage *
natter_message_row_get_message (NatterMessageRow *self)
{
  g_return_val_if_fail (NATTER_IS_MESSAGE_ROW (self), NULL);

  return self->message;
}

/**
 * natter_message_row_set_message:
 * @message: (nullable): the message to show
 * @outgoing: whether we wrote it (aligned to the end, with a delivery state)
 */
void
natter_message_row_set_message (NatterMessageRow *self,
                                NatterMessage    *message,
                                gboolean          outgoing)
{
  g_return_if_fail (NATTER_IS_MESSAGE_ROW (self));
  g_return_if_fail (message == NULL || NATTER_IS_MESSAGE (message));

  if (self->message != NULL)
    g_signal_handlers_disconnect_by_func (self->message, message_notify_cb, self);
  g_set_object (&self->message, message);
  self->outgoing = outgoing;

  if (message == NULL)
    return;

  g_signal_connect_object (message, "notify", G_CALLBACK (message_notify_cb), self,
                           G_CONNECT_SWAPPED);
  {
    g_autofree char *markup = natter_message_row_linkify (natter_message_get_body (message));
    g_autoptr(GDateTime) when = message_local_time (message);
    g_autofree char *time = g_date_time_format (when, "%H:%M");
    g_autofree char *full = g_date_time_format (when, "%c");

    gtk_label_set_markup (self->body_label, markup);
    gtk_label_set_text (self->time_label, time);
    gtk_widget_set_tooltip_text (GTK_WIDGET (self->time_label), full);
  }

  gtk_widget_set_halign (GTK_WIDGET (self->bubble), outgoing ? GTK_ALIGN_END : GTK_ALIGN_START);
  if (outgoing)
    gtk_widget_add_css_class (GTK_WIDGET (self->bubble), "outgoing");
  else
    gtk_widget_remove_css_class (GTK_WIDGET (self->bubble), "outgoing");

  update_state (self);
  update_late (self);
  update_day (self);
}

gboolean
natter_message_row_get_show_day (NatterMessageRow *self)
{
  g_return_val_if_fail (NATTER_IS_MESSAGE_ROW (self), FALSE);

  return self->show_day;
}

/**
 * natter_message_row_set_show_day:
 *
 * Shows the day above the message: the timeline sets it on the first
 * message of each day.
 */
void
natter_message_row_set_show_day (NatterMessageRow *self,
                                 gboolean          show_day)
{
  g_return_if_fail (NATTER_IS_MESSAGE_ROW (self));

  self->show_day = !!show_day;
  update_day (self);
}
