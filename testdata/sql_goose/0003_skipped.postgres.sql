-- +goose Up
CREATE EXTENSION citext;
