/* natter-json.c: the strict JSON layer under every parser of bytes from a peer or the broker. */
#define G_LOG_DOMAIN "natter-json"

#include "natter-json.h"
#include "natter-error.h"

/* json-glib's parser recurses, so nesting is bounded before it sees the input. */
static gboolean
check_depth (const char  *data,
             gsize        len,
             guint        max_depth,
             GError     **error)
{
  gboolean in_string = FALSE;
  gboolean escaped = FALSE;
  guint depth = 0;

  for (gsize i = 0; i < len; i++)
    {
      char ch = data[i];

      if (in_string)
        {
          if (escaped)
            escaped = FALSE;
          else if (ch == '\\')
            escaped = TRUE;
          else if (ch == '"')
            in_string = FALSE;
          continue;
        }
      if (ch == '"')
        in_string = TRUE;
      else if (ch == '{' || ch == '[')
        {
          if (++depth > max_depth)
            {
              g_set_error (error, NATTER_ERROR, NATTER_ERROR_INVALID_INPUT,
                           "JSON nested deeper than %u levels", max_depth);
              return FALSE;
            }
        }
      else if ((ch == '}' || ch == ']') && depth > 0)
        depth--;
    }
  return TRUE;
}

/**
 * natter_json_parse_object:
 *
 * Parses @data as one JSON object after checking its size, UTF-8 and nesting
 * depth. Error messages never quote the input.
 *
 * Returns: (transfer full): the object, or %NULL with @error set
 */
JsonObject *
natter_json_parse_object (const char  *data,
                          gsize        len,
                          gsize        max_size,
                          guint        max_depth,
                          GError     **error)
{
  g_autoptr(JsonParser) parser = NULL;
  g_autoptr(GError) local_error = NULL;
  JsonNode *root;

  if (len > max_size)
    {
      g_set_error (error, NATTER_ERROR, NATTER_ERROR_TOO_LARGE,
                   "%" G_GSIZE_FORMAT " bytes is over the limit of %" G_GSIZE_FORMAT,
                   len, max_size);
      return NULL;
    }
  if (len == 0 || data == NULL)
    {
      g_set_error_literal (error, NATTER_ERROR, NATTER_ERROR_INVALID_INPUT, "empty input");
      return NULL;
    }
  if (memchr (data, '\0', len) != NULL || !g_utf8_validate (data, len, NULL))
    {
      g_set_error_literal (error, NATTER_ERROR, NATTER_ERROR_INVALID_INPUT,
                           "input is not valid UTF-8 text");
      return NULL;
    }
  if (!check_depth (data, len, max_depth, error))
    return NULL;

  parser = json_parser_new_immutable ();
  if (!json_parser_load_from_data (parser, data, (gssize) len, &local_error))
    {
      g_set_error_literal (error, NATTER_ERROR, NATTER_ERROR_INVALID_INPUT,
                           "malformed JSON");
      return NULL;
    }
  root = json_parser_get_root (parser);
  if (root == NULL || !JSON_NODE_HOLDS_OBJECT (root))
    {
      g_set_error_literal (error, NATTER_ERROR, NATTER_ERROR_INVALID_INPUT,
                           "top level is not a JSON object");
      return NULL;
    }
  return json_object_ref (json_node_get_object (root));
}

/**
 * natter_json_check_members:
 * @allowed: %NULL-terminated list of member names
 *
 * Refuses members outside @allowed, so a typo or an injected field is caught.
 */
gboolean
natter_json_check_members (JsonObject          *object,
                           const char * const  *allowed,
                           GError             **error)
{
  JsonObjectIter iter;
  const char *name;

  json_object_iter_init (&iter, object);
  while (json_object_iter_next (&iter, &name, NULL))
    {
      if (!g_strv_contains (allowed, name))
        {
          g_set_error_literal (error, NATTER_ERROR, NATTER_ERROR_INVALID_INPUT,
                               "unknown field");
          return FALSE;
        }
    }
  return TRUE;
}

static JsonNode *
get_member (JsonObject  *object,
            const char  *name,
            gboolean     required,
            GError     **error)
{
  JsonNode *node = json_object_get_member (object, name);

  if (node == NULL && required)
    g_set_error (error, NATTER_ERROR, NATTER_ERROR_INVALID_INPUT,
                 "missing field \"%s\"", name);
  return node;
}

static gboolean
wrong_type (const char  *name,
            GError     **error)
{
  g_set_error (error, NATTER_ERROR, NATTER_ERROR_INVALID_INPUT,
               "field \"%s\" has the wrong type or value", name);
  return FALSE;
}

gboolean
natter_json_get_string (JsonObject  *object,
                        const char  *name,
                        gboolean     required,
                        gsize        max_len,
                        const char **out,
                        GError     **error)
{
  JsonNode *node = get_member (object, name, required, error);
  const char *value;

  *out = NULL;
  if (node == NULL)
    return !required;
  if (!JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_STRING)
    return wrong_type (name, error);
  value = json_node_get_string (node);
  if (strlen (value) > max_len)
    return wrong_type (name, error);
  *out = value;
  return TRUE;
}

gboolean
natter_json_node_get_int (JsonNode *node,
                          gint64   *out)
{
  if (node == NULL || !JSON_NODE_HOLDS_VALUE (node) ||
      json_node_get_value_type (node) != G_TYPE_INT64)
    return FALSE;
  *out = json_node_get_int (node);
  return TRUE;
}

gboolean
natter_json_get_int (JsonObject  *object,
                     const char  *name,
                     gboolean     required,
                     gint64       min,
                     gint64       max,
                     gint64      *out,
                     GError     **error)
{
  JsonNode *node = get_member (object, name, required, error);
  gint64 value;

  if (node == NULL)
    return !required;
  if (!natter_json_node_get_int (node, &value) || value < min || value > max)
    return wrong_type (name, error);
  *out = value;
  return TRUE;
}

gboolean
natter_json_get_bool (JsonObject  *object,
                      const char  *name,
                      gboolean     required,
                      gboolean    *out,
                      GError     **error)
{
  JsonNode *node = get_member (object, name, required, error);

  if (node == NULL)
    return !required;
  if (!JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_BOOLEAN)
    return wrong_type (name, error);
  *out = json_node_get_boolean (node);
  return TRUE;
}

/* Returns: (transfer none): a required array member */
JsonArray *
natter_json_get_array (JsonObject  *object,
                       const char  *name,
                       GError     **error)
{
  JsonNode *node = get_member (object, name, TRUE, error);

  if (node == NULL)
    return NULL;
  if (!JSON_NODE_HOLDS_ARRAY (node))
    {
      wrong_type (name, error);
      return NULL;
    }
  return json_node_get_array (node);
}

/* Returns: (transfer none): a required object member */
JsonObject *
natter_json_get_object (JsonObject  *object,
                        const char  *name,
                        GError     **error)
{
  JsonNode *node = get_member (object, name, TRUE, error);

  if (node == NULL)
    return NULL;
  if (!JSON_NODE_HOLDS_OBJECT (node))
    {
      wrong_type (name, error);
      return NULL;
    }
  return json_node_get_object (node);
}

/* Returns: (transfer full): compact UTF-8 text of @node, without a trailing NUL */
GBytes *
natter_json_to_bytes (JsonNode *node)
{
  g_autoptr(JsonGenerator) generator = json_generator_new ();
  gsize len = 0;
  char *text;

  json_generator_set_root (generator, node);
  text = json_generator_to_data (generator, &len);
  return g_bytes_new_take (text, len);
}
