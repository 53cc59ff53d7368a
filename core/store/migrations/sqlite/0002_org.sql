-- bpm schema v2 (SQLite): the org model. Nothing is updated in place except
-- region and user names: an org change is a new org_versions row effective
-- from valid_from_ms, a role grant ends by setting to_ms (0 = open).
CREATE TABLE regions (
  code          TEXT    NOT NULL PRIMARY KEY,
  name          TEXT    NOT NULL,
  parent_code   TEXT    NOT NULL,
  level         TEXT    NOT NULL
);
CREATE INDEX regions_by_parent ON regions (parent_code);

-- One row per version of an org; the org "as of" T is its row with the
-- greatest valid_from_ms <= T (the primary key serves that lookup).
CREATE TABLE org_versions (
  code          TEXT    NOT NULL,
  valid_from_ms BIGINT  NOT NULL,
  name          TEXT    NOT NULL,
  kind          TEXT    NOT NULL,
  parent_code   TEXT    NOT NULL,
  region_code   TEXT    NOT NULL,
  section_kind  TEXT    NOT NULL,
  owner_section TEXT    NOT NULL,
  active        BIGINT  NOT NULL,
  PRIMARY KEY (code, valid_from_ms)
);
-- Children of a parent as of T; orgs of a region or kind; changes in a window.
CREATE INDEX org_versions_by_parent ON org_versions (parent_code, valid_from_ms);
CREATE INDEX org_versions_by_region ON org_versions (region_code, kind);
CREATE INDEX org_versions_by_from ON org_versions (valid_from_ms);

CREATE TABLE users (
  id            TEXT    NOT NULL PRIMARY KEY,
  name          TEXT    NOT NULL
);

-- A role held by a user in an org during [from_ms, to_ms); to_ms 0 = open.
CREATE TABLE role_grants (
  user_id       TEXT    NOT NULL,
  role          TEXT    NOT NULL,
  org_code      TEXT    NOT NULL,
  from_ms       BIGINT  NOT NULL,
  to_ms         BIGINT  NOT NULL,
  PRIMARY KEY (user_id, role, org_code, from_ms)
);
CREATE INDEX role_grants_by_org ON role_grants (org_code, role, from_ms);
CREATE INDEX role_grants_by_user ON role_grants (user_id, from_ms);
