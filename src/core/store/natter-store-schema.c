/* natter-store-schema.c: NatterStore's schema: one migration per version, run on open. */
#define G_LOG_DOMAIN "natter-store"

#include "natter-store-private.h"

#include <glib/gi18n-lib.h>

#include "natter-error.h"

/* ------------------------------------------------------------------ */
/* Schema and migrations                                               */
/* ------------------------------------------------------------------ */

/* v1: identity metadata, contacts, messages.  `num` is an explicit
 * INTEGER PRIMARY KEY so the rowid that FTS and list models key on
 * survives VACUUM; the content id is UNIQUE.  messages_unacked holds only
 * queued/sent messages (a handful), so cumulative acks and resends do not
 * scan a long history. */
static gboolean
migrate_v0_to_v1 (NatterStore  *self,
                  GError      **error)
{
  return _natter_store_exec (self,
    "CREATE TABLE meta ("
    "  key   TEXT PRIMARY KEY NOT NULL,"
    "  value TEXT NOT NULL"
    ") STRICT;"
    "CREATE TABLE contacts ("
    "  peer_id    TEXT PRIMARY KEY NOT NULL,"
    "  name       TEXT,"
    "  state      INTEGER NOT NULL,"
    "  verified   INTEGER NOT NULL DEFAULT 0,"
    "  created_at INTEGER NOT NULL,"
    "  last_seen  INTEGER NOT NULL DEFAULT 0"
    ") STRICT;"
    "CREATE TABLE messages ("
    "  num          INTEGER PRIMARY KEY,"
    "  id           TEXT NOT NULL UNIQUE,"
    "  conversation TEXT NOT NULL,"
    "  author       TEXT NOT NULL,"
    "  seq          INTEGER NOT NULL,"
    "  hlc_l        INTEGER NOT NULL,"
    "  hlc_c        INTEGER NOT NULL,"
    "  body         TEXT NOT NULL,"
    "  reply_to     TEXT,"
    "  state        INTEGER NOT NULL DEFAULT 0,"
    "  late         INTEGER NOT NULL DEFAULT 0,"
    "  received_at  INTEGER NOT NULL,"
    "  UNIQUE (conversation, author, seq)"
    ") STRICT;"
    "CREATE INDEX messages_display ON messages (conversation, hlc_l, hlc_c, author, id);"
    "CREATE INDEX messages_unacked ON messages (conversation, author, seq) WHERE state < 2;",
    error);
}

/* v2: full-text search over bodies, an external-content FTS5 table kept in
 * step by triggers and filled from the rows that already exist. */
static gboolean
migrate_v1_to_v2 (NatterStore  *self,
                  GError      **error)
{
  return _natter_store_exec (self,
    "CREATE VIRTUAL TABLE messages_fts USING fts5 ("
    "  body, content='messages', content_rowid='num',"
    "  tokenize='unicode61 remove_diacritics 2');"
    "CREATE TRIGGER messages_fts_insert AFTER INSERT ON messages BEGIN"
    "  INSERT INTO messages_fts (rowid, body) VALUES (new.num, new.body);"
    "END;"
    "CREATE TRIGGER messages_fts_delete AFTER DELETE ON messages BEGIN"
    "  INSERT INTO messages_fts (messages_fts, rowid, body) VALUES ('delete', old.num, old.body);"
    "END;"
    "CREATE TRIGGER messages_fts_update AFTER UPDATE OF body ON messages BEGIN"
    "  INSERT INTO messages_fts (messages_fts, rowid, body) VALUES ('delete', old.num, old.body);"
    "  INSERT INTO messages_fts (rowid, body) VALUES (new.num, new.body);"
    "END;"
    "INSERT INTO messages_fts (messages_fts) VALUES ('rebuild');",
    error);
}

/* v3: one timeline row per conversation event (CONVENTIONS §16), so files
 * and calls can join messages in history later; backfilled from messages.
 * `ref` is the rowid in the event's own table (messages.num for messages):
 * an integer keeps the (kind, ref) index append-only and cheap. */
static gboolean
migrate_v2_to_v3 (NatterStore  *self,
                  GError      **error)
{
  return _natter_store_exec (self,
    "CREATE TABLE timeline ("
    "  num          INTEGER PRIMARY KEY,"
    "  conversation TEXT NOT NULL,"
    "  kind         TEXT NOT NULL CHECK (kind IN ('message', 'file', 'call')),"
    "  ref          INTEGER NOT NULL,"
    "  hlc_l        INTEGER NOT NULL,"
    "  hlc_c        INTEGER NOT NULL,"
    "  author       TEXT NOT NULL,"
    "  UNIQUE (kind, ref)"
    ") STRICT;"
    "CREATE INDEX timeline_display ON timeline (conversation, hlc_l, hlc_c, author, ref);"
    "INSERT INTO timeline (conversation, kind, ref, hlc_l, hlc_c, author)"
    "  SELECT conversation, 'message', num, hlc_l, hlc_c, author FROM messages ORDER BY num;"
    "CREATE TRIGGER messages_timeline_insert AFTER INSERT ON messages BEGIN"
    "  INSERT INTO timeline (conversation, kind, ref, hlc_l, hlc_c, author)"
    "    VALUES (new.conversation, 'message', new.num, new.hlc_l, new.hlc_c, new.author);"
    "END;"
    "CREATE TRIGGER messages_timeline_delete AFTER DELETE ON messages BEGIN"
    "  DELETE FROM timeline WHERE kind = 'message' AND ref = old.num;"
    "END;",
    error);
}

/* v4: file transfers (issue 7). `verified` is the receiver's verified offset
 * (the sender keeps the last offset the receiver asked for), written in
 * batches; the partial file's own checkpoints are the authority on resume.
 * Each transfer is one 'file' event in the timeline. */
static gboolean
migrate_v3_to_v4 (NatterStore  *self,
                  GError      **error)
{
  return _natter_store_exec (self,
    "CREATE TABLE transfers ("
    "  num          INTEGER PRIMARY KEY,"
    "  id           TEXT NOT NULL UNIQUE,"
    "  conversation TEXT NOT NULL,"
    "  peer_id      TEXT NOT NULL,"
    "  author       TEXT NOT NULL,"
    "  incoming     INTEGER NOT NULL,"
    "  name         TEXT NOT NULL,"
    "  size         INTEGER NOT NULL,"
    "  mime         TEXT NOT NULL,"
    "  sha256       TEXT,"
    "  chunk        INTEGER NOT NULL,"
    "  state        INTEGER NOT NULL,"
    "  verified     INTEGER NOT NULL DEFAULT 0,"
    "  path         TEXT,"
    "  partial      TEXT,"
    "  mtime        INTEGER NOT NULL DEFAULT 0,"
    "  error        TEXT,"
    "  pending      INTEGER NOT NULL DEFAULT 0,"
    "  hlc_l        INTEGER NOT NULL,"
    "  hlc_c        INTEGER NOT NULL,"
    "  created_at   INTEGER NOT NULL"
    ") STRICT;"
    "CREATE INDEX transfers_conversation ON transfers (conversation, num);"
    "CREATE TRIGGER transfers_timeline_insert AFTER INSERT ON transfers BEGIN"
    "  INSERT INTO timeline (conversation, kind, ref, hlc_l, hlc_c, author)"
    "    VALUES (new.conversation, 'file', new.num, new.hlc_l, new.hlc_c, new.author);"
    "END;"
    "CREATE TRIGGER transfers_timeline_delete AFTER DELETE ON transfers BEGIN"
    "  DELETE FROM timeline WHERE kind = 'file' AND ref = old.num;"
    "END;",
    error);
}

typedef gboolean (*StoreMigration) (NatterStore  *self,
                                    GError      **error);

/* migrations[v] takes the schema from version v to v + 1. */
static const StoreMigration migrations[] = {
  migrate_v0_to_v1,
  migrate_v1_to_v2,
  migrate_v2_to_v3,
  migrate_v3_to_v4,
};

G_STATIC_ASSERT (G_N_ELEMENTS (migrations) == NATTER_STORE_SCHEMA_VERSION);

gboolean
_natter_store_get_user_version (NatterStore  *self,
                                int          *out_version,
                                GError      **error)
{
  g_autoptr(StoreStmt) stmt = _natter_store_prepare (self, "PRAGMA user_version", error);
  gint64 version;

  if (stmt == NULL)
    return FALSE;
  if ((version = _natter_store_step_int64 (self, stmt, 0, "Could not read the schema version",
                                           error)) < 0)
    return FALSE;

  *out_version = (int)version;
  return TRUE;
}

gboolean
_natter_store_check_version (NatterStore  *self,
                             int           version,
                             GError      **error)
{
  if (version > NATTER_STORE_SCHEMA_VERSION)
    {
      g_set_error (error, NATTER_ERROR, NATTER_ERROR_NEWER_SCHEMA,
                   _("The history “%s” was written by a newer version of Natter "
                     "(schema %d; this version understands up to %d). "
                     "It was left untouched; update Natter to open it."),
                   self->path, version, NATTER_STORE_SCHEMA_VERSION);
      return FALSE;
    }
  return TRUE;
}

gboolean
_natter_store_migrate (NatterStore  *self,
                       GError      **error)
{
  for (;;)
    {
      g_autofree char *set_version = NULL;
      int version;

      /* The version is read again inside the write transaction: another
       * process may have migrated while we waited for the lock. */
      if (!natter_store_begin (self, error))
        return FALSE;

      if (!_natter_store_get_user_version (self, &version, error) ||
          !_natter_store_check_version (self, version, error))
        goto fail;

      if (version == NATTER_STORE_SCHEMA_VERSION)
        {
          if (!natter_store_commit (self, error))
            goto fail;
          return TRUE;
        }

      set_version = g_strdup_printf ("PRAGMA user_version = %d", version + 1);
      if (!migrations[version] (self, error) ||
          !_natter_store_exec (self, set_version, error) ||
          !natter_store_commit (self, error))
        goto fail;

      g_debug ("Migrated the history schema to version %d", version + 1);
    }

fail:
  natter_store_rollback (self);
  return FALSE;
}
