// Package yaml_broken_file has YAML files that are not valid changes.
package yaml_broken_file

//flamingock:yaml target=appdb
