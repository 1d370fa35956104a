package backend_test

import (
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mcp-sync/mcp-sync/backend"
	"github.com/mcp-sync/mcp-sync/schema"
)

// BatchIn asks the batch mutator for N runs.
type BatchIn struct {
	N int `json:"n"`
}

// CountIn numbers one run of note.
type CountIn struct {
	I int `json:"i"`
}

// TestRecoveryReadsTheWholeQueue: runs left queued when an engine closes
// are all dispatched, once each, by the next engine on the file, though
// they fill more than one page of the queue (recoverRuns reads it a page
// of storage.MaxScanLimit at a time).
func TestRecoveryReadsTheWholeQueue(t *testing.T) {
	const n = 1500 // a page and a half
	batch := schema.Mutator[BatchIn]("batch", "Enqueue n runs of note")
	note := schema.Action[CountIn, CountIn]("note", "Count a run")
	var ran atomic.Int64
	cfg := backend.Config{
		Schema: schema.MustDefine(1, batch, note),
		Mutators: []backend.MutatorImpl{backend.Mutator(batch, func(ctx *backend.MutatorCtx, in BatchIn) error {
			for i := range in.N {
				if _, err := backend.Enqueue(ctx, note, CountIn{I: i}); err != nil {
					return err
				}
			}
			return nil
		})},
		Actions: []backend.ActionImpl{backend.Action(note, func(_ *backend.ActionCtx, in CountIn) (CountIn, error) {
			ran.Add(1)
			return in, nil
		})},
	}
	path := filepath.Join(t.TempDir(), "queue.db")

	// An engine that runs nothing leaves every run queued.
	e := open(t, cfg, path, func(o *backend.Options) { o.NoRuns = true })
	m, err := e.Mutate(t.Context(), "batch", mustJSON(BatchIn{N: n}))
	if err != nil || len(m.Runs) != n {
		t.Fatalf("batch: %d runs, %v", len(m.Runs), err)
	}
	e.Close()
	if got := ran.Load(); got != 0 {
		t.Fatalf("%d runs ran on an engine with NoRuns", got)
	}

	e = open(t, cfg, path)
	deadline := time.Now().Add(60 * time.Second)
	for ran.Load() < n && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(100 * time.Millisecond) // a run dispatched twice would run now
	if got := ran.Load(); got != n {
		t.Fatalf("%d runs ran after reopening, want %d", got, n)
	}
	last, ok, err := e.Run(t.Context(), m.Runs[n-1])
	if err != nil || !ok || last.Status != backend.RunSucceeded {
		t.Errorf("the last run: %+v %v %v", last, ok, err)
	}
}
