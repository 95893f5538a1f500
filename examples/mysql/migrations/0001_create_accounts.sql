-- +goose Up
-- Data definition: MySQL commits each statement on its own, so flamingock-gen
-- runs this change without a transaction, statement by statement, and a
-- failure records how many of them ran.
CREATE TABLE accounts (
    id INT PRIMARY KEY,
    email VARCHAR(255) NOT NULL,
    plan VARCHAR(32) NOT NULL
) ENGINE=InnoDB;
CREATE UNIQUE INDEX accounts_email ON accounts (email);

-- +goose Down
DROP TABLE accounts;
