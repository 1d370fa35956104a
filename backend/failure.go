package backend

import (
	"context"
	"encoding/json"
	"fmt"
	"runtime/debug"

	"github.com/mcp-sync/mcp-sync/storage"
)

// RunFailure tells an action's failure handler (see [OnFailure]) which run
// failed and why.
type RunFailure struct {
	// RunID is the failed run's id.
	RunID string
	// Action is the action's name.
	Action string
	// Error is the run's final error as recorded: the action's own error,
	// or why the engine gave up (attempts used up, interrupted too often).
	Error string
	// Attempts is how many attempts were started.
	Attempts int
}

// ActionOption adjusts an action's implementation; pass it to [Action].
type ActionOption[In any] func(*ActionImpl)

// OnFailure declares the action's failure handler: when an enqueued run of
// the action ends failed, for any reason (a final error, attempts used up,
// a run interrupted by stops too often), fn runs like a mutator, in the same
// transaction that records the run as failed, with the run's typed input.
// Use it so that no row stays "in progress" for good (the todo example sets
// the todo's status to error). If fn fails or panics, its writes are undone,
// the failure is logged, and the run is still recorded as failed. Direct
// calls of an action do not run it: their caller receives the error. fn's
// ctx carries the run's caller (IdentityFrom), who enqueued it.
func OnFailure[In any](fn func(ctx *MutatorCtx, in In, failure RunFailure) error) ActionOption[In] {
	return func(a *ActionImpl) {
		a.onFailure = func(ctx *MutatorCtx, input []byte, f RunFailure) error {
			var in In
			if err := json.Unmarshal(input, &in); err != nil {
				return fmt.Errorf("decode the run's input: %w", err)
			}
			return fn(ctx, in, f)
		}
	}
}

// failedRun is what recordFailed did in a transaction; its caller passes
// it to committed, which logs it and dispatches the runs the handler
// enqueued, once the transaction has committed (a commit that fails and is retried would
// otherwise log the failure once per try).
type failedRun struct {
	run        *Run
	handlerErr error    // the failure handler's error; its writes were undone
	enqueued   []string // runs the failure handler enqueued
}

// recordFailed records r (whose Status is RunFailed) in tx and runs the
// action's failure handler as one step of tx.
func (e *Engine) recordFailed(tx *storage.WriteTx, r *Run) (*failedRun, error) {
	if err := putRun(tx, r); err != nil {
		return nil, err
	}
	f := &failedRun{run: r}
	a, ok := e.actions[r.Action]
	if !ok || a.onFailure == nil {
		return f, nil
	}
	f.handlerErr = tx.Try(func(step *storage.WriteTx) (err error) {
		ctx := context.WithoutCancel(e.ctx)
		if r.Caller != nil { // the handler runs as the run's caller, as its action did
			ctx = WithIdentity(ctx, *r.Caller)
		}
		mc := &MutatorCtx{Context: ctx, eng: e, name: "OnFailure(" + r.Action + ")", tx: step}
		defer func() {
			if p := recover(); p != nil {
				err = e.internal("failure handler of action "+r.Action, fmt.Errorf("panicked: %v", p), debug.Stack())
			}
		}()
		if err := a.onFailure(mc, r.Input, RunFailure{RunID: r.ID, Action: r.Action, Error: r.Error, Attempts: r.Attempts}); err != nil {
			return err
		}
		f.enqueued = mc.enqueued
		return nil
	})
	return f, nil
}

// committed logs a failure recorded by a committed transaction at ERROR (a
// cancellation, which a caller asked for, at INFO) and dispatches what its
// handler enqueued. f may be nil (nothing failed).
func (e *Engine) committed(f *failedRun) {
	if f == nil {
		return
	}
	r := f.run
	if r.Cancelled {
		e.log.Info("action run cancelled", "run", r.ID, "action", r.Action, "attempts", r.Attempts)
	} else {
		e.log.Error("action run failed", "run", r.ID, "action", r.Action, "attempts", r.Attempts, "err", r.Error)
	}
	if f.handlerErr != nil {
		e.log.Error("an action's failure handler failed; its writes were undone", "run", r.ID, "action", r.Action, "err", f.handlerErr)
	}
	e.dispatch(f.enqueued)
}
