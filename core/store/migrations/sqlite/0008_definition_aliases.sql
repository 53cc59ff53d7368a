-- Named pointers at definition versions (issue 6): "current" is the version
-- new instances of a key start on unless the caller names a version or another
-- alias; deploying moves it (unless deployed inactive), rolling back moves it
-- back. Every move is kept, with who, when and why.
CREATE TABLE definition_aliases (
  def_key     TEXT    NOT NULL,
  alias       TEXT    NOT NULL,
  version     BIGINT  NOT NULL,
  updated_ms  BIGINT  NOT NULL,
  updated_by  TEXT    NOT NULL,
  PRIMARY KEY (def_key, alias)
);
CREATE TABLE definition_alias_moves (
  seq           INTEGER PRIMARY KEY AUTOINCREMENT,
  def_key       TEXT    NOT NULL,
  alias         TEXT    NOT NULL,
  from_version  BIGINT  NOT NULL,  -- 0: the alias was new
  to_version    BIGINT  NOT NULL,
  moved_ms      BIGINT  NOT NULL,
  moved_by      TEXT    NOT NULL,
  reason        TEXT    NOT NULL
);
CREATE INDEX definition_alias_moves_by_key ON definition_alias_moves (def_key, seq);
-- Stores from before aliases started every instance on the latest version:
-- "current" starts there.
INSERT INTO definition_aliases (def_key, alias, version, updated_ms, updated_by)
  SELECT def_key, 'current', MAX(version), MAX(created_ms), 'migration 0008'
  FROM definitions GROUP BY def_key;
