package main

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mcp-sync/mcp-sync/internal/cli"
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
