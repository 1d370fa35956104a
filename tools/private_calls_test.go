package tools_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/mcp"

	"github.com/mcp-sync/mcp-sync/wire"
)

// Calls and checks shared by the private-table tests.

// decodeOut decodes a tool result's structured content into v.
func decodeOut(t testing.TB, res *mcp.CallToolResult, v any) {
	t.Helper()
	b, _ := json.Marshal(res.StructuredContent)
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("decoding %s: %v", b, err)
	}
}

// mustCall calls a tool and fails t on an error result.
func mustCall(t testing.TB, c *client.Client, name string, args any) *mcp.CallToolResult {
	t.Helper()
	res := call(t, c, name, args)
	if res.IsError {
		t.Fatalf("%s %v: %s", name, args, text(res))
	}
	return res
}

// save calls saveNote and returns the runs it enqueued.
func save(t testing.TB, c *client.Client, key, txt string, summarize bool) []string {
	t.Helper()
	var out wire.MutateOut
	decodeOut(t, mustCall(t, c, saveNote.Name(), map[string]any{"key": key, "text": txt, "summarize": summarize}), &out)
	return out.Runs
}

// getNote reads key through get_row.
func getNote(t testing.TB, c *client.Client, key string) (PNote, bool) {
	t.Helper()
	var out wire.GetRowOut
	decodeOut(t, mustCall(t, c, wire.ToolGetRow, map[string]any{"table": "notes", "key": key}), &out)
	var n PNote
	if out.Found {
		if err := json.Unmarshal(out.Value, &n); err != nil {
			t.Fatalf("get_row notes/%s: %v in %s", key, err, out.Value)
		}
	}
	return n, out.Found
}

// listNotes reads every note c's user has through list_rows.
func listNotes(t testing.TB, c *client.Client) map[string]PNote {
	t.Helper()
	all := map[string]PNote{}
	after := ""
	for {
		var out wire.ListRowsOut
		decodeOut(t, mustCall(t, c, wire.ToolListRows, map[string]any{"table": "notes", "after": after, "limit": 1000}), &out)
		for _, r := range out.Rows {
			var n PNote
			if err := json.Unmarshal(r.Value, &n); err != nil {
				t.Fatalf("list_rows notes: row %s: %v in %s", r.Key, err, r.Value)
			}
			all[r.Key] = n
		}
		if out.Next == "" {
			return all
		}
		after = out.Next
	}
}

// waitRun polls get_run until the run is finished and returns it.
func waitRun(t testing.TB, c *client.Client, id string) wire.Run {
	t.Helper()
	var run wire.Run
	if !waitFor(testWait, func() bool {
		res := mustCall(t, c, wire.ToolGetRun, map[string]any{"id": id})
		decodeOut(t, res, &run)
		return run.Status == "succeeded" || run.Status == "failed"
	}) {
		t.Fatalf("run %s not finished after %v: %+v", id, testWait, run)
	}
	return run
}

// readErr reads uri and returns the error's message ("" on success) and the
// text read.
func readErr(c *client.Client, uri string) (string, string) {
	ctx, cancel := context.WithTimeout(context.Background(), testWait)
	defer cancel()
	r, err := c.ReadResource(ctx, mcp.ReadResourceRequest{Params: mcp.ReadResourceParams{URI: uri}})
	if err != nil {
		return err.Error(), ""
	}
	var b strings.Builder
	for _, x := range r.Contents {
		if tc, ok := x.(mcp.TextResourceContents); ok {
			b.WriteString(tc.Text)
		}
	}
	return "", b.String()
}

// sameAsMissing fails t unless got (the answer about another user's key
// or id) is byte for byte want (the answer about one nobody has) once the
// one is written in place of the other.
func sameAsMissing(t testing.TB, what, got, theirs, want, nobodys string) {
	t.Helper()
	if strings.ReplaceAll(got, theirs, nobodys) != want {
		t.Errorf("%s: another user's %q is told apart from a missing %q:\n  theirs:  %s\n  missing: %s", what, theirs, nobodys, got, want)
	}
	if got == "" || want == "" {
		t.Errorf("%s: an empty answer (%q, %q)", what, got, want)
	}
}

// errText is an error's text, or "" for nil.
func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// ownKeys fails t unless every key is among mine.
func ownKeys(t testing.TB, what string, keys []string, mine func(string) bool) {
	t.Helper()
	for _, k := range keys {
		if !mine(k) {
			t.Errorf("%s: key %q, which this user never wrote", what, k)
		}
	}
}
