package relay

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// peer is a JSON-RPC peer on a real socket: the owner end, lines in and
// out, with the test saying what it answers.
type peer struct {
	ln    net.Listener
	conns chan net.Conn
}

func listenPeer(t *testing.T, sock string) *peer {
	t.Helper()
	ln, err := Listen(sock)
	if err != nil {
		t.Fatal(err)
	}
	p := &peer{ln: ln, conns: make(chan net.Conn, 4)}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			p.conns <- c
		}
	}()
	t.Cleanup(func() { ln.Close() })
	return p
}

// next waits for the relay's connection.
func (p *peer) next(t *testing.T) (net.Conn, *bufio.Scanner) {
	t.Helper()
	select {
	case c := <-p.conns:
		return c, bufio.NewScanner(c)
	case <-time.After(10 * time.Second):
		t.Fatal("the relay did not connect")
	}
	return nil, nil
}

func readLine(t *testing.T, sc *bufio.Scanner) map[string]any {
	t.Helper()
	if !sc.Scan() {
		t.Fatalf("no line: %v", sc.Err())
	}
	var m map[string]any
	if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
		t.Fatalf("%q: %v", sc.Text(), err)
	}
	return m
}

// hostEnd is the host's side: what it writes, and the lines it got.
type hostEnd struct {
	w    *io.PipeWriter
	mu   sync.Mutex
	got  []map[string]any
	wake chan struct{}
}

func (h *hostEnd) send(t *testing.T, line string) {
	t.Helper()
	if _, err := h.w.Write([]byte(line + "\n")); err != nil {
		t.Fatal(err)
	}
}

// await waits for a line from the owner (or the relay) that match accepts.
func (h *hostEnd) await(t *testing.T, what string, match func(map[string]any) bool) map[string]any {
	t.Helper()
	deadline := time.After(60 * time.Second) // a 5 MiB line under -race on a loaded machine takes seconds
	for {
		h.mu.Lock()
		for _, m := range h.got {
			if match(m) {
				h.mu.Unlock()
				return m
			}
		}
		h.mu.Unlock()
		select {
		case <-h.wake:
		case <-deadline:
			t.Fatalf("the host never got %s; it got %v", what, h.got)
		}
	}
}

func startRelay(t *testing.T, sock string, takeOver func(context.Context) error, patience time.Duration) (*hostEnd, chan error) {
	inR, inW := io.Pipe()
	outR, outW := io.Pipe()
	h := &hostEnd{w: inW, wake: make(chan struct{}, 1)}
	go func() {
		sc := bufio.NewScanner(outR)
		sc.Buffer(make([]byte, 64<<10), 64<<20)
		for sc.Scan() {
			var m map[string]any
			if json.Unmarshal(sc.Bytes(), &m) != nil {
				m = map[string]any{"unparsable": sc.Text()}
			}
			h.mu.Lock()
			h.got = append(h.got, m)
			h.mu.Unlock()
			select {
			case h.wake <- struct{}{}:
			default:
			}
		}
	}()
	done, finished := make(chan error, 1), make(chan struct{})
	go func() {
		defer close(finished)
		done <- Run(context.Background(), Config{In: inR, Out: outW, TakeOver: takeOver, Patience: patience,
			LostCallMeta: map[string]any{"kind": "unavailable"}, ReadTools: []string{"get_row"},
			Dial: func(ctx context.Context) (net.Conn, error) { return Dial(ctx, sock) }})
		outW.Close()
	}()
	t.Cleanup(func() { inW.Close(); <-finished })
	return h, done
}

// The owner goes away with a call in flight: the host's call is answered
// with the retryable error, the relay takes over, and the new owner gets
// the session replayed (initialize, initialized, the subscription, the
// listen stream) with the relay's own requests' answers kept from the host.
func TestRelayCarriesSessionToNewOwner(t *testing.T) {
	sock, err := SocketPath(filepath.Join(t.TempDir(), "r.db"), socketDir(t))
	if err != nil {
		t.Fatal(err)
	}
	first := listenPeer(t, sock)
	secondc := make(chan *peer, 1)
	var tookOver sync.Once
	takeOver := func(context.Context) error {
		tookOver.Do(func() { secondc <- listenPeer(t, sock) })
		return nil
	}
	h, _ := startRelay(t, sock, takeOver, 10*time.Second)
	c1, sc1 := first.next(t)

	h.send(t, `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{}}}`)
	if m := readLine(t, sc1); m["method"] != "initialize" || m["id"] != 1.0 {
		t.Fatalf("owner got %v", m)
	}
	c1.Write([]byte(`{"jsonrpc":"2.0","id":1,"result":{"protocolVersion":"2025-11-25"}}` + "\n"))
	h.await(t, "initialize's answer", func(m map[string]any) bool { return m["id"] == 1.0 })
	h.send(t, `{"jsonrpc":"2.0","method":"notifications/initialized"}`)
	h.send(t, `{"jsonrpc":"2.0","id":2,"method":"resources/subscribe","params":{"uri":"mcp-sync://t/todos"}}`)
	h.send(t, `{"jsonrpc":"2.0","id":3,"method":"subscriptions/listen","params":{"notifications":{"resourceSubscriptions":["mcp-sync://t/x"]}}}`)
	h.send(t, `{"jsonrpc":"2.0","id":4,"method":"tools/call","params":{"name":"slow"}}`)
	h.send(t, `{"jsonrpc":"2.0","id":5,"method":"ping"}`)
	h.send(t, `{"jsonrpc":"2.0","id":8,"method":"tools/call","params":{"name":"get_row","arguments":{}}}`)
	for range 6 {
		readLine(t, sc1)
	}
	c1.Write([]byte(`{"jsonrpc":"2.0","id":2,"result":{}}` + "\n"))
	h.await(t, "subscribe's answer", func(m map[string]any) bool { return m["id"] == 2.0 })
	first.ln.Close()
	c1.Close() // the owner dies with 3, 4 and 5 unanswered

	call := h.await(t, "the lost call's answer", func(m map[string]any) bool { return m["id"] == 4.0 })
	res, _ := call["result"].(map[string]any)
	if res["isError"] != true || !strings.Contains(strings.Join(textsOf(res), ""), "may or may not") || res["_meta"] == nil {
		t.Errorf("lost tools/call answered %v", call)
	}

	// The reads in flight (the ping, get_row) go to the new owner instead.
	c2, sc2 := (<-secondc).next(t)
	replayed := map[string]map[string]any{}
	for range 6 {
		m := readLine(t, sc2)
		replayed[m["method"].(string)+fmt.Sprint(m["id"])] = m
	}
	if replayed["ping5"] == nil || replayed["tools/call8"] == nil {
		t.Errorf("the reads in flight were not sent again: %v", replayed)
	}
	for k, m := range replayed {
		replayed[m["method"].(string)] = replayed[k]
	}
	init, sub, listen := replayed["initialize"], replayed["resources/subscribe"], replayed["subscriptions/listen"]
	if init == nil || replayed["notifications/initialized"] == nil || sub == nil || listen == nil {
		t.Fatalf("the new owner got %v", replayed)
	}
	if listen["id"] != 3.0 {
		t.Errorf("the listen stream was replayed with id %v, want the host's 3", listen["id"])
	}
	for _, m := range []map[string]any{init, sub} {
		if id, _ := m["id"].(string); !strings.HasPrefix(id, "mcp-sync-relay-") {
			t.Errorf("%s replayed with id %v, want one of the relay's own", m["method"], m["id"])
		}
		b, _ := json.Marshal(map[string]any{"jsonrpc": "2.0", "id": m["id"], "result": map[string]any{}})
		c2.Write(append(b, '\n'))
	}
	h.await(t, "an update of the subscribed table", func(m map[string]any) bool {
		p, _ := m["params"].(map[string]any)
		return m["method"] == "notifications/resources/updated" && p["uri"] == "mcp-sync://t/todos"
	})
	h.mu.Lock()
	for _, m := range h.got {
		if m["id"] == 5.0 || m["id"] == 8.0 {
			t.Errorf("a read in flight was answered by the relay: %v", m)
		}
	}
	h.mu.Unlock()
	// The session carries on: a new request reaches the new owner.
	h.send(t, `{"jsonrpc":"2.0","id":6,"method":"ping"}`)
	if m := readLine(t, sc2); m["id"] != 6.0 {
		t.Fatalf("after the takeover the owner got %v", m)
	}
	c2.Write([]byte(`{"jsonrpc":"2.0","id":6,"result":{}}` + "\n"))
	h.await(t, "the answer after the takeover", func(m map[string]any) bool { return m["id"] == 6.0 })
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, m := range h.got {
		if id, _ := m["id"].(string); strings.HasPrefix(id, "mcp-sync-relay-") {
			t.Errorf("the host saw the answer to the relay's own request: %v", m)
		}
	}
}

func textsOf(res map[string]any) []string {
	var out []string
	content, _ := res["content"].([]any)
	for _, c := range content {
		if m, ok := c.(map[string]any); ok {
			s, _ := m["text"].(string)
			out = append(out, s)
		}
	}
	return out
}

// With no owner to be found, the relay gives up after its patience, saying
// so, rather than hanging the host.
func TestRelayGivesUpWithoutOwner(t *testing.T) {
	sock, err := SocketPath(filepath.Join(t.TempDir(), "g.db"), socketDir(t))
	if err != nil {
		t.Fatal(err)
	}
	first := listenPeer(t, sock)
	_, done := startRelay(t, sock, func(context.Context) error { return nil }, 300*time.Millisecond)
	c, _ := first.next(t)
	first.ln.Close()
	c.Close()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "no process took the data file over") {
			t.Errorf("Run: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the relay did not give up")
	}
}

// What the session keeps: the host's answers to the owner's requests and
// cancelled requests are not in flight; an unsubscribed URI is not
// replayed.
func TestSessionTracksOnlyWhatItMust(t *testing.T) {
	s := newSession(nil)
	s.fromHost([]byte(`{"jsonrpc":"2.0","id":"srv-1","result":{}}`))
	s.fromHost([]byte(`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"x"}}`))
	s.fromHost([]byte(`{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":1}}`))
	s.fromHost([]byte(`{"jsonrpc":"2.0","id":2,"method":"resources/subscribe","params":{"uri":"a"}}`))
	s.fromHost([]byte(`{"jsonrpc":"2.0","id":3,"method":"resources/subscribe","params":{"uri":"b"}}`))
	s.fromHost([]byte(`{"jsonrpc":"2.0","id":4,"method":"resources/unsubscribe","params":{"uri":"a"}}`))
	s.fromHost([]byte(`not json`))
	for _, id := range []string{"2", "3", "4"} {
		if !s.fromOwner([]byte(`{"jsonrpc":"2.0","id":` + id + `,"result":{}}`)) {
			t.Errorf("the answer to the host's %s was kept from it", id)
		}
	}
	if lost := s.takeLost(); len(lost) != 0 {
		t.Errorf("in flight: %v, want none", lost)
	}
	var n int
	lines := s.replay(func() json.RawMessage { n++; return json.RawMessage(`"r` + string(rune('0'+n)) + `"`) })
	if len(lines) != 1 || !strings.Contains(string(lines[0]), `"uri":"b"`) {
		t.Errorf("replayed %q, want the one subscription to b", lines)
	}
	if s.fromOwner([]byte(`{"jsonrpc":"2.0","id":"r1","result":{}}`)) {
		t.Error("the answer to the relay's own subscribe reached the host")
	}
}

// TestRelayPassesLongAnswers: an answer from the owner longer than a host
// message may be (a page of large rows) reaches the host whole. The relay
// used to bound the owner's lines too, and took a long one for the owner
// going away: it reconnected and sent the read again, for ever.
func TestRelayPassesLongAnswers(t *testing.T) {
	sock, err := SocketPath(filepath.Join(t.TempDir(), "l.db"), socketDir(t))
	if err != nil {
		t.Fatal(err)
	}
	owner := listenPeer(t, sock)
	h, _ := startRelay(t, sock, func(context.Context) error { return nil }, 10*time.Second)
	c, sc := owner.next(t)
	defer c.Close() // kept open (and reachable, so no finalizer closes it)
	h.send(t, `{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"get_row","arguments":{}}}`)
	readLine(t, sc)
	long := strings.Repeat("x", maxLine+1<<20)
	if _, err := c.Write([]byte(`{"jsonrpc":"2.0","id":7,"result":{"text":"` + long + `"}}` + "\n")); err != nil {
		t.Fatal(err)
	}
	m := h.await(t, "the long answer", func(m map[string]any) bool { return m["id"] == 7.0 })
	if r, _ := m["result"].(map[string]any); r == nil || len(fmt.Sprint(r["text"])) != len(long) {
		t.Fatalf("the host got %.200v, want the whole answer", m)
	}
	select {
	case c2 := <-owner.conns:
		c2.Close()
		t.Fatal("the relay connected again: it took the long answer for the owner going away")
	default:
	}
}
