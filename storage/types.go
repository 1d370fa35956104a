package storage

import (
	"fmt"
	"strings"
)

// Op is what a change did to its row.
type Op uint8

// The operations a change records.
const (
	OpPut    Op = 1
	OpDelete Op = 2
)

// String returns "put" or "delete".
func (o Op) String() string {
	switch o {
	case OpPut:
		return "put"
	case OpDelete:
		return "delete"
	}
	return fmt.Sprintf("op(%d)", uint8(o))
}

// Change is one row written or deleted. Value is nil for a delete.
type Change struct {
	Table string
	Key   string
	Op    Op
	Value []byte
}

// Event is what one committed version changed (filtered for a
// subscription). With Resync set, Changes is empty and Version is the
// store's version when the subscriber fell behind: read a snapshot, then
// skip events at or below the snapshot's version.
type Event struct {
	Version uint64
	Changes []Change
	Resync  bool
}

// KV is one row: its key and its stored bytes.
type KV struct {
	Key   string
	Value []byte
}

// ScanOptions select a page of a table, in key order.
type ScanOptions struct {
	// Prefix keeps keys that start with it.
	Prefix string
	// After starts the page after this key (exclusive): pass the previous
	// page's next cursor. In reverse, the page starts before it.
	After string
	// Limit is the page size: 0 means 100; more than 1000 means 1000.
	Limit int
	// Reverse walks keys from last to first.
	Reverse bool
}

// Scan limits.
const (
	DefaultScanLimit = 100
	MaxScanLimit     = 1000
)

// MaxKeySize is the longest key in bytes (bbolt's limit): every driver
// stores keys up to this size.
const MaxKeySize = 32768

// Filter selects changes: a table (required), and within it a key prefix or
// one key.
type Filter struct {
	Table  string
	Prefix string
	Key    string
}

func (f Filter) match(c *Change) bool {
	if c.Table != f.Table {
		return false
	}
	if f.Key != "" {
		return c.Key == f.Key
	}
	return strings.HasPrefix(c.Key, f.Prefix)
}

// apply returns ev with only the changes f selects, and whether any remain.
func (f Filter) apply(ev Event) (Event, bool) {
	n := 0
	for i := range ev.Changes {
		if f.match(&ev.Changes[i]) {
			n++
		}
	}
	if n == 0 {
		return Event{}, false
	}
	if n == len(ev.Changes) {
		return ev, true
	}
	out := Event{Version: ev.Version, Changes: make([]Change, 0, n)}
	for _, c := range ev.Changes {
		if f.match(&c) {
			out.Changes = append(out.Changes, c)
		}
	}
	return out, true
}
