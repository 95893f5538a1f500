-- +goose Up
CREATE TABLE users (id int);
