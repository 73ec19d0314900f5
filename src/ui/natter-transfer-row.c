/* natter-transfer-row.c: one file transfer in the timeline: name, size, progress, state and what can be done with it.
 *
 * Like message rows, transfer rows are recycled by the timeline's
 * GtkListView: set_transfer() rebinds a row, and everything shown is
 * derived from the transfer there and kept current through its notify
 * signals. The buttons are widget actions ("transfer.*") so that whatever
 * is not possible in the current state is also insensitive to shortcuts
 * and assistive technologies, not only hidden.
 */
#define G_LOG_DOMAIN "natter-ui"

#include <glib/gi18n.h>

#include "natter-timeline-model.h"
#include "natter-transfer-row.h"

#define SHOW_ITEMS_TIMEOUT_MS 5000

struct _NatterTransferRow
{
  GtkWidget       parent_instance;

  /* template widgets */
  GtkWidget      *content;
  GtkLabel       *day_label;
  GtkWidget      *card;
  GtkImage       *icon;
  GtkLabel       *name_label;
  GtkLabel       *detail_label;
  GtkProgressBar *progress_bar;
  GtkLabel       *status_label;
  GtkLabel       *notice_label;
  GtkWidget      *accept_button;
  GtkWidget      *decline_button;
  GtkWidget      *pause_button;
  GtkWidget      *resume_button;
  GtkWidget      *cancel_button;
  GtkWidget      *open_button;
  GtkWidget      *folder_button;

  /* owned references */
  NatterClient   *client;
  NatterTransfer *transfer;

  gboolean        show_day;
};

G_DEFINE_FINAL_TYPE (NatterTransferRow, natter_transfer_row, GTK_TYPE_WIDGET)

enum {
  PROP_0,
  PROP_CLIENT,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

/* ------------------------------------------------------------------ */
/* What the row says                                                   */
/* ------------------------------------------------------------------ */

static char *
format_time_left (gint64 seconds)
{
  guint minutes, hours;

  if (seconds < 60)
    return g_strdup_printf (ngettext ("%u second left", "%u seconds left", (guint) seconds),
                            (guint) seconds);
  minutes = (guint) ((seconds + 59) / 60);
  if (minutes < 60)
    return g_strdup_printf (ngettext ("%u minute left", "%u minutes left", minutes), minutes);
  hours = (minutes + 59) / 60;
  return g_strdup_printf (ngettext ("%u hour left", "%u hours left", hours), hours);
}

static char *
format_progress (NatterTransfer *transfer)
{
  g_autofree char *done = g_format_size (natter_transfer_get_bytes_done (transfer));
  g_autofree char *size = g_format_size (natter_transfer_get_size (transfer));

  /* Translators: bytes transferred so far, of the file's size: "1.2 MB of 4.0 MB" */
  return g_strdup_printf (_("%s of %s"), done, size);
}

/**
 * natter_transfer_row_dup_status_text:
 *
 * Returns: (transfer full): what the row says about @transfer's state,
 *   for people: the progress with rate and time left while active, the
 *   reason when it failed
 */
char *
natter_transfer_row_dup_status_text (NatterTransfer *transfer)
{
  gboolean outgoing;

  g_return_val_if_fail (NATTER_IS_TRANSFER (transfer), NULL);

  outgoing = natter_transfer_get_direction (transfer) == NATTER_TRANSFER_OUTGOING;
  switch (natter_transfer_get_state (transfer))
    {
    case NATTER_TRANSFER_PREPARING:
      return g_strdup (_("Preparing…"));

    case NATTER_TRANSFER_OFFERED:
      return g_strdup (outgoing ? _("Offered, waiting for an answer")
                                : _("Offered to you"));

    case NATTER_TRANSFER_ACCEPTED:
      return g_strdup (_("Waiting for the connection…"));

    case NATTER_TRANSFER_ACTIVE:
      {
        g_autofree char *progress = format_progress (transfer);
        g_autofree char *rate = g_format_size ((guint64) natter_transfer_get_rate (transfer));
        gint64 left = natter_transfer_get_time_left (transfer);

        if (left < 0)
          /* Translators: progress, then the rate, e.g. "1.2 MB of 4.0 MB · 3.1 MB/s" */
          return g_strdup_printf (_("%s · %s/s"), progress, rate);
        {
          g_autofree char *time_left = format_time_left (left);

          /* Translators: progress, rate and time left, e.g. "1.2 MB of 4.0 MB · 3.1 MB/s · 1 second left" */
          return g_strdup_printf (_("%s · %s/s · %s"), progress, rate, time_left);
        }
      }

    case NATTER_TRANSFER_PAUSED:
      {
        g_autofree char *progress = format_progress (transfer);

        /* Translators: %s is the progress, e.g. "1.2 MB of 4.0 MB" */
        return g_strdup_printf (_("Paused · %s"), progress);
      }

    case NATTER_TRANSFER_DONE:
      return g_strdup (outgoing ? _("Sent") : _("Received"));

    case NATTER_TRANSFER_FAILED:
      if (natter_transfer_get_error (transfer) != NULL)
        /* Translators: %s says why, e.g. "the file changed while it was being sent" */
        return g_strdup_printf (_("Failed: %s"), natter_transfer_get_error (transfer));
      return g_strdup (_("Failed"));

    case NATTER_TRANSFER_CANCELLED:
      return g_strdup (_("Cancelled"));

    case NATTER_TRANSFER_DECLINED:
      return g_strdup (outgoing ? _("Declined by the recipient") : _("Declined"));

    default:
      g_return_val_if_reached (NULL);
    }
}

static void
set_notice (NatterTransferRow *self,
            const char        *text)
{
  if (text != NULL)
    gtk_label_set_text (self->notice_label, text);
  gtk_widget_set_visible (GTK_WIDGET (self->notice_label), text != NULL);
}

static void
update_day (NatterTransferRow *self)
{
  g_autofree char *day = NULL;

  gtk_widget_set_visible (GTK_WIDGET (self->day_label), self->show_day && self->transfer != NULL);
  if (!self->show_day || self->transfer == NULL)
    return;
  day = natter_timeline_format_day (natter_transfer_get_created_at (self->transfer));
  gtk_label_set_text (self->day_label, day);
}

/* Shows @button, enabled, exactly when @possible. */
static void
offer_action (NatterTransferRow *self,
              GtkWidget         *button,
              const char        *action_name,
              gboolean           possible)
{
  gtk_widget_action_set_enabled (GTK_WIDGET (self), action_name, possible);
  gtk_widget_set_visible (button, possible);
}

static void
update (NatterTransferRow *self)
{
  NatterTransfer *t = self->transfer;
  /* An empty row offers nothing, like a cancelled transfer. */
  NatterTransferState state = t ? natter_transfer_get_state (t) : NATTER_TRANSFER_CANCELLED;
  gboolean incoming = t && natter_transfer_get_direction (t) == NATTER_TRANSFER_INCOMING;
  gboolean final = natter_transfer_state_is_final (state);
  gboolean saved = state == NATTER_TRANSFER_DONE && natter_transfer_get_path (t) != NULL;
  g_autofree char *status = NULL;
  const char *resume;

  offer_action (self, self->accept_button, "transfer.accept",
                incoming && state == NATTER_TRANSFER_OFFERED);
  offer_action (self, self->decline_button, "transfer.decline",
                incoming && state == NATTER_TRANSFER_OFFERED);
  offer_action (self, self->pause_button, "transfer.pause",
                state == NATTER_TRANSFER_ACCEPTED || state == NATTER_TRANSFER_ACTIVE);
  offer_action (self, self->resume_button, "transfer.resume",
                state == NATTER_TRANSFER_PAUSED || state == NATTER_TRANSFER_FAILED);
  /* An offer to us is declined, not cancelled: one way to say no. */
  offer_action (self, self->cancel_button, "transfer.cancel",
                !final && !(incoming && state == NATTER_TRANSFER_OFFERED));
  offer_action (self, self->open_button, "transfer.open", saved);
  offer_action (self, self->folder_button, "transfer.show-in-folder", saved);
  if (t == NULL)
    return;

  status = natter_transfer_row_dup_status_text (t);
  gtk_label_set_text (self->status_label, status);
  if (state == NATTER_TRANSFER_FAILED)
    gtk_widget_add_css_class (GTK_WIDGET (self->status_label), "error");
  else
    gtk_widget_remove_css_class (GTK_WIDGET (self->status_label), "error");
  if (state == NATTER_TRANSFER_DONE)
    gtk_widget_add_css_class (GTK_WIDGET (self->status_label), "success");
  else
    gtk_widget_remove_css_class (GTK_WIDGET (self->status_label), "success");

  gtk_widget_set_visible (GTK_WIDGET (self->progress_bar),
                          state == NATTER_TRANSFER_ACCEPTED || state == NATTER_TRANSFER_ACTIVE ||
                          state == NATTER_TRANSFER_PAUSED);
  {
    guint64 size = natter_transfer_get_size (t);

    gtk_progress_bar_set_fraction (self->progress_bar,
                                   size > 0 ? (double) natter_transfer_get_bytes_done (t) / size : 0);
  }

  resume = state == NATTER_TRANSFER_FAILED ? _("Retry") : _("Resume");
  gtk_widget_set_tooltip_text (self->resume_button, resume);
  gtk_accessible_update_property (GTK_ACCESSIBLE (self->resume_button),
                                  GTK_ACCESSIBLE_PROPERTY_LABEL,
                                  state == NATTER_TRANSFER_FAILED ? _("Retry the transfer")
                                                                  : _("Resume the transfer"),
                                  -1);
  gtk_accessible_update_property (GTK_ACCESSIBLE (self->card),
                                  GTK_ACCESSIBLE_PROPERTY_LABEL, natter_transfer_get_file_name (t),
                                  GTK_ACCESSIBLE_PROPERTY_DESCRIPTION, status,
                                  -1);
}

static void
update_identity (NatterTransferRow *self)
{
  NatterTransfer *t = self->transfer;
  g_autoptr(GIcon) icon = NULL;
  g_autofree char *size = NULL;
  g_autofree char *detail = NULL;
  gboolean outgoing;

  if (t == NULL)
    return;

  outgoing = natter_transfer_get_direction (t) == NATTER_TRANSFER_OUTGOING;
  gtk_label_set_text (self->name_label, natter_transfer_get_file_name (t));
  gtk_widget_set_tooltip_text (GTK_WIDGET (self->name_label), natter_transfer_get_file_name (t));
  size = g_format_size (natter_transfer_get_size (t));
  /* Translators: %s is the file's size */
  detail = g_strdup_printf (outgoing ? _("Outgoing file · %s") : _("Incoming file · %s"), size);
  gtk_label_set_text (self->detail_label, detail);

  if (natter_transfer_get_mime_type (t) != NULL)
    icon = g_content_type_get_symbolic_icon (natter_transfer_get_mime_type (t));
  if (icon != NULL)
    gtk_image_set_from_gicon (self->icon, icon);
  else
    gtk_image_set_from_icon_name (self->icon, "text-x-generic-symbolic");

  /* Ours on the end side, theirs on the start side, as message bubbles. */
  gtk_widget_set_halign (self->card, outgoing ? GTK_ALIGN_END : GTK_ALIGN_START);
  if (outgoing)
    gtk_widget_add_css_class (self->card, "outgoing");
  else
    gtk_widget_remove_css_class (self->card, "outgoing");
}

static void
transfer_notify_cb (NatterTransferRow *self,
                    GParamSpec        *pspec,
                    NatterTransfer    *transfer)
{
  /* A new state makes an earlier complaint about an action moot. */
  if (g_str_equal (pspec->name, "state"))
    set_notice (self, NULL);
  if (g_str_equal (pspec->name, "file-name") || g_str_equal (pspec->name, "mime-type") ||
      g_str_equal (pspec->name, "size"))
    update_identity (self);
  update (self);
}

/* ------------------------------------------------------------------ */
/* Actions                                                             */
/* ------------------------------------------------------------------ */

static void
transfer_action (GtkWidget  *widget,
                 const char *action_name,
                 GVariant   *param)
{
  NatterTransferRow *self = NATTER_TRANSFER_ROW (widget);
  g_autoptr(NatterTransfer) transfer = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *notice = NULL;
  const char *failed;
  gboolean ok;

  if (self->transfer == NULL || self->client == NULL)
    return;
  /* The call may emit notifies that rebind this very row. */
  transfer = g_object_ref (self->transfer);
  if (g_str_equal (action_name, "transfer.accept"))
    {
      ok = natter_client_accept_transfer (self->client, transfer, NULL, &error);
      failed = _("Could not accept the file");
    }
  else if (g_str_equal (action_name, "transfer.decline"))
    {
      ok = natter_client_decline_transfer (self->client, transfer, &error);
      failed = _("Could not decline the file");
    }
  else if (g_str_equal (action_name, "transfer.pause"))
    {
      ok = natter_client_pause_transfer (self->client, transfer, &error);
      failed = _("Could not pause the transfer");
    }
  else if (g_str_equal (action_name, "transfer.resume"))
    {
      ok = natter_client_resume_transfer (self->client, transfer, &error);
      failed = _("Could not resume the transfer");
    }
  else if (g_str_equal (action_name, "transfer.cancel"))
    {
      ok = natter_client_cancel_transfer (self->client, transfer, &error);
      failed = _("Could not cancel the transfer");
    }
  else
    g_return_if_reached ();

  if (ok || self->transfer != transfer)
    return;
  /* Translators: what could not be done, then why */
  notice = g_strdup_printf (_("%s: %s"), failed, error->message);
  set_notice (self, notice);
}

static void
show_uri_cb (GObject      *source,
             GAsyncResult *result,
             gpointer      data)
{
  g_autoptr(NatterTransferRow) self = data;
  g_autoptr(GError) error = NULL;

  if (!gtk_show_uri_full_finish (GTK_WINDOW (source), result, &error))
    {
      g_autofree char *notice = g_strdup_printf (_("Could not open it: %s"), error->message);

      set_notice (self, notice);
    }
}

/* Through the OpenURI portal when sandboxed (GIO decides). */
static void
show_uri (NatterTransferRow *self,
          GFile             *file)
{
  g_autofree char *uri = g_file_get_uri (file);
  GtkRoot *root = gtk_widget_get_root (GTK_WIDGET (self));

  gtk_show_uri_full (GTK_IS_WINDOW (root) ? GTK_WINDOW (root) : NULL, uri, GDK_CURRENT_TIME,
                     NULL, show_uri_cb, g_object_ref (self));
}

static void
open_action (GtkWidget  *widget,
             const char *action_name,
             GVariant   *param)
{
  NatterTransferRow *self = NATTER_TRANSFER_ROW (widget);
  g_autoptr(GFile) file = NULL;

  if (self->transfer == NULL || natter_transfer_get_path (self->transfer) == NULL)
    return;
  file = g_file_new_for_path (natter_transfer_get_path (self->transfer));
  show_uri (self, file);
}

typedef struct
{
  NatterTransferRow *row;
  GFile             *file;
} ShowItems;

static void
show_items_free (ShowItems *show)
{
  g_clear_object (&show->row);
  g_clear_object (&show->file);
  g_free (show);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (ShowItems, show_items_free)

/* Without a file manager that selects the file, its folder still helps. */
static void
show_folder (ShowItems *show)
{
  g_autoptr(GFile) parent = g_file_get_parent (show->file);

  show_uri (show->row, parent ? parent : show->file);
}

static void
show_items_cb (GObject      *source,
               GAsyncResult *result,
               gpointer      data)
{
  g_autoptr(ShowItems) show = data;
  g_autoptr(GVariant) reply = NULL;
  g_autoptr(GError) error = NULL;

  reply = g_dbus_connection_call_finish (G_DBUS_CONNECTION (source), result, &error);
  if (reply != NULL)
    return;
  g_debug ("No file manager to show the file in: %s", error->message);
  show_folder (show);
}

static void
session_bus_cb (GObject      *source,
                GAsyncResult *result,
                gpointer      data)
{
  g_autoptr(ShowItems) show = data;
  g_autoptr(GDBusConnection) bus = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *uri = NULL;
  const char *uris[2] = { NULL, NULL };

  bus = g_bus_get_finish (result, &error);
  if (bus == NULL)
    {
      g_debug ("No session bus: %s", error->message);
      show_folder (show);
      return;
    }
  uri = g_file_get_uri (show->file);
  uris[0] = uri;
  /* The freedesktop.org file manager interface: opens the folder with the
   * file selected (Files, Dolphin, Thunar, Nemo…). */
  g_dbus_connection_call (bus, "org.freedesktop.FileManager1", "/org/freedesktop/FileManager1",
                          "org.freedesktop.FileManager1", "ShowItems",
                          g_variant_new ("(^ass)", uris, ""), NULL, G_DBUS_CALL_FLAGS_NONE,
                          SHOW_ITEMS_TIMEOUT_MS, NULL, show_items_cb, g_steal_pointer (&show));
}

static void
show_in_folder_action (GtkWidget  *widget,
                       const char *action_name,
                       GVariant   *param)
{
  NatterTransferRow *self = NATTER_TRANSFER_ROW (widget);
  ShowItems *show;

  if (self->transfer == NULL || natter_transfer_get_path (self->transfer) == NULL)
    return;
  show = g_new0 (ShowItems, 1);
  show->row = g_object_ref (self);
  show->file = g_file_new_for_path (natter_transfer_get_path (self->transfer));
  g_bus_get (G_BUS_TYPE_SESSION, NULL, session_bus_cb, show);
}

/* ------------------------------------------------------------------ */
/* GObject                                                             */
/* ------------------------------------------------------------------ */

static void
natter_transfer_row_dispose (GObject *object)
{
  NatterTransferRow *self = NATTER_TRANSFER_ROW (object);

  natter_transfer_row_set_transfer (self, NULL);
  gtk_widget_dispose_template (GTK_WIDGET (self), NATTER_TYPE_TRANSFER_ROW);
  g_clear_object (&self->client);

  G_OBJECT_CLASS (natter_transfer_row_parent_class)->dispose (object);
}

static void
natter_transfer_row_get_property (GObject    *object,
                                  guint       prop_id,
                                  GValue     *value,
                                  GParamSpec *pspec)
{
  NatterTransferRow *self = NATTER_TRANSFER_ROW (object);

  switch (prop_id)
    {
    case PROP_CLIENT:
      g_value_set_object (value, self->client);
      break;

    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
natter_transfer_row_set_property (GObject      *object,
                                  guint         prop_id,
                                  const GValue *value,
                                  GParamSpec   *pspec)
{
  NatterTransferRow *self = NATTER_TRANSFER_ROW (object);

  switch (prop_id)
    {
    case PROP_CLIENT:
      self->client = g_value_dup_object (value);
      break;

    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
natter_transfer_row_class_init (NatterTransferRowClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = natter_transfer_row_dispose;
  object_class->get_property = natter_transfer_row_get_property;
  object_class->set_property = natter_transfer_row_set_property;

  /**
   * NatterTransferRow:client:
   *
   * The account the buttons act through.
   */
  properties[PROP_CLIENT] =
    g_param_spec_object ("client", NULL, NULL, NATTER_TYPE_CLIENT,
                         G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, properties);

  gtk_widget_class_set_template_from_resource (widget_class,
                                               "/io/github/natter/Natter/natter-transfer-row.ui");
  gtk_widget_class_bind_template_child (widget_class, NatterTransferRow, content);
  gtk_widget_class_bind_template_child (widget_class, NatterTransferRow, day_label);
  gtk_widget_class_bind_template_child (widget_class, NatterTransferRow, card);
  gtk_widget_class_bind_template_child (widget_class, NatterTransferRow, icon);
  gtk_widget_class_bind_template_child (widget_class, NatterTransferRow, name_label);
  gtk_widget_class_bind_template_child (widget_class, NatterTransferRow, detail_label);
  gtk_widget_class_bind_template_child (widget_class, NatterTransferRow, progress_bar);
  gtk_widget_class_bind_template_child (widget_class, NatterTransferRow, status_label);
  gtk_widget_class_bind_template_child (widget_class, NatterTransferRow, notice_label);
  gtk_widget_class_bind_template_child (widget_class, NatterTransferRow, accept_button);
  gtk_widget_class_bind_template_child (widget_class, NatterTransferRow, decline_button);
  gtk_widget_class_bind_template_child (widget_class, NatterTransferRow, pause_button);
  gtk_widget_class_bind_template_child (widget_class, NatterTransferRow, resume_button);
  gtk_widget_class_bind_template_child (widget_class, NatterTransferRow, cancel_button);
  gtk_widget_class_bind_template_child (widget_class, NatterTransferRow, open_button);
  gtk_widget_class_bind_template_child (widget_class, NatterTransferRow, folder_button);

  gtk_widget_class_install_action (widget_class, "transfer.accept", NULL, transfer_action);
  gtk_widget_class_install_action (widget_class, "transfer.decline", NULL, transfer_action);
  gtk_widget_class_install_action (widget_class, "transfer.pause", NULL, transfer_action);
  gtk_widget_class_install_action (widget_class, "transfer.resume", NULL, transfer_action);
  gtk_widget_class_install_action (widget_class, "transfer.cancel", NULL, transfer_action);
  gtk_widget_class_install_action (widget_class, "transfer.open", NULL, open_action);
  gtk_widget_class_install_action (widget_class, "transfer.show-in-folder", NULL,
                                   show_in_folder_action);

  gtk_widget_class_set_layout_manager_type (widget_class, GTK_TYPE_BIN_LAYOUT);
  gtk_widget_class_set_css_name (widget_class, "natter-transfer-row");
}

static void
natter_transfer_row_init (NatterTransferRow *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));
  update (self);
}

/**
 * natter_transfer_row_new:
 * @client: the account whose transfers the row shows and acts on
 *
 * Returns: (transfer floating): a row showing nothing until
 *   natter_transfer_row_set_transfer()
 */
GtkWidget *
natter_transfer_row_new (NatterClient *client)
{
  g_return_val_if_fail (NATTER_IS_CLIENT (client), NULL);

  return g_object_new (NATTER_TYPE_TRANSFER_ROW, "client", client, NULL);
}

/**
 * natter_transfer_row_get_transfer:
 *
 * Returns: (transfer none) (nullable): the transfer shown
 */
NatterTransfer *
natter_transfer_row_get_transfer (NatterTransferRow *self)
{
  g_return_val_if_fail (NATTER_IS_TRANSFER_ROW (self), NULL);

  return self->transfer;
}

/**
 * natter_transfer_row_set_transfer:
 * @transfer: (nullable): the transfer to show
 */
void
natter_transfer_row_set_transfer (NatterTransferRow *self,
                                  NatterTransfer    *transfer)
{
  g_return_if_fail (NATTER_IS_TRANSFER_ROW (self));
  g_return_if_fail (transfer == NULL || NATTER_IS_TRANSFER (transfer));

  if (self->transfer == transfer)
    return;
  if (self->transfer != NULL)
    g_signal_handlers_disconnect_by_func (self->transfer, transfer_notify_cb, self);
  g_set_object (&self->transfer, transfer);
  set_notice (self, NULL);
  if (transfer != NULL)
    g_signal_connect_object (transfer, "notify", G_CALLBACK (transfer_notify_cb), self,
                             G_CONNECT_SWAPPED);
  update_identity (self);
  update (self);
  update_day (self);
}

gboolean
natter_transfer_row_get_show_day (NatterTransferRow *self)
{
  g_return_val_if_fail (NATTER_IS_TRANSFER_ROW (self), FALSE);

  return self->show_day;
}

/**
 * natter_transfer_row_set_show_day:
 *
 * Shows the day above the transfer: the timeline sets it on the first
 * event of each day.
 */
void
natter_transfer_row_set_show_day (NatterTransferRow *self,
                                  gboolean           show_day)
{
  g_return_if_fail (NATTER_IS_TRANSFER_ROW (self));

  self->show_day = !!show_day;
  update_day (self);
}
