package tools_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/mcp-sync/mcp-sync/tools"
	"github.com/mcp-sync/mcp-sync/tools/auth"
)

// TestAuthAndTokenExcludeEachOther: OAuth and the static token both need
// the Authorization header, so a server given both could admit no one.
// ServeHTTP refuses them with an error saying so; HTTPHandler, which
// returns no error, fails closed.
func TestAuthAndTokenExcludeEachOther(t *testing.T) {
	v, err := auth.New(auth.Config{Issuer: "http://127.0.0.1:1", Resource: "http://127.0.0.1:2/mcp"})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := tools.New(newOAuthApp(t), tools.Options{Logger: quietLogger(), Auth: v})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	err = srv.ServeHTTP(ctx, "127.0.0.1:0", tools.HTTPOptions{Token: "s3cret"}, func(string) {
		t.Error("ServeHTTP served with both Token and Auth")
		cancel()
	})
	if err == nil || !strings.Contains(err.Error(), "exclude each other") || strings.Contains(err.Error(), "s3cret") {
		t.Errorf("ServeHTTP with Token and Auth: %v, want an error saying they exclude each other (without the token)", err)
	}
	rec := httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodPost, tools.PathStreamable, strings.NewReader(initBody))
	req.Header.Set("Authorization", "Bearer s3cret")
	srv.HTTPHandler(tools.HTTPOptions{Token: "s3cret"}).ServeHTTP(rec, req)
	if rec.Code != http.StatusInternalServerError || !strings.Contains(rec.Body.String(), "misconfigured") {
		t.Errorf("HTTPHandler with Token and Auth answered %d %q, want 500 saying it is misconfigured", rec.Code, rec.Body.String())
	}
}
