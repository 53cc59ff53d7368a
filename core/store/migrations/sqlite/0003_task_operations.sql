-- Task operations (claim, delegate, separation of duties), proxies, CC,
-- notifications, timers, and the pre-action snapshot that makes withdraw
-- (撤回) possible.
ALTER TABLE tasks ADD COLUMN claimed_by TEXT NOT NULL DEFAULT '';
ALTER TABLE tasks ADD COLUMN delegated_to TEXT NOT NULL DEFAULT '';
ALTER TABLE tasks ADD COLUMN owner_user TEXT NOT NULL DEFAULT '';
ALTER TABLE tasks ADD COLUMN exclude_users TEXT NOT NULL DEFAULT '[]';
CREATE INDEX tasks_claimed ON tasks (status, claimed_by);
CREATE INDEX tasks_delegated ON tasks (status, delegated_to);
CREATE INDEX tasks_done_by ON tasks (completed_by, completed_ms);
CREATE INDEX tasks_open_due ON tasks (status, due_ms);

CREATE TABLE proxies (
  id            TEXT    NOT NULL PRIMARY KEY,
  principal     TEXT    NOT NULL,
  proxy_user    TEXT    NOT NULL,
  from_ms       BIGINT  NOT NULL,
  to_ms         BIGINT  NOT NULL,
  created_by    TEXT    NOT NULL,
  created_ms    BIGINT  NOT NULL
);
CREATE INDEX proxies_by_proxy ON proxies (proxy_user, to_ms);
CREATE INDEX proxies_by_principal ON proxies (principal, to_ms);

CREATE TABLE cc_entries (
  row_id        INTEGER PRIMARY KEY AUTOINCREMENT,
  id            TEXT    NOT NULL UNIQUE,
  instance_id   TEXT    NOT NULL,
  user_id       TEXT    NOT NULL,
  from_user     TEXT    NOT NULL,
  note          TEXT    NOT NULL,
  created_ms    BIGINT  NOT NULL
);
CREATE INDEX cc_by_user ON cc_entries (user_id, row_id);

CREATE TABLE notifications (
  row_id        INTEGER PRIMARY KEY AUTOINCREMENT,
  id            TEXT    NOT NULL UNIQUE,
  user_id       TEXT    NOT NULL,
  role          TEXT    NOT NULL,
  org           TEXT    NOT NULL,
  instance_id   TEXT    NOT NULL,
  task_id       TEXT    NOT NULL,
  kind          TEXT    NOT NULL,
  text          TEXT    NOT NULL,
  from_user     TEXT    NOT NULL,
  created_ms    BIGINT  NOT NULL
);
CREATE INDEX notifications_by_user ON notifications (user_id, row_id);
CREATE INDEX notifications_by_role ON notifications (role, org, row_id);

CREATE TABLE timers (
  id            TEXT    NOT NULL PRIMARY KEY,
  instance_id   TEXT    NOT NULL,
  task_id       TEXT    NOT NULL,
  name          TEXT    NOT NULL,
  due_ms        BIGINT  NOT NULL,
  fired_ms      BIGINT  NOT NULL,
  lease_owner   TEXT    NOT NULL,
  lease_until_ms BIGINT NOT NULL
);
CREATE INDEX timers_due ON timers (fired_ms, due_ms);
CREATE INDEX timers_by_task ON timers (task_id);

CREATE TABLE snapshots (
  instance_id   TEXT    NOT NULL PRIMARY KEY,
  version_after BIGINT  NOT NULL,
  actor         TEXT    NOT NULL,
  body          TEXT    NOT NULL,
  created_ms    BIGINT  NOT NULL
);
