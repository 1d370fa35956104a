package main

import (
	"context"
	"net"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/mcp-sync/mcp-sync/cli"
)

// TestCLIErrorsSayWhatToDo: a typo'd tool or table gets a suggestion and
// the names there are; an unreachable server, a missing token and a wrong
// one each get one plain line.
func TestCLIErrorsSayWhatToDo(t *testing.T) {
	u := startHTTPServer(t)
	code, _, errOut := runBin(t, 30*time.Second, "call", "--url", u, "setTodoo", `{}`)
	if code != cli.ExitFail || !strings.Contains(errOut, `no tool named "setTodoo"; did you mean "setTodo"?`) || !strings.Contains(errOut, "createAndGenerate, deleteTodo") {
		t.Errorf("a typo'd tool: exit %d, stderr %q", code, errOut)
	}
	code, _, errOut = runBin(t, 30*time.Second, "call", "--url", u, "get_row", `{"table":"todo","key":"1"}`)
	if code != cli.ExitFail || !strings.Contains(errOut, `get_row: no table named "todo"; did you mean "todos"?`) {
		t.Errorf("get_row of a typo'd table: exit %d, stderr %q", code, errOut)
	}
	code, _, errOut = runBin(t, 30*time.Second, "watch", "--url", u, "todo/1")
	if code != cli.ExitFail || !strings.Contains(errOut, `no table named "todo"; did you mean "todos"?`) || strings.Contains(errOut, "internal") {
		t.Errorf("watch of a typo'd table: exit %d, stderr %q", code, errOut)
	}
	code, _, errOut = runBin(t, 30*time.Second, "watch", "--url", u, "nosuch/x")
	if code != cli.ExitFail || !strings.Contains(errOut, `no table named "nosuch"`) || strings.Contains(errOut, "did you mean") || strings.Contains(errOut, "internal") {
		t.Errorf("watch of a missing table: exit %d, stderr %q", code, errOut)
	}

	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "http://" + l.Addr().String() + "/mcp"
	l.Close()
	code, _, errOut = runBin(t, 30*time.Second, "tools", "--url", closed)
	if want := "mcp-sync tools: cannot reach " + closed + ": connection refused\n"; code != cli.ExitFail || errOut != want {
		t.Errorf("an unreachable server: exit %d, stderr %q, want %q", code, errOut, want)
	}

	locked := startHTTPServer(t, "--token", "right")
	code, _, errOut = runBin(t, 30*time.Second, "tools", "--url", locked)
	if code != cli.ExitFail || !strings.Contains(errOut, "requires a token: pass --token or set MCP_SYNC_TOKEN") {
		t.Errorf("no token: exit %d, stderr %q", code, errOut)
	}
	code, _, errOut = runBin(t, 30*time.Second, "tools", "--url", locked, "--token", "wrong")
	if code != cli.ExitFail || !strings.Contains(errOut, "refused the token as invalid") {
		t.Errorf("a wrong token: exit %d, stderr %q", code, errOut)
	}
	if code, _, errOut = runBin(t, 30*time.Second, "tools", "--url", locked, "--token", "right"); code != 0 {
		t.Errorf("the right token: exit %d, stderr %q", code, errOut)
	}
}

// TestWatchSaysItWaitsForRow: watching a row not yet written says so, and
// prints the row once it is.
func TestWatchSaysItWaitsForRow(t *testing.T) {
	u := startHTTPServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, interopBinary(t), "watch", "--url", u, "todos/later")
	cmd.Env = quietEnv
	out, errb := &syncBuffer{}, &syncBuffer{}
	cmd.Stdout, cmd.Stderr = out, errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cancel(); _ = cmd.Wait() }()
	if !waitUntil(testWait, func() bool { return strings.Contains(errb.String(), "waiting for it to be written") }) {
		t.Fatalf("watch of a missing row did not say it waits; stderr %q", errb.String())
	}
	if !strings.Contains(errb.String(), "todos/later does not exist yet") {
		t.Errorf("stderr %q does not name the row", errb.String())
	}
	if code, _, errOut := runBin(t, 30*time.Second, "call", "--url", u, "setTodo", `{"id":"later","text":"now","completed":false}`); code != 0 {
		t.Fatalf("setTodo: %d %s", code, errOut)
	}
	if !waitUntil(testWait, func() bool { return strings.Contains(out.String(), `"text":"now"`) }) {
		t.Errorf("watch did not print the row once written; stdout %q", out.String())
	}
}
