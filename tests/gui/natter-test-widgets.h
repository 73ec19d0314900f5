/* natter-test-widgets.h: for GUI tests: find widgets as a user sees them, run the real app. */
#pragma once

#include <gtk/gtk.h>

G_BEGIN_DECLS

typedef gboolean (*NatterTestWidgetMatch) (GtkWidget     *widget,
                                           gconstpointer  data);

/* Depth-first search of @root and its descendants, mapped or not (rows a
 * list view keeps bound off screen, say). Returns: (nullable) the first match */
GtkWidget *natter_test_find_widget       (GtkWidget             *root,
                                          NatterTestWidgetMatch  match,
                                          gconstpointer          data);
/* The same among the widgets a user can see right now: unmapped subtrees
 * are skipped. */
GtkWidget *natter_test_find_mapped       (GtkWidget             *root,
                                          NatterTestWidgetMatch  match,
                                          gconstpointer          data);

/* Matches for the searches above; @data is what the parameter says
 * (a GType through GSIZE_TO_POINTER for natter_test_is_of_type()). */
gboolean   natter_test_is_of_type        (GtkWidget             *widget,
                                          gconstpointer          type);
gboolean   natter_test_is_label          (GtkWidget             *widget,
                                          gconstpointer          text);
gboolean   natter_test_is_action_button  (GtkWidget             *widget,
                                          gconstpointer          action_name);
gboolean   natter_test_has_css_class     (GtkWidget             *widget,
                                          gconstpointer          css_class);

/* For natter_test_wait_until(): @widget is mapped. */
gboolean   natter_test_widget_is_mapped  (gpointer               widget);
/* @widget is mapped and at least partly inside the viewport of the
 * scrolled window around it: a list view maps bound rows just outside it too. */
gboolean   natter_test_widget_is_on_screen (GtkWidget           *widget);

/* The first toplevel window of @type, only among mapped ones if @mapped.
 * Returns: (nullable) (transfer none) */
GtkWidget *natter_test_find_toplevel     (GType                  type,
                                          gboolean               mapped);
/* Waits until a toplevel of @type is mapped; fails the test after @timeout_ms.
 * Returns: (transfer none) the window */
GtkWidget *natter_test_wait_for_toplevel (GType                  type,
                                          guint                  timeout_ms);

typedef void (*NatterTestAppCheck) (gpointer data);

/* Runs *@app (transfer full) as `natter ARGS…`. Once it is activated (its
 * window exists but is not mapped yet), calls @check (@data), if not %NULL,
 * from its main loop and quits it; @check may use *@app meanwhile. Then
 * destroys the windows left behind and fails the test unless @check ran
 * (when given) and nothing else keeps the application alive; *@app is
 * %NULL afterwards. Returns: the exit status */
int        natter_test_app_run           (GApplication         **app,
                                          const char * const    *args,
                                          NatterTestAppCheck     check,
                                          gpointer               data);

G_END_DECLS
