package main

import (
	"encoding/json"
	"os"
	"os/exec"
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
