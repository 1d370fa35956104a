// Package wire is the contract between an mcp-sync server and its clients:
// the names of the read and sync tools and their inputs and outputs as Go
// structs (package tools generates their JSON Schemas from them, as it does
// for an app's own tools), the kinds a failed call is classified by, the ops
// of a change, the resource URIs, and the _meta keys that carry an error's
// kind and the changes in update notifications.
//
// It is a leaf: it imports nothing of mcp-sync, so that the server (package
// tools) and its Go client (package client) share it as peers. Field names
// and JSON shapes here are what clients in any language see on the wire:
// change them only compatibly.
package wire

import "net/url"

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

// ChangesMetaKey is the _meta key of a notifications/resources/updated for a
// table or row URI that carries the URI's committed changes, so a watcher
// need not ask _sync_changes for them. Its value is a [ChangeNotice] in
// the compact form of [EncodeNotice], as a JSON string: a string passes
// generic JSON decoders (which turn numbers into float64) unchanged, and
// [DecodeNotice] reads it. The key is absent when the changes
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
//
// A row rewritten may come as a patch of its previous value ([OpPatch]):
// a streamed answer's row then travels as its appended text. A watcher
// applies it to the row's value as of the patch's Base, which it holds from
// an earlier notice or its own reads; one that does not hold it asks
// _sync_changes, which gives whole values.
//
// It has no JSON form of its own: [EncodeNotice] writes it for a URI.
type ChangeNotice struct {
	After   uint64
	Version uint64
	Events  []SyncEvent
}
