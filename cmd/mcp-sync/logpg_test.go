//go:build linux || darwin

package main

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/mcp-sync/mcp-sync/backend"
	"github.com/mcp-sync/mcp-sync/backend/ai"
	"github.com/mcp-sync/mcp-sync/examples/todo"
	"github.com/mcp-sync/mcp-sync/internal/drivertest"
)

// TestLogCommandOnPostgresRunsNothing: `mcp-sync log --postgres` joins the
// replicas only to read the audit: the server it starts claims no queued
// run (one it claimed would be cut off when the command ends, and run
// again after its lease).
func TestLogCommandOnPostgresRunsNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a server")
	}
	var dsn, schema string
	pg := drivertest.PostgresAt(t, &dsn, &schema)
	provider, err := ai.NewOpenAI(ai.Config{BaseURL: "http://127.0.0.1:1/v1", Model: "none"}) // never called: nothing runs
	if err != nil {
		t.Fatal(err)
	}
	opts := backend.Options{NoRuns: true}
	pg(&opts)
	eng, err := backend.Open(todo.Config(provider, func(string) string { return "" }), opts)
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	m, err := eng.Mutate(context.Background(), todo.CreateAndGenerate.Name(), json.RawMessage(`{"id":"pg-log","prompt":"hello"}`))
	if err != nil || len(m.Runs) != 1 {
		t.Fatalf("createAndGenerate: %+v, %v", m, err)
	}
	out := runLog(t, "--postgres", dsn, "--postgres-schema", schema)
	if !strings.Contains(out, "todos/pg-log put") {
		t.Fatalf("log --postgres printed:\n%s\nwant the createAndGenerate write", out)
	}
	run, ok, err := eng.Run(context.Background(), m.Runs[0])
	if err != nil || !ok || run.Status != backend.RunQueued || run.Attempts != 0 {
		t.Fatalf("after log --postgres the queued run is %+v (found %v, %v); want it still queued, never attempted", run, ok, err)
	}
}
