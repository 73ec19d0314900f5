/* natter-client-private.h: NatterClient's struct and what its natter-client*.c pieces share. */
#pragma once

#include "natter-client.h"
#include "natter-message-list.h"

G_BEGIN_DECLS

#define MAX_NAME_LEN 128

typedef struct
{
  NatterClient       *client;        /* borrowed: the client owns the peer */
  char               *peer_id;
  char               *conversation;
  NatterPeerSession  *session;
  NatterChatProtocol *protocol;
  guint               retry_source;
  guint               retry_attempt;
  gint64              last_request_us;
} Peer;

struct _NatterClient
{
  GObject          parent_instance;

  char            *profile_dir;
  NatterClientFlags flags;
  int              lock_fd;
  NatterIdentity  *identity;
  NatterStore     *store;
  NatterHlc       *hlc;
  NatterSignaling *signaling;
  NatterIceConfig *ice;
  GListStore      *contacts;
  GHashTable      *peers;           /* peer id → Peer */
  GHashTable      *message_lists;   /* conversation → NatterMessageList */
  NatterTransferManager *transfers; /* file transfers (issue 7) */
  guint            save_hlc_source;
  gboolean         auto_accept;
  gboolean         started;
  double           request_tokens;
  gint64           request_tokens_us;
};

enum {
  CONTACT_REQUEST,
  CONTACT_CHANGED,
  MESSAGE_RECEIVED,
  MESSAGE_STATE_CHANGED,
  SESSION_STATE_CHANGED,
  PRESENCE_CHANGED,
  TYPING,
  SYNCED,
  TRANSFER_ADDED,
  BROKER_PASSWORD_CHANGED,
  N_SIGNALS
};

/* Filled in by class_init (natter-client.c). */
extern guint _natter_client_signals[N_SIGNALS];

/* natter-client-peers.c */
void               _natter_client_peer_free             (Peer             *peer);
Peer              *_natter_client_lookup_peer           (NatterClient     *self,
                                                         const char       *peer_id);
gboolean           _natter_client_contact_is_accepted   (NatterClient     *self,
                                                         const char       *peer_id);
NatterPeerSession *_natter_client_peer_ensure_session   (Peer             *peer);
void               _natter_client_peer_connect          (Peer             *peer);

/* natter-client-signaling.c */
void               _natter_client_send_contact_envelope (NatterClient     *self,
                                                         const char       *peer_id,
                                                         const char       *type);
void               _natter_client_follow_contact        (NatterClient     *self,
                                                         NatterContact    *contact);
void               _natter_client_envelope_received_cb  (NatterClient     *self,
                                                         NatterEnvelope   *envelope,
                                                         NatterSignaling  *signaling);
void               _natter_client_presence_changed_cb   (NatterClient     *self,
                                                         const char       *peer_id,
                                                         gboolean          online,
                                                         gint64            epoch,
                                                         NatterSignaling  *signaling);

/* natter-client-contacts.c */
void               _natter_client_touch_contact         (NatterClient     *self,
                                                         const char       *peer_id,
                                                         NatterMessage    *message,
                                                         gboolean          incoming);
gboolean           _natter_client_save_contact          (NatterClient     *self,
                                                         NatterContact    *contact,
                                                         GError          **error);

/* natter-client-messages.c */
NatterMessageList *_natter_client_lookup_list           (NatterClient     *self,
                                                         const char       *conversation);
gint64             _natter_client_read_upto             (NatterClient     *self,
                                                         const char       *conversation);

/* natter-client-transfers.c */
void               _natter_client_transfers_init        (NatterClient     *self);

G_END_DECLS
