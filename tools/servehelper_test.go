package tools_test

import (
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/mcp-sync/mcp-sync/tools"
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
