package tools_test

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/mcp-sync/mcp-sync/backend"
	"github.com/mcp-sync/mcp-sync/examples/todo"
	"github.com/mcp-sync/mcp-sync/tools"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

// rpc sends one JSON-RPC message straight to the server's handler.
func rpc(t testing.TB, srv *tools.Server, msg string) json.RawMessage {
	t.Helper()
	out, err := json.Marshal(srv.MCP().HandleMessage(context.Background(), json.RawMessage(msg)))
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestGoldenTodoTools fixes what a model sees of the todo example: every
// tool's name, description, schemas and hints, as declared and with
// Options.StrictSchemas. Run with -update to rewrite.
func TestGoldenTodoTools(t *testing.T) {
	eng, err := backend.Open(todo.Config(nil, func(string) string { return "" }),
		backend.Options{Path: filepath.Join(t.TempDir(), "todo.db"), Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	t.Run("declared", func(t *testing.T) { goldenTools(t, eng, false, "todo.tools-list.json") })
	t.Run("strict", func(t *testing.T) { goldenTools(t, eng, true, "todo.tools-list.strict.json") })
}

func goldenTools(t *testing.T, eng *backend.Engine, strict bool, file string) {
	srv, err := tools.New(eng, tools.Options{StrictSchemas: strict})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	var resp struct {
		Result json.RawMessage `json:"result"`
		Error  any             `json:"error"`
	}
	raw := rpc(t, srv, `{"jsonrpc":"2.0","id":1,"method":"tools/list"}`)
	if err := json.Unmarshal(raw, &resp); err != nil || resp.Error != nil {
		t.Fatalf("tools/list: %s", raw)
	}
	var got bytes.Buffer
	if err := json.Indent(&got, resp.Result, "", "  "); err != nil {
		t.Fatal(err)
	}
	got.WriteByte('\n')
	path := filepath.Join("..", "testdata", "tools", file)
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./tools -run Golden -update to create it)", err)
	}
	if !bytes.Equal(got.Bytes(), want) {
		t.Errorf("tools/list differs from %s (run with -update if the change is meant):\n%s", path, got.String())
	}
}
