//go:build ignore

// A program the build skips: its directives, even mistyped ones, are found.
package main

// flamingock:change id=typo order=4 target=appdb
func main() {}
