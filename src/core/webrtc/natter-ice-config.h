/* natter-ice-config.h: the STUN/TURN servers and local addresses a session's ICE agent uses. */
#pragma once

#include <gst/gst.h>

G_BEGIN_DECLS

#define NATTER_TYPE_ICE_CONFIG (natter_ice_config_get_type ())

typedef struct _NatterIceConfig NatterIceConfig;

GType              natter_ice_config_get_type            (void) G_GNUC_CONST;

NatterIceConfig   *natter_ice_config_new                 (void);
NatterIceConfig   *natter_ice_config_ref                 (NatterIceConfig  *self);
void               natter_ice_config_unref               (NatterIceConfig  *self);

gboolean           natter_ice_config_set_stun_server     (NatterIceConfig  *self,
                                                          const char       *url,
                                                          GError          **error);
const char        *natter_ice_config_get_stun_server     (NatterIceConfig  *self);
gboolean           natter_ice_config_add_turn_server     (NatterIceConfig  *self,
                                                          const char       *url,
                                                          GError          **error);
const char * const *natter_ice_config_get_turn_servers   (NatterIceConfig  *self);
gboolean           natter_ice_config_add_local_address   (NatterIceConfig  *self,
                                                          const char       *address,
                                                          GError          **error);
const char * const *natter_ice_config_get_local_addresses (NatterIceConfig *self);
void               natter_ice_config_set_ice_tcp         (NatterIceConfig  *self,
                                                          gboolean          ice_tcp);
gboolean           natter_ice_config_get_ice_tcp         (NatterIceConfig  *self);

gboolean           natter_ice_config_apply               (NatterIceConfig  *self,
                                                          GstElement       *webrtcbin,
                                                          GError          **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (NatterIceConfig, natter_ice_config_unref)

G_END_DECLS
