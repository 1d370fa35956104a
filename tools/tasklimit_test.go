package tools_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/mcp-sync/mcp-sync/backend"
	"github.com/mcp-sync/mcp-sync/tools"
	"github.com/mcp-sync/mcp-sync/wire"
)

// TestTaskLimitRefusal: a task beyond the caller's limit is refused with a
// busy tool error naming the limit, on both eras, and no task is made.
func TestTaskLimitRefusal(t *testing.T) {
	a := newApp(t, func(o *backend.Options) { o.MaxTasks = 1 })
	_, base := serveHTTP(t, a, tools.HTTPOptions{})
	ext := rpcOpts{modern: true, declared: true, name: "stream"}
	_, out := taskRPC(t, base, "tools/call", map[string]any{"name": "stream", "arguments": map[string]any{"key": "h", "n": 1, "hang": true}}, ext)
	if result(t, out)["taskId"] == nil {
		t.Fatalf("the first task: %v", out)
	}
	select {
	case <-a.hanging:
	case <-time.After(testWait):
		t.Fatal("the first task never started")
	}
	refusals := map[string]map[string]any{}
	_, out = taskRPC(t, base, "tools/call", map[string]any{"name": "echo", "arguments": map[string]any{"text": "x"}}, rpcOpts{modern: true, declared: true, name: "echo"})
	refusals["2026-07-28"] = result(t, out)
	_, out = taskRPC(t, base, "tools/call", map[string]any{"name": "echo", "arguments": map[string]any{"text": "x"}, "task": map[string]any{}}, rpcOpts{})
	refusals["2025-11-25"] = result(t, out)
	for era, r := range refusals {
		meta, _ := r["_meta"].(map[string]any)
		kind := fmt.Sprint(meta[wire.ErrorMetaKey])
		msg := fmt.Sprint(r["content"])
		if r["isError"] != true || r["taskId"] != nil || r["task"] != nil || !strings.Contains(kind, string(wire.KindBusy)) ||
			!strings.Contains(msg, "limit of 1 unfinished tasks") || !strings.Contains(msg, "--max-tasks") {
			t.Errorf("%s: a task beyond the limit: %v; want a busy tool error naming the limit", era, r)
		}
	}
}
