package backend

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/mcp-sync/mcp-sync/schema"
	"github.com/mcp-sync/mcp-sync/storage"
)

// maxNesting bounds how deep mutators (and actions) may call each other: a
// handler that calls itself without end would otherwise overflow the stack,
// which Go cannot recover from.
const maxNesting = 32

// Mutate runs the named mutator with input as a step of this mutator's
// transaction: its writes and enqueued runs commit with this mutator's, or
// not at all. If it fails, none of its writes remain, and returning its
// error aborts the whole transaction. Internal mutators (schema.Internal)
// are callable here, on a client's replica too. The input is validated as
// for any call, after encoding input as [schema.Schema.EncodeInput] does.
// Prefer the typed [Mutate].
func (c *MutatorCtx) Mutate(name string, input any) error {
	root := cmp.Or(c.root, c.name)
	inner, err := c.step(name, input, root)
	if err != nil { // the step's runs were undone with its writes
		if info, _ := c.eng.cfg.Schema.Mutator(name); info != nil && info.Internal {
			return c.eng.hideStep("mutator "+root, "mutator "+name, err)
		}
		return err
	}
	c.enqueued = append(c.enqueued, inner.enqueued...)
	c.internal = append(c.internal, inner.internal...)
	return nil
}

// step runs the named mutator as one step of c's transaction. Every error
// it returns may name the step: Mutate hides an internal step's.
func (c *MutatorCtx) step(name string, input any, root string) (*MutatorCtx, error) {
	data, err := c.eng.cfg.Schema.EncodeInput(name, input)
	if err != nil {
		return nil, fmt.Errorf("mutator %s: mutate %s: encode input: %w", c.name, name, err)
	}
	if c.depth >= maxNesting {
		return nil, withKind(ErrHandler, "mutator "+c.name, fmt.Errorf("mutate %s: mutators nest more than %d deep: is a mutator calling itself?", name, maxNesting))
	}
	m, data, err := c.eng.mutation(name, data, false)
	if err != nil {
		return nil, err
	}
	var inner *MutatorCtx
	err = c.tx.Try(func(step *storage.WriteTx) error {
		inner = &MutatorCtx{Context: c.Context, eng: c.eng, name: name, tx: step, depth: c.depth + 1, root: root}
		return c.eng.runMutator(m, inner, data)
	})
	return inner, err
}

// Caller calls mutators by name: *MutatorCtx (each call a step of its
// transaction) and *ActionCtx (each call its own transaction).
type Caller interface {
	Mutate(name string, input any) error
}

// Mutate calls the declared mutator d with in, through ctx (a *MutatorCtx or
// *ActionCtx): backend.Mutate(ctx, SetTodo, todo). The compiler checks in's
// type against d's; ctx.Mutate(name, input) stays for names known only at
// run time.
func Mutate[In any](ctx Caller, d schema.MutatorDef[In], in In) error {
	return ctx.Mutate(d.Name(), in)
}

// Enqueue records a run of the declared action d with in, in the
// transaction of the mutator ctx, and returns the run's id: see
// [MutatorCtx.EnqueueAction], whose typed form it is.
func Enqueue[In, Out any](ctx *MutatorCtx, d schema.ActionDef[In, Out], in In) (string, error) {
	return ctx.EnqueueAction(d.Name(), in)
}

// Act calls the declared action d with in from the action ctx, directly (no
// run is recorded), and returns its validated output. It runs under ctx's
// cancellation; its progress and log messages are not sent to ctx's caller,
// whose progress they would muddle (logs still reach the server log), and
// its writes commit as they go, as any action's do. Internal actions
// (schema.Internal) are callable here; when one fails, ctx gets an
// ErrInternal error that does not name it (the log has the detail).
func Act[In, Out any](ctx *ActionCtx, d schema.ActionDef[In, Out], in In) (Out, error) {
	var out Out
	err := ctx.act(d.Name(), in, &out)
	if err != nil {
		if info, _ := ctx.eng.cfg.Schema.Action(d.Name()); info != nil && info.Internal {
			return out, ctx.eng.hideStep("action "+ctx.name, "action "+d.Name(), err)
		}
	}
	return out, err
}

// act calls the named action from c and decodes its output into out.
// Every error it returns may name the action: Act hides an internal one's.
func (c *ActionCtx) act(name string, in, out any) error {
	data, err := c.eng.cfg.Schema.EncodeInput(name, in)
	if err != nil {
		return fmt.Errorf("action %s: act %s: encode input: %w", c.name, name, err)
	}
	if c.depth >= maxNesting {
		return withKind(ErrHandler, "action "+c.name, fmt.Errorf("act %s: actions nest more than %d deep: is an action calling itself?", name, maxNesting))
	}
	raw, err := c.eng.act(WithReporter(c, nopReporter{}), name, data, "")
	if err != nil {
		return err
	}
	if err := json.Unmarshal(raw, out); err != nil {
		return fmt.Errorf("action %s: act %s: decode output: %w", c.name, name, err)
	}
	return nil
}

// hideStep keeps the name of a failed internal step (an internal mutator or
// action) out of the error its caller may pass on to a client: the failure
// becomes internal, under the caller's name (where), and its detail, naming
// the step, goes to the log with the reference. Cancellation and a closed
// engine keep their kind.
func (e *Engine) hideStep(where, step string, err error) error {
	switch {
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return err
	case KindOf(err) == ErrClosed:
		return withKind(ErrClosed, where, ErrClosed)
	}
	return e.internal(where, fmt.Errorf("internal %s failed: %w", step, err), nil)
}

type actionKey struct{}

// Value makes the action findable from any context derived from ctx (see
// [ActionFrom]); other keys are the caller's context's.
func (c *ActionCtx) Value(key any) any {
	if key == (actionKey{}) {
		return c
	}
	return c.Context.Value(key)
}

// ActionFrom returns the action call that ctx is, or was derived from, for
// code an action hands a plain context.Context: an AI provider's key
// function (ai.Config.KeyFunc) gets the context the action passed to
// Stream. ok is false outside an action call.
func ActionFrom(ctx context.Context) (ac *ActionCtx, ok bool) {
	ac, ok = ctx.Value(actionKey{}).(*ActionCtx)
	return ac, ok
}

// TableFrom returns read-only typed access to the declared table d
// (server-only tables included) through the action call ctx comes from (see
// [ActionFrom]): backend.TableFrom(ctx, Secrets) inside a KeyFunc. It
// fails outside an action call.
func TableFrom[T any](ctx context.Context, d schema.TableDef[T]) (TypedTable[T], error) {
	ac, ok := ActionFrom(ctx)
	if !ok {
		return TypedTable[T]{}, fmt.Errorf("table %s: this context does not come from an action call: pass the action's ctx (ai.Provider.Stream passes it on to KeyFunc)", d.Name())
	}
	return TableOf(ac, d), nil
}
