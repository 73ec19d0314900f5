/* natter-json.c: the strict JSON layer under every parser of bytes from a peer or the broker. */
#define G_LOG_DOMAIN "natter-json"

#include <errno.h>
#include <math.h>
#include <string.h>

#include "natter-json.h"
#include "natter-error.h"

/* json-glib's parser recurses per nesting level and is lenient: comments,
 * trailing commas, \u0000 truncating a string, duplicate member names where
 * the last one silently wins, integers that wrap, numbers that overflow to
 * infinity. This iterative RFC 8259 recogniser runs first, so json-glib only
 * ever sees strict, shallow JSON and a second implementation of the protocol
 * reads the same bytes the same way. It counts object members, so duplicates
 * can be detected once the tree is built. Its messages are literals: they
 * never quote the input. */

typedef struct
{
  const char *p;
  const char *end;
  guint       members;
  const char *error;
} Scan;

static void
scan_ws (Scan *s)
{
  while (s->p < s->end && (*s->p == ' ' || *s->p == '\t' || *s->p == '\n' || *s->p == '\r'))
    s->p++;
}

static gboolean
scan_u_escape (Scan    *s,
               guint32 *out)
{
  guint32 v = 0;

  /* s->p is just past "\u" */
  if (s->end - s->p < 4)
    return FALSE;
  for (int i = 0; i < 4; i++)
    {
      int h = g_ascii_xdigit_value (s->p[i]);

      if (h < 0)
        return FALSE;
      v = (v << 4) | (guint32) h;
    }
  s->p += 4;
  *out = v;

  return TRUE;
}

static gboolean
scan_string (Scan *s)
{
  /* s->p is at the opening quote; the buffer is already valid UTF-8 without NUL. */
  s->p++;
  while (s->p < s->end)
    {
      guchar c = (guchar) *s->p++;

      if (c == '"')
        return TRUE;
      if (c < 0x20)
        break;
      if (c != '\\')
        continue;

      if (s->p >= s->end)
        break;
      c = (guchar) *s->p++;
      if (c == 'u')
        {
          guint32 unit;

          /* No NUL: C strings would silently end there. No unpaired surrogate:
           * it has no UTF-8 form. */
          if (!scan_u_escape (s, &unit) || unit == 0)
            break;
          if (unit >= 0xdc00 && unit <= 0xdfff)
            break;
          if (unit >= 0xd800 && unit <= 0xdbff)
            {
              guint32 low;

              if (s->end - s->p < 2 || s->p[0] != '\\' || s->p[1] != 'u')
                break;
              s->p += 2;
              if (!scan_u_escape (s, &low) || low < 0xdc00 || low > 0xdfff)
                break;
            }
        }
      else if (c == '\0' || strchr ("\"\\/bfnrt", c) == NULL)
        break;
    }

  s->error = "malformed string";
  return FALSE;
}

static gboolean
scan_digits (Scan *s)
{
  const char *start = s->p;

  while (s->p < s->end && g_ascii_isdigit (*s->p))
    s->p++;

  return s->p > start;
}

/* Besides the RFC 8259 grammar, an integer (no fraction, no exponent) must
 * fit in 64 signed bits and any other number must be a finite double:
 * json-glib silently wraps or overflows to infinity otherwise, and a
 * timestamp or sequence number must mean the same to every implementation. */
static gboolean
scan_number (Scan *s)
{
  const char *start = s->p;
  gboolean is_integer = TRUE;
  gsize len;

  if (*s->p == '-')
    s->p++;
  if (s->p < s->end && *s->p == '0')
    s->p++;
  else if (!scan_digits (s))
    goto fail;

  if (s->p < s->end && *s->p == '.')
    {
      s->p++;
      is_integer = FALSE;
      if (!scan_digits (s))
        goto fail;
    }
  if (s->p < s->end && (*s->p == 'e' || *s->p == 'E'))
    {
      s->p++;
      is_integer = FALSE;
      if (s->p < s->end && (*s->p == '+' || *s->p == '-'))
        s->p++;
      if (!scan_digits (s))
        goto fail;
    }

  len = s->p - start;
  if (is_integer)
    {
      char buffer[24];

      /* "-9223372036854775808" is the longest integer that fits. */
      if (len > 20)
        goto range;
      memcpy (buffer, start, len);
      buffer[len] = '\0';
      errno = 0;
      g_ascii_strtoll (buffer, NULL, 10);
      if (errno == ERANGE)
        goto range;
    }
  else
    {
      g_autofree char *copy = g_strndup (start, len);

      if (!isfinite (g_ascii_strtod (copy, NULL)))
        goto range;
    }

  return TRUE;

range:
  s->error = "number out of range";
  return FALSE;

fail:
  s->error = "malformed number";
  return FALSE;
}

static gboolean
scan_literal (Scan       *s,
              const char *word)
{
  gsize len = strlen (word);

  if ((gsize) (s->end - s->p) < len || memcmp (s->p, word, len) != 0)
    {
      s->error = "malformed JSON";
      return FALSE;
    }
  s->p += len;

  return TRUE;
}

/* Scans `"name" ws : ws` at s->p. */
static gboolean
scan_member_name (Scan *s)
{
  if (s->p >= s->end || *s->p != '"')
    {
      s->error = "malformed JSON object";
      return FALSE;
    }
  if (!scan_string (s))
    return FALSE;
  scan_ws (s);
  if (s->p >= s->end || *s->p != ':')
    {
      s->error = "malformed JSON object";
      return FALSE;
    }
  s->p++;
  scan_ws (s);
  s->members++;

  return TRUE;
}

/* Scans exactly one JSON value, surrounded by optional whitespace, with at
 * most @max_depth open containers; without recursion, so hostile nesting
 * costs no stack. Counts object members in s->members; on failure sets
 * s->error to a literal. */
static gboolean
strict_scan (Scan  *s,
             guint  max_depth)
{
  /* Container kinds of the open levels: '{' or '['. */
  g_autofree char *stack = g_malloc (max_depth);
  guint depth = 0;

  scan_ws (s);

  for (;;)
    {
      /* A value is expected at s->p. */
      if (s->p >= s->end)
        goto truncated;

      switch (*s->p)
        {
        case '{':
        case '[':
          if (depth == max_depth)
            {
              s->error = "JSON nested too deeply";
              return FALSE;
            }
          stack[depth++] = *s->p++;
          scan_ws (s);
          if (s->p < s->end && *s->p == (stack[depth - 1] == '{' ? '}' : ']'))
            {
              s->p++;
              depth--;
              break;
            }
          if (stack[depth - 1] == '{' && !scan_member_name (s))
            return FALSE;
          continue;

        case '"':
          if (!scan_string (s))
            return FALSE;
          break;

        case 't':
          if (!scan_literal (s, "true"))
            return FALSE;
          break;

        case 'f':
          if (!scan_literal (s, "false"))
            return FALSE;
          break;

        case 'n':
          if (!scan_literal (s, "null"))
            return FALSE;
          break;

        default:
          if (*s->p != '-' && !g_ascii_isdigit (*s->p))
            {
              s->error = "malformed JSON";
              return FALSE;
            }
          if (!scan_number (s))
            return FALSE;
          break;
        }

      /* After a complete value: close containers or move to the next item. */
      for (;;)
        {
          scan_ws (s);
          if (depth == 0)
            goto done;
          if (s->p >= s->end)
            goto truncated;
          if (*s->p == ',')
            {
              s->p++;
              scan_ws (s);
              if (stack[depth - 1] == '{' && !scan_member_name (s))
                return FALSE;
              break;
            }
          if (*s->p != (stack[depth - 1] == '{' ? '}' : ']'))
            {
              s->error = "malformed JSON";
              return FALSE;
            }
          s->p++;
          depth--;
        }
    }

done:
  if (s->p != s->end)
    {
      s->error = "trailing data after JSON";
      return FALSE;
    }
  return TRUE;

truncated:
  s->error = "truncated JSON";
  return FALSE;
}

/* Sum of the sizes of every object in the tree (depth already bounded). */
static guint
count_members (JsonNode *node)
{
  guint n = 0;

  if (JSON_NODE_HOLDS_OBJECT (node))
    {
      JsonObject *object = json_node_get_object (node);
      JsonObjectIter iter;
      JsonNode *child;

      n = json_object_get_size (object);
      json_object_iter_init (&iter, object);
      while (json_object_iter_next (&iter, NULL, &child))
        n += count_members (child);
    }
  else if (JSON_NODE_HOLDS_ARRAY (node))
    {
      JsonArray *array = json_node_get_array (node);

      for (guint i = 0; i < json_array_get_length (array); i++)
        n += count_members (json_array_get_element (array, i));
    }

  return n;
}

/**
 * natter_json_parse_object:
 * @data: the bytes, not necessarily NUL-terminated
 * @len: length of @data
 * @max_size: the largest @len accepted
 * @max_depth: the deepest nesting accepted; the top-level object is level 1
 * @error: return location for a #GError
 *
 * Parses @data as exactly one strict RFC 8259 JSON object: UTF-8 without
 * NUL (also not as \u0000), no unpaired surrogate escapes, no comments,
 * trailing commas, leading zeros or trailing bytes, no duplicate member
 * names in any object, integers within 64 signed bits and other numbers
 * finite doubles. Size and nesting are checked before any tree is built.
 * Error messages never quote the input.
 *
 * Returns: (transfer full): the (immutable) object, or %NULL with
 *   %NATTER_ERROR_TOO_LARGE or %NATTER_ERROR_INVALID_INPUT
 */
JsonObject *
natter_json_parse_object (const char  *data,
                          gsize        len,
                          gsize        max_size,
                          guint        max_depth,
                          GError     **error)
{
  g_autoptr(JsonParser) parser = NULL;
  Scan scan = { NULL, NULL, 0, NULL };
  JsonNode *root;

  g_return_val_if_fail (data != NULL || len == 0, NULL);
  g_return_val_if_fail (max_depth > 0, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (len > max_size)
    {
      g_set_error (error, NATTER_ERROR, NATTER_ERROR_TOO_LARGE,
                   "%" G_GSIZE_FORMAT " bytes is over the limit of %" G_GSIZE_FORMAT,
                   len, max_size);
      return NULL;
    }
  if (len == 0)
    {
      g_set_error_literal (error, NATTER_ERROR, NATTER_ERROR_INVALID_INPUT, "empty input");
      return NULL;
    }
  /* Also refuses NUL bytes. */
  if (!g_utf8_validate_len (data, len, NULL))
    {
      g_set_error_literal (error, NATTER_ERROR, NATTER_ERROR_INVALID_INPUT,
                           "input is not valid UTF-8 text");
      return NULL;
    }
  scan.p = data;
  scan.end = data + len;
  if (!strict_scan (&scan, max_depth))
    {
      g_set_error_literal (error, NATTER_ERROR, NATTER_ERROR_INVALID_INPUT, scan.error);
      return NULL;
    }

  parser = json_parser_new_immutable ();
  if (!json_parser_load_from_data (parser, data, (gssize) len, NULL))
    {
      /* json-glib's message may quote the input; never pass it on. */
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
  if (count_members (root) != scan.members)
    {
      g_set_error_literal (error, NATTER_ERROR, NATTER_ERROR_INVALID_INPUT,
                           "duplicate member name");
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
/* json-glib 1.6 appends ".0" to every double whose text has no '.', even
 * in exponent form: 6e63 comes out as "6e+63.0", which no JSON reader (ours
 * included) accepts. Removes that suffix from numbers outside strings, in
 * place; returns the new length. */
static gsize
drop_exponent_suffixes (char  *text,
                        gsize  len)
{
  gboolean in_string = FALSE;
  gboolean in_exponent = FALSE;
  gsize out = 0;

  for (gsize i = 0; i < len; i++)
    {
      char c = text[i];

      if (in_string)
        {
          if (c == '\\' && i + 1 < len)
            {
              text[out++] = c;
              c = text[++i];
            }
          else if (c == '"')
            in_string = FALSE;
        }
      else if (c == '"')
        in_string = TRUE;
      else if (c == 'e' || c == 'E')
        in_exponent = TRUE;
      else if (in_exponent && c == '.' && i + 1 < len && text[i + 1] == '0' &&
               (i + 2 == len || !g_ascii_isdigit (text[i + 2])))
        {
          i++;    /* skip ".0" */
          in_exponent = FALSE;
          continue;
        }
      else if (!g_ascii_isdigit (c) && c != '+' && c != '-')
        in_exponent = FALSE;
      text[out++] = c;
    }
  text[out] = '\0';
  return out;
}

GBytes *
natter_json_to_bytes (JsonNode *node)
{
  g_autoptr(JsonGenerator) generator = json_generator_new ();
  gsize len = 0;
  char *text;

  json_generator_set_root (generator, node);
  text = json_generator_to_data (generator, &len);
  len = drop_exponent_suffixes (text, len);
  return g_bytes_new_take (text, len);
}
