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
	// Redacted is set on a run of a sensitive action as clients see it:
	// its Input and Output are left out.
	Redacted bool `json:"redacted,omitempty"`
	// Caller is who called the mutator that enqueued the run, or started
	// it as a task (nil for server code); the run's action runs as it (see
	// [IdentityFrom]).
	Caller *Identity `json:"caller,omitempty"`
	// Task is set on a run started by [Engine.StartRun] (an MCP task)
	// rather than enqueued by a mutator.
	Task bool `json:"task,omitempty"`
	// ErrorKind says how a failed run failed: RunErrorHandler or
	// RunErrorInternal ("" on runs recorded before it existed, and on
	// cancelled ones).
	ErrorKind string `json:"errorKind,omitempty"`
	// CancelRequested records that [Engine.CancelRun] asked the run to stop;
	// Cancelled, on a failed run, that it ended so.
	CancelRequested bool `json:"cancelRequested,omitempty"`
	Cancelled       bool `json:"cancelled,omitempty"`
	// InputRequests are a task run's questions for its client still
	// unanswered (see [ActionCtx.Ask]), by key; InputResponses the answers
	// received ([Engine.AnswerRun]), kept so that a run started again after
	// a stop finds them. ClientCaps are the capabilities the client that
	// started the task declared (CapElicitation, …).
	InputRequests  map[string]InputRequest    `json:"inputRequests,omitempty"`
	InputResponses map[string]json.RawMessage `json:"inputResponses,omitempty"`
	ClientCaps     []string                   `json:"clientCaps,omitempty"`
}

// UpdatedAt is when the run last changed status.
func (r *Run) UpdatedAt() time.Time {
	switch {
	case r.FinishedAt != nil:
		return *r.FinishedAt
	case r.StartedAt != nil:
		return *r.StartedAt
	}
	return r.EnqueuedAt
}

// Done reports whether the run has finished, successfully or not.
func (r *Run) Done() bool { return r.Status == RunSucceeded || r.Status == RunFailed }

func putRun(tx *storage.WriteTx, r *Run) error { return putRunEntry(tx, r, queueEntry{}) }

// putRunEntry records r, and, while it is unfinished, its work-list entry
// ent (who holds it, on a shared store).
func putRunEntry(tx *storage.WriteTx, r *Run, ent queueEntry) error {
	data, err := json.Marshal(r)
	if err != nil {
		return err
	}
	if err := tx.Put(RunsTable, r.ID, data); err != nil {
		return err
	}
	if r.Done() {
		if r.Task {
			if err := tx.Delete(tasksTable, taskKey(r)); err != nil {
				return err
			}
		}
		return tx.Delete(queueTable, r.ID)
	}
	return tx.Put(queueTable, r.ID, ent.encode())
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
	fails   map[string]int  // runs whose start failed: how many times in a row
	damaged map[string]bool // runs whose record failed its checksum: not dispatched again
}

func newWorkQueue() *workQueue {
	return &workQueue{wake: make(chan struct{}, 1), pending: make(map[string]bool), fails: make(map[string]int), damaged: make(map[string]bool)}
}

func (q *workQueue) push(id string) {
	q.mu.Lock()
	if !q.pending[id] && !q.damaged[id] {
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

// busy reports whether any run is queued here or running.
func (q *workQueue) busy() bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.pending) > 0
}

func (q *workQueue) done(id string) {
	q.mu.Lock()
	delete(q.pending, id)
	q.mu.Unlock()
}

// failed counts one more failed start of id and returns the count.
func (q *workQueue) failed(id string) int {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.fails[id]++
	return q.fails[id]
}

// markDamaged keeps id from being dispatched again by this engine: its
// record failed its checksum, and no retry can change that.
func (q *workQueue) markDamaged(id string) {
	q.mu.Lock()
	q.damaged[id] = true
	delete(q.fails, id)
	q.mu.Unlock()
}

func (q *workQueue) started(id string) {
	q.mu.Lock()
	delete(q.fails, id)
	q.mu.Unlock()
}

// outcome is what a worker does with a run after an attempt.
type outcome int

const (
	finished   outcome = iota // done, or left for the next Open (shutdown)
	retryDue                  // a retry is recorded: dispatch it when due
	notStarted                // storage failed before the attempt: try again soon
)

// worker runs queued runs until the engine closes.
func (e *Engine) worker() {
	defer e.wg.Done()
	for {
		id, ok := e.work.pop(e.ctx)
		if !ok {
			return
		}
		next := finished
		if !e.shared || e.claimable(id) {
			next = e.attempt(id)
		}
		e.work.done(id) // before rescheduling, or the push would be taken for a duplicate
		switch next {
		case retryDue:
			e.schedule(id)
		case notStarted:
			e.startLater(id)
		}
	}
}

// recoverRuns dispatches every unfinished run recorded in the file: those
// enqueued but not started, waiting for a retry, or cut off mid-run by a stop.
func (e *Engine) recoverRuns() error {
	err := e.queuePages(func(_ *storage.ReadTx, kvs []storage.KV) ([]string, error) {
		ids := make([]string, len(kvs))
		for i, kv := range kvs {
			ids[i] = kv.Key
		}
		return ids, nil
	}, e.schedule)
	if err != nil {
		return fmt.Errorf("backend: reading the action queue: %w", err)
	}
	return nil
}

// queuePages reads the work list a page at a time, each page in a read
// transaction of its own so that no reader holds one over the whole queue,
// and passes the ids pick chose from a page to do once that transaction has
// ended (do may read or write the store).
func (e *Engine) queuePages(pick func(tx *storage.ReadTx, kvs []storage.KV) ([]string, error), do func(id string)) error {
	after := ""
	for {
		var ids []string
		var next string
		err := e.store.View(func(tx *storage.ReadTx) error {
			kvs, n, err := tx.Scan(queueTable, storage.ScanOptions{After: after, Limit: storage.MaxScanLimit})
			if err != nil {
				return err
			}
			next = n
			ids, err = pick(tx, kvs)
			return err
		})
		if err != nil {
			return err
		}
		for _, id := range ids {
			do(id)
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
	if err != nil {
		if !e.runDamaged(id, err) {
			e.log.Error("action run cannot be read; retrying", "run", id, "err", err)
			e.startLater(id)
		}
		return
	}
	if run == nil {
		return
	}
	if run.NextAttemptAt != nil {
		if wait := time.Until(*run.NextAttemptAt); wait > 0 {
			e.pushAfter(id, wait)
			return
		}
	}
	e.work.push(id)
}

// runDamaged reports whether err says that run id's stored record failed
// its checksum, and if so logs it and keeps the run from being dispatched
// again: retrying cannot mend the file, and a retry a minute would log it
// forever. The run stays queued in the file; the next Open meets it again.
// Other failures to read or start it (a full disk; a record that does not
// decode, which only a write around the engine makes) are retried.
func (e *Engine) runDamaged(id string, err error) bool {
	var damaged *storage.CorruptError
	if !errors.As(err, &damaged) {
		return false
	}
	e.work.markDamaged(id)
	e.log.Error("an action run's stored record is damaged: the run is not started (restore the data file from a backup; `mcp-sync check` lists the damage)",
		"run", id, "problem", damaged.Problem)
	return true
}

// startLater dispatches a run whose start failed on a storage error (a full
// disk, say) again after a backoff that doubles with each failure in a row,
// up to a minute, so that it starts once storage recovers rather than at the
// next Open.
func (e *Engine) startLater(id string) {
	n := e.work.failed(id)
	e.pushAfter(id, min(e.opts.RetryBackoff<<min(n-1, 16), time.Minute))
}

// pushAfter dispatches id after wait, unless the engine closes first.
func (e *Engine) pushAfter(id string, wait time.Duration) {
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
}

// attempt runs one attempt of a run and records the outcome.
func (e *Engine) attempt(id string) outcome {
	var run *Run
	var failed *failedRun
	// Each attempt has its own context, so that CancelRun can end it. It is
	// registered before the run is marked running: a CancelRun that sees
	// it running finds it.
	ctx, cancel := context.WithCancel(e.ctx)
	e.running.Store(id, cancel)
	defer func() {
		e.running.Delete(id)
		cancel()
	}()
	claimAt, wroteLease := time.Now(), false
	_, err := e.update(withRunCause(e.ctx, id, ""), func(tx *storage.WriteTx) error {
		run, failed, wroteLease = nil, nil, false
		r, ok, err := getRun(tx, id)
		if err != nil || !ok || r.Done() {
			return err
		}
		if e.shared {
			if err := e.checkClaim(tx, id); err != nil {
				return err
			}
			if r.NextAttemptAt != nil && r.NextAttemptAt.After(time.Now()) {
				return errNotDue // taken over while waiting for a retry
			}
			if wroteLease, err = e.leaseInClaim(tx, claimAt); err != nil {
				return err
			}
		}
		if r.CancelRequested {
			// Cancelled while running, and cut off by a stop before it ended.
			now := time.Now().UTC()
			r.Status, r.FinishedAt, r.NextAttemptAt = RunFailed, &now, nil
			r.Cancelled, r.Error, r.ErrorKind = true, cancelledError, ""
			failed, err = e.recordFailed(tx, r)
			return err
		}
		if r.Attempts >= e.opts.MaxAttempts {
			// The process stopped during the last allowed attempt.
			now := time.Now().UTC()
			r.Status, r.FinishedAt, r.NextAttemptAt = RunFailed, &now, nil
			r.Error = fmt.Sprintf("gave up after %d attempts (the last was cut off by a stop)", r.Attempts)
			r.ErrorKind = RunErrorInternal
			failed, err = e.recordFailed(tx, r)
			return err
		}
		now := time.Now().UTC()
		r.Status, r.StartedAt, r.NextAttemptAt = RunRunning, &now, nil
		r.Attempts++
		r.InputRequests = nil // the attempt asks again
		run = r
		return putRunEntry(tx, r, queueEntry{Owner: e.self})
	})
	if err != nil {
		switch {
		case errors.Is(err, storage.ErrClosed) || e.ctx.Err() != nil || errors.Is(err, errTaken):
			return finished
		case errors.Is(err, errNotDue):
			return retryDue
		case e.runDamaged(id, err):
			return finished
		}
		e.log.Error("action run could not start; retrying", "run", id, "err", err)
		return notStarted
	}
	e.work.started(id)
	if e.shared {
		e.claimed(claimAt, wroteLease)
	}
	e.committed(failed)
	if run == nil {
		return finished
	}
	actx := ctx
	if run.Caller != nil {
		actx = WithIdentity(ctx, *run.Caller)
	}
	if run.Task {
		actx = WithAsker(actx, &runAsker{e: e, id: id, caps: run.ClientCaps})
	}
	out, err := e.act(actx, run.Action, run.Input, id)
	e.inputWake.Delete(id)
	run.InputRequests = nil
	cancelled := ctx.Err() != nil
	if e.ctx.Err() != nil {
		// Shutting down: leave the run as running, so the next Open runs it
		// again rather than recording a failure the action did not cause.
		e.log.Info("action run interrupted by shutdown; it runs again on the next start", "run", id)
		return finished
	}
	now := time.Now().UTC()
	switch {
	case cancelled && err != nil:
		run.Status, run.Error, run.FinishedAt, run.NextAttemptAt = RunFailed, cancelledError, &now, nil
		run.Cancelled, run.CancelRequested, run.ErrorKind = true, true, ""
	case err == nil:
		run.Status, run.Output, run.Error, run.ErrorKind, run.FinishedAt = RunSucceeded, out, "", "", &now
	case IsRetryable(err) && run.Attempts < e.opts.MaxAttempts:
		backoff := min(e.opts.RetryBackoff<<(run.Attempts-1), time.Minute)
		at := now.Add(backoff)
		run.Status, run.Error, run.NextAttemptAt = RunQueued, err.Error(), &at
		e.log.Warn("action run failed; retrying", "run", id, "action", run.Action, "attempt", run.Attempts, "in", backoff, "err", err)
	default:
		run.Status, run.Error, run.ErrorKind, run.FinishedAt = RunFailed, err.Error(), runErrorKind(err), &now
	}
	if !e.recordOutcome(run) {
		return finished
	}
	if run.Status == RunQueued {
		return retryDue
	}
	return finished
}

// dispatch hands runs enqueued by a committed transaction to the workers.
func (e *Engine) dispatch(ids []string) {
	for _, id := range ids {
		e.work.push(id)
	}
}
