package backend_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/mcp-sync/mcp-sync/backend"
)

// TestTaskLimit: a caller may have Options.MaxTasks unfinished tasks; the
// next start is refused, retryably, naming the limit, and records nothing;
// other callers have limits of their own; a task that finishes frees its
// place.
func TestTaskLimit(t *testing.T) {
	e, app := newEngine(t, func(o *backend.Options) { o.MaxTasks, o.Workers = 2, 1 })
	alice := backend.WithIdentity(t.Context(), backend.Identity{Subject: "alice"})
	bob := backend.WithIdentity(t.Context(), backend.Identity{Subject: "bob"})

	first, err := e.StartRun(alice, "echo", mustJSON(EchoIn{Text: "1", Mode: "block"}))
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-app.started:
	case <-time.After(30 * time.Second):
		t.Fatal("the first task never started")
	}
	if _, err := e.StartRun(alice, "echo", mustJSON(EchoIn{Text: "2"})); err != nil { // queued behind the first
		t.Fatal(err)
	}
	before := len(runIDs(t, e))
	_, err = e.StartRun(alice, "echo", mustJSON(EchoIn{Text: "3"}))
	var lim *backend.TaskLimitError
	if !errors.As(err, &lim) || lim.Max != 2 || !backend.IsRetryable(err) {
		t.Fatalf("a third task: %v; want a retryable *TaskLimitError with Max 2", err)
	}
	for _, want := range []string{`action "echo"`, "limit of 2 unfinished tasks", "MaxTasks", "--max-tasks"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("the refusal %q does not say %q", err, want)
		}
	}
	if n := len(runIDs(t, e)); n != before {
		t.Errorf("the refused start recorded %d runs", n-before)
	}
	if _, err := e.StartRun(bob, "echo", mustJSON(EchoIn{Text: "b"})); err != nil {
		t.Errorf("another caller's task: %v", err)
	}

	// Cancelling the running task ends it and, once the queued one has run
	// too, alice may start two again.
	if _, _, err := e.CancelRun(alice, first.ID); err != nil {
		t.Fatal(err)
	}
	waitRun(t, e, first.ID)
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		_, err := e.StartRun(alice, "echo", mustJSON(EchoIn{Text: "again"}))
		if err == nil {
			break
		}
		if !errors.As(err, &lim) || time.Now().After(deadline) {
			t.Fatalf("starting after a task finished: %v", err)
		}
	}

	// A negative limit turns it off.
	free, _ := newEngine(t, func(o *backend.Options) { o.MaxTasks, o.Workers = -1, 1 })
	for i := range 5 {
		if _, err := free.StartRun(alice, "echo", mustJSON(EchoIn{Text: "x", Mode: "block"})); err != nil {
			t.Fatalf("task %d with no limit: %v", i, err)
		}
	}
}
