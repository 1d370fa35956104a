package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/mcp-sync/mcp-sync/backend"
	"github.com/mcp-sync/mcp-sync/backend/ai"
	"github.com/mcp-sync/mcp-sync/backend/ai/localai"
	"github.com/mcp-sync/mcp-sync/examples/todo"
	"github.com/mcp-sync/mcp-sync/storage"
)

func runDemo(ctx context.Context, env *environ, args []string) int {
	fs := newFlags(env, "demo", "demo [flags]",
		"Creates a todo whose text an AI model writes, and shows the text growing as each\n"+
			"chunk is committed to the local data file. With OPENAI_API_KEY (or OPENAI_BASE_URL\n"+
			"for a local model server) it uses that endpoint; without, a canned local stream.")
	data := fs.String("data", "", "data file (default $MCP_SYNC_DATA, else $XDG_DATA_HOME/mcp-sync/todo.db)")
	prompt := fs.String("prompt", "Plan a picnic in the park", "what the todo should be about")
	delay := fs.Duration("delay", 30*time.Millisecond, "pause between chunks of the built-in local stream")
	timeout := fs.Duration("timeout", 2*time.Minute, "give up after this long")
	if code, ok := parse(fs, args); !ok {
		return code
	}
	fail := func(format string, a ...any) int {
		fmt.Fprintf(env.stderr, "mcp-sync demo: "+format+"\n", a...)
		return exitFail
	}
	path, err := dataPath(*data, env.getenv)
	if err != nil {
		return fail("%v", err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fail("creating the data directory: %v", err)
	}

	provider, closeAI, err := demoProvider(env, *delay)
	if err != nil {
		return fail("%v", err)
	}
	defer closeAI()

	logger := slog.New(slog.NewTextHandler(env.stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	eng, err := backend.Open(todo.Config(provider, env.getenv), backend.Options{Path: path, Logger: logger})
	if err != nil {
		return fail("%v", err)
	}
	defer eng.Close()
	fmt.Fprintf(env.stdout, "Data file: %s\n", path)

	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	id := fmt.Sprintf("demo-%d", time.Now().UnixNano())
	sub, err := eng.Subscribe(storage.Filter{Table: todo.Todos.Name(), Key: id}, eng.Version())
	if err != nil {
		return fail("%v", err)
	}
	defer sub.Close()
	input, _ := json.Marshal(todo.GenerateInput{ID: id, Prompt: *prompt})
	if _, err := eng.Mutate(ctx, todo.CreateAndGenerate.Name(), input); err != nil {
		return fail("%v", err)
	}
	fmt.Fprintf(env.stdout, "createAndGenerate committed todo %q; generateWithAI runs after the commit.\nPrompt: %s\n\n", id, *prompt)

	final, updates, err := follow(ctx, env, eng, sub, id)
	if err != nil {
		return fail("%v", err)
	}
	fmt.Fprintln(env.stdout)
	if final.Status != todo.StatusReady {
		return fail("the todo ended with status %q: see the action run's error above", final.Status)
	}
	fmt.Fprintf(env.stdout, "\nReady: %d updates streamed into the row, each its own committed transaction (now at version %d).\n", updates, eng.Version())
	return exitOK
}

// demoProvider picks the AI endpoint: the one configured in the environment,
// or a local canned stream served by this process, said so plainly.
func demoProvider(env *environ, delay time.Duration) (ai.Provider, func(), error) {
	cfg := ai.ConfigFromEnv(env.getenv)
	if cfg.APIKey != "" || cfg.BaseURL != "" {
		p, err := ai.NewOpenAI(cfg)
		if err != nil {
			return nil, nil, err
		}
		fmt.Fprintf(env.stdout, "AI: %s, model %s (from OPENAI_* variables)\n", p.Endpoint(), p.Model())
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
	fmt.Fprintf(env.stdout, "AI: no OPENAI_API_KEY set, so mcp-sync uses its built-in local stream at %s:\n"+
		"    canned text, not a real model. Set OPENAI_API_KEY to use one.\n", srv.URL())
	return p, func() { srv.Close() }, nil
}

// follow prints the todo's text as it grows, until its status is final. It
// returns the last value and how many values it saw.
func follow(ctx context.Context, env *environ, eng *backend.Engine, sub *storage.Subscription, id string) (todo.Todo, int, error) {
	var shown string
	var row todo.Todo
	updates := 0
	show := func(next todo.Todo) {
		updates++
		row = next
		if strings.HasPrefix(next.Text, shown) {
			fmt.Fprint(env.stdout, next.Text[len(shown):]) // the text grows in place
		} else {
			fmt.Fprintf(env.stdout, "\n%s", next.Text) // rewritten: start over
		}
		shown = next.Text
	}
	for row.Status != todo.StatusReady && row.Status != todo.StatusError || updates == 0 {
		ev, err := sub.Next(ctx)
		if err != nil {
			return row, updates, fmt.Errorf("watching todo %s: %w", id, err)
		}
		if ev.Resync { // fell behind the change log: read the row as it is now
			raw, ok, _, err := eng.Get(todo.Todos.Name(), id)
			if err != nil || !ok {
				return row, updates, fmt.Errorf("re-reading todo %s after a resync: %v", id, err)
			}
			var next todo.Todo
			if err := json.Unmarshal(raw, &next); err != nil {
				return row, updates, err
			}
			show(next)
			continue
		}
		for _, c := range ev.Changes {
			if c.Op == storage.OpDelete {
				return row, updates, fmt.Errorf("todo %s was deleted while it was being written", id)
			}
			var next todo.Todo
			if err := json.Unmarshal(c.Value, &next); err != nil {
				return row, updates, err
			}
			show(next)
		}
	}
	if row.Status == todo.StatusError {
		if run, _, _ := lastRun(eng); run != nil && run.Error != "" {
			fmt.Fprintf(env.stderr, "\ngenerateWithAI failed: %s\n", run.Error)
		}
	}
	return row, updates, nil
}

// lastRun returns the most recent action run.
func lastRun(eng *backend.Engine) (*backend.Run, bool, error) {
	var id string
	err := eng.Store().View(func(tx *storage.ReadTx) error {
		rows, _, err := tx.Scan(backend.RunsTable, storage.ScanOptions{Reverse: true, Limit: 1})
		if len(rows) > 0 {
			id = rows[0].Key
		}
		return err
	})
	if err != nil || id == "" {
		return nil, false, err
	}
	return eng.Run(id)
}
