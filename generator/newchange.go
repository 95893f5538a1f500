package generator

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/printer"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/flamingock/flamingock-go/annotations"
	"github.com/flamingock/flamingock-go/audit"
	"github.com/flamingock/flamingock-go/generator/sqlfiles"
)

// Kind is the kind of change NewChange writes.
type Kind int

// The kinds of change.
const (
	GoChange   Kind = iota // a Go function with a //flamingock:change directive
	SQLChange              // a SQL file, under the package's //flamingock:sql
	YAMLChange             // a MongoDB steps file, under the package's //flamingock:yaml
)

// NewConfig says what change NewChange writes.
type NewConfig struct {
	// Dir is the package directory; empty means the current directory.
	Dir string
	// Name is the change's name, as in add_email or add-email: letters,
	// digits, '_' and '-', starting with a letter.
	Name string
	Kind Kind
	// Now is the time a timestamp order is taken from; zero means now.
	Now time.Time
}

// NewFile is a file that NewChange computed.
type NewFile struct {
	Path string
	Data []byte
}

// NewChange computes the files of the next change of the package in
// cfg.Dir, following what the package already uses: its order is above
// every order of the package's changes and of its ledger (a change removed
// from the code keeps its order there), sequential (the highest plus one)
// when the package numbers its changes with small integers, a timestamp
// (UTC YYYYMMDDhhmmss, or as many digits as the package's orders have) when
// it uses timestamps; its id and file name follow the package's. Nothing
// is written: the caller writes the files, none of which exists.
func NewChange(cfg NewConfig) ([]NewFile, error) {
	dir, err := filepath.Abs(cmp.Or(cfg.Dir, "."))
	if err != nil {
		return nil, err
	}
	if !validName(cfg.Name) {
		return nil, fmt.Errorf("invalid change name %q: letters, digits, '_' and '-', starting with a letter (it makes the id, the file name and, for a Go change, the function's name)", cfg.Name)
	}
	words := nameWords(cfg.Name)
	snakeName := strings.Join(words, "_")
	if w := words[len(words)-1]; w == "test" || len(words) > 1 && (knownOS[w] || knownArch[w]) {
		return nil, fmt.Errorf("invalid change name %q: a file named …_%s.go is a test or is built on one system only", cfg.Name, w)
	}
	s, err := scanPackage(dir)
	if err != nil {
		return nil, err
	}
	now := cmp.Or(cfg.Now, time.Now()).UTC()
	order, width := s.next(now, "")
	pad := func(o audit.Order) string { return fmt.Sprintf("%0*s", width, o) }
	var files []NewFile
	switch cfg.Kind {
	case SQLChange:
		if s.sql == nil {
			return nil, fmt.Errorf("%s has no //flamingock:sql directive, so a SQL file would be an error there: add one to a Go file of the package, as in\n\t//flamingock:sql target=appdb handle=database/sql dialect=postgres", dir)
		}
		base := pad(order) + "_" + snakeName
		switch s.sqlForm {
		case sqlfiles.Goose:
			files = append(files, NewFile{base + ".sql", []byte("-- +goose Up\n-- The change's statements, each ending with ';'.\n\n-- +goose Down\n-- Their undo, run by RollbackTo (delete this section if there is none).\n")})
		case sqlfiles.Migrate:
			files = append(files,
				NewFile{base + ".up.sql", []byte("-- The change's statements, each ending with ';'.\n")},
				NewFile{base + ".down.sql", []byte("-- Their undo, run by RollbackTo (delete this file if there is none).\n")})
		default:
			files = append(files, NewFile{base + ".sql", []byte("-- flamingock:change\n-- The change's statements, each ending with ';'; add a\n-- \"-- flamingock:undo\" line before their undo, if there is one.\n")})
		}
	case YAMLChange:
		if !s.yaml {
			return nil, fmt.Errorf("%s has no //flamingock:yaml directive, so a steps file would be an error there: add one to a Go file of the package, as in\n\t//flamingock:yaml target=appdb", dir)
		}
		files = append(files, NewFile{pad(order) + "_" + snakeName + ".yaml", []byte("# The change's steps (see package runtime/mongosteps): replace this one.\ntransactional: false\nsteps:\n  - createCollection: {collection: " + snakeName + "}\nundo:\n  - dropCollection: {collection: " + snakeName + "}\n")})
	default:
		data, err := s.goChange(words, order, pad(order))
		if err != nil {
			return nil, err
		}
		name := snakeName + ".go"
		if s.goPrefixed() {
			name = pad(order) + "_" + name
		}
		files = append(files, NewFile{name, data})
	}
	for i := range files {
		files[i].Path = filepath.Join(dir, files[i].Path)
		if _, err := os.Stat(files[i].Path); err == nil {
			return nil, fmt.Errorf("%s exists already", files[i].Path)
		} else if !errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
	}
	return files, nil
}

// site is one change of a package, as read without type-checking it.
type site struct {
	id    string
	order audit.Order
	// file holds the change (the directive, the SQL or YAML file); files
	// are all its files (a golang-migrate pair).
	file  string
	files []string
	// prefix is the order in the file name as written, "" when none.
	prefix string
	isGo   bool
	// Of a Go change: the directive, and where its order= value is.
	ann       annotations.Change
	orderAttr bool
	orderOff  int // byte offset of order='s value in file
	orderLen  int
}

// pkgScan is what NewChange and Renumber read of a package.
type pkgScan struct {
	dir     string
	fset    *token.FileSet
	files   map[string]*ast.File // Go files by base name
	sites   []site
	sql     *annotations.SQL
	sqlForm sqlfiles.Form
	yaml    bool
	ledger  ledger
	decls   map[string]bool // top-level names of the package
}

var filePrefix = regexp.MustCompile(`^([0-9]+)_`)

// scanPackage reads the changes of the package in dir: its Go files'
// directives (parsed, not type-checked: a package that does not build can
// still be given its next change), its SQL and YAML files, and its ledger.
func scanPackage(dir string) (*pkgScan, error) {
	s := &pkgScan{dir: dir, fset: token.NewFileSet(), files: map[string]*ast.File{}, decls: map[string]bool{}}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var sqlNames, yamlNames []string
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_") {
			continue
		}
		switch {
		case strings.HasSuffix(name, ".sql"):
			sqlNames = append(sqlNames, name)
		case strings.HasSuffix(name, ".yaml") || strings.HasSuffix(name, ".yml"):
			yamlNames = append(yamlNames, name)
		case strings.HasSuffix(name, ".go") && !strings.HasSuffix(name, "_test.go") && name != OutputName:
			path := filepath.Join(dir, name)
			src, err := os.ReadFile(path)
			if err != nil {
				return nil, err
			}
			f, err := parser.ParseFile(s.fset, path, src, parser.ParseComments|parser.SkipObjectResolution)
			if err != nil {
				return nil, fmt.Errorf("%s does not parse: %w", path, err)
			}
			s.files[name] = f
			s.scanGo(name, f, src)
		}
	}
	if len(s.files) == 0 {
		return nil, fmt.Errorf("%s holds no Go file: the package of changes needs one (see the five-minute guide)", dir)
	}
	if s.sql != nil {
		changes, _, errs := sqlfiles.Load(os.DirFS(dir), sqlfiles.Options{Dialect: s.sql.Dialect, MinPostgresVersion: s.sql.MinPostgres})
		if len(errs) > 0 {
			return nil, fmt.Errorf("the package's SQL files have problems (run go generate to see them all): %v", errs[0])
		}
		for _, c := range changes {
			s.sqlForm = c.Form
			files := []string{c.File}
			if c.DownFile != "" {
				files = append(files, c.DownFile)
			}
			m := filePrefix.FindStringSubmatch(c.File)
			s.sites = append(s.sites, site{id: c.ID, order: c.Order, file: c.File, files: files, prefix: m[1]})
		}
	}
	// Files a directive does not cover still hold their orders.
	for _, name := range slices.Concat(sqlNames, yamlNames) {
		m := filePrefix.FindStringSubmatch(name)
		if m == nil || slices.ContainsFunc(s.sites, func(x site) bool { return slices.Contains(x.files, name) }) {
			continue
		}
		id := strings.TrimSuffix(strings.TrimSuffix(name, filepath.Ext(name)), ".up")
		if strings.HasSuffix(name, ".down.sql") {
			continue
		}
		s.sites = append(s.sites, site{id: id, order: audit.MustParseOrder(m[1]), file: name, files: []string{name}, prefix: m[1]})
	}
	data, err := os.ReadFile(filepath.Join(dir, LedgerName))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	var errs []*Error
	if s.ledger, errs = parseLedger(filepath.Join(dir, LedgerName), data); len(errs) > 0 {
		return nil, fmt.Errorf("%s", errs[0].Format(dir))
	}
	return s, nil
}

// scanGo records the directives and top-level names of one Go file.
func (s *pkgScan) scanGo(name string, f *ast.File, src []byte) {
	for _, d := range f.Decls {
		switch d := d.(type) {
		case *ast.FuncDecl:
			if d.Recv == nil {
				s.decls[d.Name.Name] = true
			}
		case *ast.GenDecl:
			for _, sp := range d.Specs {
				switch sp := sp.(type) {
				case *ast.TypeSpec:
					s.decls[sp.Name.Name] = true
				case *ast.ValueSpec:
					for _, n := range sp.Names {
						s.decls[n.Name] = true
					}
				}
			}
		}
	}
	prefix := ""
	if m := filePrefix.FindStringSubmatch(name); m != nil {
		prefix = m[1]
	}
	for _, cg := range f.Comments {
		for _, cm := range cg.List {
			if sq, ok, _ := annotations.ParseSQLComment(cm); ok {
				s.sql = &sq
				continue
			}
			if _, ok, _ := annotations.ParseYAMLComment(cm); ok {
				s.yaml = true
				continue
			}
			ann, ok, err := annotations.ParseComment(cm)
			if !ok || err != nil {
				continue
			}
			st := site{id: ann.ID, file: name, files: []string{name}, prefix: prefix, isGo: true, ann: ann, orderAttr: ann.HasOrder}
			switch {
			case ann.HasOrder:
				st.order = ann.Order
				off := s.fset.Position(ann.AttrPos("order")).Offset
				st.orderOff = off + len("order=")
				end := st.orderOff
				for end < len(src) && src[end] >= '0' && src[end] <= '9' {
					end++
				}
				st.orderLen = end - st.orderOff
			case prefix != "":
				st.order = audit.MustParseOrder(prefix)
			default:
				continue // no order: go generate says so
			}
			s.sites = append(s.sites, st)
		}
	}
}

// last returns the highest order of the package's changes and ledger,
// leaving out change skip, and the site holding it (nil for the ledger).
func (s *pkgScan) last(skip string) (audit.Order, *site) {
	var last audit.Order
	var at *site
	for i, st := range s.sites {
		if st.id != skip && st.order.Compare(last) > 0 {
			last, at = st.order, &s.sites[i]
		}
	}
	for _, e := range s.ledger.entries {
		if e.id != skip && e.order.Compare(last) > 0 {
			last, at = e.order, nil
		}
	}
	return last, at
}

// next returns the order of a change put after every other but skip, and
// the width its file-name prefix takes (0: no padding).
func (s *pkgScan) next(now time.Time, skip string) (audit.Order, int) {
	last, _ := s.last(skip)
	digits := len(last.String())
	width := 0
	var top *site // the latest change whose file name has its order
	for i, st := range s.sites {
		if st.prefix != "" && (top == nil || st.order.Compare(top.order) > 0) {
			top = &s.sites[i]
		}
	}
	if top != nil && strings.HasPrefix(top.prefix, "0") {
		width = len(top.prefix)
	} else if top == nil && len(s.sites) == 0 {
		width = 4 // a first change: 0001_name
	}
	if digits < 12 { // sequential: 1, 2, 3 (or 0001, 0002)
		return inc(last), width
	}
	ts := now.Format("20060102150405") + fmt.Sprintf("%06d", now.Nanosecond()/1000)
	for len(ts) < digits {
		ts += "0"
	}
	o := audit.MustParseOrder(ts[:max(digits, 14)])
	if digits < 14 {
		o = audit.MustParseOrder(ts[:digits])
	}
	if o.Compare(last) <= 0 {
		o = inc(last)
	}
	return o, width
}

// inc returns o+1.
func inc(o audit.Order) audit.Order {
	d := []byte("0" + o.String())
	for i := len(d) - 1; i >= 0; i-- {
		if d[i] < '9' {
			d[i]++
			break
		}
		d[i] = '0'
	}
	return audit.MustParseOrder(string(d))
}

// goPrefixed reports whether the package names its Go change files after
// their order, as in 0001_create_users.go (or has no Go change yet).
func (s *pkgScan) goPrefixed() bool {
	n, prefixed := 0, 0
	for _, st := range s.sites {
		if st.isGo {
			n++
			if st.prefix != "" {
				prefixed++
			}
		}
	}
	return n == 0 || 2*prefixed >= n
}

// goChange returns the source of a new Go change: its directive and a
// function of the same shape as the package's latest Go change (on the
// same target), or one on the target of its //flamingock:sql or
// //flamingock:yaml directive.
func (s *pkgScan) goChange(words []string, order audit.Order, prefix string) ([]byte, error) {
	fn := ""
	for _, w := range words {
		fn += strings.ToUpper(w[:1]) + w[1:]
	}
	if s.decls[fn] {
		return nil, fmt.Errorf("the package declares %s already: choose another name", fn)
	}
	var latest *site
	for i, st := range s.sites {
		if st.isGo && (latest == nil || st.order.Compare(latest.order) > 0) {
			latest = &s.sites[i]
		}
	}
	target, handle, imp := "", "", ""
	switch {
	case latest != nil:
		var err error
		target = latest.ann.Target
		if handle, imp, err = s.handleOf(latest); err != nil {
			return nil, err
		}
	case s.sql != nil && s.sql.Handle == "pgx":
		target, handle, imp = s.sql.Target, "pgx.Tx", `"github.com/jackc/pgx/v5"`
	case s.sql != nil:
		target, handle, imp = s.sql.Target, "*sql.Tx", `"database/sql"`
	case s.yaml:
		target, handle, imp = s.yamlTarget(), "*mongo.Database", `"`+mongoPath+`"`
	default:
		return nil, fmt.Errorf("the package declares no change yet, so there is no target to follow: write the first one by hand (see the five-minute guide)")
	}
	id := strings.Join(words, "-")
	orderAttr := " order=" + order.String()
	if latest != nil {
		if !strings.Contains(latest.id, "-") && strings.Contains(latest.id, "_") {
			id = strings.Join(words, "_")
		}
		if latest.prefix != "" && strings.HasPrefix(latest.id, latest.prefix+"_") {
			id = prefix + "_" + strings.Join(words, "_")
		}
	}
	if s.goPrefixed() && (latest == nil || !latest.orderAttr) {
		orderAttr = "" // the file name gives it
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, "package %s\n\nimport (\n\t\"context\"\n", s.pkgName())
	if imp != "" {
		fmt.Fprintf(&b, "\n\t%s\n", imp)
	}
	fmt.Fprintf(&b, ")\n\n// %s is the change %s.\n//\n//flamingock:change id=%s%s target=%s\nfunc %s(ctx context.Context, h %s) error {\n\t// The change.\n\treturn nil\n}\n", fn, id, id, orderAttr, target, fn, handle)
	if !annotations.ValidID(id) || len(id) > audit.MaxIDLen {
		return nil, fmt.Errorf("the id %q would be invalid: %s, at most %d bytes", id, annotations.IDRule, audit.MaxIDLen)
	}
	return b.Bytes(), nil
}

func (s *pkgScan) pkgName() string {
	for _, f := range s.files {
		return f.Name.Name
	}
	return ""
}

func (s *pkgScan) yamlTarget() string {
	for _, f := range s.files {
		for _, cg := range f.Comments {
			for _, cm := range cg.List {
				if y, ok, _ := annotations.ParseYAMLComment(cm); ok {
					return y.Target
				}
			}
		}
	}
	return ""
}

// handleOf returns the handle type of a Go change as written in its file,
// and the import it needs ("" for none).
func (s *pkgScan) handleOf(st *site) (handle, imp string, _ error) {
	f := s.files[st.file]
	var params *ast.FieldList
	for _, d := range f.Decls {
		if fd, ok := d.(*ast.FuncDecl); ok && fd.Doc != nil && slices.ContainsFunc(fd.Doc.List, func(c *ast.Comment) bool { return c.Slash == st.ann.Pos }) {
			params = fd.Type.Params
		}
	}
	if params == nil { // the type form: its Apply method
		for _, g := range s.files {
			for _, d := range g.Decls {
				if fd, ok := d.(*ast.FuncDecl); ok && fd.Recv != nil && fd.Name.Name == "Apply" {
					params, f = fd.Type.Params, g
				}
			}
		}
	}
	var types []ast.Expr
	if params != nil {
		for _, p := range params.List {
			for range max(len(p.Names), 1) {
				types = append(types, p.Type)
			}
		}
	}
	if len(types) < 2 {
		return "", "", fmt.Errorf("%s: cannot tell the handle type of change %q: write the new change by hand", st.file, st.id)
	}
	var b bytes.Buffer
	printer.Fprint(&b, s.fset, types[1])
	handle = b.String()
	var pkg string
	ast.Inspect(types[1], func(n ast.Node) bool {
		if se, ok := n.(*ast.SelectorExpr); ok {
			if x, ok := se.X.(*ast.Ident); ok {
				pkg = x.Name
			}
		}
		return pkg == ""
	})
	if pkg == "" {
		return "", "", fmt.Errorf("%s: change %q takes a handle of the package's own type %s: write the new change by hand", st.file, st.id, handle)
	}
	for _, is := range f.Imports {
		path, _ := strconv.Unquote(is.Path.Value)
		name := filepath.Base(path)
		if is.Name != nil {
			name = is.Name.Name
		} else if strings.HasPrefix(name, "v") && strings.Trim(name[1:], "0123456789") == "" {
			name = filepath.Base(filepath.Dir(path))
		}
		if name == pkg {
			if is.Name != nil {
				return handle, is.Name.Name + " " + is.Path.Value, nil
			}
			return handle, is.Path.Value, nil
		}
	}
	return "", "", fmt.Errorf("%s: cannot find the import of %s for the handle %s: write the new change by hand", st.file, pkg, handle)
}

// validName reports whether a change name makes an id, a file name and a
// Go identifier.
func validName(name string) bool {
	if name == "" || len(name) > 100 || !unicode.IsLetter(rune(name[0])) || name[0] > unicode.MaxASCII {
		return false
	}
	return strings.Trim(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-") == "" && len(nameWords(name)) > 0
}

// nameWords splits a name into lowercase words at '_', '-' and the
// capitals of camel case: AddEmail, add_email and add-email are add, email.
func nameWords(name string) []string {
	var words []string
	var cur []rune
	runes := []rune(name)
	for i, r := range runes {
		switch {
		case r == '_' || r == '-':
			if len(cur) > 0 {
				words, cur = append(words, string(cur)), nil
			}
			continue
		case unicode.IsUpper(r) && len(cur) > 0 && (unicode.IsLower(runes[i-1]) || i+1 < len(runes) && unicode.IsLower(runes[i+1])):
			words, cur = append(words, string(cur)), nil
		}
		cur = append(cur, unicode.ToLower(r))
	}
	if len(cur) > 0 {
		words = append(words, string(cur))
	}
	return words
}

// The suffixes of file names that the go command builds on one system only.
var (
	knownOS   = set(strings.Fields("aix android darwin dragonfly freebsd hurd illumos ios js linux nacl netbsd openbsd plan9 solaris wasip1 windows zos"))
	knownArch = set(strings.Fields("386 amd64 amd64p32 arm armbe arm64 arm64be loong64 mips mipsle mips64 mips64le mips64p32 mips64p32le ppc ppc64 ppc64le riscv riscv64 s390 s390x sparc sparc64 wasm"))
)
