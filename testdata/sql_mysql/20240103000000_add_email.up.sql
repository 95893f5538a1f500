ALTER TABLE users ADD COLUMN email VARCHAR(255);
UPDATE users SET email = CONCAT(name, '@example.com');
