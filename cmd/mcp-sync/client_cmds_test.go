package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mcp-sync/mcp-sync/cli"
	"github.com/mcp-sync/mcp-sync/examples/todo"
)

// runBin runs the built binary with args and returns its exit code and output.
func runBin(t *testing.T, timeout time.Duration, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, interopBinary(t), args...)
	cmd.Env = quietEnv
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("mcp-sync %v did not finish within %v\nstdout:\n%s\nstderr:\n%s", args, timeout, out.String(), errb.String())
	}
	code = 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return code, out.String(), errb.String()
}

// TestCLIToolsAndCall drives `tools` and `call` with their default server:
// `mcp-sync serve` on the data file, started over stdio.
func TestCLIToolsAndCall(t *testing.T) {
	data := filepath.Join(t.TempDir(), "cli.db")
	code, out, errOut := runBin(t, 30*time.Second, "tools", "--data", data)
	if code != 0 || !strings.Contains(out, "setTodo (idempotent)") || !strings.Contains(out, "input:  {completed*: boolean, error: string, id*: string") {
		t.Fatalf("tools: exit %d\n%s\n%s", code, out, errOut)
	}
	code, out, _ = runBin(t, 30*time.Second, "tools", "--json", "--data", data)
	var list struct{ Tools []struct{ Name string } }
	if code != 0 || json.Unmarshal([]byte(out), &list) != nil || len(list.Tools) < 5 {
		t.Fatalf("tools --json: exit %d: %s", code, out)
	}

	code, out, errOut = runBin(t, 30*time.Second, "call", "--data", data, "setTodo", `{"id":"1","text":"buy milk","completed":false}`)
	if code != 0 || !strings.Contains(out, `"version": 1`) {
		t.Fatalf("call setTodo: exit %d\n%s\n%s", code, out, errOut)
	}
	code, _, errOut = runBin(t, 30*time.Second, "call", "--data", data, "setTodo", `{"id":"2","text":5,"completed":false}`)
	if code != cli.ExitFail || !strings.Contains(errOut, "/text") || !strings.Contains(errOut, "Nothing was written") {
		t.Errorf("call with a wrong type: exit %d, stderr %q", code, errOut)
	}
	code, out, _ = runBin(t, 30*time.Second, "call", "--data", data, "get_row", `{"table":"todos","key":"2"}`)
	if code != 0 || !strings.Contains(out, `"found": false`) {
		t.Errorf("the refused call wrote its row: %s", out)
	}
	if code, _, errOut = runBin(t, 30*time.Second, "call", "--data", data, "noSuchTool"); code != cli.ExitFail || !strings.Contains(errOut, "noSuchTool") {
		t.Errorf("unknown tool: exit %d, stderr %q", code, errOut)
	}
	if code, _, errOut = runBin(t, 30*time.Second, "call", "--data", data, "setTodo", "not json"); code != cli.ExitUsage || !strings.Contains(errOut, "JSON object") {
		t.Errorf("arguments that are not JSON: exit %d, stderr %q", code, errOut)
	}

	// An action: the result on stdout, progress lines on stderr.
	code, out, errOut = runBin(t, 60*time.Second, "call", "--data", data, "generateWithAI", `{"id":"1","prompt":"picnic"}`)
	if code != 0 || !strings.Contains(out, `"text": "Hello!`) || strings.Count(errOut, "progress ") < 5 {
		t.Fatalf("call generateWithAI: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
}

// TestCLIWatch: `watch TABLE/KEY --until status=ready` prints every value it
// reads as a JSON line (not a terminal), each text continuing the last, and
// exits once the row is ready; `watch TABLE` prints changed rows. The AI
// writes a chunk every 100 ms, so that watchers a loaded machine starts
// late still see the text grow.
func TestCLIWatch(t *testing.T) {
	u := startHTTPServer(t, "--ai-delay", "100ms")
	type res struct {
		code     int
		out, err string
	}
	rowDone, tableDone := make(chan res, 1), make(chan res, 1)
	go func() {
		code, out, errOut := runBin(t, 60*time.Second, "watch", "--url", u, "todos/w1", "--until", "status=ready")
		rowDone <- res{code, out, errOut}
	}()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	tableCmd := exec.CommandContext(ctx, interopBinary(t), "watch", "--url", u, "todos")
	tableOut := &syncBuffer{}
	tableCmd.Stdout = tableOut
	if err := tableCmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { err := tableCmd.Wait(); tableDone <- res{err: errString(err)} }()
	time.Sleep(500 * time.Millisecond) // both watchers subscribed

	if code, out, errOut := runBin(t, 30*time.Second, "call", "--url", u, "createAndGenerate", `{"id":"w1","prompt":"picnic"}`); code != 0 {
		t.Fatalf("createAndGenerate: %d %s %s", code, out, errOut)
	}
	var r res
	select {
	case r = <-rowDone:
	case <-time.After(60 * time.Second):
		t.Fatal("watch --until status=ready did not exit")
	}
	if r.code != 0 {
		t.Fatalf("watch exited %d: %s", r.code, r.err)
	}
	lines := strings.Split(strings.TrimSpace(r.out), "\n")
	var prev todo.Todo
	for i, l := range lines {
		var v todo.Todo
		if err := json.Unmarshal([]byte(l), &v); err != nil {
			t.Fatalf("line %d is not a JSON row: %q", i, l)
		}
		if !strings.HasPrefix(v.Text, prev.Text) {
			t.Fatalf("line %d %q does not continue %q", i, v.Text, prev.Text)
		}
		prev = v
	}
	if prev.Status != todo.StatusReady || !strings.HasPrefix(prev.Text, "Hello!") || len(lines) < 3 {
		t.Errorf("watch printed %d lines ending %+v", len(lines), prev)
	}

	// The table watcher reads on its own time: wait for it to print the
	// ready row.
	waitUntil(testWait, func() bool { return strings.Contains(tableOut.String(), `"status":"ready"`) })
	cancel()
	<-tableDone
	if !strings.Contains(tableOut.String(), `w1 {"id":"w1"`) || !strings.Contains(tableOut.String(), `"status":"ready"`) {
		t.Errorf("watch todos printed (after up to %v):\n%s", testWait, tableOut.String())
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
