package sql_directive_errors

//flamingock:sql target=appdb handle=database/sql dialect=sqlite flavour=x
