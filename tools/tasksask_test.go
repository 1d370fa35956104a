package tools_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/mcp-sync/mcp-sync/tools"
)

// TestAskBeforeTask: an action in Options.AskBeforeTask, called with the
// tasks extension, asks its first questions as an input_required result
// (no task yet); the call bringing the answers starts the task, which
// finds them; later questions wait in the task's input_required.
func TestAskBeforeTask(t *testing.T) {
	eng := inputEngine(t)
	_, base := serveOpts(t, eng, tools.Options{AskBeforeTask: map[string]bool{"askName": true, "twoRounds": true}}, tools.HTTPOptions{})
	o := rpcOpts{modern: true, declared: true, caps: map[string]any{"elicitation": map[string]any{}}}
	call := func(name string, extra map[string]any) map[string]any {
		t.Helper()
		o := o
		o.name = name
		params := map[string]any{"name": name, "arguments": map[string]any{"text": "x"}}
		for k, v := range extra {
			params[k] = v
		}
		_, out := taskRPC(t, base, "tools/call", params, o)
		return out
	}
	answer := func(name string) map[string]any {
		return map[string]any{"action": "accept", "content": map[string]any{"name": name}}
	}
	tasks := func() int {
		runs, _, err := eng.TaskRuns(t.Context(), "", 100)
		if err != nil {
			t.Fatal(err)
		}
		return len(runs)
	}

	r1 := result(t, call("askName", nil))
	reqs, _ := r1["inputRequests"].(map[string]any)
	state, _ := r1["requestState"].(string)
	if r1["resultType"] != "input_required" || reqs["name"] == nil || state == "" || r1["taskId"] != nil {
		t.Fatalf("round 1: %v; want input_required asking for name, with a requestState and no task", r1)
	}
	if n := tasks(); n != 0 {
		t.Fatalf("round 1 made %d tasks; want none", n)
	}
	r2 := result(t, call("askName", map[string]any{"inputResponses": map[string]any{"name": answer("Alice")}, "requestState": state}))
	id, _ := r2["taskId"].(string)
	if r2["resultType"] != "task" || id == "" || r2["requestState"] != nil || r2["inputRequests"] != nil {
		t.Fatalf("round 2: %v; want a CreateTaskResult without requestState or inputRequests", r2)
	}
	done := pollTask(t, base, id, o)
	if done["status"] != "completed" || !strings.Contains(fmt.Sprint(done["result"]), "Hello, Alice (accept)") {
		t.Fatalf("the task: %v; want it completed with the answer gathered before it", done)
	}

	// The first answer starts the task; the second question waits in it.
	a := result(t, call("twoRounds", nil))
	b := result(t, call("twoRounds", map[string]any{"inputResponses": map[string]any{"step1": answer("Bob")}, "requestState": a["requestState"]}))
	tid, _ := b["taskId"].(string)
	if tid == "" {
		t.Fatalf("twoRounds round 2: %v", b)
	}
	to := o
	to.name = tid
	waitTaskInput(t, base, tid, "step2", to)
	_, out := taskRPC(t, base, "tasks/update", map[string]any{"taskId": tid, "inputResponses": map[string]any{"step2": answer("blue")}}, to)
	result(t, out)
	if f := pollTask(t, base, tid, o); !strings.Contains(fmt.Sprint(f["result"]), "Bob likes blue") {
		t.Fatalf("twoRounds' task: %v", f)
	}

	// A tampered state, or another tool's, starts nothing.
	before := tasks()
	for what, st := range map[string]string{"tampered": state + "x", "another tool's": fmt.Sprint(a["requestState"])} {
		out := call("askName", map[string]any{"inputResponses": map[string]any{"name": answer("Eve")}, "requestState": st})
		if rpcErrCode(out) != mcp.INVALID_PARAMS || !strings.Contains(fmt.Sprint(out["error"]), "integrity") {
			t.Errorf("%s state: %v; want -32602 naming the integrity check", what, out)
		}
	}
	if n := tasks(); n != before {
		t.Errorf("refused states started %d tasks", n-before)
	}
	// Without the extension the call is a direct one, rounds and all.
	_, out = taskRPC(t, base, "tools/call", map[string]any{"name": "askName", "arguments": map[string]any{"text": "x"}},
		rpcOpts{modern: true, name: "askName", caps: o.caps})
	if r := result(t, out); r["resultType"] != "input_required" || r["taskId"] != nil {
		t.Errorf("without the extension: %v", r)
	}
}

// waitTaskInput polls tasks/get until the task asks for key.
func waitTaskInput(t *testing.T, base, id, key string, o rpcOpts) {
	t.Helper()
	var last map[string]any
	for deadline := time.Now().Add(testWait); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		_, out := taskRPC(t, base, "tasks/get", map[string]any{"taskId": id}, o)
		last = result(t, out)
		if reqs, _ := last["inputRequests"].(map[string]any); last["status"] == "input_required" && reqs[key] != nil {
			return
		}
	}
	t.Fatalf("task %s never asked for %s: %v", id, key, last)
}
