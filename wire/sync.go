package wire

import "encoding/json"

// Names of the sync tools, which serve the Go client's watches and replica:
// callable by any client, left out of tools/list (where they would only
// distract a model). SyncToolPrefix begins each of them.
const (
	ToolSyncChanges = "_sync_changes"
	ToolSyncPush    = "_sync_push"
	ToolSyncState   = "_sync_state"
	SyncToolPrefix  = "_sync_"
)

// Op says what a change did to a row.
type Op string

// The ops of a [SyncChange].
const (
	OpPut    Op = "put"
	OpDelete Op = "delete"
	// OpPatch is a row rewritten, given as edits of its value at version
	// Base (see [MakePatch]). Only update notifications carry it, and only
	// where the previous value went out before (in a notice, or as the
	// row's value when the notice stream began); _sync_changes always gives
	// whole values.
	OpPatch Op = "patch"
)

// MaxChangesLimit is the most events one _sync_changes answer holds; a
// Limit of 0 or more asks for this many.
const MaxChangesLimit = 1000

// SyncChangesIn is _sync_changes's input: what to read (a table, narrowed to
// a key prefix or one key) and the version to read after.
type SyncChangesIn struct {
	Table  string `json:"table" jsonschema:"description=the table to read the changes of,minLength=1"`
	Prefix string `json:"prefix,omitempty" jsonschema:"description=only keys that start with this"`
	Key    string `json:"key,omitempty" jsonschema:"description=only this key"`
	After  uint64 `json:"after" jsonschema:"description=read the versions after this one,minimum=0"`
	Limit  int    `json:"limit,omitempty" jsonschema:"description=events per answer; 0 means 1000,minimum=0,maximum=1000"`
}

// SyncChangesOut is _sync_changes's output: the versions after After that
// touched what the input selects, oldest first. With Resync set the log no
// longer reaches back to After: read a snapshot (list_rows/get_row) and go on
// from its version.
type SyncChangesOut struct {
	Events []SyncEvent `json:"events" jsonschema:"description=the versions that touched what the input selects, oldest first"`
	Resync bool        `json:"resync,omitempty" jsonschema:"description=the log no longer reaches back to after: read a snapshot"`
	// Version is the store's version when the read began: with no more
	// events, the reader is up to date as of it.
	Version uint64 `json:"version" jsonschema:"description=the store's version when the read began"`
	// More says a page limit cut the answer short: ask again after the last
	// event's version.
	More bool `json:"more,omitempty" jsonschema:"description=a limit cut the answer short: ask again after the last event's version"`
}

// SyncEvent is one committed version's changes.
type SyncEvent struct {
	Version uint64       `json:"version"`
	Changes []SyncChange `json:"changes"`
}

// SyncChange is one row written ([OpPut], with its value), deleted
// ([OpDelete]) or rewritten as edits of its previous value ([OpPatch], in
// update notifications only).
type SyncChange struct {
	Key   string          `json:"key"`
	Op    Op              `json:"op" jsonschema:"enum=put,enum=delete,enum=patch"`
	Value json.RawMessage `json:"value,omitempty" jsonschema:"type=object,description=the row written; absent on delete and patch"`
	// Base, Append and Merge make up a patch: the version whose value of
	// the row (the row's previous change) it edits, strings appended to its
	// string members, and a JSON merge patch applied after them. A client
	// that does not hold the row as of Base cannot apply it: it reads the
	// changes with _sync_changes instead.
	Base   uint64          `json:"base,omitempty" jsonschema:"description=patch: the version of the row's value it edits"`
	Append json.RawMessage `json:"append,omitempty" jsonschema:"type=object,description=patch: strings appended to the row's string members; an object shaped like the row"`
	Merge  json.RawMessage `json:"merge,omitempty" jsonschema:"type=object,description=patch: a JSON merge patch (RFC 7396) applied after append"`
}

// SyncPushIn is _sync_push's input: a mutation a client ran optimistically,
// applied once per (Client, Seq).
type SyncPushIn struct {
	Client  string          `json:"client" jsonschema:"description=the client's id,minLength=1"`
	Seq     uint64          `json:"seq" jsonschema:"description=the client's mutation number: increasing per client from 1; one at or below the last applied is not applied again,minimum=1"`
	Mutator string          `json:"mutator" jsonschema:"description=the mutator to run"`
	Args    json.RawMessage `json:"args" jsonschema:"type=object,description=the mutator's input"`
}

// SyncPushOut is _sync_push's output. Applied is false for a push applied
// before (a retry): Version is then the version of the client's last
// applied push.
type SyncPushOut struct {
	Version uint64   `json:"version" jsonschema:"description=the version the mutation committed as"`
	Applied bool     `json:"applied" jsonschema:"description=false when the push was applied before"`
	Runs    []string `json:"runs,omitempty" jsonschema:"description=ids of the action runs it enqueued"`
}

// SyncStateIn is _sync_state's input.
type SyncStateIn struct {
	Client string `json:"client" jsonschema:"description=the client's id,minLength=1"`
}

// SyncStateOut is _sync_state's output: the client's last applied push
// (all zero when none was).
type SyncStateOut struct {
	Seq     uint64 `json:"seq" jsonschema:"description=the last applied push's seq"`
	Version uint64 `json:"version" jsonschema:"description=the version it committed as"`
	At      int64  `json:"at" jsonschema:"description=when, in Unix seconds"`
}
