-- +goose Up
-- +goose StatementBegin
CREATE TRIGGER users_name AFTER INSERT ON users
BEGIN
    UPDATE users SET name = upper(name) WHERE id = NEW.id;
END;
-- +goose StatementEnd
