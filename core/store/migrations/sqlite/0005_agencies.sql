-- Third-party agencies and their engagements (bodies are serialized
-- bpm.v1 messages, base64; key columns are copied out for queries),
-- external tasks of the pull protocol, incidents, and the push outbox.
CREATE TABLE agencies (
  id            TEXT    NOT NULL PRIMARY KEY,
  body          TEXT    NOT NULL,
  created_ms    BIGINT  NOT NULL
);

CREATE TABLE engagements (
  id            TEXT    NOT NULL PRIMARY KEY,
  agency_id     TEXT    NOT NULL,
  subject_ref   TEXT    NOT NULL,
  purpose       TEXT    NOT NULL,
  status        TEXT    NOT NULL,
  body          TEXT    NOT NULL,
  created_ms    BIGINT  NOT NULL
);
CREATE INDEX engagements_by_agency ON engagements (agency_id);
CREATE INDEX engagements_by_subject ON engagements (subject_ref);

CREATE TABLE external_tasks (
  row_id        INTEGER PRIMARY KEY AUTOINCREMENT,
  id            TEXT    NOT NULL UNIQUE,
  instance_id   TEXT    NOT NULL,
  state         TEXT    NOT NULL,
  topic         TEXT    NOT NULL,
  engagement_id TEXT    NOT NULL,
  agency_id     TEXT    NOT NULL,
  payload       TEXT    NOT NULL,
  status        TEXT    NOT NULL,
  lock_token    TEXT    NOT NULL,
  lock_owner    TEXT    NOT NULL,
  lock_expires_ms BIGINT NOT NULL,
  available_ms  BIGINT  NOT NULL,
  retries_left  BIGINT  NOT NULL,
  last_error    TEXT    NOT NULL,
  deliverable_sha256 TEXT NOT NULL,
  created_ms    BIGINT  NOT NULL,
  completed_ms  BIGINT  NOT NULL
);
CREATE INDEX external_tasks_fetch ON external_tasks (agency_id, topic, status, available_ms);
CREATE INDEX external_tasks_by_instance ON external_tasks (instance_id);

CREATE TABLE incidents (
  id            TEXT    NOT NULL PRIMARY KEY,
  instance_id   TEXT    NOT NULL,
  external_task_id TEXT NOT NULL,
  kind          TEXT    NOT NULL,
  message       TEXT    NOT NULL,
  created_ms    BIGINT  NOT NULL,
  resolved_ms   BIGINT  NOT NULL,
  resolution    TEXT    NOT NULL,
  resolved_by   TEXT    NOT NULL
);
CREATE INDEX incidents_open ON incidents (resolved_ms, created_ms);

CREATE TABLE outbox (
  id            TEXT    NOT NULL PRIMARY KEY,
  endpoint      TEXT    NOT NULL,
  agency_id     TEXT    NOT NULL,
  external_task_id TEXT NOT NULL,
  body          TEXT    NOT NULL,
  status        TEXT    NOT NULL,
  attempts      BIGINT  NOT NULL,
  next_attempt_ms BIGINT NOT NULL,
  lease_until_ms BIGINT NOT NULL,
  last_error    TEXT    NOT NULL,
  created_ms    BIGINT  NOT NULL
);
CREATE INDEX outbox_due ON outbox (status, next_attempt_ms);
