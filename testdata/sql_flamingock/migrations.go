// Package sql_flamingock holds flamingock's own SQL form.
package sql_flamingock

//flamingock:sql target=appdb handle=database/sql dialect=sqlite
