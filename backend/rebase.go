package backend

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/mcp-sync/mcp-sync/storage"
)

// PendingMutation is a mutation a replica applied locally that the server
// has not confirmed yet: what [Engine.Rebase] runs again on the server's
// state.
type PendingMutation struct {
	Mutator string
	Input   json.RawMessage
}

// Rebased is the outcome of [Engine.Rebase].
type Rebased struct {
	// Version is the local version the rebase committed as.
	Version uint64
	// Written are the rows the pending mutations wrote, in order (Value is
	// nil for a delete): the rows a later rebase must reset.
	Written []Change
	// Failed holds, per pending mutation, nil or why it failed on the new
	// state; a failed one left no writes.
	Failed []error
}

// Rebase makes a replica engine's (Options.Replica) data the server's
// state with the pending mutations applied on top, in one local commit:
// every row in base is set to its Value (or deleted, for OpDelete), then
// each pending mutation runs again, in order, each all or nothing, so one
// that fails on the new state does not stop the others. base rows must be
// in declared tables. A server engine refuses: it could not dispatch the
// runs a mutator enqueues, and its data is not a copy.
func (e *Engine) Rebase(ctx context.Context, base []Change, pending []PendingMutation) (Rebased, error) {
	if !e.opts.Replica {
		return Rebased{}, fmt.Errorf("rebase: Rebase is for replica engines (Options.Replica); a server engine uses Mutate")
	}
	for _, c := range base {
		if _, err := e.clientTable(c.Table); err != nil {
			return Rebased{}, fmt.Errorf("rebase: %w", err)
		}
	}
	var res Rebased
	v, err := e.store.Update(ctx, func(tx *storage.WriteTx) error {
		res = Rebased{Failed: make([]error, len(pending))}
		for _, c := range base {
			var err error
			if c.Op == OpDelete {
				err = tx.Delete(c.Table, c.Key)
			} else {
				err = tx.Put(c.Table, c.Key, c.Value)
			}
			if err != nil {
				return err
			}
		}
		for i, p := range pending {
			n := len(tx.Changes())
			if res.Failed[i] = e.runStep(ctx, tx, p); res.Failed[i] == nil {
				res.Written = append(res.Written, tx.Changes()[n:]...)
			}
		}
		return nil
	})
	if err != nil {
		return Rebased{}, e.storageFailure("rebase", err)
	}
	res.Version = v
	return res, nil
}

// runStep runs a pending mutation as one step of tx: validated, and leaving
// none of its writes when it fails.
func (e *Engine) runStep(ctx context.Context, tx *storage.WriteTx, p PendingMutation) error {
	m, input, err := e.mutation(p.Mutator, p.Input, true)
	if err != nil {
		return err
	}
	return tx.Try(func(step *storage.WriteTx) error {
		return e.runMutator(m, &MutatorCtx{Context: ctx, eng: e, name: p.Mutator, tx: step}, input)
	})
}
