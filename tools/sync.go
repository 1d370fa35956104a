package tools

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/mcp-sync/mcp-sync/storage"
)

// The sync tools serve the Go client (package client): the change log from a
// version, pushes applied once per (client, seq), and a client's last
// applied push. They are callable by every client but left out of
// tools/list, where they would only distract a model. The protocol is in
// the README ("Sync protocol").
const (
	toolSyncChanges = "_sync_changes"
	toolSyncPush    = "_sync_push"
	toolSyncState   = "_sync_state"
)

// syncToolNames are the hidden tools' names; apps may not declare them.
var syncToolNames = []string{toolSyncChanges, toolSyncPush, toolSyncState}

// SyncChangesIn is _sync_changes's input.
type SyncChangesIn struct {
	Table  string `json:"table"`
	Prefix string `json:"prefix,omitempty"`
	Key    string `json:"key,omitempty"`
	After  uint64 `json:"after"`
	Limit  int    `json:"limit,omitempty"`
}

// SyncChangesOut is _sync_changes's output: the versions after After that
// touched what the input selects, oldest first. With Resync set the log no
// longer reaches back to After: read a snapshot (list_rows/get_row) and go on
// from its version.
type SyncChangesOut struct {
	Events []SyncEvent `json:"events"`
	Resync bool        `json:"resync,omitempty"`
	// Version is the store's version when the read began: with no more
	// events, the reader is up to date as of it.
	Version uint64 `json:"version"`
	// More says a page limit cut the answer short: ask again after the last
	// event's version.
	More bool `json:"more,omitempty"`
}

// SyncEvent is one committed version's changes.
type SyncEvent struct {
	Version uint64       `json:"version"`
	Changes []SyncChange `json:"changes"`
}

// SyncChange is one row written ("put", with its value) or deleted.
type SyncChange struct {
	Key   string          `json:"key"`
	Op    string          `json:"op"`
	Value json.RawMessage `json:"value,omitempty"`
}

// SyncPushIn is _sync_push's input: a mutation a client ran optimistically.
type SyncPushIn struct {
	Client  string          `json:"client"`
	Seq     uint64          `json:"seq"`
	Mutator string          `json:"mutator"`
	Args    json.RawMessage `json:"args"`
}

// SyncPushOut is _sync_push's output.
type SyncPushOut struct {
	Version uint64   `json:"version"`
	Applied bool     `json:"applied"`
	Runs    []string `json:"runs,omitempty"`
}

func (s *Server) addSyncTools() {
	t := mcp.NewToolWithRawSchema(toolSyncChanges, "mcp-sync client protocol: committed changes after a version.",
		json.RawMessage(`{"type":"object","properties":{"table":{"type":"string"},"prefix":{"type":"string"},"key":{"type":"string"},"after":{"type":"integer","minimum":0},"limit":{"type":"integer","minimum":0,"maximum":1000}},"required":["table","after"]}`))
	t.Annotations = hints(true, false, true, false)
	s.mcp.AddTool(t, s.syncChanges)

	t = mcp.NewToolWithRawSchema(toolSyncPush, "mcp-sync client protocol: run a mutator once per (client, seq).",
		json.RawMessage(`{"type":"object","properties":{"client":{"type":"string","minLength":1},"seq":{"type":"integer","minimum":1},"mutator":{"type":"string"},"args":{"type":"object"}},"required":["client","seq","mutator","args"]}`))
	t.Annotations = hints(false, false, true, false)
	s.mcp.AddTool(t, s.syncPush)

	t = mcp.NewToolWithRawSchema(toolSyncState, "mcp-sync client protocol: a client's last applied push.",
		json.RawMessage(`{"type":"object","properties":{"client":{"type":"string","minLength":1}},"required":["client"]}`))
	t.Annotations = hints(true, false, true, false)
	s.mcp.AddTool(t, s.syncState)
}

// hideSyncTools is a tool filter that leaves the sync tools out of listings.
// mcp-go also filters calls, passing only the called tool: a one-tool list
// is a call, and goes through.
func hideSyncTools(_ context.Context, ts []mcp.Tool) []mcp.Tool {
	if len(ts) <= 1 {
		return ts
	}
	out := ts[:0:0]
	for _, t := range ts {
		if !strings.HasPrefix(t.Name, "_sync_") {
			out = append(out, t)
		}
	}
	return out
}

func (s *Server) syncChanges(ctx context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
	var in SyncChangesIn
	if err := decodeArgs(req, &in); err != nil || in.Table == "" {
		return errorWithKind("invalid_input", fmt.Sprintf("invalid arguments for %s: want {table, after, prefix?, key?, limit?}: %v", toolSyncChanges, err)), nil
	}
	if in.Limit <= 0 || in.Limit > 1000 {
		in.Limit = 1000
	}
	out := SyncChangesOut{Events: []SyncEvent{}, Version: s.eng.Version()}
	evs, err := s.eng.ChangesSince(storage.Filter{Table: in.Table, Prefix: in.Prefix, Key: in.Key}, in.After, in.Limit+1)
	switch {
	case errors.Is(err, storage.ErrResync):
		out.Resync = true
		return structured(out)
	case err != nil:
		return errorWithKind("unknown", s.readError(err)), nil
	}
	if len(evs) > in.Limit {
		evs, out.More = evs[:in.Limit], true
	}
	for _, ev := range evs {
		se := SyncEvent{Version: ev.Version, Changes: make([]SyncChange, len(ev.Changes))}
		for i, c := range ev.Changes {
			se.Changes[i] = SyncChange{Key: c.Key, Op: "put", Value: c.Value}
			if c.Op == storage.OpDelete {
				se.Changes[i] = SyncChange{Key: c.Key, Op: "delete"}
			}
		}
		out.Events = append(out.Events, se)
	}
	if n := len(out.Events); n > 0 && out.Events[n-1].Version > out.Version {
		out.Version = out.Events[n-1].Version
	}
	return structured(out)
}

func (s *Server) syncPush(ctx context.Context, req mcp.CallToolRequest) (res *mcp.CallToolResult, err error) {
	ctx, done := s.calls.start(ctx)
	defer done()
	defer s.recoverCall(toolSyncPush, &res)
	var in SyncPushIn
	if err := decodeArgs(req, &in); err != nil {
		return errorWithKind("invalid_input", fmt.Sprintf("invalid arguments for %s: want {client, seq, mutator, args}: %v", toolSyncPush, err)), nil
	}
	if _, ok := s.eng.Schema().Mutator(in.Mutator); !ok {
		return errorWithKind("unknown", fmt.Sprintf("no mutator named %q", in.Mutator)), nil
	}
	p, err := s.eng.MutateOnce(ctx, in.Client, in.Seq, in.Mutator, in.Args)
	if err != nil {
		return s.errorResult(ctx, "mutator", in.Mutator, err), nil
	}
	return structured(SyncPushOut{Version: p.Version, Applied: p.Applied, Runs: p.Runs})
}

func (s *Server) syncState(ctx context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
	var in struct {
		Client string `json:"client"`
	}
	if err := decodeArgs(req, &in); err != nil || in.Client == "" {
		return errorWithKind("invalid_input", fmt.Sprintf("invalid arguments for %s: want {client}", toolSyncState)), nil
	}
	st, err := s.eng.ClientState(in.Client)
	if err != nil {
		return nil, err
	}
	return structured(st)
}
