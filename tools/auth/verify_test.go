package auth_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mcp-sync/mcp-sync/internal/testissuer"
	"github.com/mcp-sync/mcp-sync/tools/auth"
)

func TestConfigRefused(t *testing.T) {
	for _, c := range []struct {
		cfg  auth.Config
		want string
	}{
		{auth.Config{Resource: "https://mcp.example/mcp"}, "issuer URL"},
		{auth.Config{Issuer: "https://id.example"}, "resource URL"},
		{auth.Config{Issuer: "id.example", Resource: "https://mcp.example/mcp"}, "absolute https URL"},
		{auth.Config{Issuer: "http://id.example", Resource: "https://mcp.example/mcp"}, "only on localhost"},
		{auth.Config{Issuer: "https://id.example", Resource: "https://mcp.example/mcp?x=1"}, "no query or fragment"},
		{auth.Config{Issuer: "https://id.example", Resource: "https://mcp.example/mcp", Scopes: []string{""}}, "non-empty word"},
		{auth.Config{Issuer: "https://id.example", Resource: "https://mcp.example/mcp", Algorithms: []string{"HS256"}}, `"HS256" is not accepted`},
		{auth.Config{Issuer: "https://id.example", Resource: "https://mcp.example/mcp", Algorithms: []string{"none"}}, `"none" is not accepted`},
	} {
		if _, err := auth.New(c.cfg); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: %v, want an error saying %q", c.cfg, err, c.want)
		}
	}
}

func TestMetadataURLs(t *testing.T) {
	for resource, want := range map[string]string{
		"https://mcp.example/mcp":  "https://mcp.example/.well-known/oauth-protected-resource/mcp",
		"https://mcp.example/":     "https://mcp.example/.well-known/oauth-protected-resource",
		"https://mcp.example":      "https://mcp.example/.well-known/oauth-protected-resource",
		"https://mcp.example/a/b/": "https://mcp.example/.well-known/oauth-protected-resource/a/b",
	} {
		v, err := auth.New(auth.Config{Issuer: "https://id.example", Resource: resource})
		if err != nil {
			t.Fatal(err)
		}
		if got := v.MetadataURL(); got != want {
			t.Errorf("resource %s: metadata at %s, want %s", resource, got, want)
		}
	}
}

// TestIssuerUnreachable: while the issuer's metadata cannot be read no
// token passes, the answer is 503 with Retry-After (not a 401 that would
// send the client for a new token), and the verifier recovers once it
// can be read.
func TestIssuerUnreachable(t *testing.T) {
	is, err := testissuer.New()
	if err != nil {
		t.Fatal(err)
	}
	defer is.Close()
	var down atomic.Bool
	down.Store(true)
	// The verifier reaches the issuer through a transport that fails
	// while down is set.
	v, err := auth.New(auth.Config{Issuer: is.URL, Resource: "http://127.0.0.1:1/mcp", HTTPClient: &http.Client{
		Transport: cut{down: &down},
	}})
	if err != nil {
		t.Fatal(err)
	}
	tok, err := is.Sign(testissuer.Token{Audience: []string{"http://127.0.0.1:1/mcp"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.Verify(context.Background(), tok); !errors.Is(err, auth.ErrIssuerUnavailable) {
		t.Fatalf("issuer down: %v, want ErrIssuerUnavailable", err)
	}
	rec := httptest.NewRecorder()
	req := httptest.NewRequest("POST", "/mcp", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	if _, ok := v.Authenticate(rec, req); ok || rec.Code != http.StatusServiceUnavailable || rec.Header().Get("Retry-After") == "" {
		t.Errorf("issuer down: ok %v, status %d, Retry-After %q; want 503 with Retry-After", ok, rec.Code, rec.Header().Get("Retry-After"))
	}
	down.Store(false)
	// Reads are paused for a moment after a failure: the token passes
	// once the pause is over.
	var c auth.Claims
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if c, err = v.Verify(context.Background(), tok); !errors.Is(err, auth.ErrIssuerUnavailable) {
			break
		}
	}
	if err != nil || c.Subject != "user-1" {
		t.Errorf("issuer back: %+v, %v; want the token accepted within 30 s", c, err)
	}
}

// cut fails every request while down is set.
type cut struct{ down *atomic.Bool }

func (c cut) RoundTrip(req *http.Request) (*http.Response, error) {
	if c.down.Load() {
		return nil, errors.New("connection refused (test)")
	}
	return http.DefaultTransport.RoundTrip(req)
}

// TestLeeway: exp and nbf allow DefaultLeeway of clock skew, no more.
func TestLeeway(t *testing.T) {
	is, err := testissuer.New()
	if err != nil {
		t.Fatal(err)
	}
	defer is.Close()
	const resource = "http://127.0.0.1:1/mcp"
	v, err := auth.New(auth.Config{Issuer: is.URL, Resource: resource})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	for _, c := range []struct {
		name string
		tok  testissuer.Token
		ok   bool
	}{
		{"expired 20 s ago", testissuer.Token{Expiry: now.Add(-20 * time.Second)}, true},
		{"expired 3 minutes ago", testissuer.Token{Expiry: now.Add(-3 * time.Minute)}, false},
		{"valid from 20 s on", testissuer.Token{NotBefore: now.Add(20 * time.Second)}, true},
		{"valid from 3 minutes on", testissuer.Token{NotBefore: now.Add(3 * time.Minute)}, false},
		// Past 2262 a Duration since 1970 overflows: such an nbf read as a past time.
		{"valid from the year 5138 on", testissuer.Token{NotBefore: time.Unix(1e11, 0)}, false},
		{"expires in the year 5138", testissuer.Token{Expiry: time.Unix(1e11, 0)}, true},
	} {
		c.tok.Audience = []string{resource}
		tok, err := is.Sign(c.tok)
		if err != nil {
			t.Fatal(err)
		}
		_, err = v.Verify(context.Background(), tok)
		if (err == nil) != c.ok || (err != nil && !errors.Is(err, auth.ErrInvalidToken)) {
			t.Errorf("%s: %v, want accepted %v", c.name, err, c.ok)
		}
	}
}
