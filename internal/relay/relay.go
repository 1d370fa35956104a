package relay

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"time"
)

// Config says what a relay connects and how it takes the file over.
type Config struct {
	// In and Out are the host's session: its messages, one a line, and
	// where the owner's answers go.
	In  io.Reader
	Out io.Writer
	// Dial connects to the owner.
	Dial func(ctx context.Context) (net.Conn, error)
	// TakeOver is called when the owner has gone away: it tries, briefly,
	// to become the owner itself (open the file, listen on the socket) and
	// returns nil whether it won or another process did; an error only
	// for a failure worth giving up on. Nil: never take over.
	TakeOver func(ctx context.Context) error
	// Logger receives the relay's logs (default: discarded).
	Logger *slog.Logger
	// ReadTools name the tools whose calls change nothing: one in flight
	// when the owner goes away is sent again to the next owner, like every
	// other request but calls of the other tools, which fail with
	// RetryMessage (they may have committed).
	ReadTools []string
	// LostCallMeta is the _meta of the isError result a tool call in
	// flight that may have written gets when the owner goes away; nil:
	// none.
	LostCallMeta map[string]any
	// Patience bounds how long a relay tries to reach a new owner after
	// the old one went away (default 30 s); the issue asks for 2 s, the
	// rest is for a loaded machine.
	Patience time.Duration
}

// maxLine bounds one message from the host (as the owner's ServeConn does).
const maxLine = 4 << 20

// RetryMessage is the error a host gets for a tool call that was with the
// owner when it went away, and that may have written.
const RetryMessage = "the mcp-sync process that owned the data file went away while this request was in flight: " +
	"it may or may not have been applied; check (read the row or its version, or get_run for an action) and retry"

// Run relays the host's session to the owner until In ends or ctx is
// cancelled, or until no owner can be found (an error). When the owner goes
// away it answers the tool calls in flight that may have written with
// RetryMessage, takes over or waits for the process that did, and carries
// the session on: the host's initialize, its subscriptions and its
// subscriptions/listen streams are replayed to the new owner (the answers
// to the first two swallowed), the other requests in flight are sent again,
// and each subscribed resource is announced as updated once, so a watcher
// reads what it may have missed.
func Run(ctx context.Context, cfg Config) error {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Patience <= 0 {
		cfg.Patience = 30 * time.Second
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	conn, err := cfg.Dial(ctx)
	if err != nil {
		return err
	}
	r := &relay{cfg: cfg, st: newSession(cfg.ReadTools), conn: conn}
	r.cond = sync.NewCond(&r.mu)
	go func() { <-ctx.Done(); r.shut() }()
	ownerc, hostc := make(chan error, 1), make(chan error, 1)
	go func() { ownerc <- r.fromOwner(ctx) }()
	go func() { hostc <- r.fromHost() }()
	select {
	case err = <-hostc:
		cancel()
		if ownerErr := <-ownerc; err == nil {
			err = ownerErr
		}
	case err = <-ownerc:
		// No owner to be found: end now, though the goroutine reading In
		// stays blocked until In ends (the process is about to exit).
		cancel()
	}
	return err
}

// relay is one host session's link to the owner.
type relay struct {
	cfg   Config
	outMu sync.Mutex // Out has two writers: answers and the relay's own

	mu     sync.Mutex
	cond   *sync.Cond // signalled when conn changes or the relay ends
	conn   net.Conn   // nil while reconnecting
	done   bool
	st     *session
	nextID int
}

func (r *relay) shut() {
	r.mu.Lock()
	r.done = true
	if r.conn != nil {
		r.conn.Close()
	}
	r.cond.Broadcast()
	r.mu.Unlock()
}

// fromHost copies the host's lines to the owner, noting what a new owner
// would need, until the host's input ends.
func (r *relay) fromHost() error {
	sc := bufio.NewScanner(r.cfg.In)
	sc.Buffer(make([]byte, 64<<10), maxLine)
	for sc.Scan() {
		line := sc.Bytes()
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		msg := append(append(make([]byte, 0, len(line)+1), line...), '\n')
		r.mu.Lock()
		for r.conn == nil && !r.done {
			r.cond.Wait()
		}
		if r.done {
			r.mu.Unlock()
			return nil
		}
		r.st.fromHost(msg)
		conn := r.conn
		r.mu.Unlock()
		// Written outside r.mu, so that answers keep flowing to the host
		// while the owner is slow to read. A failed write is the owner
		// going away: fromOwner sees it too, and the request, noted as in
		// flight, gets its answer then.
		_, _ = conn.Write(msg)
	}
	if errors.Is(sc.Err(), bufio.ErrTooLong) {
		return fmt.Errorf("the host sent a message longer than %d bytes", maxLine)
	}
	return sc.Err()
}

// fromOwner copies the owner's lines to the host, and reconnects when the
// owner goes away, until the relay ends.
func (r *relay) fromOwner(ctx context.Context) error {
	for {
		r.mu.Lock()
		conn := r.conn
		r.mu.Unlock()
		if conn == nil { // the relay ended while reconnecting
			return nil
		}
		// The owner's lines are not bounded: it is trusted, and an answer
		// may be long (a page of large rows). A bound would end the read
		// as if the owner had gone, and the replayed read would meet the
		// same answer again, for ever.
		br := bufio.NewReaderSize(conn, 64<<10)
		var err error
		for {
			var line []byte
			if line, err = br.ReadBytes('\n'); err != nil {
				break // a partial last line: the owner went away mid-message
			}
			line = line[:len(line)-1]
			r.mu.Lock()
			keep := r.st.fromOwner(line)
			r.mu.Unlock()
			if keep {
				r.toHost(line)
			}
		}
		if ctx.Err() != nil {
			return nil
		}
		r.cfg.Logger.Warn("relay: the data file's owner went away; taking over or waiting for the process that does", "error", err)
		if err := r.reconnect(ctx); err != nil {
			r.shut()
			return err
		}
	}
}

// toHost writes one line to the host.
func (r *relay) toHost(line []byte) {
	b := make([]byte, len(line)+1) // line may be a scanner's buffer
	copy(b, line)
	b[len(line)] = '\n'
	r.outMu.Lock()
	defer r.outMu.Unlock()
	_, _ = r.cfg.Out.Write(b)
}

// reconnect answers the calls in flight that may have written, finds the
// new owner and replays the session to it.
func (r *relay) reconnect(ctx context.Context) error {
	r.mu.Lock()
	r.conn.Close()
	r.conn = nil
	lost := r.st.takeLost()
	r.mu.Unlock()
	for _, id := range lost {
		r.toHost(r.lostAnswer(id))
	}
	start := time.Now()
	ctx, cancel := context.WithTimeout(ctx, r.cfg.Patience)
	defer cancel()
	var lastErr error
	for wait := 10 * time.Millisecond; ; wait = min(wait*2, 200*time.Millisecond) {
		if r.cfg.TakeOver != nil {
			if err := r.cfg.TakeOver(ctx); err != nil {
				return fmt.Errorf("taking the data file over: %w", err)
			}
		}
		conn, err := r.cfg.Dial(ctx)
		if err == nil {
			r.mu.Lock()
			if r.done { // the host left meanwhile
				r.mu.Unlock()
				conn.Close()
				return nil
			}
			err = r.replay(conn)
			r.mu.Unlock()
			if err == nil {
				_, pid, _ := peerCred(conn)
				r.cfg.Logger.Info("relay: the session carries on with the new owner", "role", "relay", "owner_pid", pid,
					"after", time.Since(start).Round(time.Millisecond))
				return nil
			}
			conn.Close()
		}
		lastErr = err
		select {
		case <-ctx.Done():
			if ctx.Err() == context.DeadlineExceeded {
				return fmt.Errorf("no process took the data file over within %s: %w", r.cfg.Patience, lastErr)
			}
			return nil
		case <-time.After(wait):
		}
	}
}

// replay sends the session's state to conn and makes it the relay's
// connection. Callers hold r.mu.
func (r *relay) replay(conn net.Conn) error {
	var buf bytes.Buffer
	for _, m := range r.st.replay(r.relayID) {
		buf.Write(m)
	}
	if _, err := conn.Write(buf.Bytes()); err != nil {
		return err
	}
	r.conn = conn
	r.cond.Broadcast()
	// What the old owner committed but did not announce: a watcher reads
	// from its last version and finds it (or nothing).
	for _, uri := range r.st.subscribed() {
		b, _ := json.Marshal(map[string]any{"jsonrpc": "2.0", "method": "notifications/resources/updated",
			"params": map[string]any{"uri": uri}})
		r.toHost(b)
	}
	return nil
}

// lostAnswer is the answer to the host's tool call id that was with the
// owner when it went away and may have written: an isError result, which a
// model reads (a JSON-RPC error is the host's to show, or not).
func (r *relay) lostAnswer(id string) []byte {
	res := map[string]any{"isError": true, "content": []any{map[string]any{"type": "text", "text": RetryMessage}}}
	if r.cfg.LostCallMeta != nil {
		res["_meta"] = r.cfg.LostCallMeta
	}
	b, _ := json.Marshal(map[string]any{"jsonrpc": "2.0", "id": json.RawMessage(id), "result": res})
	return b
}

// relayID is a fresh id for a request of the relay's own.
func (r *relay) relayID() json.RawMessage {
	r.nextID++
	return json.RawMessage(strconv.Quote("mcp-sync-relay-" + strconv.Itoa(r.nextID)))
}
