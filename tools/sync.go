package tools

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/mcp-sync/mcp-sync/backend"
	"github.com/mcp-sync/mcp-sync/tools/wire"
)

// The sync tools serve the Go client (package client): the change log from a
// version, pushes applied once per (client, seq), and a client's last
// applied push. They are callable by every client but left out of
// tools/list, where they would only distract a model. The protocol is in
// the README ("Sync protocol").
const (
	toolSyncChanges = wire.ToolSyncChanges
	toolSyncPush    = wire.ToolSyncPush
	toolSyncState   = wire.ToolSyncState
)

// syncToolNames are the hidden tools' names; apps may not declare them.
var syncToolNames = []string{toolSyncChanges, toolSyncPush, toolSyncState}

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
	var in wire.SyncChangesIn
	if err := decodeArgs(req, &in); err != nil || in.Table == "" {
		return errorWithKind("invalid_input", fmt.Sprintf("invalid arguments for %s: want {table, after, prefix?, key?, limit?} with a table (%v)", toolSyncChanges, err)), nil
	}
	if in.Limit <= 0 || in.Limit > 1000 {
		in.Limit = 1000
	}
	out := wire.SyncChangesOut{Events: []wire.SyncEvent{}, Version: s.eng.Version()}
	evs, err := s.eng.ChangesSince(ctx, backend.Filter{Table: in.Table, Prefix: in.Prefix, Key: in.Key}, in.After, in.Limit+1)
	switch {
	case errors.Is(err, backend.ErrResync):
		out.Resync = true
		return structured(out)
	case err != nil:
		return s.readErrorResult(err, in.Table), nil
	}
	if len(evs) > in.Limit {
		evs, out.More = evs[:in.Limit], true
	}
	for _, ev := range evs {
		out.Events = append(out.Events, wire.SyncEvent{Version: ev.Version, Changes: syncChanges(ev.Changes)})
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
	var in wire.SyncPushIn
	if err := decodeArgs(req, &in); err != nil {
		return errorWithKind("invalid_input", fmt.Sprintf("invalid arguments for %s: want {client, seq, mutator, args}: %v", toolSyncPush, err)), nil
	}
	if _, ok := s.eng.Schema().Mutator(in.Mutator); !ok {
		return errorWithKind("unknown", "no mutator named "+backend.Short(in.Mutator)), nil
	}
	m, err := s.eng.Mutate(ctx, in.Mutator, in.Args, backend.Once(in.Client, in.Seq))
	if err != nil {
		return s.errorResult(ctx, "mutator", in.Mutator, err), nil
	}
	return structured(wire.SyncPushOut{Version: m.Version, Applied: !m.Duplicate, Runs: m.Runs})
}

func (s *Server) syncState(ctx context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
	var in struct {
		Client string `json:"client"`
	}
	if err := decodeArgs(req, &in); err != nil || in.Client == "" {
		return errorWithKind("invalid_input", fmt.Sprintf("invalid arguments for %s: want {client}", toolSyncState)), nil
	}
	st, err := s.eng.ClientState(ctx, in.Client)
	if err != nil {
		return s.errorResult(ctx, "tool", toolSyncState, err), nil
	}
	return structured(st)
}
