/* natter-media-config.h: where a call's audio and video come from and go to. */
#pragma once

#include <gst/gst.h>

G_BEGIN_DECLS

#define NATTER_TYPE_MEDIA_CONFIG (natter_media_config_get_type ())

typedef struct _NatterMediaConfig NatterMediaConfig;

/* Makes the sink for received video (@self_view FALSE) or for the local
 * camera preview (@self_view TRUE); called on the main context when a call
 * starts. Return NULL to discard. The app returns an appsink that turns
 * frames into GdkTextures; natter-cli returns NULL. */
typedef GstElement *(*NatterVideoSinkFactory) (gpointer user_data,
                                               gboolean self_view);

GType              natter_media_config_get_type          (void) G_GNUC_CONST;
NatterMediaConfig *natter_media_config_new               (void);
NatterMediaConfig *natter_media_config_ref               (NatterMediaConfig *self);
void               natter_media_config_unref             (NatterMediaConfig *self);

/* "default" (the chosen microphone, else the system's), "tone:HZ",
 * "file:PATH" (a WAV file, looped), "silence". NATTER_ERROR_INVALID_INPUT
 * for anything else. */
gboolean           natter_media_config_set_audio_source  (NatterMediaConfig *self,
                                                          const char        *spec,
                                                          GError           **error);
const char        *natter_media_config_get_audio_source  (NatterMediaConfig *self);
/* "default" (the chosen camera, else the first one; none → no video sent),
 * "test" (a moving test pattern), "none". */
gboolean           natter_media_config_set_video_source  (NatterMediaConfig *self,
                                                          const char        *spec,
                                                          GError           **error);
const char        *natter_media_config_get_video_source  (NatterMediaConfig *self);
/* "default" (the chosen speaker, else the system's) or "none" (received
 * audio is decoded, recorded if asked, then discarded in real time). */
gboolean           natter_media_config_set_audio_sink    (NatterMediaConfig *self,
                                                          const char        *spec,
                                                          GError           **error);
const char        *natter_media_config_get_audio_sink    (NatterMediaConfig *self);
/* Device names as NatterMediaDevices lists them; NULL for the system default. */
void               natter_media_config_set_devices       (NatterMediaConfig *self,
                                                          const char        *microphone,
                                                          const char        *speaker,
                                                          const char        *camera);
/* (nullable): each call writes what it RECEIVES under DIR/<call id>/:
 * audio.wav (48 kHz mono S16LE) and video.webm (VP8 as received). */
void               natter_media_config_set_record_dir    (NatterMediaConfig *self,
                                                          const char        *dir);
const char        *natter_media_config_get_record_dir    (NatterMediaConfig *self);
/* webrtcdsp (echo cancellation, noise suppression, gain control) on the
 * captured audio; on by default. */
void               natter_media_config_set_echo_cancellation (NatterMediaConfig *self,
                                                          gboolean           enabled);
gboolean           natter_media_config_get_echo_cancellation (NatterMediaConfig *self);
/* Tests only: mixes what is played back into the capture, @delay_ms later
 * and @attenuation_db quieter, like a loudspeaker heard by the microphone.
 * 0 dB attenuation with 0 ms delay disables it (the default). */
void               natter_media_config_set_echo_path     (NatterMediaConfig *self,
                                                          guint              delay_ms,
                                                          double             attenuation_db);
void               natter_media_config_set_video_sink_factory
                                                         (NatterMediaConfig     *self,
                                                          NatterVideoSinkFactory factory,
                                                          gpointer               user_data,
                                                          GDestroyNotify         destroy);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (NatterMediaConfig, natter_media_config_unref)

G_END_DECLS
