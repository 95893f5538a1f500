// Command platform is the example of a pipeline that evolves more than a
// database (issue 17; being written).
package main
