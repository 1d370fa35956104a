// Package postgres is the storage driver for more than one machine: the
// app's tables, the global version and the change log kept in PostgreSQL
// (through pgx), so that several mcp-sync processes — replicas behind a
// load balancer — serve one data set. Open it with [Open] and wrap it with
// storage.New, or use [OpenStore].
//
// Layout. Everything lives in a schema of its own (default "mcp_sync"): a
// meta row (the committed version, the change log's floor, the app's schema
// version), the tables as rows (table, key, value) in one table, and the
// change log, one row per version. Each value and log record carries a
// CRC-32C, so a row damaged or edited by hand is a *storage.CorruptError
// naming its table and key, never served.
//
// Versions. A commit takes the meta row's lock first (SELECT … FOR UPDATE),
// so commits — from this process or any other — are serialised on it: each
// batch's versions follow the last committed one, a reader never sees a
// version before the ones below it, and the log is gapless in commit order.
// Concurrent Updates of one process share one transaction (leader group
// commit, as storage.Driver allows): their writes are kept in memory while
// the functions run (two writes of one key merge into one), then sent as one
// pipelined batch with the log rows, the new version and one pg_notify.
// A function that fails undoes its own writes in memory, so it never sinks
// the others; a batch PostgreSQL refuses is retried one function at a time.
//
// Other processes' commits. OnCommit publishes them too: a listener waits
// on a notification channel (a wake-up only: the payload is a version
// number, never data) and reads the log after the last version published,
// in order; a slow poll covers notifications lost while it reconnects. A
// process that fell behind the log's retention publishes a gap, and its
// subscribers resync.
//
// Outages. The pool reconnects on its own after a server restart. Calls
// made meanwhile fail with an error wrapping storage.ErrUnavailable (retry
// later); errors never carry the DSN or the server's address.
package postgres
