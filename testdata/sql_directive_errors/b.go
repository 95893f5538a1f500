package sql_directive_errors

//flamingock:sqll target=appdb

// flamingock:sql target=appdb handle=database/sql dialect=sqlite

//flamingock:sql handle=pgx dialect=sqlite
