-- bpm schema v1 (MySQL / MariaDB). Same tables and columns as the SQLite
-- dialect; utf8mb4 throughout; ids are ASCII.
CREATE TABLE definitions (
  def_key       VARCHAR(64)  CHARACTER SET ascii NOT NULL,
  version       BIGINT       NOT NULL,
  content_hash  CHAR(64)     CHARACTER SET ascii NOT NULL,
  title         VARCHAR(255) NOT NULL,
  source_name   VARCHAR(512) NOT NULL,
  yaml          MEDIUMTEXT   NOT NULL,
  created_ms    BIGINT       NOT NULL,
  PRIMARY KEY (def_key, version),
  UNIQUE KEY definitions_by_hash (def_key, content_hash)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE instances (
  row_id        BIGINT       NOT NULL AUTO_INCREMENT PRIMARY KEY,
  id            CHAR(32)     CHARACTER SET ascii NOT NULL,
  def_key       VARCHAR(64)  CHARACTER SET ascii NOT NULL,
  def_version   BIGINT       NOT NULL,
  subject_ref   VARCHAR(128) NOT NULL,
  org           VARCHAR(64)  NOT NULL,
  status        VARCHAR(16)  CHARACTER SET ascii NOT NULL,
  state         VARCHAR(64)  CHARACTER SET ascii NOT NULL,
  variables     MEDIUMTEXT   NOT NULL,
  version       BIGINT       NOT NULL,
  event_seq     BIGINT       NOT NULL,
  started_by    VARCHAR(128) NOT NULL,
  created_ms    BIGINT       NOT NULL,
  updated_ms    BIGINT       NOT NULL,
  UNIQUE KEY instances_by_id (id),
  KEY instances_by_subject (subject_ref),
  KEY instances_by_def (def_key, status)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE tasks (
  row_id        BIGINT       NOT NULL AUTO_INCREMENT PRIMARY KEY,
  id            CHAR(32)     CHARACTER SET ascii NOT NULL,
  instance_id   CHAR(32)     CHARACTER SET ascii NOT NULL,
  state         VARCHAR(64)  CHARACTER SET ascii NOT NULL,
  name          VARCHAR(64)  NOT NULL,
  title         VARCHAR(255) NOT NULL,
  status        VARCHAR(16)  CHARACTER SET ascii NOT NULL,
  assignee_user VARCHAR(128) NOT NULL,
  assignee_role VARCHAR(64)  NOT NULL,
  assignee_org  VARCHAR(64)  NOT NULL,
  actions       TEXT         NOT NULL,
  data          MEDIUMTEXT   NOT NULL,
  due_ms        BIGINT       NOT NULL,
  created_ms    BIGINT       NOT NULL,
  completed_ms  BIGINT       NOT NULL,
  completed_by  VARCHAR(128) NOT NULL,
  action        VARCHAR(64)  NOT NULL,
  UNIQUE KEY tasks_by_id (id),
  KEY tasks_by_instance (instance_id, status),
  KEY tasks_open_by_role (status, assignee_role, assignee_org),
  KEY tasks_open_by_user (status, assignee_user)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE events (
  instance_id   CHAR(32)     CHARACTER SET ascii NOT NULL,
  seq           BIGINT       NOT NULL,
  at_ms         BIGINT       NOT NULL,
  actor         VARCHAR(128) NOT NULL,
  kind          VARCHAR(32)  NOT NULL,
  action        VARCHAR(64)  NOT NULL,
  from_state    VARCHAR(64)  NOT NULL,
  to_state      VARCHAR(64)  NOT NULL,
  task_id       VARCHAR(32)  CHARACTER SET ascii NOT NULL,
  comment       TEXT         NOT NULL,
  payload_digest VARCHAR(64) CHARACTER SET ascii NOT NULL,
  note          TEXT         NOT NULL,
  PRIMARY KEY (instance_id, seq)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE documents (
  id            CHAR(32)     CHARACTER SET ascii NOT NULL PRIMARY KEY,
  instance_id   CHAR(32)     CHARACTER SET ascii NOT NULL,
  state         VARCHAR(64)  CHARACTER SET ascii NOT NULL,
  kind          VARCHAR(64)  NOT NULL,
  content_type  VARCHAR(128) NOT NULL,
  content_b64   LONGTEXT     NOT NULL,
  sha256        CHAR(64)     CHARACTER SET ascii NOT NULL,
  created_ms    BIGINT       NOT NULL,
  KEY documents_by_instance (instance_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE idempotency_keys (
  scope         VARCHAR(160) NOT NULL,
  idem_key      VARCHAR(128) NOT NULL,
  request_hash  CHAR(64)     CHARACTER SET ascii NOT NULL,
  response_b64  MEDIUMTEXT   NOT NULL,
  created_ms    BIGINT       NOT NULL,
  PRIMARY KEY (scope, idem_key)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
