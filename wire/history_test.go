package wire

import (
	"strings"
	"testing"
	"time"
)

// TestHistoryLineQuotesWhatCallersChose: the subject, client, session, tool
// and keys in a log line are the callers' (a token's claims, a client's
// keys); one holding a control character (a newline forging a line of its
// own, a terminal escape) or the line's own separators is printed quoted,
// so every line is one version and says only what happened.
func TestHistoryLineQuotesWhatCallersChose(t *testing.T) {
	e := HistoryEntry{Version: 7, Time: time.Unix(0, 0), Subject: "mallory\x1b]0;pwned\x07", ClientID: "web\r",
		Tool: "setTodo", Changes: []HistoryChange{
			{Table: "todos", Key: "1 put\nv8 1970-01-01T00:00:00Z root tool setTodo: todos/2", Op: "put"},
			{Table: "todos", Key: "x put, todos/y", Op: "put"},
			{Table: "todos", Key: "plain-key_1", Op: "delete"},
		}}
	line := e.Line()
	if strings.ContainsAny(line, "\n\r\x1b\x07") {
		t.Errorf("the line holds a control character: %q", line)
	}
	for _, want := range []string{`"mallory\x1b]0;pwned\a"`, `(client "web\r")`, `todos/"1 put\nv8`, `todos/"x put, todos/y" put`, "todos/plain-key_1 delete"} {
		if !strings.Contains(line, want) {
			t.Errorf("the line %q lacks %q", line, want)
		}
	}
}
