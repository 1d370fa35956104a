package tools_test

import (
	"encoding/json"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/mcp-sync/mcp-sync/tools"
	"github.com/mcp-sync/mcp-sync/wire"
)

// serveOn serves srv's HTTP handler (default options) on ln until t ends,
// then closes srv and the listener.
func serveOn(t testing.TB, srv *tools.Server, ln net.Listener) {
	hs := &http.Server{Handler: srv.HTTPHandler(tools.HTTPOptions{}), ReadHeaderTimeout: 10 * time.Second}
	done := make(chan struct{})
	go func() { defer close(done); _ = hs.Serve(ln) }()
	t.Cleanup(func() {
		srv.Close()
		_ = hs.Close()
		<-done
	})
}

// serveWith is serveHTTP with the server's own options.
func serveWith(t *testing.T, a *app, opts tools.Options) string {
	t.Helper()
	_, base := serveOpts(t, a.eng, opts, tools.HTTPOptions{})
	return base
}

func errorKind(res *mcp.CallToolResult) string {
	if res.Meta == nil {
		return ""
	}
	b, _ := json.Marshal(res.Meta.AdditionalFields[wire.ErrorMetaKey])
	var k struct{ Kind string }
	_ = json.Unmarshal(b, &k)
	return k.Kind
}
