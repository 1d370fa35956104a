package backend_test

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/mcp-sync/mcp-sync/backend"
)

func TestStartRunAndCancel(t *testing.T) {
	app := &testApp{started: make(chan string, 16)}
	path := filepath.Join(t.TempDir(), "app.db")
	e := open(t, app.config(), path, func(o *backend.Options) { o.Workers = 1 })
	ctx := t.Context()

	// A task runs like an enqueued run and is marked a task.
	r, err := e.StartRun(ctx, "echo", mustJSON(EchoIn{Text: "t"}))
	if err != nil {
		t.Fatal(err)
	}
	got, ok, err := e.WaitRun(ctx, r.ID)
	if err != nil || !ok || got.Status != backend.RunSucceeded || !got.Task || string(got.Output) != `{"text":"t"}` {
		t.Fatalf("WaitRun: %+v %v %v", got, ok, err)
	}

	// The only worker is held by a blocking task: a second one waits queued.
	blocking, err := e.StartRun(ctx, "echo", mustJSON(EchoIn{Text: "b", Mode: "block"}))
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-app.started:
	case <-time.After(30 * time.Second):
		t.Fatal("the blocking task never started")
	}
	queued, err := e.StartRun(ctx, "echo", mustJSON(EchoIn{Text: "q"}))
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{queued.ID, blocking.ID} {
		if _, ok, err := e.CancelRun(ctx, id); err != nil || !ok {
			t.Fatalf("CancelRun(%s): %v %v", id, ok, err)
		}
		run := waitRun(t, e, id)
		if run.Status != backend.RunFailed || !run.Cancelled || run.Error == "" {
			t.Errorf("cancelled run %s: %+v", id, run)
		}
	}
	if app.attempts.Load() != 2 { // "t" and "b"; "q" never ran
		t.Errorf("%d echo attempts, want 2", app.attempts.Load())
	}
	// A finished run is left as it is; an unknown one is reported.
	if run, ok, err := e.CancelRun(ctx, r.ID); err != nil || !ok || run.Status != backend.RunSucceeded {
		t.Errorf("cancelling a finished run: %+v %v %v", run, ok, err)
	}
	if _, ok, err := e.CancelRun(ctx, "no-such-run"); err != nil || ok {
		t.Errorf("cancelling an unknown run: %v %v", ok, err)
	}

	// Enqueued runs are not tasks; tasks list in start order, in pages.
	m, err := e.Mutate(ctx, "enqueue", mustJSON(EnqueueIn{ID: "x", Text: "y"}))
	if err != nil {
		t.Fatal(err)
	}
	waitRun(t, e, m.Runs[0])
	page, next, err := e.TaskRuns(ctx, "", 2)
	if err != nil || len(page) != 2 || page[0].ID != r.ID || page[1].ID != blocking.ID || next == "" {
		t.Fatalf("first page: %d runs, next %q, %v", len(page), next, err)
	}
	page, next, err = e.TaskRuns(ctx, next, 2)
	if err != nil || len(page) != 1 || page[0].ID != queued.ID || next != "" {
		t.Fatalf("second page: %+v, next %q, %v", page, next, err)
	}

	// After a restart the records stand: cancelled runs do not run again.
	attempts := app.attempts.Load()
	e.Close()
	e = open(t, app.config(), path)
	time.Sleep(100 * time.Millisecond) // a run wrongly dispatched would start now
	for _, id := range []string{queued.ID, blocking.ID} {
		if run, ok, err := e.Run(ctx, id); err != nil || !ok || !run.Cancelled {
			t.Errorf("after reopening, run %s: %+v %v %v", id, run, ok, err)
		}
	}
	if n := app.attempts.Load(); n != attempts {
		t.Errorf("%d echo attempts after reopening, want still %d", n, attempts)
	}
}

func TestStartRunRefusals(t *testing.T) {
	e, _ := newEngine(t)
	ctx := t.Context()
	before := len(runIDs(t, e))
	if _, err := e.StartRun(ctx, "echo", []byte(`{"text":1}`)); !errors.Is(err, backend.ErrInvalidInput) {
		t.Errorf("invalid input: %v", err)
	}
	if _, err := e.StartRun(ctx, "nope", []byte(`{}`)); !errors.Is(err, backend.ErrUnknown) {
		t.Errorf("unknown action: %v", err)
	}
	if n := len(runIDs(t, e)); n != before {
		t.Errorf("refused starts recorded %d runs", n-before)
	}
	if _, ok, err := e.WaitRun(ctx, "no-such-run"); ok || err != nil {
		t.Errorf("waiting for an unknown run: %v %v", ok, err)
	}
	blocked, err := e.StartRun(ctx, "echo", mustJSON(EchoIn{Mode: "block"}))
	if err != nil {
		t.Fatal(err)
	}
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	if _, _, err := e.WaitRun(short, blocked.ID); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("waiting past the context: %v", err)
	}
	r, err := e.StartRun(ctx, "echo", mustJSON(EchoIn{Mode: "fatal"}))
	if err != nil {
		t.Fatal(err)
	}
	if run := waitRun(t, e, r.ID); run.ErrorKind != backend.RunErrorHandler {
		t.Errorf("a handler's error: kind %q", run.ErrorKind)
	}
	r, err = e.StartRun(ctx, "echo", mustJSON(EchoIn{Mode: "panic"}))
	if err != nil {
		t.Fatal(err)
	}
	if run := waitRun(t, e, r.ID); run.ErrorKind != backend.RunErrorInternal {
		t.Errorf("a panic: kind %q", run.ErrorKind)
	}
}
