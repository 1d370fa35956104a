package auth_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mcp-sync/mcp-sync/internal/testissuer"
	"github.com/mcp-sync/mcp-sync/tools/auth"
)

const (
	introResource = "http://127.0.0.1:1/mcp"
	rsClient      = "mcp-server" // this server's client at the issuer, for introspection
	rsSecret      = "rs-secret"
)

// introspecting starts a test issuer and a verifier that checks its opaque
// tokens through introspection, requiring the scope mcp; in adjusts the
// introspection options.
func introspecting(t *testing.T, in func(*auth.Introspection)) (*testissuer.Issuer, *auth.Verifier) {
	t.Helper()
	is, err := testissuer.New()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(is.Close)
	is.AddClient(rsClient, testissuer.Client{Secret: rsSecret})
	opts := auth.Introspection{URL: is.IntrospectionURL(), ClientID: rsClient, ClientSecret: rsSecret}
	if in != nil {
		in(&opts)
	}
	v, err := auth.New(auth.Config{Issuer: is.URL, Resource: introResource, Scopes: []string{"mcp"}, Introspection: &opts})
	if err != nil {
		t.Fatal(err)
	}
	return is, v
}

// authenticate runs v.Authenticate on a request bearing tok.
func authenticate(v *auth.Verifier, tok string) (auth.Claims, *httptest.ResponseRecorder) {
	rec := httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodPost, "/mcp", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	c, _ := v.Authenticate(rec, req)
	return c, rec
}

// TestIntrospectionChecksTheAnswer: an opaque token is checked through the
// introspection endpoint, and its answer as a JWT's claims are: active,
// iss, aud naming the resource, exp, nbf, sub and the scopes. A JWT is
// still checked against the keys.
func TestIntrospectionChecksTheAnswer(t *testing.T) {
	is, v := introspecting(t, nil)
	aud := []string{introResource}
	revoked := is.Opaque(testissuer.Token{Audience: aud, Scopes: []string{"mcp"}})
	is.Revoke(revoked)
	jwt, err := is.Sign(testissuer.Token{Audience: aud, Scopes: []string{"mcp"}, Subject: "jay"})
	if err != nil {
		t.Fatal(err)
	}
	hour := time.Hour
	for _, c := range []struct {
		name   string
		tok    string
		status int
		want   string // in the body and the challenge's error_description
	}{
		{"active", is.Opaque(testissuer.Token{Audience: aud, Subject: "olga", ClientID: "app", Scopes: []string{"mcp", "notes:write"}}), 200, ""},
		{"a JWT beside introspection", jwt, 200, ""},
		{"revoked", revoked, 401, "not active"},
		{"unknown to the issuer", "opaque-never-issued", 401, "not active"},
		{"expired", is.Opaque(testissuer.Token{Audience: aud, Scopes: []string{"mcp"}, Expiry: time.Now().Add(-hour)}), 401, "expired"},
		{"not yet valid", is.Opaque(testissuer.Token{Audience: aud, Scopes: []string{"mcp"}, NotBefore: time.Now().Add(hour)}), 401, "not valid before"},
		{"wrong audience", is.Opaque(testissuer.Token{Audience: []string{"http://127.0.0.1:2/mcp"}, Scopes: []string{"mcp"}}), 401, "aud"},
		{"no audience", is.Opaque(testissuer.Token{Scopes: []string{"mcp"}}), 401, "aud"},
		{"wrong issuer", is.Opaque(testissuer.Token{Issuer: "http://127.0.0.1:3", Audience: aud, Scopes: []string{"mcp"}}), 401, "iss"},
		{"missing scope", is.Opaque(testissuer.Token{Audience: aud, Scopes: []string{"other"}}), 403, `"mcp"`},
	} {
		claims, rec := authenticate(v, c.tok)
		if rec.Code != c.status && !(c.status == 200 && rec.Code == 200 && claims.Subject != "") {
			t.Errorf("%s: %d %q, want %d", c.name, rec.Code, rec.Body.String(), c.status)
			continue
		}
		challenge := rec.Header().Get("WWW-Authenticate")
		switch c.status {
		case 200:
			if claims.Subject == "" {
				t.Errorf("%s: refused: %d %q", c.name, rec.Code, rec.Body.String())
			}
		case 401:
			if !strings.Contains(challenge, `error="invalid_token"`) || !strings.Contains(challenge, "resource_metadata=") {
				t.Errorf("%s: WWW-Authenticate %q, want invalid_token naming the metadata", c.name, challenge)
			}
		case 403:
			if !strings.Contains(challenge, `error="insufficient_scope"`) || !strings.Contains(challenge, `scope="mcp"`) {
				t.Errorf("%s: WWW-Authenticate %q, want insufficient_scope naming mcp", c.name, challenge)
			}
		}
		if !strings.Contains(rec.Body.String(), c.want) {
			t.Errorf("%s: body %q does not say %s", c.name, rec.Body.String(), c.want)
		}
	}
	claims, _ := authenticate(v, is.Opaque(testissuer.Token{Audience: aud, Subject: "olga", ClientID: "app", Scopes: []string{"mcp", "notes:write"}}))
	if claims.Subject != "olga" || claims.ClientID != "app" || !slices.Equal(claims.Scopes, []string{"mcp", "notes:write"}) || claims.Expiry.IsZero() {
		t.Errorf("an active token's claims: %+v, want subject olga, client app, scopes mcp notes:write, an expiry", claims)
	}
}

// TestIntrospectionCached: an answer is kept for a while, so one token
// costs one introspection; but never past the token's exp, nor past
// CacheTTL (a revoked token is refused once it runs out), nor beyond
// CacheSize answers.
func TestIntrospectionCached(t *testing.T) {
	is, v := introspecting(t, func(in *auth.Introspection) { in.CacheTTL = 2 * time.Second })
	aud, scopes := []string{introResource}, []string{"mcp"}
	ctx := context.Background()
	tok := is.Opaque(testissuer.Token{Audience: aud, Scopes: scopes})
	var wg sync.WaitGroup
	for range 10 { // at once: they share one question
		wg.Go(func() {
			if _, err := v.Verify(ctx, tok); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if n := is.Introspections(); n != 1 {
		t.Errorf("10 requests with one token made %d introspections, want 1", n)
	}
	is.Revoke(tok)
	var err error
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if _, err = v.Verify(ctx, tok); err != nil {
			break
		}
	}
	if !errors.Is(err, auth.ErrInvalidToken) || !strings.Contains(err.Error(), "not active") {
		t.Errorf("a revoked token: %v, want it refused as not active once its answer runs out of the cache", err)
	}

	// CacheSize 2: of a, b, c, a went first.
	is, v = introspecting(t, func(in *auth.Introspection) { in.CacheTTL = time.Hour; in.CacheSize = 2 })
	a, b, c := is.Opaque(testissuer.Token{Audience: aud, Scopes: scopes}), is.Opaque(testissuer.Token{Audience: aud, Scopes: scopes}),
		is.Opaque(testissuer.Token{Audience: aud, Scopes: scopes})
	_, _ = v.Verify(ctx, a)
	_, _ = v.Verify(ctx, b)
	_, _ = v.Verify(ctx, c)
	before := is.Introspections()
	_, _ = v.Verify(ctx, c)
	if is.Introspections() != before {
		t.Errorf("the most recent token was asked about again: its answer was not cached")
	}
	_, _ = v.Verify(ctx, a)
	if is.Introspections() != before+1 {
		t.Errorf("with CacheSize 2, the least recently used of three tokens was still cached")
	}
}

// TestIntrospectionCacheEndsAtExpiry: a cached answer is not used past the
// token's exp, however long CacheTTL is.
func TestIntrospectionCacheEndsAtExpiry(t *testing.T) {
	is, v := introspecting(t, func(in *auth.Introspection) { in.CacheTTL = time.Hour })
	exp := time.Now().Add(2 * time.Second)
	tok := is.Opaque(testissuer.Token{Audience: []string{introResource}, Scopes: []string{"mcp"}, Expiry: exp})
	if _, err := v.Verify(context.Background(), tok); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Until(exp.Truncate(time.Second).Add(1100 * time.Millisecond))) // past exp, which is in whole seconds
	before := is.Introspections()
	if _, err := v.Verify(context.Background(), tok); err != nil { // within the leeway
		t.Fatal(err)
	}
	if is.Introspections() != before+1 {
		t.Error("a token past its exp was answered from the cache, not asked about again")
	}
}

// TestIntrospectionEndpointFailing: an endpoint that cannot be reached
// gives 503 with Retry-After; one refusing this server's credentials, 500
// naming neither the endpoint nor the secret to the client.
func TestIntrospectionEndpointFailing(t *testing.T) {
	_, down := introspecting(t, func(in *auth.Introspection) { in.URL = "http://127.0.0.1:1/introspect" })
	for range 2 { // the second within the pause the first failure began
		_, rec := authenticate(down, "opaque-token")
		if rec.Code != http.StatusServiceUnavailable || rec.Header().Get("Retry-After") == "" ||
			strings.Contains(rec.Body.String(), "127.0.0.1") {
			t.Errorf("endpoint down: %d, Retry-After %q, %q; want 503 with Retry-After, no address", rec.Code, rec.Header().Get("Retry-After"), rec.Body.String())
		}
	}

	is, wrong := introspecting(t, func(in *auth.Introspection) { in.ClientSecret = "not-the-secret" })
	tok := is.Opaque(testissuer.Token{Audience: []string{introResource}, Scopes: []string{"mcp"}})
	_, rec := authenticate(wrong, tok)
	if rec.Code != http.StatusInternalServerError || !strings.Contains(rec.Body.String(), "configuration") ||
		strings.Contains(rec.Body.String(), "not-the-secret") || strings.Contains(rec.Body.String(), is.URL) {
		t.Errorf("wrong credentials: %d %q; want 500 saying the server's configuration is at fault, without secret or address", rec.Code, rec.Body.String())
	}
	if _, err := wrong.Verify(context.Background(), tok); !errors.Is(err, auth.ErrMisconfigured) {
		t.Errorf("wrong credentials: %v, want ErrMisconfigured", err)
	}
}

func TestIntrospectionConfigRefused(t *testing.T) {
	for _, c := range []struct {
		in   auth.Introspection
		want string
	}{
		{auth.Introspection{URL: "http://id.example/introspect", ClientID: "a", ClientSecret: "b"}, "only on localhost"},
		{auth.Introspection{URL: "introspect", ClientID: "a", ClientSecret: "b"}, "absolute https URL"},
		{auth.Introspection{URL: "https://id.example/introspect", ClientID: "a"}, "both a client id and its secret"},
	} {
		_, err := auth.New(auth.Config{Issuer: "https://id.example", Resource: "https://mcp.example/mcp", Introspection: &c.in})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: %v, want an error saying %q", c.in, err, c.want)
		}
	}
}
