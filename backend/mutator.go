package backend

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/mcp-sync/mcp-sync/storage"
)

// MutatorCtx is what a mutator sees: its transaction's tables, whether it
// runs on the server, EnqueueAction, and Mutate to run another mutator as a
// step. It is valid only until the mutator
// returns.
type MutatorCtx struct {
	context.Context
	eng      *Engine
	name     string
	tx       *storage.WriteTx
	enqueued []string // run ids, dispatched after the commit
	internal []string // those of them that run internal actions
	depth    int      // how many mutators this one is a step of
	root     string   // the mutator called from outside, when this is a step
}

// Table returns read-write access to the table named name within this
// mutator's transaction. Writes are validated against the table's schema.
// Server-only tables are reachable here: mutators run on the server. A
// private table's rows are the caller's (or [WithOwner]'s).
func (c *MutatorCtx) Table(name string) *Table {
	info, ok := c.eng.cfg.Schema.Table(name)
	t := &Table{info: info, name: name, w: c.tx, eng: c.eng, view: func(fn func(r reader) error) error { return fn(c.tx) }}
	if !ok {
		t.err = unknownf("table %q is not declared in the schema", name)
	} else {
		t.prefix, t.err = c.eng.rowPrefix(c, info)
	}
	return t
}

// IsServer reports whether the mutator runs on the server, or optimistically
// on a client's local replica (an engine opened with Options.Replica).
func (c *MutatorCtx) IsServer() bool { return !c.eng.opts.Replica }

// Version returns the version this mutator commits as.
func (c *MutatorCtx) Version() uint64 { return c.tx.Version() }

// Name returns the mutator's name.
func (c *MutatorCtx) Name() string { return c.name }

// newRunID returns a run id: the enqueuing version, zero-padded so ids sort
// in enqueue order (the queue is scanned in key order), then 96 random bits
// so that ids cannot be guessed or enumerated.
func newRunID(version uint64) string {
	var b [12]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand)
	return fmt.Sprintf("%016d-%s", version, hex.EncodeToString(b[:]))
}

// EnqueueAction records a run of the named action with input, in this
// mutator's transaction (a transactional outbox): if the mutator fails,
// nothing is enqueued; once it commits, a worker runs the action, even if
// the process stops first. It returns the run's id. On a client it is a
// no-op. input is encoded as [schema.Validator.Encode] does (nil slices and
// maps as [] and {}) and gets the action's declared defaults. Prefer the
// typed [Enqueue].
func (c *MutatorCtx) EnqueueAction(name string, input any) (string, error) {
	info, ok := c.eng.cfg.Schema.Action(name)
	if !ok {
		return "", unknownf("enqueue: action %q is not declared in the schema", name)
	}
	if c.eng.opts.Replica { // the server enqueues when it runs the mutator
		return "", nil
	}
	data, err := info.Input.Encode(input)
	if err != nil {
		return "", fmt.Errorf("enqueue %s: encode input: %w", name, err)
	}
	if data, err = c.eng.checkedInput("action", name, info.Input, data); err != nil {
		return "", fmt.Errorf("enqueue %s: %w", name, err)
	}
	run := Run{
		ID:         newRunID(c.tx.Version()),
		Action:     name,
		Input:      data,
		Status:     RunQueued,
		EnqueuedBy: c.name,
		Version:    c.tx.Version(),
		EnqueuedAt: time.Now().UTC(),
	}
	if id, ok := IdentityFrom(c); ok {
		run.Caller = &id
	} else if owner, ok := c.Value(ownerKey{}).(string); ok && owner != "" {
		run.Caller = &Identity{Subject: owner} // server code's run for owner: it reaches owner's private rows
	}
	if err := putRun(c.tx, &run); err != nil {
		return "", fmt.Errorf("enqueue %s: %w", name, err)
	}
	c.enqueued = append(c.enqueued, run.ID)
	if info.Internal {
		c.internal = append(c.internal, run.ID)
	}
	return run.ID, nil
}
