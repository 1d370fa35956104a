package todo_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"log/slog"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mcp-sync/mcp-sync/backend"
	"github.com/mcp-sync/mcp-sync/backend/ai"
	"github.com/mcp-sync/mcp-sync/examples/todo"
)

// chunks is a fake AI provider yielding fixed chunks, then err if set.
type chunks struct {
	parts []string
	err   error
}

func (c chunks) Stream(ctx context.Context, _ ai.Request) iter.Seq2[string, error] {
	return func(yield func(string, error) bool) {
		for _, p := range c.parts {
			if err := ctx.Err(); err != nil {
				yield("", err)
				return
			}
			if !yield(p, nil) {
				return
			}
		}
		if c.err != nil {
			yield("", c.err)
		}
	}
}

func numbered(n int) []string {
	parts := make([]string, n)
	for i := range parts {
		parts[i] = fmt.Sprintf("w%d ", i)
	}
	return parts
}

func openTodo(t testing.TB, p ai.Provider) *backend.Engine {
	t.Helper()
	e, err := backend.Open(todo.Config(p, func(string) string { return "" }),
		backend.Options{Path: filepath.Join(t.TempDir(), "todo.db"), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	return e
}

// watchRow collects the todo's values until one has a final status.
func watchRow(t *testing.T, sub *backend.Feed) []todo.Todo {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	var seen []todo.Todo
	for {
		ev, err := sub.Next(ctx)
		if err != nil {
			t.Fatalf("after %d values: %v", len(seen), err)
		}
		if ev.Resync {
			t.Fatalf("resync after %d values: the subscriber missed changes", len(seen))
		}
		for _, c := range ev.Changes {
			var row todo.Todo
			if err := json.Unmarshal(c.Value, &row); err != nil {
				t.Fatal(err)
			}
			seen = append(seen, row)
			if row.Status == todo.StatusReady || row.Status == todo.StatusError {
				return seen
			}
		}
	}
}

// TestStreamingIntoARow: 200 chunks, each committed as it comes; a subscriber
// sees every intermediate text in order, each a prefix of the next, then the
// final text with status ready; the action returns the full text.
func TestStreamingIntoARow(t *testing.T) {
	parts := numbered(200)
	e := openTodo(t, chunks{parts: parts})
	ctx := t.Context()
	if _, err := e.Mutate(ctx, "setTodo", json.RawMessage(`{"id":"t1","text":"","completed":true,"status":"generating"}`)); err != nil {
		t.Fatal(err)
	}
	sub, err := e.Subscribe(t.Context(), backend.Filter{Table: "todos", Key: "t1"}, e.Version())
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	out, err := e.Act(ctx, "generateWithAI", json.RawMessage(`{"id":"t1","prompt":"count"}`))
	if err != nil {
		t.Fatal(err)
	}
	full := strings.Join(parts, "")
	if want, _ := json.Marshal(todo.GenerateOutput{Text: full}); string(out) != string(want) {
		t.Errorf("output = %s", out)
	}
	seen := watchRow(t, sub)
	if len(seen) != 201 {
		t.Fatalf("subscriber saw %d values, want 200 chunks + ready", len(seen))
	}
	for i, row := range seen[:200] {
		if want := strings.Join(parts[:i+1], ""); row.Text != want || row.Status != todo.StatusGenerating {
			t.Fatalf("value %d = %q (%s), want %q generating", i, row.Text, row.Status, want)
		}
		if !row.Completed {
			t.Fatalf("value %d lost the completed flag", i)
		}
	}
	if last := seen[200]; last.Text != full || last.Status != todo.StatusReady {
		t.Errorf("last value = %+v", last)
	}
}

// TestCreateAndGenerate goes through the outbox: the mutator writes the
// placeholder and enqueues the action, which a worker runs after the commit.
func TestCreateAndGenerate(t *testing.T) {
	e := openTodo(t, chunks{parts: numbered(20)})
	sub, err := e.Subscribe(t.Context(), backend.Filter{Table: "todos", Key: "t2"}, e.Version())
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	if _, err := e.Mutate(t.Context(), "createAndGenerate", json.RawMessage(`{"id":"t2","prompt":"p"}`)); err != nil {
		t.Fatal(err)
	}
	seen := watchRow(t, sub)
	if seen[0].Text != "" || seen[0].Status != todo.StatusGenerating {
		t.Errorf("placeholder = %+v", seen[0])
	}
	if last := seen[len(seen)-1]; last.Status != todo.StatusReady || last.Text != strings.Join(numbered(20), "") {
		t.Errorf("final = %+v", last)
	}
	_, err = e.Mutate(t.Context(), "createAndGenerate", json.RawMessage(`{"id":"t2","prompt":"p"}`))
	if err == nil || !strings.Contains(err.Error(), `a todo with id "t2" already exists`) {
		t.Errorf("second create: %v", err)
	}
}

// TestGenerationFailureKeepsPartialText: the row ends with status error and
// the text received before the failure.
func TestGenerationFailureKeepsPartialText(t *testing.T) {
	e := openTodo(t, chunks{parts: []string{"half ", "way"}, err: errors.New("stream cut")})
	if _, err := e.Mutate(t.Context(), "setTodo", json.RawMessage(`{"id":"t3","text":"","completed":false}`)); err != nil {
		t.Fatal(err)
	}
	_, err := e.Act(t.Context(), "generateWithAI", json.RawMessage(`{"id":"t3","prompt":"p"}`))
	if err == nil || !strings.Contains(err.Error(), "stream cut") {
		t.Fatalf("err = %v", err)
	}
	raw, _, _, _ := e.Get(t.Context(), "todos", "t3")
	var row todo.Todo
	if json.Unmarshal(raw, &row) != nil || row.Text != "half way" || row.Status != todo.StatusError {
		t.Errorf("row = %s", raw)
	}
}

// TestGenerationFailureKeepsExistingText: generating into a todo that has
// text, a stream that fails (at once, or half way) leaves the todo its old
// text with status error: a failed generation loses nothing.
func TestGenerationFailureKeepsExistingText(t *testing.T) {
	for name, p := range map[string]chunks{
		"at once":  {err: errors.New("401 Unauthorized")},
		"half way": {parts: []string{"half "}, err: errors.New("500 Internal Server Error")},
	} {
		t.Run(name, func(t *testing.T) {
			e := openTodo(t, p)
			if _, err := e.Mutate(t.Context(), "setTodo", json.RawMessage(`{"id":"t5","text":"buy milk","completed":true}`)); err != nil {
				t.Fatal(err)
			}
			if _, err := e.Act(t.Context(), "generateWithAI", json.RawMessage(`{"id":"t5","prompt":"p"}`)); err == nil || !strings.Contains(err.Error(), p.err.Error()) {
				t.Fatalf("err = %v, want %v", err, p.err)
			}
			raw, _, _, _ := e.Get(t.Context(), "todos", "t5")
			var row todo.Todo
			if json.Unmarshal(raw, &row) != nil || row.Text != "buy milk" || !row.Completed || row.Status != todo.StatusError {
				t.Errorf("row = %s, want the old text and completed, with status error", raw)
			}
		})
	}
}

// perAttempt is a fake AI provider whose nth stream yields parts[n], then
// a retryable error.
type perAttempt struct {
	parts [][]string
	calls *atomic.Int32
}

func (p perAttempt) Stream(ctx context.Context, req ai.Request) iter.Seq2[string, error] {
	n := int(p.calls.Add(1)) - 1
	return chunks{parts: p.parts[min(n, len(p.parts)-1)], err: backend.Retryable(errors.New("stream cut"))}.Stream(ctx, req)
}

// TestRetriedGenerationKeepsItsOwnText: an enqueued generation whose two
// attempts both fail ends with the text the last attempt received, not the
// first attempt's.
func TestRetriedGenerationKeepsItsOwnText(t *testing.T) {
	p := perAttempt{parts: [][]string{{"first "}, {"second ", "try"}}, calls: &atomic.Int32{}}
	e, err := backend.Open(todo.Config(p, func(string) string { return "" }), backend.Options{
		Path: filepath.Join(t.TempDir(), "todo.db"), Logger: slog.New(slog.DiscardHandler),
		MaxAttempts: 2, RetryBackoff: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	m, err := e.Mutate(t.Context(), "createAndGenerate", json.RawMessage(`{"id":"t6","prompt":"p"}`))
	runs := m.Runs
	if err != nil || len(runs) != 1 {
		t.Fatalf("createAndGenerate: runs %v, %v", runs, err)
	}
	if run := waitRun(t, e, runs[0]); run.Status != backend.RunFailed || run.Attempts != 2 {
		t.Fatalf("run = %s after %d attempts, want failed after 2", run.Status, run.Attempts)
	}
	if row := engineRow(t, e, "t6"); row.Text != "second try" || row.Status != todo.StatusError {
		t.Errorf("row = %+v, want the second attempt's text with status error", row)
	}
}

// TestSecretsStayOnTheServer: the todo app's secrets table is not a client
// table.
func TestSecretsStayOnTheServer(t *testing.T) {
	e := openTodo(t, nil)
	for _, tbl := range e.ClientTables() {
		if tbl.Name != "todos" {
			t.Errorf("client table %q", tbl.Name)
		}
	}
	if _, _, _, err := e.Get(t.Context(), "secrets", "openai"); backend.KindOf(err) != backend.ErrUnknown {
		t.Errorf("Get secrets: %v", err)
	}
}

// cancelling yields its chunks and cancels the caller's context just before
// the last one, so the action's next ctx.Mutate fails on the cancelled
// context rather than the stream reporting it.
type cancelling struct {
	parts  []string
	cancel context.CancelFunc
}

func (c cancelling) Stream(ctx context.Context, _ ai.Request) iter.Seq2[string, error] {
	return func(yield func(string, error) bool) {
		for i, p := range c.parts {
			if i == len(c.parts)-1 {
				c.cancel()
			}
			if !yield(p, nil) {
				return
			}
		}
	}
}

// TestCancelledGenerationEndsWithError: a call cancelled between chunks
// leaves the row with status error and its text, not "generating" forever.
func TestCancelledGenerationEndsWithError(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	e := openTodo(t, cancelling{parts: []string{"a ", "b ", "c "}, cancel: cancel})
	if _, err := e.Mutate(t.Context(), "setTodo", json.RawMessage(`{"id":"t4","text":"","completed":false}`)); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Act(ctx, "generateWithAI", json.RawMessage(`{"id":"t4","prompt":"p"}`)); !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	raw, _, _, _ := e.Get(t.Context(), "todos", "t4")
	var row todo.Todo
	if json.Unmarshal(raw, &row) != nil || row.Status != todo.StatusError || !strings.HasPrefix(row.Text, "a b ") {
		t.Errorf("row after a cancelled call = %s, want status error with the text so far", raw)
	}
}

// blocking is a provider that streams nothing until its caller is cancelled,
// telling started each time it is called.
type blocking struct{ started chan struct{} }

func (b blocking) Stream(ctx context.Context, _ ai.Request) iter.Seq2[string, error] {
	return func(yield func(string, error) bool) {
		b.started <- struct{}{}
		<-ctx.Done()
		yield("", ctx.Err())
	}
}

// TestInterruptedGenerationEndsInError: a generation cut off by a stop in
// each of its three attempts is marked failed on the next start, and the
// failure handler leaves the todo with status error and the reason instead
// of "generating" for good.
func TestInterruptedGenerationEndsInError(t *testing.T) {
	path := filepath.Join(t.TempDir(), "todo.db")
	p := blocking{started: make(chan struct{}, 4)}
	openAt := func() *backend.Engine {
		e, err := backend.Open(todo.Config(p, func(string) string { return "" }),
			backend.Options{Path: path, Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			t.Fatal(err)
		}
		return e
	}
	var runID string
	for i := range 3 {
		e := openAt()
		if i == 0 {
			m, err := e.Mutate(t.Context(), "createAndGenerate", json.RawMessage(`{"id":"cut","prompt":"p"}`))
			runs := m.Runs
			if err != nil {
				t.Fatal(err)
			}
			runID = runs[0]
		}
		select {
		case <-p.started:
		case <-time.After(30 * time.Second):
			t.Fatalf("open %d: the generation did not start", i+1)
		}
		e.Close()
	}
	e := openAt()
	defer e.Close()
	sub, err := e.WatchRun(t.Context(), runID, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	for {
		run, _, err := e.Run(t.Context(), runID)
		if err != nil {
			t.Fatal(err)
		}
		if run.Done() {
			break
		}
		if _, err := sub.Next(ctx); err != nil {
			t.Fatalf("the run did not end: %v (last seen %+v)", err, run)
		}
	}
	raw, _, _, _ := e.Get(t.Context(), "todos", "cut")
	var row todo.Todo
	if json.Unmarshal(raw, &row) != nil || row.Status != todo.StatusError || !strings.Contains(row.Error, "gave up after 3 attempts") {
		t.Errorf("row = %s, want status error with the reason", raw)
	}
}
