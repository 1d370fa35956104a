package tools_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"strings"
	"testing"

	"github.com/mark3labs/mcp-go/client/transport"

	"github.com/mcp-sync/mcp-sync/backend"
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

// TestServeConnTasks: a relayed session's task is a run record, as on
// stdio: tools/call with params.task returns a task that tasks/get and
// tasks/result answer from the engine. ServeConn used to hand it to
// mcp-go, which kept it in memory where tasks/get did not find it.
func TestServeConnTasks(t *testing.T) {
	a := newApp(t)
	srv, err := tools.New(a.eng, tools.Options{Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	c, _ := serveConn(t, srv)
	sc := bufio.NewScanner(c)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	ask := func(line string) map[string]any {
		t.Helper()
		if _, err := c.Write([]byte(line + "\n")); err != nil {
			t.Fatal(err)
		}
		for sc.Scan() {
			var m map[string]any
			if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
				t.Fatalf("%q: %v", sc.Text(), err)
			}
			if m["id"] != nil {
				return m
			}
		}
		t.Fatalf("no answer to %s: %v", line, sc.Err())
		return nil
	}
	ask(`{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{"tasks":{}},"clientInfo":{"name":"t","version":"1"}}}`)
	if _, err := c.Write([]byte(`{"jsonrpc":"2.0","method":"notifications/initialized"}` + "\n")); err != nil {
		t.Fatal(err)
	}
	out := ask(`{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"shout","arguments":{"text":"hey"},"task":{"ttl":60000}}}`)
	r, _ := out["result"].(map[string]any)
	task, _ := r["task"].(map[string]any)
	id, _ := task["taskId"].(string)
	if id == "" {
		t.Fatalf("tools/call as a task: %v", out)
	}
	out = ask(`{"jsonrpc":"2.0","id":3,"method":"tasks/result","params":{"taskId":"` + id + `"}}`)
	if !strings.Contains(fmt.Sprint(out["result"]), "HEY") {
		t.Fatalf("tasks/result: %v", out)
	}
	// A 2026-07-28 read of a resource nothing serves names it in data.uri.
	out = ask(`{"jsonrpc":"2.0","id":4,"method":"resources/read","params":{"uri":"test://nowhere","_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28"}}}`)
	if e, _ := out["error"].(map[string]any); fmt.Sprint(e["code"]) != "-32602" || fmt.Sprint(e["data"]) != "map[uri:test://nowhere]" {
		t.Errorf("resources/read of a URI nothing serves: %v", out)
	}
	if run, ok, err := a.eng.Run(context.Background(), id); err != nil || !ok || run.Status != backend.RunSucceeded {
		t.Fatalf("the task's run record: %+v, %v, %v", run, ok, err)
	}
}
