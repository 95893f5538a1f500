package generator

import (
	"cmp"
	"errors"
	"fmt"
	"go/ast"
	"go/token"
	"go/types"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"github.com/flamingock/flamingock-go/annotations"
	"github.com/flamingock/flamingock-go/audit"
	"github.com/flamingock/flamingock-go/internal/goname"
)

// change is one validated declaration of a change.
type change struct {
	ann  annotations.Change
	file string // absolute path of the declaring file
	// decl is the position of the function or type name.
	decl token.Pos
	// name is the function or type name.
	name string
	// typ is set for the type form: the type whose methods are the change.
	typ      *types.Named
	apply    *types.Func
	rollback *types.Func // nil when the change declares none
	handle   types.Type
	// applyDeps and rollbackDeps are the dependency parameters, in order.
	applyDeps, rollbackDeps []types.Type
	order                   audit.Order
	orderPos                token.Pos
	checksum                string
	// embeds is set when the change reaches a variable initialized by
	// //go:embed: its checksum covers the files it embeds too.
	embeds bool
	// source is file.go:line, relative to the package directory.
	source string
	// badDirective is set when the directive itself has problems, already
	// reported; checks that need its attributes skip the change.
	badDirective bool
	// sql is set for a change read from SQL files (see sqlchanges.go): it
	// has no function, and decl and orderPos are in its file.
	sql *sqlChange
	// yaml is set for a change read from a YAML steps file (see
	// yamlchanges.go), as sql is.
	yaml *yamlChange
}

// fromFile reports whether ch was read from a SQL or YAML file rather
// than declared in Go.
func (ch *change) fromFile() bool { return ch.sql != nil || ch.yaml != nil }

// input is a type-checked package, as go/packages or an analysis pass has it.
type input struct {
	fset  *token.FileSet
	files []*ast.File
	pkg   *types.Package
	info  *types.Info
	// readFile returns a source file's content, for checksums.
	readFile func(filename string) ([]byte, error)
	// dir is the package directory, where //go:embed patterns are
	// resolved and read; empty when embedded files cannot be read (an
	// analysis pass may read only the package's own files).
	dir string
	// embedFiles are the package's embedded files as the go command lists
	// them (absolute paths); nil when unknown.
	embedFiles []string
}

// generatedNames are the package-level names flamingock_gen.go declares.
var generatedNames = []string{"Targets", "Deps", "Stage"}

// orderPrefix matches the order prefix of a file name, as in 0001_create_users.go.
var orderPrefix = regexp.MustCompile(`^([0-9]+)_`)

// checker validates the directives of one package.
type checker struct {
	input
	errs      []*Error
	errType   types.Type
	funcDecls map[token.Pos]*ast.FuncDecl // by name position
	// vars maps each package-level variable to its spec, and embeds those
	// initialized by //go:embed to their files (see embed.go).
	vars   map[*types.Var]*ast.ValueSpec
	embeds map[*types.Var]*embedVar
	// sqlDirective is the package's //flamingock:sql, nil when it has none;
	// sqlDirectiveBad is set when it has problems, already reported.
	sqlDirective    *annotations.SQL
	sqlDirectiveBad bool
	changeFiles     map[string]changeFileData // read SQL and YAML files, by name
	listing         *listing                  // the package directory, once listed (dirEntries)
	// yamlDirective is the package's //flamingock:yaml, as sqlDirective.
	yamlDirective    *annotations.YAML
	yamlDirectiveBad bool
	warnings         []*Error
}

// check finds and validates every change of in, Go and SQL, sorted by
// order. It returns the changes even when there are problems, so that the
// ledger can be checked against them in the same run, and warnings: what
// it decided that must be seen (a SQL file skipped for another dialect).
func check(in input) ([]*change, []*Error, []*Error) {
	c := &checker{
		input:     in,
		errType:   types.Universe.Lookup("error").Type(),
		funcDecls: map[token.Pos]*ast.FuncDecl{},
	}
	for _, f := range in.files {
		for _, d := range f.Decls {
			if fd, ok := d.(*ast.FuncDecl); ok {
				c.funcDecls[fd.Name.Pos()] = fd
			}
		}
	}
	c.findVars()
	for _, name := range generatedNames {
		// The generated file itself is absent, or empty, when flamingock-gen
		// loads the package, but present when an analyzer runs.
		if obj := in.pkg.Scope().Lookup(name); obj != nil && filepath.Base(in.fset.Position(obj.Pos()).Filename) != OutputName {
			c.add(obj.Pos(), "%s is declared here, but flamingock-gen declares it in %s: rename it", name, OutputName)
		}
	}

	files := slices.Clone(in.files)
	slices.SortFunc(files, func(a, b *ast.File) int {
		return cmp.Compare(in.fset.File(a.Pos()).Name(), in.fset.File(b.Pos()).Name())
	})
	var changes []*change
	for _, f := range files {
		if strings.HasSuffix(in.fset.File(f.Pos()).Name(), "_test.go") {
			// An analysis pass of the package's test variant sees them.
			c.errs = append(c.errs, strayDirectives(in.fset, f, whyTestFile)...)
			continue
		}
		changes = append(changes, c.file(f)...)
	}
	// SQL changes first: a Go change that disagrees with the package
	// directive on its target's handle is the one to fix.
	changes = append(append(c.sqlChanges(), c.yamlChanges()...), changes...)
	c.crossCheck(changes)
	slices.SortStableFunc(changes, func(a, b *change) int { return a.order.Compare(b.order) })
	sortErrors(c.errs)
	sortErrors(c.warnings)
	return changes, c.errs, c.warnings
}

func (c *checker) add(pos token.Pos, format string, args ...any) {
	c.errs = append(c.errs, &Error{Pos: c.fset.Position(pos), Msg: fmt.Sprintf(format, args...), at: pos})
}

// file returns the changes declared in f.
func (c *checker) file(f *ast.File) []*change {
	owners := docOwners(f)
	first := map[ast.Node]token.Pos{} // owner → its first directive
	var changes []*change
	for _, cg := range f.Comments {
		for _, cm := range cg.List {
			if c.packageDirective(cm) || c.yamlPackageDirective(cm) {
				continue
			}
			ann, ok, err := annotations.ParseComment(cm)
			if !ok {
				continue
			}
			var list annotations.ErrorList
			if errors.As(err, &list) {
				for _, e := range list {
					c.add(e.Pos, "%s", e.Msg)
				}
			}
			owner := owners[cg]
			if p, dup := first[owner]; dup && owner != nil {
				c.add(cm.Slash, "second //flamingock:change on one declaration (first at %s): a declaration declares one change", where(c.fset.Position(p)))
				continue
			}
			first[owner] = cm.Slash
			if ch := c.declaration(ann, owner, cm.Slash); ch != nil {
				ch.badDirective = err != nil
				changes = append(changes, ch)
			}
		}
	}
	return changes
}

// docOwners maps each doc comment of f to the declaration it documents.
func docOwners(f *ast.File) map[*ast.CommentGroup]ast.Node {
	owners := map[*ast.CommentGroup]ast.Node{}
	for _, d := range f.Decls {
		switch d := d.(type) {
		case *ast.FuncDecl:
			if d.Doc != nil {
				owners[d.Doc] = d
			}
		case *ast.GenDecl:
			if d.Doc != nil {
				if d.Tok == token.TYPE && len(d.Specs) == 1 {
					owners[d.Doc] = d.Specs[0]
				} else {
					owners[d.Doc] = d
				}
			}
			for _, s := range d.Specs {
				switch s := s.(type) {
				case *ast.TypeSpec:
					if s.Doc != nil {
						owners[s.Doc] = s
					}
				case *ast.ValueSpec:
					if s.Doc != nil {
						owners[s.Doc] = s
					}
				}
			}
		}
	}
	return owners
}

// declaration checks the declaration that directive ann documents and
// returns the change it declares, or nil when it cannot declare one.
func (c *checker) declaration(ann annotations.Change, owner ast.Node, slash token.Pos) *change {
	const rule = "//flamingock:change must be in the doc comment of a function or a type"
	switch d := owner.(type) {
	case nil:
		c.add(slash, "%s; this one documents no declaration", rule)
	case *ast.GenDecl:
		if d.Tok == token.TYPE {
			c.add(slash, "%s; this one documents a group of types: move it to one type of the group", rule)
		} else {
			c.add(slash, "%s, not of a %s declaration", rule, d.Tok)
		}
	case *ast.ValueSpec:
		c.add(slash, "%s, not of a variable or constant", rule)
	case *ast.FuncDecl:
		return c.funcForm(ann, d)
	case *ast.TypeSpec:
		return c.typeForm(ann, d)
	}
	return nil
}

func (c *checker) newChange(ann annotations.Change, name *ast.Ident, nodes ...ast.Node) *change {
	pos := c.fset.Position(name.Pos())
	ch := &change{
		ann:    ann,
		file:   pos.Filename,
		decl:   name.Pos(),
		name:   name.Name,
		source: fmt.Sprintf("%s:%d", filepath.Base(pos.Filename), pos.Line),
	}
	sum, embeds, err := c.checksum(nodes...)
	if err != nil {
		c.add(name.Pos(), "cannot compute the checksum of %s: %v", name.Name, err)
	}
	ch.checksum, ch.embeds = sum, embeds
	return ch
}

func (c *checker) funcForm(ann annotations.Change, fd *ast.FuncDecl) *change {
	switch {
	case fd.Recv != nil:
		recv := types.ExprString(fd.Recv.List[0].Type)
		c.add(fd.Name.Pos(), "//flamingock:change on method (%s).%s: put it on the type %s (type form) or on a function", recv, fd.Name.Name, strings.TrimPrefix(recv, "*"))
		return nil
	case fd.Type.TypeParams != nil:
		c.add(fd.Name.Pos(), "change %s must not be generic: the generated code has no type arguments to give it", fd.Name.Name)
		return nil
	case fd.Name.Name == "init":
		c.add(fd.Name.Pos(), "init cannot be a change: it cannot be referred to")
		return nil
	}
	fn, _ := c.info.Defs[fd.Name].(*types.Func)
	if fn == nil {
		return nil
	}
	ch := c.newChange(ann, fd.Name, fd)
	ch.apply = fn
	ch.handle, ch.applyDeps = c.shape("change "+fd.Name.Name, fd.Name.Pos(), fn.Signature(), fd)
	if ann.Rollback == "" {
		if ann.Compensate {
			c.add(ann.AttrPos("compensate"), "compensate=true runs the change's rollback after it fails, but %s declares none: add rollback=FUNC", fd.Name.Name)
		}
		return ch
	}
	pos := ann.AttrPos("rollback")
	obj := c.pkg.Scope().Lookup(ann.Rollback)
	rb, isFunc := obj.(*types.Func)
	switch {
	case obj == nil:
		hint := ""
		for _, name := range c.pkg.Scope().Names() {
			if strings.EqualFold(name, ann.Rollback) {
				hint = fmt.Sprintf(" (did you mean %s?)", name)
			}
		}
		c.add(pos, "rollback function %s is not declared in package %s%s", ann.Rollback, c.pkg.Name(), hint)
		return ch
	case !isFunc:
		c.add(pos, "rollback %s is a %s, not a function", ann.Rollback, kindOf(obj))
		return ch
	case rb.Signature().TypeParams() != nil:
		c.add(pos, "rollback %s must not be generic", ann.Rollback)
		return ch
	}
	h, deps := c.shape("rollback "+rb.Name(), pos, rb.Signature(), c.funcDecls[rb.Pos()])
	if h != nil && ch.handle != nil && !types.Identical(h, ch.handle) {
		c.add(pos, "rollback %s takes handle %s, but change %s takes %s: they must take the same handle type",
			rb.Name(), c.typeString(h), fd.Name.Name, c.typeString(ch.handle))
	}
	ch.rollback, ch.rollbackDeps = rb, deps
	return ch
}

func (c *checker) typeForm(ann annotations.Change, ts *ast.TypeSpec) *change {
	switch {
	case ts.Assign.IsValid():
		c.add(ts.Name.Pos(), "//flamingock:change on alias %s: put it on a defined type (type %s struct{…})", ts.Name.Name, ts.Name.Name)
		return nil
	case ts.TypeParams != nil:
		c.add(ts.Name.Pos(), "change type %s must not be generic: the generated code has no type arguments to give it", ts.Name.Name)
		return nil
	}
	tn, _ := c.info.Defs[ts.Name].(*types.TypeName)
	if tn == nil {
		return nil
	}
	named, _ := tn.Type().(*types.Named)
	if named == nil {
		return nil
	}
	if types.IsInterface(named) {
		c.add(ts.Name.Pos(), "change type %s is an interface: the type form needs a concrete type with an Apply method", ts.Name.Name)
		return nil
	}
	if ann.Rollback != "" {
		c.add(ann.AttrPos("rollback"), "rollback= is for the function form: declare a Rollback method on %s instead", ts.Name.Name)
	}

	methods := types.NewMethodSet(types.NewPointer(named))
	method := func(name string) *types.Func {
		if sel := methods.Lookup(nil, name); sel != nil {
			return sel.Obj().(*types.Func)
		}
		return nil
	}
	apply, rollback := method("Apply"), method("Rollback")
	nodes := []ast.Node{ts}
	for _, m := range []*types.Func{apply, rollback} {
		if m != nil && c.funcDecls[m.Pos()] != nil {
			nodes = append(nodes, c.funcDecls[m.Pos()])
		}
	}
	ch := c.newChange(ann, ts.Name, nodes...)
	ch.typ = named
	if apply == nil {
		c.add(ts.Name.Pos(), "type %s has no Apply method: the type form needs Apply(context.Context, H, deps...) error", ts.Name.Name)
		return ch
	}
	ch.apply = apply
	ch.handle, ch.applyDeps = c.shape("method "+ts.Name.Name+".Apply", apply.Pos(), apply.Signature(), c.funcDecls[apply.Pos()])
	if rollback == nil {
		if ann.Compensate {
			c.add(ann.AttrPos("compensate"), "compensate=true runs the change's rollback after it fails, but %s has no Rollback method: declare one", ts.Name.Name)
		}
		return ch
	}
	h, deps := c.shape("method "+ts.Name.Name+".Rollback", rollback.Pos(), rollback.Signature(), c.funcDecls[rollback.Pos()])
	if h != nil && ch.handle != nil && !types.Identical(h, ch.handle) {
		c.add(rollback.Pos(), "method %s.Rollback takes handle %s, but %s.Apply takes %s: they must take the same handle type",
			ts.Name.Name, c.typeString(h), ts.Name.Name, c.typeString(ch.handle))
	}
	ch.rollback, ch.rollbackDeps = rollback, deps
	return ch
}

// shape checks that sig is func(context.Context, H, deps...) error and
// returns H (nil when the shape is wrong) and the dependency types. what
// names the function in messages; fd, when known, positions problems at the
// parameter concerned.
func (c *checker) shape(what string, pos token.Pos, sig *types.Signature, fd *ast.FuncDecl) (types.Type, []types.Type) {
	const want = "a change is func(context.Context, H, deps...) error"
	params, results := sig.Params(), sig.Results()
	problem := ""
	switch {
	case params.Len() == 0 || !isContext(params.At(0).Type()):
		problem = "its first parameter must be a context.Context"
	case params.Len() < 2:
		problem = "it needs a handle parameter after the context"
	case sig.Variadic():
		problem = "it must not be variadic: dependencies are injected one per parameter"
	case results.Len() != 1 || !types.Identical(results.At(0).Type(), c.errType):
		problem = "it must return exactly one error"
	}
	if problem != "" {
		c.add(pos, "wrong signature for %s: %s (%s; have %s)", what, problem, want, c.typeString(sig))
		return nil, nil
	}
	handle := params.At(1).Type()
	if err := c.expressible(handle); err != nil {
		c.add(paramPos(fd, 1, pos), "handle type %s of %s cannot be written in generated code (%v): declare a named type for it", c.typeString(handle), what, err)
	}
	var deps []types.Type
	for i := 2; i < params.Len(); i++ {
		t := params.At(i).Type()
		if msg := c.dependencyProblem(t); msg != "" {
			c.add(paramPos(fd, i, pos), "dependency %s of %s: %s", c.typeString(t), what, msg)
		}
		deps = append(deps, t)
	}
	return handle, deps
}

// dependencyProblem says why t cannot be injected by type, or "".
func (c *checker) dependencyProblem(t types.Type) string {
	base := t
	if p, ok := types.Unalias(t).(*types.Pointer); ok {
		base = p.Elem()
	}
	obj := typeName(base)
	if obj == nil || obj.Pkg() == nil {
		return "dependencies are injected by type, so each needs a named type; declare one (type Config struct{…})"
	}
	if err := c.expressible(t); err != nil {
		return fmt.Sprintf("cannot be written in generated code (%v)", err)
	}
	return ""
}

// expressible reports why t cannot be written in the generated file, or nil.
func (c *checker) expressible(t types.Type) error {
	_, err := newTypeWriter(c.pkg).code(t)
	return err
}

func isContext(t types.Type) bool {
	n, ok := types.Unalias(t).(*types.Named)
	return ok && n.Obj().Pkg() != nil && n.Obj().Pkg().Path() == "context" && n.Obj().Name() == "Context"
}

// paramPos returns the position of parameter i of fd, or def when unknown.
func paramPos(fd *ast.FuncDecl, i int, def token.Pos) token.Pos {
	if fd == nil {
		return def
	}
	for _, field := range fd.Type.Params.List {
		n := max(len(field.Names), 1)
		if i < n {
			if len(field.Names) > 0 {
				return field.Names[i].Pos()
			}
			return field.Pos()
		}
		i -= n
	}
	return def
}

func kindOf(obj types.Object) string {
	switch obj.(type) {
	case *types.Var:
		return "variable"
	case *types.Const:
		return "constant"
	case *types.TypeName:
		return "type"
	}
	return "declaration"
}

// typeString renders t as the package's source would write it.
func (c *checker) typeString(t types.Type) string { return typeString(t, c.pkg) }

// crossCheck checks what involves several changes: orders, ids, targets.
func (c *checker) crossCheck(changes []*change) {
	byID := map[string]*change{}
	byOrder := map[audit.Order]*change{}
	targets := map[string]*change{} // by target id: the first change on it
	byGoName := map[string]string{} // Go field name → target id
	// spelling is the first spelling of each profile name, by its lower
	// case, and where it was written.
	type spelt struct {
		name string
		ch   *change
	}
	spelling := map[string]spelt{}
	for _, ch := range changes {
		for _, p := range ch.ann.Profiles {
			bare := strings.TrimPrefix(p, "!")
			first, seen := spelling[strings.ToLower(bare)]
			switch {
			case !seen:
				spelling[strings.ToLower(bare)] = spelt{bare, ch}
			case first.name != bare:
				c.add(ch.ann.AttrPos("profile"), "profile %q of change %q differs only in case from %q of change %q (%s): profiles are compared case-sensitively, so they would be two profiles; write one spelling",
					bare, ch.ann.ID, first.name, first.ch.ann.ID, where(c.fset.Position(first.ch.ann.AttrPos("profile"))))
			}
		}
	}
	for _, ch := range changes {
		if !ch.fromFile() {
			c.resolveOrder(ch)
		}
		if first, dup := byID[ch.ann.ID]; dup {
			c.add(ch.ann.AttrPos("id"), "duplicate change id %q (first declared at %s)", ch.ann.ID, where(c.fset.Position(first.ann.AttrPos("id"))))
		} else if ch.ann.ID != "" {
			byID[ch.ann.ID] = ch
		}
		if ch.orderPos.IsValid() {
			if first, dup := byOrder[ch.order]; dup {
				c.add(ch.orderPos, "duplicate order %s: change %q has it too (declared at %s)", ch.order, first.ann.ID, where(c.fset.Position(first.orderPos)))
			} else {
				byOrder[ch.order] = ch
			}
		}
		id := ch.ann.Target
		if id == "" || ch.handle == nil {
			continue
		}
		if first, seen := targets[id]; seen {
			if !types.Identical(first.handle, ch.handle) && first.sql != nil {
				c.add(ch.ann.AttrPos("target"), "target %q gets handle type %s here, but %s from the package directive (//flamingock:sql handle=%s, at %s), which the package's SQL files run on: a target has one handle type",
					id, c.typeString(ch.handle), c.typeString(first.handle), c.sqlDirective.Handle, where(c.fset.Position(c.sqlDirective.AttrPos("handle"))))
			} else if !types.Identical(first.handle, ch.handle) && first.yaml != nil {
				c.add(ch.ann.AttrPos("target"), "target %q gets handle type %s here, but %s from the package directive (//flamingock:yaml, at %s), which the package's YAML files run on: a target has one handle type",
					id, c.typeString(ch.handle), c.typeString(first.handle), where(c.fset.Position(c.yamlDirective.AttrPos("target"))))
			} else if !types.Identical(first.handle, ch.handle) {
				c.add(ch.ann.AttrPos("target"), "target %q gets handle type %s here, but %s from change %q (%s): a target has one handle type",
					id, c.typeString(ch.handle), c.typeString(first.handle), first.ann.ID, where(c.fset.Position(first.decl)))
			}
			continue
		}
		name := goname.Field(id)
		if other, clash := byGoName[name]; clash {
			c.add(ch.ann.AttrPos("target"), "target ids %q and %q both become the Go name %s in Targets: rename one", other, id, name)
		}
		byGoName[name] = id
		targets[id] = ch
	}
}

// resolveOrder sets ch.order from the directive and the file name prefix.
func (c *checker) resolveOrder(ch *change) {
	base := filepath.Base(ch.file)
	m := orderPrefix.FindStringSubmatch(base)
	var fromName audit.Order
	if m != nil {
		fromName = audit.MustParseOrder(m[1]) // digits, as orderPrefix matched them
	}
	switch {
	case ch.badDirective && !ch.ann.HasOrder:
		// The directive's own problems come first: an invalid or mistyped
		// order= is among them.
	case ch.ann.HasOrder && m != nil && ch.ann.Order != fromName:
		c.add(ch.ann.AttrPos("order"), "order=%s disagrees with the file name %s (order %s)", ch.ann.Order, base, fromName)
	case ch.ann.HasOrder:
		ch.order, ch.orderPos = ch.ann.Order, ch.ann.AttrPos("order")
	case m != nil:
		ch.order, ch.orderPos = fromName, ch.ann.Pos
	default:
		c.add(ch.ann.Pos, "missing order: add order=N, or name the file with an order prefix such as 0001_%s.go", snake(ch.name))
	}
}
