-- Templates across levels (issue 6): a definition that extends a template
-- records which template version it was built on, so that it compiles the
-- same after a restart however the template's aliases have moved since.
ALTER TABLE definitions ADD COLUMN base_key TEXT NOT NULL DEFAULT '';
ALTER TABLE definitions ADD COLUMN base_version BIGINT NOT NULL DEFAULT 0;
