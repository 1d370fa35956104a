package main

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/mcp-sync/mcp-sync/cli"
	"github.com/mcp-sync/mcp-sync/internal/pgtest"
)

// TestPGBenchSmoke runs `mcp-sync-bench pgbench` with tiny settings so it
// cannot rot: both servers answer every call and each session count gets
// its ratio. The figures of so short a run mean nothing.
func TestPGBenchSmoke(t *testing.T) {
	if testing.Short() {
		t.Skip("starts servers")
	}
	dsn := pgtest.DSN(t)
	benchBinary = labBinary(t)
	defer func() { benchBinary = "" }()
	code, out, errOut := runCmdTimeout(t, 3*time.Minute, nil, "pgbench", "--postgres", dsn,
		"--duration", "200ms", "--rounds", "2", "--sessions", "1,3", "--json")
	if code != cli.ExitOK {
		t.Fatalf("pgbench exited %d\n%s\n%s", code, out, errOut)
	}
	var rep pgReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("pgbench --json printed no report: %v\n%s", err, out)
	}
	if len(rep.Results) != 4 || len(rep.Targets) != 2 {
		t.Fatalf("report has %d results and %d targets, want 4 and 2:\n%s", len(rep.Results), len(rep.Targets), out)
	}
	for _, r := range rep.Results {
		if r.Calls == 0 || r.Errors != 0 {
			t.Errorf("%s with %d sessions: %d calls, %d errors", r.Scenario, r.Sessions, r.Calls, r.Errors)
		}
	}
}
