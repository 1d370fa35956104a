package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/mcp-sync/mcp-sync/client"
)

// connFlags say which server the client commands (tools, call, watch)
// talk to: a URL, or by default this program's own serve command, started
// over stdio on the data file. When a server already owns that file, the
// serve started relays to it (see internal/relay), so the commands see what
// that server's hosts write, and carry on if it goes away.
type connFlags struct {
	url, token, data string
	legacy           bool
}

// addConnFlags adds the flags that pick the server to fs.
func (a *appCmds) addConnFlags(fs *flag.FlagSet) *connFlags {
	c := &connFlags{}
	fs.StringVar(&c.url, "url", "", "server `URL`: http://HOST:PORT/mcp (streamable HTTP) or …/sse (SSE); default: start this program's serve on --data over stdio (it relays to the serve already running on that file, if any)")
	fs.StringVar(&c.token, "token", "", "bearer `TOKEN` for --url (default $MCP_SYNC_TOKEN)")
	fs.StringVar(&c.data, "data", "", "data `FILE` of the server started over stdio (default "+dataDefault(a.app.Name)+")")
	fs.BoolVar(&c.legacy, "legacy", false, "speak protocol 2025-11-25 instead of 2026-07-28")
	return c
}

// dial connects to the server cf names, with the Go client.
func (a *appCmds) dial(ctx context.Context, env *Environ, cf *connFlags) (*client.Conn, error) {
	token := cf.token
	if token == "" {
		token = env.Getenv("MCP_SYNC_TOKEN")
	}
	if cf.url != "" {
		c, err := client.DialHTTP(ctx, cf.url, client.Options{Token: token, Legacy: cf.legacy})
		if err != nil {
			return nil, dialError(ctx, cf.url, token, err)
		}
		return c, nil
	}
	self, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("finding this program to start its server: %w", err)
	}
	args := []string{"serve"}
	if cf.data != "" || env.Getenv("MCP_SYNC_POSTGRES") == "" { // else the child serves PostgreSQL's data
		path, err := DataPath(cf.data, a.app.Name, env.Getenv)
		if err != nil {
			return nil, err
		}
		// The child is told --data, so it would refuse a default directory
		// not made yet: make it here, as serve does (a named one must exist).
		if err := PrepareDataDir(cf.data, path, env.Getenv); err != nil {
			return nil, err
		}
		args = append(args, "--data", path)
	}
	log := &LockedBuffer{}
	c, err := client.DialCommand(ctx, self, args, client.Options{Legacy: cf.legacy, Stderr: log})
	if err != nil {
		time.Sleep(100 * time.Millisecond) // let the server's last words arrive
		if l := strings.TrimSpace(log.String()); l != "" {
			return nil, fmt.Errorf("starting `%s %s`: %w\nthe server said:\n%s", a.prog, strings.Join(args, " "), err, l)
		}
		return nil, fmt.Errorf("starting `%s %s`: %w", a.prog, strings.Join(args, " "), err)
	}
	return c, nil
}

// dialError says in one layer why connecting to url failed: the server
// cannot be reached (and the network's reason), it wants a token, or it
// refused the one sent; otherwise err as it came.
func dialError(ctx context.Context, url, token string, err error) error {
	if oe := (*net.OpError)(nil); errors.As(err, &oe) {
		cause := error(oe)
		for u := errors.Unwrap(cause); u != nil; u = errors.Unwrap(cause) {
			cause = u
		}
		return fmt.Errorf("cannot reach %s: %v", url, cause)
	}
	if de := (*net.DNSError)(nil); errors.As(err, &de) {
		return fmt.Errorf("cannot reach %s: %v", url, de)
	}
	switch authChallenge(ctx, url, token) {
	case "required":
		return fmt.Errorf("%s requires a token: pass --token or set MCP_SYNC_TOKEN", url)
	case "invalid":
		return fmt.Errorf("%s refused the token as invalid: check --token or MCP_SYNC_TOKEN", url)
	}
	return fmt.Errorf("connecting to %s: %w", url, err)
}

// authChallenge asks url, with token if any, whether it lets this client
// in: "" if it does (or cannot say), "required" when it wants a token and
// "invalid" when it refused the one sent (RFC 6750 error="invalid_token").
func authChallenge(ctx context.Context, url, token string) string {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return ""
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return ""
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		return ""
	}
	for _, v := range resp.Header.Values("WWW-Authenticate") {
		if strings.Contains(v, `error="invalid_token"`) {
			return "invalid"
		}
	}
	return "required"
}
