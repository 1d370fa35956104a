package main

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mcp-sync/mcp-sync/cli"
)

func TestDemoRunsToReady(t *testing.T) {
	data := filepath.Join(t.TempDir(), "todo.db")
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

// TestDataInMissingDirectoryRefused: a --data whose directory does not exist
// (a typo) is refused with a clear error, and no folder is made; the default
// data directory is still created (cli's TestMainGivesAnAppTheCommands, for
// the commands that start serve with --data on it).
func TestDataInMissingDirectoryRefused(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "tpyo")
	for _, args := range [][]string{{"demo"}, {"serve"}} {
		code, out, errOut := runCmd(t, nil, append(args, "--data", filepath.Join(dir, "todo.db"))...)
		if code != cli.ExitFail || !strings.Contains(errOut, dir+" does not exist") {
			t.Errorf("%s with a missing directory: exit %d\nstdout: %s\nstderr: %s", args[0], code, out, errOut)
		}
		if strings.Contains(out+errOut, "AI:") {
			t.Errorf("%s printed the AI banner although it failed to start:\n%s%s", args[0], out, errOut)
		}
		if _, err := os.Stat(dir); err == nil {
			t.Fatalf("%s created the missing directory", args[0])
		}
	}
}

// TestDemoFollowsRetries: with the AI server down, the demo tells of each
// failed attempt and that the run tries again, and exits only when the run
// gave up, saying after how many attempts and why.
func TestDemoFollowsRetries(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	down := "http://" + l.Addr().String() + "/v1"
	l.Close()
	code, out, errOut := runCmd(t, map[string]string{"OPENAI_BASE_URL": down}, "demo", "--data", filepath.Join(t.TempDir(), "todo.db"))
	if code != cli.ExitFail {
		t.Fatalf("demo with the AI down exited %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	for _, want := range []string{"Attempt 1 failed: ", "Attempt 2 failed: ", "generateWithAI tries again in "} {
		if !strings.Contains(out, want) {
			t.Errorf("stdout lacks %q:\n%s", want, out)
		}
	}
	if !strings.Contains(errOut, "mcp-sync demo: generateWithAI gave up after 3 attempts: ") || !strings.Contains(errOut, "cannot reach "+down) || strings.Contains(errOut, "ended with status") {
		t.Errorf("stderr does not say the run gave up and why:\n%s", errOut)
	}
}
