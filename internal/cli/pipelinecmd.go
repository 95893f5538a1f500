package cli

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/flamingock/flamingock-go/audit"
	"github.com/flamingock/flamingock-go/runtime/pipeline"
)

// The commands of an application's pipeline (DoApp): they know the
// pipeline's code, which the standalone CLI does not.

func pipelineCommands() []command {
	return []command{
		{"status", "[--json]",
			"every change of the pipeline, in order: applied, pending, drifted (its source changed since it was applied), issue, running, or unknown (in the trail, no longer in the code)", (*cli).status},
		{"plan", "[--json]",
			"what up would do with every change, and why; takes no lock, writes nothing", (*cli).plan},
		{"up", "[--json]",
			"apply every pending change", (*cli).up},
		{"validate", "[--json]",
			"whether every change is applied, for CI and readiness gates: exit status 3 when one is an issue, 4 when some are pending", (*cli).validate},
		{"rollback-to", "ID [--inclusive] [--json]",
			"roll back every applied change after ID, newest first, running their rollbacks; --inclusive: ID too", (*cli).rollbackTo},
		{"baseline", "ID --reason TEXT [--operator NAME] [--json]",
			"mark applied, without running them, the changes up to ID that never ran: a database migrated by hand or by another tool", (*cli).baseline},
	}
}

// What status says of a change.
const (
	statusApplied = "applied"
	statusPending = "pending"
	statusDrifted = "drifted"
	statusIssue   = "issue"
	statusRunning = "running"
	statusUnknown = "unknown"
)

// statuses are status's values, in the order its summary counts them.
var statuses = []string{statusApplied, statusPending, statusDrifted, statusIssue, statusRunning, statusUnknown}

// pipelineChangeJSON is a change of the pipeline as status, plan and
// validate show it, or (status unknown) an entry of the trail that no
// stage declares.
type pipelineChangeJSON struct {
	Stage    string      `json:"stage"`
	ChangeID string      `json:"change_id"`
	Order    audit.Order `json:"order"`
	Status   string      `json:"status"`
	// Action is what up does with it (pipeline.Action); "" when unknown.
	Action      string           `json:"action"`
	Reason      string           `json:"reason"`
	Problem     string           `json:"problem"`
	Latest      *entryJSON       `json:"latest"`
	Drift       *driftJSON       `json:"drift"`
	Running     *runningJSON     `json:"running"`
	Resolutions []resolutionJSON `json:"resolutions"`
}

type driftJSON struct {
	Stage     string    `json:"stage"`
	ChangeID  string    `json:"change_id"`
	Recorded  string    `json:"recorded"`
	Current   string    `json:"current"`
	AppliedAt time.Time `json:"applied_at"`
}

func toDriftJSON(d pipeline.Drift) driftJSON {
	return driftJSON{Stage: d.Stage, ChangeID: d.ChangeID, Recorded: d.Recorded, Current: d.Current, AppliedAt: d.AppliedAt.UTC()}
}

func toDriftsJSON(drift []pipeline.Drift) []driftJSON {
	out := make([]driftJSON, len(drift))
	for i, d := range drift {
		out[i] = toDriftJSON(d)
	}
	return out
}

// fromPlanned is pc, planned by the runner, seen under lock (read after
// the trail): a change its runner applies now is running.
func fromPlanned(pc pipeline.PlannedChange, lock audit.LockInfo) pipelineChangeJSON {
	j := pipelineChangeJSON{
		Stage: pc.Stage, ChangeID: pc.ChangeID, Order: pc.Order, Action: string(pc.Action),
		Reason: pc.Reason, Problem: pc.Problem, Resolutions: []resolutionJSON{},
	}
	if pc.Latest != nil {
		e := toEntryJSON(*pc.Latest)
		j.Latest = &e
	}
	var running audit.Assessment
	if pc.Latest != nil {
		running = audit.Assess(*pc.Latest).UnderLock(lock)
	}
	switch {
	case running.Verdict == audit.VerdictRunning:
		j.Status, j.Reason, j.Problem = statusRunning, running.Reason, ""
		j.Running = &runningJSON{Runner: lock.Owner, LeaseUntil: lock.ExpiresAt.UTC()}
	case pc.Action == pipeline.ActionIssue:
		j.Status = statusIssue
		if pc.Issue != nil {
			j.Resolutions = toResolutionsJSON(pc.ChangeID, pc.Issue.Resolutions)
		}
	case pc.Action == pipeline.ActionApply, pc.Action == pipeline.ActionRecover:
		j.Status = statusPending
	case pc.Drift != nil:
		j.Status = statusDrifted
		d := toDriftJSON(*pc.Drift)
		j.Drift = &d
	default:
		j.Status = statusApplied
	}
	return j
}

// fromIssue is an issue that blocked up or rollback-to.
func fromIssue(is pipeline.Issue) pipelineChangeJSON {
	e := toEntryJSON(is.Latest)
	return pipelineChangeJSON{
		Stage: is.Stage, ChangeID: is.ChangeID, Order: is.Latest.Order, Status: statusIssue,
		Action: string(pipeline.ActionIssue), Reason: audit.Assess(is.Latest).Reason, Problem: is.Problem,
		Latest: &e, Resolutions: toResolutionsJSON(is.ChangeID, is.Resolutions),
	}
}

// toResolutionsJSON renders the runner's resolutions of change id, with
// the state each records.
func toResolutionsJSON(id string, rs []pipeline.Resolution) []resolutionJSON {
	out := []resolutionJSON{}
	for _, r := range rs {
		var state audit.State
		for _, a := range audit.Resolutions(id) {
			if a.Name == r.Name {
				state = a.State
			}
		}
		out = append(out, resolutionJSON{Name: r.Name, State: state, Command: r.Command, Effect: r.Effect})
	}
	return out
}

// unknown is an entry of the trail that no stage of the pipeline declares.
func unknown(e audit.Entry) pipelineChangeJSON {
	j := toEntryJSON(e)
	return pipelineChangeJSON{
		Stage: e.Stage, ChangeID: e.ChangeID, Order: e.Order, Status: statusUnknown, Latest: &j,
		Reason: fmt.Sprintf("%s at %s, but no stage of the pipeline declares it (removed from the code?): runs leave it alone",
			e.State, when(e.Time)),
		Resolutions: []resolutionJSON{},
	}
}

// pipelineView is the pipeline as status, plan and validate show it.
type pipelineView struct {
	store string
	plan  *pipeline.Plan
	// lock is read after the trail, so that a change that ended meanwhile
	// is not shown running.
	lock audit.LockInfo
	// changes are the pipeline's changes in order; unknown the trail's
	// entries no stage declares, by stage, order and id.
	changes, unknown []pipelineChangeJSON
}

// view plans the pipeline (no lock, no write) and reads the trail and the
// lock.
func (c *cli) view(ctx context.Context) (*pipelineView, error) {
	s, err := c.open(ctx, nil, readOnly)
	if err != nil {
		return nil, err
	}
	defer c.close(s)
	p, err := c.app.Runner.Plan(ctx)
	if err != nil {
		return nil, err
	}
	if p.Lock.Key != "" && p.Lock.Key != c.app.LockKey {
		return nil, fmt.Errorf("the runner's lock key is %q, but the command was given %q: give it the key of pipeline.WithLockKey", p.Lock.Key, c.app.LockKey)
	}
	snap, err := s.Store().Snapshot(ctx)
	if err != nil {
		return nil, fmt.Errorf("read the audit trail of %s: %w", s.Name(), err)
	}
	lock, err := s.Lock(ctx)
	if err != nil {
		return nil, err
	}
	v := &pipelineView{store: s.Name(), plan: p, lock: lock}
	declared := make(map[audit.Key]bool, len(p.Changes))
	for _, pc := range p.Changes {
		declared[audit.Key{Stage: pc.Stage, ChangeID: pc.ChangeID}] = true
		v.changes = append(v.changes, fromPlanned(pc, lock))
	}
	var gone []audit.Entry
	for _, e := range snap {
		if !declared[e.Key()] {
			gone = append(gone, e)
		}
	}
	slices.SortFunc(gone, func(x, y audit.Entry) int {
		return cmp.Or(strings.Compare(x.Stage, y.Stage), x.Order.Compare(y.Order), strings.Compare(x.ChangeID, y.ChangeID))
	})
	for _, e := range gone {
		v.unknown = append(v.unknown, unknown(e))
	}
	return v, nil
}

// counted says how many changes are in each status, those present only:
// "2 applied, 1 pending".
func counted(changes []pipelineChangeJSON) (string, map[string]int) {
	n := make(map[string]int, len(statuses))
	for _, st := range statuses {
		n[st] = 0
	}
	for _, ch := range changes {
		n[ch.Status]++
	}
	var parts []string
	for _, st := range statuses {
		if n[st] > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n[st], st))
		}
	}
	return strings.Join(parts, ", "), n
}

func (c *cli) status(_ *globals, fs *flag.FlagSet) func(context.Context, []string) error {
	asJSON := fs.Bool("json", false, "print JSON (see the package documentation for the shape)")
	return func(ctx context.Context, args []string) error {
		if len(args) > 0 {
			return usagef("status takes no arguments, got %q", args)
		}
		v, err := c.view(ctx)
		if err != nil {
			return err
		}
		all := append(slices.Clip(v.changes), v.unknown...)
		summary, counts := counted(all)
		if *asJSON {
			if all == nil {
				all = []pipelineChangeJSON{}
			}
			return writeJSON(c.stdout, struct {
				Store   string               `json:"store"`
				Lock    lockJSON             `json:"lock"`
				Changes []pipelineChangeJSON `json:"changes"`
				Counts  map[string]int       `json:"counts"`
			}{v.store, toLockJSON(v.lock), all, counts})
		}
		if len(all) == 0 {
			fmt.Fprintf(c.stdout, "no changes: the pipeline declares none and %s records none\n", v.store)
			return nil
		}
		t := newTable(c.stdout)
		t.row("STAGE", "ID", "ORDER", "STATUS", "WHEN", "WHY")
		for _, ch := range all {
			t.row(ch.Stage, ch.ChangeID, ch.Order.String(), strings.ToUpper(ch.Status), latestWhen(ch), ch.Reason)
		}
		if err := t.flush(); err != nil {
			return err
		}
		fmt.Fprintln(c.stdout, summary)
		return nil
	}
}

// latestWhen is the time of a change's latest entry, "" when it never ran.
func latestWhen(ch pipelineChangeJSON) string {
	if ch.Latest == nil {
		return ""
	}
	return when(ch.Latest.Time)
}

func (c *cli) plan(_ *globals, fs *flag.FlagSet) func(context.Context, []string) error {
	asJSON := fs.Bool("json", false, "print JSON (see the package documentation for the shape)")
	return func(ctx context.Context, args []string) error {
		if len(args) > 0 {
			return usagef("plan takes no arguments, got %q", args)
		}
		v, err := c.view(ctx)
		if err != nil {
			return err
		}
		p := v.plan
		if *asJSON {
			changes := v.changes
			if changes == nil {
				changes = []pipelineChangeJSON{}
			}
			return writeJSON(c.stdout, struct {
				Store   string               `json:"store"`
				Lock    lockJSON             `json:"lock"`
				Changes []pipelineChangeJSON `json:"changes"`
				Drift   []driftJSON          `json:"drift"`
			}{v.store, toLockJSON(v.lock), changes, toDriftsJSON(p.Drift())})
		}
		if len(p.Changes) == 0 {
			fmt.Fprintln(c.stdout, "no changes: the pipeline declares none")
			return nil
		}
		t := newTable(c.stdout)
		t.row("STAGE", "ID", "ORDER", "ACTION", "WHY")
		for _, pc := range p.Changes {
			t.row(pc.Stage, pc.ChangeID, pc.Order.String(), string(pc.Action), pc.Reason)
		}
		if err := t.flush(); err != nil {
			return err
		}
		n := map[pipeline.Action]int{}
		for _, pc := range p.Changes {
			n[pc.Action]++
		}
		if issues := n[pipeline.ActionIssue]; issues > 0 {
			fmt.Fprintf(c.stdout, "up would apply nothing: %s the pipeline (%s issue get ID --guidance)\n",
				plural(issues, "1 change blocks", fmt.Sprintf("%d changes block", issues)), c.prog)
		} else {
			fmt.Fprintf(c.stdout, "up would apply %d change(s), recover %d, skip %d already applied\n",
				n[pipeline.ActionApply], n[pipeline.ActionRecover], n[pipeline.ActionSkip])
		}
		for _, d := range p.Drift() {
			fmt.Fprintf(c.stdout, "drifted: %s\n", d)
		}
		if v.lock.Held() {
			fmt.Fprintf(c.stdout, "note: runner %s holds lock %q until %s: up waits for it\n", v.lock.Owner, v.lock.Key, when(v.lock.ExpiresAt))
		}
		return nil
	}
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

func (c *cli) validate(_ *globals, fs *flag.FlagSet) func(context.Context, []string) error {
	asJSON := fs.Bool("json", false, "print JSON (see the package documentation for the shape)")
	return func(ctx context.Context, args []string) error {
		if len(args) > 0 {
			return usagef("validate takes no arguments, got %q", args)
		}
		// Validate first: from a current checkpoint it reads nothing more,
		// so a readiness probe stays cheap however long the trail.
		err := c.app.Runner.Validate(ctx)
		var pending, issues, running []pipelineChangeJSON
		store := c.app.session().Name()
		if err != nil {
			var ie *pipeline.IssuesError
			var pe *pipeline.PendingError
			if !errors.As(err, &ie) && !errors.As(err, &pe) {
				return err
			}
			// Then the plan, for what is not applied and why, under the
			// lock: a change another runner applies now is running.
			v, err := c.view(ctx)
			if err != nil {
				return err
			}
			store = v.store
			for _, ch := range v.changes {
				switch ch.Status {
				case statusPending:
					pending = append(pending, ch)
				case statusIssue:
					issues = append(issues, ch)
				case statusRunning:
					running = append(running, ch)
				}
			}
		}
		ok := len(pending)+len(issues)+len(running) == 0
		if *asJSON {
			nonNil := func(s []pipelineChangeJSON) []pipelineChangeJSON {
				if s == nil {
					return []pipelineChangeJSON{}
				}
				return s
			}
			if err := writeJSON(c.stdout, struct {
				Store   string               `json:"store"`
				OK      bool                 `json:"ok"`
				Pending []pipelineChangeJSON `json:"pending"`
				Issues  []pipelineChangeJSON `json:"issues"`
				Running []pipelineChangeJSON `json:"running"`
			}{store, ok, nonNil(pending), nonNil(issues), nonNil(running)}); err != nil {
				return err
			}
		} else if ok {
			fmt.Fprintf(c.stdout, "ok: every change of the pipeline is applied in %s\n", store)
		} else {
			t := newTable(c.stdout)
			t.row("STAGE", "ID", "ORDER", "STATUS", "WHEN", "WHY")
			for _, ch := range slices.Concat(issues, running, pending) {
				t.row(ch.Stage, ch.ChangeID, ch.Order.String(), strings.ToUpper(ch.Status), latestWhen(ch), ch.Reason)
			}
			if err := t.flush(); err != nil {
				return err
			}
		}
		switch {
		case len(issues) > 0:
			return &issuesError{n: len(issues), prog: c.prog}
		case !ok:
			return &pendingError{n: len(pending) + len(running), prog: c.prog}
		}
		return nil
	}
}

// outcomeJSON is what up, rollback-to or baseline did with one change.
type outcomeJSON struct {
	Stage      string `json:"stage"`
	ChangeID   string `json:"change_id"`
	Status     string `json:"status"`
	Reason     string `json:"reason"`
	DurationMS int64  `json:"duration_ms"`
	Error      string `json:"error"`
}

func toOutcomesJSON(os []pipeline.Outcome) []outcomeJSON {
	out := make([]outcomeJSON, len(os))
	for i, o := range os {
		out[i] = outcomeJSON{Stage: o.Stage, ChangeID: o.ChangeID, Status: string(o.Status), Reason: o.Reason, DurationMS: o.Duration.Milliseconds()}
		if o.Err != nil {
			out[i].Error = oneLine(o.Err.Error())
		}
	}
	return out
}

// report prints what up, rollback-to or baseline did (res, err) and
// returns the command's error: the outcomes the run touched as a table,
// then summary; with asJSON, one object. Issues that refused the run are
// the table of issue list, and exit status 3.
func (c *cli) report(res *pipeline.Result, err error, asJSON, all bool, summary func(*pipeline.Result) string) error {
	var ie *pipeline.IssuesError
	errors.As(err, &ie)
	if asJSON {
		v := struct {
			Store       string               `json:"store"`
			ExecutionID string               `json:"execution_id"`
			Changes     []outcomeJSON        `json:"changes"`
			Drift       []driftJSON          `json:"drift"`
			Issues      []pipelineChangeJSON `json:"issues"`
			Error       string               `json:"error"`
		}{Store: c.app.session().Name(), Changes: []outcomeJSON{}, Drift: []driftJSON{}, Issues: []pipelineChangeJSON{}}
		if res != nil {
			v.ExecutionID, v.Changes, v.Drift = res.ExecutionID, toOutcomesJSON(res.Changes()), toDriftsJSON(res.Drift)
		}
		if ie != nil {
			for _, is := range ie.Issues {
				v.Issues = append(v.Issues, fromIssue(is))
			}
		}
		if err != nil {
			v.Error = oneLine(err.Error())
		}
		if werr := writeJSON(c.stdout, v); werr != nil {
			return werr
		}
	} else if ie != nil {
		var issues []audit.Assessment
		for _, is := range ie.Issues {
			issues = append(issues, audit.Assess(is.Latest))
		}
		if werr := writeIssues(c.stdout, issues); werr != nil {
			return werr
		}
	} else if res != nil {
		var rows []pipeline.Outcome
		for _, o := range res.Changes() {
			if all || o.Status != pipeline.StatusSkipped {
				rows = append(rows, o)
			}
		}
		if len(rows) > 0 {
			t := newTable(c.stdout)
			t.row("STAGE", "ID", "STATUS", "DURATION", "WHY")
			for _, o := range rows {
				why := o.Reason
				if o.Err != nil {
					// The change's own error: the error the command ends
					// with says the rest (state, rollback, resolutions).
					why = o.Err.Error()
					var ce *pipeline.ChangeError
					if errors.As(o.Err, &ce) && ce.Err != nil {
						why = ce.Err.Error()
					}
				}
				t.row(o.Stage, o.ChangeID, string(o.Status), duration(o.Duration), why)
			}
			if werr := t.flush(); werr != nil {
				return werr
			}
		}
		fmt.Fprintln(c.stdout, summary(res))
		for _, d := range res.Drift {
			fmt.Fprintf(c.stdout, "drifted: %s\n", d)
		}
	}
	if ie != nil {
		return &issuesError{n: len(ie.Issues), prog: c.prog}
	}
	return err
}

func (c *cli) up(_ *globals, fs *flag.FlagSet) func(context.Context, []string) error {
	asJSON := fs.Bool("json", false, "print JSON (see the package documentation for the shape)")
	return func(ctx context.Context, args []string) error {
		if len(args) > 0 {
			return usagef("up takes no arguments, got %q", args)
		}
		res, err := c.app.Runner.Run(ctx)
		return c.report(res, err, *asJSON, false, func(res *pipeline.Result) string {
			s := fmt.Sprintf("applied %d change(s), %d already applied", res.Count(pipeline.StatusApplied), res.Count(pipeline.StatusSkipped))
			if n := res.Count(pipeline.StatusRecovered); n > 0 {
				s += fmt.Sprintf(", %d recovered", n)
			}
			return s
		})
	}
}

func (c *cli) rollbackTo(_ *globals, fs *flag.FlagSet) func(context.Context, []string) error {
	inclusive := fs.Bool("inclusive", false, "roll back change ID too")
	asJSON := fs.Bool("json", false, "print JSON (see the package documentation for the shape)")
	return func(ctx context.Context, args []string) error {
		if len(args) != 1 {
			return usagef("rollback-to needs exactly one change ID, got %d arguments", len(args))
		}
		var opts []pipeline.RollbackOption
		if *inclusive {
			opts = append(opts, pipeline.Inclusive())
		}
		res, err := c.app.Runner.RollbackTo(ctx, args[0], opts...)
		return c.report(res, err, *asJSON, true, func(res *pipeline.Result) string {
			return fmt.Sprintf("rolled back %d change(s), %d not applied", res.Count(pipeline.StatusRolledBack), res.Count(pipeline.StatusSkipped))
		})
	}
}

func (c *cli) baseline(_ *globals, fs *flag.FlagSet) func(context.Context, []string) error {
	reason := fs.String("reason", "", "why the database already holds these changes, recorded with each mark (required)")
	operatorFlag := fs.String("operator", "", "who baselines, recorded with each mark (default user@host)")
	asJSON := fs.Bool("json", false, "print JSON (see the package documentation for the shape)")
	return func(ctx context.Context, args []string) error {
		if len(args) != 1 {
			return usagef("baseline needs exactly one change ID, the last one the database holds, got %d arguments", len(args))
		}
		switch strings.TrimSpace(*reason) {
		case "":
			return usagef("baseline needs --reason TEXT: say why the database already holds these changes; it is recorded with each mark")
		case placeholderReason:
			return usagef("--reason is still the placeholder %q: say what you checked", placeholderReason)
		}
		operator, err := c.operator(*operatorFlag, isSet(fs, "operator"))
		if err != nil {
			return err
		}
		through := args[0]
		res, err := c.app.Runner.Baseline(ctx, through, operator, *reason)
		return c.report(res, err, *asJSON, true, func(res *pipeline.Result) string {
			return fmt.Sprintf("marked %d change(s) applied through %q, %d already applied", res.Count(pipeline.StatusMarked), through, res.Count(pipeline.StatusSkipped))
		})
	}
}
