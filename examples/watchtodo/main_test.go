package main

import (
	"context"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// TestRun runs the example against the real binary over stdio.
func TestRun(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "mcp-sync")
	if out, err := exec.Command("go", "build", "-o", bin, "../../cmd/mcp-sync").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	t.Setenv("OPENAI_API_KEY", "")
	t.Setenv("OPENAI_BASE_URL", "")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := run(ctx, "", bin, filepath.Join(dir, "todo.db"), "a test prompt"); err != nil {
		t.Fatal(err)
	}
}
