-- flamingock:change author=ops
-- Data only: MySQL runs it in one transaction.
INSERT INTO users (id, name) VALUES (1, 'CREATE TABLE'), (2, 'b');
UPDATE users SET name = 'a' WHERE id = 1;
-- flamingock:undo
DELETE FROM users WHERE id IN (1, 2);
