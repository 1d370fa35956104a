package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// runCmd runs a command in-process with an environment that has no
// OPENAI_* variables, so nothing leaves the machine.
func runCmd(t *testing.T, vars map[string]string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	return runCmdTimeout(t, 60*time.Second, vars, args...)
}

// runCmdTimeout is runCmd with a bound of its own.
func runCmdTimeout(t *testing.T, timeout time.Duration, vars map[string]string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	env := &environ{stdout: &out, stderr: &errb, getenv: func(k string) string { return vars[k] }}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	code = run(ctx, env, args)
	return code, out.String(), errb.String()
}

func TestDemoRunsToReady(t *testing.T) {
	data := filepath.Join(t.TempDir(), "sub", "todo.db")
	code, out, errOut := runCmd(t, nil, "demo", "--data", data, "--delay", "1ms")
	if code != exitOK {
		t.Fatalf("demo exited %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	for _, want := range []string{"Data file: " + data, "built-in local stream", "MCP server: http://127.0.0.1:", "Called createAndGenerate", "Hello!", "Ready:"} {
		if !strings.Contains(out, want) {
			t.Errorf("demo output lacks %q:\n%s", want, out)
		}
	}
	if _, err := os.Stat(data); err != nil {
		t.Errorf("demo did not create its data file: %v", err)
	}
	// A second run on the same file works and adds a second todo.
	if code, out, errOut := runCmd(t, nil, "demo", "--data", data, "--delay", "0s"); code != exitOK {
		t.Fatalf("second demo run exited %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
}

func TestDemoDataFromEnvironment(t *testing.T) {
	dir := t.TempDir()
	code, _, errOut := runCmd(t, map[string]string{"XDG_DATA_HOME": dir}, "demo", "--delay", "0s")
	if code != exitOK {
		t.Fatalf("demo exited %d: %s", code, errOut)
	}
	if _, err := os.Stat(filepath.Join(dir, "mcp-sync", "todo.db")); err != nil {
		t.Errorf("demo did not use $XDG_DATA_HOME/mcp-sync/todo.db: %v", err)
	}
}

func TestDemoUnwritableDataFails(t *testing.T) {
	blocker := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(blocker, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, _, errOut := runCmd(t, nil, "demo", "--data", filepath.Join(blocker, "todo.db"))
	if code != exitFail {
		t.Fatalf("demo with a data path under a regular file exited %d, want %d", code, exitFail)
	}
	if !strings.Contains(errOut, "mcp-sync demo:") || !strings.Contains(errOut, blocker) {
		t.Errorf("error does not say what failed and where: %q", errOut)
	}
}

func TestSchemaCommand(t *testing.T) {
	code, out, errOut := runCmd(t, nil, "schema")
	if code != exitOK {
		t.Fatalf("schema exited %d: %s", code, errOut)
	}
	for _, want := range []string{"table todos", "mutator setTodo", "mutator createAndGenerate", "action generateWithAI", "server-only"} {
		if !strings.Contains(out, want) {
			t.Errorf("schema output lacks %q:\n%s", want, out)
		}
	}
	code, out, errOut = runCmd(t, nil, "schema", "--json")
	if code != exitOK {
		t.Fatalf("schema --json exited %d: %s", code, errOut)
	}
	var doc map[string]any
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatalf("schema --json is not JSON: %v\n%s", err, out)
	}
}

func TestUsageAndExitCodes(t *testing.T) {
	cases := []struct {
		args []string
		code int
		in   string // where the text must appear: "out" or "err"
		want string
	}{
		{nil, exitUsage, "out", "Commands:"},
		{[]string{"help"}, exitOK, "out", "Commands:"},
		{[]string{"--help"}, exitOK, "out", "Commands:"},
		{[]string{"nosuch"}, exitUsage, "err", `unknown command "nosuch"`},
		{[]string{"demo", "--help"}, exitOK, "err", "Usage: mcp-sync demo"},
		{[]string{"help", "schema"}, exitOK, "err", "Usage: mcp-sync schema"},
		{[]string{"demo", "--nosuchflag"}, exitUsage, "err", "nosuchflag"},
		{[]string{"schema", "extra"}, exitUsage, "err", `unexpected argument "extra"`},
		{[]string{"serve", "--help"}, exitOK, "err", "Usage: mcp-sync serve"},
		{[]string{"tools", "--help"}, exitOK, "err", "Usage: mcp-sync tools"},
		{[]string{"call", "--help"}, exitOK, "err", "Usage: mcp-sync call"},
		{[]string{"watch", "--help"}, exitOK, "err", "Usage: mcp-sync watch"},
		{[]string{"call"}, exitUsage, "err", "Usage: mcp-sync call"},
		{[]string{"watch", "a", "b"}, exitUsage, "err", "Usage: mcp-sync watch"},
		{[]string{"watch", "todos", "--until", "status=ready"}, exitUsage, "err", "needs TABLE/KEY"},
		{[]string{"serve", "--app", "nope"}, exitUsage, "err", "unknown app"},
	}
	for _, c := range cases {
		code, out, errOut := runCmd(t, nil, c.args...)
		if code != c.code {
			t.Errorf("mcp-sync %v exited %d, want %d", c.args, code, c.code)
		}
		text := out
		if c.in == "err" {
			text = errOut
		}
		if !strings.Contains(text, c.want) {
			t.Errorf("mcp-sync %v: %s lacks %q:\nstdout: %s\nstderr: %s", c.args, c.in, c.want, out, errOut)
		}
	}
}
