package tools_test

import (
	"context"
	"testing"
	"time"

	"github.com/mcp-sync/mcp-sync/backend"
	"github.com/mcp-sync/mcp-sync/tools"
)

// TestTaskMethodsAuditNoToolTheClientNames: tasks/cancel and tasks/update
// write (the run's cancellation, its answers), and a params.name the
// client adds to them names no tool: the audit records those writes as
// no tool's, never as a call of whatever tool the client named.
func TestTaskMethodsAuditNoToolTheClientNames(t *testing.T) {
	a := newApp(t)
	_, base := serveHTTP(t, a, tools.HTTPOptions{})
	o := rpcOpts{modern: true, declared: true, name: "stream"}
	_, out := taskRPC(t, base, "tools/call", map[string]any{"name": "stream", "arguments": map[string]any{"key": "c", "n": 1, "hang": true}}, o)
	id, _ := result(t, out)["taskId"].(string)
	if id == "" {
		t.Fatalf("no task: %v", out)
	}
	select {
	case <-a.hanging:
	case <-time.After(testWait):
		t.Fatal("the task never started")
	}
	o.name = id
	_, out = taskRPC(t, base, "tasks/cancel", map[string]any{"taskId": id, "name": "forgedTool"}, o)
	if ack := result(t, out); ack["resultType"] != "complete" {
		t.Fatalf("cancel: %v", out)
	}
	if f := pollTask(t, base, id, rpcOpts{modern: true, declared: true}); f["status"] != "cancelled" {
		t.Fatalf("after cancel: %v", f)
	}
	hs, _, err := a.eng.History(context.Background(), backend.HistoryOptions{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	cancelled := false
	for _, h := range hs {
		if h.Cause.Tool == "forgedTool" {
			t.Errorf("version %d is audited as a call of the tool the client named: %+v", h.Version, h.Cause)
		}
		for _, c := range h.Changes {
			cancelled = cancelled || c.Key == id && h.Cause.Tool == "" && h.Cause.Run == ""
		}
	}
	if !cancelled {
		t.Errorf("no version audited as the cancel's write of run %s: %+v", id, hs)
	}
}
