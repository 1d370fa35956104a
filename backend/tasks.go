package backend

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"
	"unicode/utf8"

	"github.com/mcp-sync/mcp-sync/storage"
)

// How a failed run failed (Run.ErrorKind). Runs recorded before the field
// existed have none; read them as RunErrorHandler.
const (
	// RunErrorHandler: the action returned an error of its own, meant for
	// its caller.
	RunErrorHandler = "handler"
	// RunErrorInternal: the run failed outside the action's own words: a
	// panic, an output that broke its declared schema, the engine gave up
	// after stops cut it off.
	RunErrorInternal = "internal"
)

// runErrorKind classifies an attempt's error for Run.ErrorKind.
func runErrorKind(err error) string {
	switch KindOf(err) {
	case ErrHandler, ErrInvalidInput, ErrUnknown:
		return RunErrorHandler
	}
	return RunErrorInternal
}

// DefaultMaxTasks is [Options.MaxTasks]'s default.
const DefaultMaxTasks = 64

// tasksTable indexes the unfinished runs started as tasks by caller (see
// taskKey), so that [Options.MaxTasks] is checked with a short prefix scan
// rather than a walk of every queued run. An entry goes when its run
// finishes (putRunEntry).
const tasksTable = ".tasks"

// taskKey is run's entry in tasksTable: a digest of its caller's owner
// (Identity.Owner: a local and a signed-in caller of one name are two;
// bounded whatever its length; "" for server code), then the run id.
func taskKey(run *Run) string { return callerPrefix(run.Caller) + run.ID }

func callerPrefix(caller *Identity) string {
	owner := ""
	if caller != nil {
		owner = caller.Owner()
	}
	sum := sha256.Sum256([]byte(owner))
	return hex.EncodeToString(sum[:16]) + "/"
}

// TaskLimitError refuses a task beyond [Options.MaxTasks]: its caller
// already has that many unfinished. It is retryable: once one of them
// finishes (or is cancelled), the same start succeeds.
type TaskLimitError struct {
	// Max is the limit.
	Max int
}

func (e *TaskLimitError) Error() string {
	return fmt.Sprintf("this caller has reached its limit of %d unfinished tasks (backend.Options.MaxTasks, serve --max-tasks): wait for one to finish, or cancel one, then start this again", e.Max)
}

// Retryable reports true: the same start succeeds once a task finishes.
func (e *TaskLimitError) Retryable() bool { return true }

// checkTaskLimit, inside the transaction starting a task, fails with a
// *TaskLimitError when caller already has Options.MaxTasks unfinished.
func (e *Engine) checkTaskLimit(tx *storage.WriteTx, caller *Identity) error {
	limit := e.opts.MaxTasks
	if limit < 0 {
		return nil
	}
	prefix, after, n := callerPrefix(caller), "", 0
	for {
		kvs, next, err := tx.Scan(tasksTable, storage.ScanOptions{Prefix: prefix, After: after, Limit: min(limit-n+1, storage.MaxScanLimit)})
		if err != nil {
			return err
		}
		if n += len(kvs); n >= limit {
			return &TaskLimitError{Max: limit}
		}
		if next == "" {
			return nil
		}
		after = next
	}
}

// StartRun records a run of the named action with input as a task: a run
// its caller follows by id (Run.Task is set) rather than waiting for. It
// returns once the run is committed, so that reading it by id finds it, and
// the workers run it as they run enqueued ones: durably, surviving a stop.
// The input is checked (and given its defaults) first: an invalid one
// records nothing and fails with an error wrapping ErrInvalidInput. It is
// server code: internal actions are accepted; callers that serve clients
// must refuse them. A public action requiring scopes ctx's caller lacks
// fails with ErrForbidden, as [Engine.Act] does; the run records the
// caller and runs as it. A caller (by subject; server code is one caller)
// with Options.MaxTasks tasks unfinished is refused with a
// *TaskLimitError, and nothing is recorded.
func (e *Engine) StartRun(ctx context.Context, name string, input json.RawMessage) (*Run, error) {
	return e.StartRunAnswered(ctx, name, input, nil)
}

// StartRunAnswered is [Engine.StartRun] for a task whose client answered
// some of its action's input requests before the task began (on
// 2026-07-28, answers to an input_required result that came first): the
// run finds them, by request key, when it asks ([ActionCtx.Ask]), as
// though tasks/update had brought them. Answers that are not JSON objects
// are dropped.
func (e *Engine) StartRunAnswered(ctx context.Context, name string, input json.RawMessage, answers map[string]json.RawMessage) (*Run, error) {
	if _, ok := e.actions[name]; !ok {
		return nil, unknownf("no action named %s", Short(name))
	}
	if e.opts.Replica {
		return nil, fmt.Errorf("action %s: a client replica runs no actions", Short(name))
	}
	info, _ := e.cfg.Schema.Action(name)
	if !info.Internal {
		if err := checkScopes(ctx, "action", name, info.Scopes); err != nil {
			return nil, err
		}
	}
	data, err := e.checkedInput("action", name, info.Input, input)
	if err != nil {
		return nil, err
	}
	var caller *Identity
	if id, ok := IdentityFrom(ctx); ok {
		caller = &id
	}
	var run *Run
	_, err = e.update(ctx, func(tx *storage.WriteTx) error {
		if err := e.checkTaskLimit(tx, caller); err != nil {
			return err
		}
		now := time.Now().UTC()
		run = &Run{ID: newRunID(tx.Version()), Action: name, Input: data, Status: RunQueued,
			Version: tx.Version(), EnqueuedAt: now, Task: true, Caller: caller, ClientCaps: clientCaps(ctx),
			InputResponses: objectsOnly(answers)}
		if err := tx.Put(tasksTable, taskKey(run), []byte("{}")); err != nil {
			return err
		}
		return putRun(tx, run)
	})
	if err != nil {
		var lim *TaskLimitError
		if errors.As(err, &lim) {
			return nil, fmt.Errorf("action %s: %w", Short(name), err)
		}
		if errors.Is(err, storage.ErrClosed) {
			return nil, fmt.Errorf("action %s: %w", Short(name), ErrClosed)
		}
		return nil, e.storageFailure("action "+Short(name)+": record the run", err)
	}
	e.dispatch([]string{run.ID})
	return run, nil
}

// objectsOnly is answers without those that are not JSON objects, or nil.
func objectsOnly(answers map[string]json.RawMessage) map[string]json.RawMessage {
	var out map[string]json.RawMessage
	for k, v := range answers {
		var obj map[string]json.RawMessage
		if json.Unmarshal(v, &obj) != nil || obj == nil {
			continue
		}
		if out == nil {
			out = map[string]json.RawMessage{}
		}
		out[k] = v
	}
	return out
}

// CancelRun asks the run id to stop, and reports whether the run exists.
// A run not yet started (or waiting for a retry) ends cancelled at once; a
// running one has its context cancelled and ends cancelled unless it
// finishes first. The request is recorded, so a run cut off by a stop ends
// cancelled on the next Open rather than running again. A finished run is
// left as it is. It returns the run as recorded after the request. A run
// ctx's caller may not see (see [Engine.Run]) does not exist for it.
func (e *Engine) CancelRun(ctx context.Context, id string) (*Run, bool, error) {
	if id == "" || len(id) > MaxKeyBytes || !utf8.ValidString(id) {
		return nil, false, nil
	}
	var (
		run    *Run
		found  bool
		failed *failedRun
	)
	_, err := e.update(ctx, func(tx *storage.WriteTx) error {
		run, failed = nil, nil
		r, ok, err := getRun(tx, id)
		if err != nil || !ok || !e.runVisible(ctx, r) {
			found = false
			return err
		}
		found, run = true, r
		if r.Done() {
			return nil
		}
		r.CancelRequested = true
		if r.Status == RunRunning {
			// The entry tells the instance running it, if another (lease.go).
			ent, _, err := getEntry(tx, id)
			if err != nil {
				return err
			}
			ent.Cancel = ent.Owner != ""
			return putRunEntry(tx, r, ent)
		}
		now := time.Now().UTC()
		r.Status, r.FinishedAt, r.NextAttemptAt = RunFailed, &now, nil
		r.Cancelled, r.Error, r.ErrorKind = true, cancelledError, ""
		failed, err = e.recordFailed(tx, r)
		return err
	})
	if err != nil {
		if errors.Is(err, storage.ErrClosed) {
			return nil, false, fmt.Errorf("run %s: %w", Short(id), ErrClosed)
		}
		return nil, false, e.storageFailure("run "+Short(id)+": cancel", err)
	}
	e.committed(failed)
	if found && !run.Done() {
		if cancel, ok := e.running.Load(id); ok {
			cancel.(context.CancelFunc)()
		}
	}
	return run, found, nil
}

const cancelledError = "cancelled at the caller's request"

// WaitRun waits until the run id has finished and returns it as a client
// sees it (see [Engine.Run]); ok is false when no such run exists. It
// returns ctx's error when ctx ends first.
func (e *Engine) WaitRun(ctx context.Context, id string) (*Run, bool, error) {
	from := e.Version()
	run, ok, err := e.Run(ctx, id)
	if err != nil || !ok || run.Done() {
		return run, ok, err
	}
	feed, err := e.WatchRun(ctx, id, from)
	if err != nil {
		return nil, false, err
	}
	defer feed.Close()
	for {
		if _, err := feed.Next(ctx); err != nil && !errors.Is(err, ErrResync) {
			return nil, false, err
		}
		if run, ok, err = e.Run(ctx, id); err != nil || !ok || run.Done() {
			return run, ok, err
		}
	}
}

// TaskRuns lists the runs started with [Engine.StartRun], as clients see
// them, in id order (which is the order they were started) after the id
// after, up to limit (at most storage.MaxScanLimit, 1000) of them; next is
// where the next page starts, "" after the last. It scans at most a few
// thousand runs per call, so a page may hold fewer than limit when most
// runs are not tasks.
func (e *Engine) TaskRuns(ctx context.Context, after string, limit int) (runs []*Run, next string, err error) {
	if limit <= 0 || limit > storage.MaxScanLimit {
		limit = storage.MaxScanLimit
	}
	const scanBudget = 5000
	for scanned := 0; scanned < scanBudget; {
		var kvs []storage.KV
		var more string
		err := e.store.View(func(tx *storage.ReadTx) error {
			var err error
			kvs, more, err = tx.Scan(RunsTable, storage.ScanOptions{After: after, Limit: 500})
			return err
		})
		if err != nil {
			return nil, "", e.storageFailure("runs: scan", err)
		}
		for _, kv := range kvs {
			scanned++
			after = kv.Key
			var r Run
			if json.Unmarshal(kv.Value, &r) != nil || !r.Task {
				continue
			}
			if v, ok, err := e.Run(ctx, r.ID); err == nil && ok {
				runs = append(runs, v)
			}
			if len(runs) == limit {
				return runs, after, nil
			}
		}
		if more == "" {
			return runs, "", nil
		}
	}
	return runs, after, nil
}
