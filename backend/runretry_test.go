package backend_test

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mcp-sync/mcp-sync/backend"
	"github.com/mcp-sync/mcp-sync/storage"
	"github.com/mcp-sync/mcp-sync/storage/bolt"
)

func TestAFailedRunRunsItsFailureHandler(t *testing.T) {
	e, _, logs := openJobApp(t, filepath.Join(t.TempDir(), "h.db"))
	m, err := e.Mutate(t.Context(), "startJob", mustJSON(JobIn{ID: "f", Mode: "fail"}))
	runs := m.Runs
	if err != nil {
		t.Fatal(err)
	}
	run := waitRun(t, e, runs[0])
	if n := noteOf(t, e, "f"); run.Status != backend.RunFailed || n.Status != "error" || !strings.Contains(n.Text, "the upstream said no") {
		t.Errorf("run %+v left note %+v, want status error with the message", run, n)
	}
	waitFailureLogged(t, logs, 1)
}

// TestARunInterruptedTooOftenFails stops the engine during each of the three
// allowed attempts; the fourth Open marks the run failed, runs the failure
// handler and logs it.
func TestARunInterruptedTooOftenFails(t *testing.T) {
	path := filepath.Join(t.TempDir(), "h.db")
	var id string
	for i := range 3 {
		e, app, _ := openJobApp(t, path)
		if i == 0 {
			m, err := e.Mutate(t.Context(), "startJob", mustJSON(JobIn{ID: "i", Mode: "block"}))
			runs := m.Runs
			if err != nil {
				t.Fatal(err)
			}
			id = runs[0]
		}
		select {
		case <-app.started:
		case <-time.After(30 * time.Second):
			t.Fatalf("open %d: the run did not start", i+1)
		}
		e.Close()
	}
	e, _, logs := openJobApp(t, path)
	run := waitRun(t, e, id)
	if n := noteOf(t, e, "i"); run.Status != backend.RunFailed || run.Attempts != 3 || n.Status != "error" || !strings.Contains(n.Text, "gave up after 3 attempts") {
		t.Errorf("run %+v left note %+v, want failed after 3 attempts and the note in error", run, n)
	}
	waitFailureLogged(t, logs, 1)
}

// TestARunThatCannotStartIsRetried damages a queued run's record, so that
// starting it fails in storage (as a full disk would fail the start's
// commit), then repairs it: the run must start in the same process, without
// another Open.
func TestARunThatCannotStartIsRetried(t *testing.T) {
	path := filepath.Join(t.TempDir(), "h.db")
	e, app, _ := openJobApp(t, path)
	m, err := e.Mutate(t.Context(), "startJob", mustJSON(JobIn{ID: "r", Mode: "block"}))
	runs := m.Runs
	if err != nil {
		t.Fatal(err)
	}
	<-app.started // attempt 1 runs; the stop leaves it to the next Open
	e.Close()

	st, err := bolt.OpenStore(path, bolt.Options{SchemaVersion: 1, Tables: []string{backend.RunsTable}})
	if err != nil {
		t.Fatal(err)
	}
	var good []byte
	_, err = st.Update(t.Context(), func(tx *storage.WriteTx) error {
		good, _, err = tx.Get(backend.RunsTable, runs[0])
		if err != nil {
			return err
		}
		good = bytes.Replace(good, []byte(`"mode":"block"`), []byte(`"mode":"ok"`), 1)
		return tx.Put(backend.RunsTable, runs[0], []byte(`{"damaged":`))
	})
	if err != nil {
		t.Fatal(err)
	}
	st.Close()

	e, _, logs := openJobApp(t, path)
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(logs.String(), "retrying") {
		if time.Now().After(deadline) {
			t.Fatalf("no retry was logged:\n%s", logs)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if _, err := backend.StoreOf(e).Update(t.Context(), func(tx *storage.WriteTx) error {
		return tx.Put(backend.RunsTable, runs[0], good)
	}); err != nil {
		t.Fatal(err)
	}
	run := waitRun(t, e, runs[0])
	if run.Status != backend.RunSucceeded {
		t.Errorf("run = %+v, want it started again in-process and succeeded", run)
	}
}

// TestAStartCommitThatFailsIsRetried: with the only worker busy, a second
// run is dispatched and its record damaged before the worker reaches it, so
// the commit that starts it fails (as on a full disk); once the record is
// repaired the run starts in the same process.
func TestAStartCommitThatFailsIsRetried(t *testing.T) {
	e, app, logs := openJobApp(t, filepath.Join(t.TempDir(), "h.db"), func(o *backend.Options) { o.Workers = 1 })
	if _, err := e.Mutate(t.Context(), "startJob", mustJSON(JobIn{ID: "first", Mode: "gate"})); err != nil {
		t.Fatal(err)
	}
	<-app.started // the only worker is busy
	m, err := e.Mutate(t.Context(), "startJob", mustJSON(JobIn{ID: "second"}))
	runs := m.Runs
	if err != nil {
		t.Fatal(err)
	}
	var good []byte
	if _, err := backend.StoreOf(e).Update(t.Context(), func(tx *storage.WriteTx) error {
		good, _, err = tx.Get(backend.RunsTable, runs[0])
		if err != nil {
			return err
		}
		return tx.Put(backend.RunsTable, runs[0], []byte(`{"damaged":`))
	}); err != nil {
		t.Fatal(err)
	}
	close(app.gate) // the worker now tries to start the damaged run
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(logs.String(), "could not start; retrying") {
		if time.Now().After(deadline) {
			t.Fatalf("the failed start was not logged:\n%s", logs)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if _, err := backend.StoreOf(e).Update(t.Context(), func(tx *storage.WriteTx) error {
		return tx.Put(backend.RunsTable, runs[0], good)
	}); err != nil {
		t.Fatal(err)
	}
	if run := waitRun(t, e, runs[0]); run.Status != backend.RunSucceeded || run.Attempts != 1 {
		t.Errorf("run = %+v, want it started again in-process and succeeded on attempt 1", run)
	}
}
