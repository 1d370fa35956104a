package tools_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/mcp-sync/mcp-sync/backend"
	"github.com/mcp-sync/mcp-sync/client"
	"github.com/mcp-sync/mcp-sync/tools"
)

// rpcOpts say how a raw task request is sent.
type rpcOpts struct {
	modern   bool // 2026-07-28 _meta and headers
	declared bool // declare the tasks extension (modern)
	name     string
	header   map[string]string // overrides
	caps     map[string]any    // more client capabilities (modern)
}

// taskRPC posts one JSON-RPC request to base's /mcp and returns the HTTP status
// and the decoded response.
func taskRPC(t *testing.T, base, method string, params map[string]any, o rpcOpts) (int, map[string]any) {
	t.Helper()
	if params == nil {
		params = map[string]any{}
	}
	h := map[string]string{"Content-Type": "application/json", "Accept": "application/json, text/event-stream"}
	if o.modern {
		caps := map[string]any{}
		if o.declared {
			caps["extensions"] = map[string]any{tools.TasksExtension: map[string]any{}}
		}
		for k, v := range o.caps {
			caps[k] = v
		}
		params["_meta"] = map[string]any{mcp.MetaKeyProtocolVersion: "2026-07-28", mcp.MetaKeyClientCapabilities: caps}
		h[mcp.HeaderProtocolVersion] = "2026-07-28"
		h[mcp.HeaderMethod] = method
		if o.name != "" {
			h[mcp.HeaderName] = o.name
		}
	}
	for k, v := range o.header {
		h[k] = v
	}
	body, _ := json.Marshal(map[string]any{"jsonrpc": "2.0", "id": 7, "method": method, "params": params})
	req, err := http.NewRequest(http.MethodPost, base+tools.PathStreamable, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range h {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	var out map[string]any
	if err := json.Unmarshal(data, &out); err != nil {
		t.Fatalf("%s: answer is not JSON (%v): %s", method, err, data)
	}
	return resp.StatusCode, out
}

func rpcErrCode(out map[string]any) int {
	e, _ := out["error"].(map[string]any)
	c, _ := e["code"].(float64)
	return int(c)
}

func result(t *testing.T, out map[string]any) map[string]any {
	t.Helper()
	r, ok := out["result"].(map[string]any)
	if !ok {
		t.Fatalf("no result: %v", out)
	}
	return r
}

// pollTask polls tasks/get until the task is not working.
func pollTask(t *testing.T, base, id string, o rpcOpts) map[string]any {
	t.Helper()
	o.name = id
	for deadline := time.Now().Add(testWait); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		_, out := taskRPC(t, base, "tasks/get", map[string]any{"taskId": id}, o)
		r := result(t, out)
		if r["status"] != "working" {
			return r
		}
	}
	t.Fatalf("task %s still working after %v", id, testWait)
	return nil
}

func TestTasksModern(t *testing.T) {
	a := newApp(t)
	_, base := serveHTTP(t, a, tools.HTTPOptions{})
	ext := rpcOpts{modern: true, declared: true}
	ctx := context.Background()

	call := func(name string, args any) map[string]any {
		o := ext
		o.name = name
		_, out := taskRPC(t, base, "tools/call", map[string]any{"name": name, "arguments": args}, o)
		return result(t, out)
	}
	created := call("echo", map[string]any{"text": "hi"})
	id, _ := created["taskId"].(string)
	if created["resultType"] != "task" || id == "" || created["status"] != "working" || created["content"] != nil {
		t.Fatalf("CreateTaskResult: %v", created)
	}
	if v, ok := created["ttlMs"]; !ok || v != nil || created["pollIntervalMs"] == nil {
		t.Errorf("CreateTaskResult wants ttlMs null and pollIntervalMs: %v", created)
	}
	done := pollTask(t, base, id, ext)
	res, _ := done["result"].(map[string]any)
	if done["status"] != "completed" || done["resultType"] != "complete" || res == nil {
		t.Fatalf("finished task: %v", done)
	}
	if sc, _ := json.Marshal(res["structuredContent"]); string(sc) != `{"len":2,"text":"hi"}` {
		t.Errorf("result structuredContent %s", sc)
	}
	// get_run reads the same record.
	run, ok, err := a.eng.Run(ctx, id)
	if err != nil || !ok || run.Status != backend.RunSucceeded || !run.Task || string(run.Output) != `{"text":"hi","len":2}` {
		t.Fatalf("run %s: %+v %v %v", id, run, ok, err)
	}

	// Failures outside the action's words are failed tasks with an error.
	for _, name := range []string{"actPanic", "badOut"} {
		c := call(name, map[string]any{"text": "x"})
		f := pollTask(t, base, c["taskId"].(string), ext)
		e, _ := f["error"].(map[string]any)
		if f["status"] != "failed" || e == nil || e["code"] != float64(mcp.INTERNAL_ERROR) || f["result"] != nil {
			t.Errorf("%s: %v; want failed with an error", name, f)
		}
	}

	// Invalid input: an isError result at once, and no run.
	bad := call("stream", map[string]any{"key": "k", "n": 0})
	if bad["isError"] != true || bad["taskId"] != nil || bad["resultType"] != "complete" {
		t.Errorf("invalid input: %v", bad)
	}

	// Cancel a running task: an empty ack, then cancelled.
	c := call("stream", map[string]any{"key": "c", "n": 1, "hang": true})
	cid := c["taskId"].(string)
	select {
	case <-a.hanging:
	case <-time.After(testWait):
		t.Fatal("the task never started")
	}
	o := ext
	o.name = cid
	_, out := taskRPC(t, base, "tasks/cancel", map[string]any{"taskId": cid}, o)
	if ack := result(t, out); len(ack) != 1 || ack["resultType"] != "complete" {
		t.Errorf("cancel ack: %v", ack)
	}
	if f := pollTask(t, base, cid, ext); f["status"] != "cancelled" {
		t.Errorf("after cancel: %v", f)
	}
	if run, _, _ := a.eng.Run(ctx, cid); run.Status != backend.RunFailed || !run.Cancelled {
		t.Errorf("cancelled run: %+v", run)
	}
	// Cancelling a finished task is acked too; tasks/update is acked.
	_, out = taskRPC(t, base, "tasks/cancel", map[string]any{"taskId": cid}, o)
	_, out2 := taskRPC(t, base, "tasks/update", map[string]any{"taskId": cid, "inputResponses": map[string]any{}}, o)
	if result(t, out)["resultType"] != "complete" || result(t, out2)["resultType"] != "complete" {
		t.Errorf("acks: %v %v", out, out2)
	}
}

func TestTasksModernRefusals(t *testing.T) {
	a := newApp(t)
	_, base := serveHTTP(t, a, tools.HTTPOptions{})
	cases := []struct {
		what     string
		method   string
		params   map[string]any
		o        rpcOpts
		code     int
		status   int
		contains string
	}{
		{"get without the extension", "tasks/get", map[string]any{"taskId": "x"}, rpcOpts{modern: true, name: "x"}, mcp.MISSING_REQUIRED_CLIENT_CAPABILITY, 400, tools.TasksExtension},
		{"cancel without the extension", "tasks/cancel", map[string]any{"taskId": "x"}, rpcOpts{modern: true, name: "x"}, mcp.MISSING_REQUIRED_CLIENT_CAPABILITY, 400, tools.TasksExtension},
		{"unknown task", "tasks/get", map[string]any{"taskId": "nope"}, rpcOpts{modern: true, declared: true, name: "nope"}, mcp.INVALID_PARAMS, 400, `no task with id "nope"`},
		{"no task id", "tasks/get", map[string]any{}, rpcOpts{modern: true, declared: true}, mcp.INVALID_PARAMS, 400, "params.taskId is required"},
		{"Mcp-Name missing", "tasks/get", map[string]any{"taskId": "x"}, rpcOpts{modern: true, declared: true}, mcp.HEADER_MISMATCH, 400, "Mcp-Name"},
		{"Mcp-Name wrong", "tasks/get", map[string]any{"taskId": "x"}, rpcOpts{modern: true, declared: true, name: "y"}, mcp.HEADER_MISMATCH, 400, `"y" does not match body value "x"`},
		{"tasks/result removed", "tasks/result", map[string]any{"taskId": "x"}, rpcOpts{modern: true, declared: true}, mcp.METHOD_NOT_FOUND, 404, "removed"},
		{"tasks/list removed", "tasks/list", nil, rpcOpts{modern: true, declared: true}, mcp.METHOD_NOT_FOUND, 404, "removed"},
		{"params not an object", "tasks/get", nil, rpcOpts{modern: true, declared: true}, 0, 0, ""},
	}
	for _, c := range cases[:len(cases)-1] {
		status, out := taskRPC(t, base, c.method, c.params, c.o)
		msg, _ := out["error"].(map[string]any)["message"].(string)
		if rpcErrCode(out) != c.code || status != c.status || !strings.Contains(msg, c.contains) {
			t.Errorf("%s: HTTP %d %v; want %d, code %d naming %q", c.what, status, out, c.status, c.code, c.contains)
		}
	}
	// A call without the extension runs as a plain call.
	_, out := taskRPC(t, base, "tools/call", map[string]any{"name": "echo", "arguments": map[string]any{"text": "a"}}, rpcOpts{modern: true, name: "echo"})
	if r := result(t, out); r["taskId"] != nil || r["content"] == nil {
		t.Errorf("plain call: %v", r)
	}
	// Malformed params of a task method.
	body := `{"jsonrpc":"2.0","id":1,"method":"tasks/get","params":"x"}`
	resp, err := http.Post(base+tools.PathStreamable, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	var bad map[string]any
	json.NewDecoder(resp.Body).Decode(&bad)
	resp.Body.Close()
	if rpcErrCode(bad) != mcp.INVALID_PARAMS {
		t.Errorf("params \"x\": %v", bad)
	}
}

func TestTasksLegacy(t *testing.T) {
	a := newApp(t)
	_, base := serveHTTP(t, a, tools.HTTPOptions{})
	var o rpcOpts
	_, out := taskRPC(t, base, "tools/call", map[string]any{"name": "shout", "arguments": map[string]any{"text": "hey"}, "task": map[string]any{"ttl": 60000}}, o)
	task, _ := result(t, out)["task"].(map[string]any)
	id, _ := task["taskId"].(string)
	if id == "" || task["status"] != "working" || task["pollInterval"] == nil {
		t.Fatalf("CreateTaskResult: %v", out)
	}
	_, out = taskRPC(t, base, "tasks/result", map[string]any{"taskId": id}, o) // waits
	r := result(t, out)
	content, _ := r["content"].([]any)
	meta, _ := r["_meta"].(map[string]any)
	if len(content) != 1 || !strings.Contains(fmt.Sprint(content[0]), "HEY") || meta[mcp.RelatedTaskMetaKey] == nil {
		t.Fatalf("tasks/result: %v", r)
	}
	_, out = taskRPC(t, base, "tasks/get", map[string]any{"taskId": id}, o)
	if g := result(t, out); g["status"] != "completed" || g["resultType"] != nil || g["result"] != nil {
		t.Errorf("tasks/get: %v", g)
	}
	_, out = taskRPC(t, base, "tasks/list", nil, o)
	if l := fmt.Sprint(result(t, out)["tasks"]); !strings.Contains(l, id) {
		t.Errorf("tasks/list lacks %s: %s", id, l)
	}
	_, out = taskRPC(t, base, "tasks/cancel", map[string]any{"taskId": id}, o)
	if rpcErrCode(out) != mcp.INVALID_PARAMS {
		t.Errorf("cancelling a finished task: %v", out)
	}
	_, out = taskRPC(t, base, "tasks/update", map[string]any{"taskId": id}, o)
	if rpcErrCode(out) != mcp.METHOD_NOT_FOUND {
		t.Errorf("tasks/update on 2025-11-25: %v", out)
	}
	// A run a mutator enqueued is a task too.
	m, err := a.eng.Mutate(context.Background(), "putAndEcho", json.RawMessage(`{"key":"k","name":"nm"}`))
	if err != nil {
		t.Fatal(err)
	}
	_, out = taskRPC(t, base, "tasks/result", map[string]any{"taskId": m.ClientRuns()[0]}, o)
	if sc, _ := json.Marshal(result(t, out)["structuredContent"]); string(sc) != `{"len":2,"text":"nm"}` {
		t.Errorf("an enqueued run's result: %v", out)
	}
}

// TestTasksStdio: on stdio, task requests are answered beside mcp-go, and
// other messages pass through in order.
func TestTasksStdio(t *testing.T) {
	a := newApp(t)
	srv, err := tools.New(a.eng, tools.Options{Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	inR, inW := io.Pipe()
	outR, outW := io.Pipe()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.ServeStdio(ctx, inR, outW) }()
	defer func() {
		cancel()
		inW.Close()
		<-done
	}()
	meta := fmt.Sprintf(`"_meta":{%q:"2026-07-28",%q:{"extensions":{%q:{}}}}`, mcp.MetaKeyProtocolVersion, mcp.MetaKeyClientCapabilities, tools.TasksExtension)
	lines := []string{
		`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","arguments":{"text":"io"},` + meta + `}}`,
		`{"jsonrpc":"2.0","id":2,"method":"tasks/get","params":{"taskId":"missing",` + meta + `}}`,
		`{"jsonrpc":"2.0","id":3,"method":"tools/list","params":{` + meta + `}}`,
	}
	go func() {
		for _, l := range lines {
			inW.Write([]byte(l + "\n"))
		}
	}()
	got := map[float64]map[string]any{}
	sc := bufio.NewScanner(outR)
	for len(got) < 3 && sc.Scan() {
		var m map[string]any
		if json.Unmarshal(sc.Bytes(), &m) == nil {
			if id, ok := m["id"].(float64); ok {
				got[id] = m
			}
		}
	}
	if r, _ := got[1]["result"].(map[string]any); r["resultType"] != "task" {
		t.Errorf("stdio tools/call: %v", got[1])
	}
	if rpcErrCode(got[2]) != mcp.INVALID_PARAMS {
		t.Errorf("stdio tasks/get of an unknown task: %v", got[2])
	}
	if got[3]["result"] == nil {
		t.Errorf("stdio tools/list: %v", got[3])
	}
}

// TestTasksOnSSE: SSE serves tasks too: its sessions are told of them,
// a call that asks for one gets its task, and the task methods answer on
// the session's stream; a task request of an unknown session is mcp-go's
// to refuse.
func TestTasksOnSSE(t *testing.T) {
	a := newApp(t)
	_, base := serveHTTP(t, a, tools.HTTPOptions{})
	for _, e := range eras {
		c, _ := connect(t, base, e, nil)
		if caps := c.GetServerCapabilities(); e.legacy && caps.Tasks == nil {
			t.Errorf("%s: no tasks capability", e.name)
		}
	}
	// mcp-sync's Go client speaks 2025-11-25 over SSE.
	ctx, cancel := context.WithTimeout(context.Background(), testWait)
	defer cancel()
	cn, err := client.DialHTTP(ctx, base+tools.PathSSE, client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer cn.Close()
	task, out, err := cn.StartTask(ctx, "shout", map[string]any{"text": "sse"})
	if err != nil || task.ID == "" {
		t.Fatalf("StartTask over SSE: %+v %s %v; want a task", task, out, err)
	}
	if res, err := cn.WaitTask(ctx, "shout", task.ID); err != nil || !strings.Contains(string(res), "SSE") {
		t.Errorf("the task's result over SSE: %s %v", res, err)
	}
	if run, ok, _ := a.eng.Run(ctx, task.ID); !ok || !run.Task {
		t.Errorf("task %s is not a task run: %+v", task.ID, run)
	}
	// A streamable HTTP session's id is no SSE session's.
	resp, err := http.Post(base+tools.PathStreamable, "application/json", strings.NewReader(initBody))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	httpSession := resp.Header.Get("Mcp-Session-Id")
	if httpSession == "" {
		t.Fatal("no streamable HTTP session")
	}
	body := `{"jsonrpc":"2.0","id":1,"method":"tasks/get","params":{"taskId":"x"}}`
	for _, sid := range []string{"nope", httpSession} {
		resp, err := http.Post(base+tools.PathSSEMessage+"?sessionId="+sid, "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("a task request naming session %q at the SSE endpoint: HTTP %d; want mcp-go's 400", sid, resp.StatusCode)
		}
	}
}

// TestTaskSupportForbidden: an action the app keeps off tasks answers a
// client that declares the extension with a plain result, and its tool
// carries no execution.taskSupport.
func TestTaskSupportForbidden(t *testing.T) {
	a := newApp(t)
	_, base := serveOpts(t, a.eng, tools.Options{TaskSupport: map[string]mcp.TaskSupport{"echo": mcp.TaskSupportForbidden}}, tools.HTTPOptions{})
	_, out := taskRPC(t, base, "tools/call", map[string]any{"name": "echo", "arguments": map[string]any{"text": "a"}},
		rpcOpts{modern: true, declared: true, name: "echo"})
	if r := result(t, out); r["taskId"] != nil || r["content"] == nil || r["resultType"] != "complete" {
		t.Errorf("a call of a task-forbidden action: %v", r)
	}
	_, out = taskRPC(t, base, "tools/list", nil, rpcOpts{modern: true, declared: true})
	exec := map[any]any{}
	for _, tool := range result(t, out)["tools"].([]any) {
		tl := tool.(map[string]any)
		exec[tl["name"]] = tl["execution"]
	}
	if exec["echo"] != nil || fmt.Sprint(exec["shout"]) != "map[taskSupport:optional]" {
		t.Errorf("execution: echo %v (want none), shout %v (want optional)", exec["echo"], exec["shout"])
	}
}
