package main

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"strings"
	"testing"
	"time"
)

// TestQuickRun runs the benchmark's smoke mode against a real server, so
// the benchmark keeps compiling and working. It asserts what the run
// printed, never a time: a MISS is not a failure.
func TestQuickRun(t *testing.T) {
	dsn := needServer(t)
	var stdout, stderr bytes.Buffer
	if code := run(t.Context(), []string{"-quick", "-dsn", dsn}, &stdout, &stderr); code != 0 {
		t.Fatalf("bench -quick exited %d:\n%s", code, stderr.String())
	}
	out := stdout.String()
	for _, want := range []string{
		"(a) start with nothing pending",
		"(a) the same on a connection opened beforehand",
		"(b) apply 100 changes",
		"(b) flamingock ≤ 1.0× goose at N = 100",
		"(b) flamingock ≤ 1.15× floor at N = 100",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

// TestQuickRunOfSQLFiles runs part (b) with flamingock's changes made of
// goose's SQL files, as flamingock-gen makes them.
func TestQuickRunOfSQLFiles(t *testing.T) {
	dsn := needServer(t)
	var stdout, stderr bytes.Buffer
	if code := run(t.Context(), []string{"-quick", "-part", "b", "-files", "-apply-n", "20", "-dsn", dsn}, &stdout, &stderr); code != 0 {
		t.Fatalf("bench -files exited %d:\n%s", code, stderr.String())
	}
	if want := "(b) flamingock ≤ 1.0× goose at N = 20"; !strings.Contains(stdout.String(), want) {
		t.Errorf("output lacks %q:\n%s", want, stdout.String())
	}
}

func TestLoadFilesMakesOneScriptPerGooseFile(t *testing.T) {
	s := newChangeSet(createTable, 3)
	if err := s.loadFiles(); err != nil {
		t.Fatal(err)
	}
	for i, script := range s.scripts {
		if len(script.Statements) != 1 || s.ids[i] != fmt.Sprintf("%05d_change", i+1) {
			t.Fatalf("change %d: id %s, %d statements", i+1, s.ids[i], len(script.Statements))
		}
		if sp := script.Statements[0]; script.Text[sp.Start:sp.End] != s.statements[i] {
			t.Errorf("change %d runs %q, want %q", i+1, script.Text[sp.Start:sp.End], s.statements[i])
		}
	}
}

// BenchmarkStart repeats one tool's start with nothing pending, from a DSN
// (closing included), on one database prepared once: it is for profiles,
// while the command's table takes a fresh database per run. For example
//
//	go test -run '^$' -bench 'Start/flamingock/10000' -cpuprofile cpu.out
func BenchmarkStart(b *testing.B) {
	dsn := needServer(b)
	for _, n := range []int{100, 1000, 10000} {
		set := newChangeSet(insert, n)
		for _, t := range startTools() {
			b.Run(fmt.Sprintf("%s/%d", t.name, n), func(b *testing.B) {
				ctx := b.Context()
				srv, err := connectServer(ctx, dsn)
				if err != nil {
					b.Fatal(err)
				}
				defer srv.close(ctx)
				bn := &bench{srv: srv, progress: io.Discard}
				db, err := srv.create(ctx, fmt.Sprintf("prof_%s_%d", t.name, n), "")
				if err != nil {
					b.Fatal(err)
				}
				if err := bn.prepare(ctx, db, set.kind); err != nil {
					b.Fatal(err)
				}
				if _, err := bn.timed(ctx, t, db, endpoint{dsn: db.dsn}, set, false, n); err != nil {
					b.Fatal(err)
				}
				if err := bn.exec(ctx, db, "VACUUM ANALYZE"); err != nil {
					b.Fatal(err)
				}
				for b.Loop() {
					h, err := t.open(ctx, endpoint{dsn: db.dsn})
					if err != nil {
						b.Fatal(err)
					}
					applied, closeTool, err := t.up(ctx, h, set)
					if err != nil {
						b.Fatal(err)
					}
					closeTool()
					h.close()
					if applied != 0 {
						b.Fatalf("applied %d changes on a start with nothing pending", applied)
					}
				}
			})
		}
	}
}

// needServer returns the DSN of the PostgreSQL server to measure on, or
// skips when there is none (fails when FLAMINGOCK_REQUIRE_SERVICES=1).
func needServer(tb testing.TB) string {
	tb.Helper()
	dsn := os.Getenv("FLAMINGOCK_TEST_POSTGRES")
	if dsn == "" {
		if os.Getenv("FLAMINGOCK_REQUIRE_SERVICES") == "1" {
			tb.Fatal("FLAMINGOCK_TEST_POSTGRES is not set and FLAMINGOCK_REQUIRE_SERVICES=1")
		}
		tb.Skip("FLAMINGOCK_TEST_POSTGRES is not set")
	}
	return dsn
}

func TestBadFlagsExitTwo(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"no DSN anywhere", []string{"-dsn", ""}, "no PostgreSQL"},
		{"zero rounds", []string{"-dsn", "postgres://x/y", "-runs", "0"}, "-runs 0"},
		{"an unknown part", []string{"-dsn", "postgres://x/y", "-part", "c"}, `-part "c"`},
		{"an unknown statement", []string{"-dsn", "postgres://x/y", "-stmt", "drop"}, `-stmt "drop"`},
		{"a stray argument", []string{"-dsn", "postgres://x/y", "extra"}, `unexpected argument "extra"`},
	} {
		t.Run("it refuses "+tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			if code := run(t.Context(), tc.args, &stdout, &stderr); code != 2 {
				t.Errorf("exit %d, want 2", code)
			}
			if !strings.Contains(stderr.String(), tc.want) {
				t.Errorf("stderr %q lacks %q", stderr.String(), tc.want)
			}
		})
	}
}

func TestWithSetting(t *testing.T) {
	for _, tc := range []struct {
		dsn, key, value, want string
	}{
		{"postgres://u@h:5432/db?sslmode=disable", "dbname", "other",
			"postgres://u@h:5432/other?sslmode=disable"},
		{"postgres://u@h:5432/db?sslmode=disable", "synchronous_commit", "off",
			"postgres://u@h:5432/db?sslmode=disable&synchronous_commit=off"},
		{"host=h user=u dbname=db", "dbname", "it's",
			`host=h user=u dbname=db dbname='it\'s'`},
	} {
		if got := withSetting(tc.dsn, tc.key, tc.value); got != tc.want {
			t.Errorf("withSetting(%q, %q, %q) = %q, want %q", tc.dsn, tc.key, tc.value, got, tc.want)
		}
	}
}

func TestMedian(t *testing.T) {
	for _, tc := range []struct {
		samples []time.Duration
		want    time.Duration
	}{
		{[]time.Duration{5, 1, 3}, 3},
		{[]time.Duration{4, 1, 3, 2}, 2},
		{[]time.Duration{7}, 7},
	} {
		var c cell
		for _, d := range tc.samples {
			c.samples = append(c.samples, measurement{wall: d})
		}
		if got := c.median(); got != tc.want {
			t.Errorf("median of %v = %v, want %v", tc.samples, got, tc.want)
		}
	}
}
