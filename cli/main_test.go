package cli_test

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// notesBinary builds testdata/notesapp, an app of its own whose main is
// one call of cli.Main.
func notesBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "notes")
	if out, err := exec.Command("go", "build", "-o", bin, "./testdata/notesapp").CombinedOutput(); err != nil {
		t.Fatalf("building the notes app: %v\n%s", err, out)
	}
	return bin
}

// runNotes runs the notes binary with args; a run that outlives its bound
// fails the test.
func runNotes(t *testing.T, bin string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = append(os.Environ(), "MCP_SYNC_TOKEN=", "MCP_SYNC_DATA=", "XDG_DATA_HOME="+t.TempDir())
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("notes %v did not finish\nstdout:\n%s\nstderr:\n%s", args, out.String(), errb.String())
	}
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return code, out.String(), errb.String()
}

// TestMainGivesAnAppTheCommands: an app's own binary built on cli.Main has
// its name and version in the help, and serve (started by call and tools
// over stdio), tools, call, watch, schema and check work on its schema.
func TestMainGivesAnAppTheCommands(t *testing.T) {
	bin := notesBinary(t)
	code, out, _ := runNotes(t, bin, "--help")
	if code != 0 || !strings.HasPrefix(out, "notes 0.1.0: notes kept for an AI model.\n") {
		t.Errorf("--help: exit %d\n%s", code, out)
	}
	for _, c := range []string{"serve", "tools", "call", "watch", "schema", "check"} {
		if !strings.Contains(out, "\n  "+c+" ") {
			t.Errorf("--help lacks the %s command:\n%s", c, out)
		}
		if code, out, errOut := runNotes(t, bin, c, "--help"); code != 0 || !strings.Contains(out, "Usage: notes "+c) || errOut != "" {
			t.Errorf("%s --help: exit %d\nstdout: %s\nstderr: %s", c, code, out, errOut)
		}
	}
	if code, _, errOut := runNotes(t, bin, "demo"); code != 2 || !strings.Contains(errOut, `unknown command "demo"`) {
		t.Errorf("demo is mcp-sync's, not the app's: exit %d, %s", code, errOut)
	}
	if code, out, _ := runNotes(t, bin, "schema"); code != 0 || !strings.Contains(out, "table notes") || !strings.Contains(out, "mutator saveNote") || strings.Contains(out, "todo") {
		t.Errorf("schema: exit %d\n%s", code, out)
	}

	// With no --data, on a machine where the default data directory does
	// not exist yet: it is made (the serve started with --data would refuse
	// a missing directory).
	if code, out, errOut := runNotes(t, bin, "tools"); code != 0 || !strings.Contains(out, "saveNote (idempotent)") {
		t.Errorf("tools on the default data file, its directory not made yet: exit %d\n%s\n%s", code, out, errOut)
	}

	data := filepath.Join(t.TempDir(), "notes.db")
	if code, out, errOut := runNotes(t, bin, "tools", "--data", data); code != 0 || !strings.Contains(out, "saveNote (idempotent)") {
		t.Errorf("tools: exit %d\n%s\n%s", code, out, errOut)
	}
	if code, out, errOut := runNotes(t, bin, "call", "--data", data, "saveNote", `{"id":"n1","text":"hello","tags":["a"]}`); code != 0 || !strings.Contains(out, `"version": 1`) {
		t.Errorf("call saveNote: exit %d\n%s\n%s", code, out, errOut)
	}
	if code, out, errOut := runNotes(t, bin, "watch", "--data", data, "notes/n1", "--until", "text=hello"); code != 0 || !strings.Contains(out, `"tags":["a"]`) {
		t.Errorf("watch: exit %d\n%s\n%s", code, out, errOut)
	}
	if code, out, errOut := runNotes(t, bin, "check", "--data", data); code != 0 || !strings.Contains(out, "table:    notes: 1 rows") {
		t.Errorf("check: exit %d\n%s\n%s", code, out, errOut)
	}
}
