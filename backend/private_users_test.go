package backend_test

import (
	"context"
	"strings"
	"testing"

	"github.com/mcp-sync/mcp-sync/backend"
	"github.com/mcp-sync/mcp-sync/internal/drivertest"
)

// TestPrivateServerRunsKeepTheirOwner: a run server code enqueues while
// naming an owner (backend.WithOwner) works on that owner's rows, as a
// caller's run does on the caller's; one enqueued with no owner fails with
// an error that says the table is private, and touches nobody's rows.
func TestPrivateServerRunsKeepTheirOwner(t *testing.T) {
	drivertest.Both(t, func(t *testing.T, drv func(*backend.Options)) {
		e := openPrivate(t, drv)
		mustSave(t, e, as("alice"), "n", "alice's text")
		mustSave(t, e, as("bob"), "n", "bob's text")
		server := context.Background()

		m, err := e.Mutate(backend.WithOwner(server, "alice"), "queueSummary", mustJSON(privKey{Key: "n"}))
		if err != nil || len(m.Runs) != 1 {
			t.Fatalf("queueSummary as server code for alice: %+v, %v", m, err)
		}
		run, ok, err := e.WaitRun(server, m.Runs[0])
		if err != nil || !ok || run.Status != backend.RunSucceeded {
			t.Errorf("the run server code enqueued for alice (backend.WithOwner): %s, %q (%v, %v); want it to summarize her note", run.Status, run.Error, ok, err)
		} else if v, _, _, _ := e.Get(as("alice"), "notes", "n"); !strings.Contains(string(v), `"summary":"summary of alice's text"`) {
			t.Errorf("alice's note after the run: %s", v)
		}
		if v, _, _, _ := e.Get(as("bob"), "notes", "n"); strings.Contains(string(v), "summary") {
			t.Errorf("bob's note after alice's run: %s", v)
		}

		m, err = e.Mutate(server, "queueSummary", mustJSON(privKey{Key: "n"}))
		if err != nil || len(m.Runs) != 1 {
			t.Fatalf("queueSummary as server code naming no owner: %+v, %v", m, err)
		}
		run, ok, err = e.WaitRun(server, m.Runs[0])
		if err != nil || !ok || run.Status != backend.RunFailed || !strings.Contains(run.Error, "private") {
			t.Fatalf("a run with no owner reading a private table: %+v, %v, %v; want it failed saying the table is private", run, ok, err)
		}
		if v, _, _, _ := e.Get(as("bob"), "notes", "n"); strings.Contains(string(v), "summary") {
			t.Errorf("bob's note after the ownerless run: %s", v)
		}
		if _, _, _, err := e.Get(server, "notes", "n"); err == nil || backend.KindOf(err) != backend.ErrForbidden {
			t.Errorf("server code reading a private table naming no owner: %v; want ErrForbidden", err)
		}
	})
}
