// Package no_changes is a stage without changes yet, as a package is before
// its first //flamingock:change: it generates an empty, compiling stage.
package no_changes

//go:generate go tool flamingock-gen
