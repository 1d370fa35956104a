// Package storage is mcp-sync's store, behind a driver interface: tables
// (string key → bytes, JSON to the engine), a global version bumped by every
// commit, a change log that subscribers resume from, and subscriptions.
//
// A [Store] wraps a [Driver] (database/sql is the model): the driver keeps
// the data, commits and the change log; the Store adds what every driver
// shares. It refuses undeclared tables and bad keys, records each write
// function's changes, keeps the undo log that makes each function (and each
// [WriteTx.Try] step) all or nothing inside a commit it may share with other
// callers' functions, and fans committed changes out to subscriptions. The
// embedded default driver is bbolt's, in storage/bolt; storage/postgres
// keeps the data in PostgreSQL, shared by several processes. A driver
// proves itself against the suite in storage/storagetest.
//
// Every successful write function gets its own version. Its changes are
// appended to the change log under that version, and live [Subscription]s
// receive them in commit order. A subscriber that falls behind its buffer
// reads the missed versions back from the log; one that falls behind the
// log's retention gets an [Event] with Resync set, and must read a snapshot.
//
// A write whose context carries a cause ([WithCause]) also gets an audit
// record under its version, in the same commit: the cause, the time and the
// rows it changed, kept for a retention of the driver's and read with
// [Store.Audit].
//
// Damage is reported, never a panic: a stored value that fails its check is
// a [*CorruptError] naming the table and key, and a damaged store fails
// with ErrCorrupt. Errors from reads and writes never carry a file's path:
// they may reach clients.
//
// storage knows tables and bytes, not mutators or schemas: validation is the
// caller's job.
package storage
