// Package yaml_directive_errors has //flamingock:yaml directives with
// problems of their own.
package yaml_directive_errors

//flamingock:yaml target=appdb
