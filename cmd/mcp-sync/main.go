// Command mcp-sync runs mcp-sync apps: see `mcp-sync help`.
package main

import (
	"context"

	"github.com/mcp-sync/mcp-sync/internal/cli"
)

func program() cli.Program {
	return cli.Program{
		Name:    "mcp-sync",
		Tagline: "mcp-sync: live, transactional, streaming app data and actions for AI models and apps.",
		Commands: []cli.Command{
			{Name: "demo", Summary: "watch an AI answer stream into a todo, on a local data file (no set-up needed)", Run: runDemo},
			{Name: "serve", Summary: "serve the todo app over MCP (stdio, or streamable HTTP and SSE with --http)", Run: runServe},
			{Name: "tools", Summary: "list a server's tools with their schemas", Run: runTools},
			{Name: "call", Summary: "call a tool and print its result, with progress", Run: runCall},
			{Name: "watch", Summary: "print a table's or a row's changes live", Run: runWatch},
			{Name: "schema", Summary: "print the todo app's tables, mutators and actions with their JSON Schemas", Run: runSchema},
			{Name: "check", Summary: "check a data file (pages, checksums, JSON, schemas) without changing it; exit 0 only when intact", Run: runCheck},
		},
	}
}

func main() { program().Main() }

// run runs a command in-process; tests call it with their own env.
func run(ctx context.Context, env *cli.Environ, args []string) int {
	return program().Run(ctx, env, args)
}

// runCheck checks a data file against the todo app's schemas.
func runCheck(ctx context.Context, env *cli.Environ, args []string) int {
	return cli.Check(ctx, env, "mcp-sync", []cli.App{cli.TodoApp()}, args)
}

// runServe serves the todo app.
func runServe(ctx context.Context, env *cli.Environ, args []string) int {
	return cli.Serve(ctx, env, "mcp-sync", "Serves the todo app over MCP: every mutator and action is a tool, every table a\n"+
		"resource. stdio by default (register it in Claude or an IDE as a command);\n"+
		"with --http, streamable HTTP at /mcp and SSE at /sse on that address.\n"+
		"Logs go to stderr; in stdio mode stdout carries only the protocol.", []cli.App{cli.TodoApp()}, args)
}
