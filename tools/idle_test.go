package tools_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/mcp-sync/mcp-sync/tools"
	"github.com/mcp-sync/mcp-sync/wire"
)

// TestIdleSessionsExpireButWatchesLive: with a 1 s idle TTL, a legacy HTTP
// session that only watches (its GET stream open, no requests) keeps
// receiving updates, while one with nothing open is swept. The watch stays
// alive by its heartbeats, ten to the TTL, so that a loaded machine that
// delays a few still keeps it.
func TestIdleSessionsExpireButWatchesLive(t *testing.T) {
	a := newApp(t)
	srv, base := serveHTTP(t, a, tools.HTTPOptions{SessionIdleTTL: time.Second, HeartbeatInterval: 100 * time.Millisecond})
	watcher, n := connect(t, base, era{"watch", "http", true}, nil)
	subscribe(t, watcher, era{"watch", "http", true}, wire.RowURI("items", "w"))
	mutateUntilNotified(t, watcher, n, "w", wire.RowURI("items", "w"))

	// A legacy session with no stream open, made by hand.
	resp := postJSON(t, base+tools.PathStreamable, "", `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"idle","version":"1"}}}`)
	idleID := resp.Header.Get("Mcp-Session-Id")
	if idleID == "" {
		t.Fatal("initialize returned no session id")
	}
	if resp := postJSON(t, base+tools.PathStreamable, idleID, `{"jsonrpc":"2.0","id":2,"method":"ping"}`); resp.StatusCode != http.StatusOK {
		t.Fatalf("ping on a fresh session: %s", resp.Status)
	}

	time.Sleep(3 * time.Second) // three sweeps
	before := len(updatedURIs(n))
	if _, err := a.eng.Mutate(context.Background(), "putItem", json.RawMessage(`{"key":"w","name":"after idle"}`)); err != nil {
		t.Fatal(err)
	}
	if !waitFor(testWait, func() bool { return len(updatedURIs(n)) > before }) {
		t.Fatalf("an idle watch stream stopped receiving updates after the idle TTL (none in %v)", testWait)
	}
	if resp := postJSON(t, base+tools.PathStreamable, idleID, `{"jsonrpc":"2.0","id":3,"method":"ping"}`); resp.StatusCode != http.StatusNotFound {
		t.Errorf("a session idle past its TTL still answers: %s", resp.Status)
	}
	_ = srv
}

func postJSON(t *testing.T, url, session, body string) *http.Response {
	t.Helper()
	req, _ := http.NewRequest("POST", url, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	req.Header.Set("MCP-Protocol-Version", "2025-11-25")
	if session != "" {
		req.Header.Set("Mcp-Session-Id", session)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp
}
