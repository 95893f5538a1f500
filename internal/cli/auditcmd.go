package cli

import (
	"context"
	"flag"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/flamingock/flamingock-go/audit"
	"github.com/flamingock/flamingock-go/audit/operate"
)

func (c *cli) auditList(g *globals, fs *flag.FlagSet) func(context.Context, []string) error {
	history := fs.Bool("history", false, "list every entry, oldest first, instead of the current state of every change")
	since := fs.String("since", "", "only entries at or after `TIME` (RFC 3339, or a date: midnight UTC)")
	stage := fs.String("stage", "", "only the changes of stage `NAME`")
	asJSON := fs.Bool("json", false, "print JSON (see the package documentation for the shape)")
	return func(ctx context.Context, args []string) error {
		if len(args) > 0 {
			return usagef("audit list takes no arguments, got %q", args)
		}
		var from time.Time
		if *since != "" {
			t, err := parseTime("--since", *since)
			if err != nil {
				return err
			}
			from = t
		}
		s, err := c.open(ctx, g, readOnly)
		if err != nil {
			return err
		}
		defer c.close(s)
		if *history {
			return c.printHistory(ctx, s, audit.Filter{Stage: *stage, Since: from}, *asJSON)
		}
		all, lock, err := s.Snapshot(ctx)
		if err != nil {
			return err
		}
		all = slices.DeleteFunc(all, func(a audit.Assessment) bool {
			return (*stage != "" && a.Latest.Stage != *stage) || a.Latest.Time.Before(from)
		})
		if *asJSON {
			return writeJSON(c.stdout, struct {
				Store   string       `json:"store"`
				Changes []changeJSON `json:"changes"`
			}{s.Name(), toChangesJSON(all, s, lock)})
		}
		if len(all) == 0 {
			fmt.Fprintf(c.stdout, "no changes recorded in %s%s\n", s.Name(), filtered(*stage, *since))
			return nil
		}
		t := newTable(c.stdout)
		t.row("STAGE", "ID", "STATE", "WHEN", "DURATION", "HOST", "AUTHOR", "VERDICT")
		for _, a := range all {
			e := a.Latest
			t.row(e.Stage, e.ChangeID, string(e.State), when(e.Time), duration(e.Duration), e.Host, e.Author, string(a.Verdict))
		}
		return t.flush()
	}
}

func (c *cli) printHistory(ctx context.Context, s *operate.Session, f audit.Filter, asJSON bool) error {
	entries, err := s.History(ctx, f)
	if err != nil {
		return err
	}
	if asJSON {
		return writeJSON(c.stdout, struct {
			Store   string      `json:"store"`
			Entries []entryJSON `json:"entries"`
		}{s.Name(), toEntriesJSON(entries)})
	}
	if len(entries) == 0 {
		since := ""
		if !f.Since.IsZero() {
			since = f.Since.Format(time.RFC3339)
		}
		fmt.Fprintf(c.stdout, "no entries recorded in %s%s\n", s.Name(), filtered(f.Stage, since))
		return nil
	}
	t := newTable(c.stdout)
	t.row("STAGE", "ID", "STATE", "WHEN", "DURATION", "HOST", "AUTHOR", "DETAIL")
	for _, e := range entries {
		t.row(e.Stage, e.ChangeID, string(e.State), when(e.Time), duration(e.Duration), e.Host, e.Author, detail(e))
	}
	return t.flush()
}

// filtered describes the filters of an empty listing.
func filtered(stage, since string) string {
	var f []string
	if stage != "" {
		f = append(f, fmt.Sprintf("stage %q", stage))
	}
	if since != "" {
		f = append(f, "since "+since)
	}
	if len(f) == 0 {
		return ""
	}
	return " (" + strings.Join(f, ", ") + ")"
}

// placeholderReason is the --reason of the printed resolution commands;
// recording it would say nothing.
const placeholderReason = "describe what you checked"

func (c *cli) auditFix(g *globals, fs *flag.FlagSet) func(context.Context, []string) error {
	resolution := fs.String("resolution", "", "what is true of the change: `applied` (its effects are in place) or rolled-back (it had no effect, or was undone)")
	reason := fs.String("reason", "", "what you checked, recorded with the mark (required)")
	operatorFlag := fs.String("operator", "", "who resolves it, recorded with the mark (default user@host)")
	stage := fs.String("stage", "", "the change's stage `NAME`, when its id is in several, or when it has no entry yet and the trail records several stages or none")
	force := fs.Bool("force", false, "mark a change that has no issue, or mark applied one that has no entry yet (it never ran; its effects are in place)")
	orderFlag := fs.String("order", "", "the order `N` to record for a change that has no entry yet (with --force; optional)")
	asJSON := fs.Bool("json", false, "print the entry written as JSON")
	return func(ctx context.Context, args []string) error {
		if len(args) != 1 {
			return usagef("audit fix needs exactly one change ID, got %d arguments", len(args))
		}
		id := args[0]
		var want audit.Resolution
		var names []string
		for _, r := range audit.Resolutions(id) {
			names = append(names, r.Name)
			if r.Name == *resolution {
				want = r
			}
		}
		switch {
		case *resolution == "":
			return usagef("audit fix needs --resolution %s: say what is true of change %q", strings.Join(names, " or "), id)
		case want.Name == "":
			return usagef("invalid --resolution %q: use %s", *resolution, strings.Join(names, " or "))
		case strings.TrimSpace(*reason) == "":
			return usagef("audit fix needs --reason TEXT: say what you checked; it is recorded with the mark")
		case strings.TrimSpace(*reason) == placeholderReason:
			return usagef("--reason is still the placeholder %q: say what you checked", placeholderReason)
		}
		var order audit.Order
		if isSet(fs, "order") {
			if !*force {
				return usagef("--order is recorded only for a change that has no entry yet: add --force")
			}
			o, err := audit.ParseOrder(*orderFlag)
			if err != nil {
				return usagef("invalid --order %q: want a non-negative integer, the change's order in its stage", *orderFlag)
			}
			order = o
		}
		operator, err := c.operator(*operatorFlag, isSet(fs, "operator"))
		if err != nil {
			return err
		}
		s, err := c.open(ctx, g, readWrite)
		if err != nil {
			return err
		}
		defer c.close(s)
		stored, err := s.Resolve(ctx, operate.Mark{
			ChangeID: id, Stage: *stage, State: want.State,
			Operator: operator, Reason: *reason, Force: *force, Order: order,
		})
		if err != nil {
			return err
		}
		after := audit.Assess(stored)
		if *asJSON {
			return writeJSON(c.stdout, struct {
				Store  string     `json:"store"`
				Entry  entryJSON  `json:"entry"`
				Change changeJSON `json:"change"`
			}{s.Name(), toEntryJSON(stored), toChangeJSON(after, s, audit.LockInfo{})})
		}
		fmt.Fprintf(c.stdout, "change %q (stage %q): recorded %s by %s: %s; %s\n",
			stored.ChangeID, stored.Stage, stored.State, stored.Operator, stored.Reason, operate.NextRun(after.Verdict))
		return nil
	}
}

// isSet reports whether flag name was given on the command line.
func isSet(fs *flag.FlagSet, name string) bool {
	set := false
	fs.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}
