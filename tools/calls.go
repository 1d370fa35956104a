package tools

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"runtime/debug"
	"sync"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"

	"github.com/mcp-sync/mcp-sync/backend"
	"github.com/mcp-sync/mcp-sync/schema"
	"github.com/mcp-sync/mcp-sync/wire"
)

func (s *Server) addCallTools() error {
	// Every mutator answers the same: wire.MutateOut.
	mutateOut, _, err := schema.ForType(reflect.TypeFor[wire.MutateOut](), "output of a mutator")
	if err != nil {
		return fmt.Errorf("the mutators' output: %w", err)
	}
	for _, m := range s.eng.ClientMutators() { // internal ones are never tools
		t := mcp.NewToolWithRawSchema(m.Name, m.Description, s.inputSchema(m.Name, m.InputSchema))
		t.RawOutputSchema = mutateOut
		t.Annotations = hints(false, m.Destructive, m.Idempotent, false)
		name := m.Name
		s.mcp.AddTool(t, func(ctx context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			return s.callMutator(ctx, name, req)
		})
	}
	for _, a := range s.eng.ClientActions() {
		t := mcp.NewToolWithRawSchema(a.Name, a.Description, s.inputSchema(a.Name, a.InputSchema))
		if !a.TextOutput && !a.ContentOutput {
			t.RawOutputSchema = a.OutputSchema
		}
		t.Annotations = hints(false, a.Destructive, a.Idempotent, true)
		t.Execution = s.toolExecution(a.Name)
		name, kind := a.Name, kindOf(a)
		s.mcp.AddTool(t, func(ctx context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			return s.callAction(ctx, name, kind, req)
		})
	}
	return nil
}

// arguments returns a call's arguments as JSON; absent arguments are {}.
// The bytes are the request's own (mcp-go keeps them), checked here before
// anything decodes them: decoding would turn invalid UTF-8 and lone
// surrogate escapes into U+FFFD, so two distinct keys could name one row.
func arguments(req mcp.CallToolRequest) (json.RawMessage, error) {
	raw, err := rawArguments(req)
	if err != nil {
		return nil, err
	}
	if err := backend.CheckJSONText("the arguments", raw); err != nil {
		return nil, err
	}
	return raw, nil
}

// rawArguments is arguments without the text check, for mutator and action
// calls: the engine checks their input itself (Engine.checkInput), so
// checking here too would scan every call's input twice.
func rawArguments(req mcp.CallToolRequest) (json.RawMessage, error) {
	args := req.GetRawArguments()
	if args == nil {
		return json.RawMessage("{}"), nil
	}
	raw, ok := args.(json.RawMessage)
	if !ok {
		var err error
		if raw, err = json.Marshal(args); err != nil {
			return nil, fmt.Errorf("arguments are not JSON: %w", err)
		}
	}
	return raw, nil
}

func (s *Server) callMutator(ctx context.Context, name string, req mcp.CallToolRequest) (res *mcp.CallToolResult, err error) {
	ctx, done := s.calls.start(withCall(ctx, name))
	defer done()
	defer s.recoverCall(name, &res)
	input, err := rawArguments(req)
	if err != nil {
		return errorWithKind(wire.KindInvalidInput, fmt.Sprintf("mutator %s: %v. Nothing was written.", name, err)), nil
	}
	m, err := s.eng.Mutate(ctx, name, input)
	if err != nil {
		return s.errorResult(ctx, "mutator", name, err), nil
	}
	res, err = structured(wire.MutateOut{Version: m.Version, Runs: m.ClientRuns()})
	if err != nil {
		return s.errorResult(ctx, "mutator", name, err), nil
	}
	return res, nil
}

func (s *Server) callAction(ctx context.Context, name string, kind outputKind, req mcp.CallToolRequest) (res *mcp.CallToolResult, err error) {
	ctx, done := s.calls.start(withCall(ctx, name))
	defer done()
	defer s.recoverCall(name, &res)
	input, err := rawArguments(req)
	if err != nil {
		return errorWithKind(wire.KindInvalidInput, fmt.Sprintf("action %s: %v", name, err)), nil
	}
	asker, err := s.newAsker(ctx, name, req)
	if err != nil {
		return nil, err // a JSON-RPC error: the state is no tool's result
	}
	rep := newReporter(ctx, s.mcp, req)
	release, err := s.actions.acquire(ctx, sessionID(ctx), rep)
	if err != nil {
		return s.limitResult(ctx, name, err), nil
	}
	defer release() // a panic recoverCall catches must not keep the slot (release runs once)
	out, err := s.eng.Act(backend.WithAsker(backend.WithReporter(ctx, rep), asker), name, input)
	release()
	rep.settle()
	if ir, ierr := s.inputRequired(name, asker); ierr != nil {
		return s.errorResult(ctx, "action", name, ierr), nil
	} else if ir != nil {
		return ir, nil
	}
	if err != nil {
		return s.errorResult(ctx, "action", name, err), nil
	}
	res, err = outputResult(kind, out)
	if err != nil {
		return errorWithKind(wire.KindInvalidOutput, fmt.Sprintf("action %s failed: its output is not what it declared (a server bug): %v", name, err)), nil
	}
	return res, nil
}

// errorResult turns an engine error into an isError result whose message a
// model can act on, and whose _meta says the kind for programs.
func (s *Server) errorResult(ctx context.Context, kind, name string, err error) *mcp.CallToolResult {
	var (
		msg string
		k   wire.ErrorKind
	)
	switch backend.KindOf(err) {
	case backend.ErrInvalidInput:
		// The engine's message already names the mutator or action.
		k, msg = wire.KindInvalidInput, fmt.Sprintf("%v. Nothing was written; fix the arguments to match the tool's inputSchema and call again.", err)
	case backend.ErrInvalidOutput:
		s.log.Error("action output does not match its declared schema", "action", name, "err", err)
		k, msg = wire.KindInvalidOutput, fmt.Sprintf("%s %s failed: its output did not match its declared output schema (a server bug): %v", kind, name, err)
	case backend.ErrClosed:
		k, msg = wire.KindUnavailable, fmt.Sprintf("%s %s: the server is shutting down; call again once it is back", kind, name)
	case backend.ErrUnavailable:
		k, msg = wire.KindUnavailable, err.Error()
	case backend.ErrUnknown:
		k, msg = wire.KindUnknown, err.Error()
	case backend.ErrDamaged:
		k, msg = wire.KindDamaged, err.Error()
	case backend.ErrForbidden:
		k, msg = wire.KindForbidden, err.Error()
	default:
		switch {
		case ctx.Err() != nil && errors.Is(err, context.Canceled):
			k, msg = wire.KindCancelled, fmt.Sprintf("%s %s was cancelled", kind, name)
		case ctx.Err() != nil && errors.Is(err, context.DeadlineExceeded):
			k, msg = wire.KindCancelled, fmt.Sprintf("%s %s ran out of time", kind, name)
		case backend.KindOf(err) == backend.ErrHandler:
			// The app's own error: its words are meant for the caller.
			k, msg = wire.KindHandler, err.Error()
		case backend.KindOf(err) == backend.ErrInternal:
			// Already logged by the engine; the message holds only the ref.
			k, msg = wire.KindInternal, err.Error()
		default:
			// Unclassified: treat as internal, so that no detail (a file
			// path, say) reaches the client.
			k, msg = wire.KindInternal, s.internalMessage(kind+" "+name, err, nil)
		}
	}
	return errorWithKind(k, msg)
}

// internalMessage logs an internal failure's detail at ERROR under a new
// reference and returns the only thing the client sees of it.
func (s *Server) internalMessage(where string, detail any, stack []byte) string {
	ref := backend.NewRef()
	args := []any{"ref", ref, "where", where, "detail", detail}
	if stack != nil {
		args = append(args, "stack", string(stack))
	}
	s.log.Error("internal error", args...)
	return fmt.Sprintf("%s: internal error (ref %s); the server logged the detail", where, ref)
}

// errorWithKind is an isError result whose _meta says its kind. The value
// is wire.ErrorMeta's JSON, built as a map: that is what a client of an
// in-process transport, which skips JSON, finds there too.
func errorWithKind(kind wire.ErrorKind, msg string) *mcp.CallToolResult {
	res := mcp.NewToolResultError(msg)
	res.Meta = &mcp.Meta{AdditionalFields: map[string]any{wire.ErrorMetaKey: map[string]any{"kind": string(kind)}}}
	return res
}

// recoverCall keeps a panic in user code (or ours) from ending the server.
// The engine already recovers panics in mutators and actions; this is the
// last line.
func (s *Server) recoverCall(name string, res **mcp.CallToolResult) {
	if r := recover(); r != nil {
		*res = errorWithKind(wire.KindInternal, s.internalMessage(name, fmt.Sprintf("panic: %v", r), debug.Stack()))
	}
}

// inflight tracks running calls per session so that they can be cancelled
// when their session ends: mcp-go's SSE transport runs calls on a context
// that outlives the connection.
type inflight struct {
	mu     sync.Mutex
	byID   map[string]map[*callEntry]struct{}
	closed bool
}

type callEntry struct{ cancel context.CancelFunc }

func newInflight() *inflight { return &inflight{byID: map[string]map[*callEntry]struct{}{}} }

func (f *inflight) start(ctx context.Context) (context.Context, func()) {
	ctx, cancel := context.WithCancel(ctx)
	id := ""
	if sess := server.ClientSessionFromContext(ctx); sess != nil {
		id = sess.SessionID()
	}
	e := &callEntry{cancel: cancel}
	f.mu.Lock()
	if f.closed {
		cancel()
	}
	if f.byID[id] == nil {
		f.byID[id] = map[*callEntry]struct{}{}
	}
	f.byID[id][e] = struct{}{}
	f.mu.Unlock()
	return ctx, func() {
		cancel()
		f.mu.Lock()
		delete(f.byID[id], e)
		if len(f.byID[id]) == 0 {
			delete(f.byID, id)
		}
		f.mu.Unlock()
	}
}

func (f *inflight) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, calls := range f.byID {
		n += len(calls)
	}
	return n
}

func (f *inflight) cancelSession(id string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for e := range f.byID[id] {
		e.cancel()
	}
}

func (f *inflight) cancelAll() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.closed = true
	for _, calls := range f.byID {
		for e := range calls {
			e.cancel()
		}
	}
}

// levels maps slog levels to MCP logging levels.
func mcpLevel(l slog.Level) mcp.LoggingLevel {
	switch {
	case l >= slog.LevelError:
		return mcp.LoggingLevelError
	case l >= slog.LevelWarn:
		return mcp.LoggingLevelWarning
	case l >= slog.LevelInfo:
		return mcp.LoggingLevelInfo
	}
	return mcp.LoggingLevelDebug
}
