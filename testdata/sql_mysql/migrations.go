// Package sql_mysql is a MySQL directory through database/sql: the changes
// that define data run without a transaction (MySQL commits them on its
// own), the change of data only in one.
package sql_mysql

//flamingock:sql target=appdb handle=database/sql dialect=mysql
