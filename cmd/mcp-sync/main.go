// Command mcp-sync runs the todo example app: see `mcp-sync help`. It is
// the cli package's program for that app, plus its demo.
package main

import (
	"context"

	"github.com/mcp-sync/mcp-sync/backend"
	"github.com/mcp-sync/mcp-sync/cli"
	"github.com/mcp-sync/mcp-sync/examples/todo"
	"github.com/mcp-sync/mcp-sync/internal/todoapp"
)

func program() cli.Program {
	return cli.New(backend.Config{Schema: todo.Schema},
		cli.WithName("mcp-sync"), cli.WithAppName("todo"),
		cli.WithTagline("live, transactional, streaming app data and actions for AI models and apps."),
		cli.WithServeHelp("Serves the todo app over MCP: every mutator and action is a tool and every\n"+
			"table a resource, but for the internal mutator setSecret and the server-only\n"+
			"secrets table. stdio by default (register it in Claude or an IDE as a command);\n"+
			"with --http, streamable HTTP at /mcp and SSE at /sse on that address.\n"+
			"Logs go to stderr; in stdio mode stdout carries only the protocol."),
		cli.WithSetup(todoapp.Open), cli.WithLocalAI(),
		cli.WithCommands(cli.Command{Name: "demo", Summary: "watch an AI answer stream into a todo, on a local data file (no set-up needed)", Run: runDemo}))
}

func main() { program().Main() }

// run runs a command in-process; tests call it with their own env.
func run(ctx context.Context, env *cli.Environ, args []string) int {
	return program().Run(ctx, env, args)
}
