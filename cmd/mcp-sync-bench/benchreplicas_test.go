package main

import (
	"strings"
	"testing"
	"time"

	"github.com/mcp-sync/mcp-sync/cli"
	"github.com/mcp-sync/mcp-sync/internal/pgtest"
)

// TestReplicasBenchSmoke runs `mcp-sync-bench replicas` with tiny settings
// so it cannot rot: every subscriber gets every row, and each replica
// count gets its line. The figures of so short a run mean nothing.
func TestReplicasBenchSmoke(t *testing.T) {
	if testing.Short() {
		t.Skip("opens replicas on PostgreSQL")
	}
	dsn := pgtest.DSN(t)
	code, out, errOut := runCmdTimeout(t, 3*time.Minute, nil, "replicas", "--postgres", dsn, "--writes", "20", "--replicas", "1,3")
	if code != cli.ExitOK {
		t.Fatalf("replicas exited %d\n%s\n%s", code, out, errOut)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 4 || !strings.HasPrefix(lines[1], "1 ") || !strings.HasPrefix(lines[2], "3 ") {
		t.Fatalf("want a header, a line for 1 and for 3 replicas, and a note:\n%s", out)
	}
	if code, _, errOut := runCmdTimeout(t, time.Minute, nil, "replicas", "--postgres", dsn, "--replicas", "0"); code == cli.ExitOK || !strings.Contains(errOut, "--replicas") {
		t.Fatalf("--replicas 0: exit %d, %s; want a usage error naming the flag", code, errOut)
	}
}
