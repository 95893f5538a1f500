package generator

import (
	"go/ast"
	"go/constant"
	"go/token"
	"go/types"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// A change executes what it embeds: the SQL of
//
//	//go:embed sql/0001_users.sql
//	var usersSQL string
//
// is as much the change as its Go body, so an edit to the file is an edit
// to every change that reaches the variable. embed.go finds those files.

// embedVar is a package-level variable initialized by //go:embed.
type embedVar struct {
	// fs is set for an embed.FS, which holds several files; a string or
	// []byte holds exactly one.
	fs bool
	// files are the embedded files, relative to the package directory and
	// slash-separated, sorted.
	files []string
}

// findVars records the package-level variables of the package, and the
// files of those initialized by //go:embed.
func (c *checker) findVars() {
	c.vars = map[*types.Var]*ast.ValueSpec{}
	c.embeds = map[*types.Var]*embedVar{}
	var embedded map[string]bool // the go command's list, when known
	if c.embedFiles != nil {
		embedded = set(c.embedFiles)
	}
	for _, f := range c.files {
		for _, d := range f.Decls {
			gd, ok := d.(*ast.GenDecl)
			if !ok || gd.Tok != token.VAR {
				continue
			}
			for _, spec := range gd.Specs {
				vs := spec.(*ast.ValueSpec)
				for _, name := range vs.Names {
					if v, ok := c.info.Defs[name].(*types.Var); ok {
						c.vars[v] = vs
					}
				}
				doc := vs.Doc
				if doc == nil && !gd.Lparen.IsValid() {
					doc = gd.Doc
				}
				patterns := embedPatterns(doc)
				if patterns == nil || len(vs.Names) != 1 {
					continue
				}
				v, ok := c.info.Defs[vs.Names[0]].(*types.Var)
				if !ok {
					continue
				}
				ev := &embedVar{fs: isEmbedFS(v.Type())}
				if c.dir != "" {
					ev.files = resolveEmbed(c.dir, patterns, embedded)
				}
				c.embeds[v] = ev
			}
		}
	}
}

// embedPatterns returns the patterns of the //go:embed directives in doc,
// or nil when there is none.
func embedPatterns(doc *ast.CommentGroup) []string {
	if doc == nil {
		return nil
	}
	var patterns []string
	for _, cm := range doc.List {
		d, ok := ast.ParseDirective(cm.Slash, cm.Text)
		if !ok || d.Tool != "go" || d.Name != "embed" {
			continue
		}
		args, err := d.ParseArgs()
		if err != nil {
			// The go command refuses it: go build reports where.
			continue
		}
		for _, a := range args {
			patterns = append(patterns, a.Arg)
		}
	}
	return patterns
}

func isEmbedFS(t types.Type) bool {
	n, ok := types.Unalias(t).(*types.Named)
	return ok && n.Obj().Pkg() != nil && n.Obj().Pkg().Path() == "embed" && n.Obj().Name() == "FS"
}

// resolveEmbed returns the files that patterns embed from dir, as the go
// command resolves them: a pattern naming a directory embeds the files
// beneath it, except those whose names start with '.' or '_' unless the
// pattern has the "all:" prefix. When embedded (absolute paths) is not
// nil, only its files are kept: the go command's word is final.
func resolveEmbed(dir string, patterns []string, embedded map[string]bool) []string {
	found := map[string]bool{}
	add := func(path string) {
		if embedded == nil || embedded[path] {
			if rel, err := filepath.Rel(dir, path); err == nil {
				found[filepath.ToSlash(rel)] = true
			}
		}
	}
	for _, p := range patterns {
		p, all := strings.CutPrefix(p, "all:")
		matches, err := filepath.Glob(filepath.Join(dir, filepath.FromSlash(p)))
		if err != nil {
			continue
		}
		for _, m := range matches {
			info, err := os.Lstat(m)
			switch {
			case err != nil:
			case info.Mode().IsRegular():
				add(m)
			case info.IsDir():
				filepath.WalkDir(m, func(path string, d fs.DirEntry, err error) error {
					if err != nil || path == m {
						return nil
					}
					if name := d.Name(); !all && (strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_")) {
						if d.IsDir() {
							return filepath.SkipDir
						}
						return nil
					}
					if d.Type().IsRegular() {
						add(path)
					}
					return nil
				})
			}
		}
	}
	return slices.Sorted(maps.Keys(found))
}

// embedded returns the embedded files that nodes reach, sorted, and how
// many embedding variables they reach. nodes reach a variable by naming
// it, or by calling a function or method of the package that reaches it
// (transitively), or through the initializer of another package-level
// variable. Of an embed.FS, the files count whose paths (or whose last
// elements, for a sub-directory opened with fs.Sub) the reached code
// names in constant strings; when it names none (the name is computed),
// every file of the FS counts.
func (c *checker) embedded(nodes []ast.Node) (vars int, files []string) {
	seen := map[types.Object]bool{}
	reached := map[*types.Var]bool{}
	var consts []string
	queue := slices.Clone(nodes)
	for len(queue) > 0 {
		n := queue[0]
		queue = queue[1:]
		ast.Inspect(n, func(n ast.Node) bool {
			if e, ok := n.(ast.Expr); ok {
				if tv, ok := c.info.Types[e]; ok && tv.Value != nil && tv.Value.Kind() == constant.String {
					consts = append(consts, constant.StringVal(tv.Value))
				}
			}
			id, ok := n.(*ast.Ident)
			if !ok {
				return true
			}
			obj := c.info.Uses[id]
			if obj == nil || obj.Pkg() != c.pkg || seen[obj] {
				return true
			}
			seen[obj] = true
			switch obj := obj.(type) {
			case *types.Var:
				if _, ok := c.embeds[obj]; ok {
					reached[obj] = true
				} else if vs := c.vars[obj]; vs != nil {
					for _, v := range vs.Values {
						queue = append(queue, v)
					}
				}
			case *types.Func:
				if fd := c.funcDecls[obj.Pos()]; fd != nil {
					queue = append(queue, fd)
				}
			}
			return true
		})
	}
	all := map[string]bool{}
	for v := range reached {
		ev := c.embeds[v]
		named := ev.files
		if ev.fs {
			named = slices.DeleteFunc(slices.Clone(ev.files), func(f string) bool {
				return !slices.ContainsFunc(consts, func(s string) bool {
					s = strings.Trim(s, "/")
					return s != "" && (f == s || strings.HasSuffix(f, "/"+s))
				})
			})
			if len(named) == 0 {
				named = ev.files
			}
		}
		for _, f := range named {
			all[f] = true
		}
	}
	return len(reached), slices.Sorted(maps.Keys(all))
}
