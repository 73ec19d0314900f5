/* natter-json.h: strict JSON parsing and typed field access for untrusted input. */
#pragma once

#include <json-glib/json-glib.h>

G_BEGIN_DECLS

#define NATTER_JSON_MAX_DEPTH 32

JsonObject *natter_json_parse_object  (const char  *data,
                                       gsize        len,
                                       gsize        max_size,
                                       guint        max_depth,
                                       GError     **error);
gboolean    natter_json_check_members (JsonObject  *object,
                                       const char * const *allowed,
                                       GError     **error);
gboolean    natter_json_get_string    (JsonObject  *object,
                                       const char  *name,
                                       gboolean     required,
                                       gsize        max_len,
                                       const char **out,
                                       GError     **error);
gboolean    natter_json_get_int       (JsonObject  *object,
                                       const char  *name,
                                       gboolean     required,
                                       gint64       min,
                                       gint64       max,
                                       gint64      *out,
                                       GError     **error);
gboolean    natter_json_get_bool      (JsonObject  *object,
                                       const char  *name,
                                       gboolean     required,
                                       gboolean    *out,
                                       GError     **error);
JsonArray  *natter_json_get_array     (JsonObject  *object,
                                       const char  *name,
                                       GError     **error);
JsonObject *natter_json_get_object    (JsonObject  *object,
                                       const char  *name,
                                       GError     **error);
gboolean    natter_json_node_get_int  (JsonNode    *node,
                                       gint64      *out);
GBytes     *natter_json_to_bytes      (JsonNode    *node);

G_END_DECLS
