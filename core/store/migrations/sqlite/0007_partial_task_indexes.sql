-- The task-list indexes hold only the tasks they serve. Most tasks are
-- finished, and a finished task only ever needs tasks_by_instance and the
-- done view: as full indexes on (status, ...) every task insert and every
-- status change rewrote six of them, the largest share of a command's write.
-- Each index's WHERE is the status term the inbox query puts beside it, so
-- the planner can use it. tasks_open_due served no query (overdue work is
-- found through timers) and goes.
DROP INDEX tasks_open_due;
DROP INDEX tasks_open_by_role;
DROP INDEX tasks_open_by_user;
DROP INDEX tasks_claimed;
DROP INDEX tasks_delegated;
DROP INDEX tasks_done_by;
CREATE INDEX tasks_open_by_role ON tasks (assignee_role, assignee_org) WHERE status = 'open';
CREATE INDEX tasks_open_by_user ON tasks (assignee_user) WHERE status = 'open';
CREATE INDEX tasks_claimed ON tasks (claimed_by) WHERE status = 'claimed';
CREATE INDEX tasks_delegated ON tasks (delegated_to) WHERE status = 'delegated';
CREATE INDEX tasks_done_by ON tasks (completed_by, completed_ms) WHERE status = 'completed';
-- A command reads its instance's tasks and timers in order: with the row id
-- (tasks) and the id (timers) in the index, SQLite reads them in that order
-- instead of sorting them in a temporary B-tree on every command.
DROP INDEX tasks_by_instance;
CREATE INDEX tasks_by_instance ON tasks (instance_id);
DROP INDEX timers_by_instance;
CREATE INDEX timers_by_instance ON timers (instance_id, due_ms, id);
