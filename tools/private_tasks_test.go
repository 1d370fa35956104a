package tools_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// checkTasks: a summarizeNote task alice starts (2026-07-28's extension or
// 2025-11-25's params.task, by e) is hers: bob's tasks/get, tasks/result,
// tasks/cancel and tasks/list treat it as a task that does not exist.
func checkTasks(t *testing.T, alice, bob *puser, base1, base2 string, e era, k surfaceKeys, p string) {
	args := map[string]any{"key": k.ka}
	var id string
	if e.legacy {
		out := alice.rpc(t, base1, "tools/call", map[string]any{"name": summarizeNote.Name(), "arguments": args,
			"task": map[string]any{"ttl": 60000}}, rpcOpts{})
		task, _ := result(t, out)["task"].(map[string]any)
		id, _ = task["taskId"].(string)
	} else {
		out := alice.rpc(t, base1, "tools/call", map[string]any{"name": summarizeNote.Name(), "arguments": args},
			rpcOpts{modern: true, declared: true, name: summarizeNote.Name()})
		id, _ = result(t, out)["taskId"].(string)
	}
	if id == "" {
		t.Fatalf("alice's summarizeNote as a task gave no task id")
	}
	o := func(id string) rpcOpts { return rpcOpts{modern: !e.legacy, declared: !e.legacy, name: id} }

	// Alice's task finishes with her note's summary.
	var done map[string]any
	for deadline := time.Now().Add(testWait); ; time.Sleep(20 * time.Millisecond) {
		done = result(t, alice.rpc(t, base1, "tasks/get", map[string]any{"taskId": id}, o(id)))
		if done["status"] != "working" || time.Now().After(deadline) {
			break
		}
	}
	if done["status"] != "completed" {
		t.Fatalf("alice's task %s: %v", id, done)
	}
	if e.legacy {
		done = result(t, alice.rpc(t, base1, "tasks/result", map[string]any{"taskId": id}, o(id)))
	}
	if b, _ := json.Marshal(done); !strings.Contains(string(b), "summary of "+alice.mark+" ka"+p) {
		t.Errorf("alice's task result does not summarize her note: %s", b)
	}

	// To bob it does not exist.
	fake := fakeID(id)
	methods := []string{"tasks/get", "tasks/cancel"}
	if e.legacy {
		methods = append(methods, "tasks/result")
	}
	for _, m := range methods {
		theirs := bob.rpc(t, base2, m, map[string]any{"taskId": id}, o(id))
		nobodys := bob.rpc(t, base2, m, map[string]any{"taskId": fake}, o(fake))
		if theirs["error"] == nil {
			t.Errorf("bob's %s of alice's task: %v", m, theirs)
		}
		tb, _ := json.Marshal(theirs)
		nb, _ := json.Marshal(nobodys)
		sameAsMissing(t, "bob's "+m, string(tb), id, string(nb), fake)
	}
	if e.legacy {
		list := func(u *puser, base string) string {
			b, _ := json.Marshal(result(t, u.rpc(t, base, "tasks/list", nil, rpcOpts{}))["tasks"])
			return string(b)
		}
		if l := list(bob, base2); strings.Contains(l, id) {
			t.Errorf("bob's tasks/list shows alice's task %s: %s", id, l)
		}
		if l := list(alice, base1); !strings.Contains(l, id) {
			t.Errorf("alice's tasks/list lacks her task %s: %s", id, l)
		}
	}
}
