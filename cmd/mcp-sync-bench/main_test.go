package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mcp-sync/mcp-sync/cli"
)

var (
	binOnce sync.Once
	binDir  string
	binPath string
	binErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// labBinary builds mcp-sync-bench once per test binary (without -race: the
// servers it starts are the subject, not the test), for the tests that
// start servers from it (a test binary cannot serve).
func labBinary(t *testing.T) string {
	t.Helper()
	binOnce.Do(func() {
		if binDir, binErr = os.MkdirTemp("", "mcp-sync-bench-test-"); binErr != nil {
			return
		}
		binPath = filepath.Join(binDir, "mcp-sync-bench")
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, "go", "build", "-o", binPath, ".")
		if out, err := cmd.CombinedOutput(); err != nil {
			binErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return binPath
}

// runCmdTimeout runs a command in-process, bounded by timeout, with an
// environment that has no OPENAI_* variables, so nothing leaves the machine.
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
		{nil, cli.ExitUsage, "out", "Usage: mcp-sync-bench <command>"},
		{[]string{"help"}, cli.ExitOK, "out", "bare-serve"},
		{[]string{"nosuch"}, cli.ExitUsage, "err", `unknown command "nosuch"`},
		{[]string{"bench", "--help"}, cli.ExitOK, "out", "Usage: mcp-sync-bench bench"},
		{[]string{"soak", "--help"}, cli.ExitOK, "out", "Usage: mcp-sync-bench soak"},
		{[]string{"bare-serve", "--help"}, cli.ExitOK, "out", "Usage: mcp-sync-bench bare-serve"},
		{[]string{"serve", "--help"}, cli.ExitOK, "out", "--app"},
		{[]string{"serve", "--app", "nope"}, cli.ExitUsage, "err", "unknown app"},
		{[]string{"check", "--app", "nope"}, cli.ExitUsage, "err", "unknown app"},
	}
	for _, c := range cases {
		code, out, errOut := runCmdTimeout(t, 60*time.Second, nil, c.args...)
		if code != c.code {
			t.Errorf("mcp-sync-bench %v exited %d, want %d", c.args, code, c.code)
		}
		text := out
		if c.in == "err" {
			text = errOut
		}
		if !strings.Contains(text, c.want) {
			t.Errorf("mcp-sync-bench %v: %s lacks %q:\nstdout: %s\nstderr: %s", c.args, c.in, c.want, out, errOut)
		}
	}
}

// TestServeBenchStartsNoAI: only the todo app calls a model, so only it
// starts the built-in local AI stream; the bench app, measured against a bare
// server, must not run one beside it.
func TestServeBenchStartsNoAI(t *testing.T) {
	if testing.Short() {
		t.Skip("starts servers")
	}
	bin := labBinary(t)
	for app, wantAI := range map[string]bool{"bench": false, "conformance": false, "todo": true} {
		srv, err := cli.StartServerProc(t.Context(), bin, "serve", "--app", app, "--data", filepath.Join(t.TempDir(), "app.db"), "--http", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		logs := srv.Logs()
		srv.Stop()
		if got := strings.Contains(logs, "AI:"); got != wantAI {
			t.Errorf("serve --app %s: logs an AI notice = %v, want %v:\n%s", app, got, wantAI, logs)
		}
	}
}
