-- Campaigns (一对多下发): one task issued to many orgs, one instance each.
CREATE TABLE campaigns (
  id            TEXT    NOT NULL PRIMARY KEY,
  title         TEXT    NOT NULL,
  def_key       TEXT    NOT NULL,
  def_version   BIGINT  NOT NULL,
  deadline_ms   BIGINT  NOT NULL,
  target_count  BIGINT  NOT NULL,
  created_by    TEXT    NOT NULL,
  created_ms    BIGINT  NOT NULL
);
ALTER TABLE instances ADD COLUMN campaign_id TEXT NOT NULL DEFAULT '';
CREATE INDEX instances_by_campaign ON instances (campaign_id);
