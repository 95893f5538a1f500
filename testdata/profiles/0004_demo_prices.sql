-- Prices to demonstrate with, never in production.
-- flamingock:change author=alice profile=demo,!prod
INSERT INTO prices (item, cents) VALUES (1, 100)
-- flamingock:undo
DELETE FROM prices WHERE item = 1
