-- The template version a definition was built on; see the SQLite dialect.
ALTER TABLE definitions
  ADD COLUMN base_key VARCHAR(64) CHARACTER SET ascii NOT NULL DEFAULT '',
  ADD COLUMN base_version BIGINT NOT NULL DEFAULT 0;
