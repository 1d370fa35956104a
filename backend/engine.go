package backend

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"runtime/debug"
	"sync"
	"sync/atomic"

	"github.com/mcp-sync/mcp-sync/schema"
	"github.com/mcp-sync/mcp-sync/storage"
	"github.com/mcp-sync/mcp-sync/storage/bolt"
)

// Engine runs an app's mutators and actions against its data file. It is
// safe for concurrent use. Open one with [Open]; Close it when done.
type Engine struct {
	cfg      Config
	opts     Options
	log      *slog.Logger
	store    *storage.Store
	mutators map[string]MutatorImpl
	actions  map[string]ActionImpl

	ctx    context.Context // cancelled by Close: stops workers and enqueued runs
	cancel context.CancelFunc
	wg     sync.WaitGroup
	work   *workQueue
	closed sync.Once
	pushes atomic.Uint64 // applied pushes, to prune .clients now and then
	// running holds the cancel func of each run's attempt in progress (run
	// id → context.CancelFunc), for CancelRun.
	running sync.Map
	// inputWake wakes a task run waiting for input (run id → chan
	// struct{}, buffered 1) when AnswerRun records answers.
	inputWake sync.Map
	// shared is set on a store other processes use at once
	// (storage.Shared): runs are leased to the instance self (lease.go).
	shared     bool
	self       string
	leaseUntil atomic.Int64 // Unix ms: when the lease last written expires (0: none)
	lastClaim  atomic.Int64 // Unix ms of the last claim
}

// Open checks cfg against its schema, opens the data file and starts the
// action workers, which first pick up every run left unfinished by an earlier
// process.
func Open(cfg Config, opts Options) (*Engine, error) {
	if err := cfg.check(); err != nil {
		return nil, err
	}
	if opts.Path == "" && opts.Storage == nil {
		return nil, fmt.Errorf("backend: Options.Path is empty: name the data file")
	}
	opts.defaults()
	tables := []string{RunsTable, queueTable, clientsTable, tasksTable}
	if opts.Storage != nil {
		tables = append(tables, instancesTable) // leases, should the store be shared
	}
	for _, t := range cfg.Schema.Tables() {
		tables = append(tables, t.Name)
	}
	d, err := openDriver(cfg, opts, tables)
	if err != nil {
		return nil, err
	}
	st := storage.New(d, storage.Options{})
	e := &Engine{cfg: cfg, opts: opts, log: opts.Logger, store: st, work: newWorkQueue(),
		mutators: make(map[string]MutatorImpl), actions: make(map[string]ActionImpl)}
	for _, m := range cfg.Mutators {
		e.mutators[m.name] = m
	}
	for _, a := range cfg.Actions {
		e.actions[a.name] = a
	}
	if sh, ok := d.(storage.Shared); ok && sh.Shared() && !opts.Replica {
		e.shared, e.self = true, newInstanceID()
	}
	e.ctx, e.cancel = context.WithCancel(context.Background())
	if opts.NoRuns {
		return e, nil
	}
	for range opts.Workers {
		e.wg.Add(1)
		go e.worker()
	}
	if e.shared {
		// Unfinished runs may be live instances': the lease scan takes over
		// only those of expired ones.
		if err := e.startShared(); err != nil {
			e.Close()
			return nil, err
		}
	} else if !opts.Replica {
		if err := e.recoverRuns(); err != nil {
			e.Close()
			return nil, err
		}
	}
	return e, nil
}

// openDriver opens the store's driver: Options.Storage's, else the bbolt
// file at Options.Path.
func openDriver(cfg Config, opts Options, tables []string) (storage.Driver, error) {
	if opts.Storage != nil {
		d, err := opts.Storage(tables, cfg.Schema.Version())
		if err == nil && d == nil {
			err = fmt.Errorf("backend: Options.Storage returned no driver and no error")
		}
		return d, err
	}
	return bolt.Open(opts.Path, bolt.Options{
		SchemaVersion:  cfg.Schema.Version(),
		Tables:         tables,
		LockTimeout:    opts.LockTimeout,
		LogRetention:   uint64(max(opts.LogRetention, 0)),
		AuditRetention: uint64(max(opts.AuditRetention, 0)),
		NoSync:         opts.Replica,
		Logger:         opts.Logger, AllowDamagedRows: opts.AllowDamagedRows,
	})
}

// Close stops the workers (a run cut off by Close runs again on the next
// Open, or, on a shared store, is taken over by another instance), waits
// for them, and closes the data file.
func (e *Engine) Close() error {
	var err error
	e.closed.Do(func() {
		e.cancel()
		e.wg.Wait()
		if e.shared {
			e.releaseLease()
		}
		err = e.store.Close()
	})
	return err
}

// Schema returns the app's schema.
func (e *Engine) Schema() *schema.Schema { return e.cfg.Schema }

func (e *Engine) runMutator(m MutatorImpl, mc *MutatorCtx, input []byte) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = e.internal("mutator "+m.name, fmt.Errorf("panicked: %v", r), debug.Stack())
		}
	}()
	err = m.run(mc, input)
	return classifyHandler("mutator "+m.name, err)
}

// classifyHandler gives a handler's returned error its kind: a decoding
// failure or a broken limit (a row too large, a bad key) is the caller's
// invalid input, an internal error stays internal, a damaged row it read
// stays damaged (naming the row), anything else is the handler's own
// failure.
func classifyHandler(where string, err error) error {
	if _, ok := err.(*decodeError); ok || err == nil {
		return err
	}
	if isLimitError(err) {
		return withKind(ErrInvalidInput, where, err)
	}
	switch KindOf(err) {
	case ErrInternal:
		return err
	case ErrDamaged:
		return withKind(ErrDamaged, where, err)
	}
	return withKind(ErrHandler, where, err)
}

// Act calls the named action with input (JSON) and returns its output as
// JSON (a JSON string for text-output actions), validated against the
// declared output schema. It is server code: internal actions
// (schema.Internal) are callable here. ctx carries the caller's cancellation and, through
// [WithReporter], where progress and logs go. Errors wrap ErrUnknown,
// ErrInvalidInput, ErrHandler, ErrInvalidOutput or ErrForbidden (ctx's
// caller, see [IdentityFrom], lacks a scope the action requires).
func (e *Engine) Act(ctx context.Context, name string, input json.RawMessage) (json.RawMessage, error) {
	if info, _ := e.cfg.Schema.Action(name); info != nil && !info.Internal {
		if err := checkScopes(ctx, "action", name, info.Scopes); err != nil {
			return nil, err
		}
	}
	return e.act(ctx, name, input, "")
}

func (e *Engine) act(ctx context.Context, name string, input json.RawMessage, runID string) (json.RawMessage, error) {
	a, ok := e.actions[name]
	if !ok {
		return nil, unknownf("no action named %s", Short(name))
	}
	info, _ := e.cfg.Schema.Action(name)
	input, err := e.checkedInput("action", name, info.Input, input)
	if err != nil {
		return nil, err
	}
	ac := &ActionCtx{Context: ctx, eng: e, name: name, runID: runID, rep: reporterFrom(ctx),
		Platform: &Platform{ctx: ctx, funcs: e.cfg.Platform}}
	ac.Context = withSampler(ac)
	if caller, ok := ActionFrom(ctx); ok {
		ac.depth = caller.depth + 1
	}
	data, err := e.runAction(a, info, ac, input)
	if err != nil {
		return nil, err
	}
	if info.Output != nil {
		if err := info.Output.Validate(data); err != nil {
			return nil, withKind(ErrInvalidOutput, "action "+name, err)
		}
	}
	return data, nil
}

// runAction runs a's handler and encodes its output. Encoding runs the
// app's own MarshalJSON methods, so it sits under the same recover: a panic
// there must not end a worker goroutine (and with it the process).
func (e *Engine) runAction(a ActionImpl, info *schema.ActionInfo, ac *ActionCtx, input []byte) (data json.RawMessage, err error) {
	defer func() {
		if r := recover(); r != nil {
			data, err = nil, e.internal("action "+a.name, fmt.Errorf("panicked: %v", r), debug.Stack())
		}
	}()
	out, err := a.run(ac, input)
	if _, ok := err.(*decodeError); ok {
		return nil, err
	}
	if err != nil {
		return nil, withKind(ErrHandler, "action "+a.name, err)
	}
	if data, err = encodeOutput(info, out); err != nil {
		return nil, e.internal("action "+a.name, fmt.Errorf("encode output: %w", err), nil)
	}
	return data, nil
}

// encodeOutput encodes an action's output; a struct output the way its
// schema wants it (nil slices and maps as [] and {}, see
// [schema.Validator.Encode]).
func encodeOutput(info *schema.ActionInfo, out any) ([]byte, error) {
	if info.Output == nil {
		return json.Marshal(out)
	}
	return info.Output.Encode(out)
}
