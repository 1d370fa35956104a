// Command watchtodo is a Go client of an mcp-sync todo server: it watches
// the todos table, creates a todo whose text an AI writes, and prints the
// text as it grows.
//
//	go run ./examples/watchtodo                      # starts `mcp-sync serve` itself, over stdio
//	go run ./examples/watchtodo -url http://127.0.0.1:8080/mcp
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"time"

	"github.com/mcp-sync/mcp-sync/client"
	"github.com/mcp-sync/mcp-sync/examples/todo"
)

func main() {
	url := flag.String("url", "", "server URL (default: run `mcp-sync serve` over stdio)")
	server := flag.String("server", "mcp-sync", "the mcp-sync binary to start when -url is not given")
	data := flag.String("data", filepath.Join(os.TempDir(), "watchtodo.db"), "data file of the server it starts")
	prompt := flag.String("prompt", "Plan a picnic in the park", "what the todo should be about")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, *url, *server, *data, *prompt); err != nil {
		fmt.Fprintln(os.Stderr, "watchtodo:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, url, server, data, prompt string) error {
	var (
		c   *client.Conn
		err error
	)
	if url != "" {
		c, err = client.DialHTTP(ctx, url, client.Options{Token: os.Getenv("MCP_SYNC_TOKEN")})
	} else {
		c, err = client.DialCommand(ctx, server, []string{"serve", "--data", data}, client.Options{})
	}
	if err != nil {
		return err
	}
	defer c.Close()

	// Watch the whole table from a snapshot: print other todos as they change
	// too, and the new one's text as it grows.
	w, err := client.Watch(ctx, c, todo.Todos, client.Selector{}, 0)
	if err != nil {
		return err
	}
	defer w.Close()
	snap, err := w.Next(ctx)
	if err != nil {
		return err
	}
	fmt.Printf("%d todos at version %d\n", len(snap.Changes), snap.Version)

	id := fmt.Sprintf("todo-%d", time.Now().UnixNano())
	res, err := client.Mutate(ctx, c, todo.CreateAndGenerate, todo.GenerateInput{ID: id, Prompt: prompt})
	if err != nil {
		return err
	}
	fmt.Printf("created %s at version %d; AI is writing it (run %v)\n\n", id, res.Version, res.Runs)

	shown := ""
	for {
		ev, err := w.Next(ctx)
		if err != nil {
			return err
		}
		for _, ch := range ev.Changes {
			if ch.Key != id {
				fmt.Printf("\n[%s changed: %q]\n", ch.Key, ch.Value.Text)
				continue
			}
			if strings.HasPrefix(ch.Value.Text, shown) {
				fmt.Print(ch.Value.Text[len(shown):])
			} else {
				fmt.Print("\n", ch.Value.Text)
			}
			shown = ch.Value.Text
			switch ch.Value.Status {
			case todo.StatusReady:
				fmt.Printf("\n\nready at version %d\n", ev.Version)
				return nil
			case todo.StatusError:
				return fmt.Errorf("generation failed; the todo keeps %q", ch.Value.Text)
			}
		}
	}
}
