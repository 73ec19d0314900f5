/* test-json.c: the strict JSON reader under every parser of peer and broker bytes. */
#define G_LOG_DOMAIN "natter-test-json"

#include <string.h>

#include "natter-error.h"
#include "natter-json.h"

#define MAX_SIZE 4096

typedef struct
{
  const char *name;
  const char *json;
} JsonCase;

static const JsonCase accepted_cases[] = {
  { "empty-object", "{}" },
  { "whitespace", " \t\r\n{ \"a\" : [ 1 , { } , [ ] ] }\n" },
  { "same-name-in-different-objects", "{\"a\":{\"a\":1},\"b\":[{\"a\":1},{\"a\":2}]}" },
  { "escapes", "{\"s\":\"\\\" \\\\ \\/ \\b\\f\\n\\r\\t \\u00e9 \\u20ac\"}" },
  { "surrogate-pair", "{\"s\":\"\\ud83d\\ude00\"}" },
  { "int64-limits", "{\"max\":9223372036854775807,\"min\":-9223372036854775808}" },
  { "numbers", "{\"a\":[0,-0,0.5,-1.25e-3,1E+2,1e-400]}" },
  { "literals", "{\"a\":[true,false,null]}" },
  { "utf8", "{\"h\u00e9\":\"\u65e5\u672c \U0001f600\"}" },
};

static const JsonCase refused_cases[] = {
  /* duplicate member names, anywhere, however spelled */
  { "duplicate", "{\"SECRET\":1,\"SECRET\":2}" },
  { "duplicate-same-value", "{\"a\":1,\"a\":1}" },
  { "duplicate-escaped", "{\"ab\":1,\"a\\u0062\":2}" },
  { "duplicate-nested", "{\"x\":[{\"a\":1,\"b\":{},\"a\":{}}]}" },
  /* integers beyond 64 bits, non-finite doubles */
  { "int64-max-plus-one", "{\"a\":9223372036854775808}" },
  { "int64-min-minus-one", "{\"a\":-9223372036854775809}" },
  { "int-huge", "{\"a\":123456789012345678901234567890}" },
  { "double-overflow", "{\"a\":1e400}" },
  { "double-overflow-negative", "{\"a\":-1.5e309}" },
  { "nan", "{\"a\":NaN}" },
  { "infinity", "{\"a\":Infinity}" },
  /* NUL and surrogates */
  { "escaped-nul", "{\"a\":\"SECRET\\u0000x\"}" },
  { "escaped-nul-in-name", "{\"a\\u0000\":1}" },
  { "lone-high-surrogate", "{\"a\":\"\\ud83d\"}" },
  { "lone-low-surrogate", "{\"a\":\"\\ude00\"}" },
  { "high-then-non-low", "{\"a\":\"\\ud83d\\u0041\"}" },
  { "high-then-high", "{\"a\":\"\\ud83d\\ud83d\"}" },
  { "high-then-text", "{\"a\":\"\\ud83dxx\"}" },
  { "short-u-escape", "{\"a\":\"\\u12\"}" },
  /* lenient syntax json-glib would take */
  { "trailing-comma-object", "{\"a\":1,}" },
  { "trailing-comma-array", "{\"a\":[1,2,]}" },
  { "leading-comma", "{\"a\":[,1]}" },
  { "comment-block", "{/* SECRET */\"a\":1}" },
  { "comment-line", "{\"a\":1 // SECRET\n}" },
  { "leading-zero", "{\"a\":01}" },
  { "plus-sign", "{\"a\":+1}" },
  { "bare-fraction", "{\"a\":.5}" },
  { "bare-exponent", "{\"a\":1e}" },
  { "single-quotes", "{'a':1}" },
  { "bare-name", "{a:1}" },
  { "bad-escape", "{\"a\":\"\\x41\"}" },
  { "raw-control-char", "{\"a\":\"SECRET\tx\"}" },
  { "literal-prefix", "{\"a\":tru}" },
  { "missing-colon", "{\"a\" 1}" },
  { "mismatched-brackets", "{\"a\":[1}}" },
  /* structure */
  { "trailing-data", "{\"a\":1} SECRET" },
  { "two-objects", "{}{}" },
  { "top-array", "[{\"a\":1}]" },
  { "top-string", "\"SECRET\"" },
  { "top-number", "1" },
  { "truncated", "{\"a\":[1,2" },
  { "whitespace-only", " \n" },
  { "bom", "\xef\xbb\xbf{}" },
  { "invalid-utf8", "{\"a\":\"\xff\"}" },
  { "overlong-utf8", "{\"a\":\"\xc0\xaf\"}" },
  { "utf8-surrogate", "{\"a\":\"\xed\xa0\xbd\"}" },
};

static JsonObject *
parse (const char  *json,
       gsize        len,
       GError     **error)
{
  return natter_json_parse_object (json, len, MAX_SIZE, NATTER_JSON_MAX_DEPTH, error);
}

static void
assert_refused (const char *json,
                gsize       len)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonObject) object = parse (json, len, &error);

  g_assert_null (object);
  g_assert_error (error, NATTER_ERROR, NATTER_ERROR_INVALID_INPUT);
  /* Messages end up in logs: they never quote what a peer sent. */
  g_assert_null (strstr (error->message, "SECRET"));
}

static void
test_accepted (gconstpointer data)
{
  const JsonCase *c = data;
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonObject) object = parse (c->json, strlen (c->json), &error);

  g_assert_no_error (error);
  g_assert_nonnull (object);
}

static void
test_refused (gconstpointer data)
{
  const JsonCase *c = data;

  assert_refused (c->json, strlen (c->json));
}

static void
test_values (void)
{
  const char *json = "{\"max\":9223372036854775807,\"min\":-9223372036854775808,"
                     "\"s\":\"\\ud83d\\ude00\",\"tiny\":1e-400,\"t\":true}";
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonObject) object = parse (json, strlen (json), &error);
  const char *s = NULL;
  gint64 n = 0;
  gboolean b = FALSE;

  g_assert_no_error (error);
  g_assert_true (natter_json_get_int (object, "max", TRUE, G_MININT64, G_MAXINT64, &n, &error));
  g_assert_cmpint (n, ==, G_MAXINT64);
  g_assert_true (natter_json_get_int (object, "min", TRUE, G_MININT64, G_MAXINT64, &n, &error));
  g_assert_cmpint (n, ==, G_MININT64);
  g_assert_true (natter_json_get_string (object, "s", TRUE, 4, &s, &error));
  g_assert_cmpstr (s, ==, "\U0001f600");
  g_assert_true (natter_json_get_bool (object, "t", TRUE, &b, &error));
  g_assert_true (b);
  g_assert_no_error (error);

  /* A double is not an integer, and range limits hold. */
  g_assert_false (natter_json_get_int (object, "tiny", TRUE, G_MININT64, G_MAXINT64, &n, &error));
  g_assert_error (error, NATTER_ERROR, NATTER_ERROR_INVALID_INPUT);
  g_clear_error (&error);
  g_assert_false (natter_json_get_int (object, "max", TRUE, 0, G_MAXINT64 - 1, &n, &error));
  g_assert_error (error, NATTER_ERROR, NATTER_ERROR_INVALID_INPUT);
  g_clear_error (&error);
  /* The string is 4 bytes: one byte less is too long. */
  g_assert_false (natter_json_get_string (object, "s", TRUE, 3, &s, &error));
  g_assert_error (error, NATTER_ERROR, NATTER_ERROR_INVALID_INPUT);
}

static void
test_optional_members (void)
{
  const char *json = "{\"gone\":null}";
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonObject) object = parse (json, strlen (json), &error);
  const char *s = "unchanged";

  /* Absent and optional is fine; present as null is a type error, not absence. */
  g_assert_true (natter_json_get_string (object, "absent", FALSE, 10, &s, &error));
  g_assert_no_error (error);
  g_assert_null (s);
  g_assert_false (natter_json_get_string (object, "gone", FALSE, 10, &s, &error));
  g_assert_error (error, NATTER_ERROR, NATTER_ERROR_INVALID_INPUT);
  g_clear_error (&error);
  g_assert_false (natter_json_get_string (object, "absent", TRUE, 10, &s, &error));
  g_assert_error (error, NATTER_ERROR, NATTER_ERROR_INVALID_INPUT);
}

/* An object holding arrays nested to @levels in total (the object is level 1). */
static char *
nested (guint levels)
{
  GString *s = g_string_new ("{\"a\":");

  for (guint i = 1; i < levels; i++)
    g_string_append_c (s, '[');
  g_string_append (s, "0");
  for (guint i = 1; i < levels; i++)
    g_string_append_c (s, ']');
  g_string_append_c (s, '}');

  return g_string_free (s, FALSE);
}

static void
test_depth (void)
{
  g_autofree char *at_limit = nested (NATTER_JSON_MAX_DEPTH);
  g_autofree char *over = nested (NATTER_JSON_MAX_DEPTH + 1);
  g_autofree char *brackets = g_strnfill (MAX_SIZE, '[');
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonObject) object = NULL;

  g_assert_cmpuint (NATTER_JSON_MAX_DEPTH, ==, 32);
  object = parse (at_limit, strlen (at_limit), &error);
  g_assert_no_error (error);
  g_assert_nonnull (object);
  g_clear_pointer (&object, json_object_unref);
  assert_refused (over, strlen (over));

  /* Empty containers count as levels too. */
  {
    g_autofree char *empty_over = g_strdup (over);
    char *zero = strchr (empty_over, '0');

    *zero = ' ';
    assert_refused (empty_over, strlen (empty_over));
  }

  /* The limit is the caller's. */
  object = natter_json_parse_object ("{\"a\":[[]]}", 10, MAX_SIZE, 3, &error);
  g_assert_no_error (error);
  g_clear_pointer (&object, json_object_unref);
  g_assert_null (natter_json_parse_object ("{\"a\":[[[]]]}", 12, MAX_SIZE, 3, &error));
  g_assert_error (error, NATTER_ERROR, NATTER_ERROR_INVALID_INPUT);
  g_clear_error (&error);

  /* Refused before json-glib, whose parser recurses per level. */
  assert_refused (brackets, MAX_SIZE);
}

static void
test_nul_and_size (void)
{
  static const char with_nul[] = "{\"a\":\"SECRET\0x\"}";
  g_autofree char *padded = g_strnfill (MAX_SIZE + 1, ' ');
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonObject) object = NULL;

  /* A raw NUL, inside a string or after the object. */
  assert_refused (with_nul, sizeof with_nul - 1);
  assert_refused ("{}", 3);
  assert_refused ("", 0);
  assert_refused (NULL, 0);

  /* Exactly the limit parses; one byte more is TOO_LARGE, before anything else. */
  padded[0] = '{';
  padded[MAX_SIZE - 1] = '}';
  object = parse (padded, MAX_SIZE, &error);
  g_assert_no_error (error);
  g_assert_nonnull (object);
  g_assert_null (parse (padded, MAX_SIZE + 1, &error));
  g_assert_error (error, NATTER_ERROR, NATTER_ERROR_TOO_LARGE);
}

static void
test_every_prefix (void)
{
  const char *json = "{\"a\":[1,-2.5e3,\"\\ud83d\\ude00\",true,null,{\"b\":false}]}";
  gsize len = strlen (json);
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonObject) object = parse (json, len, &error);

  g_assert_no_error (error);
  for (gsize i = 0; i < len; i++)
    assert_refused (json, i);
}

/* What we write we can read back, with the same values, whatever doubles
 * (and strings that look like their text) an object holds. */
static void
test_doubles_written_validly (void)
{
  const double values[] = { 6e63, 1e-05, 8e-66, 2.5, -3e300, 1e17, 0.1, 123456789.0 };
  g_autoptr(JsonObject) object = json_object_new ();
  g_autoptr(JsonNode) root = json_node_new (JSON_NODE_OBJECT);
  g_autoptr(JsonArray) array = json_array_new ();
  g_autoptr(JsonObject) parsed = NULL;
  g_autoptr(GBytes) bytes = NULL;
  g_autoptr(GError) error = NULL;
  JsonArray *back;

  for (guint i = 0; i < G_N_ELEMENTS (values); i++)
    json_array_add_double_element (array, values[i]);
  json_object_set_array_member (object, "d", json_array_ref (array));
  json_object_set_string_member (object, "s", "6e+63.0 \"1e5.0\" \\e.0");
  json_node_set_object (root, object);

  bytes = natter_json_to_bytes (root);
  parsed = natter_json_parse_object (g_bytes_get_data (bytes, NULL), g_bytes_get_size (bytes),
                                     65536, NATTER_JSON_MAX_DEPTH, &error);
  g_assert_no_error (error);
  back = json_object_get_array_member (parsed, "d");
  g_assert_cmpuint (json_array_get_length (back), ==, G_N_ELEMENTS (values));
  for (guint i = 0; i < G_N_ELEMENTS (values); i++)
    g_assert_cmpfloat (json_array_get_double_element (back, i), ==, values[i]);
  g_assert_cmpstr (json_object_get_string_member (parsed, "s"), ==, "6e+63.0 \"1e5.0\" \\e.0");
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  for (guint i = 0; i < G_N_ELEMENTS (accepted_cases); i++)
    {
      g_autofree char *path = g_strdup_printf ("/json/accepted/%s", accepted_cases[i].name);

      g_test_add_data_func (path, &accepted_cases[i], test_accepted);
    }
  for (guint i = 0; i < G_N_ELEMENTS (refused_cases); i++)
    {
      g_autofree char *path = g_strdup_printf ("/json/refused/%s", refused_cases[i].name);

      g_test_add_data_func (path, &refused_cases[i], test_refused);
    }
  g_test_add_func ("/json/values", test_values);
  g_test_add_func ("/json/optional-members", test_optional_members);
  g_test_add_func ("/json/depth", test_depth);
  g_test_add_func ("/json/nul-and-size", test_nul_and_size);
  g_test_add_func ("/json/every-prefix", test_every_prefix);
  g_test_add_func ("/json/doubles-written-validly", test_doubles_written_validly);

  return g_test_run ();
}
