package backend

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/mcp-sync/mcp-sync/schema"
	"github.com/mcp-sync/mcp-sync/storage"
)

// Mutation is the outcome of [Engine.Mutate].
type Mutation struct {
	// Version is the version the mutation committed as; for a duplicate
	// push (see [Once]), the version of the client's last applied push.
	Version uint64
	// Runs are the ids of the action runs the mutator enqueued, dispatched
	// to the workers after the commit; runs of internal actions included
	// (what a client may see is [Mutation.ClientRuns]).
	Runs []string
	// Duplicate is set when a [Once] push was already applied: nothing ran
	// and nothing was written.
	Duplicate bool

	internal []string // the Runs of internal actions
}

// ClientRuns returns Runs without the runs of internal actions
// (schema.Internal): what a client may be told, since [Engine.Run] reports
// those runs to it as not existing.
func (m Mutation) ClientRuns() []string {
	if len(m.internal) == 0 {
		return m.Runs
	}
	out := make([]string, 0, len(m.Runs)-len(m.internal))
	for _, id := range m.Runs {
		if !slices.Contains(m.internal, id) {
			out = append(out, id)
		}
	}
	return out
}

// MutateOption changes how [Engine.Mutate] runs a mutation.
type MutateOption func(*mutateOptions)

type mutateOptions struct {
	clientID string
	seq      uint64
	once     bool
}

// Once makes a mutation a client pushed apply at most once per (clientID,
// seq): the mutator and the client's new sequence number commit in one
// transaction, so a push retried after a lost reply is recognised and
// reported as a Duplicate. Sequence numbers must increase per client; gaps
// are fine (a rejected push records nothing). A signed-in caller's client
// ids are its own (Once is per caller, clientID, seq). See
// [Engine.ClientState].
func Once(clientID string, seq uint64) MutateOption {
	return func(o *mutateOptions) { o.clientID, o.seq, o.once = clientID, seq, true }
}

// Mutate runs the named mutator with input (JSON) in one transaction and
// returns the committed version and the action runs it enqueued, which
// start once it has committed. Errors wrap ErrUnknown, ErrInvalidInput,
// ErrHandler, ErrClosed, ErrInternal or ErrForbidden (ctx's caller, see
// [IdentityFrom], lacks a scope the mutator requires); on any error
// nothing was written.
// Every write from outside a mutator's own transaction comes through here:
// ActionCtx.Mutate, the MCP tools, pushes from clients. Internal mutators
// (schema.Internal) are server code's: a push ([Once]) of one fails as for
// a name never declared, and a replica engine refuses a direct call of one
// (ErrUnknown, saying why).
func (e *Engine) Mutate(ctx context.Context, name string, input json.RawMessage, opts ...MutateOption) (Mutation, error) {
	o := collect(opts)
	if o.once {
		if st, err := e.checkPush(ctx, o); err != nil || st != nil {
			return duplicate(st), err
		}
		o.clientID = pushClient(ctx, o.clientID)
	}
	// A push (Once) is a client's, and learns nothing of internal mutators;
	// on a replica, whose user holds the schema, an internal mutator runs
	// only as a step of another, and the refusal says so.
	if info, ok := e.cfg.Schema.Mutator(name); ok && info.Internal && e.opts.Replica && !o.once {
		return Mutation{}, unknownf("mutator %s is internal: on a client's replica it runs only as a step of another mutator (backend.Mutate from a mutator)", Short(name))
	}
	if info, _ := e.cfg.Schema.Mutator(name); info != nil && !info.Internal {
		if err := checkScopes(ctx, "mutator", name, info.Scopes); err != nil {
			return Mutation{}, err
		}
	}
	m, input, err := e.mutation(name, input, o.once || e.opts.Replica)
	if err != nil {
		return Mutation{}, err
	}
	var res Mutation
	v, err := e.store.Update(e.audited(ctx, name), func(tx *storage.WriteTx) error {
		res = Mutation{}
		if o.once {
			// Checked again inside the transaction: two retries may race.
			st, err := clientState(tx, o.clientID)
			if err != nil {
				return err
			}
			if o.seq <= st.Seq {
				res = duplicate(&st)
				return nil
			}
		}
		mc := &MutatorCtx{Context: ctx, eng: e, name: name, tx: tx}
		if err := e.runMutator(m, mc, input); err != nil {
			return err
		}
		res.Runs, res.internal = mc.enqueued, mc.internal
		if o.once {
			return e.recordPush(tx, o)
		}
		return nil
	})
	if err != nil {
		return Mutation{}, e.commitFailure(name, err)
	}
	if res.Duplicate {
		return res, nil
	}
	res.Version = v
	e.dispatch(res.Runs)
	return res, nil
}

// collect applies opts. Without options (the per-chunk path) nothing
// escapes to the heap: Mutate's closure captures the result by value.
func collect(opts []MutateOption) mutateOptions {
	if len(opts) == 0 {
		return mutateOptions{}
	}
	var o mutateOptions
	for _, opt := range opts {
		opt(&o)
	}
	return o
}

func duplicate(st *ClientState) Mutation {
	if st == nil {
		return Mutation{}
	}
	return Mutation{Version: st.Version, Duplicate: true}
}

// checkPush checks a push's client id and sequence number, and returns the
// client's state when seq was already applied (a retry), nil otherwise.
func (e *Engine) checkPush(ctx context.Context, o mutateOptions) (*ClientState, error) {
	if o.clientID == "" || o.seq == 0 {
		return nil, withKind(ErrInvalidInput, "push", errors.New("a pushed mutation needs a client id and a sequence number from 1"))
	}
	if err := checkKey("client ids", o.clientID); err != nil {
		return nil, withKind(ErrInvalidInput, "push", err)
	}
	st, err := e.ClientState(ctx, o.clientID)
	if err != nil {
		return nil, err
	}
	if o.seq <= st.Seq {
		return &st, nil
	}
	return nil, nil
}

// recordPush records, in the push's transaction, that the client's seq was
// applied, and now and then prunes the records of clients long gone.
func (e *Engine) recordPush(tx *storage.WriteTx, o mutateOptions) error {
	rec, _ := json.Marshal(ClientState{Seq: o.seq, Version: tx.Version(), At: time.Now().Unix()})
	if err := tx.Put(clientsTable, o.clientID, rec); err != nil {
		return err
	}
	if e.pushes.Add(1)%pruneEvery == 0 {
		return e.pruneClients(tx)
	}
	return nil
}

// mutation looks up the named mutator, checks input against its limits,
// fills in the input's declared defaults and validates the result: every
// mutate path's first step. It returns the input the mutator is to run with.
// A client's call (fromClient) does not see internal mutators: it gets the
// answer an undeclared name gets, so it learns nothing of them.
func (e *Engine) mutation(name string, input json.RawMessage, fromClient bool) (MutatorImpl, json.RawMessage, error) {
	m, ok := e.mutators[name]
	info, _ := e.cfg.Schema.Mutator(name)
	if !ok || fromClient && info.Internal {
		return MutatorImpl{}, nil, unknownf("no mutator named %s", Short(name))
	}
	input, err := e.checkedInput("mutator", name, info.Input, input)
	if err != nil {
		return MutatorImpl{}, nil, err
	}
	return m, input, nil
}

// checkedInput checks the input of the named mutator or action (kind)
// against the size limit, prepares it (a null at an optional field counts
// as absent, and a missing field gets its default, before validation and
// before the handler sees it: schema.Validator.Prepare) and validates it
// against v. The size limit is checked first, on what the
// caller sent.
func (e *Engine) checkedInput(kind, name string, v *schema.Validator, input json.RawMessage) (json.RawMessage, error) {
	if err := e.checkInput(kind, name, input); err != nil {
		return nil, err
	}
	input = v.Prepare(input)
	if err := v.Validate(input); err != nil {
		return nil, withKind(ErrInvalidInput, "", err)
	}
	return input, nil
}

// commitFailure classifies the error of a mutator's commit: a closed store
// is ErrClosed, the mutator's own classified error stays as it is, and a
// storage failure is internal.
func (e *Engine) commitFailure(name string, err error) error {
	if errors.Is(err, storage.ErrClosed) {
		return fmt.Errorf("mutator %s: %w", name, ErrClosed)
	}
	return e.storageFailure("mutator "+name, err)
}
