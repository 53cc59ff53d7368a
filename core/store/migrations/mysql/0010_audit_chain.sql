-- The audit trail's hash chains; see the SQLite dialect.
ALTER TABLE events
  ADD COLUMN source VARCHAR(128) NOT NULL DEFAULT '',
  ADD COLUMN prev_hash CHAR(64) CHARACTER SET ascii NOT NULL DEFAULT '',
  ADD COLUMN hash CHAR(64) CHARACTER SET ascii NOT NULL DEFAULT '',
  ADD COLUMN chain_seq BIGINT NOT NULL DEFAULT 0,
  ADD COLUMN chain_prev CHAR(64) CHARACTER SET ascii NOT NULL DEFAULT '',
  ADD COLUMN chain_hash CHAR(64) CHARACTER SET ascii NOT NULL DEFAULT '',
  ADD INDEX events_by_chain (chain_seq);
ALTER TABLE instances
  ADD COLUMN last_event_hash CHAR(64) CHARACTER SET ascii NOT NULL DEFAULT '';
CREATE TABLE audit_head (
  id    INT      NOT NULL PRIMARY KEY,
  seq   BIGINT   NOT NULL,
  hash  CHAR(64) CHARACTER SET ascii NOT NULL,
  legacy BIGINT  NOT NULL
) ENGINE=InnoDB;
INSERT INTO audit_head (id, seq, hash, legacy) SELECT 1, 0, '', COUNT(*) FROM events;
