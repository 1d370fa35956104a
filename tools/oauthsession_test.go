package tools_test

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/mark3labs/mcp-go/client/transport"

	"github.com/mcp-sync/mcp-sync/tools"
)

// TestOAuthSessionsBoundToTheirSubject: a legacy session opened with
// alice's token is, to bob's token, a session that does not exist: he can
// neither act in it nor open its stream.
func TestOAuthSessionsBoundToTheirSubject(t *testing.T) {
	o := serveOAuth(t)
	for _, e := range eras[1:] { // the legacy ones have sessions
		t.Run(e.name, func(t *testing.T) {
			c, _ := connect(t, o.base, e, map[string]string{"Authorization": "Bearer " + o.good(t, "alice")})
			sid := c.GetSessionId()
			if sse, ok := c.GetTransport().(*transport.SSE); ok && sse.GetEndpoint() != nil {
				sid = sse.GetEndpoint().Query().Get("sessionId")
			}
			if sid == "" {
				t.Fatal("no session id")
			}
			try := func(tok, method, path string) int {
				t.Helper()
				var body io.Reader
				if method == "POST" {
					body = strings.NewReader(`{"jsonrpc":"2.0","id":9,"method":"ping"}`)
				}
				ctx, cancel := context.WithTimeout(context.Background(), testWait)
				defer cancel()
				req, _ := http.NewRequestWithContext(ctx, method, o.base+path, body)
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set("Accept", "application/json, text/event-stream")
				req.Header.Set("Authorization", "Bearer "+tok)
				req.Header.Set("Mcp-Session-Id", sid)
				req.Header.Set("Mcp-Protocol-Version", "2025-11-25")
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close() // a stream that opened is cut here
				return resp.StatusCode
			}
			path := tools.PathStreamable
			if e.transport == "sse" {
				path = tools.PathSSEMessage + "?sessionId=" + sid
			}
			bob := o.good(t, "bob")
			if got := try(bob, "POST", path); got != http.StatusNotFound {
				t.Errorf("bob's POST in alice's session: %d, want 404", got)
			}
			if e.transport == "http" {
				if got := try(bob, "GET", path); got != http.StatusNotFound {
					t.Errorf("bob's GET of alice's session stream: %d, want 404", got)
				}
			}
			if got := try(o.good(t, "alice"), "POST", path); got == http.StatusNotFound || got >= 500 {
				t.Errorf("alice's own POST in her session (a new token): %d", got)
			}
		})
	}
}
