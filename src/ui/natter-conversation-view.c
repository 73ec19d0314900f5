/* natter-conversation-view.c: one conversation: header, timeline, composer and search.
 *
 * The timeline is a GtkListView over the client's lazy message list merged
 * with the conversation's file transfers (NatterTimelineModel), so a
 * conversation of any length costs only the rows on screen. The view
 * follows the newest event only while the user is at the bottom. Files are
 * sent with the Attach button or by dropping them onto the conversation.
 */
#define G_LOG_DOMAIN "natter-ui"

#include <string.h>

#include <glib/gi18n.h>

#include "natter-error.h"

#include "natter-conversation-view.h"
#include "natter-message-row.h"
#include "natter-timeline-model.h"
#include "natter-transfer-row.h"

/* Typing notifications: repeat "typing" at most this often while the user
 * types, and say "stopped" after this much quiet. */
#define TYPING_REPEAT_US     (3 * G_USEC_PER_SEC)
#define TYPING_IDLE_MS       5000
/* The peer's "typing" expires if its refresh or "stopped" gets lost. */
#define PEER_TYPING_EXPIRE_S 8
/* Within this many pixels of the end counts as "at the bottom". */
#define BOTTOM_SLACK_PX      32
#define SEARCH_LIMIT         50

struct _NatterConversationView
{
  AdwBin               parent_instance;

  /* template widgets */
  GtkStack            *stack;
  AdwWindowTitle      *window_title;
  GtkSearchBar        *search_bar;
  GtkSearchEntry      *search_entry;
  GtkRevealer         *results_revealer;
  GtkLabel            *results_status;
  GtkListBox          *results_list;
  GtkScrolledWindow   *scroller;
  GtkListView         *timeline;
  GtkRevealer         *new_messages_revealer;
  GtkRevealer         *composer_info_revealer;
  GtkLabel            *composer_info;
  GtkTextView         *composer;
  GtkButton           *send_button;
  GtkRevealer         *banner;
  GtkLabel            *banner_label;
  GtkWidget           *drop_area;
  GtkRevealer         *drop_revealer;
  GtkLabel            *drop_label;

  /* borrowed references */
  GtkWidget           *root;           /* toplevel watched for is-active */
  GHashTable          *rows;           /* timeline item → its bound row */

  /* owned references */
  NatterClient        *client;
  NatterContact       *contact;
  GListModel          *timeline_items; /* a NatterTimelineModel */
  GtkSingleSelection  *selection;
  GHashTable          *drafts;         /* peer id → unsent text */
  GtkNativeDialog     *file_chooser;

  gint64               typing_sent_at;
  guint                typing_idle_id;
  guint                peer_typing_id;
  guint                mark_read_id;
  guint                scroll_tick_id;
  guint                stick_to_bottom : 1;
  guint                typing_active : 1;
  guint                peer_typing : 1;
  guint                folded : 1;
  guint                programmatic_edit : 1;
  guint                focus_on_map : 1;
  guint                can_write : 1;
};

G_DEFINE_FINAL_TYPE (NatterConversationView, natter_conversation_view, ADW_TYPE_BIN)

enum {
  PROP_0,
  PROP_CLIENT,
  PROP_CONTACT,
  PROP_FOLDED,
  N_PROPS
};

enum {
  GO_BACK,
  N_SIGNALS
};

static GParamSpec *properties[N_PROPS];
static guint signals[N_SIGNALS];

static const char *
peer_id (NatterConversationView *self)
{
  return self->contact ? natter_contact_get_peer_id (self->contact) : NULL;
}

static gboolean
is_outgoing (NatterConversationView *self,
             NatterMessage          *message)
{
  return g_strcmp0 (natter_message_get_author (message),
                    natter_client_get_peer_id (self->client)) == 0;
}

/* ------------------------------------------------------------------ */
/* Header                                                              */
/* ------------------------------------------------------------------ */

static void
update_header (NatterConversationView *self)
{
  const char *subtitle;

  if (self->contact == NULL)
    return;

  adw_window_title_set_title (self->window_title,
                              natter_contact_get_display_name (self->contact));

  if (self->peer_typing)
    subtitle = _("typing…");
  else if (natter_contact_get_session_state (self->contact) == NATTER_SESSION_CONNECTED)
    subtitle = _("Connected directly");
  else if (natter_contact_get_state (self->contact) != NATTER_CONTACT_ACCEPTED)
    subtitle = _("Not a contact yet");
  else if (natter_contact_get_online (self->contact))
    subtitle = _("Connecting…");
  else
    subtitle = _("Offline");
  adw_window_title_set_subtitle (self->window_title, subtitle);
}

static gboolean
peer_typing_expired_cb (gpointer data)
{
  NatterConversationView *self = data;

  self->peer_typing_id = 0;
  self->peer_typing = FALSE;
  update_header (self);
  return G_SOURCE_REMOVE;
}

static void
set_peer_typing (NatterConversationView *self,
                 gboolean                typing)
{
  g_clear_handle_id (&self->peer_typing_id, g_source_remove);
  if (typing)
    self->peer_typing_id = g_timeout_add_seconds (PEER_TYPING_EXPIRE_S, peer_typing_expired_cb,
                                                  self);
  if (self->peer_typing == !!typing)
    return;
  self->peer_typing = !!typing;
  update_header (self);
}

static void
client_typing_cb (NatterConversationView *self,
                  NatterContact          *contact,
                  gboolean                typing,
                  NatterClient           *client)
{
  if (g_strcmp0 (natter_contact_get_peer_id (contact), peer_id (self)) == 0)
    set_peer_typing (self, typing);
}

/* ------------------------------------------------------------------ */
/* Reading                                                             */
/* ------------------------------------------------------------------ */

static gboolean
mark_read_cb (gpointer data)
{
  NatterConversationView *self = data;
  g_autoptr(GError) error = NULL;

  self->mark_read_id = 0;
  /* Read means seen: on screen, in the window the user is looking at. */
  if (self->contact == NULL || !gtk_widget_get_mapped (GTK_WIDGET (self)) ||
      !GTK_IS_WINDOW (self->root) || !gtk_window_is_active (GTK_WINDOW (self->root)))
    return G_SOURCE_REMOVE;

  if (!natter_client_mark_read (self->client, peer_id (self), &error))
    g_debug ("Could not mark the conversation read: %s", error->message);
  return G_SOURCE_REMOVE;
}

static void
queue_mark_read (NatterConversationView *self)
{
  if (self->mark_read_id == 0 && self->contact != NULL)
    self->mark_read_id = g_idle_add (mark_read_cb, self);
}

static void
root_is_active_cb (NatterConversationView *self)
{
  queue_mark_read (self);
}

/* ------------------------------------------------------------------ */
/* Timeline                                                            */
/* ------------------------------------------------------------------ */

/* The first event of each local day carries the day above it, whatever
 * kind of event it is. */
static gboolean
needs_day_separator (NatterConversationView *self,
                     guint                   position,
                     gpointer                item)
{
  g_autoptr(GObject) previous = NULL;

  if (position == 0)
    return TRUE;
  previous = g_list_model_get_item (self->timeline_items, position - 1);
  return previous == NULL ||
         !natter_timeline_same_day (natter_timeline_item_get_time (previous),
                                    natter_timeline_item_get_time (item));
}

static void
set_row_show_day (GtkWidget *row,
                  gboolean   show_day)
{
  if (NATTER_IS_MESSAGE_ROW (row))
    natter_message_row_set_show_day (NATTER_MESSAGE_ROW (row), show_day);
  else
    natter_transfer_row_set_show_day (NATTER_TRANSFER_ROW (row), show_day);
}

/* Rows are made for messages, the common case; a transfer swaps in its own
 * kind of row when bound, and a message back. */
static void
factory_setup_cb (GtkSignalListItemFactory *factory,
                  GtkListItem              *item,
                  NatterConversationView   *self)
{
  gtk_list_item_set_child (item, natter_message_row_new ());
}

static void
factory_bind_cb (GtkSignalListItemFactory *factory,
                 GtkListItem              *item,
                 NatterConversationView   *self)
{
  gpointer object = gtk_list_item_get_item (item);
  GtkWidget *row = gtk_list_item_get_child (item);

  if (NATTER_IS_TRANSFER (object))
    {
      if (!NATTER_IS_TRANSFER_ROW (row))
        {
          row = natter_transfer_row_new (self->client);
          gtk_list_item_set_child (item, row);
        }
      natter_transfer_row_set_transfer (NATTER_TRANSFER_ROW (row), object);
    }
  else
    {
      if (!NATTER_IS_MESSAGE_ROW (row))
        {
          row = natter_message_row_new ();
          gtk_list_item_set_child (item, row);
        }
      natter_message_row_set_message (NATTER_MESSAGE_ROW (row), object,
                                      is_outgoing (self, object));
    }
  /* Transfer rows hold their own buttons; a row itself is not a target. */
  gtk_list_item_set_activatable (item, !NATTER_IS_TRANSFER (object));
  set_row_show_day (row, needs_day_separator (self, gtk_list_item_get_position (item), object));
  g_hash_table_replace (self->rows, object, row);
}

static void
factory_unbind_cb (GtkSignalListItemFactory *factory,
                   GtkListItem              *item,
                   NatterConversationView   *self)
{
  GtkWidget *row = gtk_list_item_get_child (item);
  gpointer object;

  /* What the row shows is what it was bound to. */
  if (NATTER_IS_MESSAGE_ROW (row))
    object = natter_message_row_get_message (NATTER_MESSAGE_ROW (row));
  else
    object = natter_transfer_row_get_transfer (NATTER_TRANSFER_ROW (row));
  if (object != NULL && g_hash_table_lookup (self->rows, object) == row)
    g_hash_table_remove (self->rows, object);
  if (NATTER_IS_MESSAGE_ROW (row))
    natter_message_row_set_message (NATTER_MESSAGE_ROW (row), NULL, FALSE);
  else
    natter_transfer_row_set_transfer (NATTER_TRANSFER_ROW (row), NULL);
}

static void
scroll_to_position (NatterConversationView *self,
                    guint                   position)
{
  gtk_widget_activate_action (GTK_WIDGET (self->timeline), "list.scroll-to-item", "u", position);
}

static gboolean
scroll_to_bottom_tick_cb (GtkWidget     *widget,
                          GdkFrameClock *clock,
                          gpointer       data)
{
  NatterConversationView *self = data;
  guint n = self->timeline_items ? g_list_model_get_n_items (self->timeline_items) : 0;

  /* Before the list has a size it cannot tell where the end is. */
  if (gtk_adjustment_get_page_size (gtk_scrolled_window_get_vadjustment (self->scroller)) <= 0)
    return G_SOURCE_CONTINUE;

  self->scroll_tick_id = 0;
  if (n > 0 && self->stick_to_bottom)
    scroll_to_position (self, n - 1);
  return G_SOURCE_REMOVE;
}

/* Follows the newest event from the next frame on. */
static void
scroll_to_bottom (NatterConversationView *self)
{
  self->stick_to_bottom = TRUE;
  gtk_revealer_set_reveal_child (self->new_messages_revealer, FALSE);
  if (self->scroll_tick_id == 0)
    self->scroll_tick_id = gtk_widget_add_tick_callback (GTK_WIDGET (self->timeline),
                                                         scroll_to_bottom_tick_cb, self, NULL);
}

static gboolean
is_at_bottom (NatterConversationView *self)
{
  GtkAdjustment *adj = gtk_scrolled_window_get_vadjustment (self->scroller);

  return gtk_adjustment_get_value (adj) + gtk_adjustment_get_page_size (adj) >=
         gtk_adjustment_get_upper (adj) - BOTTOM_SLACK_PX;
}

/* The list's size or its height estimate changed: that is layout, not the
 * user scrolling away, so a view following the end keeps following it. */
static void
vadjustment_changed_cb (NatterConversationView *self,
                        GtkAdjustment          *adj)
{
  if (self->stick_to_bottom && !is_at_bottom (self))
    scroll_to_bottom (self);
}

static void
vadjustment_value_changed_cb (NatterConversationView *self,
                              GtkAdjustment          *adj)
{
  /* A scroll to the end is still on its way. */
  if (self->scroll_tick_id != 0)
    return;
  self->stick_to_bottom = is_at_bottom (self);
  if (self->stick_to_bottom)
    {
      gtk_revealer_set_reveal_child (self->new_messages_revealer, FALSE);
      queue_mark_read (self);
    }
}

static void
refresh_day_separator (NatterConversationView *self,
                       guint                   position)
{
  g_autoptr(GObject) item = NULL;
  GtkWidget *row;

  if (position >= g_list_model_get_n_items (self->timeline_items))
    return;
  item = g_list_model_get_item (self->timeline_items, position);
  row = item ? g_hash_table_lookup (self->rows, item) : NULL;
  if (row != NULL)
    set_row_show_day (row, needs_day_separator (self, position, item));
}

/* Whether @item is news from the peer: their message, or their offer. */
static gboolean
is_incoming (NatterConversationView *self,
             gpointer                item)
{
  if (NATTER_IS_MESSAGE (item))
    return !is_outgoing (self, item);
  return NATTER_IS_TRANSFER (item) &&
         natter_transfer_get_direction (item) == NATTER_TRANSFER_INCOMING;
}

static void
timeline_changed_cb (NatterConversationView *self,
                     guint                   position,
                     guint                   removed,
                     guint                   added,
                     GListModel             *model)
{
  guint n = g_list_model_get_n_items (model);
  gboolean incoming = FALSE;
  gboolean peer_wrote = FALSE;
  gboolean ours = FALSE;

  /* The event after an insertion may no longer start a new day; rows of
   * the inserted ones are bound afresh. */
  refresh_day_separator (self, position + added);

  for (guint i = position; i < position + added; i++)
    {
      g_autoptr(GObject) item = g_list_model_get_item (model, i);

      if (item == NULL)
        continue;
      if (is_incoming (self, item))
        {
          incoming = TRUE;
          peer_wrote |= NATTER_IS_MESSAGE (item);
        }
      /* A file just sent: as for a message just written, the user wants to see it. */
      else if (NATTER_IS_TRANSFER (item))
        ours = TRUE;
    }
  if (peer_wrote)
    set_peer_typing (self, FALSE);
  if (incoming)
    queue_mark_read (self);

  /* Only the newest end moves the view; a late message in the middle lands
   * where it belongs without yanking the user away from what they read. */
  if (added == 0 || position + added != n)
    return;
  if (self->stick_to_bottom || ours)
    scroll_to_bottom (self);
  else if (incoming)
    gtk_revealer_set_reveal_child (self->new_messages_revealer, TRUE);
}

static void
scroll_to_bottom_action (GtkWidget  *widget,
                         const char *action_name,
                         GVariant   *param)
{
  scroll_to_bottom (NATTER_CONVERSATION_VIEW (widget));
}

/* ------------------------------------------------------------------ */
/* Composer                                                            */
/* ------------------------------------------------------------------ */

static char *
dup_composer_text (NatterConversationView *self)
{
  GtkTextBuffer *buffer = gtk_text_view_get_buffer (self->composer);
  GtkTextIter start, end;

  gtk_text_buffer_get_bounds (buffer, &start, &end);
  return gtk_text_buffer_get_text (buffer, &start, &end, FALSE);
}

static void
set_composer_text (NatterConversationView *self,
                   const char             *text)
{
  self->programmatic_edit = TRUE;
  gtk_text_buffer_set_text (gtk_text_view_get_buffer (self->composer), text ? text : "", -1);
  self->programmatic_edit = FALSE;
}

static void
show_composer_info (NatterConversationView *self,
                    const char             *text)
{
  if (text != NULL)
    gtk_label_set_text (self->composer_info, text);
  gtk_revealer_set_reveal_child (self->composer_info_revealer, text != NULL);
}

/* Enables sending, or says why not. */
static void
update_composer (NatterConversationView *self)
{
  g_autofree char *text = NULL;
  g_autofree char *info = NULL;
  gboolean can_write = TRUE;
  gboolean can_send = FALSE;

  if (self->contact == NULL)
    return;

  switch (natter_contact_get_state (self->contact))
    {
    case NATTER_CONTACT_ACCEPTED:
      break;
    case NATTER_CONTACT_PENDING_OUT:
      info = g_strdup_printf (_("You can write to %s once they accept your contact request"),
                              natter_contact_get_display_name (self->contact));
      can_write = FALSE;
      break;
    case NATTER_CONTACT_PENDING_IN:
      info = g_strdup (_("Accept the contact request to start writing"));
      can_write = FALSE;
      break;
    case NATTER_CONTACT_BLOCKED:
      info = g_strdup (_("You blocked this contact"));
      can_write = FALSE;
      break;
    case NATTER_CONTACT_DECLINED:
    default:
      info = g_strdup (_("This person is not one of your contacts"));
      can_write = FALSE;
      break;
    }

  text = dup_composer_text (self);
  if (can_write)
    {
      gsize len = strlen (text);

      if (!natter_client_message_fits (self->client, peer_id (self), text))
        {
          g_autofree char *size = g_format_size (len);
          g_autofree char *limit = g_format_size (NATTER_MAX_FRAME_SIZE);

          /* Translators: the first %s is the size of the message, the second the limit */
          info = g_strdup_printf (_("This message is too long to send (%s, the limit is about %s). "
                                    "Shorten it or send it as a file."), size, limit);
        }
      else
        can_send = g_strstrip (text)[0] != '\0';
    }

  self->can_write = can_write;
  gtk_widget_set_sensitive (GTK_WIDGET (self->composer), can_write);
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "conversation.send", can_send);
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "conversation.attach", can_write);
  show_composer_info (self, info);
}

static void
send_typing (NatterConversationView *self,
             gboolean                typing)
{
  g_autoptr(GError) error = NULL;

  self->typing_active = typing;
  self->typing_sent_at = typing ? g_get_monotonic_time () : 0;
  if (self->contact == NULL)
    return;
  /* Without a direct connection there is nobody to tell: not an error. */
  if (!natter_client_set_typing (self->client, peer_id (self), typing, &error) &&
      !g_error_matches (error, NATTER_ERROR, NATTER_ERROR_NOT_CONNECTED))
    g_debug ("Could not send a typing notification: %s", error->message);
}

static void
stop_typing (NatterConversationView *self)
{
  g_clear_handle_id (&self->typing_idle_id, g_source_remove);
  if (self->typing_active)
    send_typing (self, FALSE);
}

static gboolean
typing_idle_cb (gpointer data)
{
  NatterConversationView *self = data;

  self->typing_idle_id = 0;
  stop_typing (self);
  return G_SOURCE_REMOVE;
}

static void
composer_changed_cb (NatterConversationView *self,
                     GtkTextBuffer          *buffer)
{
  update_composer (self);

  if (self->programmatic_edit || self->contact == NULL)
    return;

  if (gtk_text_buffer_get_char_count (buffer) == 0)
    {
      stop_typing (self);
      return;
    }
  /* Repeat while typing so a lost "stopped" cannot stick on the peer's side. */
  if (!self->typing_active || g_get_monotonic_time () - self->typing_sent_at > TYPING_REPEAT_US)
    send_typing (self, TRUE);
  g_clear_handle_id (&self->typing_idle_id, g_source_remove);
  self->typing_idle_id = g_timeout_add (TYPING_IDLE_MS, typing_idle_cb, self);
}

static void
send_action (GtkWidget  *widget,
             const char *action_name,
             GVariant   *param)
{
  NatterConversationView *self = NATTER_CONVERSATION_VIEW (widget);
  g_autoptr(NatterMessage) message = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *text = NULL;

  if (self->contact == NULL)
    return;

  text = dup_composer_text (self);
  g_strstrip (text);
  if (text[0] == '\0')
    return;

  message = natter_client_send_message (self->client, peer_id (self), text, NULL, &error);
  if (message == NULL)
    {
      g_autofree char *info = g_strdup_printf (_("Could not send the message: %s"),
                                               error->message);

      show_composer_info (self, info);
      return;
    }

  stop_typing (self);
  set_composer_text (self, NULL);
  if (self->drafts != NULL)
    g_hash_table_remove (self->drafts, peer_id (self));
  /* What you just wrote is what you want to see. */
  scroll_to_bottom (self);
}

/* Enter sends; the text view itself handles Shift+Enter as a newline. */
static gboolean
composer_enter_cb (GtkWidget *widget,
                   GVariant  *args,
                   gpointer   data)
{
  gtk_widget_activate_action (widget, "conversation.send", NULL);
  /* Consumed even when sending is disabled: Enter must never silently add
   * a line to a message the user meant to send. */
  return TRUE;
}

/* ------------------------------------------------------------------ */
/* Sending files                                                       */
/* ------------------------------------------------------------------ */

/* Offers each of @files (GFile) to the contact: the attach button and a
 * drop both end here. Each becomes a transfer row at the end of the
 * timeline; what cannot be sent is said under the composer. */
static void
send_files (NatterConversationView *self,
            const GSList           *files)
{
  g_autoptr(GString) problems = g_string_new (NULL);

  if (self->contact == NULL || !self->can_write)
    return;

  for (const GSList *l = files; l != NULL; l = l->next)
    {
      GFile *file = l->data;
      g_autoptr(NatterTransfer) transfer = NULL;
      g_autoptr(GError) error = NULL;

      transfer = natter_client_send_file (self->client, peer_id (self), file, &error);
      if (transfer == NULL)
        {
          g_autofree char *name = g_file_get_basename (file);

          if (problems->len > 0)
            g_string_append_c (problems, '\n');
          /* Translators: the file's name, then why it cannot be sent */
          g_string_append_printf (problems, _("Could not send “%s”: %s"), name, error->message);
        }
    }
  show_composer_info (self, problems->len > 0 ? problems->str : NULL);
  /* What you just sent is what you want to see. */
  if (files != NULL)
    scroll_to_bottom (self);
}

static void
file_chooser_response_cb (NatterConversationView *self,
                          int                     response,
                          GtkNativeDialog        *chooser)
{
  g_autoptr(GtkNativeDialog) owned = g_steal_pointer (&self->file_chooser);

  if (response == GTK_RESPONSE_ACCEPT)
    {
      g_autoptr(GListModel) files = gtk_file_chooser_get_files (GTK_FILE_CHOOSER (chooser));
      GSList *list = NULL;

      for (guint i = g_list_model_get_n_items (files); i > 0; i--)
        list = g_slist_prepend (list, g_list_model_get_item (files, i - 1));
      send_files (self, list);
      g_slist_free_full (list, g_object_unref);
    }
  gtk_native_dialog_destroy (chooser);
}

/* A native chooser: the file chooser portal when sandboxed. */
static void
attach_action (GtkWidget  *widget,
               const char *action_name,
               GVariant   *param)
{
  NatterConversationView *self = NATTER_CONVERSATION_VIEW (widget);
  GtkRoot *root = gtk_widget_get_root (widget);
  GtkFileChooserNative *chooser;

  if (self->contact == NULL)
    return;
  if (self->file_chooser != NULL)
    {
      gtk_native_dialog_show (self->file_chooser);
      return;
    }

  chooser = gtk_file_chooser_native_new (_("Send Files"),
                                         GTK_IS_WINDOW (root) ? GTK_WINDOW (root) : NULL,
                                         GTK_FILE_CHOOSER_ACTION_OPEN, _("_Send"), _("_Cancel"));
  gtk_native_dialog_set_modal (GTK_NATIVE_DIALOG (chooser), TRUE);
  gtk_file_chooser_set_select_multiple (GTK_FILE_CHOOSER (chooser), TRUE);
  g_signal_connect_object (chooser, "response", G_CALLBACK (file_chooser_response_cb), self,
                           G_CONNECT_SWAPPED);
  self->file_chooser = GTK_NATIVE_DIALOG (chooser);
  gtk_native_dialog_show (self->file_chooser);
}

static void
close_file_chooser (NatterConversationView *self)
{
  g_autoptr(GtkNativeDialog) chooser = g_steal_pointer (&self->file_chooser);

  if (chooser == NULL)
    return;
  g_signal_handlers_disconnect_by_data (chooser, self);
  gtk_native_dialog_destroy (chooser);
}

static void
show_drop_hint (NatterConversationView *self,
                gboolean                show)
{
  if (show && self->contact != NULL)
    {
      g_autofree char *hint = NULL;

      /* Translators: shown while files are dragged over a conversation; %s is the contact */
      hint = g_strdup_printf (_("Drop to send to %s"),
                              natter_contact_get_display_name (self->contact));
      gtk_label_set_text (self->drop_label, hint);
    }
  gtk_revealer_set_reveal_child (self->drop_revealer, show);
}

static GdkDragAction
drop_enter_cb (NatterConversationView *self,
               double                  x,
               double                  y,
               GtkDropTarget          *target)
{
  if (self->contact == NULL || !self->can_write)
    return 0;
  show_drop_hint (self, TRUE);
  return GDK_ACTION_COPY;
}

static void
drop_leave_cb (NatterConversationView *self,
               GtkDropTarget          *target)
{
  show_drop_hint (self, FALSE);
}

static gboolean
drop_cb (NatterConversationView *self,
         const GValue           *value,
         double                  x,
         double                  y,
         GtkDropTarget          *target)
{
  g_autoptr(GSList) files = NULL;

  show_drop_hint (self, FALSE);
  if (!G_VALUE_HOLDS (value, GDK_TYPE_FILE_LIST) || self->contact == NULL || !self->can_write)
    return FALSE;
  files = gdk_file_list_get_files (g_value_get_boxed (value));
  send_files (self, files);
  return TRUE;
}

/* ------------------------------------------------------------------ */
/* Search                                                              */
/* ------------------------------------------------------------------ */

static void
clear_results (NatterConversationView *self)
{
  GtkWidget *child;

  while ((child = gtk_widget_get_first_child (GTK_WIDGET (self->results_list))) != NULL)
    gtk_list_box_remove (self->results_list, child);
  gtk_revealer_set_reveal_child (self->results_revealer, FALSE);
}

static GtkWidget *
result_row_new (NatterConversationView *self,
                NatterMessage          *message)
{
  g_autoptr(GDateTime) when = g_date_time_new_from_unix_local (natter_message_get_hlc_l (message)
                                                               / 1000);
  g_autofree char *date = g_date_time_format (when, "%x %H:%M");
  g_autofree char *caption = NULL;
  GtkWidget *row = gtk_list_box_row_new ();
  GtkWidget *box = gtk_box_new (GTK_ORIENTATION_VERTICAL, 2);
  GtkWidget *body = gtk_label_new (natter_message_get_body (message));
  GtkWidget *meta;

  /* Translators: a search result's caption: who wrote it, then when */
  caption = g_strdup_printf (_("%s · %s"),
                             is_outgoing (self, message) ? _("You")
                                                         : natter_contact_get_display_name (self->contact),
                             date);
  meta = gtk_label_new (caption);

  gtk_label_set_ellipsize (GTK_LABEL (body), PANGO_ELLIPSIZE_END);
  gtk_label_set_single_line_mode (GTK_LABEL (body), TRUE);
  gtk_label_set_xalign (GTK_LABEL (body), 0);
  gtk_label_set_xalign (GTK_LABEL (meta), 0);
  gtk_widget_add_css_class (meta, "caption");
  gtk_widget_add_css_class (meta, "dim-label");
  gtk_box_append (GTK_BOX (box), body);
  gtk_box_append (GTK_BOX (box), meta);
  gtk_list_box_row_set_child (GTK_LIST_BOX_ROW (row), box);
  g_object_set_data_full (G_OBJECT (row), "message", g_object_ref (message), g_object_unref);
  gtk_accessible_update_property (GTK_ACCESSIBLE (row),
                                  GTK_ACCESSIBLE_PROPERTY_LABEL, natter_message_get_body (message),
                                  GTK_ACCESSIBLE_PROPERTY_DESCRIPTION, caption,
                                  -1);
  return row;
}

static void
search_changed_cb (NatterConversationView *self,
                   GtkSearchEntry         *entry)
{
  const char *query = gtk_editable_get_text (GTK_EDITABLE (entry));
  g_autoptr(GPtrArray) results = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *status = NULL;

  clear_results (self);
  if (self->contact == NULL || query[0] == '\0')
    return;

  results = natter_client_search (self->client, peer_id (self), query, SEARCH_LIMIT, &error);
  if (results == NULL)
    {
      g_warning ("Search failed: %s", error->message);
      status = g_strdup (_("Search failed"));
    }
  else if (results->len == 0)
    status = g_strdup (_("No messages found"));
  else if (results->len >= SEARCH_LIMIT)
    status = g_strdup_printf (_("The %u newest matching messages"), results->len);
  else
    status = g_strdup_printf (ngettext ("%u message found", "%u messages found", results->len),
                              results->len);

  /* Newest first: the one the user most likely means. */
  for (guint i = results ? results->len : 0; i > 0; i--)
    gtk_list_box_append (self->results_list, result_row_new (self, results->pdata[i - 1]));
  gtk_label_set_text (self->results_status, status);
  gtk_revealer_set_reveal_child (self->results_revealer, TRUE);
}

static void
jump_to_message (NatterConversationView *self,
                 NatterMessage          *message)
{
  NatterTimelineModel *timeline = NATTER_TIMELINE_MODEL (self->timeline_items);
  g_autoptr(GError) error = NULL;
  gint64 position;

  position = natter_client_message_position (self->client, message, &error);
  if (position < 0 ||
      position >= g_list_model_get_n_items (natter_timeline_model_get_messages (timeline)))
    {
      g_warning ("Cannot locate a search result: %s", error ? error->message : "out of range");
      return;
    }
  position = natter_timeline_model_position_of_message (timeline, position);
  self->stick_to_bottom = FALSE;
  if (self->scroll_tick_id != 0)
    gtk_widget_remove_tick_callback (GTK_WIDGET (self->timeline), self->scroll_tick_id);
  self->scroll_tick_id = 0;
  scroll_to_position (self, position);
  gtk_single_selection_set_selected (self->selection, position);
}

static void
result_activated_cb (NatterConversationView *self,
                     GtkListBoxRow          *row,
                     GtkListBox             *list)
{
  jump_to_message (self, g_object_get_data (G_OBJECT (row), "message"));
}

static void
search_activate_cb (NatterConversationView *self,
                    GtkSearchEntry         *entry)
{
  GtkListBoxRow *first = gtk_list_box_get_row_at_index (self->results_list, 0);

  if (first != NULL)
    result_activated_cb (self, first, self->results_list);
}

static void
search_stop_cb (NatterConversationView *self,
                GtkSearchEntry         *entry)
{
  gtk_search_bar_set_search_mode (self->search_bar, FALSE);
}

static void
search_mode_cb (NatterConversationView *self)
{
  if (gtk_search_bar_get_search_mode (self->search_bar))
    return;
  gtk_editable_set_text (GTK_EDITABLE (self->search_entry), "");
  clear_results (self);
  if (self->selection != NULL)
    {
      gtk_single_selection_set_selected (self->selection, GTK_INVALID_LIST_POSITION);
      gtk_widget_grab_focus (GTK_WIDGET (self->composer));
    }
}

static void
search_action (GtkWidget  *widget,
               const char *action_name,
               GVariant   *param)
{
  NatterConversationView *self = NATTER_CONVERSATION_VIEW (widget);

  if (self->contact == NULL)
    return;
  gtk_search_bar_set_search_mode (self->search_bar, TRUE);
  gtk_widget_grab_focus (GTK_WIDGET (self->search_entry));
}

static void
go_back_action (GtkWidget  *widget,
                const char *action_name,
                GVariant   *param)
{
  g_signal_emit (widget, signals[GO_BACK], 0);
}

/* ------------------------------------------------------------------ */
/* Switching conversations                                             */
/* ------------------------------------------------------------------ */

static void
contact_notify_cb (NatterConversationView *self,
                   GParamSpec             *pspec,
                   NatterContact          *contact)
{
  update_header (self);
  if (g_str_equal (pspec->name, "state"))
    update_composer (self);
}

static void
save_draft (NatterConversationView *self)
{
  g_autofree char *text = NULL;

  if (self->contact == NULL)
    return;
  text = dup_composer_text (self);
  if (text[0] != '\0')
    g_hash_table_replace (self->drafts, g_strdup (peer_id (self)), g_steal_pointer (&text));
  else
    g_hash_table_remove (self->drafts, peer_id (self));
}

static void
unload_conversation (NatterConversationView *self)
{
  stop_typing (self);
  save_draft (self);
  set_peer_typing (self, FALSE);
  g_clear_handle_id (&self->mark_read_id, g_source_remove);
  gtk_search_bar_set_search_mode (self->search_bar, FALSE);
  /* A chooser opened for this conversation must not send to the next one. */
  close_file_chooser (self);

  if (self->contact != NULL)
    g_signal_handlers_disconnect_by_data (self->contact, self);
  if (self->timeline_items != NULL)
    g_signal_handlers_disconnect_by_data (self->timeline_items, self);
  if (self->scroll_tick_id != 0)
    gtk_widget_remove_tick_callback (GTK_WIDGET (self->timeline), self->scroll_tick_id);
  self->scroll_tick_id = 0;
  gtk_list_view_set_model (self->timeline, NULL);
  g_clear_object (&self->selection);
  g_clear_object (&self->timeline_items);
  gtk_revealer_set_reveal_child (self->new_messages_revealer, FALSE);
  gtk_revealer_set_reveal_child (self->drop_revealer, FALSE);
}

static void
load_conversation (NatterConversationView *self)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GListModel) empty = NULL;
  g_autofree char *conversation = NULL;
  GListModel *messages;

  if (self->contact == NULL)
    {
      gtk_stack_set_visible_child_name (self->stack, "empty");
      return;
    }

  g_signal_connect_object (self->contact, "notify", G_CALLBACK (contact_notify_cb), self,
                           G_CONNECT_SWAPPED);

  messages = natter_client_get_messages (self->client, peer_id (self), &error);
  if (messages == NULL)
    {
      g_warning ("Cannot open the conversation: %s", error->message);
      messages = empty = G_LIST_MODEL (g_list_store_new (NATTER_TYPE_MESSAGE));
    }
  conversation = natter_client_conversation_for (self->client, peer_id (self));
  self->timeline_items = G_LIST_MODEL (natter_timeline_model_new (messages,
                                                                  natter_client_get_transfers (self->client),
                                                                  conversation));
  self->selection = gtk_single_selection_new (g_object_ref (self->timeline_items));
  gtk_single_selection_set_autoselect (self->selection, FALSE);
  gtk_single_selection_set_can_unselect (self->selection, TRUE);
  gtk_single_selection_set_selected (self->selection, GTK_INVALID_LIST_POSITION);
  /* After the selection model's handler, so the list view already knows. */
  g_signal_connect_object (self->timeline_items, "items-changed", G_CALLBACK (timeline_changed_cb),
                           self, G_CONNECT_SWAPPED);
  gtk_list_view_set_model (self->timeline, GTK_SELECTION_MODEL (self->selection));

  set_composer_text (self, g_hash_table_lookup (self->drafts, peer_id (self)));
  update_header (self);
  update_composer (self);
  gtk_stack_set_visible_child_name (self->stack, "conversation");
  scroll_to_bottom (self);
  /* Opening a conversation is for writing in it; before the view is on
   * screen the grab would be lost, so it waits for map. */
  if (gtk_widget_get_mapped (GTK_WIDGET (self)))
    gtk_widget_grab_focus (GTK_WIDGET (self->composer));
  else
    self->focus_on_map = TRUE;
  queue_mark_read (self);
}

/* ------------------------------------------------------------------ */
/* GObject                                                             */
/* ------------------------------------------------------------------ */

static void
natter_conversation_view_root (GtkWidget *widget)
{
  NatterConversationView *self = NATTER_CONVERSATION_VIEW (widget);

  GTK_WIDGET_CLASS (natter_conversation_view_parent_class)->root (widget);

  self->root = GTK_WIDGET (gtk_widget_get_root (widget));
  g_signal_connect_object (self->root, "notify::is-active", G_CALLBACK (root_is_active_cb), self,
                           G_CONNECT_SWAPPED);
}

static void
natter_conversation_view_unroot (GtkWidget *widget)
{
  NatterConversationView *self = NATTER_CONVERSATION_VIEW (widget);

  if (self->root != NULL)
    g_signal_handlers_disconnect_by_func (self->root, root_is_active_cb, self);
  self->root = NULL;

  GTK_WIDGET_CLASS (natter_conversation_view_parent_class)->unroot (widget);
}

static void
natter_conversation_view_map (GtkWidget *widget)
{
  NatterConversationView *self = NATTER_CONVERSATION_VIEW (widget);

  GTK_WIDGET_CLASS (natter_conversation_view_parent_class)->map (widget);

  if (self->focus_on_map && self->contact != NULL)
    gtk_widget_grab_focus (GTK_WIDGET (self->composer));
  self->focus_on_map = FALSE;
  queue_mark_read (self);
}

static void
natter_conversation_view_constructed (GObject *object)
{
  NatterConversationView *self = NATTER_CONVERSATION_VIEW (object);

  G_OBJECT_CLASS (natter_conversation_view_parent_class)->constructed (object);

  g_return_if_fail (NATTER_IS_CLIENT (self->client));
  g_signal_connect_object (self->client, "typing", G_CALLBACK (client_typing_cb), self,
                           G_CONNECT_SWAPPED);
}

static void
natter_conversation_view_dispose (GObject *object)
{
  NatterConversationView *self = NATTER_CONVERSATION_VIEW (object);

  if (self->client != NULL)
    unload_conversation (self);
  g_clear_handle_id (&self->peer_typing_id, g_source_remove);
  g_clear_object (&self->contact);
  g_clear_object (&self->client);

  G_OBJECT_CLASS (natter_conversation_view_parent_class)->dispose (object);
}

static void
natter_conversation_view_finalize (GObject *object)
{
  NatterConversationView *self = NATTER_CONVERSATION_VIEW (object);

  g_clear_pointer (&self->rows, g_hash_table_unref);
  g_clear_pointer (&self->drafts, g_hash_table_unref);

  G_OBJECT_CLASS (natter_conversation_view_parent_class)->finalize (object);
}

static void
natter_conversation_view_get_property (GObject    *object,
                                       guint       prop_id,
                                       GValue     *value,
                                       GParamSpec *pspec)
{
  NatterConversationView *self = NATTER_CONVERSATION_VIEW (object);

  switch (prop_id)
    {
    case PROP_CLIENT:
      g_value_set_object (value, self->client);
      break;

    case PROP_CONTACT:
      g_value_set_object (value, self->contact);
      break;

    case PROP_FOLDED:
      g_value_set_boolean (value, self->folded);
      break;

    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
natter_conversation_view_set_property (GObject      *object,
                                       guint         prop_id,
                                       const GValue *value,
                                       GParamSpec   *pspec)
{
  NatterConversationView *self = NATTER_CONVERSATION_VIEW (object);

  switch (prop_id)
    {
    case PROP_CLIENT:
      self->client = g_value_dup_object (value);
      break;

    case PROP_CONTACT:
      natter_conversation_view_set_contact (self, g_value_get_object (value));
      break;

    case PROP_FOLDED:
      natter_conversation_view_set_folded (self, g_value_get_boolean (value));
      break;

    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
natter_conversation_view_class_init (NatterConversationViewClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->constructed = natter_conversation_view_constructed;
  object_class->dispose = natter_conversation_view_dispose;
  object_class->finalize = natter_conversation_view_finalize;
  object_class->get_property = natter_conversation_view_get_property;
  object_class->set_property = natter_conversation_view_set_property;

  widget_class->root = natter_conversation_view_root;
  widget_class->unroot = natter_conversation_view_unroot;
  widget_class->map = natter_conversation_view_map;

  properties[PROP_CLIENT] =
    g_param_spec_object ("client", NULL, NULL, NATTER_TYPE_CLIENT,
                         G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);
  properties[PROP_CONTACT] =
    g_param_spec_object ("contact", NULL, NULL, NATTER_TYPE_CONTACT,
                         G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);
  /**
   * NatterConversationView:folded:
   *
   * Set while the window shows one pane at a time: the header then has a
   * back button and the window controls of the start side.
   */
  properties[PROP_FOLDED] =
    g_param_spec_boolean ("folded", NULL, NULL, FALSE,
                          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);
  g_object_class_install_properties (object_class, N_PROPS, properties);

  /**
   * NatterConversationView::go-back:
   *
   * The user pressed the back button of a folded window.
   */
  signals[GO_BACK] = g_signal_new ("go-back", G_TYPE_FROM_CLASS (klass),
                                   G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                                   G_TYPE_NONE, 0);

  gtk_widget_class_set_template_from_resource (widget_class,
                                               "/io/github/natter/Natter/natter-conversation-view.ui");
  gtk_widget_class_bind_template_child (widget_class, NatterConversationView, stack);
  gtk_widget_class_bind_template_child (widget_class, NatterConversationView, window_title);
  gtk_widget_class_bind_template_child (widget_class, NatterConversationView, search_bar);
  gtk_widget_class_bind_template_child (widget_class, NatterConversationView, search_entry);
  gtk_widget_class_bind_template_child (widget_class, NatterConversationView, results_revealer);
  gtk_widget_class_bind_template_child (widget_class, NatterConversationView, results_status);
  gtk_widget_class_bind_template_child (widget_class, NatterConversationView, results_list);
  gtk_widget_class_bind_template_child (widget_class, NatterConversationView, scroller);
  gtk_widget_class_bind_template_child (widget_class, NatterConversationView, timeline);
  gtk_widget_class_bind_template_child (widget_class, NatterConversationView, new_messages_revealer);
  gtk_widget_class_bind_template_child (widget_class, NatterConversationView, composer_info_revealer);
  gtk_widget_class_bind_template_child (widget_class, NatterConversationView, composer_info);
  gtk_widget_class_bind_template_child (widget_class, NatterConversationView, composer);
  gtk_widget_class_bind_template_child (widget_class, NatterConversationView, send_button);
  gtk_widget_class_bind_template_child (widget_class, NatterConversationView, drop_area);
  gtk_widget_class_bind_template_child (widget_class, NatterConversationView, drop_revealer);
  gtk_widget_class_bind_template_child (widget_class, NatterConversationView, drop_label);
  gtk_widget_class_bind_template_child (widget_class, NatterConversationView, banner);
  gtk_widget_class_bind_template_child (widget_class, NatterConversationView, banner_label);
  gtk_widget_class_bind_template_callback (widget_class, search_changed_cb);
  gtk_widget_class_bind_template_callback (widget_class, search_activate_cb);
  gtk_widget_class_bind_template_callback (widget_class, search_stop_cb);
  gtk_widget_class_bind_template_callback (widget_class, result_activated_cb);

  gtk_widget_class_install_action (widget_class, "conversation.send", NULL, send_action);
  gtk_widget_class_install_action (widget_class, "conversation.attach", NULL, attach_action);
  gtk_widget_class_install_action (widget_class, "conversation.scroll-to-bottom", NULL,
                                   scroll_to_bottom_action);
  gtk_widget_class_install_action (widget_class, "conversation.search", NULL, search_action);
  gtk_widget_class_install_action (widget_class, "conversation.go-back", NULL, go_back_action);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_f, GDK_CONTROL_MASK,
                                       "conversation.search", NULL);
}

static void
load_style_once (void)
{
  static gsize loaded;

  if (g_once_init_enter (&loaded))
    {
      GdkDisplay *display = gdk_display_get_default ();
      g_autoptr(GtkCssProvider) css = gtk_css_provider_new ();

      gtk_css_provider_load_from_resource (css, "/io/github/natter/Natter/natter-conversation-view.css");
      gtk_style_context_add_provider_for_display (display, GTK_STYLE_PROVIDER (css),
                                                  GTK_STYLE_PROVIDER_PRIORITY_APPLICATION);
      /* GtkApplication adds this path too; without one (tests) nobody would. */
      gtk_icon_theme_add_resource_path (gtk_icon_theme_get_for_display (display),
                                        "/io/github/natter/Natter/icons");
      g_once_init_leave (&loaded, 1);
    }
}

static void
natter_conversation_view_init (NatterConversationView *self)
{
  g_autoptr(GtkListItemFactory) factory = gtk_signal_list_item_factory_new ();
  GtkEventController *shortcuts;
  GtkDropTarget *drop;
  GtkAdjustment *vadj;

  load_style_once ();
  gtk_widget_init_template (GTK_WIDGET (self));

  self->rows = g_hash_table_new (NULL, NULL);
  self->drafts = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  self->stick_to_bottom = TRUE;

  g_signal_connect (factory, "setup", G_CALLBACK (factory_setup_cb), self);
  g_signal_connect (factory, "bind", G_CALLBACK (factory_bind_cb), self);
  g_signal_connect (factory, "unbind", G_CALLBACK (factory_unbind_cb), self);
  gtk_list_view_set_factory (self->timeline, factory);

  vadj = gtk_scrolled_window_get_vadjustment (self->scroller);
  g_signal_connect_object (vadj, "value-changed", G_CALLBACK (vadjustment_value_changed_cb), self,
                           G_CONNECT_SWAPPED);
  g_signal_connect_object (vadj, "changed", G_CALLBACK (vadjustment_changed_cb), self,
                           G_CONNECT_SWAPPED);

  g_signal_connect_object (gtk_text_view_get_buffer (self->composer), "changed",
                           G_CALLBACK (composer_changed_cb), self, G_CONNECT_SWAPPED);
  shortcuts = gtk_shortcut_controller_new ();
  gtk_event_controller_set_propagation_phase (shortcuts, GTK_PHASE_CAPTURE);
  gtk_shortcut_controller_add_shortcut (GTK_SHORTCUT_CONTROLLER (shortcuts),
                                        gtk_shortcut_new (gtk_keyval_trigger_new (GDK_KEY_Return, 0),
                                                          gtk_callback_action_new (composer_enter_cb,
                                                                                   NULL, NULL)));
  gtk_shortcut_controller_add_shortcut (GTK_SHORTCUT_CONTROLLER (shortcuts),
                                        gtk_shortcut_new (gtk_keyval_trigger_new (GDK_KEY_KP_Enter, 0),
                                                          gtk_callback_action_new (composer_enter_cb,
                                                                                   NULL, NULL)));
  gtk_widget_add_controller (GTK_WIDGET (self->composer), shortcuts);

  gtk_search_bar_connect_entry (self->search_bar, GTK_EDITABLE (self->search_entry));
  g_signal_connect_object (self->search_bar, "notify::search-mode-enabled",
                           G_CALLBACK (search_mode_cb), self, G_CONNECT_SWAPPED);

  /* Files dropped anywhere on the conversation are sent; GTK marks the
   * area :drop(active) while they hover, the CSS highlights it. */
  drop = gtk_drop_target_new (GDK_TYPE_FILE_LIST, GDK_ACTION_COPY);
  g_signal_connect_object (drop, "enter", G_CALLBACK (drop_enter_cb), self, G_CONNECT_SWAPPED);
  g_signal_connect_object (drop, "leave", G_CALLBACK (drop_leave_cb), self, G_CONNECT_SWAPPED);
  g_signal_connect_object (drop, "drop", G_CALLBACK (drop_cb), self, G_CONNECT_SWAPPED);
  gtk_widget_add_controller (self->drop_area, GTK_EVENT_CONTROLLER (drop));

  gtk_widget_action_set_enabled (GTK_WIDGET (self), "conversation.send", FALSE);
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "conversation.attach", FALSE);
  gtk_stack_set_visible_child_name (self->stack, "empty");
}

/**
 * natter_conversation_view_new:
 * @client: the account whose conversations are shown
 *
 * Returns: (transfer floating): a view showing no conversation until
 *   #NatterConversationView:contact is set
 */
GtkWidget *
natter_conversation_view_new (NatterClient *client)
{
  g_return_val_if_fail (NATTER_IS_CLIENT (client), NULL);

  return g_object_new (NATTER_TYPE_CONVERSATION_VIEW, "client", client, NULL);
}

/**
 * natter_conversation_view_get_client:
 *
 * Returns: (transfer none): the account
 */
NatterClient *
natter_conversation_view_get_client (NatterConversationView *self)
{
  g_return_val_if_fail (NATTER_IS_CONVERSATION_VIEW (self), NULL);

  return self->client;
}

/**
 * natter_conversation_view_get_contact:
 *
 * Returns: (transfer none) (nullable): whose conversation is shown
 */
NatterContact *
natter_conversation_view_get_contact (NatterConversationView *self)
{
  g_return_val_if_fail (NATTER_IS_CONVERSATION_VIEW (self), NULL);

  return self->contact;
}

/**
 * natter_conversation_view_set_contact:
 * @contact: (nullable): whose conversation to show, %NULL for none
 *
 * Opens the conversation at its newest message; an unsent draft of the
 * previous conversation is kept for when the user comes back.
 */
void
natter_conversation_view_set_contact (NatterConversationView *self,
                                      NatterContact          *contact)
{
  g_return_if_fail (NATTER_IS_CONVERSATION_VIEW (self));
  g_return_if_fail (contact == NULL || NATTER_IS_CONTACT (contact));

  if (self->contact == contact)
    return;

  unload_conversation (self);
  g_set_object (&self->contact, contact);
  load_conversation (self);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_CONTACT]);
}

gboolean
natter_conversation_view_get_folded (NatterConversationView *self)
{
  g_return_val_if_fail (NATTER_IS_CONVERSATION_VIEW (self), FALSE);

  return self->folded;
}

void
natter_conversation_view_set_folded (NatterConversationView *self,
                                     gboolean                folded)
{
  g_return_if_fail (NATTER_IS_CONVERSATION_VIEW (self));

  folded = !!folded;
  if (self->folded == folded)
    return;
  self->folded = folded;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_FOLDED]);
}

/**
 * natter_conversation_view_set_banner:
 * @self: a #NatterConversationView
 * @text: (nullable): what the connection banner says, or %NULL to hide it
 *
 * Shows the window's connection banner under the view's header bar: on a
 * folded window the sidebar, with its own banner, is off screen.
 */
void
natter_conversation_view_set_banner (NatterConversationView *self,
                                     const char             *text)
{
  g_return_if_fail (NATTER_IS_CONVERSATION_VIEW (self));

  if (text != NULL)
    gtk_label_set_label (self->banner_label, text);
  gtk_revealer_set_reveal_child (self->banner, text != NULL);
}
