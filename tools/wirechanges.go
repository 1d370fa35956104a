package tools

import (
	"github.com/mcp-sync/mcp-sync/backend"
	"github.com/mcp-sync/mcp-sync/wire"
)

// syncChanges converts an event's changes to their wire form, the one
// conversion behind _sync_changes and the changes a resource notification
// carries. Values are shared, not copied.
func syncChanges(cs []backend.Change) []wire.SyncChange {
	out := make([]wire.SyncChange, len(cs))
	for i, c := range cs {
		out[i] = wire.SyncChange{Key: c.Key, Op: wire.OpPut, Value: c.Value}
		if c.Op == backend.OpDelete {
			out[i] = wire.SyncChange{Key: c.Key, Op: wire.OpDelete}
		}
	}
	return out
}
