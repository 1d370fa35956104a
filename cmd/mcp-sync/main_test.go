package main

import (
	"bytes"
	"context"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/mcp-sync/mcp-sync/cli"
	"github.com/mcp-sync/mcp-sync/examples/todo"
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
		{[]string{"demo", "--help"}, cli.ExitOK, "out", "Usage: mcp-sync demo"},
		{[]string{"help", "schema"}, cli.ExitOK, "out", "Usage: mcp-sync schema"},
		{[]string{"demo", "--nosuchflag"}, cli.ExitUsage, "err", "nosuchflag"},
		{[]string{"schema", "extra"}, cli.ExitUsage, "err", `unexpected argument "extra"`},
		{[]string{"serve", "--help"}, cli.ExitOK, "out", "Usage: mcp-sync serve"},
		{[]string{"tools", "--help"}, cli.ExitOK, "out", "Usage: mcp-sync tools"},
		{[]string{"call", "--help"}, cli.ExitOK, "out", "Usage: mcp-sync call"},
		{[]string{"watch", "--help"}, cli.ExitOK, "out", "Usage: mcp-sync watch"},
		{[]string{"check", "--help"}, cli.ExitOK, "out", "Usage: mcp-sync check"},
		{[]string{"schema", "-h"}, cli.ExitOK, "out", "Usage: mcp-sync schema"},
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

// TestServeHelpNamesWhatIsHidden: serve --help says every mutator and action
// is a tool and every table a resource "but for" the todo app's internal
// declarations and server-only tables, which it names: each of them, and
// nothing the app declares for clients.
func TestServeHelpNamesWhatIsHidden(t *testing.T) {
	code, out, _ := runCmd(t, nil, "serve", "--help")
	flat := strings.Join(strings.Fields(out), " ")
	_, hidden, ok := strings.Cut(flat, "but for ")
	if code != cli.ExitOK || !ok {
		t.Fatalf("serve --help: exit %d, no \"but for\" clause:\n%s", code, out)
	}
	hidden, _, _ = strings.Cut(hidden, ".")
	named := func(name string) bool { return regexp.MustCompile(`\b` + name + `\b`).MatchString(hidden) }
	check := func(kind, name string, internal bool) {
		if named(name) != internal {
			t.Errorf("serve --help's %q: names %s %s %v, internal or server-only %v", hidden, kind, name, named(name), internal)
		}
	}
	for _, tb := range todo.Schema.Tables() {
		check("table", tb.Name, tb.ServerOnly)
	}
	for _, m := range todo.Schema.Mutators() {
		check("mutator", m.Name, m.Internal)
	}
	for _, a := range todo.Schema.Actions() {
		check("action", a.Name, a.Internal)
	}
}
