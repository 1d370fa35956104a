package tools

import (
	"context"
	"errors"
	"reflect"
	"strings"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/mcp-sync/mcp-sync/backend"
	"github.com/mcp-sync/mcp-sync/wire"
)

// The sync tools serve the Go client (package client): the change log from a
// version, pushes applied once per (client, seq), and a client's last
// applied push. They are callable by every client but left out of
// tools/list, where they would only distract a model. The protocol is in
// the README ("Sync protocol").

func (s *Server) addSyncTools() error {
	if err := addContractTool(s, contractTool{name: wire.ToolSyncChanges, hints: hints(true, false, true, false),
		description: "mcp-sync client protocol: committed changes after a version.",
		out:         reflect.TypeFor[wire.SyncChangesOut]()}, s.syncChanges); err != nil {
		return err
	}
	if err := addContractTool(s, contractTool{name: wire.ToolSyncPush, hints: hints(false, false, true, false),
		description: "mcp-sync client protocol: run a mutator once per (client, seq).",
		out:         reflect.TypeFor[wire.SyncPushOut]()}, s.syncPush); err != nil {
		return err
	}
	return addContractTool(s, contractTool{name: wire.ToolSyncState, hints: hints(true, false, true, false),
		description: "mcp-sync client protocol: a client's last applied push.",
		out:         reflect.TypeFor[wire.SyncStateOut]()}, s.syncState)
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
		if !strings.HasPrefix(t.Name, wire.SyncToolPrefix) {
			out = append(out, t)
		}
	}
	return out
}

func (s *Server) syncChanges(ctx context.Context, in wire.SyncChangesIn) (*mcp.CallToolResult, error) {
	if in.Limit == 0 {
		in.Limit = wire.MaxChangesLimit
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

func (s *Server) syncPush(ctx context.Context, in wire.SyncPushIn) (res *mcp.CallToolResult, err error) {
	ctx, done := s.calls.start(withCall(ctx, wire.ToolSyncPush))
	defer done()
	defer s.recoverCall(wire.ToolSyncPush, &res)
	if m, ok := s.eng.Schema().Mutator(in.Mutator); !ok || m.Internal {
		return errorWithKind(wire.KindUnknown, "no mutator named "+backend.Short(in.Mutator)), nil
	}
	m, err := s.eng.Mutate(ctx, in.Mutator, in.Args, backend.Once(in.Client, in.Seq))
	if err != nil {
		return s.errorResult(ctx, "mutator", in.Mutator, err), nil
	}
	return structured(wire.SyncPushOut{Version: m.Version, Applied: !m.Duplicate, Runs: m.ClientRuns()})
}

func (s *Server) syncState(ctx context.Context, in wire.SyncStateIn) (*mcp.CallToolResult, error) {
	st, err := s.eng.ClientState(ctx, in.Client)
	if err != nil {
		return s.errorResult(ctx, "tool", wire.ToolSyncState, err), nil
	}
	return structured(wire.SyncStateOut{Seq: st.Seq, Version: st.Version, At: st.At})
}
