package sql_broken_file

//flamingock:sql target=appdb handle=database/sql dialect=postgres
