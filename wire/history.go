package wire

import (
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode"
)

// ToolListHistory is the read tool of the audit: which caller committed
// each version, and the rows it changed.
const ToolListHistory = "list_history"

// Page sizes of list_history.
const (
	DefaultHistoryLimit = 100
	MaxHistoryLimit     = 1000
)

// ListHistoryIn is list_history's input.
type ListHistoryIn struct {
	After   uint64 `json:"after,omitempty" jsonschema:"description=the cursor: versions after this one (before it with reverse); pass the previous page's next,minimum=0"`
	Reverse bool   `json:"reverse,omitempty" jsonschema:"description=newest first (after 0: from the newest)"`
	Limit   int    `json:"limit,omitempty" jsonschema:"description=entries per page; 0 means 100,minimum=0,maximum=1000"`
}

// ListHistoryOut is list_history's output: a page of the versions the
// caller may see, and the cursor of the next page.
type ListHistoryOut struct {
	Entries []HistoryEntry `json:"entries" jsonschema:"description=the page's versions in order"`
	Next    uint64         `json:"next,omitempty" jsonschema:"description=pass as after to read the next page; absent when there is none yet (a page may be short or empty and still have one)"`
}

// HistoryEntry is one committed version: when, its cause (who called,
// through which session and tool, or which action run), and the rows it
// changed.
type HistoryEntry struct {
	Version  uint64          `json:"version" jsonschema:"description=the version committed"`
	Time     time.Time       `json:"time" jsonschema:"description=when it was committed"`
	Subject  string          `json:"subject,omitempty" jsonschema:"description=the caller: an access token's subject or the local user; absent for the server's own writes"`
	ClientID string          `json:"clientId,omitempty" jsonschema:"description=the caller's OAuth client"`
	Local    bool            `json:"local,omitempty" jsonschema:"description=a local caller: stdio or the server's static token"`
	Session  string          `json:"session,omitempty" jsonschema:"description=the MCP session the call came through"`
	Tool     string          `json:"tool,omitempty" jsonschema:"description=the tool called"`
	Mutator  string          `json:"mutator,omitempty" jsonschema:"description=the mutator that made the version"`
	Action   string          `json:"action,omitempty" jsonschema:"description=the action whose writes these were"`
	Run      string          `json:"run,omitempty" jsonschema:"description=the action run (or task) that made it; see get_run"`
	Changes  []HistoryChange `json:"changes" jsonschema:"description=the rows it changed that you may see"`
	Hidden   int             `json:"hidden,omitempty" jsonschema:"description=how many other changes it made (to tables you cannot read)"`
}

// HistoryChange is one row a version changed.
type HistoryChange struct {
	Table string `json:"table"`
	Key   string `json:"key" jsonschema:"description=the row's key (its first 256 bytes when cut)"`
	Op    string `json:"op" jsonschema:"enum=put,enum=delete"`
	Cut   bool   `json:"cut,omitempty" jsonschema:"description=the key is longer than shown"`
}

// Line is e as one line of text, as `mcp-sync log` prints it, with any
// name or key that could pass for more of the line quoted (see logText):
//
//	v123 2026-12-06T22:31:02Z alice (client web) tool setTodo: todos/1 put
func (e HistoryEntry) Line() string {
	var b strings.Builder
	fmt.Fprintf(&b, "v%d %s ", e.Version, e.Time.UTC().Format(time.RFC3339))
	switch {
	case e.Subject != "":
		b.WriteString(logText(e.Subject))
	default:
		b.WriteString("server")
	}
	if e.ClientID != "" {
		fmt.Fprintf(&b, " (client %s)", logText(e.ClientID))
	}
	if e.Session != "" {
		s := e.Session
		if len(s) > 8 {
			s = s[:8]
		}
		fmt.Fprintf(&b, " session %s", logText(s))
	}
	if e.Tool != "" {
		fmt.Fprintf(&b, " tool %s", logText(e.Tool))
	}
	if e.Run != "" {
		fmt.Fprintf(&b, " run %s", logText(e.Run))
	}
	if e.Action != "" && e.Action != e.Tool {
		fmt.Fprintf(&b, " (%s)", logText(e.Action))
	}
	if e.Mutator != "" && e.Mutator != e.Tool {
		fmt.Fprintf(&b, " %s", logText(e.Mutator))
	}
	b.WriteString(":")
	for i, c := range e.Changes {
		if i > 0 {
			b.WriteString(",")
		}
		key := logText(c.Key)
		if c.Cut {
			key += "…"
		}
		fmt.Fprintf(&b, " %s/%s %s", logText(c.Table), key, logText(c.Op))
	}
	if e.Hidden > 0 {
		fmt.Fprintf(&b, " (+%d hidden)", e.Hidden)
	}
	if len(e.Changes) == 0 && e.Hidden == 0 {
		b.WriteString(" no change")
	}
	return b.String()
}

// logText is s as Line prints it: quoted (Go syntax) when it holds what
// could pass for more of the line or another line (a space, a comma, a
// quote, a control or unprintable character), since keys are any text a
// caller chose and subjects what a token said; as it is otherwise.
func logText(s string) string {
	if strings.ContainsFunc(s, func(r rune) bool {
		return !unicode.IsPrint(r) || unicode.IsSpace(r) || r == ',' || r == '"' || r == '\\'
	}) {
		return strconv.Quote(s)
	}
	return s
}
