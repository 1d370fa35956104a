//go:build linux || darwin

package main

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mcp-sync/mcp-sync/cli"
	"github.com/mcp-sync/mcp-sync/client"
)

// killableServer starts `mcp-sync serve --http 127.0.0.1:0 --data data`
// with args and returns its URL and a func that SIGKILLs it.
func killableServer(t *testing.T, data string, args ...string) (string, func()) {
	t.Helper()
	return startProc(t, interopBinary(t), append([]string{"serve", "--data", data, "--http", "127.0.0.1:0"}, args...)...)
}

// TestTaskSurvivesRestart starts a streaming AI action as a task, SIGKILLs
// the server mid-stream, starts it again on the same file, and reads the
// finished result on the new process: with tasks/get (2026-07-28, the
// result inlined) and tasks/result (2025-11-25), and get_run agrees.
func TestTaskSurvivesRestart(t *testing.T) {
	if testing.Short() {
		t.Skip("starts servers")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	data := filepath.Join(t.TempDir(), "app.db")
	u, kill := killableServer(t, data, "--ai-delay", "40ms")
	cn, err := client.DialHTTP(ctx, u, client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cn.Call(ctx, "setTodo", map[string]any{"id": "t", "text": "", "completed": false}); err != nil {
		t.Fatal(err)
	}
	task, out, err := cn.StartTask(ctx, "generateWithAI", map[string]any{"id": "t", "prompt": "survive a restart"})
	if err != nil || task.ID == "" {
		t.Fatalf("StartTask: task %+v, output %s, err %v", task, out, err)
	}
	// Wait until the stream has written part of the text: the run is mid-way.
	for i := 0; ; i++ {
		row, err := cn.Call(ctx, "get_row", map[string]any{"table": "todos", "key": "t"})
		if err != nil {
			t.Fatal(err)
		}
		var r struct {
			Value struct{ Text, Status string }
		}
		json.Unmarshal(row, &r)
		if r.Value.Text != "" && r.Value.Status == "generating" {
			break
		}
		if i == 400 {
			t.Fatalf("the stream wrote nothing within 20 s; the row is %s", row)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if st, err := cn.GetTask(ctx, "generateWithAI", task.ID); err != nil || st.Status != "working" {
		t.Fatalf("before the kill: task %+v, err %v; want working", st, err)
	}
	cn.Close()
	kill()

	u, _ = killableServer(t, data, "--ai-delay", "1ms")
	modern, err := client.DialHTTP(ctx, u, client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer modern.Close()
	got, err := modern.WaitTask(ctx, "generateWithAI", task.ID) // tasks/get until completed, result inlined
	if err != nil {
		t.Fatalf("tasks/get on the new process: %v", err)
	}
	var gen struct{ Text string }
	if err := json.Unmarshal(got, &gen); err != nil || !strings.Contains(gen.Text, "survive a restart") {
		t.Fatalf("the task's result is %s (%v); want the generated text naming the prompt", got, err)
	}
	legacy, err := client.DialHTTP(ctx, u, client.Options{Legacy: true})
	if err != nil {
		t.Fatal(err)
	}
	defer legacy.Close()
	again, err := legacy.WaitTask(ctx, "generateWithAI", task.ID) // tasks/get, then tasks/result
	if err != nil || string(again) != string(got) {
		t.Fatalf("tasks/result (2025-11-25): %s, %v; want %s", again, err, got)
	}
	run, err := modern.Call(ctx, "get_run", map[string]any{"id": task.ID})
	if err != nil {
		t.Fatal(err)
	}
	var r struct {
		Status   string
		Attempts int
		Output   json.RawMessage
	}
	if err := json.Unmarshal(run, &r); err != nil || r.Status != "succeeded" || r.Attempts != 2 || string(r.Output) != string(got) {
		t.Fatalf("get_run: %s; want succeeded after 2 attempts (the first cut off by the kill), with the task's output %s", run, got)
	}
}

// TestCLICallTask: `call --task` runs an action as a task over stdio (both
// protocol eras), names the task on stderr, and prints the result; a tool
// that never runs as a task is answered at once, and bad arguments fail as
// a plain call's do.
func TestCLICallTask(t *testing.T) {
	data := filepath.Join(t.TempDir(), "cli.db")
	if code, _, errOut := runBin(t, 30*time.Second, "call", "--data", data, "setTodo", `{"id":"1","text":"","completed":false}`); code != 0 {
		t.Fatalf("setTodo: exit %d: %s", code, errOut)
	}
	for _, era := range [][]string{nil, {"--legacy"}} {
		args := append([]string{"call", "--data", data, "--task"}, era...)
		code, out, errOut := runBin(t, 60*time.Second, append(args, "generateWithAI", `{"id":"1","prompt":"as a task"}`)...)
		if code != 0 || !strings.Contains(out, `as a task`) || !strings.Contains(errOut, "task ") || !strings.Contains(errOut, "get_run") {
			t.Fatalf("call --task %v: exit %d\nstdout:\n%s\nstderr:\n%s", era, code, out, errOut)
		}
		code, _, errOut = runBin(t, 30*time.Second, append(args, "generateWithAI", `{"id":"1"}`)...)
		if code != cli.ExitFail || !strings.Contains(errOut, "prompt") {
			t.Errorf("call --task %v with a missing argument: exit %d, stderr %q", era, code, errOut)
		}
	}
	code, out, errOut := runBin(t, 30*time.Second, "call", "--data", data, "--task", "setTodo", `{"id":"2","text":"now","completed":false}`)
	if code != 0 || !strings.Contains(out, `"version"`) || strings.Contains(errOut, "task ") {
		t.Errorf("call --task of a mutator: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
}
