// Module of the generator's golden cases: each directory is one case, the
// input package beside want/ (see generator/generator_test.go). It is a
// module of its own so that the generated goldens can be built against the
// checkout, and so that go test ./... in the main module never sees the cases.
// When the runtime's dependencies change, run go mod tidy here.
module github.com/flamingock/flamingock-go/testdata

go 1.26.0

require (
	github.com/flamingock/flamingock-go v0.0.0
	github.com/jackc/pgx/v5 v5.12.0
	go.mongodb.org/mongo-driver/v2 v2.10.0
)

require (
	github.com/jackc/pgpassfile v1.0.0 // indirect
	github.com/jackc/pgservicefile v0.0.0-20240606120523-5a60cdf6a761 // indirect
	github.com/jackc/puddle/v2 v2.2.3 // indirect
	github.com/klauspost/compress v1.20.3 // indirect
	github.com/xdg-go/scram v1.4.0 // indirect
	github.com/xdg-go/stringprep v1.0.4 // indirect
	github.com/youmark/pkcs8 v0.0.0-20240726163527-a2c0da244d78 // indirect
	go.yaml.in/yaml/v3 v3.0.6 // indirect
	golang.org/x/crypto v0.54.0 // indirect
	golang.org/x/sync v0.24.0 // indirect
	golang.org/x/text v0.41.0 // indirect
)

replace github.com/flamingock/flamingock-go => ../
