/* natter-client.h: the account facade: identity, store, signaling, sessions and models. */
#pragma once

#include <gio/gio.h>

#include "natter-types.h"
#include "natter-contact.h"
#include "natter-ice-config.h"
#include "natter-message.h"
#include "natter-peer-session.h"
#include "natter-signaling.h"
#include "natter-transfer.h"
#include "natter-transfer-manager.h"

G_BEGIN_DECLS

typedef enum
{
  NATTER_CLIENT_NONE      = 0,
  NATTER_CLIENT_READ_ONLY = 1 << 0,  /* no lock, no network, the store opened read-only */
} NatterClientFlags;

/* Session retry delays while a contact is online: 1, 2, 4, 8, 16 s. */
#define NATTER_CLIENT_RETRY_MAX_S 16

#define NATTER_TYPE_CLIENT (natter_client_get_type ())
G_DECLARE_FINAL_TYPE (NatterClient, natter_client, NATTER, CLIENT, GObject)

NatterClient       *natter_client_new                 (const char         *profile_dir,
                                                       NatterClientFlags   flags,
                                                       GError            **error);
NatterIdentity     *natter_client_get_identity        (NatterClient       *self);
const char         *natter_client_get_peer_id         (NatterClient       *self);
NatterStore        *natter_client_get_store           (NatterClient       *self);
NatterSignaling    *natter_client_get_signaling       (NatterClient       *self);
NatterHlc          *natter_client_get_hlc             (NatterClient       *self);
char               *natter_client_dup_display_name    (NatterClient       *self);
gboolean            natter_client_set_display_name    (NatterClient       *self,
                                                       const char         *name,
                                                       GError            **error);
gboolean            natter_client_set_broker          (NatterClient       *self,
                                                       const char         *url,
                                                       const char         *username,
                                                       const char         *password,
                                                       const char         *ca_file,
                                                       GError            **error);
void                natter_client_set_ice_config      (NatterClient       *self,
                                                       NatterIceConfig    *ice);

/* The broker and our connection to it, for the UI and natter-cli. */
gboolean            natter_client_check_broker_url    (const char         *url,
                                                       GError            **error);
char               *natter_client_dup_broker_password (NatterClient       *self);
gboolean            natter_client_set_broker_password (NatterClient       *self,
                                                       const char         *password,
                                                       GError            **error);
NatterSignalingState natter_client_get_signaling_state (NatterClient      *self);
gint64              natter_client_get_signaling_next_retry (NatterClient  *self);
const char         *natter_client_get_signaling_last_error (NatterClient  *self);
gboolean            natter_client_flush_signaling     (NatterClient       *self,
                                                       guint               timeout_ms);
void                natter_client_start               (NatterClient       *self);
void                natter_client_stop                (NatterClient       *self);

GListModel         *natter_client_get_contacts        (NatterClient       *self);
NatterContact      *natter_client_lookup_contact      (NatterClient       *self,
                                                       const char         *peer_id);
NatterContact      *natter_client_add_contact         (NatterClient       *self,
                                                       const char         *peer_id,
                                                       const char         *name,
                                                       GError            **error);
gboolean            natter_client_accept_contact      (NatterClient       *self,
                                                       const char         *peer_id,
                                                       GError            **error);
gboolean            natter_client_decline_contact     (NatterClient       *self,
                                                       const char         *peer_id,
                                                       GError            **error);
gboolean            natter_client_block_contact       (NatterClient       *self,
                                                       const char         *peer_id,
                                                       GError            **error);
void                natter_client_set_auto_accept     (NatterClient       *self,
                                                       gboolean            auto_accept);

char               *natter_client_conversation_for    (NatterClient       *self,
                                                       const char         *peer_id);
GListModel         *natter_client_get_messages        (NatterClient       *self,
                                                       const char         *peer_id,
                                                       GError            **error);
NatterMessage      *natter_client_send_message        (NatterClient       *self,
                                                       const char         *peer_id,
                                                       const char         *body,
                                                       const char         *reply_to,
                                                       GError            **error);
gboolean            natter_client_message_fits        (NatterClient       *self,
                                                       const char         *peer_id,
                                                       const char         *body);
GPtrArray          *natter_client_search              (NatterClient       *self,
                                                       const char         *peer_id,
                                                       const char         *query,
                                                       guint               limit,
                                                       GError            **error);
gint64              natter_client_message_position    (NatterClient       *self,
                                                       NatterMessage      *message,
                                                       GError            **error);
gboolean            natter_client_mark_read           (NatterClient       *self,
                                                       const char         *peer_id,
                                                       GError            **error);
gboolean            natter_client_set_typing          (NatterClient       *self,
                                                       const char         *peer_id,
                                                       gboolean            typing,
                                                       GError            **error);
NatterPeerSession  *natter_client_get_session         (NatterClient       *self,
                                                       const char         *peer_id);
NatterChatProtocol *natter_client_get_chat_protocol   (NatterClient       *self,
                                                       const char         *peer_id);
void                natter_client_connect             (NatterClient       *self,
                                                       const char         *peer_id);

/* File transfers (issue 7); see natter-transfer.h for what a transfer shows. */
NatterTransferManager *natter_client_get_transfer_manager (NatterClient     *self);
GListModel         *natter_client_get_transfers       (NatterClient       *self);
NatterTransfer     *natter_client_lookup_transfer     (NatterClient       *self,
                                                       const char         *id);
NatterTransfer     *natter_client_send_file           (NatterClient       *self,
                                                       const char         *peer_id,
                                                       GFile              *file,
                                                       GError            **error);
gboolean            natter_client_accept_transfer     (NatterClient       *self,
                                                       NatterTransfer     *transfer,
                                                       GFile              *directory,
                                                       GError            **error);
gboolean            natter_client_decline_transfer    (NatterClient       *self,
                                                       NatterTransfer     *transfer,
                                                       GError            **error);
gboolean            natter_client_pause_transfer      (NatterClient       *self,
                                                       NatterTransfer     *transfer,
                                                       GError            **error);
gboolean            natter_client_resume_transfer     (NatterClient       *self,
                                                       NatterTransfer     *transfer,
                                                       GError            **error);
gboolean            natter_client_cancel_transfer     (NatterClient       *self,
                                                       NatterTransfer     *transfer,
                                                       GError            **error);
void                natter_client_set_download_dir    (NatterClient       *self,
                                                       const char         *directory);
void                natter_client_set_auto_accept_files (NatterClient     *self,
                                                       const char         *directory);

/* contact management (UI) */
gboolean            natter_client_rename_contact      (NatterClient       *self,
                                                       const char         *peer_id,
                                                       const char         *name,
                                                       GError            **error);
gboolean            natter_client_delete_contact      (NatterClient       *self,
                                                       const char         *peer_id,
                                                       gboolean            keep_history,
                                                       GError            **error);
gboolean            natter_client_set_contact_verified (NatterClient      *self,
                                                       const char         *peer_id,
                                                       gboolean            verified,
                                                       GError            **error);
char               *natter_client_dup_safety_number   (NatterClient       *self,
                                                       const char         *peer_id);
void                natter_client_load_contact_summaries (NatterClient    *self);

G_END_DECLS
