package main

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mcp-sync/mcp-sync/cli"
)

// TestPeersSmoke runs `mcp-sync-bench peers` with tiny settings so the
// harness and the peers cannot rot: every scenario must give every server a
// figure. The TypeScript peer runs when node and npm are on PATH (in CI,
// CI=true, it must); its packages are installed with npm ci on demand. The
// figures of so short a run mean nothing.
func TestPeersSmoke(t *testing.T) {
	if testing.Short() {
		t.Skip("starts servers")
	}
	benchBinary = labBinary(t)
	defer func() { benchBinary = "" }()
	wantTS := os.Getenv("CI") == "true"
	if !wantTS {
		_, errNode := exec.LookPath("node")
		_, errNpm := exec.LookPath("npm")
		wantTS = errNode == nil && errNpm == nil
		if !wantTS {
			t.Log("node or npm not on PATH: the TypeScript peer is left out (CI=true would fail instead)")
		}
	}
	if wantTS {
		// Installing the peer compiles better-sqlite3 from source where no
		// prebuilt binary can be fetched: minutes on a loaded machine, so it
		// gets a budget of its own, apart from the run's.
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
		skip, err := tsPeerReady(ctx, "../../testdata/peers/ts-sqlite", os.Getenv("CI") == "true")
		cancel()
		if err != nil {
			t.Fatalf("installing the TypeScript peer: %v", err)
		}
		if skip != "" {
			t.Fatalf("the TypeScript peer cannot run: %s", skip)
		}
	}
	code, out, errOut := runCmdTimeout(t, 5*time.Minute, map[string]string{"CI": os.Getenv("CI")}, "peers", "--ts-dir", "../../testdata/peers/ts-sqlite",
		"--rounds", "2", "--duration", "200ms", "--sessions", "2", "--subscribers", "3", "--chunks", "10",
		"--answers", "10,20", "--rows", "1500", "--json")
	if code != cli.ExitOK {
		t.Fatalf("peers exited %d\n%s\n%s", code, out, errOut)
	}
	var rep peersReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("peers --json printed no report: %v\n%s", err, out)
	}
	servers := []string{"mcp-sync", goPeerName}
	if wantTS {
		servers = append(servers, tsPeerName)
	}
	servers = append(servers, barePeerName)
	if strings.Join(rep.Servers, ",") != strings.Join(servers, ",") {
		t.Fatalf("servers %q, want %q (skipped: %v)", rep.Servers, servers, rep.Skipped)
	}
	if len(rep.Scenarios) != 8 {
		t.Fatalf("%d scenarios, want 8: %+v", len(rep.Scenarios), rep.Scenarios)
	}
	for _, sc := range rep.Scenarios {
		if len(sc.Figures) < len(servers)-1 {
			t.Errorf("%s: %d figures for %d servers", sc.Name, len(sc.Figures), len(servers))
		}
		for _, f := range sc.Figures {
			if f.Value <= 0 || f.Ratio <= 0 {
				t.Errorf("%s: %s measured %v (ratio %v)", sc.Name, f.Server, f.Value, f.Ratio)
			}
		}
	}
}

// TestTSPeerWithoutNode: without node on PATH the TypeScript peer is left
// out with the reason, except in CI, which must measure it.
func TestTSPeerWithoutNode(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	skip, err := tsPeerReady(t.Context(), "../../testdata/peers/ts-sqlite", false)
	if err != nil || !strings.Contains(skip, "node not found") {
		t.Errorf("outside CI: skip %q, err %v; want a skip naming node", skip, err)
	}
	skip, err = tsPeerReady(t.Context(), "../../testdata/peers/ts-sqlite", true)
	if err == nil || skip != "" || !strings.Contains(err.Error(), "CI") {
		t.Errorf("in CI: skip %q, err %v; want an error, not a skip", skip, err)
	}
}

// TestPeersMarkdown: the README's table has a column a server, a server's
// several figures in its cell, labels every column shares in the
// scenario's name, and a ratio beside every figure but mcp-sync's own.
func TestPeersMarkdown(t *testing.T) {
	rep := peersReport{Servers: []string{"mcp-sync", goPeerName, barePeerName}, Scenarios: []peerScenario{
		{Name: "writes", Unit: "calls/s", Figures: []peerFigure{
			{Server: "mcp-sync", Value: 3967.4, Ratio: 1, Note: "p50 0.63 ms"}, {Server: goPeerName, Value: 1560, Ratio: 0.3932},
			{Server: barePeerName, Value: 12.345, Ratio: 0.0031}}},
		{Name: "stream", Unit: "ms p50 / p99", Figures: []peerFigure{
			{Server: "mcp-sync (plain notices)", Value: 3.96, P99: 20.1, Ratio: 1},
			{Server: "mcp-sync (changes in notices)", Value: 21.8, P99: 242, Ratio: 5.5},
			{Server: goPeerName, Value: 3.98, P99: 25.9, Ratio: 1.03}}},
		{Name: "answer", Unit: "MB", Figures: []peerFigure{
			{Server: "mcp-sync, 500 chunks", Value: 72, Ratio: 1}, {Server: goPeerName + ", 500 chunks", Value: 25, Ratio: 0.35},
			{Server: barePeerName + ", 500 chunks", Value: 28, Ratio: 0.39},
			{Server: "mcp-sync, 1,000 chunks", Value: 174, Ratio: 1}, {Server: goPeerName + ", 1,000 chunks", Value: 69, Ratio: 0.4},
			{Server: barePeerName + ", 1,000 chunks", Value: 70, Ratio: 0.4}}},
	}}
	var b strings.Builder
	printPeersMarkdown(&b, rep)
	want := `| scenario | mcp-sync | Go SDK + bbolt | bare bbolt |
|---|---|---|---|
| writes (calls/s) | 3,967, p50 0.63 ms | 1,560 (0.39×) | 12.3 (0.00×) |
| stream (ms p50 / p99) | plain notices 3.96 / 20.1; changes in notices 21.8 / 242 (5.50×) | 3.98 / 25.9 (1.03×) |  |
| answer, 500 chunks / 1,000 chunks (MB) | 72.0 / 174 | 25.0 (0.35×) / 69.0 (0.40×) | 28.0 (0.39×) / 70.0 (0.40×) |
`
	if b.String() != want {
		t.Errorf("got\n%s\nwant\n%s", b.String(), want)
	}
}

// TestStdioPeerStartFailure: a server that cannot start over stdio fails
// the run with its own words (its stderr), and nothing is left running.
func TestStdioPeerStartFailure(t *testing.T) {
	if testing.Short() {
		t.Skip("starts servers")
	}
	benchBinary = labBinary(t)
	defer func() { benchBinary = "" }()
	missing := filepath.Join(t.TempDir(), "no-such-dir")
	ts, err := startStdioPeers(t.Context(), peersConfig{}, missing, "stdio")
	if err == nil {
		stopPeers(ts)
		t.Fatal("the servers started on a directory that does not exist")
	}
	if !strings.Contains(err.Error(), "starting mcp-sync over stdio") || !strings.Contains(err.Error(), "does not exist") {
		t.Errorf("the error does not name the server and say, in its words, what failed: %v", err)
	}
}

// TestPeersVariant: --variant adds an mcp-sync server of its own, with the
// environment it names, measured beside the others; a malformed one is a
// usage error.
func TestPeersVariant(t *testing.T) {
	if testing.Short() {
		t.Skip("starts servers")
	}
	benchBinary = labBinary(t)
	defer func() { benchBinary = "" }()
	code, out, errOut := runCmdTimeout(t, 2*time.Minute, nil, "peers", "--only", "writes", "--no-ts",
		"--rounds", "1", "--duration", "200ms", "--sessions", "2", "--variant", "GOGC=100", "--json")
	if code != cli.ExitOK {
		t.Fatalf("peers exited %d\n%s\n%s", code, out, errOut)
	}
	var rep peersReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("peers --json printed no report: %v\n%s", err, out)
	}
	if want := []string{"mcp-sync", "mcp-sync GOGC=100", goPeerName, barePeerName}; strings.Join(rep.Servers, ",") != strings.Join(want, ",") {
		t.Fatalf("servers %q, want %q", rep.Servers, want)
	}
	if f := rep.Scenarios[0].Figures[1]; f.Server != "mcp-sync GOGC=100" || f.Value <= 0 || !strings.Contains(f.Note, "server CPU") {
		t.Errorf("the variant's figure: %+v", f)
	}
	if code, _, errOut := runCmdTimeout(t, time.Minute, nil, "peers", "--variant", "GOGC"); code != cli.ExitUsage || !strings.Contains(errOut, "not NAME=VALUE") {
		t.Errorf("--variant GOGC: exit %d, %q; want a usage error", code, errOut)
	}
}
