-- tasks_open_due served no query (overdue work is found through timers) and
-- cost a write on every task insert and status change. MariaDB has no
-- partial indexes, so the other task-list indexes stay as they are (the
-- SQLite dialect makes them partial).
DROP INDEX tasks_open_due ON tasks;
