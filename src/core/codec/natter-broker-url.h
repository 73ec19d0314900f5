/* natter-broker-url.h: the mqtt:// or mqtts:// address of a broker. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

gboolean natter_broker_url_parse (const char  *url,
                                  char       **host,
                                  guint16     *port,
                                  gboolean    *tls,
                                  GError     **error);

G_END_DECLS
