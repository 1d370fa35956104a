package main

import (
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mcp-sync/mcp-sync/client"
)

// TestBenchSmoke runs a short `mcp-sync bench` and checks that every
// scenario ran without errors and the targets were evaluated. The figures
// of so short a run mean nothing; the full run is `mcp-sync bench`.
func TestBenchSmoke(t *testing.T) {
	if testing.Short() {
		t.Skip("starts servers")
	}
	benchBinary = interopBinary(t)
	defer func() { benchBinary = "" }()
	code, out, errOut := runCmdTimeout(t, 3*time.Minute, nil, "bench", "--duration", "300ms", "--rounds", "2", "--sessions", "2", "--subscribers", "2", "--chunks", "10", "--json")
	if code != exitOK {
		t.Fatalf("bench exited %d\n%s\n%s", code, out, errOut)
	}
	var rep benchReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("bench --json printed no report: %v\n%s", err, out)
	}
	if len(rep.Results) != 18 || len(rep.Targets) != 4 || len(rep.References) != 8 || len(rep.BoltCommitP50) != 2 || len(rep.BoltPacedP50) != 2 {
		t.Fatalf("report: %d results, %d targets, %d references, bolt p50 %v, paced %v", len(rep.Results), len(rep.Targets), len(rep.References), rep.BoltCommitP50, rep.BoltPacedP50)
	}
	for _, r := range rep.Results {
		if r.Calls == 0 || r.Errors != 0 || r.P50Ms <= 0 {
			t.Errorf("%s over %s (%s): %d calls, %d errors, p50 %v", r.Scenario, r.Transport, r.Era, r.Calls, r.Errors, r.P50Ms)
		}
		if r.Scenario == "mutator put" && (r.Ratio <= 0 || r.DurableRatio <= 0) {
			t.Errorf("%s over %s has no ratio to its baselines", r.Scenario, r.Transport)
		}
		inRounds := r.Scenario == "mutator put" || r.Scenario == durableScenario || strings.HasPrefix(r.Scenario, "noop")
		if inRounds != (len(r.RoundsPerSec) == 2) {
			t.Errorf("%s over %s: %d rounds; want the no-ops and the mutator in 2, the others in one", r.Scenario, r.Transport, len(r.RoundsPerSec))
		}
	}
}

// TestServeBenchStartsNoAI: only the todo app calls a model, so only it
// starts the built-in local AI stream; the bench app, measured against a bare
// server, must not run one beside it.
func TestServeBenchStartsNoAI(t *testing.T) {
	if testing.Short() {
		t.Skip("starts servers")
	}
	bin := interopBinary(t)
	for app, wantAI := range map[string]bool{"bench": false, "conformance": false, "todo": true} {
		srv, err := startServerProc(t.Context(), bin, "serve", "--app", app, "--data", filepath.Join(t.TempDir(), "app.db"), "--http", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		logs := srv.Logs()
		srv.Stop()
		if got := strings.Contains(logs, "AI:"); got != wantAI {
			t.Errorf("serve --app %s: logs an AI notice = %v, want %v:\n%s", app, got, wantAI, logs)
		}
	}
}

// TestOpenLoadsSaysWhy: a scenario whose sessions cannot connect fails the
// bench with the dial's own error, not a bare "could not connect".
func TestOpenLoadsSaysWhy(t *testing.T) {
	dial := func(context.Context) (*client.Conn, error) {
		return nil, errors.New("mcp-sync serve: data.db is in use by another process")
	}
	_, err := openLoads(t.Context(), "stdio", "modern", 1, []loadSpec{{"mutator put", dial, putCall}})
	if err == nil || !strings.Contains(err.Error(), "mutator put over stdio (modern)") || !strings.Contains(err.Error(), "in use by another process") {
		t.Errorf("openLoads: %v, want the scenario and the dial's error", err)
	}
}
