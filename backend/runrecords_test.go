package backend_test

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mcp-sync/mcp-sync/backend"
	"github.com/mcp-sync/mcp-sync/storage"
)

func TestRunIDsAreUnguessable(t *testing.T) {
	e, _, _ := openJobApp(t, filepath.Join(t.TempDir(), "h.db"))
	var ids []string
	for i := range 3 {
		m, err := e.Mutate(t.Context(), "startJob", mustJSON(JobIn{ID: fmt.Sprint(i)}))
		runs := m.Runs
		if err != nil || len(runs) != 1 {
			t.Fatal(runs, err)
		}
		ids = append(ids, runs[0])
	}
	for i, id := range ids {
		ver, rnd, ok := strings.Cut(id, "-")
		if !ok || len(ver) != 16 || len(rnd) < 24 { // 24 hex digits: 96 bits
			t.Errorf("run id %q: want <16-digit version>-<at least 24 hex digits>", id)
		}
		if i > 0 && id <= ids[i-1] {
			t.Errorf("run ids do not sort in enqueue order: %v", ids)
		}
	}
}

func TestSensitiveRunsAreRedacted(t *testing.T) {
	e, _, _ := openJobApp(t, filepath.Join(t.TempDir(), "h.db"))
	m, err := e.Mutate(t.Context(), "startSecret", mustJSON(JobIn{ID: "s", Secret: "sk-live-999"}))
	runs := m.Runs
	if err != nil {
		t.Fatal(err)
	}
	run := waitRun(t, e, runs[0])
	b, _ := json.Marshal(run)
	if run.Status != backend.RunSucceeded || strings.Contains(string(b), "sk-live-999") || !run.Redacted {
		t.Errorf("a sensitive run as clients see it: %s", b)
	}
	// The worker had it: the output shows it used the secret, server-side.
	var raw []byte
	_ = backend.StoreOf(e).View(func(tx *storage.ReadTx) error { raw, _, err = tx.Get(backend.RunsTable, runs[0]); return err })
	if !strings.Contains(string(raw), "sk-live-999") {
		t.Errorf("the stored run lacks the input the worker needs: %s", raw)
	}
	m, _ = e.Mutate(t.Context(), "startJob", mustJSON(JobIn{ID: "n"}))
	runs = m.Runs
	if run := waitRun(t, e, runs[0]); run.Redacted || len(run.Input) == 0 {
		t.Errorf("a plain run was redacted: %+v", run)
	}
}
