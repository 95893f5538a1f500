package main

import (
	"context"
	"crypto/rand"
	"errors"
	"flag"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/flamingock/flamingock-go/audit"
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
		defer s.Close()
		if *history {
			return c.printHistory(ctx, s, audit.Filter{Stage: *stage, Since: from}, *asJSON)
		}
		all, lock, err := s.snapshot(ctx)
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
			}{s.name, toChangesJSON(all, s, lock)})
		}
		if len(all) == 0 {
			fmt.Fprintf(c.stdout, "no changes recorded in %s%s\n", s.name, filtered(*stage, *since))
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

func (c *cli) printHistory(ctx context.Context, s *session, f audit.Filter, asJSON bool) error {
	entries, err := s.store.History(ctx, f)
	if err != nil {
		return fmt.Errorf("read the audit trail of %s: %w", s.name, err)
	}
	if asJSON {
		return writeJSON(c.stdout, struct {
			Store   string      `json:"store"`
			Entries []entryJSON `json:"entries"`
		}{s.name, toEntriesJSON(entries)})
	}
	if len(entries) == 0 {
		since := ""
		if !f.Since.IsZero() {
			since = f.Since.Format(time.RFC3339)
		}
		fmt.Fprintf(c.stdout, "no entries recorded in %s%s\n", s.name, filtered(f.Stage, since))
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
	stage := fs.String("stage", "", "the change's stage `NAME`, when its id is in several")
	force := fs.Bool("force", false, "mark a change that has no issue")
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
		operator, err := c.operator(*operatorFlag, isSet(fs, "operator"))
		if err != nil {
			return err
		}
		s, err := c.open(ctx, g, readWrite)
		if err != nil {
			return err
		}
		defer s.Close()
		// Checked without the lock first, so that a wrong id or a change
		// without an issue costs no lock acquisition.
		a, lock, err := s.find(ctx, id, *stage)
		if err != nil {
			return err
		}
		if a.Verdict == audit.VerdictRunning {
			// Whatever --force says: the lock refuses the mark anyway.
			return lockHeld(s, lock, a.Latest.ChangeID)
		}
		if err := refuseWithoutIssue(a, *force); err != nil {
			return err
		}
		stored, err := c.mark(ctx, s, a.Latest.Key(), want.State, operator, *reason, *force)
		if err != nil {
			return err
		}
		after := audit.Assess(stored)
		if *asJSON {
			return writeJSON(c.stdout, struct {
				Store  string     `json:"store"`
				Entry  entryJSON  `json:"entry"`
				Change changeJSON `json:"change"`
			}{s.name, toEntryJSON(stored), toChangeJSON(after, s, audit.LockInfo{})})
		}
		fmt.Fprintf(c.stdout, "change %q (stage %q): recorded %s by %s: %s; %s\n",
			stored.ChangeID, stored.Stage, stored.State, stored.Operator, stored.Reason, nextRun(after.Verdict))
		return nil
	}
}

func refuseWithoutIssue(a audit.Assessment, force bool) error {
	if a.Verdict == audit.VerdictIssue || force {
		return nil
	}
	return fmt.Errorf("change %q (stage %q) has no issue (%s; %s): nothing to resolve; to record a manual mark anyway, add --force",
		a.Latest.ChangeID, a.Latest.Stage, a.Latest.State, nextRun(a.Verdict))
}

// lockTTL is how long the CLI holds the pipeline's lock for one write.
const lockTTL = time.Minute

// mark appends a manual mark of the change key under the pipeline's lock,
// after checking again, under the lock, that the change still needs it.
func (c *cli) mark(ctx context.Context, s *session, key audit.Key, state audit.State, operator, reason string, force bool) (audit.Entry, error) {
	host, err := c.hostname()
	if err != nil || host == "" {
		host = "unknown-host"
	}
	owner := fmt.Sprintf("flamingock-cli-%s-%d-%s", host, os.Getpid(), rand.Text()[:8])
	lease, err := s.store.Acquire(ctx, s.lockKey, owner, lockTTL)
	var held *audit.LockHeldError
	if errors.As(err, &held) {
		return audit.Entry{}, lockHeld(s, held.Info, key.ChangeID)
	}
	if err != nil {
		return audit.Entry{}, fmt.Errorf("take lock %q of %s: %w", s.lockKey, s.name, err)
	}
	defer func() {
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		if err := s.store.Release(rctx, lease); err != nil {
			fmt.Fprintf(c.stderr, "flamingock: warning: release lock %q: %v (it frees itself at %s)\n", s.lockKey, err, when(lease.ExpiresAt))
		}
	}()
	h, err := s.store.History(ctx, audit.Filter{Stage: key.Stage, ChangeID: key.ChangeID})
	if err != nil {
		return audit.Entry{}, fmt.Errorf("read the audit trail of %s: %w", s.name, err)
	}
	if len(h) == 0 {
		return audit.Entry{}, fmt.Errorf("change %q (stage %q) disappeared from the audit trail of %s", key.ChangeID, key.Stage, s.name)
	}
	latest := h[len(h)-1]
	if err := refuseWithoutIssue(audit.Assess(latest), force); err != nil {
		return audit.Entry{}, fmt.Errorf("while the lock was taken, %w", err)
	}
	e := audit.Entry{
		ExecutionID: rand.Text(),
		Stage:       latest.Stage,
		ChangeID:    latest.ChangeID,
		Order:       latest.Order,
		Author:      latest.Author,
		State:       state,
		Time:        c.now().UTC(),
		Host:        host,
		RunnerID:    owner,
		TargetID:    latest.TargetID,
		Strategy:    latest.Strategy,
		Recovery:    latest.Recovery,
		Checksum:    latest.Checksum,
		Operator:    operator,
		Reason:      reason,
	}
	stored, err := s.store.Append(ctx, lease, e)
	if err != nil {
		return audit.Entry{}, fmt.Errorf("record %s of change %q in %s: %w", state, key.ChangeID, s.name, err)
	}
	return stored, nil
}

// lockHeld is the refusal to mark change id while a runner holds the lock.
func lockHeld(s *session, l audit.LockInfo, id string) error {
	return fmt.Errorf("lock %q of %s is held by runner %s until %s: a run is in progress; wait for it to end, then check change %q again (if that runner is gone, free the lock with flamingock lock release --force)",
		s.lockKey, s.name, l.Owner, when(l.ExpiresAt), id)
}

// isSet reports whether flag name was given on the command line.
func isSet(fs *flag.FlagSet, name string) bool {
	set := false
	fs.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}
