package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	mgserver "github.com/mark3labs/mcp-go/server"
	bolt "go.etcd.io/bbolt"

	"github.com/mcp-sync/mcp-sync/backend"
	"github.com/mcp-sync/mcp-sync/cli"
	"github.com/mcp-sync/mcp-sync/client"
	"github.com/mcp-sync/mcp-sync/tools"
)

// TestBenchSmoke runs a short `mcp-sync-bench bench` and checks that every
// scenario ran without errors and the targets were evaluated. The figures
// of so short a run mean nothing; the full run is `mcp-sync-bench bench`.
func TestBenchSmoke(t *testing.T) {
	if testing.Short() {
		t.Skip("starts servers")
	}
	benchBinary = labBinary(t)
	defer func() { benchBinary = "" }()
	code, out, errOut := runCmdTimeout(t, 3*time.Minute, nil, "bench", "--duration", "300ms", "--rounds", "2", "--sessions", "2", "--subscribers", "2", "--chunks", "10", "--json")
	if code != cli.ExitOK {
		t.Fatalf("bench exited %d\n%s\n%s", code, out, errOut)
	}
	var rep benchReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("bench --json printed no report: %v\n%s", err, out)
	}
	if len(rep.Results) != 20 || len(rep.Targets) != 4 || len(rep.References) != 12 || len(rep.BoltCommitP50) != 2 || len(rep.BoltPacedP50) != 2 {
		t.Fatalf("report: %d results, %d targets, %d references, bolt p50 %v, paced %v", len(rep.Results), len(rep.Targets), len(rep.References), rep.BoltCommitP50, rep.BoltPacedP50)
	}
	for _, r := range rep.Results {
		if r.Calls == 0 || r.Errors != 0 || r.P50Ms <= 0 {
			t.Errorf("%s over %s (%s): %d calls, %d errors, p50 %v", r.Scenario, r.Transport, r.Era, r.Calls, r.Errors, r.P50Ms)
		}
		if r.Scenario == "mutator put" && (r.Ratio <= 0 || r.DurableRatio <= 0 || (r.Transport == "http") != (r.FloorRatio > 0)) {
			t.Errorf("%s over %s has not its ratios to its baselines: %+v", r.Scenario, r.Transport, r)
		}
		inRounds := r.Scenario == "mutator put" || r.Scenario == durableScenario || r.Scenario == floorScenario || strings.HasPrefix(r.Scenario, "noop")
		if inRounds != (len(r.RoundsPerSec) == 2) {
			t.Errorf("%s over %s: %d rounds; want the no-ops and the mutator in 2, the others in one", r.Scenario, r.Transport, len(r.RoundsPerSec))
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

// BenchmarkToolCallVsBare measures the CPU path of one tools/call inside the
// process (mcp-go's HandleMessage, no transport, no fsync): the bench app's
// put mutator (a replica-mode engine, so commits are not fsync'd) against a
// bare mcp-go tool doing one bbolt db.Update (NoSync) of a 100-byte row, in
// the same run; ratio-vs-bare is put's time per call over the bare tool's.
func BenchmarkToolCallVsBare(b *testing.B) {
	discard := slog.New(slog.DiscardHandler)
	eng, err := backend.Open(benchConfig(), backend.Options{Path: filepath.Join(b.TempDir(), "app.db"), Replica: true, Logger: discard})
	if err != nil {
		b.Fatal(err)
	}
	defer eng.Close()
	srv, err := tools.New(eng, tools.Options{Name: "bench", Logger: discard})
	if err != nil {
		b.Fatal(err)
	}
	defer srv.Close()
	db, err := bolt.Open(filepath.Join(b.TempDir(), "bare.bolt"), 0o600, &bolt.Options{NoSync: true})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	bare := mgserver.NewMCPServer("bare", "1", mgserver.WithToolCapabilities(false))
	if err := addCommitTool(bare, db); err != nil {
		b.Fatal(err)
	}
	call := func(s *mgserver.MCPServer, msg []byte) {
		res := s.HandleMessage(context.Background(), msg)
		out, err := json.Marshal(res)
		if err != nil || bytes.Contains(out, []byte(`"isError":true`)) || bytes.Contains(out, []byte(`"error"`)) {
			b.Fatalf("%s: %s %v", msg, out, err)
		}
	}
	timed := func(s *mgserver.MCPServer, msg func(i int) []byte) time.Duration {
		start := time.Now()
		for i := range b.N {
			call(s, msg(i))
		}
		return time.Since(start)
	}
	b.ReportAllocs()
	b.ResetTimer()
	bareTime := timed(bare, func(i int) []byte {
		return fmt.Appendf(nil, `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"commit","arguments":{"key":"s%d"}}}`, i%16)
	})
	putTime := timed(srv.MCP(), func(i int) []byte {
		return fmt.Appendf(nil, `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"put","arguments":{"key":"s%d","text":"some text of a row","n":%d}}}`, i%16, i)
	})
	b.ReportMetric(float64(bareTime.Microseconds())/float64(b.N), "bare-µs/call")
	b.ReportMetric(float64(putTime.Microseconds())/float64(b.N), "put-µs/call")
	b.ReportMetric(float64(putTime)/float64(bareTime), "ratio-vs-bare")
}
