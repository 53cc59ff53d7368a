-- Campaigns (一对多下发): one task issued to many orgs, one instance each.
CREATE TABLE campaigns (
  id            CHAR(32)     CHARACTER SET ascii NOT NULL PRIMARY KEY,
  title         VARCHAR(255) NOT NULL,
  def_key       VARCHAR(64)  CHARACTER SET ascii NOT NULL,
  def_version   BIGINT       NOT NULL,
  deadline_ms   BIGINT       NOT NULL,
  target_count  BIGINT       NOT NULL,
  created_by    VARCHAR(128) NOT NULL,
  created_ms    BIGINT       NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
ALTER TABLE instances
  ADD COLUMN campaign_id VARCHAR(32) CHARACTER SET ascii NOT NULL DEFAULT '',
  ADD KEY instances_by_campaign (campaign_id);
