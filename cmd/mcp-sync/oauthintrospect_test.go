//go:build linux || darwin

package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/client/transport"
	"github.com/mark3labs/mcp-go/mcp"

	"github.com/mcp-sync/mcp-sync/cli"
	"github.com/mcp-sync/mcp-sync/internal/testissuer"
)

// TestServeIntrospectsOpaqueTokens: serve --auth-introspection, with this
// server's client secret in a file, admits a client whose opaque token the
// issuer's introspection endpoint calls active, and refuses a revoked one.
func TestServeIntrospectsOpaqueTokens(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a server")
	}
	is, err := testissuer.New()
	if err != nil {
		t.Fatal(err)
	}
	defer is.Close()
	is.AddClient("mcp-sync", testissuer.Client{Secret: "rs-secret"})
	secretFile := filepath.Join(t.TempDir(), "client-secret")
	if err := os.WriteFile(secretFile, []byte("rs-secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	port := freePort(t)
	resource := fmt.Sprintf("http://127.0.0.1:%d/mcp", port)
	u := startHTTPServer(t, "--http", fmt.Sprintf("127.0.0.1:%d", port), "--auth-issuer", is.URL, "--resource", resource,
		"--auth-scopes", "mcp", "--auth-introspection", is.IntrospectionURL(), "--auth-client-id", "mcp-sync",
		"--auth-client-secret-file", secretFile)

	connect := func(tok string) (*client.Client, error) {
		tr, err := transport.NewStreamableHTTP(u, transport.WithHTTPHeaders(map[string]string{"Authorization": "Bearer " + tok}))
		if err != nil {
			return nil, err
		}
		c := client.NewClient(tr)
		t.Cleanup(func() { _ = c.Close() })
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := c.Start(ctx); err != nil {
			return nil, err
		}
		init := mcp.InitializeRequest{}
		init.Params.ProtocolVersion = mcp.LATEST_PROTOCOL_VERSION
		init.Params.ClientInfo = mcp.Implementation{Name: "introspection-test", Version: "1"}
		_, err = c.Initialize(ctx, init)
		return c, err
	}
	tok := is.Opaque(testissuer.Token{Audience: []string{resource}, Subject: "olga", Scopes: []string{"mcp"}})
	c, err := connect(tok)
	if err != nil {
		t.Fatalf("initialize with an active opaque token: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	list, err := c.ListTools(ctx, mcp.ListToolsRequest{})
	if err != nil || !slices.ContainsFunc(list.Tools, func(tl mcp.Tool) bool { return tl.Name == "setTodo" }) {
		t.Fatalf("tools/list with an active opaque token: %v, %v", list, err)
	}
	if is.Introspections() < 1 {
		t.Error("the issuer answered no introspection: the token was not checked there")
	}
	is.Revoke(tok) // cached for up to a minute: a new token is revoked before its first use
	revoked := is.Opaque(testissuer.Token{Audience: []string{resource}, Subject: "olga", Scopes: []string{"mcp"}})
	is.Revoke(revoked)
	if _, err := connect(revoked); !errors.Is(err, transport.ErrAuthorizationRequired) {
		t.Errorf("initialize with a revoked opaque token: %v, want refused with 401 (mcp-go's ErrAuthorizationRequired)", err)
	}
}

func TestIntrospectionFlagsMisused(t *testing.T) {
	secretFile := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(secretFile, []byte("s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	twoLines := filepath.Join(t.TempDir(), "two-lines")
	if err := os.WriteFile(twoLines, []byte("s3cret\nmore\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	oauth := []string{"--http", "127.0.0.1:0", "--auth-issuer", "https://issuer.example", "--resource", "https://mcp.example/mcp"}
	secretEnv := map[string]string{cli.EnvClientSecret: "s3cret"}
	for _, c := range []struct {
		args []string
		vars map[string]string
		want string
	}{
		{[]string{"--http", "127.0.0.1:0", "--auth-introspection", "https://issuer.example/introspect"}, nil, "go with --auth-issuer"},
		{append(slices.Clone(oauth), "--auth-client-id", "rs"), secretEnv, "go with --auth-introspection"},
		{append(slices.Clone(oauth), "--auth-introspection", "https://issuer.example/introspect", "--auth-client-id", "rs"), nil,
			"needs its secret: set $" + cli.EnvClientSecret},
		{append(slices.Clone(oauth), "--auth-introspection", "https://issuer.example/introspect"), secretEnv, "needs --auth-client-id"},
		{append(slices.Clone(oauth), "--auth-introspection", "https://issuer.example/introspect", "--auth-client-id", "rs",
			"--auth-client-secret-file", secretFile), secretEnv, "keep one"},
		{append(slices.Clone(oauth), "--auth-introspection", "https://issuer.example/introspect", "--auth-client-id", "rs",
			"--auth-client-secret-file", twoLines), nil, "on one line"},
		{append(slices.Clone(oauth), "--auth-introspection", "https://issuer.example/introspect", "--auth-client-id", "rs",
			"--auth-client-secret-file", filepath.Join(t.TempDir(), "missing")), nil, "--auth-client-secret-file"},
		{append(slices.Clone(oauth), "--auth-introspection", "http://issuer.example/introspect", "--auth-client-id", "rs"), secretEnv,
			"http is allowed only on localhost"},
	} {
		args := append([]string{"serve", "--data", t.TempDir() + "/app.db"}, c.args...)
		code, _, stderr := runCmd(t, c.vars, args...)
		if code != cli.ExitUsage || !strings.Contains(stderr, c.want) || strings.Contains(stderr, "s3cret") {
			t.Errorf("serve %s: exit %d, stderr %q; want a usage error saying %q, without the secret", strings.Join(c.args, " "), code, stderr, c.want)
		}
	}
}

// TestOAuthClientWithOpaqueTokens: the TypeScript SDK's client-credentials
// client, given an opaque token by the issuer, calls tools of a serve that
// checks such tokens through introspection.
func TestOAuthClientWithOpaqueTokens(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a server and a Node client")
	}
	interopHarness(t)
	is, err := testissuer.New()
	if err != nil {
		t.Fatal(err)
	}
	defer is.Close()
	is.AddClient("agent", testissuer.Client{Secret: "agent-secret", Subject: "agent-1", Scopes: []string{"mcp"}, Opaque: true})
	is.AddClient("mcp-sync", testissuer.Client{Secret: "rs-secret"})
	t.Setenv(cli.EnvClientSecret, "rs-secret") // the server process inherits it
	port := freePort(t)
	resource := fmt.Sprintf("http://127.0.0.1:%d/mcp", port)
	u := startHTTPServer(t, "--http", fmt.Sprintf("127.0.0.1:%d", port), "--auth-issuer", is.URL, "--resource", resource,
		"--auth-scopes", "mcp", "--auth-introspection", is.IntrospectionURL(), "--auth-client-id", "mcp-sync")
	stdout, stderr, err := runNode(t, 90*time.Second, "node", "oauth-client.mjs", u, "agent", "agent-secret", is.URL, "mcp")
	if err != nil {
		t.Fatalf("oauth-client.mjs: %v\nstdout:\n%s\nstderr:\n%s", err, stdout, stderr)
	}
	if !strings.Contains(stdout, "written by an OAuth client") {
		t.Errorf("the client did not write and read its row: %s", stdout)
	}
	if is.TokenRequests() < 1 || is.Introspections() < 1 {
		t.Errorf("the issuer granted %d tokens and answered %d introspections; want the client's opaque token checked there",
			is.TokenRequests(), is.Introspections())
	}
}
