package generator

import (
	"bytes"
	"cmp"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/flamingock/flamingock-go/audit"
)

// RenumberConfig says which change Renumber moves.
type RenumberConfig struct {
	// Dir is the package directory; empty means the current directory.
	Dir string
	// ID is the change to move.
	ID string
	// Unreleased says that the change never ran anywhere although the
	// ledger records it outside a merge (see Renumber).
	Unreleased bool
	// Now is the time a timestamp order is taken from; zero means now.
	Now time.Time
}

// Renumbering is what Renumber computed: nothing is changed until Commit.
type Renumbering struct {
	ID, NewID string
	From, To  audit.Order
	// Renames are the files to rename, old path then new.
	Renames [][2]string
	// Writes are the files to rewrite: the change's Go file when its
	// directive says order=, and the ledger without the change.
	Writes []NewFile
}

// Renumber moves change cfg.ID after every other change of the package in
// cfg.Dir (the order NewChange would give a new one): it rewrites order= in
// its directive, renames its files when their names carry the order
// (0003_add_email.go, 0003_add_email.up.sql; a SQL or YAML change's id,
// <version>_<name>, changes with it), and forgets what the ledger recorded
// of it, so that the next generation records it as the new change it is.
//
// Only a change that never ran anywhere may move: environments that applied
// it would run it again under its new order. Renumber moves a change the
// ledger does not record, and one that a merge of two branches left at or
// before the other branch's (see checkMerge); one the ledger records
// otherwise may have been released, and is refused unless cfg.Unreleased.
func Renumber(cfg RenumberConfig) (*Renumbering, error) {
	dir, err := filepath.Abs(cmp.Or(cfg.Dir, "."))
	if err != nil {
		return nil, err
	}
	s, err := scanPackage(dir)
	if err != nil {
		return nil, err
	}
	i := slices.IndexFunc(s.sites, func(st site) bool { return st.id == cfg.ID })
	if i < 0 {
		return nil, fmt.Errorf("-renumber=%s: the package declares no change %q", cfg.ID, cfg.ID)
	}
	st := s.sites[i]
	if slices.ContainsFunc(s.sites[i+1:], func(o site) bool { return o.id == cfg.ID }) {
		return nil, fmt.Errorf("-renumber=%s: two changes have id %q: run go generate to see where", cfg.ID, cfg.ID)
	}
	recorded := slices.ContainsFunc(s.ledger.entries, func(e ledgerEntry) bool { return e.id == cfg.ID })
	merged := slices.ContainsFunc(mergeConflicts(s.ledger), func(c mergeConflict) bool { return c.moved.id == cfg.ID || c.kept.id == cfg.ID })
	if recorded && !merged && !cfg.Unreleased {
		return nil, fmt.Errorf("-renumber=%s: %s records change %q as generated before, outside any merge, so it may have run somewhere, where it would run again under its new order; "+
			"if you are sure it never ran anywhere (no environment, staging and test included, applied it), say so: -renumber=%s -unreleased=%s", cfg.ID, LedgerName, cfg.ID, cfg.ID, cfg.ID)
	}
	to, width := s.next(cmp.Or(cfg.Now, time.Now()).UTC(), cfg.ID)
	if strings.HasPrefix(st.prefix, "0") {
		width = len(st.prefix)
	}
	newPrefix := fmt.Sprintf("%0*s", width, to)
	r := &Renumbering{ID: cfg.ID, NewID: cfg.ID, From: st.order, To: to}
	if st.prefix != "" {
		if st.isGo && slices.ContainsFunc(s.sites, func(o site) bool { return o.id != st.id && o.file == st.file }) {
			return nil, fmt.Errorf("-renumber=%s: %s holds other changes too, and its name gives their order: move %q to a file of its own first", cfg.ID, st.file, cfg.ID)
		}
		for _, f := range st.files {
			r.Renames = append(r.Renames, [2]string{filepath.Join(dir, f), filepath.Join(dir, newPrefix+strings.TrimPrefix(f, st.prefix))})
		}
		if !st.isGo && strings.HasPrefix(st.id, st.prefix+"_") {
			r.NewID = newPrefix + strings.TrimPrefix(st.id, st.prefix)
		}
	}
	if st.isGo && st.orderAttr {
		path := filepath.Join(dir, st.file)
		src, err := os.ReadFile(path)
		if err != nil {
			return nil, err
		}
		src = slices.Concat(src[:st.orderOff], []byte(to.String()), src[st.orderOff+st.orderLen:])
		if len(r.Renames) > 0 {
			path = r.Renames[0][1]
		}
		r.Writes = append(r.Writes, NewFile{path, src})
	}
	for _, rn := range r.Renames {
		if _, err := os.Stat(rn[1]); err == nil {
			return nil, fmt.Errorf("-renumber=%s: %s exists already", cfg.ID, rn[1])
		}
	}
	if recorded || s.ledger.merged {
		l := s.ledger
		l.entries = slices.DeleteFunc(slices.Clone(l.entries), func(e ledgerEntry) bool { return e.id == cfg.ID })
		r.Writes = append(r.Writes, NewFile{filepath.Join(dir, LedgerName), formatParsedLedger(l)})
	}
	return r, nil
}

// Commit renames and writes the files of r.
func (r *Renumbering) Commit() error {
	for _, rn := range r.Renames {
		if err := os.Rename(rn[0], rn[1]); err != nil {
			return err
		}
	}
	for _, w := range r.Writes {
		if err := writeFile(w.Path, w.Data); err != nil {
			return err
		}
	}
	return nil
}

// formatParsedLedger writes l as formatLedger writes the ledger of a
// generation: its stage, dependency fields and entries in order.
func formatParsedLedger(l ledger) []byte {
	var b bytes.Buffer
	b.WriteString(ledgerHeader + "\n")
	if l.stage != "" {
		fmt.Fprintf(&b, "stage %s\n", l.stage)
	}
	byField := map[string]string{}
	for key, field := range l.deps {
		byField[field] = key
	}
	for _, field := range slices.Sorted(maps.Keys(byField)) {
		fmt.Fprintf(&b, "dep %s %s\n", field, byField[field])
	}
	for _, e := range l.entries {
		b.WriteString(e.order.String() + " " + e.id)
		if e.checksum != "" {
			b.WriteString(" " + e.checksum)
		}
		if len(e.cosmetic) > 0 {
			b.WriteString(" " + cosmeticAttr + strings.Join(e.cosmetic, ","))
		}
		b.WriteByte('\n')
	}
	return b.Bytes()
}
