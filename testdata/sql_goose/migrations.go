// Package sql_goose is a goose directory brought as it is.
package sql_goose

//flamingock:sql target=appdb handle=database/sql dialect=sqlite
