package todo_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"path/filepath"
	"testing"

	"github.com/mcp-sync/mcp-sync/backend"
	"github.com/mcp-sync/mcp-sync/backend/ai"
	"github.com/mcp-sync/mcp-sync/backend/ai/localai"
	"github.com/mcp-sync/mcp-sync/examples/todo"
)

// TestAIKeyFromSecrets: the todo app sends the AI key kept in its
// server-only secrets table when one is set there (written by the internal
// setSecret mutator), and OPENAI_API_KEY otherwise.
func TestAIKeyFromSecrets(t *testing.T) {
	llm, err := localai.Start(localai.Options{Text: "buy milk"})
	if err != nil {
		t.Fatal(err)
	}
	defer llm.Close()
	env := map[string]string{ai.EnvAPIKey: "env-key", ai.EnvBaseURL: llm.URL(), ai.EnvModel: localai.DefaultModel}
	getenv := func(k string) string { return env[k] }
	p, err := ai.NewOpenAI(todo.AIConfig(getenv))
	if err != nil {
		t.Fatal(err)
	}
	e, err := backend.Open(todo.Config(p, getenv),
		backend.Options{Path: filepath.Join(t.TempDir(), "todo.db"), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	ctx := context.Background()
	sentKey := func(id string) string {
		t.Helper()
		in, _ := json.Marshal(todo.GenerateInput{ID: id, Prompt: "milk"})
		if _, err := e.Act(ctx, todo.Generate.Name(), in); err != nil {
			t.Fatalf("generate: %v", err)
		}
		ex, ok := llm.Last()
		if !ok {
			t.Fatal("the AI server got no request")
		}
		return ex.APIKey
	}
	if got := sentKey("1"); got != "env-key" {
		t.Errorf("with no secret set, Authorization carried %q, want the environment's key", got)
	}
	// Server code sets the key through the internal mutator.
	in, _ := json.Marshal(todo.SecretInput{Key: todo.AIKeySecret, Value: "table-key"})
	if _, err := e.Mutate(ctx, todo.SetSecret.Name(), in); err != nil {
		t.Fatalf("setSecret from server code: %v", err)
	}
	if got := sentKey("2"); got != "table-key" {
		t.Errorf("with a secret set, Authorization carried %q, want the secrets table's key", got)
	}
	// A client's push of the internal mutator is refused as unknown.
	if _, err := e.Mutate(ctx, todo.SetSecret.Name(), in, backend.Once("c", 1)); backend.KindOf(err) != backend.ErrUnknown {
		t.Errorf("a client's push of setSecret: %v", err)
	}
}
