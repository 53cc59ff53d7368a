-- Every action reads its instance's timers (the withdraw snapshot keeps them);
-- without this index that read scanned the whole timers table, which grows
-- with every instance ever run. Same index as the SQLite dialect.
CREATE INDEX timers_by_instance ON timers (instance_id, due_ms);
