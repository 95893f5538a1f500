package generator

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"go/ast"
	"go/token"
	"go/types"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/flamingock/flamingock-go/annotations"
	"github.com/flamingock/flamingock-go/audit"
	"github.com/flamingock/flamingock-go/runtime/mongosteps"
)

// MongoDB YAML steps files are changes: the <order>_<name>.yaml files
// beside the Go files of a package that holds the //flamingock:yaml
// package directive (annotations.YAML) are parsed by package mongosteps,
// as the generated code parses them again at run time, and each becomes a
// change of the model on the directive's target, whose handle is
// *mongo.Database. yamlchanges.go turns them into changes; render embeds
// them and registers mongosteps.ApplyFunc and UndoFunc.
//
// Every .yaml or .yml file of the package directory is one of its changes
// or an error: a file that is silently not a change is the mistake the
// generator exists to prevent (0001_users.yml, 1-users.yaml, users.yaml
// would never run). Only names starting with "." or "_" are left alone,
// as the go command leaves such files out of a package.

// yamlChange is what a change read from a YAML steps file runs.
type yamlChange struct {
	// file is the steps file, relative to the package directory.
	file string
	// undo is set when the file has an undo list: the change's rollback.
	undo bool
}

// Import paths of the generated code of YAML changes.
const (
	mongostepsPath = "github.com/flamingock/flamingock-go/runtime/mongosteps"
	mongoPath      = "go.mongodb.org/mongo-driver/v2/mongo"
)

// yamlChangeName matches the name of a YAML change file: <order>_<name>.yaml.
var yamlChangeName = regexp.MustCompile(`^([0-9]+)_([A-Za-z0-9][A-Za-z0-9._-]*)\.yaml$`)

// isYAMLFile reports whether name is a YAML file that the package
// directory's rules concern.
func isYAMLFile(name string) bool {
	ext := strings.ToLower(filepath.Ext(name))
	return (ext == ".yaml" || ext == ".yml") && !strings.HasPrefix(name, ".") && !strings.HasPrefix(name, "_")
}

// yamlPackageDirective records the //flamingock:yaml directive cm, if it
// is one, and reports whether it is.
func (c *checker) yamlPackageDirective(cm *ast.Comment) bool {
	d, ok, err := annotations.ParseYAMLComment(cm)
	if !ok {
		return false
	}
	c.addDirectiveErrors(err)
	if c.yamlDirective != nil {
		c.add(cm.Slash, "second //flamingock:yaml directive (first at %s): a package has one", where(c.fset.Position(c.yamlDirective.Pos)))
		return true
	}
	c.yamlDirective, c.yamlDirectiveBad = &d, err != nil
	return true
}

// yamlChanges returns the changes of the package's YAML files, reporting
// their problems. It reads nothing when the directory is unknown (an
// analysis pass).
func (c *checker) yamlChanges() []*change {
	entries, ok := c.dirEntries()
	if !ok {
		return nil
	}
	var files []string
	for _, e := range entries {
		if !e.IsDir() && isYAMLFile(e.Name()) {
			files = append(files, e.Name())
		}
	}
	d := c.yamlDirective
	switch {
	case d == nil && len(files) > 0:
		c.errs = append(c.errs, &Error{Pos: c.fileStart(files[0]), Msg: fmt.Sprintf(
			"%s is a change file, but the package does not say what its YAML files run on: add //flamingock:yaml target=… (a mongotarget) to a Go file of the package", files[0])})
		return nil
	case d == nil || c.yamlDirectiveBad:
		return nil
	case len(files) == 0:
		c.warnings = append(c.warnings, &Error{Pos: c.fset.Position(d.Pos), Msg: "//flamingock:yaml, but the package directory holds no .yaml file"})
		return nil
	}
	handle := c.mongoHandle()
	var changes []*change
	for _, file := range files {
		if ch := c.yamlChange(d, file, handle); ch != nil {
			changes = append(changes, ch)
		}
	}
	return changes
}

// yamlChange makes the change of file, or reports why it cannot be one.
func (c *checker) yamlChange(d *annotations.YAML, file string, handle types.Type) *change {
	m := yamlChangeName.FindStringSubmatch(file)
	if m == nil {
		want := "<order>_<name>.yaml, such as 0001_create_users.yaml"
		if base, ok := strings.CutSuffix(file, ".yml"); ok && yamlChangeName.MatchString(base+".yaml") {
			want = base + ".yaml"
		}
		c.errs = append(c.errs, &Error{Pos: c.fileStart(file), Msg: fmt.Sprintf(
			"%s is not named as a change: a YAML file beside the changes of a //flamingock:yaml package is a change, named %s (letters, digits, '.', '_' and '-' in the name); rename it, or move it out of the package directory", file, want)})
		return nil
	}
	tf, data, err := c.changeFile(file)
	if err != nil {
		c.errs = append(c.errs, &Error{Pos: c.fileStart(file), Msg: fmt.Sprintf("cannot read: %v", err)})
		return nil
	}
	start := tf.Pos(0)
	id := m[1] + "_" + m[2]
	order := audit.MustParseOrder(m[1]) // digits, as yamlChangeName matched them
	if len(id) > audit.MaxIDLen {
		c.add(start, "the file name gives the id %q: %d bytes is longer than %d, the most every audit store takes; rename the file", id, len(id), audit.MaxIDLen)
		return nil
	}
	f, err := mongosteps.Parse(file, data)
	if err != nil {
		var list mongosteps.ErrorList
		if !errors.As(err, &list) {
			c.add(start, "%v", err)
			return nil
		}
		for _, e := range list {
			c.errs = append(c.errs, &Error{Pos: token.Position{Filename: tf.Name(), Line: e.Line, Column: e.Col}, Msg: e.Msg})
		}
		return nil
	}
	if len(f.Author()) > audit.MaxAuthorLen {
		line := 1
		for i, l := range strings.Split(string(data), "\n") {
			if strings.HasPrefix(l, "author:") {
				line = i + 1
			}
		}
		c.add(at(tf, line, 1), "invalid author: %d bytes is longer than %d, the most every audit store takes", len(f.Author()), audit.MaxAuthorLen)
		return nil
	}
	recovery := audit.RecoveryManual
	if f.Recovery() == "retry" {
		recovery = audit.RecoveryRetry
	}
	sum := sha256.Sum256(data)
	line := 1
	if steps := f.Steps(); len(steps) > 0 {
		line = steps[0].Line
	}
	return &change{
		ann: annotations.Change{
			Pos: start, ID: id, Order: order, HasOrder: true, Target: d.Target,
			Author: f.Author(), Recovery: recovery, Transactional: f.Transactional(),
		},
		file:     tf.Name(),
		decl:     start,
		name:     id,
		handle:   handle,
		order:    order,
		orderPos: start,
		checksum: hex.EncodeToString(sum[:]),
		source:   fmt.Sprintf("%s:%d", file, line),
		yaml:     &yamlChange{file: file, undo: f.HasUndo()},
	}
}

// mongoHandle returns *mongo.Database: the package's own mongo.Database
// when it (or a package it imports) imports the driver, so that a Go
// change on the same target compares equal, and otherwise a type of that
// name.
func (c *checker) mongoHandle() types.Type {
	var found types.Type
	seen := map[*types.Package]bool{}
	var walk func(p *types.Package)
	walk = func(p *types.Package) {
		if found != nil || seen[p] {
			return
		}
		seen[p] = true
		if p.Path() == mongoPath {
			if tn, ok := p.Scope().Lookup("Database").(*types.TypeName); ok {
				found = tn.Type()
			}
			return
		}
		for _, q := range p.Imports() {
			walk(q)
		}
	}
	walk(c.pkg)
	if found == nil {
		tn := types.NewTypeName(token.NoPos, types.NewPackage(mongoPath, "mongo"), "Database", nil)
		found = types.NewNamed(tn, types.NewStruct(nil, nil), nil)
	}
	return types.NewPointer(found)
}
