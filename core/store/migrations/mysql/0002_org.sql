-- bpm schema v2 (MySQL / MariaDB): the org model. Same tables and columns as
-- the SQLite dialect. Nothing is updated in place except region and user
-- names: an org change is a new org_versions row effective from
-- valid_from_ms, a role grant ends by setting to_ms (0 = open).
CREATE TABLE regions (
  code          CHAR(9)      CHARACTER SET ascii COLLATE ascii_bin NOT NULL PRIMARY KEY,
  name          VARCHAR(255) NOT NULL,
  parent_code   VARCHAR(9)   CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  level         VARCHAR(16)  CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  KEY regions_by_parent (parent_code)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- One row per version of an org; the org "as of" T is its row with the
-- greatest valid_from_ms <= T (the primary key serves that lookup).
CREATE TABLE org_versions (
  code          VARCHAR(64)  CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  valid_from_ms BIGINT       NOT NULL,
  name          VARCHAR(255) NOT NULL,
  kind          VARCHAR(32)  CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  parent_code   VARCHAR(64)  CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  region_code   VARCHAR(9)   CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  section_kind  VARCHAR(32)  CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  owner_section VARCHAR(64)  CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  active        BIGINT       NOT NULL,
  PRIMARY KEY (code, valid_from_ms),
  KEY org_versions_by_parent (parent_code, valid_from_ms),
  KEY org_versions_by_region (region_code, kind),
  KEY org_versions_by_from (valid_from_ms)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE users (
  id            VARCHAR(128) CHARACTER SET ascii COLLATE ascii_bin NOT NULL PRIMARY KEY,
  name          VARCHAR(255) NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- A role held by a user in an org during [from_ms, to_ms); to_ms 0 = open.
CREATE TABLE role_grants (
  user_id       VARCHAR(128) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  role          VARCHAR(64)  CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  org_code      VARCHAR(64)  CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  from_ms       BIGINT       NOT NULL,
  to_ms         BIGINT       NOT NULL,
  PRIMARY KEY (user_id, role, org_code, from_ms),
  KEY role_grants_by_org (org_code, role, from_ms),
  KEY role_grants_by_user (user_id, from_ms)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
