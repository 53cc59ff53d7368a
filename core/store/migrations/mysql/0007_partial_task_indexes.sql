-- tasks_open_due served no query (overdue work is found through timers) and
-- cost a write on every task insert and status change. MariaDB has no
-- partial indexes, so the other task-list indexes stay as they are (the
-- SQLite dialect makes them partial).
DROP INDEX tasks_open_due ON tasks;
-- A command reads its instance's tasks in row order and its timers in
-- (due_ms, id) order: InnoDB secondary indexes end with the primary key, so
-- these give both orders without a sort (same shapes as the SQLite dialect).
DROP INDEX tasks_by_instance ON tasks;
CREATE INDEX tasks_by_instance ON tasks (instance_id);
