package tools

import (
	"bytes"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"

	"github.com/mcp-sync/mcp-sync/backend"
)

// Defaults of the HTTP limits in [HTTPOptions].
const (
	DefaultMaxBodyBytes         = 4 << 20
	DefaultBodyReadTimeout      = 30 * time.Second
	DefaultIdleTimeout          = 2 * time.Minute
	DefaultReadHeaderTimeout    = 10 * time.Second
	DefaultMaxConns             = 4096
	DefaultMaxSessions          = 10000
	DefaultMaxStreamsPerSession = 8
)

// withDefaults fills o's unset (zero) limits; a negative one means none.
func (o HTTPOptions) withDefaults() HTTPOptions {
	if o.SessionIdleTTL <= 0 {
		o.SessionIdleTTL = 30 * time.Minute
	}
	if o.HeartbeatInterval <= 0 {
		o.HeartbeatInterval = 25 * time.Second
	}
	o.MaxBodyBytes = orDefault(o.MaxBodyBytes, DefaultMaxBodyBytes)
	o.BodyReadTimeout = orDefault(o.BodyReadTimeout, DefaultBodyReadTimeout)
	o.IdleTimeout = orDefault(o.IdleTimeout, DefaultIdleTimeout) // net/http: negative is none
	o.ReadHeaderTimeout = orDefault(o.ReadHeaderTimeout, DefaultReadHeaderTimeout)
	o.MaxConns = orDefault(o.MaxConns, DefaultMaxConns)
	o.MaxSessions = orDefault(o.MaxSessions, DefaultMaxSessions)
	o.MaxStreamsPerSession = orDefault(o.MaxStreamsPerSession, DefaultMaxStreamsPerSession)
	return o
}

func orDefault[T int | int64 | time.Duration](v, def T) T {
	if v == 0 {
		return def
	}
	return v
}

// withOrigin refuses a request whose Origin header names neither a local
// origin (http or https on localhost, 127.0.0.1 or [::1], any port) nor one
// in allowed: a web page in a browser may not drive the server. Requests
// without Origin (programs, not browsers) pass; mcp-go checks Host itself.
func withOrigin(allowed []string, next http.Handler) http.Handler {
	allow := map[string]bool{}
	for _, a := range allowed {
		allow[normalOrigin(a)] = true
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		origin := r.Header.Get("Origin")
		if origin == "" || localOrigin(origin) || allow[normalOrigin(origin)] {
			next.ServeHTTP(w, r)
			return
		}
		http.Error(w, fmt.Sprintf("mcp-sync: requests from origin %s are refused: only local origins (http://localhost, 127.0.0.1, [::1]) "+
			"and those allowed with --allow-origin (HTTPOptions.AllowedOrigins) may call this server", backend.Short(origin)), http.StatusForbidden)
	})
}

func normalOrigin(o string) string {
	return strings.TrimSuffix(strings.ToLower(strings.TrimSpace(o)), "/")
}

func localOrigin(origin string) bool {
	u, err := url.Parse(origin)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.User != nil || (u.Path != "" && u.Path != "/") {
		return false
	}
	switch strings.ToLower(u.Hostname()) {
	case "localhost", "127.0.0.1", "::1":
		return true
	}
	return false
}

// withBody reads each POST body whole before mcp-go sees it: at most max
// bytes (more is refused with 413 without reading the rest; negative: no
// limit) and within
// timeout (if positive; a body trickling in slower is cut with 408, which says what
// happened where a read error inside mcp-go would not). The connection's
// read deadline is cleared once the body is in, so that a long-lived
// stream the request opens (subscriptions/listen, a streaming call) is
// not cut by it.
func withBody(max int64, timeout time.Duration, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			next.ServeHTTP(w, r)
			return
		}
		tooLarge := func() {
			w.Header().Set("Connection", "close")
			http.Error(w, fmt.Sprintf("mcp-sync: request body over the %s limit (--max-body, HTTPOptions.MaxBodyBytes)", sizeString(max)),
				http.StatusRequestEntityTooLarge)
		}
		if max >= 0 && r.ContentLength > max {
			tooLarge()
			return
		}
		rc := http.NewResponseController(w)
		if timeout > 0 {
			_ = rc.SetReadDeadline(time.Now().Add(timeout))
		}
		rd := r.Body
		if max >= 0 {
			rd = http.MaxBytesReader(w, r.Body, max)
		}
		body, err := io.ReadAll(rd)
		if timeout > 0 {
			_ = rc.SetReadDeadline(time.Time{})
		}
		var big *http.MaxBytesError
		switch {
		case errors.As(err, &big):
			tooLarge()
			return
		case errors.Is(err, os.ErrDeadlineExceeded):
			w.Header().Set("Connection", "close")
			http.Error(w, fmt.Sprintf("mcp-sync: the request body did not arrive within %s (--body-timeout, HTTPOptions.BodyReadTimeout)", timeout),
				http.StatusRequestTimeout)
			return
		case err != nil:
			w.Header().Set("Connection", "close")
			http.Error(w, "mcp-sync: reading the request body failed", http.StatusBadRequest)
			return
		}
		r.Body = newBufferedBody(body)
		r.ContentLength = int64(len(body))
		next.ServeHTTP(w, r)
	})
}

// bufferedBody is a request body read whole (withBody): the handlers after
// it take its bytes with requestBody instead of reading and copying them
// again.
type bufferedBody struct {
	*bytes.Reader
	data []byte
}

func newBufferedBody(data []byte) bufferedBody { return bufferedBody{bytes.NewReader(data), data} }

func (bufferedBody) Close() error { return nil }

// requestBody returns r's whole body and leaves it to be read again:
// withBody's bytes when nothing has read them yet, else what is left,
// read now.
func requestBody(r *http.Request) ([]byte, error) {
	if b, ok := r.Body.(bufferedBody); ok && b.Len() == len(b.data) {
		return b.data, nil
	}
	body, err := io.ReadAll(r.Body)
	r.Body.Close()
	if err != nil {
		r.Body = io.NopCloser(io.MultiReader(bytes.NewReader(body), errReader{err}))
		return nil, err
	}
	r.Body = newBufferedBody(body)
	return body, nil
}

func sizeString(n int64) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d-byte", n)
}

// sessionGate refuses requests that would open a session (a legacy POST or
// GET on /mcp without a known session, GET /sse) while the
// server holds max sessions already, and GET streams beyond perSession on
// one legacy session. Sessions are counted when mcp-go registers them, so
// initializes racing each other may overshoot max by as many as race.
type sessionGate struct {
	s          *Server
	max        int
	perSession int

	mu      sync.Mutex
	streams map[string]int // open GET /mcp streams by session id
}

func (g *sessionGate) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r, ok := g.s.authenticate(w, r) // before any session is counted
		if !ok {
			return
		}
		id := r.Header.Get(server.HeaderKeySessionID)
		modern := mcp.IsModernProtocol(r.Header.Get(mcp.HeaderProtocolVersion))
		// mcp-go's GET /mcp makes a session of any id it does not know, and
		// a legacy initialize mints one whatever id it carries; so any legacy
		// request without a known session counts as opening one (a stale id
		// past the cap gets 503 rather than mcp-go's 404).
		_, known := g.s.subs.sessions.Load(id)
		opens := r.URL.Path == PathSSE && r.Method == http.MethodGet ||
			r.URL.Path == PathStreamable && !modern && !known && (r.Method == http.MethodPost || r.Method == http.MethodGet)
		if opens && g.max >= 0 && g.s.sessions.Load() >= int64(g.max) {
			w.Header().Set("Retry-After", "30")
			http.Error(w, fmt.Sprintf("mcp-sync: the server holds its maximum of %d sessions (--max-sessions, HTTPOptions.MaxSessions); "+
				"retry later, or close sessions you no longer use", g.max), http.StatusServiceUnavailable)
			return
		}
		if r.URL.Path == PathStreamable && r.Method == http.MethodGet && id != "" && !modern {
			if !g.openStream(id) {
				w.Header().Set("Retry-After", "30")
				http.Error(w, fmt.Sprintf("mcp-sync: this session already has its maximum of %d open streams (--max-streams, HTTPOptions.MaxStreamsPerSession); "+
					"close one before opening another", g.perSession), http.StatusTooManyRequests)
				return
			}
			defer g.closeStream(id)
		}
		next.ServeHTTP(w, r)
	})
}

func (g *sessionGate) openStream(id string) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.perSession >= 0 && g.streams[id] >= g.perSession {
		return false
	}
	g.streams[id]++
	return true
}

func (g *sessionGate) closeStream(id string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.streams[id]--; g.streams[id] <= 0 {
		delete(g.streams, id)
	}
}

// limitListener accepts at most max connections at once; Accept waits
// (the kernel queues the rest) until one closes.
type limitListener struct {
	net.Listener
	slots chan struct{}
}

func newLimitListener(ln net.Listener, max int) *limitListener {
	return &limitListener{Listener: ln, slots: make(chan struct{}, max)}
}

func (l *limitListener) Accept() (net.Conn, error) {
	l.slots <- struct{}{}
	c, err := l.Listener.Accept()
	if err != nil {
		<-l.slots
		return nil, err
	}
	return &limitConn{Conn: c, release: func() { <-l.slots }}, nil
}

type limitConn struct {
	net.Conn
	once    sync.Once
	release func()
}

func (c *limitConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(c.release)
	return err
}

// checkBind refuses to serve addr without a token when addr is reachable
// from other machines, unless insecure says the user wants that.
func checkBind(addr, token string, insecure bool) error {
	if token != "" || insecure || loopbackAddr(addr) {
		return nil
	}
	return fmt.Errorf("refusing to serve %s without a token: that address is reachable from other machines, and anyone "+
		"who can reach it could read and change all data; set a token (--token or MCP_SYNC_TOKEN), bind 127.0.0.1, "+
		"or pass --insecure-no-token (HTTPOptions.InsecureNoToken) if the network is trusted", addr)
}

// loopbackAddr reports whether addr (host:port) can only be reached from
// this machine. A host name other than localhost counts as reachable.
func loopbackAddr(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// withToken refuses requests without Authorization: Bearer token, telling
// the two failures apart as RFC 6750 asks: a request with no token gets a
// bare challenge, one with a wrong token error="invalid_token" too.
func withToken(token string, next http.Handler) http.Handler {
	want := []byte("Bearer " + token)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got := r.Header.Get("Authorization")
		if subtle.ConstantTimeCompare([]byte(got), want) == 1 {
			next.ServeHTTP(w, r.WithContext(backend.WithIdentity(r.Context(), tokenIdentity())))
			return
		}
		if got == "" {
			w.Header().Set("WWW-Authenticate", `Bearer realm="mcp-sync"`)
			http.Error(w, "mcp-sync: token required (send Authorization: Bearer <token>)", http.StatusUnauthorized)
			return
		}
		w.Header().Set("WWW-Authenticate", `Bearer realm="mcp-sync", error="invalid_token", error_description="the bearer token is not valid"`)
		http.Error(w, "mcp-sync: invalid token", http.StatusUnauthorized)
	})
}
