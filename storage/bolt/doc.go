// Package bolt is the embedded storage driver: one bbolt file holding the
// app's tables, the global version, the change log and the stored schema
// version. Open it with [Open] and wrap it with storage.New, or use
// [OpenStore]; the engine (backend) opens its default store this way.
//
// Writes are committed in groups: write functions queued while one commits
// run in the next bbolt transaction and share its fsyncs, led by the first
// writer to find nobody committing, so sixteen concurrent writers share a
// commit while a lone writer commits on its own goroutine and never waits
// for company. Each function still commits all or nothing (storage's undo
// log rolls back the writes of one that fails), with its own version.
//
// A value longer than a few KB is stored in segments at fixed offsets, each
// with its own checksum, and a rewrite writes only the segments that
// changed: a streamed answer, rewritten on every chunk, writes about the
// same bytes per chunk however long it has grown, where a value stored
// whole would be rewritten whole (with every page it overflows into).
//
// Damage is reported, never a panic. Open checks the file's structure
// before bbolt reads it (in full after a crash; after a clean Close, which
// saves bbolt's free list so that a restart need not walk the file, only
// what bbolt reads at open) and refuses a damaged or emptied file with
// storage.ErrCorrupt naming the file and the problem; every value and
// change-log record is stored with a CRC-32C, and a read that meets one that
// fails returns a *storage.CorruptError naming the table and key instead of
// the bytes. bbolt's panics and memory-map faults met while serving become
// ErrCorrupt too, after which the driver refuses writes. [Check] runs the
// full check without changing the file. Errors from reads and writes never
// carry the file's path: they may reach clients.
package bolt
