package tools

import (
	"context"
	"fmt"
	"reflect"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/mcp-sync/mcp-sync/backend"
	"github.com/mcp-sync/mcp-sync/wire"
)

// withCall marks ctx as a call of tool through the request's session: the
// audit records both with every write the call makes.
func withCall(ctx context.Context, tool string) context.Context {
	return backend.WithCallInfo(ctx, backend.CallInfo{Session: sessionID(ctx), Tool: tool})
}

// addHistoryTool adds list_history, the audit's read tool.
func (s *Server) addHistoryTool() error {
	return addContractTool(s, contractTool{name: wire.ToolListHistory, hints: hints(true, false, true, false),
		description: fmt.Sprintf("List the history of changes: for each committed version, when, who caused it (subject, OAuth client, session), "+
			"through which tool or action run, and the rows it changed. You see the versions you caused; a caller with the admin scope sees all. "+
			"Oldest first (reverse: newest first), up to limit entries a page (default %d, at most %d); pass the returned next as after for the next page.",
			wire.DefaultHistoryLimit, wire.MaxHistoryLimit),
		out: reflect.TypeFor[wire.ListHistoryOut]()}, s.listHistoryTool)
}

func (s *Server) listHistoryTool(ctx context.Context, in wire.ListHistoryIn) (*mcp.CallToolResult, error) {
	entries, next, err := s.eng.History(ctx, backend.HistoryOptions{After: in.After, Reverse: in.Reverse, Limit: in.Limit})
	if err != nil {
		return s.readErrorResult(err, ""), nil
	}
	out := wire.ListHistoryOut{Entries: make([]wire.HistoryEntry, len(entries)), Next: next}
	for i, e := range entries {
		out.Entries[i] = HistoryOut(e)
	}
	return structured(out)
}

// HistoryOut is an audit entry as list_history shows it.
func HistoryOut(e backend.HistoryEntry) wire.HistoryEntry {
	c := e.Cause
	out := wire.HistoryEntry{Version: e.Version, Time: e.Time, Subject: c.Subject, ClientID: c.ClientID, Local: c.Local,
		Session: c.Session, Tool: c.Tool, Mutator: c.Mutator, Action: c.Action, Run: c.Run,
		Changes: make([]wire.HistoryChange, len(e.Changes)), Hidden: e.Hidden}
	for i, ch := range e.Changes {
		out.Changes[i] = wire.HistoryChange{Table: ch.Table, Key: ch.Key, Op: ch.Op, Cut: ch.Cut}
	}
	return out
}
