-- +goose Up
CREATE TABLE users (
    id INT PRIMARY KEY,
    name VARCHAR(100) NOT NULL
);
CREATE INDEX users_name ON users (name);

-- +goose Down
DROP TABLE users;
