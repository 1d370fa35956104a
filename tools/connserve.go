package tools

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"
)

// connCalls is how many tool calls of one connection run at once, as
// mcp-go's stdio worker pool bounds them; the read loop waits for a free
// slot, so a flooding connection slows only itself.
const connCalls = 16

// maxConnLine bounds one message on a connection (as HTTP bounds a body).
const maxConnLine = 4 << 20

// ServeConn serves one MCP session on conn, read and written as stdio is
// (one JSON-RPC message a line), until conn's input ends or ctx is
// cancelled; then it waits for the session's requests and closes conn.
// Each connection is a session of its own: its initialize, subscriptions,
// progress and cancellation are its own, beside any other connection's and
// the process's own stdio session. mcp-go's stdio server cannot do this: its
// session is one per process.
func (s *Server) ServeConn(ctx context.Context, conn io.ReadWriteCloser) error {
	sess := &connSession{id: "conn-" + rand.Text(), notes: make(chan mcp.JSONRPCNotification, 100)}
	if err := s.mcp.RegisterSession(ctx, sess); err != nil {
		conn.Close()
		return fmt.Errorf("registering a socket session: %w", err)
	}
	ctx, cancel := context.WithCancel(s.mcp.WithContext(ctx, sess))
	w := &lineWriter{w: conn}
	var reqs sync.WaitGroup
	notesDone := make(chan struct{})
	go func() {
		defer close(notesDone)
		for {
			select {
			case n := <-sess.notes:
				if w.write(n) != nil {
					cancel() // the peer is gone: stop reading too
					return
				}
			case <-ctx.Done():
				return
			}
		}
	}()
	go func() { <-ctx.Done(); conn.Close() }() // unblocks the read below
	slots := make(chan struct{}, connCalls)
	err := readLines(conn, func(line []byte) {
		var head struct {
			ID     any    `json:"id"`
			Method string `json:"method"`
		}
		if json.Unmarshal(line, &head) != nil {
			_ = w.write(mcp.NewJSONRPCError(mcp.NewRequestId(nil), mcp.PARSE_ERROR, "parse error: a message must be one JSON-RPC object a line", nil))
			return
		}
		msg := json.RawMessage(line)
		if head.ID == nil || head.Method == "" {
			// Notifications (cancellation among them) must not wait
			// behind requests; responses to the server are not used.
			if head.Method != "" {
				s.handleConnMessage(ctx, nil, msg)
			}
			return
		}
		// Task requests are served from the run records, as on stdio
		// (stdioTasks): mcp-go would keep the task in its own memory.
		if req, ok := decodeTaskRequest(line); ok {
			if c, p, ok := s.claimTask(req); ok {
				reqs.Go(func() { _ = w.writeLine(s.answerTask(ctx, c, p, nil).body) })
				return
			}
		}
		if reply, ok := s.claimNotFound(ctx, line, nil); ok { // data.uri (notfound.go)
			reqs.Go(func() { _ = w.writeLine(reply.body) })
			return
		}
		// Tool calls take a slot, as in mcp-go's stdio worker pool; other
		// requests, a subscriptions/listen stream among them, live as long
		// as they must and never wait for one.
		call := head.Method == string(mcp.MethodToolsCall)
		if call {
			select {
			case slots <- struct{}{}:
			case <-ctx.Done():
				return
			}
		}
		reqs.Go(func() {
			if call {
				defer func() { <-slots }()
			}
			if resp := s.handleConnMessage(ctx, head.ID, msg); resp != nil {
				_ = w.write(resp)
			}
		})
	})
	cancel()
	reqs.Wait()
	<-notesDone
	s.mcp.UnregisterSession(context.WithoutCancel(ctx), sess.id)
	conn.Close()
	// Other read errors are the peer going away (or this side closing the
	// connection): the session simply ends.
	if errors.Is(err, errLineTooLong) {
		return fmt.Errorf("serving a socket session: %w", err)
	}
	return nil
}

// errLineTooLong ends a session that sent a message past maxConnLine.
var errLineTooLong = fmt.Errorf("a message longer than %d bytes", maxConnLine)

// handleConnMessage is HandleMessage that survives a panicking handler, as
// mcp-go's stdio server does: a request gets an internal error with its id,
// and the owner process, serving other sessions too, lives on.
func (s *Server) handleConnMessage(ctx context.Context, id any, msg json.RawMessage) (resp mcp.JSONRPCMessage) {
	defer func() {
		if r := recover(); r != nil {
			s.log.Error("a socket session's message panicked", "panic", fmt.Sprint(r))
			if id != nil {
				resp = mcp.NewJSONRPCError(mcp.NewRequestId(id), mcp.INTERNAL_ERROR, "internal error", nil)
			}
		}
	}()
	return s.mcp.HandleMessage(ctx, msg)
}

// readLines calls fn with each line of r (without its newline) until r
// ends. A line longer than maxConnLine ends the session with an error.
func readLines(r io.Reader, fn func([]byte)) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), maxConnLine)
	for sc.Scan() {
		if line := sc.Bytes(); len(line) > 0 {
			fn(append([]byte(nil), line...)) // handlers outlive the scanner's buffer
		}
	}
	if errors.Is(sc.Err(), bufio.ErrTooLong) {
		return errLineTooLong
	}
	return sc.Err()
}

// lineWriter writes JSON-RPC messages one a line, one writer at a time.
type lineWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lineWriter) write(v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	_, err = l.w.Write(append(b, '\n'))
	return err
}

// writeLine writes b, one encoded message, and its newline.
func (l *lineWriter) writeLine(b []byte) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	_, err := l.w.Write(append(b[:len(b):len(b)], '\n'))
	return err
}

// connSession is one socket connection's MCP session.
type connSession struct {
	id          string
	notes       chan mcp.JSONRPCNotification
	initialized atomic.Bool
	level       atomic.Value // mcp.LoggingLevel
	info        atomic.Value // mcp.Implementation
	caps        atomic.Value // mcp.ClientCapabilities
	version     atomic.Value // string
}

var (
	_ server.ClientSession         = (*connSession)(nil)
	_ server.SessionWithLogging    = (*connSession)(nil)
	_ server.SessionWithClientInfo = (*connSession)(nil)
)

func (c *connSession) SessionID() string                                   { return c.id }
func (c *connSession) NotificationChannel() chan<- mcp.JSONRPCNotification { return c.notes }
func (c *connSession) Initialized() bool                                   { return c.initialized.Load() }
func (c *connSession) SetLogLevel(l mcp.LoggingLevel)                      { c.level.Store(l) }
func (c *connSession) SetClientInfo(i mcp.Implementation)                  { c.info.Store(i) }
func (c *connSession) SetClientCapabilities(cc mcp.ClientCapabilities)     { c.caps.Store(cc) }
func (c *connSession) SetProtocolVersion(v string)                         { c.version.Store(v) }

func (c *connSession) Initialize() {
	if c.level.Load() == nil {
		c.level.Store(mcp.LoggingLevelError)
	}
	c.initialized.Store(true)
}

func (c *connSession) GetLogLevel() mcp.LoggingLevel {
	if l, ok := c.level.Load().(mcp.LoggingLevel); ok {
		return l
	}
	return mcp.LoggingLevelError
}

func (c *connSession) GetClientInfo() mcp.Implementation {
	i, _ := c.info.Load().(mcp.Implementation)
	return i
}

func (c *connSession) GetClientCapabilities() mcp.ClientCapabilities {
	cc, _ := c.caps.Load().(mcp.ClientCapabilities)
	return cc
}

func (c *connSession) ProtocolVersion() string {
	v, _ := c.version.Load().(string)
	return v
}
