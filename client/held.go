package client

import (
	"encoding/json"
	"fmt"

	"github.com/mcp-sync/mcp-sync/wire"
)

// held is the JSON of rows a watcher received lately, each true as of a
// version, so that a notice's patch of a row (wire.OpPatch) can be applied
// to it. Every entry is a fact about the row whatever happened since, so a
// stale one is harmless: a patch applies only to the value it was made
// against, and otherwise the watcher asks for the changes.
//
// Two generations bound it: a row received again while the current one
// fills is kept, so a streamed row keeps its value while others pass by.
type held struct {
	cur, old map[string]heldRow
	bytes    int
}

// heldRow is a row's JSON as of version. With exact set, version is the
// change that wrote it; otherwise (a snapshot) it is the version the value
// was read at, and the row last changed at or before it.
type heldRow struct {
	version uint64
	exact   bool
	value   json.RawMessage
}

// Bounds of one generation of held rows.
const (
	maxHeldRows  = 1024
	maxHeldBytes = 2 << 20
)

func (h *held) put(key string, r heldRow) {
	if h.cur == nil || len(h.cur) >= maxHeldRows || h.bytes+len(r.value) > maxHeldBytes {
		h.old, h.cur, h.bytes = h.cur, make(map[string]heldRow), 0
	}
	if was, ok := h.cur[key]; ok {
		h.bytes -= len(was.value)
	}
	h.cur[key] = r
	h.bytes += len(r.value)
}

func (h *held) forget(key string) {
	if was, ok := h.cur[key]; ok {
		h.bytes -= len(was.value)
		delete(h.cur, key)
	}
	delete(h.old, key)
}

// patched applies change c of version v (a wire.OpPatch) to the row's held
// value and holds the result. A row not held as of c.Base is an error: the
// watcher then reads the changes instead.
func (h *held) patched(v uint64, c wire.SyncChange) (json.RawMessage, error) {
	r, ok := h.cur[c.Key]
	if !ok {
		r, ok = h.old[c.Key]
	}
	// The row last changed at c.Base before v: a value written then, or read
	// at or after it and before v, is the one the patch edits.
	if !ok || (r.exact && r.version != c.Base) || (!r.exact && (r.version < c.Base || r.version >= v)) {
		return nil, fmt.Errorf("row %s: a patch of its value at version %d, which this watcher does not hold", c.Key, c.Base)
	}
	value, err := wire.ApplyPatch(r.value, c.Append, c.Merge)
	if err != nil {
		return nil, fmt.Errorf("row %s: %w", c.Key, err)
	}
	h.put(c.Key, heldRow{version: v, exact: true, value: value})
	return value, nil
}
