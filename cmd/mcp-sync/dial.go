package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/mcp-sync/mcp-sync/client"
	"github.com/mcp-sync/mcp-sync/internal/cli"
)

// connFlags say which server the client commands (tools, call, watch)
// talk to: a URL, or by default a `mcp-sync serve` this command starts over
// stdio on the data file.
type connFlags struct {
	url, token, data string
	legacy           bool
}

func addConnFlags(fs *flag.FlagSet) *connFlags {
	c := &connFlags{}
	fs.StringVar(&c.url, "url", "", "server URL: http://HOST:PORT/mcp (streamable HTTP) or …/sse (SSE); default: start `mcp-sync serve` on --data over stdio")
	fs.StringVar(&c.token, "token", "", "bearer token for --url (default $MCP_SYNC_TOKEN)")
	fs.StringVar(&c.data, "data", "", "data file of the server started over stdio (default $MCP_SYNC_DATA, else $XDG_DATA_HOME/mcp-sync/todo.db)")
	fs.BoolVar(&c.legacy, "legacy", false, "speak protocol 2025-11-25 instead of 2026-07-28")
	return c
}

// dial connects to the server cf names, with the Go client.
func dial(ctx context.Context, env *cli.Environ, cf *connFlags) (*client.Conn, error) {
	token := cf.token
	if token == "" {
		token = env.Getenv("MCP_SYNC_TOKEN")
	}
	if cf.url != "" {
		c, err := client.DialHTTP(ctx, cf.url, client.Options{Token: token, Legacy: cf.legacy})
		if err != nil {
			return nil, fmt.Errorf("connecting to %s: %w", cf.url, err)
		}
		return c, nil
	}
	self, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("finding this program to start its server: %w", err)
	}
	path, err := cli.DataPath(cf.data, env.Getenv)
	if err != nil {
		return nil, err
	}
	log := &cli.LockedBuffer{}
	c, err := client.DialCommand(ctx, self, []string{"serve", "--data", path}, client.Options{Legacy: cf.legacy, Stderr: log})
	if err != nil {
		time.Sleep(100 * time.Millisecond) // let the server's last words arrive
		if l := strings.TrimSpace(log.String()); l != "" {
			return nil, fmt.Errorf("starting `mcp-sync serve --data %s`: %w\nthe server said:\n%s", path, err, l)
		}
		return nil, fmt.Errorf("starting `mcp-sync serve --data %s`: %w", path, err)
	}
	return c, nil
}
