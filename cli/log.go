package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/mcp-sync/mcp-sync/client"
	"github.com/mcp-sync/mcp-sync/wire"
)

// log is the log command: the audit, through list_history.
func (a *appCmds) log(ctx context.Context, env *Environ, args []string) int {
	fs := NewFlags(env, a.prog, "log", "log [flags]",
		"Prints the audit: one line per committed version, with when it was committed,\n"+
			"who caused it (subject, OAuth client, session), the tool or action run, and the\n"+
			"rows it changed, e.g.\n\n"+
			"  v123 2026-12-06T22:31:02Z alice (client web) session 5f2c9e1a tool setTodo: todos/1 put\n\n"+
			"It reads a data file (--data, beside a running serve too: it asks that serve),\n"+
			"PostgreSQL (--postgres), or a server (--url, as the token's caller: a caller\n"+
			"sees the versions it caused; one with the admin scope, and a local user, all).")
	cf := a.addConnFlags(fs)
	pg := addPostgresFlags(fs)
	since := fs.Uint64("since", 0, "print the versions after `V`")
	limit := fs.Int("limit", 0, "print at most `N` versions (0: all)")
	asJSON := fs.Bool("json", false, "print each version as a JSON object on a line of its own")
	pos, code, ok := ParseArgs(fs, args)
	if !ok {
		return code
	}
	if len(pos) != 0 || *limit < 0 {
		fs.Usage()
		return ExitUsage
	}
	if *pg.dsn != "" && cf.url != "" {
		fmt.Fprintf(env.Stderr, "%s log: --url and --postgres both name where the audit is: give one\n", a.prog)
		return ExitUsage
	}
	dsn, schema, err := pg.resolve(env.Getenv, cf.data)
	if err != nil {
		fmt.Fprintf(env.Stderr, "%s log: %v\n", a.prog, err)
		return ExitUsage
	}
	var cn *client.Conn
	if *pg.dsn != "" {
		cn, err = a.dialPostgres(ctx, dsn, schema, cf.legacy)
	} else {
		cn, err = a.dial(ctx, env, cf)
	}
	if err != nil {
		fmt.Fprintf(env.Stderr, "%s log: %v\n", a.prog, err)
		return ExitFail
	}
	defer cn.Close()
	after, printed := *since, 0
	for {
		page := wire.MaxHistoryLimit
		if *limit > 0 {
			page = min(page, *limit-printed)
		}
		raw, err := cn.Call(ctx, wire.ToolListHistory, wire.ListHistoryIn{After: after, Limit: page})
		var out wire.ListHistoryOut
		if err == nil {
			err = json.Unmarshal(raw, &out)
		}
		if err != nil {
			fmt.Fprintf(env.Stderr, "%s log: reading the audit after version %d: %v\n", a.prog, after, err)
			return ExitFail
		}
		for _, e := range out.Entries {
			if *asJSON {
				b, _ := json.Marshal(e)
				fmt.Fprintf(env.Stdout, "%s\n", b)
			} else {
				fmt.Fprintln(env.Stdout, e.Line())
			}
			printed++
		}
		if out.Next == 0 || (*limit > 0 && printed >= *limit) {
			return ExitOK
		}
		after = out.Next
	}
}

// dialPostgres starts this program's serve on the PostgreSQL data at dsn
// over stdio, as dial does on a data file. The server runs no enqueued
// actions (--no-runs): it joins the replicas only to read, and must not
// claim a run it would cut off when the command ends. The DSN goes in the
// environment, not the command line, which other local users can read.
func (a *appCmds) dialPostgres(ctx context.Context, dsn, schema string, legacy bool) (*client.Conn, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("finding this program to start its server: %w", err)
	}
	args := []string{"serve", "--no-runs"}
	if schema != "" {
		args = append(args, "--postgres-schema", schema)
	}
	log := &LockedBuffer{}
	c, err := client.DialCommand(ctx, self, args, client.Options{Legacy: legacy, Stderr: log, Env: []string{"MCP_SYNC_POSTGRES=" + dsn}})
	if err != nil {
		time.Sleep(100 * time.Millisecond) // let the server's last words arrive
		// The server's words never hold the DSN's password: they name the
		// database by host, port and name.
		return nil, fmt.Errorf("starting `%s serve --postgres …`: %w\nthe server said:\n%s", a.prog, err, strings.TrimSpace(log.String()))
	}
	return c, nil
}
