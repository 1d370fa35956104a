// Command mcp-sync-bench is mcp-sync's load lab: it measures mcp-sync
// against a bare mcp-go server (bench), drives it with mixed, idle and
// abusive load (soak), and serves the apps and baselines those start as
// child processes. See `mcp-sync-bench help`.
package main

import (
	"context"
	"time"

	"github.com/mcp-sync/mcp-sync/backend"
	"github.com/mcp-sync/mcp-sync/cli"
	"github.com/mcp-sync/mcp-sync/examples/conformance"
	"github.com/mcp-sync/mcp-sync/internal/todoapp"
	"github.com/mcp-sync/mcp-sync/tools"
)

func program() cli.Program {
	return cli.Program{
		Name:    "mcp-sync-bench",
		Tagline: "mcp-sync-bench: mcp-sync's load lab (figures, soaks, and the servers they start).",
		Commands: []cli.Command{
			{Name: "bench", Summary: "measure calls/s and latency against a bare mcp-go server, in one run", Run: runBench},
			{Name: "soak", Summary: "drive the todo app with mixed load and check nothing leaks (--idle-sessions N: measure idle sessions' memory; --abuse: attack a child server)", Run: runSoak},
			{Name: "serve", Summary: "serve the todo app, the bench app or the MCP conformance suite's fixtures over MCP", Run: runServe},
			{Name: "peers", Summary: "measure mcp-sync beside hand-written peers (Go SDK + bbolt, TS SDK + SQLite, bare bbolt), in one run", Run: runPeers},
			{Name: "peer-gosdk", Summary: "serve the todo peer written with the official Go SDK and bbolt: a baseline of peers", Run: runPeerGoSDK},
			{Name: "pgbench", Summary: "measure mutator calls/s on PostgreSQL against a bare pgx server doing the same transaction, in one run", Run: runPGBench},
			{Name: "replicas", Summary: "measure commit → subscriber latency across 1, 2 and 3 replicas on PostgreSQL", Run: runReplicasBench},
			{Name: "bare-serve", Summary: "serve a bare mcp-go server: bench's baseline", Run: runBareServe},
			{Name: "check", Summary: "check a data file of any of serve's apps without changing it; exit 0 only when intact", Run: runCheck},
		},
	}
}

func main() { program().Main() }

// run runs a command in-process; tests call it with their own env.
func run(ctx context.Context, env *cli.Environ, args []string) int {
	return program().Run(ctx, env, args)
}

// apps are what serve and check take: the todo app (soak's subject), the
// bench app and the conformance fixtures.
func apps() []cli.App {
	return []cli.App{
		todoapp.TodoApp(),
		{Name: "conformance", About: "the fixtures of the MCP conformance suite", Schema: conformance.Config().Schema,
			Open: func(*cli.Environ, time.Duration) (backend.Config, tools.Options, func(), error) {
				return conformance.Config(), conformance.Options(), func() {}, nil
			}},
		{Name: "bench", About: "what mcp-sync-bench bench measures", Schema: benchSchema,
			Open: func(*cli.Environ, time.Duration) (backend.Config, tools.Options, func(), error) {
				return benchConfig(), tools.Options{Name: "mcp-sync-bench"}, func() {}, nil
			}},
	}
}

func runServe(ctx context.Context, env *cli.Environ, args []string) int {
	return cli.Serve(ctx, env, "mcp-sync-bench", "Serves the todo app (or, with --app conformance, the MCP conformance suite's\n"+
		"fixtures; with --app bench, the app bench measures) over MCP: every mutator and\n"+
		"action is a tool and every table a resource, but for internal mutators and\n"+
		"actions and server-only tables. stdio by default; with --http,\n"+
		"streamable HTTP at /mcp and SSE at /sse on that address.\n"+
		"Logs go to stderr; in stdio mode stdout carries only the protocol.", apps(), args)
}

func runCheck(ctx context.Context, env *cli.Environ, args []string) int {
	return cli.Check(ctx, env, "mcp-sync-bench", apps(), args)
}
