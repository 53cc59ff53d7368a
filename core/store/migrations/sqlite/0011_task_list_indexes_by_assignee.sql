-- An open task waits either for one person (assignee_user set) or for the
-- holders of a role (assignee_user empty): the inbox reads the first kind
-- through tasks_open_by_user and the second through tasks_open_by_role. Each
-- index held every open task, so opening or closing any task rewrote both;
-- now each holds only the kind it serves, and the inbox query states the
-- same assignee_user term so the planner can use them.
DROP INDEX tasks_open_by_role;
DROP INDEX tasks_open_by_user;
CREATE INDEX tasks_open_by_role ON tasks (assignee_role, assignee_org)
  WHERE status = 'open' AND assignee_user = '';
CREATE INDEX tasks_open_by_user ON tasks (assignee_user)
  WHERE status = 'open' AND assignee_user <> '';
