package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mcp-sync/mcp-sync/backend"
	"github.com/mcp-sync/mcp-sync/cli"
	"github.com/mcp-sync/mcp-sync/storage"
	"github.com/mcp-sync/mcp-sync/storage/bolt"
	"github.com/mcp-sync/mcp-sync/storage/bolt/damage"
)

const victimText = "VICTIM-TODO-0123456789-abcdefghij"

// todoFile writes a todo data file with enough rows for branch pages, and
// the todo "victim" whose text is victimText, and returns it as a writer
// that crashed after its last write leaves it: Open walks such a file in
// full (a cleanly closed one opens fast, see bolt.Open).
func todoFile(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "todo.db")
	s, err := bolt.OpenStore(path, bolt.Options{SchemaVersion: 1, Tables: []string{"todos", "secrets", backend.RunsTable}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	_, err = s.Update(context.Background(), func(w *storage.WriteTx) error {
		for i := range 400 {
			id := fmt.Sprintf("t%04d", i)
			if err := w.Put("todos", id, fmt.Appendf(nil, `{"id":%q,"text":%q,"completed":false}`, id, strings.Repeat("x", 250))); err != nil {
				return err
			}
		}
		return w.Put("todos", "victim", fmt.Appendf(nil, `{"id":"victim","text":%q,"completed":false}`, victimText))
	})
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	crashed := filepath.Join(t.TempDir(), "crashed.db")
	if err := os.WriteFile(crashed, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return crashed
}

// noStack fails when a command's stderr shows a Go panic or stack trace.
func noStack(t *testing.T, cmd, stderr string) {
	t.Helper()
	for _, bad := range []string{"goroutine ", "panic:", "runtime error", "SIGSEGV", "SIGBUS"} {
		if strings.Contains(stderr, bad) {
			t.Errorf("%s: stderr shows %q:\n%s", cmd, bad, stderr)
		}
	}
}

// TestDamagedDataFile: each kind of damage makes `serve`, `call` (which
// starts serve on the file) and `check` exit 1 with a message naming the
// file and no stack trace; `check` names the damaged row.
func TestDamagedDataFile(t *testing.T) {
	healthy := todoFile(t)
	if code, out, errOut := runCmd(t, nil, "check", "--data", healthy); code != cli.ExitOK || !strings.Contains(out, "result:   OK") {
		t.Fatalf("check of the healthy file exited %d\n%s\n%s", code, out, errOut)
	}
	for _, v := range damage.Variants([]byte(victimText)) {
		t.Run(v.Name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "todo.db")
			data, err := os.ReadFile(healthy)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, data, 0o600); err != nil {
				t.Fatal(err)
			}
			if err := v.Apply(path); err != nil {
				t.Fatal(err)
			}
			code, _, errOut := runCmd(t, nil, "serve", "--data", path)
			if code != cli.ExitFail || !strings.Contains(errOut, path) {
				t.Errorf("serve exited %d, want %d with a message naming %s:\n%s", code, cli.ExitFail, path, errOut)
			}
			noStack(t, "serve", errOut)

			code, out, errOut := runCmd(t, nil, "check", "--data", path)
			if code != cli.ExitFail || !strings.Contains(out, path) || !strings.Contains(out, "DAMAGED") {
				t.Errorf("check exited %d, want %d and a report naming %s:\nstdout:\n%s\nstderr:\n%s", code, cli.ExitFail, path, out, errOut)
			}
			if v.RowDamage && !strings.Contains(out, `table todos: key "victim": checksum mismatch`) {
				t.Errorf("check does not name the damaged row:\n%s", out)
			}
			noStack(t, "check", out+errOut)

			code, _, errOut = runBin(t, 60*time.Second, "call", "--data", path, "get_row", `{"table":"todos","key":"victim"}`)
			if code != cli.ExitFail || !strings.Contains(errOut, path) {
				t.Errorf("call exited %d, want %d with a message naming %s:\n%s", code, cli.ExitFail, path, errOut)
			}
			noStack(t, "call", errOut)
		})
	}
}

// TestCheckCommand: check reports a row that breaks its table's schema, and
// a file a server holds as in use.
func TestCheckCommand(t *testing.T) {
	path := todoFile(t)
	s, err := bolt.OpenStore(path, bolt.Options{SchemaVersion: 1, Tables: []string{"todos"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Update(context.Background(), func(w *storage.WriteTx) error {
		return w.Put("todos", "bad", []byte(`{"id":"bad","text":5,"completed":false}`))
	}); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := runCmd(t, nil, "check", "--data", path)
	if code != cli.ExitOK+1 || !strings.Contains(errOut, "in use") {
		t.Errorf("check of a file held open exited %d, want 1 and 'in use':\n%s%s", code, out, errOut)
	}
	s.Close()
	code, out, _ = runCmd(t, nil, "check", "--data", path)
	if code != cli.ExitFail || !strings.Contains(out, `table todos: key "bad"`) || !strings.Contains(out, "/text") {
		t.Errorf("check of a row that breaks its schema exited %d:\n%s", code, out)
	}
	if code, _, errOut := runCmd(t, nil, "check", "--data", filepath.Join(t.TempDir(), "none.db")); code != cli.ExitFail || !strings.Contains(errOut, "none.db") {
		t.Errorf("check of a missing file exited %d: %s", code, errOut)
	}
}
