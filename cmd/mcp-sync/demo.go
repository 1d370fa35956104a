package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/mcp-sync/mcp-sync/backend"
	"github.com/mcp-sync/mcp-sync/cli"
	"github.com/mcp-sync/mcp-sync/client"
	"github.com/mcp-sync/mcp-sync/examples/todo"
	"github.com/mcp-sync/mcp-sync/internal/todoapp"
	"github.com/mcp-sync/mcp-sync/tools"
	"github.com/mcp-sync/mcp-sync/wire"
)

func runDemo(ctx context.Context, env *cli.Environ, args []string) int {
	fs := cli.NewFlags(env, "mcp-sync", "demo", "demo [flags]",
		"Creates a todo whose text an AI model writes, and shows the text growing as each\n"+
			"chunk is committed to the local data file. With OPENAI_API_KEY (or OPENAI_BASE_URL\n"+
			"for a local model server) it uses that endpoint; without, a canned local stream.")
	data := fs.String("data", "", "data `FILE` (default $MCP_SYNC_DATA, else $XDG_DATA_HOME/mcp-sync/todo.db)")
	prompt := fs.String("prompt", "Plan a picnic in the park", "what the todo should be about: a `PROMPT` for the model")
	delay := fs.Duration("delay", 30*time.Millisecond, "pause between chunks of the built-in local stream")
	timeout := fs.Duration("timeout", 2*time.Minute, "give up after this long")
	if code, ok := cli.Parse(fs, args); !ok {
		return code
	}
	// The engine logs from its own goroutines: one lock for every writer.
	stderr := &cli.SyncWriter{W: env.Stderr}
	fail := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "mcp-sync demo: "+format+"\n", a...)
		return cli.ExitFail
	}
	path, err := cli.DataPath(*data, "todo", env.Getenv)
	if err != nil {
		return fail("%v", err)
	}
	if err := cli.PrepareDataDir(*data, path, env.Getenv); err != nil {
		return fail("%v", err)
	}

	// The AI banner waits until the engine opens: a failure's cause comes first.
	var banner bytes.Buffer
	provider, closeAI, err := todoapp.DemoProvider(&cli.Environ{Stdout: &banner, Stderr: stderr, Getenv: env.Getenv}, *delay)
	if err != nil {
		return fail("%v", err)
	}
	defer closeAI()

	// Errors only: the demo tells of failed attempts and retries itself.
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelError}))
	eng, err := backend.Open(todo.Config(provider, env.Getenv), backend.Options{Path: path, Logger: logger})
	if err != nil {
		return fail("%v", err)
	}
	defer eng.Close()
	_, _ = env.Stdout.Write(banner.Bytes())
	fmt.Fprintf(env.Stdout, "Data file: %s\n", path)

	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()

	// The demo is an MCP client of the server it starts, on loopback, like
	// any other client: it subscribes to the row and re-reads it on every
	// notifications/resources/updated.
	srv, err := tools.New(eng, tools.Options{Name: "mcp-sync-todo", Logger: logger})
	if err != nil {
		return fail("%v", err)
	}
	defer srv.Close()
	serveCtx, stopServe := context.WithCancel(ctx)
	urlc, served := make(chan string, 1), make(chan error, 1)
	go func() {
		served <- srv.ServeHTTP(serveCtx, "127.0.0.1:0", tools.HTTPOptions{}, func(u string) { urlc <- u })
	}()
	defer func() { stopServe(); <-served }()
	var base string
	select {
	case base = <-urlc:
	case err := <-served:
		return fail("%v", err)
	}
	cn, err := client.DialHTTP(ctx, base+tools.PathStreamable, client.Options{})
	if err != nil {
		return fail("%v", err)
	}
	defer cn.Close()
	fmt.Fprintf(env.Stdout, "MCP server: %s (this demo is its client)\n", base+tools.PathStreamable)

	id := fmt.Sprintf("demo-%d", time.Now().UnixNano())
	uri := wire.RowURI(todo.Todos.Name(), id)
	updates, stopWatch, err := cn.Subscribe(ctx, uri)
	if err != nil {
		return fail("subscribing to %s: %v", uri, err)
	}
	defer stopWatch()
	time.Sleep(50 * time.Millisecond) // the subscriptions/listen stream opens in the background
	before := eng.Version()
	created, err := client.Mutate(ctx, cn, todo.CreateAndGenerate, todo.GenerateInput{ID: id, Prompt: *prompt})
	if err != nil {
		return fail("%v", err)
	}
	fmt.Fprintf(env.Stdout, "Called createAndGenerate: todo %q committed; generateWithAI runs after the commit.\nPrompt: %s\n\n", id, *prompt)

	var (
		final     todo.Todo
		seen      int
		announced int // the failed attempts said so far
	)
	for {
		row, n, err := follow(ctx, env, cn, uri, updates)
		final, seen = row, seen+n
		if err != nil {
			return fail("watching todo %s: %v", id, err)
		}
		if final.Status == todo.StatusReady {
			break
		}
		if len(created.Runs) == 0 {
			return fail("the todo ended with status %q: %s", final.Status, final.Error)
		}
		// An attempt failed; the run may be retried. Follow it until it
		// tries again or gives up.
		gaveUp, err := awaitRetry(ctx, env, cn, uri, created.Runs[0], updates, &announced)
		if err != nil {
			return fail("following run %s: %v", created.Runs[0], err)
		}
		if gaveUp != "" {
			fmt.Fprintln(env.Stdout)
			return fail("generateWithAI gave up %s", gaveUp)
		}
	}
	fmt.Fprintln(env.Stdout)
	commits := eng.Version() - before
	fmt.Fprintf(env.Stdout, "\nReady: %d commits, each its own transaction; this client saw %d of them (updates coalesce while it reads).\n", commits, seen)
	return cli.ExitOK
}

// follow re-reads the todo at uri on each update and prints its text as it
// grows, until its status is final. It returns the last value and how many
// distinct values it saw.
func follow(ctx context.Context, env *cli.Environ, cn *client.Conn, uri string, updates <-chan struct{}) (todo.Todo, int, error) {
	var (
		row   todo.Todo
		shown string
		seen  int
		last  string
	)
	for {
		text, err := cn.ReadResource(ctx, uri)
		if err == nil && text != last {
			last = text
			seen++
			if err := json.Unmarshal([]byte(text), &row); err != nil {
				return row, seen, err
			}
			if strings.HasPrefix(row.Text, shown) {
				fmt.Fprint(env.Stdout, row.Text[len(shown):]) // the text grows in place
			} else {
				fmt.Fprintf(env.Stdout, "\n%s", row.Text) // rewritten: start over
			}
			shown = row.Text
			if row.Status == todo.StatusReady || row.Status == todo.StatusError {
				return row, seen, nil
			}
		}
		select {
		case <-ctx.Done():
			return row, seen, ctx.Err()
		case <-updates:
		case <-time.After(time.Second): // a lost subscription must not hang the demo
		}
	}
}
