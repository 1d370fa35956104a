package tools

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"

	"github.com/mcp-sync/mcp-sync/backend"
	"github.com/mcp-sync/mcp-sync/tools/auth"
	"github.com/mcp-sync/mcp-sync/wire"
)

// Options configures a [Server]. The zero value serves the engine's schema
// with nothing else.
type Options struct {
	// Name and Version are the server's implementation info (defaults
	// "mcp-sync" and "dev").
	Name, Version string
	// Instructions are shown to models by clients that support them.
	Instructions string
	// Logger receives the server's own logs (default: discard). In a stdio
	// server it must not write to stdout.
	Logger *slog.Logger
	// Resources, Templates and Prompts are the app's own, served beside the
	// table resources with their own handlers.
	Resources []server.ServerResource
	Templates []server.ServerResourceTemplate
	Prompts   []server.ServerPrompt
	// CompletePrompt and CompleteTemplate, when set, answer
	// completion/complete for the arguments of Prompts (ref: the prompt's
	// name) and of Templates (ref: the URI template). The row template's
	// arguments are completed without them: {table} from the client tables'
	// names, {key} from the chosen table's keys by prefix.
	CompletePrompt, CompleteTemplate CompleteFunc
	// NotifyRetry is how long a subscription waits before retrying an
	// update a client's full notification queue refused (default 20 ms).
	NotifyRetry time.Duration

	// MaxActionCalls is how many direct action calls (tool calls of
	// actions) run at once, across sessions; default 32, negative: no
	// limit. Enqueued runs are bounded by backend.Options.Workers instead.
	MaxActionCalls int
	// MaxActionCallsPerSession is how many direct action calls one session
	// runs at once; default 4, negative: no limit. Clients without a session
	// (2026-07-28 streamable HTTP) meet MaxActionCalls only.
	MaxActionCallsPerSession int
	// MaxActionQueue is how many action calls may wait for a slot (told so
	// by a progress notification when they sent a progressToken); a call
	// beyond it fails at once with error kind wire.KindBusy; default 64,
	// negative: no queue (a call that finds no free slot fails at once).
	MaxActionQueue int

	// TaskSupport says, by action name, whether a call of the action may
	// run as a task (mcp.TaskSupportOptional, the default for every action
	// not named), must (mcp.TaskSupportRequired) or may not
	// (mcp.TaskSupportForbidden). A call runs as a task when the client
	// declares the 2026-07-28 tasks extension on it, or on 2025-11-25 sends
	// params.task: it returns a task handle at once, and the run record is
	// the task (see [TasksExtension]). A sensitive action (schema.Sensitive)
	// never runs as a task: a task's result is read by id, like get_run,
	// which never shows such an action's output.
	TaskSupport map[string]mcp.TaskSupport

	// AskBeforeTask names actions whose first input requests
	// (backend.ActionCtx.Ask, Elicit, Sample, Roots) are put to a
	// 2026-07-28 client before their task starts (SEP-2663 with SEP-2322):
	// a call with the tasks extension runs the action as a direct call
	// until it asks, and answers input_required with the requests and a
	// requestState; the call that brings the answers starts the task, whose
	// run finds them (later questions wait in the task's input_required).
	// The action's code before its first question runs on that first call
	// too: ask first. An action that finishes without asking answers that
	// call directly, with no task.
	AskBeforeTask map[string]bool

	// ClientNeeds names, by action, the client capabilities
	// (backend.CapElicitation, CapSampling, CapRoots) the action cannot run
	// without: a 2026-07-28 call from a client that did not declare one is
	// refused with -32021 (missing required client capability) before the
	// action runs. An action not named here that asks for what the client
	// lacks fails with a tool error saying so.
	ClientNeeds map[string][]string

	// MaxSubscriptionsPerSession bounds the resources one session may
	// subscribe to, and the URIs one subscriptions/listen may name
	// (default 1,000; negative: no limit); beyond it the request fails
	// with an error naming the limit.
	MaxSubscriptionsPerSession int
	// MaxSubscriptions bounds the resource subscriptions the server holds
	// across all sessions and subscriptions/listen streams (default 50,000;
	// negative: no limit); beyond it a subscribe or listen fails with an
	// error naming the limit. It is what bounds 2026-07-28 listen streams,
	// which have no session.
	MaxSubscriptions int

	// Auth, when set, makes the HTTP transports an OAuth 2.1 resource
	// server (the MCP authorization profile): every request needs an
	// access token Auth accepts, the protected-resource metadata is served
	// at auth.MetadataPath, and each call runs as the token's caller
	// (backend.IdentityFrom), who is shown only the tools whose scopes it
	// holds. Leave HTTPOptions.Token empty with it; HTTPOptions.InsecureNoToken
	// lets ServeHTTP bind an address other machines can reach. stdio is
	// not affected.
	Auth *auth.Verifier

	// StrictSchemas publishes every tool's input schema in the form
	// OpenAI's strict function calling accepts (schema.Strict): every
	// property required, optional ones nullable, additionalProperties false
	// on every object, constraints worded in descriptions. Hosts that
	// forward schemas with strict: true need it. Calls are still validated
	// against the declared schemas, and a null argument reads as absent.
	StrictSchemas bool
}

// Server is an engine served over MCP. Serve it with [Server.ServeStdio] or
// [Server.ServeHTTP], or mount [Server.HTTPHandler] (streamable HTTP and
// SSE) in a server of your own. Close it before closing the engine.
type Server struct {
	eng     *backend.Engine
	mcp     *server.MCPServer
	log     *slog.Logger
	subs    *registry
	calls   *inflight
	actions *actionLimiter
	opts    Options
	// actionOut holds every client action's name, and how its output
	// becomes a tool result.
	actionOut map[string]outputKind
	stateKey  stateKey        // signs input-required results' requestState
	sensitive map[string]bool // client actions declared schema.Sensitive

	closeOnce sync.Once
	sessions  atomic.Int64
	owners    sync.Map // session id → the subject that opened it, with Options.Auth
	// sessionEnds holds, by SSE session id, a context that ends with the
	// session; sessionStops its cancel func (sseTasks).
	sessionEnds, sessionStops sync.Map
}

// Stats are counts of what a server holds, for load tests and monitoring.
type Stats struct {
	Sessions      int64 // registered sessions (stdio, SSE, legacy streamable HTTP)
	Subscribers   int   // clients holding resource subscriptions
	Subscriptions int   // (client, URI) pairs
	WatchedTables int   // engine feeds feeding them: one per table, per owner of a private table
	Calls         int   // tool calls in flight
}

// Stats returns the server's current counts.
func (s *Server) Stats() Stats {
	st := Stats{Sessions: s.sessions.Load(), Calls: s.calls.count()}
	s.subs.mu.Lock()
	st.Subscribers, st.WatchedTables = len(s.subs.clients), len(s.subs.watchers)
	for _, c := range s.subs.clients {
		st.Subscriptions += len(c.uris)
	}
	s.subs.mu.Unlock()
	return st
}

// New builds the MCP server for eng. It fails when a declared name clashes
// with a read tool's.
func New(eng *backend.Engine, opts Options) (*Server, error) {
	if opts.Name == "" {
		opts.Name = "mcp-sync"
	}
	if opts.Version == "" {
		opts.Version = "dev"
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.NotifyRetry <= 0 {
		opts.NotifyRetry = 20 * time.Millisecond
	}
	s := &Server{eng: eng, log: opts.Logger, opts: opts, calls: newInflight(), actions: newActionLimiter(
		defaultInt(opts.MaxActionCalls, DefaultMaxActionCalls),
		defaultInt(opts.MaxActionCallsPerSession, DefaultMaxActionCallsPerSession),
		defaultInt(opts.MaxActionQueue, DefaultMaxActionQueue))}
	s.actionOut, s.sensitive = map[string]outputKind{}, map[string]bool{}
	var err error
	if s.stateKey, err = newStateKey(); err != nil {
		return nil, fmt.Errorf("drawing the request-state key: %w", err)
	}
	for _, a := range eng.ClientActions() {
		s.actionOut[a.Name] = kindOf(a)
		s.sensitive[a.Name] = a.Sensitive
	}
	sch := eng.Schema()
	// The read and sync tools' names are taken.
	for _, name := range []string{wire.ToolGetRow, wire.ToolListRows, wire.ToolGetRun, wire.ToolListHistory, wire.ToolSyncChanges, wire.ToolSyncPush, wire.ToolSyncState} {
		if _, ok := sch.Mutator(name); ok {
			return nil, fmt.Errorf("mutator %q: the name is taken by mcp-sync's read tool of that name; rename the mutator", name)
		}
		if _, ok := sch.Action(name); ok {
			return nil, fmt.Errorf("action %q: the name is taken by mcp-sync's read tool of that name; rename the action", name)
		}
	}

	hooks := &server.Hooks{}
	s.subs = newRegistry(eng, s.log, opts.NotifyRetry)
	opt := []server.ServerOption{
		server.WithHooks(hooks),
		server.WithToolCapabilities(false),
		server.WithResourceCapabilities(true, false),
		server.WithLogging(),
		server.WithRecovery(),
		server.WithResourceRecovery(),
		server.WithToolFilter(hideSyncTools),
		server.WithExtensions(map[string]any{TasksExtension: map[string]any{}}),
		server.WithCompletions(),
		server.WithPromptCompletionProvider(completer{s}),
		server.WithResourceCompletionProvider(completer{s}),
	}
	if opts.Auth != nil {
		opt = append(opt, server.WithToolFilter(s.filterTools))
		s.hookOwners(hooks)
	}
	if opts.Instructions != "" {
		opt = append(opt, server.WithInstructions(opts.Instructions))
	}
	if len(opts.Prompts) > 0 {
		opt = append(opt, server.WithPromptCapabilities(false))
	}
	s.mcp = server.NewMCPServer(opts.Name, opts.Version, opt...)
	s.subs.mcp = s.mcp

	if err := s.addCallTools(); err != nil {
		return nil, err
	}
	if err := s.addReadTools(); err != nil {
		return nil, err
	}
	if err := s.addHistoryTool(); err != nil {
		return nil, err
	}
	if err := s.addSyncTools(); err != nil {
		return nil, err
	}
	s.addResources()
	if len(opts.Resources) > 0 {
		s.mcp.AddResources(opts.Resources...)
	}
	if len(opts.Templates) > 0 {
		s.mcp.AddResourceTemplates(opts.Templates...)
	}
	if len(opts.Prompts) > 0 { // adding none would still advertise prompts
		s.mcp.AddPrompts(opts.Prompts...)
	}

	s.subs.hook(hooks)
	perSession := defaultInt(opts.MaxSubscriptionsPerSession, DefaultMaxSubscriptionsPerSession)
	if total := defaultInt(opts.MaxSubscriptions, DefaultMaxSubscriptions); perSession > 0 || total > 0 {
		s.limitSubscriptions(hooks, max(perSession, 0), max(total, 0))
	}
	s.answerNotFound(hooks)
	s.hookTasks(hooks)
	hooks.AddOnRegisterSession(func(context.Context, server.ClientSession) { s.sessions.Add(1) })
	hooks.AddOnUnregisterSession(func(_ context.Context, sess server.ClientSession) {
		s.sessions.Add(-1)
		// SSE runs calls on a context that outlives the connection: end them
		// with the session.
		s.calls.cancelSession(sess.SessionID())
	})
	return s, nil
}

// MCP returns the underlying mcp-go server, for transports this package
// does not wrap.
func (s *Server) MCP() *server.MCPServer { return s.mcp }

// Close stops delivering subscription updates and cancels calls in flight.
// It does not close the engine.
func (s *Server) Close() {
	s.closeOnce.Do(func() {
		s.calls.cancelAll()
		s.subs.close()
	})
}

// hints builds explicit tool annotations: mcp-go's defaults (destructive,
// open-world) are wrong for most of ours.
func hints(readOnly, destructive, idempotent, openWorld bool) mcp.ToolAnnotation {
	return mcp.ToolAnnotation{
		ReadOnlyHint:    &readOnly,
		DestructiveHint: &destructive,
		IdempotentHint:  &idempotent,
		OpenWorldHint:   &openWorld,
	}
}
