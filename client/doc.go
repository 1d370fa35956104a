// Package client is the Go client of an mcp-sync server. It speaks MCP only
// (tools, resources, subscriptions), over stdio, SSE or streamable HTTP.
//
//	c, err := client.DialHTTP(ctx, "http://127.0.0.1:8080/mcp", client.Options{Token: token})
//	v, err := client.Mutate(ctx, c, todo.SetTodo, todo.Todo{ID: "1", Text: "milk"})
//	out, err := client.Action(ctx, c, todo.Generate, todo.GenerateInput{ID: "1", Prompt: "…"})
//
// Typed calls take the same declarations the server uses. Errors tell
// invalid input, a handler's error and a transport failure apart
// (errors.Is with [ErrInvalidInput], [ErrHandler], [ErrTransport]).
//
// [Watch] streams a table's, a key prefix's or a row's committed changes,
// in order; after a disconnect it reconnects and resumes from the last
// version it saw, or reports a resync with a fresh snapshot when the
// server's change log no longer reaches back that far.
//
// A [Replica] keeps a local copy of tables and runs the app's own mutator
// code on it first (optimistically: IsServer() false, EnqueueAction a no-op),
// so reads see a change at once, then pushes it to the server, which applies
// each push once. Confirmed server changes rebase the pending local ones; a
// push the server rejects is rolled back and its error returned.
//
// The sync protocol (hidden tools _sync_changes, _sync_push, _sync_state) is
// described in the README.
package client
