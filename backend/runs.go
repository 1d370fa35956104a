package backend

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/mcp-sync/mcp-sync/storage"
)

// Internal tables. Their names cannot collide with declared ones: schema
// names allow no '.'.
const (
	// RunsTable holds every enqueued action run, keyed by run id. It can be
	// read and subscribed to like a table through the engine's run methods.
	RunsTable  = ".runs"
	queueTable = ".queue" // ids of runs not yet finished: the work list
)

// RunStatus is where an enqueued action run stands.
type RunStatus string

// The statuses of a run, in order.
const (
	RunQueued    RunStatus = "queued"
	RunRunning   RunStatus = "running"
	RunSucceeded RunStatus = "succeeded"
	RunFailed    RunStatus = "failed"
)

// Run records one enqueued action: what to run, and how it went.
type Run struct {
	ID            string          `json:"id"`
	Action        string          `json:"action"`
	Input         json.RawMessage `json:"input"`
	Status        RunStatus       `json:"status"`
	Attempts      int             `json:"attempts"`
	Output        json.RawMessage `json:"output,omitempty"`
	Error         string          `json:"error,omitempty"`
	EnqueuedBy    string          `json:"enqueuedBy"` // the mutator
	Version       uint64          `json:"version"`    // the version that enqueued it
	EnqueuedAt    time.Time       `json:"enqueuedAt"`
	StartedAt     *time.Time      `json:"startedAt,omitempty"`
	FinishedAt    *time.Time      `json:"finishedAt,omitempty"`
	NextAttemptAt *time.Time      `json:"nextAttemptAt,omitempty"`
}

// Done reports whether the run has finished, successfully or not.
func (r *Run) Done() bool { return r.Status == RunSucceeded || r.Status == RunFailed }

func putRun(tx *storage.WriteTx, r *Run) error {
	data, err := json.Marshal(r)
	if err != nil {
		return err
	}
	if err := tx.Put(RunsTable, r.ID, data); err != nil {
		return err
	}
	if r.Done() {
		return tx.Delete(queueTable, r.ID)
	}
	return tx.Put(queueTable, r.ID, []byte("{}"))
}

func getRun(r reader, id string) (*Run, bool, error) {
	data, ok, err := r.Get(RunsTable, id)
	if err != nil || !ok {
		return nil, ok, err
	}
	var run Run
	if err := json.Unmarshal(data, &run); err != nil {
		return nil, true, fmt.Errorf("run %s: decode: %w", id, err)
	}
	return &run, true, nil
}

// workQueue is the in-memory list of run ids ready to start. It is unbounded
// so that dispatching after a commit never blocks the committer; the
// durable list is queueTable.
type workQueue struct {
	mu      sync.Mutex
	ids     []string
	wake    chan struct{}
	pending map[string]bool // queued in memory or running: no double dispatch
}

func newWorkQueue() *workQueue {
	return &workQueue{wake: make(chan struct{}, 1), pending: make(map[string]bool)}
}

func (q *workQueue) push(id string) {
	q.mu.Lock()
	if !q.pending[id] {
		q.pending[id] = true
		q.ids = append(q.ids, id)
	}
	q.mu.Unlock()
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

func (q *workQueue) pop(ctx context.Context) (string, bool) {
	for {
		q.mu.Lock()
		if len(q.ids) > 0 {
			id := q.ids[0]
			q.ids = q.ids[1:]
			more := len(q.ids) > 0
			q.mu.Unlock()
			if more { // pass the wake-up on to another worker
				select {
				case q.wake <- struct{}{}:
				default:
				}
			}
			return id, true
		}
		q.mu.Unlock()
		select {
		case <-ctx.Done():
			return "", false
		case <-q.wake:
		}
	}
}

func (q *workQueue) done(id string) {
	q.mu.Lock()
	delete(q.pending, id)
	q.mu.Unlock()
}

// worker runs queued runs until the engine closes.
func (e *Engine) worker() {
	defer e.wg.Done()
	for {
		id, ok := e.work.pop(e.ctx)
		if !ok {
			return
		}
		again := e.attempt(id)
		e.work.done(id) // before rescheduling, or the push would be taken for a duplicate
		if again {
			e.schedule(id)
		}
	}
}

// recover dispatches every unfinished run recorded in the file: those
// enqueued but not started, waiting for a retry, or cut off mid-run by a stop.
func (e *Engine) recoverRuns() error {
	after := ""
	for {
		var ids []string
		var next string
		err := e.store.View(func(tx *storage.ReadTx) error {
			kvs, n, err := tx.Scan(queueTable, storage.ScanOptions{After: after, Limit: 1000})
			for _, kv := range kvs {
				ids = append(ids, kv.Key)
			}
			next = n
			return err
		})
		if err != nil {
			return fmt.Errorf("backend: reading the action queue: %w", err)
		}
		for _, id := range ids {
			e.schedule(id)
		}
		if next == "" {
			return nil
		}
		after = next
	}
}

// schedule dispatches a run now, or when its retry is due.
func (e *Engine) schedule(id string) {
	var run *Run
	err := e.store.View(func(tx *storage.ReadTx) error {
		var err error
		run, _, err = getRun(tx, id)
		return err
	})
	if err != nil || run == nil {
		e.log.Error("action run cannot be read; it stays queued", "run", id, "err", err)
		return
	}
	if run.NextAttemptAt != nil {
		if wait := time.Until(*run.NextAttemptAt); wait > 0 {
			e.wg.Add(1)
			go func() {
				defer e.wg.Done()
				t := time.NewTimer(wait)
				defer t.Stop()
				select {
				case <-t.C:
					e.work.push(id)
				case <-e.ctx.Done():
				}
			}()
			return
		}
	}
	e.work.push(id)
}

// attempt runs one attempt of a run and records the outcome. It reports
// whether the run is due another attempt.
func (e *Engine) attempt(id string) bool {
	var run *Run
	_, err := e.store.Update(e.ctx, func(tx *storage.WriteTx) error {
		r, ok, err := getRun(tx, id)
		if err != nil || !ok || r.Done() {
			run = nil
			return err
		}
		if r.Attempts >= e.opts.MaxAttempts {
			// The process stopped during the last allowed attempt.
			now := time.Now().UTC()
			r.Status, r.FinishedAt, r.NextAttemptAt = RunFailed, &now, nil
			r.Error = fmt.Sprintf("gave up after %d attempts (the last was cut off by a stop)", r.Attempts)
			return putRun(tx, r)
		}
		now := time.Now().UTC()
		r.Status, r.StartedAt, r.NextAttemptAt = RunRunning, &now, nil
		r.Attempts++
		run = r
		return putRun(tx, r)
	})
	if err != nil {
		if !errors.Is(err, storage.ErrClosed) && e.ctx.Err() == nil {
			e.log.Error("action run could not start; it stays queued", "run", id, "err", err)
		}
		return false
	}
	if run == nil {
		return false
	}
	out, err := e.act(e.ctx, run.Action, run.Input, id)
	if e.ctx.Err() != nil {
		// Shutting down: leave the run as running, so the next Open runs it
		// again rather than recording a failure the action did not cause.
		e.log.Info("action run interrupted by shutdown; it runs again on the next start", "run", id)
		return false
	}
	now := time.Now().UTC()
	switch {
	case err == nil:
		run.Status, run.Output, run.Error, run.FinishedAt = RunSucceeded, out, "", &now
	case IsRetryable(err) && run.Attempts < e.opts.MaxAttempts:
		backoff := min(e.opts.RetryBackoff<<(run.Attempts-1), time.Minute)
		at := now.Add(backoff)
		run.Status, run.Error, run.NextAttemptAt = RunQueued, err.Error(), &at
		e.log.Warn("action run failed; retrying", "run", id, "action", run.Action, "attempt", run.Attempts, "in", backoff, "err", err)
	default:
		run.Status, run.Error, run.FinishedAt = RunFailed, err.Error(), &now
		e.log.Warn("action run failed", "run", id, "action", run.Action, "attempts", run.Attempts, "err", err)
	}
	if _, err := e.store.Update(context.Background(), func(tx *storage.WriteTx) error { return putRun(tx, run) }); err != nil {
		e.log.Error("recording an action run's outcome failed; it runs again on the next start", "run", id, "err", err)
		return false
	}
	return run.Status == RunQueued
}
