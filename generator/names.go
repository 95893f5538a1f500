package generator

import (
	"cmp"
	"go/types"
	"maps"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/flamingock/flamingock-go/internal/goname"
)

// depsOf returns the dependencies that changes receive, each with its
// field of Deps (see nameDeps), sorted by field. recorded holds the
// fields the ledger records, by type (types.TypeString with full package
// paths): a dependency keeps its field once generated, whatever is added.
func depsOf(changes []*change, recorded map[string]string) []dep {
	byKey := map[string]types.Type{}
	for _, ch := range changes {
		for _, t := range slices.Concat(ch.applyDeps, ch.rollbackDeps) {
			byKey[depKey(t)] = t
		}
	}
	var deps []dep
	for _, k := range slices.Sorted(maps.Keys(byKey)) {
		deps = append(deps, dep{typ: byKey[k], field: recorded[k]})
	}
	nameDeps(deps)
	return deps
}

// depKey identifies a dependency type in the ledger.
func depKey(t types.Type) string { return types.TypeString(t, nil) }

// nameDeps names the fields of Deps after their types: Logger for
// *slog.Logger. Types whose names clash are told apart by their package
// (SlogLogger, ZapLogger), then by pointer-ness (…Ptr), then by number. A
// dep that has a field already (recorded in the ledger) keeps it, and the
// others are named around it.
func nameDeps(deps []dep) {
	kept := map[string]bool{}
	var fresh []int // the deps to name
	for i, d := range deps {
		if d.field != "" {
			kept[d.field] = true
		} else {
			fresh = append(fresh, i)
		}
	}
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
	// A kept field counts as a clash: its holder does not move.
	clashes := func() map[string]int {
		count := map[string]int{}
		for f := range kept {
			count[f] = 2
		}
		for _, i := range fresh {
			count[deps[i].field]++
		}
		return count
	}
	for _, i := range fresh {
		deps[i].field = steps[0](deps[i])
	}
	for _, step := range steps[1:] {
		count := clashes()
		for _, i := range fresh {
			if count[deps[i].field] > 1 {
				deps[i].field = step(deps[i])
			}
		}
	}
	count, seen := clashes(), map[string]int{}
	for _, i := range fresh {
		f := deps[i].field
		if count[f] <= 1 {
			continue
		}
		for {
			seen[f]++
			if n := f + strconv.Itoa(seen[f]); !kept[n] && count[n] == 0 {
				deps[i].field = n
				break
			}
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
