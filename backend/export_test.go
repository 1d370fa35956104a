package backend

import "github.com/mcp-sync/mcp-sync/storage"

// StoreOf returns e's store, for tests that must reach past the engine (to
// damage a run record, say); the engine offers no such door.
func StoreOf(e *Engine) *storage.Store { return e.store }
