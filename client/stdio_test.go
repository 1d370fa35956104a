package client_test

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mcp-sync/mcp-sync/client"
	"github.com/mcp-sync/mcp-sync/examples/todo"
)

var (
	binOnce sync.Once
	binPath string
	binErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if binPath != "" {
		os.RemoveAll(filepath.Dir(binPath))
	}
	os.Exit(code)
}

// mcpSyncBinary builds cmd/mcp-sync once for the stdio tests.
func mcpSyncBinary(t *testing.T) string {
	t.Helper()
	binOnce.Do(func() {
		dir, err := os.MkdirTemp("", "client-test-bin-")
		if err != nil {
			binErr = err
			return
		}
		binPath = filepath.Join(dir, "mcp-sync")
		out, err := exec.Command("go", "build", "-o", binPath, "../cmd/mcp-sync").CombinedOutput()
		if err != nil {
			binErr = errors.New(string(out))
		}
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return binPath
}

// TestStdioTodo runs the client against the real binary over stdio (the
// todo app, its AI answer from the built-in local stream): typed calls, a
// replica's optimistic write, and a watch that ends on the exact text.
func TestStdioTodo(t *testing.T) {
	bin := mcpSyncBinary(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	env := append(os.Environ(), "OPENAI_API_KEY=", "OPENAI_BASE_URL=", "MCP_SYNC_TOKEN=")
	c, err := client.DialCommand(ctx, bin, []string{"serve", "--data", filepath.Join(t.TempDir(), "todo.db"), "--ai-delay", "2ms"}, client.Options{Env: env})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()

	r, err := client.NewReplica(ctx, c, todo.Config(nil, os.Getenv), client.ReplicaOptions{Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	p, err := client.MutateLocal(ctx, r, todo.SetTodo, todo.Todo{ID: "t1", Text: "write tests"})
	if err != nil {
		t.Fatal(err)
	}
	if got, ok, _ := client.Get(r, todo.Todos, "t1"); !ok || got.Text != "write tests" {
		t.Fatalf("optimistic read: %+v %v", got, ok)
	}
	if err := p.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	// A create that the server refuses (the id exists) fails with its error.
	p, err = client.MutateLocal(ctx, r, todo.CreateAndGenerate, todo.GenerateInput{ID: "t1", Prompt: "p"})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Wait(ctx); !errors.Is(err, client.ErrHandler) || !strings.Contains(err.Error(), "already exists") {
		t.Errorf("duplicate create: %v", err)
	}

	w, err := client.Watch(ctx, c, todo.Todos, client.Selector{Key: "t2"}, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if _, err := w.Next(ctx); err != nil { // the (empty) snapshot
		t.Fatal(err)
	}
	res, err := client.Mutate(ctx, c, todo.CreateAndGenerate, todo.GenerateInput{ID: "t2", Prompt: "plan a picnic"})
	if err != nil || len(res.Runs) != 1 {
		t.Fatalf("createAndGenerate: %+v %v", res, err)
	}
	var last todo.Todo
	for last.Status != todo.StatusReady {
		ev, err := w.Next(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, ch := range ev.Changes {
			if !strings.HasPrefix(ch.Value.Text, last.Text) {
				t.Fatalf("%q does not continue %q", ch.Value.Text, last.Text)
			}
			last = ch.Value
		}
	}
	if !strings.HasPrefix(last.Text, "Hello!") || !strings.Contains(last.Text, "plan a picnic") {
		t.Errorf("final text %q", last.Text)
	}
	out, err := client.ReplicaAction(ctx, r, todo.Generate, todo.GenerateInput{ID: "t1", Prompt: "again"})
	if err != nil || !strings.Contains(out.Text, "again") {
		t.Errorf("action after the replica settled: %+v %v", out, err)
	}
}
