package annotations_test

import (
	"fmt"
	"go/parser"
	"go/token"

	"github.com/flamingock/flamingock-go/annotations"
)

func ExampleParseComment() {
	const src = `package migrations

// CreateUsers creates the users table.
//
//flamingock:change id=create-users order=0010 target=appdb "author=Alice Smith" recovery=retry
func CreateUsers() {}

//flamingock:change id=add-email ordr=11 target=appdb author="Bob"
func AddEmail() {}
`
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, "changes.go", src, parser.ParseComments)
	if err != nil {
		panic(err)
	}
	for _, cg := range f.Comments {
		for _, c := range cg.List {
			ch, ok, err := annotations.ParseComment(c)
			if !ok {
				continue
			}
			if list, isList := err.(annotations.ErrorList); isList {
				for _, e := range list {
					fmt.Printf("%s: %s\n", fset.Position(e.Pos), e.Msg)
				}
				continue
			}
			fmt.Printf("%s: order %s, target %s, by %s, recovery %s\n", ch.ID, ch.Order, ch.Target, ch.Author, ch.Recovery)
		}
	}
	// Output:
	// create-users: order 10, target appdb, by Alice Smith, recovery RETRY
	// changes.go:8:34: unknown attribute "ordr" (did you mean "order"?)
	// changes.go:8:55: malformed value for author: a value with quotes or spaces is written by quoting the whole attribute, as in "author=Alice Smith"
}
