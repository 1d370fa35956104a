package tools_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/mcp-sync/mcp-sync/tools"
)

// TestSessionCapIgnoresASessionHeader: mcp-go mints a new session for every
// legacy initialize, whatever Mcp-Session-Id it carries, so an initialize
// that sends a made-up id must meet the session cap like one that sends none.
func TestSessionCapIgnoresASessionHeader(t *testing.T) {
	a := newApp(t)
	srv, base := serveHTTP(t, a, tools.HTTPOptions{MaxSessions: 1})
	connect(t, base, eras[1], nil) // legacy streamable HTTP: the one session
	if !waitFor(10*time.Second, func() bool { return srv.Stats().Sessions == 1 }) {
		t.Fatalf("sessions: %d, want 1", srv.Stats().Sessions)
	}
	for i := range 3 {
		resp := postJSON(t, base+tools.PathStreamable, "made-up", initBody)
		if resp.StatusCode != http.StatusServiceUnavailable {
			t.Errorf("initialize %d with a made-up session id past the cap: %s, want 503", i, resp.Status)
		}
	}
	if n := srv.Stats().Sessions; n > 1 {
		t.Errorf("the server holds %d sessions, over its cap of 1", n)
	}
}
