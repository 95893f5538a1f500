-- flamingock:change order=2 id=seed-items
INSERT INTO items (id) VALUES (1), (2);
