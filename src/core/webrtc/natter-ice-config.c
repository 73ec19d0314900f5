/* natter-ice-config.c: ICE settings (STUN, TURN, local addresses), applied to a webrtcbin. */
#define G_LOG_DOMAIN "natter-ice-config"

#include "natter-ice-config.h"

#include <gio/gio.h>

#include "natter-error.h"

/* A small refcounted value: every NatterPeerSession attempt applies it to a
 * fresh webrtcbin, so it is shared, never copied. */
struct _NatterIceConfig
{
  gatomicrefcount  ref_count;
  char            *stun_server;
  GPtrArray       *turn_servers;     /* NULL-terminated array of char* */
  GPtrArray       *local_addresses;  /* NULL-terminated array of char* */
  gboolean         ice_tcp;
};

G_DEFINE_BOXED_TYPE (NatterIceConfig, natter_ice_config,
                     natter_ice_config_ref, natter_ice_config_unref)

static GPtrArray *
new_strv_array (void)
{
  GPtrArray *array = g_ptr_array_new_with_free_func (g_free);

  g_ptr_array_add (array, NULL);
  return array;
}

static void
strv_array_append (GPtrArray  *array,
                   const char *value)
{
  /* Keep the trailing NULL so the array doubles as a strv. */
  g_ptr_array_insert (array, array->len - 1, g_strdup (value));
}

/**
 * natter_ice_config_new:
 *
 * An empty configuration: no STUN, no TURN, every local address, no ICE-TCP.
 * There is deliberately no public STUN default.
 */
NatterIceConfig *
natter_ice_config_new (void)
{
  NatterIceConfig *self = g_new0 (NatterIceConfig, 1);

  g_atomic_ref_count_init (&self->ref_count);
  self->turn_servers = new_strv_array ();
  self->local_addresses = new_strv_array ();
  return self;
}

NatterIceConfig *
natter_ice_config_ref (NatterIceConfig *self)
{
  g_return_val_if_fail (self != NULL, NULL);

  g_atomic_ref_count_inc (&self->ref_count);
  return self;
}

void
natter_ice_config_unref (NatterIceConfig *self)
{
  g_return_if_fail (self != NULL);

  if (!g_atomic_ref_count_dec (&self->ref_count))
    return;

  g_free (self->stun_server);
  g_ptr_array_unref (self->turn_servers);
  g_ptr_array_unref (self->local_addresses);
  g_free (self);
}

static gboolean
check_server_url (const char  *url,
                  const char  *scheme_a,
                  const char  *scheme_b,
                  GError     **error)
{
  /* GLib's parser, not GstUri: a config is built before GStreamer is initialized. */
  g_autoptr(GUri) uri = g_uri_parse (url, G_URI_FLAGS_NONE, NULL);
  const char *scheme = uri != NULL ? g_uri_get_scheme (uri) : NULL;
  const char *host = uri != NULL ? g_uri_get_host (uri) : NULL;

  if (scheme == NULL ||
      (g_ascii_strcasecmp (scheme, scheme_a) != 0 && g_ascii_strcasecmp (scheme, scheme_b) != 0) ||
      host == NULL || *host == '\0')
    {
      g_set_error (error, NATTER_ERROR, NATTER_ERROR_INVALID_INPUT,
                   "Not a %s:// server address", scheme_a);
      return FALSE;
    }

  return TRUE;
}

/**
 * natter_ice_config_set_stun_server:
 * @url: (nullable): a `stun://host:port` address, or %NULL for none
 */
gboolean
natter_ice_config_set_stun_server (NatterIceConfig  *self,
                                   const char       *url,
                                   GError          **error)
{
  g_return_val_if_fail (self != NULL, FALSE);

  if (url != NULL && !check_server_url (url, "stun", "stun", error))
    return FALSE;

  g_free (self->stun_server);
  self->stun_server = g_strdup (url);
  return TRUE;
}

const char *
natter_ice_config_get_stun_server (NatterIceConfig *self)
{
  g_return_val_if_fail (self != NULL, NULL);

  return self->stun_server;
}

/**
 * natter_ice_config_add_turn_server:
 * @url: a `turn://user:password@host:port` or `turns://…` address
 */
gboolean
natter_ice_config_add_turn_server (NatterIceConfig  *self,
                                   const char       *url,
                                   GError          **error)
{
  g_return_val_if_fail (self != NULL, FALSE);
  g_return_val_if_fail (url != NULL, FALSE);

  if (!check_server_url (url, "turn", "turns", error))
    return FALSE;

  strv_array_append (self->turn_servers, url);
  return TRUE;
}

const char * const *
natter_ice_config_get_turn_servers (NatterIceConfig *self)
{
  g_return_val_if_fail (self != NULL, NULL);

  return (const char * const *) self->turn_servers->pdata;
}

/**
 * natter_ice_config_add_local_address:
 * @address: a literal IPv4 or IPv6 address
 *
 * Restricts host candidates to the added addresses. Loopback addresses only
 * work through this: libnice skips them when it discovers interfaces itself.
 */
gboolean
natter_ice_config_add_local_address (NatterIceConfig  *self,
                                     const char       *address,
                                     GError          **error)
{
  g_autoptr(GInetAddress) inet = NULL;

  g_return_val_if_fail (self != NULL, FALSE);
  g_return_val_if_fail (address != NULL, FALSE);

  inet = g_inet_address_new_from_string (address);
  if (inet == NULL)
    {
      g_set_error (error, NATTER_ERROR, NATTER_ERROR_INVALID_INPUT,
                   "Not an IP address");
      return FALSE;
    }

  strv_array_append (self->local_addresses, address);
  return TRUE;
}

const char * const *
natter_ice_config_get_local_addresses (NatterIceConfig *self)
{
  g_return_val_if_fail (self != NULL, NULL);

  return (const char * const *) self->local_addresses->pdata;
}

/**
 * natter_ice_config_set_ice_tcp:
 *
 * Off by default: TCP host candidates rarely help between desktops and add
 * candidates (and so signaling) to every setup.
 */
void
natter_ice_config_set_ice_tcp (NatterIceConfig *self,
                               gboolean         ice_tcp)
{
  g_return_if_fail (self != NULL);

  self->ice_tcp = !!ice_tcp;
}

gboolean
natter_ice_config_get_ice_tcp (NatterIceConfig *self)
{
  g_return_val_if_fail (self != NULL, FALSE);

  return self->ice_tcp;
}

static void
set_if_exists (GObject    *object,
               const char *property,
               gboolean    value)
{
  /* The agent behind webrtcbin is an implementation detail (libnice today);
   * only touch properties it really has. */
  if (object != NULL && g_object_class_find_property (G_OBJECT_GET_CLASS (object), property))
    g_object_set (object, property, value, NULL);
}

/**
 * natter_ice_config_apply:
 * @webrtcbin: a webrtcbin that has not gathered candidates yet
 *
 * Must be called before the first local description is set.
 */
gboolean
natter_ice_config_apply (NatterIceConfig  *self,
                         GstElement       *webrtcbin,
                         GError          **error)
{
  g_autoptr(GstObject) ice_agent = NULL;
  g_autoptr(GObject) nice_agent = NULL;

  g_return_val_if_fail (self != NULL, FALSE);
  g_return_val_if_fail (GST_IS_ELEMENT (webrtcbin), FALSE);

  /* Only when set: webrtcbin hands NULL to the agent as "" and logs an error. */
  if (self->stun_server != NULL)
    g_object_set (webrtcbin, "stun-server", self->stun_server, NULL);

  for (guint i = 0; i + 1 < self->turn_servers->len; i++)
    {
      gboolean ok = FALSE;

      g_signal_emit_by_name (webrtcbin, "add-turn-server",
                             g_ptr_array_index (self->turn_servers, i), &ok);
      if (!ok)
        {
          g_set_error (error, NATTER_ERROR, NATTER_ERROR_INVALID_INPUT,
                       "The TURN server address was refused");
          return FALSE;
        }
    }

  g_object_get (webrtcbin, "ice-agent", &ice_agent, NULL);
  if (ice_agent == NULL)
    {
      g_set_error (error, NATTER_ERROR, NATTER_ERROR_FAILED, "webrtcbin has no ICE agent");
      return FALSE;
    }

  for (guint i = 0; i + 1 < self->local_addresses->len; i++)
    {
      gboolean ok = FALSE;

      g_signal_emit_by_name (ice_agent, "add-local-ip-address",
                             g_ptr_array_index (self->local_addresses, i), &ok);
      if (!ok)
        {
          g_set_error (error, NATTER_ERROR, NATTER_ERROR_INVALID_INPUT,
                       "The ICE agent refused a local address");
          return FALSE;
        }
    }

  set_if_exists (G_OBJECT (ice_agent), "ice-tcp", self->ice_tcp);

  /* UPnP port mapping would make gathering wait for the router's answer (or
   * its timeout) and opens ports on the user's router behind their back. */
  if (g_object_class_find_property (G_OBJECT_GET_CLASS (ice_agent), "agent"))
    g_object_get (ice_agent, "agent", &nice_agent, NULL);
  set_if_exists (nice_agent, "upnp", FALSE);
  set_if_exists (nice_agent, "ice-tcp", self->ice_tcp);

  return TRUE;
}
