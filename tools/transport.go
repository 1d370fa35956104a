package tools

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"
)

// ServeStdio serves the MCP protocol on in and out (a process's stdin and
// stdout) until in closes or ctx is cancelled. Nothing else is written to out.
func (s *Server) ServeStdio(ctx context.Context, in io.Reader, out io.Writer) error {
	stdio := server.NewStdioServer(s.mcp)
	stdio.SetErrorLogger(slog.NewLogLogger(s.log.Handler(), slog.LevelError))
	in, out, stop := s.stdioTasks(ctx, in, out) // tasks are answered from the run records (tasks.go)
	defer stop()
	err := stdio.Listen(ctx, in, out)
	if err == nil || errors.Is(err, context.Canceled) || errors.Is(err, io.EOF) {
		return nil
	}
	return fmt.Errorf("serving MCP on stdio: %w", err)
}

// HTTPOptions configures [Server.HTTPHandler] and [Server.ServeHTTP]. The
// connection-level fields (IdleTimeout, ReadHeaderTimeout, MaxConns,
// InsecureNoToken) take effect only through ServeHTTP, which owns the
// listener and the http.Server; set their equivalents yourself when you
// mount HTTPHandler in a server of your own.
type HTTPOptions struct {
	// Token, when set, is the bearer token every request must carry in
	// Authorization: Bearer <token>.
	Token string
	// SessionIdleTTL ends streamable HTTP sessions idle this long (default
	// 30 minutes); a heartbeat on open streams (every HeartbeatInterval,
	// default 25 s) keeps a live watch from counting as idle.
	SessionIdleTTL    time.Duration
	HeartbeatInterval time.Duration

	// The limits below take their default when zero; a negative one means
	// no limit.

	// MaxBodyBytes bounds a POST body (default 4 MiB); a larger one is
	// refused with 413 without reading the rest.
	MaxBodyBytes int64
	// BodyReadTimeout bounds how long a POST body may take to arrive
	// (default 30 s); a slower one is cut with 408.
	BodyReadTimeout time.Duration
	// IdleTimeout closes keep-alive connections idle this long between
	// requests (default 2 minutes); open streams are not idle.
	IdleTimeout time.Duration
	// ReadHeaderTimeout bounds reading a request's headers (default 10 s;
	// ServeHTTP only, no serve flag).
	ReadHeaderTimeout time.Duration
	// MaxConns bounds open connections (default 4096); more wait in the
	// kernel's accept queue.
	MaxConns int
	// AllowedOrigins are browser origins (scheme://host[:port]) allowed
	// besides local ones; a request with any other Origin gets 403.
	AllowedOrigins []string
	// MaxSessions bounds the sessions the server holds (legacy streamable
	// HTTP and SSE; default 10,000); a new one beyond it gets 503.
	MaxSessions int
	// MaxStreamsPerSession bounds the GET streams one legacy streamable
	// HTTP session may hold open (default 8); one more gets 429.
	MaxStreamsPerSession int
	// InsecureNoToken lets [Server.ServeHTTP] serve an address other
	// machines can reach without a Token; without it, that is refused.
	InsecureNoToken bool
}

// Paths of the HTTP endpoints.
const (
	PathStreamable = "/mcp"     // streamable HTTP, both protocol eras
	PathSSE        = "/sse"     // SSE stream (deprecated by the spec; kept for older hosts)
	PathSSEMessage = "/message" // SSE client-to-server messages
)

// HTTPHandler serves streamable HTTP at /mcp and SSE at /sse and /message.
// mcp-go's DNS-rebinding protection (Host must be local) stays on; Origin
// must be local or allowed, bodies and sessions are bounded (see
// [HTTPOptions]). With Options.Auth and a Token, which exclude each other,
// it answers every request 500 and logs why (ServeHTTP refuses them).
func (s *Server) HTTPHandler(o HTTPOptions) http.Handler {
	if err := s.checkAuth(o); err != nil {
		return s.refuseAll(err)
	}
	o = o.withDefaults()
	streamable := server.NewStreamableHTTPServer(s.mcp,
		server.WithEndpointPath(PathStreamable),
		// Track session ids, so a request on an expired or unknown session
		// gets 404 and the client starts a new one (the spec's behaviour).
		server.WithStateful(true),
		server.WithSessionIdleTTL(o.SessionIdleTTL),
		server.WithHeartbeatInterval(o.HeartbeatInterval),
		server.WithStreamableHTTPLogger(s.log),
	)
	sse := server.NewSSEServer(s.mcp,
		server.WithSSEEndpoint(PathSSE),
		server.WithMessageEndpoint(PathSSEMessage),
		server.WithKeepAlive(true),
		server.WithKeepAliveInterval(o.HeartbeatInterval),
	)
	mux := http.NewServeMux()
	mux.Handle(PathStreamable, s.withTasks(withNotificationMeta(withReplyWatch(streamable, s.subs))))
	mux.Handle(PathSSE, markSSE(sse))
	// Task requests on SSE are answered on the session's stream (tasksio.go).
	mux.Handle(PathSSEMessage, s.sseTasks(sse, withoutStreamableHeaders(sse)))
	gate := &sessionGate{s: s, max: o.MaxSessions, perSession: o.MaxStreamsPerSession, streams: map[string]int{}}
	h := withBody(o.MaxBodyBytes, o.BodyReadTimeout, gate.wrap(mux))
	if o.Token != "" {
		h = withToken(o.Token, h)
	}
	return withOrigin(o.AllowedOrigins, h)
}

// ServeHTTP listens on addr (host:port; port 0 picks a free one), calls
// ready with the base URL once it accepts connections, and serves
// [Server.HTTPHandler] until ctx is cancelled. It refuses an address other
// machines can reach when o has no Token, unless o.InsecureNoToken, and a
// Token beside Options.Auth.
//
// Headers are bounded by ReadHeaderTimeout, POST bodies by BodyReadTimeout
// (a deadline per request, which [Server.HTTPHandler] sets, so a handler
// mounted elsewhere has it too), idle keep-alives by IdleTimeout,
// open connections by MaxConns. Streams (GET, SSE, listen) have no read
// deadline once their request is in.
func (s *Server) ServeHTTP(ctx context.Context, addr string, o HTTPOptions, ready func(baseURL string)) error {
	if err := s.checkAuth(o); err != nil {
		return err
	}
	if err := checkBind(addr, o.Token, o.InsecureNoToken); err != nil {
		return err
	}
	o = o.withDefaults()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listening on %s: %w", addr, err)
	}
	srv := &http.Server{Handler: s.HTTPHandler(o), ReadHeaderTimeout: o.ReadHeaderTimeout, IdleTimeout: o.IdleTimeout,
		ErrorLog: slog.NewLogLogger(s.log.Handler(), slog.LevelWarn)}
	errc := make(chan error, 1)
	if o.MaxConns > 0 {
		ln = newLimitListener(ln, o.MaxConns)
	}
	go func() { errc <- srv.Serve(ln) }()
	if ready != nil {
		ready("http://" + ln.Addr().String())
	}
	select {
	case err := <-errc:
		return fmt.Errorf("serving HTTP on %s: %w", addr, err)
	case <-ctx.Done():
	}
	// Long-lived streams never finish on their own: end the calls, then
	// give the rest a moment before closing what is left.
	s.calls.cancelAll()
	shutdown, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdown); err != nil {
		srv.Close()
	}
	return nil
}

// withoutStreamableHeaders serves an SSE message POST without its
// Mcp-Protocol-Version header. mcp-go checks the 2026-07-28 standard
// headers (Mcp-Method, Mcp-Name, SEP-2243), which bind streamable HTTP
// only, on any request that carries that header, SSE's POST /message
// included; clients send none of the others there, so every 2026-07-28
// request over SSE failed with -32020 "header mismatch". Without the header
// mcp-go skips the check, and the era is still read from the body's _meta,
// where 2026-07-28 carries it.
func withoutStreamableHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get(mcp.HeaderProtocolVersion) != "" {
			r = r.Clone(r.Context())
			r.Header.Del(mcp.HeaderProtocolVersion)
		}
		next.ServeHTTP(w, r)
	})
}
