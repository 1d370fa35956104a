// Package tools serves an app's engine as an MCP server, built on
// github.com/mark3labs/mcp-go.
//
// What clients see:
//
//   - Every declared mutator and action is a tool with the declaration's name,
//     description and flat input schema, except internal ones
//     (schema.Internal), which only server code, mutators and actions call.
//     Mutators answer {"version": N}, the version their transaction
//     committed; actions with a struct output answer with structuredContent
//     (and the same JSON as text for older clients), actions with string
//     output answer with text.
//   - Read tools for models: get_row, list_rows (prefix, cursor, limit,
//     reverse), get_run (an enqueued action run's status and output) and
//     list_history (the audit of committed versions).
//     Their inputs and outputs, the hidden sync tools' and the error kinds
//     in a failed call's _meta are declared in package wire, shared with
//     the Go client; their JSON Schemas are generated from wire's structs
//     as an app's are from its declarations, and a call's arguments are
//     checked against the input schema before anything runs.
//   - Resources, readable and subscribable on both protocol eras
//     (resources/subscribe before 2026-07-28, subscriptions/listen from it):
//     mcp-sync://table/{table} (the first page of rows, as list_rows returns
//     it), mcp-sync://table/{table}/{key} (one row; the key path-escaped) and
//     mcp-sync://run/{id} (one action run). A subscriber gets
//     notifications/resources/updated when a committed change touches the
//     URI, and re-reads it. Updates that arrive faster than a client drains
//     them are coalesced per URI: the client may skip intermediate values,
//     never the latest, and a slow client never slows the store. A table or
//     row URI's notification carries its changes in _meta
//     (wire.ChangesMetaKey) while they are few, so a client that knows the
//     format need not re-read.
//   - Progress and logs from actions (ActionCtx.Mutate, Progress, Log) as
//     notifications/progress (when the call carries a progressToken) and
//     notifications/message (honouring the client's log level).
//
// Server-only tables appear nowhere: not in tool schemas, resource lists,
// reads, subscriptions, or error messages (they are reported exactly like
// tables that do not exist). Internal mutators and actions likewise: not
// listed, and a tools/call or _sync_push of one gets what an undeclared
// name gets.
//
// Apps add their own static resources, resource templates and prompts
// through [Options]; they are listed beside the table resources.
package tools
