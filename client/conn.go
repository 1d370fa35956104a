package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"time"

	mgclient "github.com/mark3labs/mcp-go/client"
	mgtransport "github.com/mark3labs/mcp-go/client/transport"
	"github.com/mark3labs/mcp-go/mcp"

	"github.com/mcp-sync/mcp-sync/tools/wire"
)

// Errors a call can fail with; the error returned wraps one (errors.Is).
var (
	// ErrInvalidInput: the arguments do not match the tool's schema; nothing
	// was written. The message names the field paths.
	ErrInvalidInput = errors.New("invalid input")
	// ErrHandler: the mutator or action ran and returned an error (or
	// panicked, or produced output that breaks its schema).
	ErrHandler = errors.New("handler failed")
	// ErrUnknown: no such tool, table, row or run.
	ErrUnknown = errors.New("unknown")
	// ErrTransport: the call did not get an answer: the connection failed,
	// the server went away, or the context ended. For a mutation, whether it
	// was applied is unknown (a Replica's pushes are safe to retry).
	ErrTransport = errors.New("transport failed")
)

// CallError is a tool call that the server answered with isError.
type CallError struct {
	Tool    string
	Kind    string // as the server says: invalid_input, handler, unknown, cancelled, …
	Message string
}

// Error returns the tool's name and the server's message.
func (e *CallError) Error() string { return e.Tool + ": " + e.Message }

// Unwrap maps the server's kind to this package's sentinels.
func (e *CallError) Unwrap() error {
	switch e.Kind {
	case "invalid_input":
		return ErrInvalidInput
	case "unknown":
		return ErrUnknown
	case "unavailable", "cancelled":
		return ErrTransport
	}
	return ErrHandler
}

// Options configure a connection.
type Options struct {
	// Token is sent as Authorization: Bearer <Token> (HTTP only).
	Token string
	// Legacy speaks protocol 2025-11-25 instead of 2026-07-28.
	Legacy bool
	// Env is the environment of a server started with DialCommand
	// (default: this process's).
	Env []string
	// Stderr receives the stderr of a server started with DialCommand
	// (default: discarded).
	Stderr io.Writer
	// Logger receives the transport's own logs (mcp-go's: stream errors,
	// reconnects); default: discarded, since failures reach the caller as
	// errors.
	Logger *slog.Logger
}

// Conn is a connection to an mcp-sync server. It is safe for concurrent use.
// After the connection fails, [Conn.Reconnect] dials again (Watch and
// Replica do so themselves).
type Conn struct {
	dialFn func(ctx context.Context) (*mgclient.Client, bool, error)

	mu           sync.Mutex
	c            *mgclient.Client
	legacy       bool
	closed       bool
	gen          int                        // bumped by each reconnect
	reconnecting sync.Mutex                 // held for a whole Reconnect
	watches      map[string]map[*inbox]bool // URI → its watches' inboxes
	subscribed   map[string]*subscribing    // URI → its first watch's subscription
	subTurn      chan struct{}              // held (capacity 1) to subscribe or unsubscribe: orders them
	listen       context.CancelFunc
	acked        chan struct{}           // closed when the server acknowledges the newest listen stream
	nudge        *time.Timer             // makes every watcher read once, after a stream is replaced
	nudgeSince   time.Time               // the first acknowledgement the pending nudge answers
	nudgeDelay   time.Duration           // nudgeDelay, but a field so that a test can widen it
	nudgeMax     time.Duration           // nudgeMax, likewise
	progress     map[string]ProgressFunc // by progress token
}

// DialHTTP connects to a server's streamable HTTP endpoint (…/mcp), or its
// SSE endpoint when url ends in /sse.
func DialHTTP(ctx context.Context, url string, o Options) (*Conn, error) {
	headers := map[string]string{}
	if o.Token != "" {
		headers["Authorization"] = "Bearer " + o.Token
	}
	sse := strings.HasSuffix(url, "/sse")
	logger := o.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return dial(ctx, o.Legacy || sse, func() (mgtransport.Interface, error) {
		if sse {
			return mgtransport.NewSSE(url, mgtransport.WithHeaders(headers), mgtransport.WithSSELogger(logger))
		}
		opts := []mgtransport.StreamableHTTPCOption{mgtransport.WithHTTPHeaders(headers), mgtransport.WithHTTPLogger(logger)}
		if o.Legacy {
			//lint:ignore SA1019 the legacy era receives updates on the GET stream
			opts = append(opts, mgtransport.WithContinuousListening())
		}
		return mgtransport.NewStreamableHTTP(url, opts...)
	})
}

// DialCommand starts command (for example "mcp-sync" with args "serve",
// "--data", file) and talks to it over stdio; its stderr goes to o.Stderr.
func DialCommand(ctx context.Context, command string, args []string, o Options) (*Conn, error) {
	stderr := o.Stderr
	if stderr == nil {
		stderr = io.Discard
	}
	return dial(ctx, o.Legacy, func() (mgtransport.Interface, error) {
		st := mgtransport.NewStdioWithOptions(command, o.Env, args)
		if err := st.Start(context.WithoutCancel(ctx)); err != nil {
			return nil, fmt.Errorf("starting %s: %w", command, err)
		}
		go func() { _, _ = io.Copy(stderr, st.Stderr()) }()
		return st, nil
	})
}

func dial(ctx context.Context, legacy bool, transport func() (mgtransport.Interface, error)) (*Conn, error) {
	cn := &Conn{legacy: legacy, watches: map[string]map[*inbox]bool{}, subscribed: map[string]*subscribing{},
		subTurn: make(chan struct{}, 1), nudgeDelay: nudgeDelay, nudgeMax: nudgeMax}
	cn.dialFn = func(ctx context.Context) (*mgclient.Client, bool, error) {
		tr, err := transport()
		if err != nil {
			return nil, false, fmt.Errorf("%w: %v", ErrTransport, err)
		}
		var opts []mgclient.ClientOption
		if legacy {
			//lint:ignore SA1019 chosen by Options.Legacy (or SSE)
			opts = append(opts, mgclient.WithLegacyProtocolOnly())
		}
		// Ask for changes in update notifications (see wire.ChangesMetaKey).
		opts = append(opts, mgclient.WithClientCapabilities(mcp.ClientCapabilities{
			Experimental: map[string]any{wire.ChangesMetaKey: map[string]any{}}}))
		c := mgclient.NewClient(tr, opts...)
		c.OnNotification(cn.notified)
		if err := c.Start(context.WithoutCancel(ctx)); err != nil { // lives as long as the session
			return nil, false, fmt.Errorf("%w: connecting: %v", ErrTransport, err)
		}
		req := mcp.InitializeRequest{}
		req.Params.ClientInfo = mcp.Implementation{Name: "mcp-sync-go-client", Version: "1"}
		if legacy {
			req.Params.ProtocolVersion = mcp.ProtocolVersion20251125
		}
		ictx, cancel := context.WithTimeout(ctx, 15*time.Second)
		defer cancel()
		if _, err := c.Initialize(ictx, req); err != nil {
			c.Close()
			return nil, false, fmt.Errorf("%w: initializing: %v", ErrTransport, err)
		}
		return c, legacy, nil
	}
	c, _, err := cn.dialFn(ctx)
	if err != nil {
		return nil, err
	}
	cn.c = c
	return cn, nil
}

// Close ends the connection.
func (cn *Conn) Close() error {
	cn.mu.Lock()
	defer cn.mu.Unlock()
	if cn.closed {
		return nil
	}
	cn.closed = true
	if cn.listen != nil {
		cn.listen()
	}
	if cn.nudge != nil {
		cn.nudge.Stop()
	}
	for _, boxes := range cn.watches {
		for b := range boxes {
			close(b.wake)
		}
	}
	cn.watches = nil
	return cn.c.Close()
}

// Reconnect replaces a failed connection with a new one and subscribes
// again to everything watched. gen is the generation of the connection the
// caller saw fail (see the errors' context); when it has been replaced
// already, Reconnect does nothing, so concurrent callers reconnect once.
func (cn *Conn) Reconnect(ctx context.Context, gen int) error {
	cn.reconnecting.Lock()
	defer cn.reconnecting.Unlock()
	cn.mu.Lock()
	if cn.closed {
		cn.mu.Unlock()
		return fmt.Errorf("%w: the connection is closed", ErrTransport)
	}
	if gen != cn.gen { // someone else reconnected already
		cn.mu.Unlock()
		return nil
	}
	old := cn.c
	cn.mu.Unlock()
	_ = old.Close()
	c, _, err := cn.dialFn(ctx)
	if err != nil {
		return err
	}
	// The turn before the list: an unsubscribe of a URI no longer watched
	// must not run between reading it and subscribing.
	if err := cn.takeTurn(ctx); err != nil {
		c.Close()
		return err
	}
	defer cn.endTurn()
	cn.mu.Lock()
	if cn.closed {
		cn.mu.Unlock()
		c.Close()
		return fmt.Errorf("%w: the connection is closed", ErrTransport)
	}
	cn.c, cn.gen = c, cn.gen+1
	uris := cn.watchedLocked()
	cn.mu.Unlock()
	if err := cn.subscribeAll(ctx, c, uris); err != nil {
		// Some URIs may be left unsubscribed on the new connection: close
		// it, so that the next call fails and reconnects again.
		c.Close()
		return err
	}
	if cn.legacy {
		// Commits while the old session was gone were announced to nobody:
		// every watcher reads once (2026-07-28 streams do so on their
		// acknowledgement).
		cn.mu.Lock()
		cn.nudgeLocked()
		cn.mu.Unlock()
	}
	return nil
}

// client returns the current MCP client and its generation.
func (cn *Conn) client() (*mgclient.Client, int, error) {
	cn.mu.Lock()
	defer cn.mu.Unlock()
	if cn.closed {
		return nil, 0, fmt.Errorf("%w: the connection is closed", ErrTransport)
	}
	return cn.c, cn.gen, nil
}

// Call calls a tool with args (anything that marshals to a JSON object) and
// returns its structured result as JSON (text results as a JSON string).
func (cn *Conn) Call(ctx context.Context, tool string, args any) (json.RawMessage, error) {
	out, _, err := cn.call(ctx, tool, args, nil)
	return out, err
}

// CallWithProgress is Call that passes the tool's progress reports to f.
func (cn *Conn) CallWithProgress(ctx context.Context, tool string, args any, f ProgressFunc) (json.RawMessage, error) {
	out, _, err := cn.call(ctx, tool, args, f)
	return out, err
}

// ListTools returns the server's tool list.
func (cn *Conn) ListTools(ctx context.Context) (*mcp.ListToolsResult, error) {
	c, _, err := cn.client()
	if err != nil {
		return nil, err
	}
	res, err := c.ListTools(ctx, mcp.ListToolsRequest{})
	if err != nil {
		return nil, fmt.Errorf("%w: listing tools: %v", ErrTransport, err)
	}
	return res, nil
}

// ReadResource returns the text of the resource at uri.
func (cn *Conn) ReadResource(ctx context.Context, uri string) (string, error) {
	c, _, err := cn.client()
	if err != nil {
		return "", err
	}
	res, err := c.ReadResource(ctx, mcp.ReadResourceRequest{Params: mcp.ReadResourceParams{URI: uri}})
	if err != nil {
		var te *mgtransport.Error
		if errors.As(err, &te) || ctx.Err() != nil {
			return "", fmt.Errorf("%w: reading %s: %v", ErrTransport, uri, err)
		}
		return "", fmt.Errorf("%w: %s: %v", ErrUnknown, uri, err)
	}
	for _, c := range res.Contents {
		if t, ok := c.(mcp.TextResourceContents); ok {
			return t.Text, nil
		}
	}
	return "", fmt.Errorf("resource %s has no text content", uri)
}

// Subscribe asks for updates of the resource at uri: the channel receives a
// value after each (coalesced: at most one pending), and is closed by stop
// or when the connection closes. It outlives reconnects.
func (cn *Conn) Subscribe(ctx context.Context, uri string) (updates <-chan struct{}, stop func(), err error) {
	b, stop, err := cn.watch(ctx, uri, false)
	if err != nil {
		return nil, nil, err
	}
	return b.wake, stop, nil
}

// ProgressFunc receives an action's progress reports.
type ProgressFunc func(progress, total float64, message string)

func (cn *Conn) call(ctx context.Context, tool string, args any, onProgress ProgressFunc) (json.RawMessage, int, error) {
	c, gen, err := cn.client()
	if err != nil {
		return nil, gen, err
	}
	raw, err := json.Marshal(args)
	if err != nil {
		return nil, gen, fmt.Errorf("%s: encoding the arguments: %w", tool, err)
	}
	req := mcp.CallToolRequest{}
	req.Params.Name = tool
	req.Params.Arguments = json.RawMessage(raw)
	if onProgress != nil {
		token := fmt.Sprintf("p%d", time.Now().UnixNano())
		req.Params.Meta = &mcp.Meta{ProgressToken: token}
		cn.onProgress(token, onProgress)
		defer cn.onProgress(token, nil)
	}
	res, err := c.CallTool(ctx, req)
	if err != nil {
		var te *mgtransport.Error
		switch {
		case errors.As(err, &te) || ctx.Err() != nil:
			return nil, gen, fmt.Errorf("%s: %w: %v", tool, ErrTransport, err)
		case errors.Is(err, mcp.ErrInvalidParams) && strings.Contains(err.Error(), "not found"),
			errors.Is(err, mcp.ErrMethodNotFound):
			return nil, gen, &CallError{Tool: tool, Kind: "unknown", Message: err.Error()}
		case errors.Is(err, mcp.ErrInvalidParams):
			return nil, gen, &CallError{Tool: tool, Kind: "invalid_input", Message: err.Error()}
		}
		return nil, gen, fmt.Errorf("%s: %w: %v", tool, ErrTransport, err)
	}
	if res.IsError {
		ce := &CallError{Tool: tool, Kind: "handler", Message: textOf(res)}
		if res.Meta != nil {
			if m, ok := res.Meta.AdditionalFields[wire.ErrorMetaKey].(map[string]any); ok {
				if k, ok := m["kind"].(string); ok {
					ce.Kind = k
				}
			}
		}
		return nil, gen, ce
	}
	if res.StructuredContent != nil {
		// The text block holds the same JSON as it came (the spec asks
		// servers for it, and ours always send it); StructuredContent went
		// through a generic decoder that turned integers past 2^53 into
		// inexact float64s.
		if text := textOf(res); sameKind(text, res.StructuredContent) {
			return json.RawMessage(text), gen, nil
		}
		out, err := json.Marshal(res.StructuredContent)
		return out, gen, err
	}
	out, err := json.Marshal(textOf(res))
	return out, gen, err
}

// sameKind reports whether text is JSON of the same kind (object or array)
// as structured, the generic decoding of a result's structured content.
func sameKind(text string, structured any) bool {
	t := strings.TrimSpace(text)
	if t == "" || !json.Valid([]byte(t)) {
		return false
	}
	switch structured.(type) {
	case map[string]any:
		return t[0] == '{'
	case []any:
		return t[0] == '['
	}
	return false
}

func textOf(res *mcp.CallToolResult) string {
	var b strings.Builder
	for _, c := range res.Content {
		if t, ok := c.(mcp.TextContent); ok {
			b.WriteString(t.Text)
		}
	}
	return b.String()
}

func (cn *Conn) onProgress(token string, f ProgressFunc) {
	cn.mu.Lock()
	defer cn.mu.Unlock()
	if cn.progress == nil {
		cn.progress = map[string]ProgressFunc{}
	}
	if f == nil {
		delete(cn.progress, token)
		return
	}
	cn.progress[token] = f
}

func (cn *Conn) notified(n mcp.JSONRPCNotification) {
	switch n.Method {
	case "notifications/progress":
		token := fmt.Sprint(n.Params.AdditionalFields["progressToken"])
		cn.mu.Lock()
		f := cn.progress[token]
		cn.mu.Unlock()
		if f != nil {
			p, _ := n.Params.AdditionalFields["progress"].(float64)
			total, _ := n.Params.AdditionalFields["total"].(float64)
			msg, _ := n.Params.AdditionalFields["message"].(string)
			f(p, total, msg)
		}
	case mcp.MethodNotificationSubscriptionsAcknowledged:
		cn.mu.Lock()
		if cn.acked != nil {
			close(cn.acked)
			cn.acked = nil
		}
		// A new stream replaced the old one (a URI added, a reconnect, a
		// re-listen): a commit between the two was announced on neither, so
		// every watcher reads once, after a pause that lets a burst of new
		// watches (each replacing the stream) cost one read each, not one per
		// watch per stream.
		// Each acknowledgement puts it off, but by no more than nudgeMax
		// in all; one that finds it firing is answered by it.
		fire := func() {
			cn.mu.Lock()
			cn.nudge = nil
			cn.nudgeLocked()
			cn.mu.Unlock()
		}
		switch now := time.Now(); {
		case cn.nudge == nil:
			cn.nudgeSince = now
			cn.nudge = time.AfterFunc(cn.nudgeDelay, fire)
		case now.Sub(cn.nudgeSince) < cn.nudgeMax && cn.nudge.Stop():
			cn.nudge = time.AfterFunc(cn.nudgeDelay, fire)
		}
		cn.mu.Unlock()
	case "notifications/resources/updated":
		uri, _ := n.Params.AdditionalFields["uri"].(string)
		var notice *wire.ChangeNotice // nil: the changes are not in the notification
		if raw, ok := n.Params.Meta[wire.ChangesMetaKey].(string); ok {
			notice = new(wire.ChangeNotice)
			if json.Unmarshal([]byte(raw), notice) != nil {
				notice = nil
			}
		}
		cn.mu.Lock()
		for b := range cn.watches[uri] {
			b.put(notice)
		}
		cn.mu.Unlock()
	}
}

// inbox is one watch's update notifications: wake holds a value while any
// wait (coalesced: one pending wake-up at most), and a Watcher takes the
// changes they carried from notices.
type inbox struct {
	wake chan struct{}
	keep bool // queue notices (a Watcher reads them); otherwise only wake

	mu      sync.Mutex
	notices []*wire.ChangeNotice // a nil entry: an update whose changes must be read
}

// maxInbox bounds the notices an inbox holds: past it they collapse into
// one "read the changes", which covers them all.
const maxInbox = 64

func (b *inbox) put(n *wire.ChangeNotice) {
	if b.keep {
		b.mu.Lock()
		if len(b.notices) >= maxInbox {
			b.notices = append(b.notices[:0], nil)
		} else {
			b.notices = append(b.notices, n)
		}
		b.mu.Unlock()
	}
	select {
	case b.wake <- struct{}{}:
	default: // a wake-up is pending already
	}
}

// take returns the notices that arrived since the last take.
func (b *inbox) take() []*wire.ChangeNotice {
	b.mu.Lock()
	defer b.mu.Unlock()
	ns := b.notices
	b.notices = nil
	return ns
}

// nudgeDelay is how long after a new listen stream's acknowledgement every
// watcher reads once (see notified); nudgeMax bounds how long a run of
// acknowledgements may put that off.
const (
	nudgeDelay = 50 * time.Millisecond
	nudgeMax   = 250 * time.Millisecond
)

// nudgeLocked makes every watcher read once. Callers hold cn.mu.
func (cn *Conn) nudgeLocked() {
	for _, boxes := range cn.watches {
		for b := range boxes {
			b.put(nil)
		}
	}
}

// subscribing is a URI's subscription by its first watch: later watches of
// the URI wait for it, so that none returns before the server has it.
type subscribing struct {
	done chan struct{}
	err  error // set before done closes
}

// watch subscribes to uri and returns the inbox its updates arrive in (keep:
// with the changes they carry), and a function that stops it.
func (cn *Conn) watch(ctx context.Context, uri string, keep bool) (*inbox, func(), error) {
	b := &inbox{wake: make(chan struct{}, 1), keep: keep}
	cn.mu.Lock()
	if cn.closed {
		cn.mu.Unlock()
		return nil, nil, fmt.Errorf("%w: the connection is closed", ErrTransport)
	}
	if cn.watches[uri] == nil {
		cn.watches[uri] = map[*inbox]bool{}
	}
	cn.watches[uri][b] = true
	cn.mu.Unlock()
	stop := func() {
		cn.mu.Lock()
		defer cn.mu.Unlock()
		if cn.watches != nil && cn.watches[uri][b] {
			delete(cn.watches[uri], b)
			if len(cn.watches[uri]) == 0 {
				delete(cn.watches, uri) // not subscribed again on a reconnect
				delete(cn.subscribed, uri)
				if cn.legacy && !cn.closed {
					go cn.unsubscribe(uri)
				}
			}
			close(b.wake)
		}
	}
	for {
		// The first watch of a URI subscribes; later ones wait for it, and
		// take over if it failed (its ctx may have ended, not theirs).
		cn.mu.Lock()
		sub := cn.subscribed[uri]
		mine := sub == nil
		if mine {
			sub = &subscribing{done: make(chan struct{})}
			cn.subscribed[uri] = sub
		}
		cn.mu.Unlock()
		if !mine {
			select {
			case <-sub.done:
			case <-ctx.Done():
				stop()
				return nil, nil, fmt.Errorf("%w: subscribing to %s: %v", ErrTransport, uri, ctx.Err())
			}
			if sub.err == nil {
				return b, stop, nil
			}
			continue
		}
		// Not under cn.mu: mcp-go's stdio and SSE transports deliver
		// notifications (which take cn.mu) on the goroutine that reads
		// this call's reply.
		err := cn.takeTurn(ctx)
		if err == nil {
			cn.mu.Lock()
			c := cn.c // read in turn: a Reconnect may have replaced it
			cn.mu.Unlock()
			err = cn.subscribeAll(ctx, c, []string{uri})
			cn.endTurn()
		}
		if err != nil {
			cn.mu.Lock()
			if cn.subscribed[uri] == sub {
				delete(cn.subscribed, uri) // the next watch tries again
			}
			cn.mu.Unlock()
		}
		sub.err = err
		close(sub.done)
		if err != nil {
			stop()
			return nil, nil, err
		}
		return b, stop, nil
	}
}

// watchedLocked lists the watched URIs. Callers hold cn.mu.
func (cn *Conn) watchedLocked() []string {
	uris := make([]string, 0, len(cn.watches))
	for uri := range cn.watches {
		uris = append(uris, uri)
	}
	return uris
}

// takeTurn waits, as long as ctx allows, for the turn to subscribe or
// unsubscribe; endTurn gives it back. A channel, not a mutex, so that a
// caller's ctx bounds the wait behind a slow server.
func (cn *Conn) takeTurn(ctx context.Context) error {
	select {
	case cn.subTurn <- struct{}{}:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("%w: waiting to subscribe: %v", ErrTransport, ctx.Err())
	}
}

func (cn *Conn) endTurn() { <-cn.subTurn }

// unsubscribe ends a 2025-11-25 subscription to uri once nothing watches it,
// so the server stops sending its notifications. In turn, so that it cannot
// overtake a new watch's subscribe to the same URI; skipped if one has come
// meanwhile. (From 2026-07-28 the stream keeps the URI until it is next
// replaced, and the client drops its notifications.)
func (cn *Conn) unsubscribe(uri string) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if cn.takeTurn(ctx) != nil {
		return // a server this slow: leave the subscription
	}
	defer cn.endTurn()
	cn.mu.Lock()
	c, watched := cn.c, len(cn.watches[uri]) > 0
	cn.mu.Unlock()
	if watched || c == nil {
		return
	}
	//lint:ignore SA1019 the legacy era unsubscribes with resources/unsubscribe
	_ = c.Unsubscribe(ctx, mcp.UnsubscribeRequest{Params: mcp.UnsubscribeParams{URI: uri}}) // a failed connection drops it anyway
}

// subscribeAll asks c for updates of uris: one resources/subscribe each
// before 2026-07-28; from it, one subscriptions/listen stream for all of
// them (the filter is the whole set, so it replaces the previous stream).
func (cn *Conn) subscribeAll(ctx context.Context, c *mgclient.Client, uris []string) error {
	if cn.legacy {
		for _, uri := range uris {
			//lint:ignore SA1019 the legacy era subscribes with resources/subscribe
			if err := c.Subscribe(ctx, mcp.SubscribeRequest{Params: mcp.SubscribeParams{URI: uri}}); err != nil {
				return fmt.Errorf("%w: subscribing to %s: %v", ErrTransport, uri, err)
			}
		}
		return nil
	}
	lctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	acked := make(chan struct{})
	cn.mu.Lock()
	if cn.closed || c != cn.c {
		cn.mu.Unlock()
		cancel()
		return fmt.Errorf("%w: the connection is closed or replaced", ErrTransport)
	}
	if cn.listen != nil {
		cn.listen()
	}
	cn.listen = cancel
	cn.acked = acked
	uris = cn.watchedLocked() // the set now: a concurrent watch may have grown it
	cn.mu.Unlock()
	ended := make(chan struct{})
	go func() {
		// The stream ends when lctx does (a new set, a reconnect, Close); if
		// it ends otherwise, open it again, so updates keep coming instead
		// of watchers falling back to polling.
		backoff := 50 * time.Millisecond
		for first := true; ; first = false {
			_ = c.Listen(lctx, mcp.SubscriptionFilter{ResourceSubscriptions: uris})
			if first {
				close(ended)
			}
			select {
			case <-lctx.Done():
				return
			case <-time.After(backoff):
			}
			backoff = min(2*backoff, 2*time.Second)
		}
	}()
	// Return once the server has the stream (it acknowledges it), so that
	// every change committed after a Watch starts is notified, instead of
	// waiting for the watcher's next poll.
	select {
	case <-acked:
	case <-ended: // refused or cut: the stream retries, watchers poll
	case <-ctx.Done():
	case <-time.After(listenAckWait):
	}
	return nil
}

// listenAckWait bounds how long a watch waits for the server to acknowledge
// its subscriptions/listen stream.
const listenAckWait = 5 * time.Second
