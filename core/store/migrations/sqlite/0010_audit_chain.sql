-- A tamper-evident audit trail (issue 7). Every history event carries the
-- hash of the instance's previous event and a place in one global chain over
-- all events; audit_head holds the global chain's last link. Events written
-- before this migration are chained when the store opens (see audit.h).
ALTER TABLE events ADD COLUMN source TEXT NOT NULL DEFAULT '';
ALTER TABLE events ADD COLUMN prev_hash TEXT NOT NULL DEFAULT '';
ALTER TABLE events ADD COLUMN hash TEXT NOT NULL DEFAULT '';
ALTER TABLE events ADD COLUMN chain_seq BIGINT NOT NULL DEFAULT 0;
ALTER TABLE events ADD COLUMN chain_prev TEXT NOT NULL DEFAULT '';
ALTER TABLE events ADD COLUMN chain_hash TEXT NOT NULL DEFAULT '';
ALTER TABLE instances ADD COLUMN last_event_hash TEXT NOT NULL DEFAULT '';
CREATE INDEX events_by_chain ON events (chain_seq);
CREATE TABLE audit_head (
  id    INTEGER NOT NULL PRIMARY KEY,
  seq   BIGINT  NOT NULL,
  hash  TEXT    NOT NULL,
  -- events written before this migration, not chained yet (the store
  -- chains them when it opens; any other unchained event is an insertion)
  legacy BIGINT NOT NULL
);
INSERT INTO audit_head (id, seq, hash, legacy) SELECT 1, 0, '', COUNT(*) FROM events;
