// Module of the generator's golden cases: each directory is one case, the
// input package beside want/ (see generator/generator_test.go). It is a
// module of its own so that the generated goldens can be built against the
// checkout, and so that go test ./... in the main module never sees the cases.
// When the runtime's dependencies change, run go mod tidy here.
module github.com/flamingock/flamingock-go/testdata

go 1.26.0

require github.com/flamingock/flamingock-go v0.0.0

replace github.com/flamingock/flamingock-go => ../
