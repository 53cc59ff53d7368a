-- Named pointers at definition versions; see the SQLite dialect.
CREATE TABLE definition_aliases (
  def_key     VARCHAR(64)  CHARACTER SET ascii NOT NULL,
  alias       VARCHAR(32)  CHARACTER SET ascii NOT NULL,
  version     BIGINT       NOT NULL,
  updated_ms  BIGINT       NOT NULL,
  updated_by  VARCHAR(128) NOT NULL,
  PRIMARY KEY (def_key, alias)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
CREATE TABLE definition_alias_moves (
  seq           BIGINT       NOT NULL AUTO_INCREMENT PRIMARY KEY,
  def_key       VARCHAR(64)  CHARACTER SET ascii NOT NULL,
  alias         VARCHAR(32)  CHARACTER SET ascii NOT NULL,
  from_version  BIGINT       NOT NULL,
  to_version    BIGINT       NOT NULL,
  moved_ms      BIGINT       NOT NULL,
  moved_by      VARCHAR(128) NOT NULL,
  reason        VARCHAR(1024) NOT NULL,
  KEY definition_alias_moves_by_key (def_key, seq)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
INSERT INTO definition_aliases (def_key, alias, version, updated_ms, updated_by)
  SELECT def_key, 'current', MAX(version), MAX(created_ms), 'migration 0008'
  FROM definitions GROUP BY def_key;
