package tools_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/mcp-sync/mcp-sync/tools"
)

// progressMessages returns the messages of the progress reports for token.
func progressMessages(n *notes, token string) []string {
	var out []string
	for _, x := range n.byMethod("notifications/progress") {
		if fmt.Sprint(x.Params.AdditionalFields["progressToken"]) == token {
			m, _ := x.Params.AdditionalFields["message"].(string)
			out = append(out, m)
		}
	}
	return out
}

// TestActionCallsAreLimited: one session may run one action at a time here;
// a second call waits (and says so as progress), a third finds the queue
// full and is refused at once as busy; the waiting call starts when the
// first ends.
func TestActionCallsAreLimited(t *testing.T) {
	a := newApp(t)
	base := serveWith(t, a, tools.Options{MaxActionCalls: 10, MaxActionCallsPerSession: 1, MaxActionQueue: 1})
	c, n := connect(t, base, eras[1], nil) // legacy HTTP: calls carry a session
	var wg sync.WaitGroup
	start := func(key string) (context.CancelFunc, *mcp.CallToolResult) {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		var res *mcp.CallToolResult
		wg.Add(1)
		go func() {
			defer wg.Done()
			req := mcp.CallToolRequest{}
			req.Params.Name = "stream"
			req.Params.Arguments = map[string]any{"key": key, "n": 1, "hang": true}
			req.Params.Meta = &mcp.Meta{ProgressToken: key}
			res, _ = c.CallTool(ctx, req)
		}()
		return cancel, res
	}
	running := func(key string) bool { _, ok, _, _ := a.eng.Get(t.Context(), "items", key); return ok }
	stopA, _ := start("a")
	if !waitFor(30*time.Second, func() bool { return running("a") }) {
		t.Fatal("the first call never ran")
	}
	stopB, _ := start("b")
	if !waitFor(30*time.Second, func() bool { return len(progressMessages(n, "b")) > 0 }) {
		t.Fatal("the second call did not report that it waits")
	}
	if m := progressMessages(n, "b")[0]; !strings.Contains(m, "waiting for a free action slot") {
		t.Errorf("waiting call's progress: %q", m)
	}
	if running("b") {
		t.Error("the second call ran beside the first: the per-session limit is 1")
	}
	res := call(t, c, "echo", map[string]any{"text": "third"})
	if !res.IsError || errorKind(res) != "busy" || !strings.Contains(text(res), "retry in a moment") {
		t.Errorf("third call: want busy, got kind %q: %q", errorKind(res), text(res))
	}
	// Another session has its own per-session slot.
	c2, _ := connect(t, base, eras[1], nil)
	if res := call(t, c2, "echo", map[string]any{"text": "other session"}); res.IsError {
		t.Errorf("another session's call: %q", text(res))
	}
	stopA()
	if !waitFor(30*time.Second, func() bool { return running("b") }) {
		t.Error("the waiting call did not start once the first ended")
	}
	stopB()
	wg.Wait()
	if res := call(t, c, "echo", map[string]any{"text": "after"}); res.IsError {
		t.Errorf("after both ended: %q", text(res))
	}
}

// TestGlobalActionLimit: with one slot and no queue, a second session's call
// is refused as busy while the first runs.
func TestGlobalActionLimit(t *testing.T) {
	a := newApp(t)
	base := serveWith(t, a, tools.Options{MaxActionCalls: 1, MaxActionCallsPerSession: -1, MaxActionQueue: -1})
	c1, _ := connect(t, base, eras[0], nil)
	c2, _ := connect(t, base, eras[1], nil)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	done := make(chan struct{})
	go func() {
		defer close(done)
		req := mcp.CallToolRequest{}
		req.Params.Name = "stream"
		req.Params.Arguments = map[string]any{"key": "g", "n": 1, "hang": true}
		_, _ = c1.CallTool(ctx, req)
	}()
	if !waitFor(30*time.Second, func() bool { _, ok, _, _ := a.eng.Get(t.Context(), "items", "g"); return ok }) {
		t.Fatal("the first call never ran")
	}
	if res := call(t, c2, "echo", map[string]any{"text": "x"}); !res.IsError || errorKind(res) != "busy" {
		t.Errorf("a second call beside the first under a global limit of 1: kind %q: %q", errorKind(res), text(res))
	}
	cancel()
	<-done
	// The client gives up at once; the server frees the slot when the
	// cancelled handler returns.
	var res *mcp.CallToolResult
	if !waitFor(30*time.Second, func() bool { res = call(t, c2, "echo", map[string]any{"text": "x"}); return !res.IsError }) {
		t.Errorf("the slot was not freed after the first call ended: %q", text(res))
	}
}
