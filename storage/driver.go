package storage

import (
	"context"
	"errors"
)

// Driver is a storage back end: where rows, the version and the change log
// are kept. A [Store] wraps one (see [New]) and adds what every back end
// shares: table and key checks, change recording, the undo log behind
// [WriteTx.Try], and the subscription fan-out. The embedded default is the
// bbolt driver in storage/bolt; the suite in storage/storagetest checks that
// a driver keeps the contract below.
//
// Versions. Every write function that succeeds commits as the next version:
// the first is 1, and each is one more than the last, with no gaps and no
// repeats, also across a restart of a durable driver. A function that fails
// takes no version.
//
// A driver is used only through a Store, which calls OnCommit once, before
// any other method. Its methods must be safe for concurrent use.
type Driver interface {
	// Path names where the data is kept, for the operator's messages: a
	// file's path, a database's name; never credentials.
	Path() string
	// Tables returns the tables the driver was opened with. A Store refuses
	// any other table before calling the driver, so a driver's transactions
	// are only ever asked about these.
	Tables() []string
	// Version returns the last committed version (0 for a new store).
	Version() uint64
	// OnCommit sets the function told of every commit, from the commit's
	// own goroutine: with the last version it committed and, in version
	// order, the events of the versions that changed something. Calls come
	// one at a time, in commit order, after the commit is durable and
	// visible to View, and before any Update of the commit returns: a
	// Store's subscriptions rely on all four.
	//
	// A driver that learns of commits it cannot list (another process's,
	// read after the change log was trimmed past them) passes one event
	// with Resync set instead: live subscriptions then read what they
	// missed from the log, and resync if it is gone.
	OnCommit(publish func(version uint64, events []Event))
	// View runs fn in a read transaction: a consistent snapshot at one
	// version. A panic of fn's own passes through View unchanged. After
	// Close it returns ErrClosed.
	View(fn func(tx DriverReadTx) error) error
	// Update runs fn in a write transaction whose Version is the version
	// it commits as, and returns that version once committed. A driver may
	// run the functions of concurrent Updates in one underlying transaction
	// (group commit), each with its own version, in order.
	//
	// fn returns the changes it made, which the driver records in its change
	// log under fn's version in that same transaction and then publishes.
	// When fn fails it has already undone its own writes: the driver commits
	// the others without it, takes no version for it, and returns fn's
	// error. When fn's error wraps ErrUndoFailed, or the commit itself
	// fails, nothing of the transaction may be committed: every Update
	// sharing it fails, a failed commit with an error wrapping ErrCommit.
	//
	// ctx is the caller's. The Store's fn returns ctx's error, writing
	// nothing, when ctx is done before fn runs, so a driver need not check
	// it; one that may stop waiting with it must still report truly whether
	// fn committed.
	//
	// Update fails with ErrClosed once Close has begun. Writes queued
	// before Close commit.
	Update(ctx context.Context, fn func(tx DriverWriteTx) ([]Change, error)) (uint64, error)
	// Close commits the writes already queued, then releases the data.
	Close() error
}

// DriverReadTx is a driver's read transaction. It is used by one goroutine
// and must not be used after the function it was given to returns.
type DriverReadTx interface {
	// Version returns the version the transaction sees (a write
	// transaction: the version it commits as).
	Version() uint64
	// Get returns a copy of the value stored under key, and whether there
	// is one. A stored value that fails its check is a [*CorruptError].
	Get(table, key string) ([]byte, bool, error)
	// Scan returns a page of o.Limit rows or fewer (o.Limit is between 1
	// and MaxScanLimit), in key order (reversed with o.Reverse), of keys
	// with o.Prefix after o.After, and the key to pass as After for the next
	// page ("" when this page is the last). Values are copies.
	Scan(table string, o ScanOptions) ([]KV, string, error)
	// ReadLog calls visit with the changes of each version in (after, upto]
	// that changed something, in version order, until visit returns false.
	// It fails with an error wrapping ErrResync when the change log no
	// longer holds every version after after, checked so that a trim racing
	// the read cannot go unnoticed; visit may already have been called.
	// The changes are the caller's to keep.
	ReadLog(after, upto uint64, visit func(version uint64, changes []Change) bool) error
	// ReadAudit calls visit with the audit record of each version after
	// from, in version order, until visit returns false; with reverse, of
	// each version before from (0: every version), newest first. Versions
	// whose record was trimmed, or that have none, are skipped. A record
	// that fails its check is a [*CorruptError] (Table [AuditLabel]). The
	// bytes are valid only during the call.
	ReadAudit(from uint64, reverse bool, visit func(version uint64, record []byte) bool) error
}

// DriverWriteTx is a driver's write transaction for one write function.
// It sees its own writes. Its Put and Delete are undone by Restore, with
// what Raw returned before them.
type DriverWriteTx interface {
	DriverReadTx
	// Put stores value under key and returns the bytes a Change records for
	// it: equal to value, never changed afterwards, the caller's to keep
	// (the bbolt driver returns part of what it stores, saving a copy).
	Put(table, key string, value []byte) ([]byte, error)
	// Delete removes key and reports whether it was there.
	Delete(table, key string) (bool, error)
	// Raw returns key's value as stored, unchecked (a damaged row can still
	// be rewritten and its write undone), as a copy for Restore.
	Raw(table, key string) (raw []byte, found bool, err error)
	// Restore puts back what Raw returned: raw if found, else no row.
	Restore(table, key string, raw []byte, found bool) error
	// Audit sets the audit record of this function's version (see
	// [AuditEntry]), which the driver stores under the version in the same
	// transaction, with a check, if the function succeeds. A Store calls it
	// at most once, as the function's last step; the record is the
	// driver's to keep. Records are kept for a retention of the driver's.
	Audit(record []byte)
}

// ErrUndoFailed marks the error of a write function whose writes could not
// be undone: the transaction it shares with others is unsafe to commit.
var ErrUndoFailed = errors.New("storage: a failed write function's writes could not be undone")

// Shared is implemented by a Driver whose data other processes may use at
// the same time (the PostgreSQL driver: replicas behind a balancer). A
// run left unfinished in such a store may belong to a live process, so the
// engine leases runs to the process running them rather than taking over
// every unfinished run when it opens.
type Shared interface {
	Driver
	// Shared reports whether other processes may use the data at once.
	Shared() bool
}
