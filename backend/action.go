package backend

import (
	"context"
	"encoding/json"
	"fmt"
	"iter"
	"log/slog"

	"github.com/mcp-sync/mcp-sync/backend/ai"
	"github.com/mcp-sync/mcp-sync/storage"
)

// ActionCtx is what an action sees. It is a context.Context carrying the
// caller's cancellation (the MCP request, or the engine's shutdown for an
// enqueued run): pass it on to anything slow, such as ctx.AI().Stream(ctx, …).
// Code handed that context (an AI key function) finds the action again with
// [ActionFrom] and reads tables with [TableFrom].
type ActionCtx struct {
	context.Context
	eng     *Engine
	name    string
	runID   string
	rep     Reporter
	mutates int
	depth   int // how many actions called this one (see Act)
	// Platform reaches the host functions in Config.Platform.
	Platform *Platform
}

// Name returns the action's name.
func (c *ActionCtx) Name() string { return c.name }

// RunID returns the id of the enqueued run this call executes, or "" for a
// direct call.
func (c *ActionCtx) RunID() string { return c.runID }

// Mutate calls the named mutator with input, in its own transaction, and
// returns once it has committed; every subscriber sees the change. The call
// is validated like any other ([Engine.Mutate] is the one path), after
// encoding input as [schema.Schema.EncodeInput] does (nil slices and maps
// as [] and {}). When the action was called with progress reporting, each
// Mutate reports one step of progress. Internal mutators (schema.Internal)
// are callable here; their names stay out of the progress messages and
// errors the caller sees. Prefer the typed [Mutate].
func (c *ActionCtx) Mutate(name string, input any) error {
	info, _ := c.eng.cfg.Schema.Mutator(name)
	internal := info != nil && info.Internal
	data, err := c.eng.cfg.Schema.EncodeInput(name, input)
	if err != nil {
		err = fmt.Errorf("action %s: mutate %s: encode input: %w", c.name, name, err)
	}
	var m Mutation
	if err == nil {
		m, err = c.eng.Mutate(c, name, data)
	}
	if err != nil {
		if internal {
			return c.eng.hideStep("action "+c.name, "mutator "+name, err)
		}
		return err
	}
	c.mutates++
	msg := fmt.Sprintf("%s committed version %d", name, m.Version)
	if internal {
		msg = fmt.Sprintf("committed version %d", m.Version)
	}
	c.rep.Progress(Progress{Progress: float64(c.mutates), Message: msg})
	return nil
}

// Detached returns a copy of ctx that is not cancelled when the caller goes
// away, for the last bookkeeping write of an action whose caller cancelled
// (say, marking a row as failed). Its writes still fail once the engine
// is closed.
func (c *ActionCtx) Detached() *ActionCtx {
	d := *c
	d.Context = context.WithoutCancel(c.Context)
	return &d
}

// Table returns read-only access to the table named name; each read sees the
// latest committed data. Server-only tables are readable here. A private
// table's rows are the caller's (an enqueued run's caller; or [WithOwner]'s).
func (c *ActionCtx) Table(name string) *Table {
	info, ok := c.eng.cfg.Schema.Table(name)
	t := &Table{info: info, name: name, eng: c.eng, view: func(fn func(r reader) error) error {
		return c.eng.store.View(func(tx *storage.ReadTx) error { return fn(tx) })
	}}
	if !ok {
		t.err = unknownf("table %q is not declared in the schema", name)
	} else {
		t.prefix, t.err = c.eng.rowPrefix(c, info)
	}
	return t
}

// AI returns the app's AI provider (Config.AI).
func (c *ActionCtx) AI() ai.Provider {
	if c.eng.cfg.AI == nil {
		return noProvider{}
	}
	return c.eng.cfg.AI
}

// Progress reports explicit progress to the caller, when it asked for
// progress (an MCP progressToken): progress so far, the total if known (0 if
// not), and a message. Progress must increase from call to call.
func (c *ActionCtx) Progress(progress, total float64, message string) {
	c.rep.Progress(Progress{Progress: progress, Total: total, Message: message})
}

// Log sends a log message to the caller (MCP notifications/message, subject
// to the client's logging/setLevel) and to the server's log.
func (c *ActionCtx) Log(level slog.Level, msg string, args ...any) {
	c.eng.log.Log(c, level, msg, append([]any{"action", c.name}, args...)...)
	c.rep.Log(level, msg, args...)
}

// Platform calls host functions registered in Config.Platform.
type Platform struct {
	ctx   context.Context
	funcs map[string]PlatformFunc
}

// Call runs the host function name with args (encoded as JSON) and returns
// its JSON result.
func (p *Platform) Call(name string, args any) (json.RawMessage, error) {
	fn, ok := p.funcs[name]
	if !ok {
		return nil, unknownf("platform function %q is not registered in Config.Platform", name)
	}
	data, err := json.Marshal(args)
	if err != nil {
		return nil, fmt.Errorf("platform %s: encode args: %w", name, err)
	}
	out, err := fn(p.ctx, data)
	if err != nil {
		return nil, fmt.Errorf("platform %s: %w", name, err)
	}
	return out, nil
}

// Progress is one progress report from an action.
type Progress struct {
	Progress float64
	Total    float64 // 0: unknown
	Message  string
}

// Reporter receives an action's progress and log messages for its caller:
// the MCP layer turns them into notifications. Methods must not block for
// long: they run on the action's goroutine.
type Reporter interface {
	Progress(p Progress)
	Log(level slog.Level, msg string, args ...any)
}

type reporterKey struct{}

// WithReporter returns a context that makes actions called with it report to
// r.
func WithReporter(ctx context.Context, r Reporter) context.Context {
	return context.WithValue(ctx, reporterKey{}, r)
}

func reporterFrom(ctx context.Context) Reporter {
	if r, ok := ctx.Value(reporterKey{}).(Reporter); ok && r != nil {
		return r
	}
	return nopReporter{}
}

type nopReporter struct{}

func (nopReporter) Progress(Progress)              {}
func (nopReporter) Log(slog.Level, string, ...any) {}

// noProvider answers when Config.AI is not set.
type noProvider struct{}

func (noProvider) Stream(context.Context, ai.Request) iter.Seq2[string, error] {
	return func(yield func(string, error) bool) {
		yield("", fmt.Errorf("no AI provider configured: set backend.Config.AI (for example ai.NewOpenAI(ai.ConfigFromEnv(os.Getenv)))"))
	}
}
