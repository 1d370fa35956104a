package backend

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"reflect"
	"strings"
	"time"

	"github.com/mcp-sync/mcp-sync/backend/ai"
	"github.com/mcp-sync/mcp-sync/schema"
	"github.com/mcp-sync/mcp-sync/storage"
)

// Config is an app: its schema and the implementation of every mutator and
// action it declares.
type Config struct {
	// Schema is the app's declared schema.
	Schema *schema.Schema
	// Mutators implements every declared mutator, each made with [Mutator].
	Mutators []MutatorImpl
	// Actions implements every declared action, each made with [Action].
	Actions []ActionImpl
	// Platform holds host functions actions reach with ctx.Platform.Call
	// (for example reading an API key from the environment or a
	// server-only table). Names are free-form.
	Platform map[string]PlatformFunc
	// AI is the provider actions reach with ctx.AI(); nil makes ctx.AI()
	// return a provider whose every call fails with a clear error.
	AI ai.Provider
}

// PlatformFunc is a host-provided server function. args is the JSON of what
// the action passed; the result is returned to it as JSON.
type PlatformFunc func(ctx context.Context, args json.RawMessage) (json.RawMessage, error)

// MutatorImpl is the implementation of one declared mutator. Make it with
// [Mutator].
type MutatorImpl struct {
	name   string
	inType reflect.Type
	run    func(ctx *MutatorCtx, input []byte) error
}

// Mutator binds fn to the declared mutator d. The input has been validated
// against d's schema before fn runs. fn runs inside the mutator's single
// transaction: it must not block on other mutator calls (that deadlocks the
// commit loop) and should be deterministic, because a Go client runs the same
// code optimistically.
func Mutator[In any](d schema.MutatorDef[In], fn func(ctx *MutatorCtx, in In) error) MutatorImpl {
	return MutatorImpl{name: d.Name(), inType: reflect.TypeFor[In](), run: func(ctx *MutatorCtx, input []byte) error {
		var in In
		if err := json.Unmarshal(input, &in); err != nil {
			return &decodeError{withKind(ErrInvalidInput, "mutator "+d.Name(), err)}
		}
		return fn(ctx, in)
	}}
}

// ActionImpl is the implementation of one declared action. Make it with
// [Action].
type ActionImpl struct {
	name      string
	inType    reflect.Type
	outType   reflect.Type
	run       func(ctx *ActionCtx, input []byte) (any, error)
	onFailure func(ctx *MutatorCtx, input []byte, f RunFailure) error // nil: none
}

// Action binds fn to the declared action d. The input has been validated
// before fn runs, and the output is validated against d's output schema
// before it is returned to the caller. Options: [OnFailure].
func Action[In, Out any](d schema.ActionDef[In, Out], fn func(ctx *ActionCtx, in In) (Out, error), opts ...ActionOption[In]) ActionImpl {
	a := ActionImpl{name: d.Name(), inType: reflect.TypeFor[In](), outType: reflect.TypeFor[Out](),
		run: func(ctx *ActionCtx, input []byte) (any, error) {
			var in In
			if err := json.Unmarshal(input, &in); err != nil {
				return nil, &decodeError{withKind(ErrInvalidInput, "action "+d.Name(), err)}
			}
			return fn(ctx, in)
		}}
	for _, o := range opts {
		if o != nil {
			o(&a)
		}
	}
	return a
}

// check refuses a config whose implementations and declarations do not
// match one to one, listing every mismatch.
func (c *Config) check() error {
	if c.Schema == nil {
		return fmt.Errorf("backend: Config.Schema is nil: set it to the schema.Define result")
	}
	var problems []string
	mutators := make(map[string]bool)
	for _, m := range c.Mutators {
		decl, ok := c.Schema.Mutator(m.name)
		switch {
		case m.run == nil:
			problems = append(problems, "a MutatorImpl was not made with backend.Mutator")
		case !ok:
			problems = append(problems, fmt.Sprintf("mutator %q is implemented but not declared in the schema", m.name))
		case mutators[m.name]:
			problems = append(problems, fmt.Sprintf("mutator %q is implemented twice", m.name))
		case decl.InputType != m.inType:
			problems = append(problems, fmt.Sprintf("mutator %q: the implementation takes %s, the declaration %s", m.name, m.inType, decl.InputType))
		}
		mutators[m.name] = true
	}
	actions := make(map[string]bool)
	for _, a := range c.Actions {
		decl, ok := c.Schema.Action(a.name)
		switch {
		case a.run == nil:
			problems = append(problems, "an ActionImpl was not made with backend.Action")
		case !ok:
			problems = append(problems, fmt.Sprintf("action %q is implemented but not declared in the schema", a.name))
		case actions[a.name]:
			problems = append(problems, fmt.Sprintf("action %q is implemented twice", a.name))
		case decl.InputType != a.inType || decl.OutputType != a.outType:
			problems = append(problems, fmt.Sprintf("action %q: the implementation has types (%s, %s), the declaration (%s, %s)", a.name, a.inType, a.outType, decl.InputType, decl.OutputType))
		}
		actions[a.name] = true
	}
	for _, m := range c.Schema.Mutators() {
		if !mutators[m.Name] {
			problems = append(problems, fmt.Sprintf("mutator %q is declared but has no implementation: add backend.Mutator(...) to Config.Mutators", m.Name))
		}
	}
	for _, a := range c.Schema.Actions() {
		if !actions[a.Name] {
			problems = append(problems, fmt.Sprintf("action %q is declared but has no implementation: add backend.Action(...) to Config.Actions", a.Name))
		}
	}
	if len(problems) > 0 {
		return fmt.Errorf("backend: the config does not match the schema:\n  %s", strings.Join(problems, "\n  "))
	}
	return nil
}

// Options tune an engine. Zero values mean the defaults.
type Options struct {
	// Path is the bbolt data file. Required unless Storage is set.
	Path string
	// Storage, if set, opens the store instead of the bbolt file at Path:
	// a driver (such as storage/postgres's) declaring tables, which are
	// the app's and the engine's own, at the app's schemaVersion. The
	// engine owns the driver it returns and closes it on Close. Options
	// that tune the bbolt file (LockTimeout, LogRetention, AllowDamagedRows)
	// are then the driver's to apply.
	Storage func(tables []string, schemaVersion int) (storage.Driver, error)
	// Logger receives the engine's logs; default slog.Default().
	Logger *slog.Logger
	// Workers is how many enqueued action runs execute at once; default 4.
	Workers int
	// NoRuns keeps this engine from running enqueued actions: no workers,
	// no recovery of interrupted runs, no taking over other replicas' runs.
	// For a process that only reads or writes data beside those that run
	// them (`mcp-sync log --postgres`); the runs it enqueues wait for an
	// engine that runs them.
	NoRuns bool
	// MaxAttempts is how many times an enqueued run is attempted before it
	// is marked failed; default 3. Only errors marked [Retryable] (or a
	// process that stopped mid-run) cause another attempt; any other error
	// fails the run at once.
	MaxAttempts int
	// RetryBackoff is the wait before the second attempt; it doubles for
	// each attempt after that, up to a minute. Default 1s.
	RetryBackoff time.Duration
	// RunLease is, on a store several processes share (PostgreSQL
	// replicas), how long an engine's hold on the action runs it claimed
	// lasts unless renewed; it is renewed every RunLease/3, and the runs of
	// an engine that stopped renewing (its process died) are taken over by
	// another once it expires. Replicas' clocks must agree to well within
	// it. Default 30s.
	RunLease time.Duration
	// LockTimeout is how long Open waits for another process to release the
	// data file; default 2s.
	LockTimeout time.Duration
	// LogRetention is how many versions the change log keeps for
	// subscribers to resume from; default (0 or less) 10000.
	LogRetention int
	// AuditRetention is how many versions the audit keeps records of:
	// default (0 or less) 100000; the audit has no "keep all". The bbolt
	// file applies it; a Storage function may pass it on to its driver
	// (cli's PostgreSQL one does).
	AuditRetention int
	// AuditAdminScope is the scope that lets a caller read every caller's
	// history ([Engine.History]); default [DefaultAuditAdminScope]. Local
	// callers and server code always may.
	AuditAdminScope string
	// ClientRetention is how long the record of a client's last applied
	// push is kept after its last push (default 30 days). A client that
	// comes back later and retries a push it sent before then gets it
	// applied again.
	ClientRetention time.Duration
	// MaxRowBytes is the largest row value (its JSON) a table accepts,
	// unless the table sets its own with schema.MaxRowBytes; default 1 MiB
	// ([DefaultMaxRowBytes]); negative means no limit. A larger write fails
	// with ErrInvalidInput and writes nothing.
	MaxRowBytes int
	// MaxInputBytes is the largest input (its JSON) one mutator or action
	// call accepts; default 4 MiB ([DefaultMaxInputBytes]); negative means no
	// limit. stdio has no request size limit of its own: this is it.
	MaxInputBytes int
	// MaxTasks is how many runs started as tasks ([Engine.StartRun]) one
	// caller (by subject; all server code is one caller) may have
	// unfinished at once; default 64 ([DefaultMaxTasks]); negative means no
	// limit. A start beyond it fails with a *TaskLimitError.
	MaxTasks int
	// Replica opens the engine as a client's local replica (see package
	// client): mutators run with IsServer() false, EnqueueAction records
	// nothing, internal mutators run only as steps of other mutators, no
	// action workers run, and commits are not fsync'd (the server holds the
	// durable copy).
	Replica bool
	// AllowDamagedRows opens a data file whose structure is intact though
	// some rows fail their checksum (see bolt.Options.AllowDamagedRows in storage/bolt).
	AllowDamagedRows bool
}

func (o *Options) defaults() {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Workers <= 0 && !o.Replica {
		o.Workers = 4
	}
	if o.AuditAdminScope == "" {
		o.AuditAdminScope = DefaultAuditAdminScope
	}
	if o.ClientRetention <= 0 {
		o.ClientRetention = 30 * 24 * time.Hour
	}
	if o.MaxAttempts <= 0 {
		o.MaxAttempts = 3
	}
	if o.RetryBackoff <= 0 {
		o.RetryBackoff = time.Second
	}
	if o.RunLease <= 0 {
		o.RunLease = 30 * time.Second
	}
	if o.MaxRowBytes == 0 {
		o.MaxRowBytes = DefaultMaxRowBytes
	}
	if o.MaxInputBytes == 0 {
		o.MaxInputBytes = DefaultMaxInputBytes
	}
	if o.MaxTasks == 0 {
		o.MaxTasks = DefaultMaxTasks
	}
}
