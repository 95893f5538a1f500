package adoptproof

import (
	"bytes"
	"fmt"
	"os/exec"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// replicas is how many processes of the first release start at once.
const replicas = 20

// proveConcurrentAdoption starts replicas processes of the application
// together on one database the tool migrated with the old files of h: all
// succeed, the old history is imported exactly once and each new change
// applied exactly once, and the schema is that of the tool applying all of
// h.
func proveConcurrentAdoption(t *testing.T, a app, tool oldTool, h history, newDB func(t *testing.T) database) {
	ref := newDB(t)
	tool.migrate(t, ref.db, tool.files(h))
	want := ref.schema(t)

	db := newDB(t)
	tool.migrate(t, db.db, tool.files(h.old()))
	times := tool.times(t, db.db)

	type process struct {
		cmd            *exec.Cmd
		stdout, stderr bytes.Buffer
	}
	procs := make([]*process, replicas)
	for i := range procs {
		p := &process{cmd: exec.Command(a.bin, "-store", db.arg, "-import", tool.name)}
		p.cmd.Stdout, p.cmd.Stderr = &p.stdout, &p.stderr
		procs[i] = p
	}
	start := time.Now()
	// Started one after the other as fast as the machine forks: they all
	// run at once, well before the first has connected.
	for i, p := range procs {
		if err := p.cmd.Start(); err != nil {
			for _, started := range procs[:i] {
				started.cmd.Process.Kill()
				started.cmd.Wait()
			}
			t.Fatal(err)
		}
	}
	total := 0
	for i, p := range procs {
		if err := p.cmd.Wait(); err != nil {
			t.Errorf("process %d: %v\n%s%s", i, err, p.stdout.String(), p.stderr.String())
			continue
		}
		var n, skipped int
		if _, err := fmt.Sscanf(p.stdout.String(), "applied %d, skipped %d\n", &n, &skipped); err != nil || n+skipped != len(h) {
			t.Errorf("process %d printed %q: want applied n, skipped %d-n", i, p.stdout.String(), len(h))
		}
		total += n
	}
	t.Logf("%d processes adopting at once: %v", replicas, time.Since(start).Round(time.Millisecond))
	if total != newCount {
		t.Errorf("the %d processes applied %d changes in all, want %d", replicas, total, newCount)
	}
	entries := trail(t, db.store(t))
	wantAdopted(t, entries, tool.origin, tool.table, times, h.old(), h[len(h)-newCount:])
	// One run imported and applied everything: no second importer
	// recorded part of the history.
	executions := map[string]bool{}
	for _, e := range entries {
		executions[e.ExecutionID] = true
	}
	if len(executions) != 1 {
		t.Errorf("the trail was written by %d executions, want 1: %v", len(executions), executions)
	}
	if diff := cmp.Diff(want, db.schema(t)); diff != "" {
		t.Errorf("schema of the adopted database (-%s applying all %d, +adopted):\n%s", tool.name, len(h), diff)
	}
}
