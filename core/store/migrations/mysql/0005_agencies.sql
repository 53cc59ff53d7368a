-- Third-party agencies and their engagements (bodies are serialized
-- bpm.v1 messages, base64; key columns are copied out for queries),
-- external tasks of the pull protocol, incidents, and the push outbox.
CREATE TABLE agencies (
  id            VARCHAR(64)  CHARACTER SET ascii NOT NULL PRIMARY KEY,
  body          MEDIUMTEXT   NOT NULL,
  created_ms    BIGINT       NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE engagements (
  id            CHAR(32)     CHARACTER SET ascii NOT NULL PRIMARY KEY,
  agency_id     VARCHAR(64)  CHARACTER SET ascii NOT NULL,
  subject_ref   VARCHAR(128) NOT NULL,
  purpose       VARCHAR(32)  NOT NULL,
  status        VARCHAR(16)  NOT NULL,
  body          MEDIUMTEXT   NOT NULL,
  created_ms    BIGINT       NOT NULL,
  KEY engagements_by_agency (agency_id),
  KEY engagements_by_subject (subject_ref)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE external_tasks (
  row_id        BIGINT       NOT NULL AUTO_INCREMENT PRIMARY KEY,
  id            CHAR(32)     CHARACTER SET ascii NOT NULL,
  instance_id   CHAR(32)     CHARACTER SET ascii NOT NULL,
  state         VARCHAR(64)  CHARACTER SET ascii NOT NULL,
  topic         VARCHAR(64)  NOT NULL,
  engagement_id VARCHAR(32)  CHARACTER SET ascii NOT NULL,
  agency_id     VARCHAR(64)  CHARACTER SET ascii NOT NULL,
  payload       MEDIUMTEXT   NOT NULL,
  status        VARCHAR(16)  NOT NULL,
  lock_token    VARCHAR(32)  CHARACTER SET ascii NOT NULL,
  lock_owner    VARCHAR(128) NOT NULL,
  lock_expires_ms BIGINT     NOT NULL,
  available_ms  BIGINT       NOT NULL,
  retries_left  BIGINT       NOT NULL,
  last_error    TEXT         NOT NULL,
  deliverable_sha256 VARCHAR(64) CHARACTER SET ascii NOT NULL,
  created_ms    BIGINT       NOT NULL,
  completed_ms  BIGINT       NOT NULL,
  UNIQUE KEY external_tasks_by_id (id),
  KEY external_tasks_fetch (agency_id, topic, status, available_ms),
  KEY external_tasks_by_instance (instance_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE incidents (
  id            CHAR(32)     CHARACTER SET ascii NOT NULL PRIMARY KEY,
  instance_id   CHAR(32)     CHARACTER SET ascii NOT NULL,
  external_task_id VARCHAR(32) CHARACTER SET ascii NOT NULL,
  kind          VARCHAR(32)  NOT NULL,
  message       TEXT         NOT NULL,
  created_ms    BIGINT       NOT NULL,
  resolved_ms   BIGINT       NOT NULL,
  resolution    VARCHAR(16)  NOT NULL,
  resolved_by   VARCHAR(128) NOT NULL,
  KEY incidents_open (resolved_ms, created_ms)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE outbox (
  id            CHAR(32)     CHARACTER SET ascii NOT NULL PRIMARY KEY,
  endpoint      VARCHAR(255) NOT NULL,
  agency_id     VARCHAR(64)  CHARACTER SET ascii NOT NULL,
  external_task_id VARCHAR(32) CHARACTER SET ascii NOT NULL,
  body          MEDIUMTEXT   NOT NULL,
  status        VARCHAR(16)  NOT NULL,
  attempts      BIGINT       NOT NULL,
  next_attempt_ms BIGINT     NOT NULL,
  lease_until_ms BIGINT      NOT NULL,
  last_error    TEXT         NOT NULL,
  created_ms    BIGINT       NOT NULL,
  KEY outbox_due (status, next_attempt_ms)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
