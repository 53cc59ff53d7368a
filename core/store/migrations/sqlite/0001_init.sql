-- bpm schema v1 (SQLite). Times are Unix milliseconds; JSON is canonical text;
-- binary content is base64 text. Every integer column is BIGINT so SOCI maps
-- it to 64-bit on both backends.
CREATE TABLE definitions (
  def_key       TEXT    NOT NULL,
  version       BIGINT  NOT NULL,
  content_hash  TEXT    NOT NULL,
  title         TEXT    NOT NULL,
  source_name   TEXT    NOT NULL,
  yaml          TEXT    NOT NULL,
  created_ms    BIGINT  NOT NULL,
  PRIMARY KEY (def_key, version),
  UNIQUE (def_key, content_hash)
);

CREATE TABLE instances (
  row_id        INTEGER PRIMARY KEY AUTOINCREMENT,
  id            TEXT    NOT NULL UNIQUE,
  def_key       TEXT    NOT NULL,
  def_version   BIGINT  NOT NULL,
  subject_ref   TEXT    NOT NULL,
  org           TEXT    NOT NULL,
  status        TEXT    NOT NULL,
  state         TEXT    NOT NULL,
  variables     TEXT    NOT NULL,
  version       BIGINT  NOT NULL,
  event_seq     BIGINT  NOT NULL,
  started_by    TEXT    NOT NULL,
  created_ms    BIGINT  NOT NULL,
  updated_ms    BIGINT  NOT NULL
);
CREATE INDEX instances_by_subject ON instances (subject_ref);
CREATE INDEX instances_by_def ON instances (def_key, status);

CREATE TABLE tasks (
  row_id        INTEGER PRIMARY KEY AUTOINCREMENT,
  id            TEXT    NOT NULL UNIQUE,
  instance_id   TEXT    NOT NULL,
  state         TEXT    NOT NULL,
  name          TEXT    NOT NULL,
  title         TEXT    NOT NULL,
  status        TEXT    NOT NULL,
  assignee_user TEXT    NOT NULL,
  assignee_role TEXT    NOT NULL,
  assignee_org  TEXT    NOT NULL,
  actions       TEXT    NOT NULL,
  data          TEXT    NOT NULL,
  due_ms        BIGINT  NOT NULL,
  created_ms    BIGINT  NOT NULL,
  completed_ms  BIGINT  NOT NULL,
  completed_by  TEXT    NOT NULL,
  action        TEXT    NOT NULL
);
CREATE INDEX tasks_by_instance ON tasks (instance_id, status);
CREATE INDEX tasks_open_by_role ON tasks (status, assignee_role, assignee_org);
CREATE INDEX tasks_open_by_user ON tasks (status, assignee_user);

CREATE TABLE events (
  instance_id   TEXT    NOT NULL,
  seq           BIGINT  NOT NULL,
  at_ms         BIGINT  NOT NULL,
  actor         TEXT    NOT NULL,
  kind          TEXT    NOT NULL,
  action        TEXT    NOT NULL,
  from_state    TEXT    NOT NULL,
  to_state      TEXT    NOT NULL,
  task_id       TEXT    NOT NULL,
  comment       TEXT    NOT NULL,
  payload_digest TEXT   NOT NULL,
  note          TEXT    NOT NULL,
  PRIMARY KEY (instance_id, seq)
);

CREATE TABLE documents (
  id            TEXT    NOT NULL PRIMARY KEY,
  instance_id   TEXT    NOT NULL,
  state         TEXT    NOT NULL,
  kind          TEXT    NOT NULL,
  content_type  TEXT    NOT NULL,
  content_b64   TEXT    NOT NULL,
  sha256        TEXT    NOT NULL,
  created_ms    BIGINT  NOT NULL
);
CREATE INDEX documents_by_instance ON documents (instance_id);

CREATE TABLE idempotency_keys (
  scope         TEXT    NOT NULL,
  idem_key      TEXT    NOT NULL,
  request_hash  TEXT    NOT NULL,
  response_b64  TEXT    NOT NULL,
  created_ms    BIGINT  NOT NULL,
  PRIMARY KEY (scope, idem_key)
);
