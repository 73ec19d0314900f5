/* natter-broker-url.c: parses the mqtt:// or mqtts:// broker address a user types in. */
/* The parser came from natter-signaling.c; its domain stays, so log output does not change. */
#define G_LOG_DOMAIN "natter-signaling"

#include <string.h>

#include "natter-error.h"
#include "natter-broker-url.h"

#define DEFAULT_PORT          1883
#define DEFAULT_TLS_PORT      8883

/**
 * natter_broker_url_parse:
 * @url: mqtt://host[:port][/] or mqtts://host[:port][/]
 * @host: (out) (optional): the host name or address (IPv6 without brackets)
 * @port: (out) (optional): the port; 1883 or 8883 when the URL has none
 * @tls: (out) (optional): whether the scheme is mqtts
 * @error: return location for a #GError
 *
 * Credentials do not belong in the URL (they would end up in settings and
 * logs in the clear), so a user-info part is refused like any other extra.
 *
 * Returns: %TRUE if @url is a broker URL, else %FALSE with
 *   NATTER_ERROR_INVALID_INPUT
 */
gboolean
natter_broker_url_parse (const char  *url,
                         char       **host,
                         guint16     *port,
                         gboolean    *tls,
                         GError     **error)
{
  g_autoptr(GUri) uri = NULL;
  const char *scheme;
  const char *path;
  const char *uri_host;
  gboolean is_tls;
  int uri_port;

  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (url == NULL || *url == '\0')
    {
      g_set_error_literal (error, NATTER_ERROR, NATTER_ERROR_INVALID_INPUT,
                           "The broker address is empty");
      return FALSE;
    }

  uri = g_uri_parse (url, G_URI_FLAGS_NON_DNS, NULL);
  if (uri == NULL)
    {
      g_set_error_literal (error, NATTER_ERROR, NATTER_ERROR_INVALID_INPUT,
                           "The broker address is not a valid URL");
      return FALSE;
    }

  scheme = g_uri_get_scheme (uri);
  if (g_ascii_strcasecmp (scheme, "mqtt") == 0)
    is_tls = FALSE;
  else if (g_ascii_strcasecmp (scheme, "mqtts") == 0)
    is_tls = TRUE;
  else
    {
      g_set_error_literal (error, NATTER_ERROR, NATTER_ERROR_INVALID_INPUT,
                           "The broker address must start with mqtt:// or mqtts://");
      return FALSE;
    }

  uri_host = g_uri_get_host (uri);
  if (uri_host == NULL || *uri_host == '\0')
    {
      g_set_error_literal (error, NATTER_ERROR, NATTER_ERROR_INVALID_INPUT,
                           "The broker address has no host");
      return FALSE;
    }
  /* G_URI_FLAGS_NON_DNS keeps the host as written; refuse anything that
   * getaddrinfo() would not take as a host name or address literal. */
  for (const char *p = uri_host; *p != '\0'; p++)
    {
      if (!g_ascii_isalnum (*p) && strchr (".-_:", *p) == NULL)
        {
          g_set_error_literal (error, NATTER_ERROR, NATTER_ERROR_INVALID_INPUT,
                               "The broker host name contains invalid characters");
          return FALSE;
        }
    }

  if (g_uri_get_userinfo (uri) != NULL)
    {
      g_set_error_literal (error, NATTER_ERROR, NATTER_ERROR_INVALID_INPUT,
                           "Put the broker user name and password in their own fields, not in the address");
      return FALSE;
    }

  path = g_uri_get_path (uri);
  if ((path[0] != '\0' && !g_str_equal (path, "/")) ||
      g_uri_get_query (uri) != NULL || g_uri_get_fragment (uri) != NULL)
    {
      g_set_error_literal (error, NATTER_ERROR, NATTER_ERROR_INVALID_INPUT,
                           "The broker address must not have a path, query or fragment");
      return FALSE;
    }

  uri_port = g_uri_get_port (uri);
  if (uri_port == -1)
    uri_port = is_tls ? DEFAULT_TLS_PORT : DEFAULT_PORT;
  if (uri_port < 1 || uri_port > G_MAXUINT16)
    {
      g_set_error_literal (error, NATTER_ERROR, NATTER_ERROR_INVALID_INPUT,
                           "The broker port must be between 1 and 65535");
      return FALSE;
    }

  if (host != NULL)
    *host = g_strdup (uri_host);
  if (port != NULL)
    *port = (guint16) uri_port;
  if (tls != NULL)
    *tls = is_tls;
  return TRUE;
}
