package wire

import (
	"encoding/json"
	"time"
)

// Names of the read tools: listed in tools/list, for models and programs
// alike. An app may not declare a mutator or action of these names.
const (
	ToolGetRow   = "get_row"
	ToolListRows = "list_rows"
	ToolGetRun   = "get_run"
)

// Page sizes of list_rows. MaxListLimit equals the storage's own bound on a
// scan (storage.MaxScanLimit), which a test in package tools holds it to:
// this package imports nothing of the server, so it keeps its own copy.
const (
	MaxListLimit     = 1000
	DefaultListLimit = 100
)

// The jsonschema tags below are what package tools turns into the tools'
// JSON Schemas (github.com/invopop/jsonschema); get_row's and list_rows's
// table property gets the app's readable tables as its enum there.

// GetRowIn is get_row's input.
type GetRowIn struct {
	Table string `json:"table" jsonschema:"description=the table to read"`
	Key   string `json:"key" jsonschema:"description=the row's key,minLength=1"`
}

// GetRowOut is get_row's output: the row's value if Found, and the store's
// version the read saw.
type GetRowOut struct {
	Table   string          `json:"table" jsonschema:"description=the table read"`
	Key     string          `json:"key" jsonschema:"description=the key read"`
	Found   bool            `json:"found" jsonschema:"description=whether the row exists"`
	Value   json.RawMessage `json:"value,omitempty" jsonschema:"type=object,description=the row; absent when not found"`
	Version uint64          `json:"version" jsonschema:"description=the store's version the read saw"`
}

// ListRowsIn is list_rows's input. A Limit of 0 means [DefaultListLimit];
// more than [MaxListLimit] is refused.
type ListRowsIn struct {
	Table   string `json:"table" jsonschema:"description=the table to read"`
	Prefix  string `json:"prefix,omitempty" jsonschema:"description=only keys that start with this"`
	After   string `json:"after,omitempty" jsonschema:"description=the cursor: start after this key (the previous page's next)"`
	Limit   int    `json:"limit,omitempty" jsonschema:"description=rows per page; 0 means 100,minimum=0,maximum=1000"`
	Reverse bool   `json:"reverse,omitempty" jsonschema:"description=descending key order"`
}

// ListRowsOut is list_rows's output, and the content of a table resource:
// one page of rows in key order, and the cursor of the next page.
type ListRowsOut struct {
	Table   string `json:"table" jsonschema:"description=the table read"`
	Rows    []Row  `json:"rows" jsonschema:"description=the page's rows in key order"`
	Next    string `json:"next,omitempty" jsonschema:"description=pass as after to read the next page; absent on the last"`
	Version uint64 `json:"version" jsonschema:"description=the store's version the read saw"`
}

// Row is one row of a [ListRowsOut]. A row whose stored value is not JSON
// is listed with a null Value and Damaged saying so: one damaged row does
// not hide the rest of its page.
type Row struct {
	Key     string          `json:"key" jsonschema:"description=the row's key"`
	Value   json.RawMessage `json:"value" jsonschema:"oneof_type=object;null,description=the row; null when damaged"`
	Damaged string          `json:"damaged,omitempty" jsonschema:"description=why the row cannot be shown"`
}

// GetRunIn is get_run's input.
type GetRunIn struct {
	ID string `json:"id" jsonschema:"description=the run id,minLength=1"`
}

// RunStatus is where an action run is: "queued" (also between attempts),
// "running", "succeeded" or "failed" (for good; also when cancelled, see
// Run.Cancelled). The server's own names for
// them are backend's RunStatus constants.
type RunStatus string

// Run is get_run's output, and the content of a run resource: an enqueued
// action run's status, attempts, and output or error.
type Run struct {
	ID         string          `json:"id" jsonschema:"description=the run id"`
	Action     string          `json:"action" jsonschema:"description=the action it runs"`
	Input      json.RawMessage `json:"input" jsonschema:"description=the action's input; null when redacted"`
	Status     RunStatus       `json:"status" jsonschema:"enum=queued,enum=running,enum=succeeded,enum=failed"`
	Attempts   int             `json:"attempts" jsonschema:"description=attempts started so far"`
	Output     json.RawMessage `json:"output,omitempty" jsonschema:"description=the action's output once it succeeded"`
	Error      string          `json:"error,omitempty" jsonschema:"description=why the last attempt failed"`
	EnqueuedBy string          `json:"enqueuedBy" jsonschema:"description=the mutator that enqueued it"`
	Version    uint64          `json:"version" jsonschema:"description=the version that enqueued it"`
	EnqueuedAt time.Time       `json:"enqueuedAt"`
	StartedAt  *time.Time      `json:"startedAt,omitempty"`
	FinishedAt *time.Time      `json:"finishedAt,omitempty"`
	// NextAttemptAt is when a failed attempt is retried.
	NextAttemptAt *time.Time `json:"nextAttemptAt,omitempty"`
	// Redacted is set on a run of a sensitive action: its Input and Output
	// are left out.
	Redacted bool `json:"redacted,omitempty" jsonschema:"description=the action is sensitive: input and output are left out"`
	// Task is set on a run started as an MCP task (a tools/call the client
	// follows with tasks/get); its id is the task id, and EnqueuedBy is "".
	Task bool `json:"task,omitempty" jsonschema:"description=started as an MCP task: the run id is the task id"`
	// ErrorKind says how a failed run failed: "handler" (the action's own
	// error) or "internal" (a panic, a bad output, attempts cut off).
	ErrorKind string `json:"errorKind,omitempty" jsonschema:"description=how a failed run failed: handler (the action's own error) or internal"`
	// CancelRequested: the run was asked to stop (tasks/cancel); Cancelled:
	// it ended so (Status is failed).
	CancelRequested bool `json:"cancelRequested,omitempty" jsonschema:"description=the run was asked to stop"`
	Cancelled       bool `json:"cancelled,omitempty" jsonschema:"description=the run ended cancelled (status failed)"`
}

// MutateOut is a mutator tool's output: the version its transaction
// committed and the action runs it enqueued.
type MutateOut struct {
	Version uint64   `json:"version" jsonschema:"description=the version the mutator's transaction committed"`
	Runs    []string `json:"runs,omitempty" jsonschema:"description=ids of the action runs the call enqueued; follow one with get_run"`
}
