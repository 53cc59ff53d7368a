-- Task operations (claim, delegate, separation of duties), proxies, CC,
-- notifications, timers, and the pre-action snapshot that makes withdraw
-- (撤回) possible. Same tables and columns as the SQLite dialect.
ALTER TABLE tasks
  ADD COLUMN claimed_by VARCHAR(128) NOT NULL DEFAULT '',
  ADD COLUMN delegated_to VARCHAR(128) NOT NULL DEFAULT '',
  ADD COLUMN owner_user VARCHAR(128) NOT NULL DEFAULT '',
  ADD COLUMN exclude_users TEXT NOT NULL,
  ADD KEY tasks_claimed (status, claimed_by),
  ADD KEY tasks_delegated (status, delegated_to),
  ADD KEY tasks_done_by (completed_by, completed_ms),
  ADD KEY tasks_open_due (status, due_ms);

CREATE TABLE proxies (
  id            CHAR(32)     CHARACTER SET ascii NOT NULL PRIMARY KEY,
  principal     VARCHAR(128) NOT NULL,
  proxy_user    VARCHAR(128) NOT NULL,
  from_ms       BIGINT       NOT NULL,
  to_ms         BIGINT       NOT NULL,
  created_by    VARCHAR(128) NOT NULL,
  created_ms    BIGINT       NOT NULL,
  KEY proxies_by_proxy (proxy_user, to_ms),
  KEY proxies_by_principal (principal, to_ms)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE cc_entries (
  row_id        BIGINT       NOT NULL AUTO_INCREMENT PRIMARY KEY,
  id            CHAR(32)     CHARACTER SET ascii NOT NULL,
  instance_id   CHAR(32)     CHARACTER SET ascii NOT NULL,
  user_id       VARCHAR(128) NOT NULL,
  from_user     VARCHAR(128) NOT NULL,
  note          TEXT         NOT NULL,
  created_ms    BIGINT       NOT NULL,
  UNIQUE KEY cc_by_id (id),
  KEY cc_by_user (user_id, row_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE notifications (
  row_id        BIGINT       NOT NULL AUTO_INCREMENT PRIMARY KEY,
  id            CHAR(32)     CHARACTER SET ascii NOT NULL,
  user_id       VARCHAR(128) NOT NULL,
  role          VARCHAR(64)  NOT NULL,
  org           VARCHAR(64)  NOT NULL,
  instance_id   CHAR(32)     CHARACTER SET ascii NOT NULL,
  task_id       VARCHAR(32)  CHARACTER SET ascii NOT NULL,
  kind          VARCHAR(32)  NOT NULL,
  text          TEXT         NOT NULL,
  from_user     VARCHAR(128) NOT NULL,
  created_ms    BIGINT       NOT NULL,
  UNIQUE KEY notifications_by_id (id),
  KEY notifications_by_user (user_id, row_id),
  KEY notifications_by_role (role, org, row_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE timers (
  id            CHAR(32)     CHARACTER SET ascii NOT NULL PRIMARY KEY,
  instance_id   CHAR(32)     CHARACTER SET ascii NOT NULL,
  task_id       VARCHAR(32)  CHARACTER SET ascii NOT NULL,
  name          VARCHAR(64)  NOT NULL,
  due_ms        BIGINT       NOT NULL,
  fired_ms      BIGINT       NOT NULL,
  lease_owner   VARCHAR(128) NOT NULL,
  lease_until_ms BIGINT      NOT NULL,
  KEY timers_due (fired_ms, due_ms),
  KEY timers_by_task (task_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE snapshots (
  instance_id   CHAR(32)     CHARACTER SET ascii NOT NULL PRIMARY KEY,
  version_after BIGINT       NOT NULL,
  actor         VARCHAR(128) NOT NULL,
  body          MEDIUMTEXT   NOT NULL,
  created_ms    BIGINT       NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
