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

	"github.com/mcp-sync/mcp-sync/internal/cli"
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
	env := &cli.Environ{Stdout: &out, Stderr: &errb, Getenv: func(k string) string { return vars[k] }}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	code = run(ctx, env, args)
	return code, out.String(), errb.String()
}

func TestDemoRunsToReady(t *testing.T) {
	data := filepath.Join(t.TempDir(), "sub", "todo.db")
	code, out, errOut := runCmd(t, nil, "demo", "--data", data, "--delay", "1ms")
	if code != cli.ExitOK {
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
	if code, out, errOut := runCmd(t, nil, "demo", "--data", data, "--delay", "0s"); code != cli.ExitOK {
		t.Fatalf("second demo run exited %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
}

func TestDemoDataFromEnvironment(t *testing.T) {
	dir := t.TempDir()
	code, _, errOut := runCmd(t, map[string]string{"XDG_DATA_HOME": dir}, "demo", "--delay", "0s")
	if code != cli.ExitOK {
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
	if code != cli.ExitFail {
		t.Fatalf("demo with a data path under a regular file exited %d, want %d", code, cli.ExitFail)
	}
	if !strings.Contains(errOut, "mcp-sync demo:") || !strings.Contains(errOut, blocker) {
		t.Errorf("error does not say what failed and where: %q", errOut)
	}
}

func TestSchemaCommand(t *testing.T) {
	code, out, errOut := runCmd(t, nil, "schema")
	if code != cli.ExitOK {
		t.Fatalf("schema exited %d: %s", code, errOut)
	}
	for _, want := range []string{"table todos", "mutator setTodo", "mutator createAndGenerate", "action generateWithAI", "server-only"} {
		if !strings.Contains(out, want) {
			t.Errorf("schema output lacks %q:\n%s", want, out)
		}
	}
	code, out, errOut = runCmd(t, nil, "schema", "--json")
	if code != cli.ExitOK {
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
		{nil, cli.ExitUsage, "out", "Commands:"},
		{[]string{"help"}, cli.ExitOK, "out", "Commands:"},
		{[]string{"--help"}, cli.ExitOK, "out", "Commands:"},
		{[]string{"nosuch"}, cli.ExitUsage, "err", `unknown command "nosuch"`},
		{[]string{"demo", "--help"}, cli.ExitOK, "err", "Usage: mcp-sync demo"},
		{[]string{"help", "schema"}, cli.ExitOK, "err", "Usage: mcp-sync schema"},
		{[]string{"demo", "--nosuchflag"}, cli.ExitUsage, "err", "nosuchflag"},
		{[]string{"schema", "extra"}, cli.ExitUsage, "err", `unexpected argument "extra"`},
		{[]string{"serve", "--help"}, cli.ExitOK, "err", "Usage: mcp-sync serve"},
		{[]string{"tools", "--help"}, cli.ExitOK, "err", "Usage: mcp-sync tools"},
		{[]string{"call", "--help"}, cli.ExitOK, "err", "Usage: mcp-sync call"},
		{[]string{"watch", "--help"}, cli.ExitOK, "err", "Usage: mcp-sync watch"},
		{[]string{"call"}, cli.ExitUsage, "err", "Usage: mcp-sync call"},
		{[]string{"watch", "a", "b"}, cli.ExitUsage, "err", "Usage: mcp-sync watch"},
		{[]string{"watch", "todos", "--until", "status=ready"}, cli.ExitUsage, "err", "needs TABLE/KEY"},
		// The load lab and its fixture apps are mcp-sync-bench's, not the user's.
		{[]string{"bench"}, cli.ExitUsage, "err", `unknown command "bench"`},
		{[]string{"soak"}, cli.ExitUsage, "err", `unknown command "soak"`},
		{[]string{"bare-serve"}, cli.ExitUsage, "err", `unknown command "bare-serve"`},
		{[]string{"serve", "--app", "conformance"}, cli.ExitUsage, "err", "-app"},
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
