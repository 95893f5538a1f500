package cli

import (
	"context"
	"flag"
	"fmt"
	"io"

	"github.com/flamingock/flamingock-go/audit"
	"github.com/flamingock/flamingock-go/audit/operate"
)

func (c *cli) issueList(g *globals, fs *flag.FlagSet) func(context.Context, []string) error {
	asJSON := fs.Bool("json", false, "print JSON (see the package documentation for the shape)")
	return func(ctx context.Context, args []string) error {
		if len(args) > 0 {
			return usagef("issue list takes no arguments, got %q", args)
		}
		s, err := c.open(ctx, g, readOnly)
		if err != nil {
			return err
		}
		defer c.close(s)
		all, lock, err := s.Snapshot(ctx)
		if err != nil {
			return err
		}
		var issues, running []audit.Assessment
		for _, a := range all {
			switch a.Verdict {
			case audit.VerdictIssue:
				issues = append(issues, a)
			case audit.VerdictRunning:
				running = append(running, a)
			}
		}
		if *asJSON {
			err = writeJSON(c.stdout, struct {
				Store   string       `json:"store"`
				Lock    lockJSON     `json:"lock"`
				Issues  []changeJSON `json:"issues"`
				Running []changeJSON `json:"running"`
			}{s.Name(), toLockJSON(lock), toChangesJSON(issues, s, lock), toChangesJSON(running, s, lock)})
		} else {
			if len(issues) == 0 {
				fmt.Fprintf(c.stdout, "no issues: nothing in %s blocks the pipeline\n", s.Name())
			} else {
				err = writeIssues(c.stdout, issues)
			}
			for _, a := range running {
				fmt.Fprintf(c.stdout, "running: %s\n", inFlight(a, lock))
			}
		}
		if err != nil {
			return err
		}
		for _, a := range issues {
			if note := stillRunning(a, lock); note != "" {
				fmt.Fprintf(c.stderr, "%s: note: %s\n", c.prog, note)
			}
		}
		if len(issues) > 0 {
			return &issuesError{n: len(issues), prog: c.prog}
		}
		return nil
	}
}

// writeIssues writes the table of issues: the changes that block the
// pipeline.
func writeIssues(w io.Writer, issues []audit.Assessment) error {
	// A PROGRESS column only when an issue recorded how far it got, so
	// that the table of other trails stays as it was.
	progress := false
	for _, a := range issues {
		progress = progress || a.Latest.ProgressText() != ""
	}
	t := newTable(w)
	row := func(stage, id, state, at, host, prog, msg string) {
		if progress {
			t.row(stage, id, state, at, host, prog, msg)
		} else {
			t.row(stage, id, state, at, host, msg)
		}
	}
	row("STAGE", "ID", "STATE", "WHEN", "HOST", "PROGRESS", "ERROR")
	for _, a := range issues {
		e := a.Latest
		row(e.Stage, e.ChangeID, string(e.State), when(e.Time), e.Host, cell(e.ProgressText()), e.ErrorMessage)
	}
	return t.flush()
}

func (c *cli) issueGet(g *globals, fs *flag.FlagSet) func(context.Context, []string) error {
	guidance := fs.Bool("guidance", false, "print the commands that resolve the issue and what each means for the next run")
	stage := fs.String("stage", "", "the change's stage `NAME`, when its id is in several")
	asJSON := fs.Bool("json", false, "print JSON (see the package documentation for the shape); it always holds the resolutions")
	return func(ctx context.Context, args []string) error {
		if len(args) != 1 {
			return usagef("issue get needs exactly one change ID, got %d arguments", len(args))
		}
		s, err := c.open(ctx, g, readOnly)
		if err != nil {
			return err
		}
		defer c.close(s)
		a, lock, err := s.Find(ctx, args[0], *stage)
		if err != nil {
			return err
		}
		history, err := s.History(ctx, audit.Filter{Stage: a.Latest.Stage, ChangeID: a.Latest.ChangeID})
		if err != nil {
			return err
		}
		if *asJSON {
			return writeJSON(c.stdout, struct {
				Store   string      `json:"store"`
				Lock    lockJSON    `json:"lock"`
				Change  changeJSON  `json:"change"`
				History []entryJSON `json:"history"`
			}{s.Name(), toLockJSON(lock), toChangeJSON(a, s, lock), toEntriesJSON(history)})
		}
		return c.printIssue(c.stdout, s, a, history, lock, *guidance)
	}
}

// printIssue explains what happened to a change and, with guidance, how to
// resolve its issue.
func (c *cli) printIssue(w io.Writer, s *operate.Session, a audit.Assessment, history []audit.Entry, lock audit.LockInfo, guidance bool) error {
	e := a.Latest
	fmt.Fprintf(w, "change %q (stage %q): %s; %s\n\n", e.ChangeID, e.Stage, a.Verdict, operate.NextRun(a.Verdict))
	t := newTable(w)
	t.row("state:", fmt.Sprintf("%s at %s", e.State, when(e.Time)))
	t.row("host:", e.Host)
	t.row("runner:", e.RunnerID)
	t.row("execution:", e.ExecutionID)
	t.row("target:", fmt.Sprintf("%s (it ran %s, recovery %s)", cell(e.TargetID), e.Strategy.Phrase(), e.Recovery))
	t.row("author:", e.Author)
	if e.ErrorMessage != "" {
		msg := e.ErrorMessage
		if e.ErrorKind != "" {
			msg += " (" + e.ErrorKind + ")"
		}
		t.row("error:", msg)
	}
	if p := e.ProgressText(); p != "" {
		t.row("progress:", p)
	}
	if e.Operator != "" {
		t.row("marked by:", e.Operator+": "+e.Reason)
	}
	if a.Verdict == audit.VerdictRunning {
		t.row("lease:", fmt.Sprintf("runner %s holds lock %q until %s", lock.Owner, lock.Key, when(lock.ExpiresAt)))
	}
	t.row("why:", a.Reason)
	if err := t.flush(); err != nil {
		return err
	}
	if note := stillRunning(a, lock); note != "" {
		fmt.Fprintf(w, "\nnote: %s\n", note)
	}

	fmt.Fprintf(w, "\nhistory:\n")
	t = newTable(w)
	t.row("STATE", "WHEN", "DURATION", "HOST", "RUNNER", "DETAIL")
	for _, h := range history {
		t.row(string(h.State), when(h.Time), duration(h.Duration), h.Host, h.RunnerID, detail(h))
	}
	if err := t.flush(); err != nil {
		return err
	}

	res := s.Resolutions(a)
	switch {
	case a.Verdict == audit.VerdictRunning:
		fmt.Fprintf(w, "\nrunning: nothing to resolve while runner %s applies it; if that runner is gone, free the lock with %s lock release --force, then check it again.\n", lock.Owner, c.prog)
	case len(res) == 0:
		fmt.Fprintf(w, "\nno issue: nothing to resolve.\n")
	case !guidance:
		fmt.Fprintf(w, "\n%s issue get %s --guidance prints the commands that resolve it.\n", c.prog, e.ChangeID)
	default:
		fmt.Fprintf(w, "\n%s.\nCheck what the change did to target %q, then run one of:\n", capitalize(a.Problem), cell(e.TargetID))
		for _, r := range res {
			fmt.Fprintf(w, "  %s\n    %s\n", r.Effect, r.Command)
		}
	}
	return nil
}

func capitalize(s string) string {
	if s == "" || s[0] < 'a' || s[0] > 'z' {
		return s
	}
	return string(s[0]-'a'+'A') + s[1:]
}
