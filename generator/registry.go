package generator

import (
	"fmt"
	"go/ast"
	"go/token"
	"slices"
	"strconv"
	"strings"

	"github.com/flamingock/flamingock-go/audit"
)

// A registry left stale is the generator's silent failure: a change added
// without go generate builds, vets and runs, and never runs. registry.go
// reads the registry that flamingock_gen.go holds and names every change
// it disagrees with, for Result.Stale (the generated test, -check) and for
// Analyzer (go vet).

// registered is one change as flamingock_gen.go registers it.
type registered struct {
	pos                                token.Pos // of its Meta literal
	id, order, author, target, recover string
	withoutTx, compensate, checksum    string
	equivalent                         []string
	// profiles are the Profiles field, as written; nil when absent.
	profiles []string
	rollback bool
	// source is the Source field: file:line of the declaration, in a .sql
	// or .yaml file for a change read from one.
	source string
}

// fromFile returns the kind of file ("SQL", "YAML") that r was read from,
// or "" for a change declared in Go.
func (r registered) fromFile() string {
	file, _, _ := strings.Cut(r.source, ":")
	switch {
	case strings.HasSuffix(file, ".sql"):
		return "SQL"
	case strings.HasSuffix(file, ".yaml"):
		return "YAML"
	}
	return ""
}

// readRegistry returns the changes that the generated file f registers, in
// its order: every pipeline.Meta literal, as render writes them.
func readRegistry(f *ast.File) []registered {
	var regs []registered
	ast.Inspect(f, func(n ast.Node) bool {
		call, ok := n.(*ast.CallExpr)
		if !ok || len(call.Args) != 4 {
			return true
		}
		lit, ok := call.Args[0].(*ast.CompositeLit)
		if sel, isSel := ast.Unparen(lit.Type).(*ast.SelectorExpr); !ok || !isSel || sel.Sel.Name != "Meta" {
			return true
		}
		// render writes these only when they are true.
		r := registered{pos: lit.Pos(), withoutTx: "false", compensate: "false"}
		if id, ok := call.Args[3].(*ast.Ident); !ok || id.Name != "nil" {
			r.rollback = true
		}
		for _, elt := range lit.Elts {
			kv, ok := elt.(*ast.KeyValueExpr)
			if !ok {
				continue
			}
			key, _ := kv.Key.(*ast.Ident)
			if key == nil {
				continue
			}
			switch key.Name {
			case "ID":
				r.id = stringLit(kv.Value)
			case "Order":
				r.order = orderText(kv.Value)
			case "Author":
				r.author = stringLit(kv.Value)
			case "Target":
				r.target = stringLit(kv.Value)
			case "Recovery":
				r.recover = exprText(kv.Value)
			case "WithoutTransaction":
				r.withoutTx = exprText(kv.Value)
			case "Compensate":
				r.compensate = exprText(kv.Value)
			case "Checksum":
				r.checksum = stringLit(kv.Value)
			case "Source":
				r.source = stringLit(kv.Value)
			case "Equivalent":
				if list, ok := kv.Value.(*ast.CompositeLit); ok {
					for _, e := range list.Elts {
						r.equivalent = append(r.equivalent, stringLit(e))
					}
				}
			case "Profiles":
				if list, ok := kv.Value.(*ast.CompositeLit); ok {
					for _, e := range list.Elts {
						r.profiles = append(r.profiles, stringLit(e))
					}
				}
			}
		}
		regs = append(regs, r)
		return false
	})
	return regs
}

// profileText writes profiles as profile= does, "none" for none.
func profileText(profiles []string) string {
	if len(profiles) == 0 {
		return "none"
	}
	return strings.Join(profiles, ",")
}

func stringLit(e ast.Expr) string {
	if lit, ok := e.(*ast.BasicLit); ok && lit.Kind == token.STRING {
		if s, err := strconv.Unquote(lit.Value); err == nil {
			return s
		}
	}
	return exprText(e)
}

// orderText returns the digits of an order as render writes it: a call of
// audit.OrderOf or audit.MustParseOrder.
func orderText(e ast.Expr) string {
	if call, ok := e.(*ast.CallExpr); ok && len(call.Args) == 1 {
		return stringLit(call.Args[0])
	}
	return exprText(e)
}

// exprText renders a literal, an identifier or a selector's last name.
func exprText(e ast.Expr) string {
	switch e := e.(type) {
	case *ast.BasicLit:
		return e.Value
	case *ast.Ident:
		return e.Name
	case *ast.SelectorExpr:
		return e.Sel.Name
	}
	return fmt.Sprintf("%T", e)
}

// registration returns ch as render registers it, to compare with what
// readRegistry finds.
func registration(ch *change, equivalent []string) registered {
	recovery := "RecoveryManual"
	if ch.ann.Recovery == audit.RecoveryRetry {
		recovery = "RecoveryRetry"
	}
	return registered{
		id:         ch.ann.ID,
		order:      ch.order.String(),
		author:     ch.ann.Author,
		target:     ch.ann.Target,
		recover:    recovery,
		withoutTx:  strconv.FormatBool(!ch.ann.Transactional),
		compensate: strconv.FormatBool(ch.ann.Compensate),
		checksum:   ch.checksum,
		equivalent: equivalent,
		profiles:   ch.ann.Profiles,
		rollback:   ch.rollback != nil || ch.sql != nil && ch.sql.down != nil || ch.yaml != nil && ch.yaml.undo,
		source:     ch.source,
	}
}

// staleness compares the declared changes with regs, what the generated
// file registers, and returns a problem for each disagreement, positioned
// at the change (or, for a change no longer declared, at its registration
// in fset). A change whose checksum cannot be trusted (it embeds files the
// caller could not read) is compared without it. equivalent holds the
// checksums the ledger records as cosmetic, by change id; nil when the
// ledger is unknown, and the registered ones are then not compared.
// filesKnown is false when the SQL and YAML files of the package could
// not be read (an analysis pass): the registrations of changes read from
// them are then not compared.
func staleness(fset *token.FileSet, changes []*change, regs []registered, equivalent map[string][]string, trustChecksum func(*change) bool, filesKnown bool) []*Error {
	const fix = "run go generate"
	var errs []*Error
	add := func(pos token.Pos, format string, args ...any) {
		errs = append(errs, &Error{Pos: fset.Position(pos), at: pos, Msg: fmt.Sprintf(format, args...) + ": " + fix})
	}
	byID := map[string]registered{}
	for _, r := range regs {
		byID[r.id] = r
	}
	declared := map[string]bool{}
	for _, ch := range changes {
		declared[ch.ann.ID] = true
		got, ok := byID[ch.ann.ID]
		if !ok {
			add(ch.decl, "change %q is not in %s, so it would never run", ch.ann.ID, OutputName)
			continue
		}
		want := registration(ch, equivalent[ch.ann.ID])
		var diffs []string
		for _, f := range []struct{ name, want, got string }{
			{"order", want.order, got.order},
			{"author", want.author, got.author},
			{"target", want.target, got.target},
			{"recovery", want.recover, got.recover},
			{"transactional", strconv.FormatBool(want.withoutTx != "true"), strconv.FormatBool(got.withoutTx != "true")},
			{"compensate", want.compensate, got.compensate},
			{"profile", profileText(want.profiles), profileText(got.profiles)},
		} {
			if f.want != f.got {
				diffs = append(diffs, fmt.Sprintf("%s %s, registered %s", f.name, f.want, f.got))
			}
		}
		if want.rollback != got.rollback {
			diffs = append(diffs, map[bool]string{true: "a rollback, registered none", false: "no rollback, registered one"}[want.rollback])
		}
		if trustChecksum(ch) && (want.checksum != got.checksum || equivalent != nil && !slices.Equal(want.equivalent, got.equivalent)) {
			if ch.sql != nil {
				diffs = append(diffs, "its SQL file")
			} else if ch.yaml != nil {
				diffs = append(diffs, "its YAML file")
			} else {
				diffs = append(diffs, "its source or embedded files")
			}
		}
		if len(diffs) > 0 {
			add(ch.decl, "change %q differs from its registration in %s (%s)", ch.ann.ID, OutputName, strings.Join(diffs, "; "))
		}
	}
	for _, r := range regs {
		switch {
		case declared[r.id]:
		case r.fromFile() != "" && !filesKnown:
		case r.fromFile() != "":
			add(r.pos, "%s registers change %q of %s, which is no longer declared (its %s file was removed or renamed)", OutputName, r.id, r.source, r.fromFile())
		default:
			add(r.pos, "%s registers change %q, which is no longer declared", OutputName, r.id)
		}
	}
	return errs
}
