package wire

import (
	"strings"
	"testing"
	"time"
)

// TestHistoryLineCannotBeForged: a key is any text a caller chose, and a
// subject or client id is what a token said; `mcp-sync log` prints one
// line a version, so none of them may print a line break, a terminal
// escape, or text that reads as another change of the same line. Plain
// names print as they are.
func TestHistoryLineCannotBeForged(t *testing.T) {
	at := time.Date(2026, 12, 6, 22, 31, 2, 0, time.UTC)
	plain := HistoryEntry{Version: 7, Time: at, Subject: "alice", ClientID: "web", Tool: "setTodo",
		Changes: []HistoryChange{{Table: "todos", Key: "1", Op: "put"}}}
	if got, want := plain.Line(), "v7 2026-12-06T22:31:02Z alice (client web) tool setTodo: todos/1 put"; got != want {
		t.Fatalf("Line() = %q, want %q", got, want)
	}
	forged := HistoryEntry{Version: 8, Time: at, Subject: "eve\x1b[2K\rroot", ClientID: "a\nb",
		Changes: []HistoryChange{{Table: "todos", Key: "x put\nv9 2026-12-06T22:31:02Z root tool wipe: todos/y delete", Op: "put"},
			{Table: "todos", Key: "k put, todos/z", Op: "delete"}}}
	line := forged.Line()
	if strings.ContainsAny(line, "\n\r\x1b") {
		t.Fatalf("Line() printed a control character: %q", line)
	}
	if strings.Contains(line, "todos/k put, todos/z delete") {
		t.Fatalf("Line() printed a key that reads as two changes: %q", line)
	}
	for _, want := range []string{`"eve\x1b[2K\rroot"`, `(client "a\nb")`, `todos/"k put, todos/z" delete`} {
		if !strings.Contains(line, want) {
			t.Fatalf("Line() = %q, want it to hold %s", line, want)
		}
	}
}
