package main

import (
	"context"
	"errors"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mcp-sync/mcp-sync/backend"
	"github.com/mcp-sync/mcp-sync/cli"
	"github.com/mcp-sync/mcp-sync/client"
	"github.com/mcp-sync/mcp-sync/examples/todo"
)

// TestServeOpenAddressNeedsToken: `serve --http` on an address other
// machines can reach, without a token, exits 1 saying why and what to do;
// --insecure-no-token lets it start.
func TestServeOpenAddressNeedsToken(t *testing.T) {
	if testing.Short() {
		t.Skip("starts servers")
	}
	data := filepath.Join(t.TempDir(), "open.db")
	code, _, errOut := runBin(t, 60*time.Second, "serve", "--data", data, "--http", "0.0.0.0:0")
	if code != cli.ExitFail || !strings.Contains(errOut, "read and change all data") || !strings.Contains(errOut, "--insecure-no-token") ||
		strings.Contains(errOut, "goroutine ") {
		t.Errorf("serve --http 0.0.0.0:0 without a token: exit %d, stderr:\n%s", code, errOut)
	}
	srv, err := cli.StartServerProc(t.Context(), interopBinary(t), "serve", "--data", data, "--http", "0.0.0.0:0", "--insecure-no-token",
		"--max-body", "1024", "--allow-origin", "https://a.example,https://b.example", "--max-sessions", "5", "--max-subscriptions-total", "10")
	if err != nil {
		t.Fatalf("serve --insecure-no-token did not start: %v", err)
	}
	srv.Stop()
}

// TestServeLimitFlags: serve's limit flags reach the engine (a row over
// --max-row-bytes is refused over stdio, naming the limit and its flag, and
// nothing is written), and a negative value is a usage error.
func TestServeLimitFlags(t *testing.T) {
	data := filepath.Join(t.TempDir(), "limits.db")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	c, err := client.DialCommand(ctx, interopBinary(t), []string{"serve", "--data", data, "--max-row-bytes", "200", "--max-input-bytes", "1000"}, client.Options{Env: quietEnv})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_, err = c.Call(ctx, "setTodo", map[string]any{"id": "big", "text": strings.Repeat("x", 300), "completed": false})
	if !errors.Is(err, client.ErrInvalidInput) || !strings.Contains(err.Error(), "200-byte row limit") || !strings.Contains(err.Error(), "--max-row-bytes") {
		t.Errorf("a 300-byte row under --max-row-bytes 200: %v", err)
	}
	_, err = c.Call(ctx, "setTodo", map[string]any{"id": "huge", "text": strings.Repeat("x", 2000), "completed": false})
	if !errors.Is(err, client.ErrInvalidInput) || !strings.Contains(err.Error(), "1000-byte input limit") {
		t.Errorf("a 2000-byte input under --max-input-bytes 1000: %v", err)
	}
	if _, err := c.Call(ctx, "setTodo", map[string]any{"id": "small", "text": "fits", "completed": false}); err != nil {
		t.Errorf("a small row: %v", err)
	}
	out, err := c.Call(ctx, "get_row", map[string]any{"table": "todos", "key": "big"})
	if err != nil || !strings.Contains(string(out), `"found":false`) {
		t.Errorf("the refused row: %s %v", out, err)
	}
	code, _, errOut := runBin(t, 30*time.Second, "serve", "--data", data, "--max-action-calls", "-1")
	if code != cli.ExitUsage || !strings.Contains(errOut, "max-action-calls") {
		t.Errorf("a negative limit: exit %d, %q", code, errOut)
	}
}

// TestServeErrorBeforeBanner: when serve cannot start (its data file is
// held by another engine), the cause is the first thing it prints; the AI
// banner, said only once serving starts, does not appear.
func TestServeErrorBeforeBanner(t *testing.T) {
	path := filepath.Join(t.TempDir(), "held.db")
	eng, err := backend.Open(todo.Config(nil, nil), backend.Options{Path: path, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	code, out, errOut := runCmd(t, nil, "serve", "--data", path)
	if code != cli.ExitFail || strings.Contains(out+errOut, "AI:") || !strings.Contains(errOut, "level=ERROR") {
		t.Errorf("serve on a held file: exit %d\nstdout: %s\nstderr: %s", code, out, errOut)
	}
}
