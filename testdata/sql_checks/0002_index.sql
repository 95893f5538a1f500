-- +goose NO TRANSACTION
-- +goose Up
CREATE INDEX CONCURRENTLY users_id ON users (id);
