package adopt

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/flamingock/flamingock-go/audit"
	"github.com/flamingock/flamingock-go/runtime/pipeline"
)

// A stage is the stage the old history belongs to: its changes in order,
// each found by its order.
type stage struct {
	name    string
	changes []pipeline.PlannedChange
	byOrder map[audit.Order]pipeline.PlannedChange
}

// selectStage picks the stage named (or the only one) among the
// pipeline's changes. Two changes of one order would make a version match
// either, so they are refused.
func selectStage(changes []pipeline.PlannedChange, name string) (stage, error) {
	var names []string
	for _, c := range changes {
		if len(names) == 0 || names[len(names)-1] != c.Stage {
			names = append(names, c.Stage)
		}
	}
	switch {
	case name == "" && len(names) == 0:
		return stage{}, errors.New("the pipeline has no change")
	case name == "" && len(names) > 1:
		return stage{}, fmt.Errorf("the pipeline has %d stages (%s): name the one the old history belongs to with adopt.WithStage",
			len(names), strings.Join(quoteAll(names), ", "))
	case name == "":
		name = names[0]
	}
	s := stage{name: name, byOrder: map[audit.Order]pipeline.PlannedChange{}}
	for _, c := range changes {
		if c.Stage != name {
			continue
		}
		if o, dup := s.byOrder[c.Order]; dup {
			return stage{}, fmt.Errorf("changes %q and %q of stage %q both have order %s: a version of the old history would match either; give them distinct orders",
				o.ChangeID, c.ChangeID, name, c.Order)
		}
		s.byOrder[c.Order] = c
		s.changes = append(s.changes, c)
	}
	if len(s.changes) == 0 {
		return stage{}, fmt.Errorf("the pipeline has no stage %q (its stages: %s)", name, strings.Join(quoteAll(names), ", "))
	}
	return s, nil
}

func quoteAll(ss []string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = fmt.Sprintf("%q", s)
	}
	return out
}

// applied reports whether the change's latest entry says it is applied.
func applied(c pipeline.PlannedChange) bool {
	return c.Latest != nil && (c.Latest.State == audit.StateApplied || c.Latest.State == audit.StateManualApplied)
}

// problems collects the disagreements of a history with a stage, to
// report them all at once.
type problems struct {
	tool string
	t    table
	s    stage
	list []string
}

func (p *problems) add(format string, args ...any) {
	p.list = append(p.list, fmt.Sprintf(format, args...))
}

// conflict notes an imported version whose change has an entry that says
// otherwise, such as ROLLED_BACK.
func (p *problems) conflict(c pipeline.PlannedChange, version string) {
	p.add("version %s is applied in %s but change %q (order %s) is %s in the trail (entry %d): "+
		"check the database; if the trail is right, the old table is stale and this import can be dropped (pipeline.WithImport); "+
		"otherwise resolve the change with flamingock audit fix",
		version, p.t.name, c.ChangeID, c.Order, c.Latest.State, c.Latest.Seq)
}

func (p *problems) err() error {
	if len(p.list) == 0 {
		return nil
	}
	return fmt.Errorf("%s import refused, nothing recorded: %w: %s and stage %q:\n\t%s",
		p.tool, ErrMismatch, p.t.name, p.s.name, strings.Join(p.list, "\n\t"))
}

// imported is the metadata of an imported entry: where it came from.
type imported struct {
	Imported origin `json:"imported"`
}

type origin struct {
	Tool      string `json:"tool"`
	Table     string `json:"table"`
	Version   string `json:"version"`
	AppliedAt string `json:"applied_at,omitempty"`
}

// mark returns the mark of change c, imported from version of table t.
func mark(tl string, t table, c pipeline.PlannedChange, version string, appliedAt time.Time, uncertain bool, reason string) pipeline.Mark {
	o := origin{Tool: tl, Table: t.name, Version: version}
	if !appliedAt.IsZero() {
		o.AppliedAt = appliedAt.UTC().Format(time.RFC3339Nano)
	}
	md, err := json.Marshal(imported{o})
	if err != nil {
		panic(err) // strings only: cannot fail
	}
	return pipeline.Mark{
		Stage: c.Stage, ChangeID: c.ChangeID, Uncertain: uncertain,
		Operator: tl + " import", Reason: reason, Metadata: md,
	}
}
