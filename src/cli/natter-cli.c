/* natter-cli.c: a headless Natter peer for scripts, tests, benchmarks and bots.
 *
 * The command line is a stable interface (README, tests and benchmarks use
 * it). `run` prints one JSON object per line for every event and reads JSON
 * commands from standard input.
 */
#define G_LOG_DOMAIN "natter-cli"

#include <gio/gio.h>
#include <gio/gunixinputstream.h>
#include <glib-unix.h>
#include <gst/gst.h>
#include <json-glib/json-glib.h>
#include <locale.h>
#include <stdarg.h>
#include <stdio.h>

#include "natter-client.h"
#include "natter-error.h"
#include "natter-identity.h"
#include "natter-json.h"
#include "natter-message.h"

#define EXIT_USAGE   2
#define EXIT_TIMEOUT 3

typedef struct
{
  char            *profile;
  char            *broker;
  char           **ice_addresses;
  char            *stun;
  char           **turn;
  char            *broker_user;
  char            *broker_password;
  char            *ca_file;
} GlobalOptions;

static GlobalOptions opts;

static const char *
session_state_name (int state)
{
  static const char * const names[] = {
    "new", "connecting", "connected", "disconnected", "failed", "closed"
  };
  return state >= 0 && state < (int) G_N_ELEMENTS (names) ? names[state] : "unknown";
}

static const char *
message_state_name (NatterMessageState state)
{
  static const char * const names[] = { "queued", "sent", "delivered", "read" };
  return (guint) state < G_N_ELEMENTS (names) ? names[state] : "unknown";
}

static const char *
contact_state_name (NatterContactState state)
{
  static const char * const names[] = {
    "pending-out", "pending-in", "accepted", "declined", "blocked"
  };
  return (guint) state < G_N_ELEMENTS (names) ? names[state] : "unknown";
}

/* ---- output ---- */

/* Events emitted while a "send" command runs (the message can be sent at
 * once) wait here, so "queued" always comes before its "delivery" events. */
static GPtrArray *held_events;

static void
print_json (JsonBuilder *builder)
{
  g_autoptr(JsonNode) root = json_builder_get_root (builder);
  g_autoptr(JsonGenerator) generator = json_generator_new ();
  g_autofree char *text = NULL;

  json_generator_set_root (generator, root);
  text = json_generator_to_data (generator, NULL);
  if (held_events != NULL)
    {
      g_ptr_array_add (held_events, g_steal_pointer (&text));
      return;
    }
  g_print ("%s\n", text);
  fflush (stdout);
}

static void
hold_events (void)
{
  g_assert (held_events == NULL);
  held_events = g_ptr_array_new_with_free_func (g_free);
}

static void
release_events (void)
{
  g_autoptr(GPtrArray) events = g_steal_pointer (&held_events);

  for (guint i = 0; i < events->len; i++)
    g_print ("%s\n", (const char *) g_ptr_array_index (events, i));
  fflush (stdout);
}

static JsonBuilder *
begin_event (const char *event)
{
  JsonBuilder *builder = json_builder_new ();

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "event");
  json_builder_add_string_value (builder, event);
  return builder;
}

static void
add_string (JsonBuilder *builder,
            const char  *name,
            const char  *value)
{
  json_builder_set_member_name (builder, name);
  if (value != NULL)
    json_builder_add_string_value (builder, value);
  else
    json_builder_add_null_value (builder);
}

static void
add_message_fields (JsonBuilder   *builder,
                    NatterMessage *message)
{
  add_string (builder, "id", natter_message_get_id (message));
  add_string (builder, "author", natter_message_get_author (message));
  json_builder_set_member_name (builder, "seq");
  json_builder_add_int_value (builder, natter_message_get_seq (message));
  json_builder_set_member_name (builder, "hlc");
  json_builder_begin_array (builder);
  json_builder_add_int_value (builder, natter_message_get_hlc_l (message));
  json_builder_add_int_value (builder, natter_message_get_hlc_c (message));
  json_builder_end_array (builder);
  add_string (builder, "text", natter_message_get_body (message));
  add_string (builder, "reply_to", natter_message_get_reply_to (message));
  add_string (builder, "state", message_state_name (natter_message_get_state (message)));
  json_builder_set_member_name (builder, "late");
  json_builder_add_boolean_value (builder, natter_message_get_late (message));
}

/* An event whose other members are all strings: NULL-terminated key, value pairs. */
static void
emit_simple (const char *event,
             ...)
{
  g_autoptr(JsonBuilder) builder = begin_event (event);
  const char *key;
  va_list args;

  va_start (args, event);
  while ((key = va_arg (args, const char *)) != NULL)
    add_string (builder, key, va_arg (args, const char *));
  va_end (args);
  json_builder_end_object (builder);
  print_json (builder);
}

/* ---- profile and client setup ---- */

static NatterClient *
open_client (NatterClientFlags   flags,
             GError            **error)
{
  g_autoptr(NatterClient) client = NULL;
  g_autoptr(NatterIceConfig) ice = NULL;

  client = natter_client_new (opts.profile, flags, error);
  if (client == NULL || (flags & NATTER_CLIENT_READ_ONLY))
    return g_steal_pointer (&client);

  if (!natter_client_set_broker (client, opts.broker, opts.broker_user, opts.broker_password,
                                 opts.ca_file, error))
    return NULL;
  ice = natter_ice_config_new ();
  for (guint i = 0; opts.ice_addresses && opts.ice_addresses[i]; i++)
    if (!natter_ice_config_add_local_address (ice, opts.ice_addresses[i], error))
      return NULL;
  if (opts.stun != NULL && !natter_ice_config_set_stun_server (ice, opts.stun, error))
    return NULL;
  for (guint i = 0; opts.turn && opts.turn[i]; i++)
    if (!natter_ice_config_add_turn_server (ice, opts.turn[i], error))
      return NULL;
  natter_client_set_ice_config (client, ice);
  return g_steal_pointer (&client);
}

static gboolean
profile_has_identity (void)
{
  g_autofree char *path = g_build_filename (opts.profile, "identity.key", NULL);

  return g_file_test (path, G_FILE_TEST_EXISTS);
}

/* Spins until @done or the deadline (µs, monotonic; 0 = never). */
static gboolean
spin_until (gboolean *done,
            gint64    deadline)
{
  while (!*done)
    {
      if (deadline != 0 && g_get_monotonic_time () >= deadline)
        return FALSE;
      g_main_context_iteration (NULL, deadline == 0);
      if (deadline != 0 && !g_main_context_pending (NULL))
        g_usleep (1000);
    }
  return TRUE;
}

static void
connected_cb (NatterClient *client,
              GParamSpec   *pspec,
              gboolean     *connected)
{
  NatterSignalingState state;

  g_object_get (client, "signaling-state", &state, NULL);
  if (state == NATTER_SIGNALING_CONNECTED)
    *connected = TRUE;
}

/* Runs @client online just long enough for queued signaling to reach the broker. */
static gboolean
flush_signaling (NatterClient  *client,
                 GError       **error)
{
  gboolean connected = FALSE;
  gulong id;

  id = g_signal_connect (client, "notify::signaling-state", G_CALLBACK (connected_cb), &connected);
  natter_client_start (client);
  if (!spin_until (&connected, g_get_monotonic_time () + 10 * G_USEC_PER_SEC))
    {
      g_signal_handler_disconnect (client, id);
      g_set_error (error, NATTER_ERROR, NATTER_ERROR_TIMED_OUT,
                   "Could not reach the broker at %s", opts.broker);
      return FALSE;
    }
  g_signal_handler_disconnect (client, id);
  natter_client_flush_signaling (client, 5000);
  natter_client_stop (client);
  return TRUE;
}

/* ---- commands ---- */

static int
cmd_init (int argc, char **argv, GError **error)
{
  g_autofree char *name = NULL;
  g_autoptr(NatterClient) client = NULL;
  GOptionEntry entries[] = {
    { "name", 0, 0, G_OPTION_ARG_STRING, &name, "Your display name", "NAME" },
    { NULL }
  };
  g_autoptr(GOptionContext) context = g_option_context_new ("- create a profile");

  g_option_context_add_main_entries (context, entries, NULL);
  if (!g_option_context_parse (context, &argc, &argv, error))
    return EXIT_USAGE;
  if (profile_has_identity ())
    {
      g_set_error (error, NATTER_ERROR, NATTER_ERROR_REFUSED,
                   "The profile %s already exists; `natter-cli --profile %s id` prints its id",
                   opts.profile, opts.profile);
      return EXIT_FAILURE;
    }
  client = natter_client_new (opts.profile, NATTER_CLIENT_NONE, error);
  if (client == NULL)
    return EXIT_FAILURE;
  if (name != NULL && !natter_client_set_display_name (client, name, error))
    return EXIT_FAILURE;
  g_print ("%s\n", natter_client_get_peer_id (client));
  return EXIT_SUCCESS;
}

static int
cmd_id (int argc, char **argv, GError **error)
{
  g_autoptr(NatterIdentity) identity = natter_identity_load (opts.profile, error);

  if (identity == NULL)
    return EXIT_FAILURE;
  g_print ("%s\n", natter_identity_get_peer_id (identity));
  return EXIT_SUCCESS;
}

/* Prints the safety number both sides compare out of band; only --mark or
 * --unmark writes to the profile. */
static int
contact_verify (const char  *peer_id,
                gboolean     mark,
                gboolean     unmark,
                gboolean     json,
                GError     **error)
{
  g_autoptr(NatterClient) client = NULL;
  g_autofree char *number = NULL;
  NatterContact *contact;

  if (mark && unmark)
    {
      g_set_error_literal (error, NATTER_ERROR, NATTER_ERROR_INVALID_INPUT,
                           "--mark and --unmark exclude each other");
      return EXIT_USAGE;
    }
  client = open_client (mark || unmark ? NATTER_CLIENT_NONE : NATTER_CLIENT_READ_ONLY, error);
  if (client == NULL)
    return EXIT_FAILURE;
  contact = natter_client_lookup_contact (client, peer_id);
  if (contact == NULL)
    {
      g_set_error_literal (error, NATTER_ERROR, NATTER_ERROR_NOT_CONTACT,
                           "no such contact");
      return EXIT_FAILURE;
    }
  if ((mark || unmark) && !natter_client_set_contact_verified (client, peer_id, mark, error))
    return EXIT_FAILURE;
  number = natter_client_dup_safety_number (client, peer_id);
  if (number == NULL)
    {
      g_set_error_literal (error, NATTER_ERROR, NATTER_ERROR_INVALID_INPUT, "not a peer id");
      return EXIT_FAILURE;
    }

  if (json)
    {
      g_autoptr(JsonBuilder) builder = json_builder_new ();

      json_builder_begin_object (builder);
      add_string (builder, "peer", peer_id);
      add_string (builder, "safety-number", number);
      json_builder_set_member_name (builder, "verified");
      json_builder_add_boolean_value (builder, natter_contact_get_verified (contact));
      json_builder_end_object (builder);
      print_json (builder);
    }
  else
    {
      g_print ("Safety number with %s:\n%s\n", natter_contact_get_display_name (contact), number);
      g_print ("%s\n", natter_contact_get_verified (contact)
                         ? "Verified."
                         : "Not verified. Compare this number with your contact in person or on a "
                           "call, then run: natter-cli contact verify PEER_ID --mark");
    }
  return EXIT_SUCCESS;
}

static int
cmd_contact (int argc, char **argv, GError **error)
{
  g_autofree char *name = NULL;
  gboolean json = FALSE;
  gboolean mark = FALSE;
  gboolean unmark = FALSE;
  GOptionEntry entries[] = {
    { "name", 0, 0, G_OPTION_ARG_STRING, &name, "A name for the contact", "NAME" },
    { "json", 0, 0, G_OPTION_ARG_NONE, &json, "Print JSON", NULL },
    { "mark", 0, 0, G_OPTION_ARG_NONE, &mark,
      "verify: mark the contact verified (after comparing the number)", NULL },
    { "unmark", 0, 0, G_OPTION_ARG_NONE, &unmark, "verify: mark the contact not verified", NULL },
    { NULL }
  };
  g_autoptr(GOptionContext) context =
    g_option_context_new ("add|list|accept|decline|block|verify [PEER_ID]");
  g_autoptr(NatterClient) client = NULL;
  const char *verb;

  g_option_context_add_main_entries (context, entries, NULL);
  if (!g_option_context_parse (context, &argc, &argv, error))
    return EXIT_USAGE;
  if (argc < 2)
    {
      g_set_error_literal (error, NATTER_ERROR, NATTER_ERROR_INVALID_INPUT,
                           "usage: contact add|list|accept|decline|block|verify [PEER_ID]");
      return EXIT_USAGE;
    }
  verb = argv[1];

  if (g_str_equal (verb, "list"))
    {
      GListModel *contacts;

      client = open_client (NATTER_CLIENT_READ_ONLY, error);
      if (client == NULL)
        return EXIT_FAILURE;
      contacts = natter_client_get_contacts (client);
      for (guint i = 0; i < g_list_model_get_n_items (contacts); i++)
        {
          g_autoptr(NatterContact) contact = g_list_model_get_item (contacts, i);

          if (json)
            {
              g_autoptr(JsonBuilder) builder = json_builder_new ();

              json_builder_begin_object (builder);
              add_string (builder, "peer", natter_contact_get_peer_id (contact));
              add_string (builder, "name", natter_contact_get_name (contact));
              add_string (builder, "state", contact_state_name (natter_contact_get_state (contact)));
              json_builder_set_member_name (builder, "verified");
              json_builder_add_boolean_value (builder, natter_contact_get_verified (contact));
              json_builder_end_object (builder);
              print_json (builder);
            }
          else
            g_print ("%s\t%s\t%s\n", natter_contact_get_peer_id (contact),
                     contact_state_name (natter_contact_get_state (contact)),
                     natter_contact_get_display_name (contact));
        }
      return EXIT_SUCCESS;
    }

  if (argc < 3)
    {
      g_set_error (error, NATTER_ERROR, NATTER_ERROR_INVALID_INPUT,
                   "usage: contact %s PEER_ID", verb);
      return EXIT_USAGE;
    }

  if (g_str_equal (verb, "verify"))
    return contact_verify (argv[2], mark, unmark, json, error);

  client = open_client (NATTER_CLIENT_NONE, error);
  if (client == NULL)
    return EXIT_FAILURE;

  if (g_str_equal (verb, "add"))
    {
      if (natter_client_add_contact (client, argv[2], name, error) == NULL)
        return EXIT_FAILURE;
    }
  else if (g_str_equal (verb, "accept"))
    {
      if (!natter_client_accept_contact (client, argv[2], error))
        return EXIT_FAILURE;
    }
  else if (g_str_equal (verb, "decline"))
    {
      if (!natter_client_decline_contact (client, argv[2], error))
        return EXIT_FAILURE;
    }
  else if (g_str_equal (verb, "block"))
    {
      return natter_client_block_contact (client, argv[2], error) ? EXIT_SUCCESS : EXIT_FAILURE;
    }
  else
    {
      g_set_error (error, NATTER_ERROR, NATTER_ERROR_INVALID_INPUT, "unknown contact command");
      return EXIT_USAGE;
    }

  /* Stored either way; the request is sent again whenever the peer is seen online. */
  if (!flush_signaling (client, error))
    {
      g_printerr ("natter-cli: saved; it will be sent when the broker is reachable (%s)\n",
                  (*error)->message);
      g_clear_error (error);
    }
  return EXIT_SUCCESS;
}

static int
cmd_history (int argc, char **argv, GError **error)
{
  gboolean json = FALSE;
  GOptionEntry entries[] = {
    { "json", 0, 0, G_OPTION_ARG_NONE, &json, "One JSON object per message", NULL },
    { NULL }
  };
  g_autoptr(GOptionContext) context = g_option_context_new ("PEER_ID - print a conversation");
  g_autoptr(NatterClient) client = NULL;
  GListModel *messages;

  g_option_context_add_main_entries (context, entries, NULL);
  if (!g_option_context_parse (context, &argc, &argv, error))
    return EXIT_USAGE;
  if (argc < 2)
    {
      g_set_error_literal (error, NATTER_ERROR, NATTER_ERROR_INVALID_INPUT,
                           "usage: history PEER_ID [--json]");
      return EXIT_USAGE;
    }
  client = open_client (NATTER_CLIENT_READ_ONLY, error);
  if (client == NULL)
    return EXIT_FAILURE;
  messages = natter_client_get_messages (client, argv[1], error);
  if (messages == NULL)
    return EXIT_FAILURE;

  for (guint i = 0; i < g_list_model_get_n_items (messages); i++)
    {
      g_autoptr(NatterMessage) message = g_list_model_get_item (messages, i);

      if (json)
        {
          g_autoptr(JsonBuilder) builder = json_builder_new ();

          json_builder_begin_object (builder);
          add_message_fields (builder, message);
          json_builder_end_object (builder);
          print_json (builder);
        }
      else
        {
          g_autoptr(GDateTime) time = g_date_time_new_from_unix_local (
            natter_message_get_hlc_l (message) / 1000);
          g_autofree char *when = g_date_time_format (time, "%F %T");
          gboolean mine = g_str_equal (natter_message_get_author (message),
                                       natter_client_get_peer_id (client));

          g_print ("%s %s [%s] %s\n", when, mine ? ">" : "<",
                   message_state_name (natter_message_get_state (message)),
                   natter_message_get_body (message));
        }
    }
  return EXIT_SUCCESS;
}

/* ---- run: events out, commands in ---- */

typedef struct
{
  NatterClient     *client;
  GMainLoop        *loop;
  GDataInputStream *input;
  GCancellable     *cancellable;
} Runner;

static void
on_presence (NatterClient  *client,
             NatterContact *contact,
             gboolean       online,
             gpointer       user_data)
{
  g_autoptr(JsonBuilder) builder = begin_event ("presence");

  add_string (builder, "peer", natter_contact_get_peer_id (contact));
  json_builder_set_member_name (builder, "online");
  json_builder_add_boolean_value (builder, online);
  json_builder_end_object (builder);
  print_json (builder);
}

static void
on_session (NatterClient  *client,
            NatterContact *contact,
            int            state,
            gpointer       user_data)
{
  emit_simple ("session", "peer", natter_contact_get_peer_id (contact),
               "state", session_state_name (state), NULL);
}

static void
on_message (NatterClient  *client,
            NatterMessage *message,
            gpointer       user_data)
{
  g_autoptr(JsonBuilder) builder = begin_event ("message");

  add_string (builder, "peer", natter_message_get_author (message));
  add_message_fields (builder, message);
  json_builder_end_object (builder);
  print_json (builder);
}

static void
on_delivery (NatterClient       *client,
             const char         *id,
             NatterMessageState  state,
             gpointer            user_data)
{
  emit_simple ("delivery", "id", id, "state", message_state_name (state), NULL);
}

static void
on_contact_request (NatterClient  *client,
                    NatterContact *contact,
                    gpointer       user_data)
{
  emit_simple ("contact-request", "peer", natter_contact_get_peer_id (contact),
               "name", natter_contact_get_name (contact), NULL);
}

static void
on_contact_changed (NatterClient  *client,
                    NatterContact *contact,
                    gpointer       user_data)
{
  emit_simple ("contact", "peer", natter_contact_get_peer_id (contact),
               "state", contact_state_name (natter_contact_get_state (contact)), NULL);
}

static void
on_typing (NatterClient  *client,
           NatterContact *contact,
           gboolean       typing,
           gpointer       user_data)
{
  g_autoptr(JsonBuilder) builder = begin_event ("typing");

  add_string (builder, "peer", natter_contact_get_peer_id (contact));
  json_builder_set_member_name (builder, "on");
  json_builder_add_boolean_value (builder, typing);
  json_builder_end_object (builder);
  print_json (builder);
}

static void
on_synced (NatterClient *client,
           const char   *peer_id,
           gpointer      user_data)
{
  emit_simple ("synced", "peer", peer_id, NULL);
}

static void
on_broker (NatterClient *client,
           GParamSpec   *pspec,
           gpointer      user_data)
{
  static const char * const names[] = { "disconnected", "connecting", "connected" };
  NatterSignalingState state;

  g_object_get (client, "signaling-state", &state, NULL);
  /* "reason": why the last attempt failed (refused password, untrusted
   * certificate, unreachable), null while connected. */
  emit_simple ("broker", "state", names[MIN ((guint) state, 2u)],
               "reason", natter_client_get_signaling_last_error (client),
               NULL);
}

static void
emit_error (const char *context,
            GError     *error)
{
  emit_simple ("error", "context", context, "message", error->message, NULL);
}

/* ---- file transfers (issue 7) ---- */

/* At most this often per transfer: a progress line per 64 KiB frame would flood the stream. */
#define PROGRESS_INTERVAL_US (250 * 1000)

static void
add_int (JsonBuilder *builder,
         const char  *name,
         gint64       value)
{
  json_builder_set_member_name (builder, name);
  json_builder_add_int_value (builder, value);
}

static void
emit_transfer (const char     *event,
               NatterTransfer *transfer)
{
  g_autoptr(JsonBuilder) builder = begin_event (event);
  NatterTransferState state = natter_transfer_get_state (transfer);

  add_string (builder, "id", natter_transfer_get_id (transfer));
  if (g_str_equal (event, "transfer-offer"))
    {
      add_string (builder, "peer", natter_transfer_get_peer_id (transfer));
      add_string (builder, "direction",
                  natter_transfer_get_direction (transfer) == NATTER_TRANSFER_INCOMING ? "in" : "out");
      add_string (builder, "name", natter_transfer_get_file_name (transfer));
      add_int (builder, "size", natter_transfer_get_size (transfer));
      add_string (builder, "mime", natter_transfer_get_mime_type (transfer));
      add_string (builder, "sha256", natter_transfer_get_sha256 (transfer));
    }
  else if (g_str_equal (event, "transfer-progress"))
    {
      add_int (builder, "bytes", natter_transfer_get_bytes_done (transfer));
      add_int (builder, "size", natter_transfer_get_size (transfer));
      add_int (builder, "rate", (gint64) natter_transfer_get_rate (transfer));
    }
  else if (g_str_equal (event, "transfer-done"))
    {
      add_string (builder, "sha256", natter_transfer_get_sha256 (transfer));
      add_int (builder, "size", natter_transfer_get_size (transfer));
      add_string (builder, "path", natter_transfer_get_path (transfer));
    }
  else if (g_str_equal (event, "transfer-failed"))
    add_string (builder, "reason", natter_transfer_get_error (transfer));
  else
    add_string (builder, "state", natter_transfer_state_to_string (state));
  json_builder_end_object (builder);
  print_json (builder);
}

static void
on_transfer_state (NatterTransfer *transfer,
                   GParamSpec     *pspec,
                   gpointer        user_data)
{
  NatterTransferState state = natter_transfer_get_state (transfer);

  emit_transfer ("transfer-state", transfer);
  if (state == NATTER_TRANSFER_DONE)
    emit_transfer ("transfer-done", transfer);
  else if (state == NATTER_TRANSFER_FAILED)
    emit_transfer ("transfer-failed", transfer);
}

static void
on_transfer_progress (NatterTransfer *transfer,
                      GParamSpec     *pspec,
                      gpointer        user_data)
{
  gint64 *last = g_object_get_data (G_OBJECT (transfer), "natter-cli-progress");
  gint64 now = g_get_monotonic_time ();

  if (now - *last < PROGRESS_INTERVAL_US &&
      natter_transfer_get_bytes_done (transfer) != natter_transfer_get_size (transfer))
    return;
  *last = now;
  emit_transfer ("transfer-progress", transfer);
}

static void
on_transfer_verified (NatterTransfer *transfer,
                      gint64          offset,
                      gint64          found,
                      gpointer        user_data)
{
  g_autoptr(JsonBuilder) builder = begin_event ("transfer-resume");

  add_string (builder, "id", natter_transfer_get_id (transfer));
  add_int (builder, "offset", offset);
  add_int (builder, "found", found);
  json_builder_end_object (builder);
  print_json (builder);
}

static void
watch_transfer (NatterTransfer *transfer)
{
  g_object_set_data_full (G_OBJECT (transfer), "natter-cli-progress", g_new0 (gint64, 1), g_free);
  g_signal_connect (transfer, "notify::state", G_CALLBACK (on_transfer_state), NULL);
  g_signal_connect (transfer, "notify::bytes-done", G_CALLBACK (on_transfer_progress), NULL);
  g_signal_connect (transfer, "verified", G_CALLBACK (on_transfer_verified), NULL);
}

static void
on_transfer_added (NatterClient   *client,
                   NatterTransfer *transfer,
                   gpointer        user_data)
{
  watch_transfer (transfer);
  emit_transfer ("transfer-offer", transfer);
}

/* Transfers from earlier runs report their progress too. */
static void
watch_transfers (NatterClient *client)
{
  GListModel *transfers = natter_client_get_transfers (client);

  for (guint i = 0; i < g_list_model_get_n_items (transfers); i++)
    {
      g_autoptr(NatterTransfer) transfer = g_list_model_get_item (transfers, i);

      watch_transfer (transfer);
    }
  g_signal_connect (client, "transfer-added", G_CALLBACK (on_transfer_added), NULL);
}

/* Peak and current resident memory of this process, from /proc (tests, benchmarks). */
static void
emit_stats (void)
{
  g_autoptr(JsonBuilder) builder = begin_event ("stats");
  g_autofree char *status = NULL;
  g_auto(GStrv) lines = NULL;

  if (g_file_get_contents ("/proc/self/status", &status, NULL, NULL))
    lines = g_strsplit (status, "\n", -1);
  for (guint i = 0; lines != NULL && lines[i] != NULL; i++)
    {
      if (g_str_has_prefix (lines[i], "VmHWM:"))
        add_int (builder, "vm_hwm_kb", g_ascii_strtoll (lines[i] + 6, NULL, 10));
      else if (g_str_has_prefix (lines[i], "VmRSS:"))
        add_int (builder, "vm_rss_kb", g_ascii_strtoll (lines[i] + 6, NULL, 10));
    }
  json_builder_end_object (builder);
  print_json (builder);
}

static gboolean
is_transfer_command (const char *cmd)
{
  return g_str_has_suffix (cmd, "-file") || g_str_equal (cmd, "stats");
}

/* {"cmd":"send-file","to":PEER,"path":P}, {"cmd":"accept-file","id":ID[,"dir":D]},
 * {"cmd":"decline-file|pause-file|resume-file|cancel-file","id":ID}, {"cmd":"stats"} */
static void
run_transfer_command (NatterClient *client,
                      const char   *cmd,
                      const char   *to,
                      JsonObject   *command)
{
  g_autoptr(GError) error = NULL;
  const char *id = NULL;
  NatterTransfer *transfer;

  if (g_str_equal (cmd, "stats"))
    {
      emit_stats ();
      return;
    }
  if (g_str_equal (cmd, "send-file"))
    {
      const char *path = NULL;
      g_autoptr(GFile) file = NULL;
      g_autoptr(NatterTransfer) sent = NULL;

      if (to == NULL || !natter_json_get_string (command, "path", TRUE, 4096, &path, &error))
        {
          if (error == NULL)
            g_set_error_literal (&error, NATTER_ERROR, NATTER_ERROR_INVALID_INPUT,
                                 "send-file needs \"to\" and \"path\"");
          emit_error (cmd, error);
          return;
        }
      file = g_file_new_for_commandline_arg (path);
      sent = natter_client_send_file (client, to, file, &error);
      if (sent == NULL)
        emit_error (cmd, error);
      return;
    }

  if (!natter_json_get_string (command, "id", TRUE, 64, &id, &error))
    {
      emit_error (cmd, error);
      return;
    }
  transfer = natter_client_lookup_transfer (client, id);
  if (transfer == NULL)
    g_set_error_literal (&error, NATTER_ERROR, NATTER_ERROR_INVALID_INPUT, "no such transfer");
  else if (g_str_equal (cmd, "accept-file"))
    {
      const char *dir = NULL;
      g_autoptr(GFile) folder = NULL;

      if (natter_json_get_string (command, "dir", FALSE, 4096, &dir, &error))
        {
          folder = dir ? g_file_new_for_commandline_arg (dir) : NULL;
          natter_client_accept_transfer (client, transfer, folder, &error);
        }
    }
  else if (g_str_equal (cmd, "decline-file"))
    natter_client_decline_transfer (client, transfer, &error);
  else if (g_str_equal (cmd, "pause-file"))
    natter_client_pause_transfer (client, transfer, &error);
  else if (g_str_equal (cmd, "resume-file"))
    natter_client_resume_transfer (client, transfer, &error);
  else if (g_str_equal (cmd, "cancel-file"))
    natter_client_cancel_transfer (client, transfer, &error);
  else
    g_set_error_literal (&error, NATTER_ERROR, NATTER_ERROR_INVALID_INPUT, "unknown command");
  if (error != NULL)
    emit_error (cmd, error);
}

static void
run_command (Runner     *runner,
             const char *line)
{
  g_autoptr(JsonObject) command = NULL;
  g_autoptr(GError) error = NULL;
  const char *cmd = NULL;
  const char *to = NULL;

  command = natter_json_parse_object (line, strlen (line), 1024 * 1024, NATTER_JSON_MAX_DEPTH,
                                      &error);
  if (command == NULL ||
      !natter_json_get_string (command, "cmd", TRUE, 32, &cmd, &error) ||
      !natter_json_get_string (command, "to", FALSE, 256, &to, &error))
    {
      emit_error ("command", error);
      return;
    }

  if (g_str_equal (cmd, "send"))
    {
      const char *text = NULL;
      const char *reply_to = NULL;
      g_autoptr(NatterMessage) message = NULL;

      if (to == NULL ||
          !natter_json_get_string (command, "text", TRUE, G_MAXSIZE, &text, &error) ||
          !natter_json_get_string (command, "reply_to", FALSE, 128, &reply_to, &error))
        {
          if (error == NULL)
            g_set_error_literal (&error, NATTER_ERROR, NATTER_ERROR_INVALID_INPUT,
                                 "send needs \"to\" and \"text\"");
          emit_error ("send", error);
          return;
        }
      hold_events ();
      message = natter_client_send_message (runner->client, to, text, reply_to, &error);
      if (message == NULL)
        {
          release_events ();
          emit_error ("send", error);
          return;
        }
      {
        g_autoptr(JsonBuilder) builder = begin_event ("queued");
        g_autoptr(GPtrArray) later = g_steal_pointer (&held_events);

        add_string (builder, "peer", to);
        add_message_fields (builder, message);
        json_builder_end_object (builder);
        print_json (builder);
        held_events = g_steal_pointer (&later);
        release_events ();
      }
    }
  else if (g_str_equal (cmd, "typing") && to != NULL)
    {
      gboolean on = TRUE;

      if (!natter_json_get_bool (command, "on", FALSE, &on, &error) ||
          !natter_client_set_typing (runner->client, to, on, &error))
        emit_error ("typing", error);
    }
  else if (g_str_equal (cmd, "read") && to != NULL)
    {
      if (!natter_client_mark_read (runner->client, to, &error))
        emit_error ("read", error);
    }
  else if (g_str_equal (cmd, "add") && to != NULL)
    {
      const char *name = NULL;

      natter_json_get_string (command, "name", FALSE, 256, &name, NULL);
      if (natter_client_add_contact (runner->client, to, name, &error) == NULL)
        emit_error ("add", error);
    }
  else if (g_str_equal (cmd, "accept") && to != NULL)
    {
      if (!natter_client_accept_contact (runner->client, to, &error))
        emit_error ("accept", error);
    }
  else if (g_str_equal (cmd, "connect") && to != NULL)
    natter_client_connect (runner->client, to);
  else if (is_transfer_command (cmd))
    run_transfer_command (runner->client, cmd, to, command);
  else if (g_str_equal (cmd, "quit"))
    g_main_loop_quit (runner->loop);
  else
    {
      g_set_error_literal (&error, NATTER_ERROR, NATTER_ERROR_INVALID_INPUT, "unknown command");
      emit_error ("command", error);
    }
}

static void
read_line_cb (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  Runner *runner = user_data;
  g_autoptr(GError) error = NULL;
  g_autofree char *line = NULL;

  line = g_data_input_stream_read_line_finish_utf8 (G_DATA_INPUT_STREAM (source), result, NULL,
                                                    &error);
  if (line == NULL)
    {
      /* End of input is not the end of the run: --duration or a signal ends it. */
      if (error != NULL && !g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        emit_error ("stdin", error);
      return;
    }
  if (line[0] != '\0')
    run_command (runner, line);
  g_data_input_stream_read_line_async (runner->input, G_PRIORITY_DEFAULT, runner->cancellable,
                                       read_line_cb, runner);
}

static gboolean
quit_cb (gpointer user_data)
{
  g_main_loop_quit (user_data);
  return G_SOURCE_REMOVE;
}

static void
connect_events (NatterClient *client)
{
  g_signal_connect (client, "presence-changed", G_CALLBACK (on_presence), NULL);
  g_signal_connect (client, "session-state-changed", G_CALLBACK (on_session), NULL);
  g_signal_connect (client, "message-received", G_CALLBACK (on_message), NULL);
  g_signal_connect (client, "message-state-changed", G_CALLBACK (on_delivery), NULL);
  g_signal_connect (client, "contact-request", G_CALLBACK (on_contact_request), NULL);
  g_signal_connect (client, "contact-changed", G_CALLBACK (on_contact_changed), NULL);
  g_signal_connect (client, "typing", G_CALLBACK (on_typing), NULL);
  g_signal_connect (client, "synced", G_CALLBACK (on_synced), NULL);
  g_signal_connect (client, "notify::signaling-state", G_CALLBACK (on_broker), NULL);
}

static int
cmd_run (int argc, char **argv, GError **error)
{
  gboolean accept_contacts = FALSE;
  g_autofree char *accept_files = NULL;
  double duration = 0;
  GOptionEntry entries[] = {
    { "accept-contacts", 0, 0, G_OPTION_ARG_NONE, &accept_contacts,
      "Accept every contact request", NULL },
    { "accept-files", 0, 0, G_OPTION_ARG_FILENAME, &accept_files,
      "Accept every file offer into DIR", "DIR" },
    { "duration", 0, 0, G_OPTION_ARG_DOUBLE, &duration, "Stop after SECONDS", "SECONDS" },
    { NULL }
  };
  g_autoptr(GOptionContext) context = g_option_context_new ("- stay online and print events");
  g_autoptr(GInputStream) stdin_stream = NULL;
  g_autoptr(NatterClient) client = NULL;
  g_autoptr(GMainLoop) loop = NULL;
  Runner runner = { 0 };

  g_option_context_add_main_entries (context, entries, NULL);
  if (!g_option_context_parse (context, &argc, &argv, error))
    return EXIT_USAGE;
  client = open_client (NATTER_CLIENT_NONE, error);
  if (client == NULL)
    return EXIT_FAILURE;
  natter_client_set_auto_accept (client, accept_contacts);
  natter_client_set_auto_accept_files (client, accept_files);

  loop = g_main_loop_new (NULL, FALSE);
  runner.client = client;
  runner.loop = loop;
  runner.cancellable = g_cancellable_new ();
  stdin_stream = g_unix_input_stream_new (0, FALSE);
  runner.input = g_data_input_stream_new (stdin_stream);
  g_data_input_stream_read_line_async (runner.input, G_PRIORITY_DEFAULT, runner.cancellable,
                                       read_line_cb, &runner);

  connect_events (client);
  watch_transfers (client);
  g_unix_signal_add (SIGINT, quit_cb, loop);
  g_unix_signal_add (SIGTERM, quit_cb, loop);
  if (duration > 0)
    g_timeout_add ((guint) (duration * 1000), quit_cb, loop);

  emit_simple ("ready", "peer_id", natter_client_get_peer_id (client), NULL);
  natter_client_start (client);
  g_main_loop_run (loop);

  g_cancellable_cancel (runner.cancellable);
  natter_client_stop (client);
  g_clear_object (&runner.input);
  g_clear_object (&runner.cancellable);
  emit_simple ("stopped", "peer_id", natter_client_get_peer_id (client), NULL);
  return EXIT_SUCCESS;
}

typedef struct
{
  NatterMessageState wanted;
  NatterMessage     *message;
  gboolean           reached;
} SendWait;

static void
send_state_cb (NatterMessage *message,
               GParamSpec    *pspec,
               SendWait      *wait)
{
  if (natter_message_get_state (message) >= wait->wanted)
    wait->reached = TRUE;
}

static int
cmd_send (int argc, char **argv, GError **error)
{
  g_autofree char *wait_for = NULL;
  double timeout = 30;
  GOptionEntry entries[] = {
    { "wait", 0, 0, G_OPTION_ARG_STRING, &wait_for,
      "Wait until the message is none|sent|delivered (default delivered)", "STATE" },
    { "timeout", 0, 0, G_OPTION_ARG_DOUBLE, &timeout, "Give up after SECONDS (default 30)",
      "SECONDS" },
    { NULL }
  };
  g_autoptr(GOptionContext) context = g_option_context_new ("PEER_ID TEXT - send a message");
  g_autoptr(NatterClient) client = NULL;
  g_autoptr(NatterMessage) message = NULL;
  GListModel *messages;
  SendWait wait = { NATTER_MESSAGE_DELIVERED, NULL, FALSE };

  g_option_context_add_main_entries (context, entries, NULL);
  if (!g_option_context_parse (context, &argc, &argv, error))
    return EXIT_USAGE;
  if (argc < 3)
    {
      g_set_error_literal (error, NATTER_ERROR, NATTER_ERROR_INVALID_INPUT,
                           "usage: send PEER_ID TEXT [--wait none|sent|delivered] [--timeout S]");
      return EXIT_USAGE;
    }
  if (wait_for == NULL || g_str_equal (wait_for, "delivered"))
    wait.wanted = NATTER_MESSAGE_DELIVERED;
  else if (g_str_equal (wait_for, "sent"))
    wait.wanted = NATTER_MESSAGE_SENT;
  else if (g_str_equal (wait_for, "none"))
    wait.wanted = NATTER_MESSAGE_QUEUED;
  else
    {
      g_set_error_literal (error, NATTER_ERROR, NATTER_ERROR_INVALID_INPUT,
                           "--wait takes none, sent or delivered");
      return EXIT_USAGE;
    }

  client = open_client (NATTER_CLIENT_NONE, error);
  if (client == NULL)
    return EXIT_FAILURE;
  /* The list keeps the object state updates are delivered to. */
  messages = natter_client_get_messages (client, argv[1], error);
  if (messages == NULL)
    return EXIT_FAILURE;
  message = natter_client_send_message (client, argv[1], argv[2], NULL, error);
  if (message == NULL)
    return EXIT_FAILURE;
  g_print ("%s\n", natter_message_get_id (message));
  if (wait.wanted == NATTER_MESSAGE_QUEUED)
    return EXIT_SUCCESS;

  wait.message = message;
  g_signal_connect (message, "notify::state", G_CALLBACK (send_state_cb), &wait);
  natter_client_start (client);
  if (!spin_until (&wait.reached, g_get_monotonic_time () + (gint64) (timeout * G_USEC_PER_SEC)))
    {
      g_set_error (error, NATTER_ERROR, NATTER_ERROR_TIMED_OUT,
                   "Timed out after %.0f s: the message is %s (it stays queued and will be "
                   "sent the next time both of you are online)",
                   timeout, message_state_name (natter_message_get_state (message)));
      natter_client_stop (client);
      return EXIT_TIMEOUT;
    }
  g_signal_handlers_disconnect_by_data (message, &wait);
  natter_client_stop (client);
  return EXIT_SUCCESS;
}

typedef struct
{
  gboolean reached;
  gboolean ended;     /* a state that will not reach "done" by itself */
  gboolean offered;   /* --wait offered: the offer is out */
} SendFileWait;

static void
send_file_state_cb (NatterTransfer *transfer,
                    GParamSpec     *pspec,
                    SendFileWait   *wait)
{
  NatterTransferState state = natter_transfer_get_state (transfer);

  if (state == NATTER_TRANSFER_DONE || (wait->offered && state >= NATTER_TRANSFER_OFFERED))
    wait->reached = TRUE;
  else if (state == NATTER_TRANSFER_FAILED || state == NATTER_TRANSFER_CANCELLED ||
           state == NATTER_TRANSFER_DECLINED)
    wait->ended = wait->reached = TRUE;
}

static int
cmd_send_file (int argc, char **argv, GError **error)
{
  g_autofree char *wait_for = NULL;
  double timeout = 600;
  GOptionEntry entries[] = {
    { "wait", 0, 0, G_OPTION_ARG_STRING, &wait_for,
      "Wait until the transfer is none|offered|done (default done)", "STATE" },
    { "timeout", 0, 0, G_OPTION_ARG_DOUBLE, &timeout, "Give up after SECONDS (default 600)",
      "SECONDS" },
    { NULL }
  };
  g_autoptr(GOptionContext) context = g_option_context_new ("PEER_ID PATH - send a file");
  g_autoptr(NatterClient) client = NULL;
  g_autoptr(NatterTransfer) transfer = NULL;
  g_autoptr(GFile) file = NULL;
  SendFileWait wait = { FALSE, FALSE, FALSE };

  g_option_context_add_main_entries (context, entries, NULL);
  if (!g_option_context_parse (context, &argc, &argv, error))
    return EXIT_USAGE;
  if (argc < 3 || (wait_for != NULL && !g_str_equal (wait_for, "none") &&
                   !g_str_equal (wait_for, "offered") && !g_str_equal (wait_for, "done")))
    {
      g_set_error_literal (error, NATTER_ERROR, NATTER_ERROR_INVALID_INPUT,
                           "usage: send-file PEER_ID PATH [--wait none|offered|done] [--timeout S]");
      return EXIT_USAGE;
    }
  wait.offered = g_strcmp0 (wait_for, "offered") == 0;

  client = open_client (NATTER_CLIENT_NONE, error);
  if (client == NULL)
    return EXIT_FAILURE;
  file = g_file_new_for_commandline_arg (argv[2]);
  transfer = natter_client_send_file (client, argv[1], file, error);
  if (transfer == NULL)
    return EXIT_FAILURE;
  g_print ("%s\n", natter_transfer_get_id (transfer));
  if (g_strcmp0 (wait_for, "none") == 0)
    return EXIT_SUCCESS;  /* stored: the next `run` of this profile offers it */

  g_signal_connect (transfer, "notify::state", G_CALLBACK (send_file_state_cb), &wait);
  natter_client_start (client);
  if (!spin_until (&wait.reached, g_get_monotonic_time () + (gint64) (timeout * G_USEC_PER_SEC)))
    {
      g_set_error (error, NATTER_ERROR, NATTER_ERROR_TIMED_OUT,
                   "Timed out after %.0f s: the transfer is %s, %" G_GUINT64_FORMAT " of %"
                   G_GUINT64_FORMAT " bytes (it continues the next time this profile runs)",
                   timeout, natter_transfer_state_to_string (natter_transfer_get_state (transfer)),
                   natter_transfer_get_bytes_done (transfer), natter_transfer_get_size (transfer));
      g_signal_handlers_disconnect_by_data (transfer, &wait);
      natter_client_stop (client);
      return EXIT_TIMEOUT;
    }
  g_signal_handlers_disconnect_by_data (transfer, &wait);
  natter_client_stop (client);
  if (wait.ended)
    {
      g_set_error (error, NATTER_ERROR, NATTER_ERROR_FAILED, "The transfer was %s%s%s",
                   natter_transfer_state_to_string (natter_transfer_get_state (transfer)),
                   natter_transfer_get_error (transfer) ? ": " : "",
                   natter_transfer_get_error (transfer) ? natter_transfer_get_error (transfer) : "");
      return EXIT_FAILURE;
    }
  return EXIT_SUCCESS;
}

static const struct
{
  const char *name;
  int (*func) (int argc, char **argv, GError **error);
  const char *help;
} commands[] = {
  { "init", cmd_init, "init --name NAME          create a profile and print its peer id" },
  { "id", cmd_id, "id                        print the profile's peer id" },
  { "contact", cmd_contact,
    "contact add|list|accept|decline|block|verify [PEER_ID] [--name NAME] [--mark|--unmark]" },
  { "run", cmd_run,
    "run [--accept-contacts] [--accept-files DIR] [--duration S]   stay online; JSON events" },
  { "send", cmd_send, "send PEER_ID TEXT [--wait none|sent|delivered] [--timeout S]" },
  { "history", cmd_history, "history PEER_ID [--json]  print a conversation in display order" },
  { "send-file", cmd_send_file,
    "send-file PEER_ID PATH [--wait none|offered|done] [--timeout S]   send a file" },
};

static void
print_usage (void)
{
  g_printerr ("usage: natter-cli [--profile DIR] [--broker URL] [--ice-address ADDR]... COMMAND\n"
              "commands:\n");
  for (guint i = 0; i < G_N_ELEMENTS (commands); i++)
    g_printerr ("  %s\n", commands[i].help);
}

int
main (int   argc,
      char *argv[])
{
  GOptionEntry entries[] = {
    { "profile", 'p', 0, G_OPTION_ARG_FILENAME, &opts.profile, "Profile directory", "DIR" },
    { "broker", 'b', 0, G_OPTION_ARG_STRING, &opts.broker,
      "MQTT broker (mqtt://HOST:PORT or mqtts://HOST:PORT)", "URL" },
    { "broker-user", 0, 0, G_OPTION_ARG_STRING, &opts.broker_user, "Broker user name", "NAME" },
    { "broker-password", 0, 0, G_OPTION_ARG_STRING, &opts.broker_password,
      "Broker password", "PASSWORD" },
    { "ca-file", 0, 0, G_OPTION_ARG_FILENAME, &opts.ca_file, "CA certificate for mqtts", "FILE" },
    { "ice-address", 0, 0, G_OPTION_ARG_STRING_ARRAY, &opts.ice_addresses,
      "Restrict ICE host candidates to ADDR (repeatable)", "ADDR" },
    { "stun", 0, 0, G_OPTION_ARG_STRING, &opts.stun, "STUN server (stun://HOST:PORT)", "URL" },
    { "turn", 0, 0, G_OPTION_ARG_STRING_ARRAY, &opts.turn,
      "TURN server (turn://USER:PASS@HOST:PORT, repeatable)", "URL" },
    { NULL }
  };
  g_autoptr(GOptionContext) context = NULL;
  g_autoptr(GError) error = NULL;
  int status;

  setlocale (LC_ALL, "");
  /* GLib prints debug and info messages to stdout by default; with
   * G_MESSAGES_DEBUG set they would corrupt the JSON event stream. */
  g_log_writer_default_set_use_stderr (TRUE);
  gst_init (NULL, NULL);

  context = g_option_context_new ("COMMAND [ARGS...]");
  g_option_context_add_main_entries (context, entries, NULL);
  /* Options after the command belong to the command. */
  g_option_context_set_strict_posix (context, TRUE);
  g_option_context_set_help_enabled (context, TRUE);
  if (!g_option_context_parse (context, &argc, &argv, &error))
    {
      g_printerr ("natter-cli: %s\n", error->message);
      return EXIT_USAGE;
    }
  if (opts.profile == NULL)
    opts.profile = g_build_filename (g_get_user_data_dir (), "natter", "default", NULL);
  if (opts.broker == NULL)
    opts.broker = g_strdup ("mqtt://127.0.0.1:1883");
  if (argc < 2)
    {
      print_usage ();
      return EXIT_USAGE;
    }

  for (guint i = 0; i < G_N_ELEMENTS (commands); i++)
    {
      if (!g_str_equal (argv[1], commands[i].name))
        continue;
      status = commands[i].func (argc - 1, argv + 1, &error);
      if (error != NULL)
        g_printerr ("natter-cli: %s\n", error->message);
      return status;
    }

  print_usage ();
  return EXIT_USAGE;
}
