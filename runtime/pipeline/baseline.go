package pipeline

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/flamingock/flamingock-go/audit"
)

// ErrBaselineRefused matches the *BaselineRefusedError Baseline returns
// when a change it would mark has run before and is not applied. Nothing
// was recorded.
var ErrBaselineRefused = errors.New("baseline refused")

// BaselineRefusedError lists every change up to the baseline that keeps
// Baseline from marking.
type BaselineRefusedError struct {
	// Through is the change Baseline was asked to mark up to.
	Through  string
	Refusals []Refusal
}

func (e *BaselineRefusedError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %d %s up to change %q, so nothing was marked", ErrBaselineRefused, len(e.Refusals),
		plural(len(e.Refusals), "change ran before and is not applied", "changes ran before and are not applied"), e.Through)
	for _, r := range e.Refusals {
		fmt.Fprintf(&b, "\n  change %q (stage %q): %s", r.ChangeID, r.Stage, r.Reason)
	}
	return b.String()
}

// Unwrap makes the error match ErrBaselineRefused.
func (e *BaselineRefusedError) Unwrap() error { return ErrBaselineRefused }

// Baseline records that the database already holds every change of the
// pipeline up to and including change through, as a database migrated by
// hand or by another tool does: under the lock, each of those changes that
// has no entry yet is marked MANUAL_MARKED_AS_APPLIED, with operator and
// reason and the metadata {"baseline":{"through":"<through>"}}, without
// running it. Changes already applied are left alone, so Baseline is
// idempotent; the changes after through are left to Run.
//
// It refuses, recording nothing, an empty operator or reason, an id no
// stage declares (ErrUnknownChange; ids are unique in a pipeline), and,
// with a *BaselineRefusedError, a pipeline in which a change up to through
// has run and is not applied (rolled back, failed, started, an issue):
// each refusal says what to do first.
//
// The Result lists the changes up to through, in pipeline order:
// StatusMarked for those it marked, StatusSkipped for those applied
// before. Its other errors are Run's: ErrLockNotAcquired, ErrLockLost,
// ErrStoreFailed, ErrStageRenamed, ErrInvalidPipeline and the context's.
func (r *Runner) Baseline(ctx context.Context, through, operator, reason string) (res *Result, err error) {
	if strings.TrimSpace(operator) == "" || strings.TrimSpace(reason) == "" {
		return &Result{}, fmt.Errorf("baseline through change %q: a baseline needs an operator and a reason: say who marks the changes applied and why", through)
	}
	b, err := r.changes()
	if err != nil {
		return &Result{}, err
	}
	last := slices.IndexFunc(b.changes, func(c *boundChange) bool { return c.meta.ID == through })
	if last < 0 {
		return &Result{}, fmt.Errorf("%w: no stage of the pipeline declares change %q", ErrUnknownChange, through)
	}
	x := &execution{r: r, id: rand.Text(), step: applying()}
	x.log = r.cfg.logger.With("execution", x.id)
	res = &Result{ExecutionID: x.id}
	x.begin(ctx, OperationBaseline)
	defer func() { x.end(res, err) }()

	x.lease, err = r.acquire(ctx)
	if err != nil {
		return res, err
	}
	defer x.lease.release(ctx)
	p, err := r.plan(ctx)
	if err != nil {
		return res, err
	}
	x.saw(p.seq)
	upTo := p.Changes[:last+1]
	metadata, err := json.Marshal(map[string]map[string]string{"baseline": {"through": through}})
	if err != nil {
		return res, err
	}
	var (
		marks   []Mark
		refused []Refusal
	)
	for _, pc := range upTo {
		switch {
		case pc.Action == ActionExclude:
			// Not this runner's change: left as it is, neither marked
			// nor refused.
		case pc.Latest == nil:
			marks = append(marks, Mark{Stage: pc.Stage, ChangeID: pc.ChangeID, Operator: operator, Reason: reason, Metadata: metadata})
		case pc.Action != ActionSkip:
			refused = append(refused, Refusal{Stage: pc.Stage, ChangeID: pc.ChangeID, Reason: baselineRefusal(pc)})
		}
	}
	if len(refused) > 0 {
		return res, &BaselineRefusedError{Through: through, Refusals: refused}
	}
	rec := x.marker(p)
	err = rec.record(ctx, marks)
	rec.close()
	for _, pc := range upTo {
		o := Outcome{Stage: pc.Stage, ChangeID: pc.ChangeID, Status: StatusSkipped, Reason: pc.Reason}
		switch {
		case pc.Action == ActionExclude:
			o.Status = StatusExcluded
		case rec.recorded[pc.key()]:
			o.Status, o.Reason = StatusMarked, "marked applied: "+reason
		case pc.Latest == nil:
			o.Status, o.Reason = StatusNotRun, "not marked: the baseline stopped"
		}
		res.changes = append(res.changes, o)
	}
	return res, err
}

func (pc *PlannedChange) key() audit.Key { return audit.Key{Stage: pc.Stage, ChangeID: pc.ChangeID} }

// baselineRefusal says why Baseline cannot mark pc, a change that ran
// before and is not applied, and what to do first.
func baselineRefusal(pc PlannedChange) string {
	st := pc.Latest.State
	switch pc.Action {
	case ActionIssue:
		return fmt.Sprintf("%s: resolve its issue first (flamingock audit fix %s; flamingock issue get %s --guidance says how), then baseline again",
			st, pc.ChangeID, pc.ChangeID)
	case ActionRecover:
		return fmt.Sprintf("%s: its transaction committed (its target's marker shows it): run the pipeline, which records it applied, then baseline again", st)
	default:
		return fmt.Sprintf("%s: baseline marks only changes that never ran: run the pipeline to apply it, "+
			"or, if its effects are in place, mark it with flamingock audit fix %s --resolution applied --force", st, pc.ChangeID)
	}
}
