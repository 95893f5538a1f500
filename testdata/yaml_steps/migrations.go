// Package yaml_steps has MongoDB changes written as YAML steps files.
package yaml_steps

//go:generate go tool flamingock-gen

//flamingock:yaml target=appdb
