-- Items, as the shop needs them.
-- flamingock:change id=create-items author=alice recovery=retry
CREATE TABLE items (id INTEGER PRIMARY KEY);
CREATE TABLE prices (item INTEGER, cents INTEGER)
-- flamingock:undo
DROP TABLE prices;
DROP TABLE items;
