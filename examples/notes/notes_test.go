package notes_test

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mcp-sync/mcp-sync/backend"
	"github.com/mcp-sync/mcp-sync/backend/ai"
	"github.com/mcp-sync/mcp-sync/backend/ai/localai"
	"github.com/mcp-sync/mcp-sync/cli"
	"github.com/mcp-sync/mcp-sync/client"
	"github.com/mcp-sync/mcp-sync/examples/notes"
	"github.com/mcp-sync/mcp-sync/examples/todo"
	"github.com/mcp-sync/mcp-sync/tools"
)

// serve runs the notes app, its AI at llm, over streamable HTTP on
// 127.0.0.1 and returns the engine and a connected client.
func serve(t *testing.T, llm *localai.Server) (*backend.Engine, *client.Conn) {
	t.Helper()
	env := map[string]string{ai.EnvBaseURL: llm.URL(), ai.EnvModel: localai.DefaultModel}
	cfg, opts, closeSetup, err := notes.Setup(&cli.Environ{Getenv: func(k string) string { return env[k] }}, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(closeSetup)
	eng, err := backend.Open(cfg, backend.Options{Path: filepath.Join(t.TempDir(), "notes.db"), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { eng.Close() })
	srv, err := tools.New(eng, opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	urlc, done := make(chan string, 1), make(chan error, 1)
	go func() { done <- srv.ServeHTTP(ctx, "127.0.0.1:0", tools.HTTPOptions{}, func(u string) { urlc <- u }) }()
	var base string
	select {
	case base = <-urlc:
	case err := <-done:
		cancel()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		<-done
		srv.Close()
	})
	c, err := client.DialHTTP(t.Context(), base+tools.PathStreamable, client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return eng, c
}

func startLLM(t *testing.T, o localai.Options) *localai.Server {
	t.Helper()
	llm, err := localai.Start(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { llm.Close() })
	return llm
}

// TestNilTagsStoredEmpty: a note saved with nil tags through a client's
// replica (client.MutateLocal) is accepted locally, confirmed by the
// server and stored with "tags":[], its priority defaulted, its author kept.
// The replica used to encode input with json.Marshal, so null was refused.
func TestNilTagsStoredEmpty(t *testing.T) {
	_, c := serve(t, startLLM(t, localai.Options{}))
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	r, err := client.NewReplica(ctx, c, notes.Config(nil), client.ReplicaOptions{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	in := notes.NoteInput{ID: "n1", Title: "Groceries", Author: notes.Author{Name: "Ann"}}
	p, err := client.MutateLocal(ctx, r, notes.SaveNote, in)
	if err != nil {
		t.Fatalf("saveNote with nil tags on the replica: %v", err)
	}
	if err := p.Wait(ctx); err != nil {
		t.Fatalf("saveNote with nil tags on the server: %v", err)
	}
	raw, err := c.Call(ctx, "get_row", map[string]any{"table": "notes", "key": "n1"})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(raw), `"tags":[]`) {
		t.Errorf("stored row %s, want \"tags\":[]", raw)
	}
	n, ok, _, err := client.GetRow(ctx, c, notes.Notes, "n1")
	if err != nil || !ok {
		t.Fatalf("GetRow: %v (found %v)", err, ok)
	}
	if n.Tags == nil || len(n.Tags) != 0 || n.Priority != "normal" || n.Author.Name != "Ann" || n.Updated.IsZero() {
		t.Errorf("note = %+v", n)
	}
}

// TestNilTagsOverTypedCall: a typed client call (client.Mutate, over
// tools/call) with nil tags sends them as [], as the server would store
// them, so the call is not refused for "got null, want array".
func TestNilTagsOverTypedCall(t *testing.T) {
	_, c := serve(t, startLLM(t, localai.Options{}))
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	if _, err := client.Mutate(ctx, c, notes.SaveNote, notes.NoteInput{ID: "n2", Title: "Errands"}); err != nil {
		t.Fatalf("saveNote with nil tags over a typed call: %v", err)
	}
	n, ok, _, err := client.GetRow(ctx, c, notes.Notes, "n2")
	if err != nil || !ok || n.Tags == nil || len(n.Tags) != 0 || n.Priority != "normal" {
		t.Errorf("note = %+v (found %v, %v)", n, ok, err)
	}
}

// TestInternalMutatorsHidden: setSummary and setSecret are no tools, and a
// call of either is refused as an unknown tool.
func TestInternalMutatorsHidden(t *testing.T) {
	_, c := serve(t, startLLM(t, localai.Options{}))
	list, err := c.ListTools(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, tool := range list.Tools {
		names = append(names, tool.Name)
	}
	got := strings.Join(names, " ")
	for _, want := range []string{"saveNote", "deleteNote", "addTag", "summarize"} {
		if !strings.Contains(got, want) {
			t.Errorf("tools/list lacks %s: %s", want, got)
		}
	}
	for _, name := range []string{notes.SetSummary.Name(), notes.SetSecret.Name()} {
		if strings.Contains(got, name) {
			t.Errorf("tools/list offers internal %s: %s", name, got)
		}
		_, err := c.Call(t.Context(), name, notes.SummaryInput{ID: "n1", Summary: "forged", Status: notes.SummaryDone})
		if err == nil || !strings.Contains(err.Error(), "not found") {
			t.Errorf("tools/call %s: %v, want tool not found", name, err)
		}
	}
}

// TestSummaryGrowsForAWatcher: addTag enqueues summarize, which streams
// the summary into the note chunk by chunk with the key from the secrets
// table; a client watching the row sees every prefix, then status done.
func TestSummaryGrowsForAWatcher(t *testing.T) {
	const text = "Buy milk eggs and bread before the shop closes tonight"
	llm := startLLM(t, localai.Options{Text: text, RequireKey: "table-key"})
	eng, c := serve(t, llm)
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	secret, _ := json.Marshal(todo.SecretInput{Key: todo.AIKeySecret, Value: "table-key"})
	if _, err := eng.Mutate(ctx, notes.SetSecret.Name(), secret); err != nil {
		t.Fatalf("setSecret from server code: %v", err)
	}
	if _, err := c.Call(ctx, notes.SaveNote.Name(), notes.NoteInput{ID: "n1", Title: "Groceries", Body: "milk, eggs, bread", Tags: []string{}}); err != nil {
		t.Fatal(err)
	}
	w, err := client.Watch(ctx, c, notes.Notes, client.Selector{Key: "n1"}, eng.Version())
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if _, err := c.Call(ctx, notes.AddTag.Name(), notes.TagInput{ID: "n1", Tag: "shop"}); err != nil {
		t.Fatal(err)
	}
	var seen []string
	for done := false; !done; {
		ev, err := w.Next(ctx)
		if err != nil {
			t.Fatalf("after %q: %v", seen, err)
		}
		for _, ch := range ev.Changes {
			n := ch.Value
			if n.SummaryStatus == notes.SummaryError {
				t.Fatalf("summary failed after %q", n.Summary)
			}
			if n.Summary != "" {
				seen = append(seen, n.Summary)
			}
			done = n.SummaryStatus == notes.SummaryDone
		}
	}
	words := len(strings.Fields(text))
	if len(seen) < words {
		t.Fatalf("the watcher saw %d summaries, want one per chunk (%d) and the final one: %q", len(seen), words, seen)
	}
	for i := 1; i < len(seen); i++ {
		if !strings.HasPrefix(seen[i], seen[i-1]) {
			t.Fatalf("summary %d %q does not extend %q", i, seen[i], seen[i-1])
		}
	}
	if last := seen[len(seen)-1]; last != text {
		t.Errorf("final summary %q, want %q", last, text)
	}
	if len(seen) > 1 && seen[0] == text {
		t.Error("the first summary seen was already complete: it did not grow")
	}
	n, _, _, err := client.GetRow(ctx, c, notes.Notes, "n1")
	if err != nil || strings.Join(n.Tags, ",") != "shop" {
		t.Errorf("tags after addTag: %q (%v)", n.Tags, err)
	}
	if _, err := c.Call(ctx, notes.AddTag.Name(), notes.TagInput{ID: "nothere", Tag: "x"}); err == nil || !errors.As(err, new(*client.CallError)) {
		t.Errorf("addTag of a missing note: %v", err)
	}
}
