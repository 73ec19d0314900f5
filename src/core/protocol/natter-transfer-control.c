/* natter-transfer-control.c: the file protocol's control frames on the chat channel, out and in. */
#define G_LOG_DOMAIN "natter-transfer"

#include "natter-transfer-manager.h"

#include <glib/gstdio.h>

#include "natter-chat-protocol.h"
#include "natter-error.h"
#include "natter-json.h"
#include "natter-transfer-io.h"
#include "natter-transfer-manager-private.h"
#include "natter-transfer-private.h"

#define OP_MAX       16

/* ---- control frames ---- */

gboolean
_natter_transfer_manager_send_control (Job        *job,
                                       const char *op,
                                       JsonObject *extra)
{
  NatterTransfer *t = job->transfer;
  g_autoptr(NatterChatProtocol) protocol =
    _natter_transfer_manager_link_get_protocol (job->manager, t->peer_id);
  g_autoptr(JsonObject) fields = extra ? json_object_ref (extra) : json_object_new ();
  g_autoptr(GError) error = NULL;

  if (protocol == NULL)
    return FALSE;
  json_object_set_string_member (fields, "op", op);
  json_object_set_string_member (fields, "id", t->id);
  if (!natter_chat_protocol_send_file (protocol, t->conversation, fields, &error))
    {
      g_info ("Cannot send %s for transfer %.8s: %s", op, t->id, error->message);
      return FALSE;
    }
  g_debug ("Transfer %.8s: sent %s", t->id, op);
  return TRUE;
}

gboolean
_natter_transfer_manager_send_offer (Job *job)
{
  NatterTransfer *t = job->transfer;
  g_autoptr(JsonObject) fields = json_object_new ();
  g_autoptr(JsonArray) hlc = json_array_new ();

  json_object_set_string_member (fields, "name", t->file_name);
  json_object_set_int_member (fields, "size", (gint64) t->size);
  json_object_set_string_member (fields, "mime", t->mime_type);
  json_object_set_string_member (fields, "sha256", t->sha256);
  json_object_set_int_member (fields, "chunk", t->chunk);
  json_array_add_int_element (hlc, t->hlc_l);
  json_array_add_int_element (hlc, t->hlc_c);
  json_object_set_array_member (fields, "hlc", g_steal_pointer (&hlc));
  return _natter_transfer_manager_send_control (job, "offer", fields);
}

gboolean
_natter_transfer_manager_send_accept (Job     *job,
                                      guint64  offset)
{
  g_autoptr(JsonObject) fields = json_object_new ();

  json_object_set_int_member (fields, "offset", (gint64) offset);
  return _natter_transfer_manager_send_control (job, "accept", fields);
}

/* The frame that tells the peer about a state it must mirror. */
gboolean
_natter_transfer_manager_send_state (Job *job)
{
  NatterTransfer *t = job->transfer;
  g_autoptr(JsonObject) fields = json_object_new ();

  switch (t->state)
    {
    case NATTER_TRANSFER_DONE:
      json_object_set_string_member (fields, "sha256", t->sha256);
      return _natter_transfer_manager_send_control (job, "done", fields);
    case NATTER_TRANSFER_FAILED:
      {
        g_autofree char *reason = g_strndup (t->error ? t->error : "failed",
                                             NATTER_TRANSFER_REASON_MAX);

        /* Cut on a character boundary: the frame must stay valid UTF-8. */
        if (!g_utf8_validate (reason, -1, NULL))
          {
            const char *end = NULL;

            g_utf8_validate (reason, -1, &end);
            reason[end - reason] = '\0';
          }
        json_object_set_string_member (fields, "reason", reason);
        return _natter_transfer_manager_send_control (job, "fail", fields);
      }
    case NATTER_TRANSFER_CANCELLED:
      return _natter_transfer_manager_send_control (job, "cancel", NULL);
    case NATTER_TRANSFER_DECLINED:
      return _natter_transfer_manager_send_control (job, "decline", NULL);
    case NATTER_TRANSFER_PAUSED:
      return _natter_transfer_manager_send_control (job, "pause", NULL);
    case NATTER_TRANSFER_PREPARING:
    case NATTER_TRANSFER_OFFERED:
    case NATTER_TRANSFER_ACCEPTED:
    case NATTER_TRANSFER_ACTIVE:
    default:
      return FALSE;
    }
}

/* ---- the control frames' dispatcher ---- */

static gboolean
check_members (JsonObject  *object,
               const char  *extra,
               GError     **error)
{
  const char *members[] = { "t", "conv", "op", "id", extra, NULL };

  return natter_json_check_members (object, members, error);
}

static Link *
link_for_conversation (NatterTransferManager *self,
                       const char            *conversation)
{
  GHashTableIter iter;
  gpointer value;

  g_hash_table_iter_init (&iter, self->links);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    if (g_strcmp0 (((Link *) value)->conversation, conversation) == 0)
      return value;
  return NULL;
}

/* Text from a peer, shown to a person: no control or format characters, bounded. */
static char *
clean_text (const char *text)
{
  g_autofree char *valid = g_utf8_make_valid (text, -1);
  GString *clean = g_string_new (NULL);

  for (const char *p = valid; *p != '\0'; p = g_utf8_next_char (p))
    {
      gunichar ch = g_utf8_get_char (p);
      GUnicodeType type = g_unichar_type (ch);

      if (type != G_UNICODE_CONTROL && type != G_UNICODE_FORMAT)
        g_string_append_unichar (clean, ch);
    }
  return g_string_free (clean, FALSE);
}

void
_natter_transfer_manager_file_frame_cb (NatterChatProtocol    *protocol,
                                        const char            *conversation,
                                        JsonObject            *object,
                                        NatterTransferManager *self)
{
  g_autoptr(GError) error = NULL;
  const char *op = NULL;
  const char *id = NULL;
  Link *link = link_for_conversation (self, conversation);
  const char *peer_id;
  NatterTransfer *t;
  gboolean outgoing;
  Job *job;

  if (link == NULL)
    return;
  peer_id = link->peer_id;
  if (!natter_json_get_string (object, "op", TRUE, OP_MAX, &op, &error) ||
      !natter_json_get_string (object, "id", TRUE, NATTER_TRANSFER_ID_LENGTH, &id, &error))
    goto refused;

  if (g_str_equal (op, "offer"))
    {
      _natter_transfer_manager_receiver_handle_offer (self, link, object);
      return;
    }

  job = g_hash_table_lookup (self->jobs, id);
  /* A peer only ever speaks about its own transfers with us. */
  if (job == NULL || !g_str_equal (job->transfer->peer_id, peer_id))
    {
      g_info ("Ignored \"%s\" for an unknown transfer from %.8s…", op, peer_id);
      return;
    }
  t = job->transfer;
  outgoing = t->direction == NATTER_TRANSFER_OUTGOING;
  g_debug ("Transfer %.8s: received %s while %s", t->id, op,
           natter_transfer_state_to_string (t->state));

  if (g_str_equal (op, "accept") && outgoing)
    {
      gint64 offset = 0;

      if (!check_members (object, "offset", &error) ||
          !natter_json_get_int (object, "offset", TRUE, 0, (gint64) t->size, &offset, &error))
        goto refused;
      if (offset % t->chunk != 0 && (guint64) offset != t->size)
        {
          g_set_error_literal (&error, NATTER_ERROR, NATTER_ERROR_INVALID_INPUT,
                               "offset not on a chunk boundary");
          goto refused;
        }
      job->resume_pending = FALSE;
      _natter_transfer_manager_sender_handle_accept (job, offset);
    }
  else if (g_str_equal (op, "done") && outgoing)
    {
      const char *sha256 = NULL;

      if (!check_members (object, "sha256", &error) ||
          !natter_json_get_string (object, "sha256", TRUE, 64, &sha256, &error))
        goto refused;
      if (g_strcmp0 (sha256, t->sha256) != 0)
        _natter_transfer_manager_job_finish (job, NATTER_TRANSFER_FAILED,
                                             "The receiver saved a different file", FALSE);
      else if (t->state != NATTER_TRANSFER_DONE)
        {
          _natter_transfer_set_bytes_done (t, t->size, TRUE);
          _natter_transfer_manager_job_finish (job, NATTER_TRANSFER_DONE, NULL, FALSE);
        }
    }
  else if (g_str_equal (op, "fail"))
    {
      const char *reason = NULL;
      g_autofree char *text = NULL;

      if (!check_members (object, "reason", &error) ||
          !natter_json_get_string (object, "reason", TRUE, NATTER_TRANSFER_REASON_MAX, &reason,
                                   &error))
        goto refused;
      if (natter_transfer_state_is_final (t->state))
        return;
      {
        g_autofree char *clean = clean_text (reason);

        text = g_strdup_printf ("The peer reported: %s", clean);
      }
      _natter_transfer_manager_job_finish (job, NATTER_TRANSFER_FAILED, text, FALSE);
    }
  else if (g_str_equal (op, "decline") && outgoing)
    {
      if (!check_members (object, NULL, &error))
        goto refused;
      if (!natter_transfer_state_is_final (t->state))
        _natter_transfer_manager_job_finish (job, NATTER_TRANSFER_DECLINED, NULL, FALSE);
    }
  else if (g_str_equal (op, "cancel"))
    {
      if (!check_members (object, NULL, &error))
        goto refused;
      if (!natter_transfer_state_is_final (t->state))
        _natter_transfer_manager_job_finish (job, NATTER_TRANSFER_CANCELLED, NULL, FALSE);
    }
  else if (g_str_equal (op, "pause"))
    {
      if (!check_members (object, NULL, &error))
        goto refused;
      /* A pause from before our resume reached them (their answer to our
       * offer, or a connection that died with our resume on it): the resume
       * that follows it wins. */
      if (outgoing && job->resume_pending)
        return;
      if (t->state == NATTER_TRANSFER_ACCEPTED || t->state == NATTER_TRANSFER_ACTIVE ||
          t->state == NATTER_TRANSFER_OFFERED)
        {
          _natter_transfer_manager_job_stop_run (job);
          job->paused_locally = FALSE;
          _natter_transfer_manager_job_set_state (job, NATTER_TRANSFER_PAUSED);
        }
    }
  else if (g_str_equal (op, "resume") && !outgoing)
    {
      if (!check_members (object, NULL, &error))
        goto refused;
      if (t->state == NATTER_TRANSFER_FAILED)
        {
          /* A retry after a failed check starts over: the data on disk did not verify. */
          g_autofree char *checkpoints = _natter_transfer_manager_checkpoint_path (job);

          g_unlink (checkpoints);
        }
      if (t->state == NATTER_TRANSFER_PAUSED || t->state == NATTER_TRANSFER_FAILED)
        {
          _natter_transfer_manager_job_set_state (job, NATTER_TRANSFER_ACCEPTED);
          _natter_transfer_manager_job_start_receive (job);
        }
    }
  else
    {
      g_set_error (&error, NATTER_ERROR, NATTER_ERROR_INVALID_INPUT,
                   "\"%s\" is not valid for this transfer", op);
      goto refused;
    }
  return;

refused:
  g_info ("Refused a file frame from %.8s…: %s", peer_id, error->message);
}
