package tools

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// TestRequestBodyOnceRead: after withBody, requestBody hands every handler
// the same bytes without consuming them, and the last handler still reads
// the whole body.
func TestRequestBodyOnceRead(t *testing.T) {
	const msg = `{"jsonrpc":"2.0","id":1,"method":"tools/call"}`
	var seen []string
	h := withBody(1<<20, time.Second, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for range 2 {
			b, err := requestBody(r)
			if err != nil {
				t.Fatal(err)
			}
			seen = append(seen, string(b))
		}
		b, err := io.ReadAll(r.Body)
		if err != nil {
			t.Fatal(err)
		}
		seen = append(seen, string(b))
		b, _ = requestBody(r) // read through: what is left is nothing
		seen = append(seen, string(b))
	}))
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodPost, "/mcp", strings.NewReader(msg)))
	if want := []string{msg, msg, msg, ""}; strings.Join(seen, "|") != strings.Join(want, "|") {
		t.Fatalf("reads gave %q, want %q", seen, want)
	}
}
