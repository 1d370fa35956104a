// Package wire is the contract between an mcp-sync server and its
// programmatic clients beyond plain MCP: the resource URIs, the input and
// output of the sync tools, and the _meta keys that classify a failed call
// and carry changes in update notifications.
// It imports nothing of the server, so clients (package client) depend on it
// alone.
package wire

import (
	"encoding/json"
	"net/url"
)

// URI prefixes of the resources a server serves.
const (
	TablePrefix = "mcp-sync://table/"
	RunPrefix   = "mcp-sync://run/"
)

// TableURI is the resource URI of a table (its first page of rows).
func TableURI(table string) string { return TablePrefix + table }

// RowURI is the resource URI of one row. The key is path-escaped, so keys
// holding '/' or other reserved characters round-trip.
func RowURI(table, key string) string { return TablePrefix + table + "/" + url.PathEscape(key) }

// RunURI is the resource URI of an enqueued action run.
func RunURI(id string) string { return RunPrefix + url.PathEscape(id) }

// ErrorMetaKey is the _meta key of a failed call's result that says what
// kind of failure it was, for programs that must tell them apart:
// {"kind": "invalid_input" | "handler" | "invalid_output" | "unknown" |
// "unavailable" | "cancelled" | "internal" | "busy" | "damaged"}. "internal"
// messages carry only a reference id the server log holds the detail under;
// "busy" means every action slot and the wait queue were taken: retry
// shortly; "damaged" names a stored row that failed its checksum.
const ErrorMetaKey = "io.github.mcp-sync/error"

// ChangesMetaKey is the _meta key of a notifications/resources/updated for a
// table or row URI that carries the URI's committed changes, so a watcher
// need not ask _sync_changes for them. Its value is a [ChangeNotice]
// encoded as a JSON string: a string passes generic JSON decoders (which
// turn numbers into float64) unchanged. The key is absent when the changes
// are too large to carry, or not known exactly (the server fell behind):
// then ask _sync_changes.
//
// A server sends it only to clients that declare the experimental
// capability of the same name (capabilities.experimental, at initialize
// before 2026-07-28, on the subscriptions/listen request from it); others
// get the plain notification, which they would otherwise carry for nothing.
const ChangesMetaKey = "io.github.mcp-sync/changes"

// ChangeNotice is what a notification's [ChangesMetaKey] carries: every
// change to the URI's rows (the table's, or the one row's) with a version
// after After, up to Version, oldest first. A watcher that has read up to a
// version v with After ≤ v < Version applies the events after v and has
// then read up to Version; otherwise (After > v) it missed something and
// asks _sync_changes.
type ChangeNotice struct {
	After   uint64      `json:"after"`
	Version uint64      `json:"version"`
	Events  []SyncEvent `json:"events"`
}

// Names of the sync tools: callable by any client, left out of tools/list.
const (
	ToolSyncChanges = "_sync_changes"
	ToolSyncPush    = "_sync_push"
	ToolSyncState   = "_sync_state"
)

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
