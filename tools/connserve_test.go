package tools_test

import (
	"bufio"
	"context"
	"net"
	"strings"
	"testing"

	"github.com/mark3labs/mcp-go/client/transport"

	"github.com/mcp-sync/mcp-sync/tools"
	"github.com/mcp-sync/mcp-sync/wire"
)

// serveConn serves one connection of srv and returns the other end.
func serveConn(t *testing.T, srv *tools.Server) (net.Conn, chan error) {
	t.Helper()
	server, clientEnd := net.Pipe()
	done := make(chan error, 1)
	go func() { done <- srv.ServeConn(context.Background(), server) }()
	t.Cleanup(func() { clientEnd.Close(); <-done })
	return clientEnd, done
}

// Two connections are two sessions: each its own era and subscriptions,
// and one's writes reach the other's subscription.
func TestServeConnSessions(t *testing.T) {
	a := newApp(t)
	srv, err := tools.New(a.eng, tools.Options{Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	ca, _ := serveConn(t, srv)
	cb, doneB := serveConn(t, srv)
	legacy, modern := era{"conn-legacy", "conn", true}, era{"conn-modern", "conn", false}
	clA, notesA := start(t, transport.NewIO(ca, ca, nil), legacy)
	clB, _ := start(t, transport.NewIO(cb, cb, nil), modern)
	if n := srv.Stats().Sessions; n != 2 {
		t.Errorf("%d sessions, want 2", n)
	}
	subscribe(t, clA, legacy, wire.TableURI("items"))
	if res := call(t, clB, "putItem", map[string]any{"key": "k", "name": "from B"}); res.IsError {
		t.Fatalf("putItem: %s", text(res))
	}
	if !waitFor(testWait, func() bool { return len(notesA.byMethod("notifications/resources/updated")) > 0 }) {
		t.Fatal("A's subscription never heard of B's write")
	}
	clB.Close()
	cb.Close()
	if err := <-doneB; err != nil {
		t.Errorf("ServeConn after its peer left: %v", err)
	}
	doneB <- nil // for the cleanup
	if !waitFor(testWait, func() bool { return srv.Stats().Sessions == 1 }) {
		t.Errorf("%d sessions after B left, want 1", srv.Stats().Sessions)
	}
}

// A line that is not JSON gets a parse error and the session carries on; a
// line past the bound ends the session with an error.
func TestServeConnBadInput(t *testing.T) {
	a := newApp(t)
	srv, err := tools.New(a.eng, tools.Options{Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	c, done := serveConn(t, srv)
	sc := bufio.NewScanner(c)
	go func() {
		_, _ = c.Write([]byte("not json\n"))
		_, _ = c.Write([]byte(`{"jsonrpc":"2.0","id":7,"method":"ping"}` + "\n"))
	}()
	if !sc.Scan() || !strings.Contains(sc.Text(), "parse error") {
		t.Fatalf("not JSON: got %q (%v)", sc.Text(), sc.Err())
	}
	if !sc.Scan() || !strings.Contains(sc.Text(), `"id":7`) {
		t.Fatalf("ping after a bad line: got %q (%v)", sc.Text(), sc.Err())
	}
	go func() { _, _ = c.Write([]byte(strings.Repeat("x", 5<<20) + "\n")) }()
	err = <-done
	if err == nil || !strings.Contains(err.Error(), "longer than") {
		t.Errorf("an over-long line: %v", err)
	}
	done <- nil
}
