package generator

import (
	"cmp"
	"go/types"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/flamingock/flamingock-go/internal/goname"
)

// nameDeps names the fields of Deps after their types: Logger for
// *slog.Logger. Types whose names clash are told apart by their package
// (SlogLogger, ZapLogger), then by pointer-ness (…Ptr), then by number.
func nameDeps(deps []dep) {
	steps := []func(d dep) string{
		func(d dep) string { return goname.UpperFirst(depTypeName(d.typ).Name()) },
		func(d dep) string {
			tn := depTypeName(d.typ)
			return goname.Field(tn.Pkg().Name()) + goname.UpperFirst(tn.Name())
		},
		func(d dep) string {
			tn := depTypeName(d.typ)
			s := goname.Field(tn.Pkg().Name()) + goname.UpperFirst(tn.Name())
			if _, ptr := types.Unalias(d.typ).(*types.Pointer); ptr {
				s += "Ptr"
			}
			return s
		},
	}
	clashes := func() map[string]int {
		count := map[string]int{}
		for _, d := range deps {
			count[d.field]++
		}
		return count
	}
	for i := range deps {
		deps[i].field = steps[0](deps[i])
	}
	for _, step := range steps[1:] {
		count := clashes()
		for i := range deps {
			if count[deps[i].field] > 1 {
				deps[i].field = step(deps[i])
			}
		}
	}
	count, seen := clashes(), map[string]int{}
	for i := range deps {
		if f := deps[i].field; count[f] > 1 {
			seen[f]++
			deps[i].field = f + strconv.Itoa(seen[f])
		}
	}
	slices.SortFunc(deps, func(a, b dep) int { return cmp.Compare(a.field, b.field) })
}

// depTypeName is the named type of a dependency (behind one pointer).
func depTypeName(t types.Type) *types.TypeName {
	if p, ok := types.Unalias(t).(*types.Pointer); ok {
		t = p.Elem()
	}
	return typeName(t)
}

func lowerFirst(s string) string {
	r, n := utf8.DecodeRuneInString(s)
	return string(unicode.ToLower(r)) + s[n:]
}

// snake turns CreateUsers into create_users, for a file name suggestion.
func snake(s string) string {
	var b strings.Builder
	for i, r := range s {
		if unicode.IsUpper(r) && i > 0 {
			b.WriteByte('_')
		}
		b.WriteRune(unicode.ToLower(r))
	}
	return b.String()
}
