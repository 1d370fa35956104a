// Package todoapp is the todo example as the mcp-sync commands serve it:
// with an AI provider picked from the environment, or a local canned stream.
package todoapp

import (
	"fmt"
	"time"

	"github.com/mcp-sync/mcp-sync/backend"
	"github.com/mcp-sync/mcp-sync/backend/ai"
	"github.com/mcp-sync/mcp-sync/backend/ai/localai"
	"github.com/mcp-sync/mcp-sync/cli"
	"github.com/mcp-sync/mcp-sync/examples/todo"
	"github.com/mcp-sync/mcp-sync/tools"
)

// TodoApp is the todo app, the only app that calls a model: mcp-sync's
// own, and mcp-sync-bench's default.
func TodoApp() cli.App {
	return cli.App{Name: "todo", Schema: todo.Schema, Open: Open, LocalAI: true}
}

// Open builds the todo app's config and server options, with the AI
// provider [DemoProvider] picks; close stops its local stream, if any.
func Open(env *cli.Environ, delay time.Duration) (cfg backend.Config, opts tools.Options, close func(), err error) {
	// The AI notice goes to stderr: stdout is the protocol.
	provider, closeAI, err := DemoProvider(&cli.Environ{Stdout: env.Stderr, Stderr: env.Stderr, Getenv: env.Getenv}, delay)
	if err != nil {
		return backend.Config{}, tools.Options{}, nil, err
	}
	return todo.Config(provider, env.Getenv), tools.Options{Name: "mcp-sync-todo",
		Instructions: "A todo list kept in a transactional store. Use setTodo/deleteTodo to change todos, createAndGenerate to have AI write one (it runs after the commit; follow it with get_row or get_run), and list_rows/get_row to read."}, closeAI, nil
}

// DemoProvider picks the AI endpoint: the one configured in the environment,
// or a local canned stream served by this process, said so plainly.
func DemoProvider(env *cli.Environ, delay time.Duration) (ai.Provider, func(), error) {
	cfg := todo.AIConfig(env.Getenv) // a key in the secrets table wins
	if cfg.APIKey != "" || cfg.BaseURL != "" {
		p, err := ai.NewOpenAI(cfg)
		if err != nil {
			return nil, nil, err
		}
		fmt.Fprintf(env.Stdout, "AI: %s, model %s (from OPENAI_* variables)\n", p.Endpoint(), p.Model())
		return p, func() {}, nil
	}
	srv, err := localai.Start(localai.Options{Delay: delay})
	if err != nil {
		return nil, nil, fmt.Errorf("starting the local stream: %w", err)
	}
	p, err := ai.NewOpenAI(ai.Config{BaseURL: srv.URL(), Model: localai.DefaultModel})
	if err != nil {
		srv.Close()
		return nil, nil, err
	}
	fmt.Fprintf(env.Stdout, "AI: no OPENAI_API_KEY set, so mcp-sync uses its built-in local stream at %s:\n"+
		"    canned text, not a real model. Set OPENAI_API_KEY to use one.\n", srv.URL())
	return p, func() { srv.Close() }, nil
}
