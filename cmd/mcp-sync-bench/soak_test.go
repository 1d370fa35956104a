package main

import (
	"bytes"
	"context"
	"flag"
	"strings"
	"testing"
	"time"

	"github.com/mcp-sync/mcp-sync/cli"
)

var soakFull = flag.Bool("soak.full", false, "run the full soak (60 s, 16 sessions) and the 1,000 idle-session memory measurement")

// runSoakCmd runs runSoak in-process with an environment without OPENAI_*
// variables.
func runSoakCmd(t *testing.T, timeout time.Duration, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	env := &cli.Environ{Stdout: &out, Stderr: &errb, Getenv: func(string) string { return "" }}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	code = runSoak(ctx, env, args)
	return code, out.String(), errb.String()
}

func TestSoakSmoke(t *testing.T) {
	code, out, errOut := runSoakCmd(t, 60*time.Second, "--duration", "5s", "--sessions", "4")
	t.Logf("soak output:\n%s", out)
	if code != cli.ExitOK {
		t.Fatalf("soak exited %d\nstderr:\n%s", code, errOut)
	}
	for _, want := range []string{"setTodo", "get_row", "subscription_update", "unexpected errors: 0", "returned to start: true", "bbolt check: ok", "PASS"} {
		if !strings.Contains(out, want) {
			t.Errorf("soak output lacks %q", want)
		}
	}
}

func TestIdleSessionsSmoke(t *testing.T) {
	soakServerBinary = labBinary(t)
	t.Cleanup(func() { soakServerBinary = "" })
	code, out, errOut := runSoakCmd(t, 2*time.Minute, "--idle-sessions", "50")
	t.Logf("idle output:\n%s", out)
	if code != cli.ExitOK {
		t.Fatalf("soak --idle-sessions exited %d\nstderr:\n%s", code, errOut)
	}
	for _, want := range []string{"0 sessions:", "50 sessions:", "all 50 received an update", "PASS"} {
		if !strings.Contains(out, want) {
			t.Errorf("idle output lacks %q", want)
		}
	}
}

func TestSoakUsage(t *testing.T) {
	if code, _, _ := runSoakCmd(t, 10*time.Second, "--sessions", "0"); code != cli.ExitUsage {
		t.Errorf("--sessions 0 exited %d, want %d", code, cli.ExitUsage)
	}
	if code, _, _ := runSoakCmd(t, 10*time.Second, "extra"); code != cli.ExitUsage {
		t.Errorf("an extra argument exited %d, want %d", code, cli.ExitUsage)
	}
}

// TestSoakFull is the soak and memory measurement, behind
// -soak.full: go test -run TestSoakFull -soak.full -v -timeout 10m ./cmd/mcp-sync/
func TestSoakFull(t *testing.T) {
	if !*soakFull {
		t.Skip("pass -soak.full to run the 60 s soak and the 1,000 idle-session measurement")
	}
	t.Run("load", func(t *testing.T) {
		code, out, errOut := runSoakCmd(t, 3*time.Minute, "--duration", "60s", "--sessions", "16")
		t.Logf("soak output:\n%s", out)
		if code != cli.ExitOK {
			t.Fatalf("soak exited %d\nstderr:\n%s", code, errOut)
		}
	})
	t.Run("idle", func(t *testing.T) {
		soakServerBinary = labBinary(t)
		t.Cleanup(func() { soakServerBinary = "" })
		for _, era := range []string{"legacy", "modern"} {
			code, out, errOut := runSoakCmd(t, 5*time.Minute, "--idle-sessions", "1000", "--idle-era", era)
			t.Logf("idle output (%s):\n%s", era, out)
			if code != cli.ExitOK {
				t.Errorf("soak --idle-sessions 1000 --idle-era %s exited %d\nstderr:\n%s", era, code, errOut)
			}
		}
	})
}
