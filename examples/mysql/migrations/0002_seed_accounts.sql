-- flamingock:change author=example
-- Data only: one transaction, committed with its APPLIED entry.
INSERT INTO accounts (id, email, plan) VALUES
    (1, 'Ada@Example.com', 'free'),
    (2, 'grace@example.com', 'pro');
-- flamingock:undo
DELETE FROM accounts WHERE id IN (1, 2);
