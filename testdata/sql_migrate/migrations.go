// Package sql_migrate is a golang-migrate directory on PostgreSQL through
// pgx, with 20-digit-free timestamp versions.
package sql_migrate

//flamingock:sql target=maindb handle=pgx dialect=postgres min-postgres=13
