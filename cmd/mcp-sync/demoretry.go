package main

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/mcp-sync/mcp-sync/backend"
	"github.com/mcp-sync/mcp-sync/cli"
	"github.com/mcp-sync/mcp-sync/client"
	"github.com/mcp-sync/mcp-sync/examples/todo"
	"github.com/mcp-sync/mcp-sync/wire"
)

// awaitRetry follows run runID after the todo at uri showed an error: it
// says each failed attempt once (announced counts them) and returns when
// the todo leaves the error status (a new attempt is writing it) or the run
// succeeded, with gaveUp empty; or when the run failed for good, with
// gaveUp saying after how many attempts and why.
func awaitRetry(ctx context.Context, env *cli.Environ, cn *client.Conn, uri, runID string, updates <-chan struct{}, announced *int) (gaveUp string, err error) {
	for {
		raw, err := cn.Call(ctx, wire.ToolGetRun, wire.GetRunIn{ID: runID})
		if err != nil {
			return "", err
		}
		var run wire.Run
		if err := json.Unmarshal(raw, &run); err != nil {
			return "", fmt.Errorf("decoding the run: %w", err)
		}
		switch run.Status {
		case wire.RunStatus(backend.RunFailed):
			return fmt.Sprintf("after %d attempts: %s", run.Attempts, run.Error), nil
		case wire.RunStatus(backend.RunSucceeded):
			return "", nil
		}
		if run.Error != "" && run.Attempts > *announced && run.Status == wire.RunStatus(backend.RunQueued) {
			*announced = run.Attempts
			when := ""
			if run.NextAttemptAt != nil {
				when = fmt.Sprintf(" in %s", max(time.Until(*run.NextAttemptAt), 0).Round(100*time.Millisecond))
			}
			fmt.Fprintf(env.Stdout, "\nAttempt %d failed: %s\nThe run is not over: generateWithAI tries again%s.\n", run.Attempts, run.Error, when)
		}
		if text, err := cn.ReadResource(ctx, uri); err == nil {
			var row todo.Todo
			if json.Unmarshal([]byte(text), &row) == nil && row.Status != todo.StatusError {
				return "", nil
			}
		}
		select {
		case <-ctx.Done():
			return "", ctx.Err()
		case <-updates:
		case <-time.After(250 * time.Millisecond): // a run's retry changes no row
		}
	}
}
