package client

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	mgclient "github.com/mark3labs/mcp-go/client"
	mgtransport "github.com/mark3labs/mcp-go/client/transport"
	"github.com/mark3labs/mcp-go/mcp"

	"github.com/mcp-sync/mcp-sync/wire"
)

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
	// taskIDs numbers the connection's own task requests; their ids are
	// strings, so that they never meet the mcp-go client's numeric ones.
	taskIDs atomic.Uint64
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
			return nil, false, fmt.Errorf("%w: %w", ErrTransport, err)
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
			return nil, false, fmt.Errorf("%w: connecting: %w", ErrTransport, err)
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
			return nil, false, fmt.Errorf("%w: initializing: %w", ErrTransport, err)
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
