/* natter-test-widgets.c: for GUI tests: find widgets as a user sees them, run the real app. */
#define G_LOG_DOMAIN "natter-test"

#include "natter-test-broker.h"
#include "natter-test-widgets.h"

static GtkWidget *
find_widget (GtkWidget             *root,
             NatterTestWidgetMatch  match,
             gconstpointer          data,
             gboolean               mapped_only)
{
  if (mapped_only && !gtk_widget_get_mapped (root))
    return NULL;
  if (match (root, data))
    return root;
  for (GtkWidget *child = gtk_widget_get_first_child (root);
       child != NULL;
       child = gtk_widget_get_next_sibling (child))
    {
      GtkWidget *found = find_widget (child, match, data, mapped_only);

      if (found != NULL)
        return found;
    }
  return NULL;
}

GtkWidget *
natter_test_find_widget (GtkWidget             *root,
                         NatterTestWidgetMatch  match,
                         gconstpointer          data)
{
  g_return_val_if_fail (GTK_IS_WIDGET (root), NULL);

  return find_widget (root, match, data, FALSE);
}

GtkWidget *
natter_test_find_mapped (GtkWidget             *root,
                         NatterTestWidgetMatch  match,
                         gconstpointer          data)
{
  g_return_val_if_fail (GTK_IS_WIDGET (root), NULL);

  return find_widget (root, match, data, TRUE);
}

gboolean
natter_test_is_of_type (GtkWidget     *widget,
                        gconstpointer  type)
{
  return G_TYPE_CHECK_INSTANCE_TYPE (widget, GPOINTER_TO_SIZE (type));
}

gboolean
natter_test_is_label (GtkWidget     *widget,
                      gconstpointer  text)
{
  return GTK_IS_LABEL (widget) && g_strcmp0 (gtk_label_get_text (GTK_LABEL (widget)), text) == 0;
}

gboolean
natter_test_is_action_button (GtkWidget     *widget,
                              gconstpointer  action_name)
{
  return GTK_IS_BUTTON (widget) &&
         g_strcmp0 (gtk_actionable_get_action_name (GTK_ACTIONABLE (widget)), action_name) == 0;
}

gboolean
natter_test_has_css_class (GtkWidget     *widget,
                           gconstpointer  css_class)
{
  return gtk_widget_has_css_class (widget, css_class);
}

gboolean
natter_test_widget_is_mapped (gpointer widget)
{
  return gtk_widget_get_mapped (widget);
}

gboolean
natter_test_widget_is_on_screen (GtkWidget *widget)
{
  GtkWidget *scroller;
  graphene_rect_t bounds;

  if (widget == NULL || !gtk_widget_get_mapped (widget))
    return FALSE;
  scroller = gtk_widget_get_ancestor (widget, GTK_TYPE_SCROLLED_WINDOW);
  if (scroller == NULL || !gtk_widget_compute_bounds (widget, scroller, &bounds))
    return FALSE;
  return bounds.origin.y + bounds.size.height > 0 &&
         bounds.origin.y < gtk_widget_get_height (scroller);
}

GtkWidget *
natter_test_find_toplevel (GType    type,
                           gboolean mapped)
{
  GListModel *toplevels = gtk_window_get_toplevels ();

  for (guint i = 0; i < g_list_model_get_n_items (toplevels); i++)
    {
      /* The list holds its own reference: transfer none is safe. */
      g_autoptr(GtkWidget) window = g_list_model_get_item (toplevels, i);

      if (G_TYPE_CHECK_INSTANCE_TYPE (window, type) && (!mapped || gtk_widget_get_mapped (window)))
        return window;
    }
  return NULL;
}

static gboolean
toplevel_is_mapped (gpointer type)
{
  return natter_test_find_toplevel (GPOINTER_TO_SIZE (type), TRUE) != NULL;
}

GtkWidget *
natter_test_wait_for_toplevel (GType type,
                               guint timeout_ms)
{
  g_assert_true (natter_test_wait_until (toplevel_is_mapped, GSIZE_TO_POINTER (type), timeout_ms));
  return natter_test_find_toplevel (type, TRUE);
}

typedef struct
{
  GApplication       *app;
  NatterTestAppCheck  check;
  gpointer            data;
  gboolean            checked;
} AppRun;

static gboolean
run_check_idle (gpointer user_data)
{
  AppRun *run = user_data;

  run->check (run->data);
  run->checked = TRUE;
  g_action_group_activate_action (G_ACTION_GROUP (run->app), "quit", NULL);
  return G_SOURCE_REMOVE;
}

static void
on_activate (GApplication *app,
             AppRun       *run)
{
  g_idle_add (run_check_idle, run);
}

int
natter_test_app_run (GApplication       **app,
                     const char * const  *args,
                     NatterTestAppCheck   check,
                     gpointer             data)
{
  g_autoptr(GPtrArray) argv = g_ptr_array_new ();
  AppRun run = { *app, check, data, FALSE };
  GList *windows;
  int status;

  g_return_val_if_fail (GTK_IS_APPLICATION (*app), -1);

  g_ptr_array_add (argv, (gpointer) "natter");
  for (guint i = 0; args[i] != NULL; i++)
    g_ptr_array_add (argv, (gpointer) args[i]);
  g_ptr_array_add (argv, NULL);

  g_object_add_weak_pointer (G_OBJECT (*app), (gpointer *) app);
  /* After the class handler: the window exists, but is not mapped yet. */
  if (check != NULL)
    g_signal_connect_after (*app, "activate", G_CALLBACK (on_activate), &run);

  status = g_application_run (*app, argv->len - 1, (char **) argv->pdata);
  g_assert_true (check == NULL || run.checked);

  /* Quitting leaves the windows, and with them references to the app. */
  while ((windows = gtk_application_get_windows (GTK_APPLICATION (*app))) != NULL)
    gtk_window_destroy (windows->data);
  if (check != NULL)
    g_signal_handlers_disconnect_by_data (*app, &run);
  g_object_unref (*app);
  /* Nothing (a window, a pending source) may keep the application alive. */
  g_assert_null (*app);
  return status;
}
