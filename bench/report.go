package main

import (
	"cmp"
	"fmt"
	"io"
	"runtime"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// report is what a benchmark run measured.
type report struct {
	o          options
	server     string
	cpus       int
	loadBefore string
	loadAfter  string
	start      []*scenario // part (a), by N
	apply      *scenario   // part (b)
}

func (r *report) print(w io.Writer) {
	fmt.Fprintf(w, "flamingock-go benchmark: %s %s/%s, %d CPUs, %s, load average %s → %s\n",
		runtime.Version(), runtime.GOOS, runtime.GOARCH, r.cpus, r.server, r.loadBefore, r.loadAfter)
	fmt.Fprintf(w, "median of %d rounds (min–max), tools alternating within each round, a fresh database per run\n", r.o.runs)
	if len(r.start) > 0 {
		r.printStart(w)
	}
	if r.apply != nil {
		r.printApply(w)
	}
	r.printTargets(w)
}

// startNames are the tools of part (a), flamingock first.
func (r *report) startNames() []string {
	if r.o.mysql {
		return []string{"flamingock", "goose"}
	}
	return []string{"flamingock", "goose", "migrate"}
}

func (r *report) printStart(w io.Writer) {
	names := r.startNames()
	for _, connected := range []bool{false, true} {
		suffix, connect := "", "\tconnect"
		if connected {
			fmt.Fprintf(w, "\n(a) the same on a connection opened beforehand: no connection set-up in the time\n")
			suffix, connect = connectedSuffix, ""
		} else {
			fmt.Fprintf(w, "\n(a) start with nothing pending, from a DSN: connect, build the tool, Run / Provider.Up / Up\n")
		}
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		head := "N" + connect
		for _, name := range names {
			head += "\t" + name
		}
		for _, name := range names[1:] {
			head += "\tflamingock/" + name
		}
		fmt.Fprintln(tw, head)
		for _, s := range r.start {
			if !connected {
				connect = "\t" + timing(s.cell(connectKey))
			}
			line := thousands(s.n) + connect
			for _, name := range names {
				line += "\t" + timing(s.cell(name+suffix))
			}
			fl := s.cell("flamingock" + suffix).median()
			for _, name := range names[1:] {
				line += "\t" + ratio(fl, s.cell(name+suffix).median())
			}
			fmt.Fprintln(tw, line)
		}
		tw.Flush()
	}
	fmt.Fprintf(w, "\n(a) traffic of one start: connections, round trips, KiB received\n")
	r.printStartTable(w, func(c *cell) string { return c.traffic.String() }, false)
	fmt.Fprintf(w, "\n(a) CPU time of one start, median: this process + the server's backends\n")
	r.printStartTable(w, cpu, true)
}

// printStartTable prints one line per N and mode, one column per tool,
// and the connect column when withConnect is set.
func (r *report) printStartTable(w io.Writer, show func(*cell) string, withConnect bool) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	head := "N\t"
	if withConnect {
		head += "\tconnect"
	}
	for _, name := range r.startNames() {
		head += "\t" + name
	}
	fmt.Fprintln(tw, head)
	for _, s := range r.start {
		for _, suffix := range []string{"", connectedSuffix} {
			line := thousands(s.n) + "\t" + cmp.Or(strings.TrimSpace(suffix), "from a DSN")
			if withConnect {
				connect := "-"
				if suffix == "" {
					connect = show(s.cell(connectKey))
				}
				line += "\t" + connect
			}
			for _, name := range r.startNames() {
				line += "\t" + show(s.cell(name+suffix))
			}
			fmt.Fprintln(tw, line)
		}
	}
	tw.Flush()
}

// cpu renders a cell's median CPU times as "client + server ms".
func cpu(c *cell) string {
	client, server := c.cpu()
	if server < 0 {
		return msBare(client) + " + ? ms"
	}
	return msBare(client) + " + " + msBare(server) + " ms"
}

func (r *report) printApply(w io.Writer) {
	s := r.apply
	fmt.Fprintf(w, "\n(b) apply %s changes to an empty database, each one statement (-stmt %s): %s\n",
		thousands(s.n), r.o.stmt, r.o.stmt.statement(1))
	if r.o.files {
		fmt.Fprintln(w, "flamingock's changes are goose's SQL files (-files): split by generator/sqlfiles, run by sqlscript")
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "tool\ttime\tper change\tvs goose\tvs floor\tCPU: this process + server\tconnections, round trips, KiB received")
	gs, fl := s.cell("goose"), s.cell("floor")
	for _, name := range []string{"flamingock", "goose", "floor"} {
		c := s.cell(name)
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", name, timing(c), ms(c.median()/time.Duration(s.n)),
			ratio(c.median(), gs.median()), ratio(c.median(), fl.median()), cpu(c), c.traffic)
	}
	tw.Flush()
}

// target is one of issue 3's goals: got ≤ limit.
type target struct {
	what  string
	got   float64 // 0: not measured in this run
	limit float64
}

func (r *report) printTargets(w io.Writer) {
	var ts []target
	for _, suffix := range []string{"", connectedSuffix} {
		if len(r.start) == 0 {
			break
		}
		how := "from a DSN"
		if suffix != "" {
			how = "on an open connection"
		}
		t1 := target{what: "(a) flamingock ≤ 0.5× goose at N = 1,000, " + how, limit: 0.5}
		t2 := target{what: "(a) flamingock at N = 10,000 ≤ 1.2× N = 100, " + how, limit: 1.2}
		var at100, at10k time.Duration
		for _, s := range r.start {
			fl := s.cell("flamingock" + suffix).median()
			switch s.n {
			case 100:
				at100 = fl
			case 1000:
				t1.got = float64(fl) / float64(s.cell("goose"+suffix).median())
			case 10000:
				at10k = fl
			}
		}
		if at100 > 0 && at10k > 0 {
			t2.got = float64(at10k) / float64(at100)
		}
		ts = append(ts, t1, t2)
	}
	if s := r.apply; s != nil {
		fl := float64(s.cell("flamingock").median())
		ts = append(ts,
			target{what: fmt.Sprintf("(b) flamingock ≤ 1.0× goose at N = %s", thousands(s.n)), limit: 1.0,
				got: fl / float64(s.cell("goose").median())},
			target{what: fmt.Sprintf("(b) flamingock ≤ 1.15× floor at N = %s", thousands(s.n)), limit: 1.15,
				got: fl / float64(s.cell("floor").median())})
	}
	if r.o.mysql {
		fmt.Fprintf(w, "\ntargets (issue 3, item 6, as set for PostgreSQL; here on MySQL/MariaDB, issue 15)\n")
	} else {
		fmt.Fprintf(w, "\ntargets (issue 3, item 6)\n")
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, t := range ts {
		switch {
		case t.got == 0:
			fmt.Fprintf(tw, "%s\t-\tnot measured (needs the full run)\n", t.what)
		case t.got <= t.limit:
			fmt.Fprintf(tw, "%s\t%.2f×\tPASS\n", t.what, t.got)
		default:
			fmt.Fprintf(tw, "%s\t%.2f×\tMISS by %.0f%%\n", t.what, t.got, 100*(t.got/t.limit-1))
		}
	}
	tw.Flush()
}

func (t traffic) String() string {
	return fmt.Sprintf("%d, %s, %.1f", t.conns, thousands(t.roundTrips), float64(t.bytesIn)/1024)
}

// timing renders a cell as "median (min–max)".
func timing(c *cell) string {
	lo, hi := c.spread()
	return fmt.Sprintf("%s (%s–%s)", ms(c.median()), msBare(lo), msBare(hi))
}

func ms(d time.Duration) string { return msBare(d) + " ms" }

func msBare(d time.Duration) string {
	v := float64(d) / float64(time.Millisecond)
	switch {
	case v >= 100:
		return strconv.FormatFloat(v, 'f', 0, 64)
	case v >= 10:
		return strconv.FormatFloat(v, 'f', 1, 64)
	default:
		return strconv.FormatFloat(v, 'f', 2, 64)
	}
}

func ratio(a, b time.Duration) string {
	if b == 0 {
		return "-"
	}
	return fmt.Sprintf("%.2f×", float64(a)/float64(b))
}

// thousands renders n with comma separators, as the issue writes N.
func thousands(n int) string {
	s := strconv.Itoa(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}
