//go:build linux || darwin

package main

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mcp-sync/mcp-sync/cli"
	"github.com/mcp-sync/mcp-sync/internal/testissuer"
)

// freePort returns a loopback port nothing listens on now. serve's
// --resource must name the port before the server starts, so the port is
// picked first; another process could take it in between, which the
// server's start would report.
func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// TestOAuthClientDiscoversTheIssuer runs the TypeScript SDK's
// client-credentials client against `serve --auth-issuer`: starting with
// no token, it must find the issuer from the 401's resource_metadata, get
// a token for this resource, and call tools with it.
func TestOAuthClientDiscoversTheIssuer(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a server and a Node client")
	}
	interopHarness(t)
	is, err := testissuer.New()
	if err != nil {
		t.Fatal(err)
	}
	defer is.Close()
	is.AddClient("agent", testissuer.Client{Secret: "agent-secret", Subject: "agent-1", Scopes: []string{"mcp"}})

	port := freePort(t)
	resource := fmt.Sprintf("http://127.0.0.1:%d/mcp", port)
	u := startHTTPServer(t, "--http", fmt.Sprintf("127.0.0.1:%d", port), "--auth-issuer", is.URL, "--resource", resource,
		"--auth-scopes", "mcp")
	if u != resource {
		t.Fatalf("the server serves %s, not the resource %s", u, resource)
	}

	resp, err := http.Post(u, "application/json", strings.NewReader(`{"jsonrpc":"2.0","id":1,"method":"ping"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	want := fmt.Sprintf(`resource_metadata="http://127.0.0.1:%d/.well-known/oauth-protected-resource/mcp"`, port)
	if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(resp.Header.Get("WWW-Authenticate"), want) {
		t.Fatalf("POST without a token: %d, WWW-Authenticate %q; want 401 naming %s", resp.StatusCode, resp.Header.Get("WWW-Authenticate"), want)
	}

	stdout, stderr, err := runNode(t, 90*time.Second, "node", "oauth-client.mjs", u, "agent", "agent-secret", is.URL, "mcp")
	if err != nil {
		t.Fatalf("oauth-client.mjs: %v\nstdout:\n%s\nstderr:\n%s", err, stdout, stderr)
	}
	t.Logf("oauth-client.mjs: %s", strings.TrimSpace(stdout))
	var res struct {
		Tools     []string        `json:"tools"`
		TokenType string          `json:"tokenType"`
		Row       json.RawMessage `json:"row"`
	}
	if err := json.Unmarshal([]byte(strings.TrimSpace(stdout)), &res); err != nil {
		t.Fatalf("oauth-client.mjs printed no JSON line: %v\n%s\n%s", err, stdout, stderr)
	}
	if !slices.Contains(res.Tools, "setTodo") || !strings.Contains(string(res.Row), "written by an OAuth client") {
		t.Errorf("the client did not list and call tools: %+v", res)
	}
	if n := is.TokenRequests(); n < 1 {
		t.Errorf("the issuer granted %d tokens: the client did not get its token there", n)
	}
}

func TestOAuthFlagsMisused(t *testing.T) {
	for _, c := range []struct {
		args []string
		vars map[string]string
		want string
	}{
		{[]string{"--auth-issuer", "https://issuer.example"}, nil, "--http"},
		{[]string{"--http", "127.0.0.1:0", "--auth-issuer", "https://issuer.example"}, nil, "needs --resource"},
		{[]string{"--http", "127.0.0.1:0", "--resource", "https://mcp.example/mcp"}, nil, "go with --auth-issuer"},
		{[]string{"--http", "127.0.0.1:0", "--auth-issuer", "https://issuer.example", "--resource", "https://mcp.example/mcp", "--token", "t"},
			nil, "exclude each other"},
		{[]string{"--http", "127.0.0.1:0", "--auth-issuer", "https://issuer.example", "--resource", "https://mcp.example/mcp"},
			map[string]string{"MCP_SYNC_TOKEN": "t"}, "exclude each other"},
		{[]string{"--http", "127.0.0.1:0", "--auth-issuer", "http://issuer.example", "--resource", "https://mcp.example/mcp"},
			nil, "http is allowed only on localhost"},
		{[]string{"--http", "127.0.0.1:0", "--auth-issuer", "https://issuer.example", "--resource", "https://mcp.example/mcp",
			"--auth-scopes", "a b"}, nil, `scope "a b"`},
	} {
		args := append([]string{"serve", "--data", t.TempDir() + "/app.db"}, c.args...)
		code, _, stderr := runCmd(t, c.vars, args...)
		if code != cli.ExitUsage || !strings.Contains(stderr, c.want) {
			t.Errorf("serve %s: exit %d, stderr %q; want a usage error saying %q", strings.Join(c.args, " "), code, stderr, c.want)
		}
	}
}
