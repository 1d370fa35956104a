package tools_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/mcp-sync/mcp-sync/client"
	notesapp "github.com/mcp-sync/mcp-sync/examples/notes"
	"github.com/mcp-sync/mcp-sync/tools"
)

// TestGoClientSendsNilSlicesAsEmpty: Conn.Call with a struct whose
// required slice is nil succeeds (it used to reach the server as null and
// be refused: "at /tags: got null, want array"), on every transport the Go
// client dials; and a null that a model sends for an optional field with a
// default (notes' priority) reads as absent, so the field takes its
// default, not Go's zero value.
func TestGoClientSendsNilSlicesAsEmpty(t *testing.T) {
	eng := openApp(t, notesapp.Config(nil))
	_, base := serveOpts(t, eng, tools.Options{}, tools.HTTPOptions{})
	ctx, cancel := context.WithTimeout(context.Background(), testWait)
	defer cancel()
	for _, url := range []string{base + tools.PathStreamable, base + tools.PathSSE} {
		c, err := client.DialHTTP(ctx, url, client.Options{})
		if err != nil {
			t.Fatal(err)
		}
		in := notesapp.NoteInput{ID: "nil-tags", Title: "t", Body: "b", Author: notesapp.Author{Name: "a"}} // Tags nil
		if _, err := c.Call(ctx, notesapp.SaveNote.Name(), in); err != nil {
			t.Errorf("%s: Conn.Call with a nil required slice: %v", url, err)
		}
		if _, err := client.Mutate(ctx, c, notesapp.SaveNote, in); err != nil {
			t.Errorf("%s: client.Mutate with a nil required slice: %v", url, err)
		}
		// A mutator asked to run as a task answers at once; its arguments
		// are encoded as Call's are.
		if _, _, err := c.StartTask(ctx, notesapp.SaveNote.Name(), in); err != nil {
			t.Errorf("%s: Conn.StartTask with a nil required slice: %v", url, err)
		}

		args := json.RawMessage(`{"id":"null-priority","title":"t","body":"b","tags":[],"author":{"name":"a","email":null},"priority":null}`)
		if _, err := c.Call(ctx, notesapp.SaveNote.Name(), args); err != nil {
			t.Fatalf("%s: saveNote with priority and email null: %v", url, err)
		}
		row, err := c.Call(ctx, "get_row", map[string]any{"table": "notes", "key": "null-priority"})
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(row), `"priority":"normal"`) {
			t.Errorf("%s: priority sent as null did not take its default (normal): %s", url, row)
		}
		c.Close()
	}
}
