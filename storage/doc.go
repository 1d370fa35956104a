// Package storage is mcp-sync's embedded store: one bbolt file holding the
// app's tables (string key → JSON value), a global version bumped by every
// commit, a change log that subscribers resume from, and the stored schema
// version.
//
// Writes go through [Store.Update]. Queued write functions run in one bbolt
// transaction and one fsync (group commit), led by the first writer to find
// nobody committing, so sixteen concurrent writers share a commit while a
// lone writer commits on its own goroutine and never waits for company. Each function still commits all or nothing: the loop keeps an undo
// log per function and rolls back the writes of one that fails.
//
// Every successful write function gets its own version. Its changes are
// appended to the change log under that version, and live [Subscription]s
// receive them in commit order. A subscriber that falls behind its buffer
// reads the missed versions back from the log; one that falls behind the
// log's retention gets an [Event] with Resync set, and must read a snapshot.
//
// Damage is reported, never a panic. Open checks the file's structure
// before bbolt reads it and refuses a damaged or emptied file with
// ErrCorrupt naming the file and the problem; every value and change-log
// record is stored with a CRC-32C, and a read that meets one that fails
// returns a [*CorruptError] naming the table and key instead of the bytes.
// bbolt's panics and memory-map faults met while serving become ErrCorrupt
// too, after which the store refuses writes. [Check] runs the full check
// without changing the file. Errors from reads and writes never carry the
// file's path: they may reach clients.
//
// storage knows tables and bytes, not mutators or schemas: validation is the
// caller's job.
package storage
