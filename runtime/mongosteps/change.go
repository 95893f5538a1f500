package mongosteps

import (
	"context"
	"fmt"
	"sync"

	"go.mongodb.org/mongo-driver/v2/mongo"
)

// ChangeFunc is what a generated registry gives pipeline.NewChange for a
// steps file: its Apply or its Undo, on the change's *mongo.Database.
type ChangeFunc = func(ctx context.Context, db *mongo.Database) error

// ApplyFunc returns the change function of the steps file text, embedded
// under name by a generated registry: it parses text when it is first
// called (once for the function, so a retried change parses once) and
// runs its steps with Apply. The generator has parsed the same text, so a
// parse error here means the generated file or its embedded file was
// edited by hand: the function returns it, saying so, and runs nothing.
func ApplyFunc(name, text string) ChangeFunc {
	parse := parseOnce(name, text)
	return func(ctx context.Context, db *mongo.Database) error {
		f, err := parse()
		if err != nil {
			return err
		}
		return f.Apply(ctx, db)
	}
}

// UndoFunc is ApplyFunc for the file's undo list, run with Undo.
func UndoFunc(name, text string) ChangeFunc {
	parse := parseOnce(name, text)
	return func(ctx context.Context, db *mongo.Database) error {
		f, err := parse()
		if err != nil {
			return err
		}
		return f.Undo(ctx, db)
	}
}

func parseOnce(name, text string) func() (*File, error) {
	return sync.OnceValues(func() (*File, error) {
		f, err := Parse(name, []byte(text))
		if err != nil {
			return nil, fmt.Errorf("embedded steps file %s does not parse, so it is not the file flamingock-gen checked: run go generate\n%w", name, err)
		}
		return f, nil
	})
}
