package main

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// usage is the CPU time used so far on both sides of the connection: by
// this process, and by the server processes (backends) connected to one
// database. Wall-clock times on a shared machine mostly measure the other
// tenants; CPU times much less so.
type usage struct {
	client time.Duration
	server time.Duration
	// serverKnown is false when the server's processes cannot be read:
	// the server runs on another machine, or as a user whose /proc
	// entries are hidden.
	serverKnown bool
}

// snapshot is the CPU time used so far by this process and by each backend.
type snapshot struct {
	client   time.Duration
	backends map[int]time.Duration // by pid (PostgreSQL) or thread id (MySQL)
	// threads is every thread of a MySQL server, a baseline for a
	// connection that opens later on a thread of the server's cache.
	threads map[int]time.Duration
	known   bool
}

// since returns the CPU time used from before to s. A backend that exited
// meanwhile is not counted; one that started is counted whole.
func (s snapshot) since(before snapshot) usage {
	u := usage{client: s.client - before.client, serverKnown: s.known && before.known}
	for pid, d := range s.backends {
		prev, ok := before.backends[pid]
		if !ok {
			prev = before.threads[pid]
		}
		u.server += d - prev
	}
	return u
}

// usage reads the CPU time used so far by this process and by the backends
// connected to database name. Read it before closing the connections: the
// time of a backend that exited is lost.
func (s *server) usage(ctx context.Context, name string) (snapshot, error) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return snapshot{}, fmt.Errorf("getrusage: %w", err)
	}
	u := snapshot{client: time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), backends: map[int]time.Duration{}, known: true}
	if s.my != nil {
		return u, s.my.usage(ctx, name, &u)
	}
	rows, err := s.admin.Query(ctx, "SELECT pid FROM pg_catalog.pg_stat_activity WHERE datname = $1", name)
	if err != nil {
		return snapshot{}, fmt.Errorf("list the backends of %s: %w", name, err)
	}
	defer rows.Close()
	for rows.Next() {
		var pid int
		if err := rows.Scan(&pid); err != nil {
			return snapshot{}, err
		}
		d, ok := onCPU(pid)
		u.backends[pid] = d
		u.known = u.known && ok
	}
	return u, rows.Err()
}

// onCPU is the time process pid has spent running, from the first field of
// /proc/<pid>/schedstat (nanoseconds, unlike the 10 ms ticks of
// /proc/<pid>/stat). pid may be a thread's id.
func onCPU(pid int) (time.Duration, bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/schedstat")
	if err != nil {
		return 0, false
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return 0, false
	}
	ns, err := strconv.ParseInt(f[0], 10, 64)
	if err != nil {
		return 0, false
	}
	return time.Duration(ns), true
}
