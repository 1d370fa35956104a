package storage

import (
	"errors"
	"fmt"
	"strings"
)

// Errors callers can test with errors.Is. The errors returned wrap them with
// the table, file or version concerned.
var (
	// ErrNoTable: the table was not declared when the store was opened.
	ErrNoTable = errors.New("no such table")
	// ErrResync: the versions asked for were trimmed from the change log; read
	// a snapshot instead.
	ErrResync = errors.New("change log trimmed past the requested version: read a snapshot")
	// ErrClosed: the store or subscription is closed.
	ErrClosed = errors.New("storage closed")
	// ErrLocked: another process holds the data file (drivers that keep
	// their data in a file a process locks).
	ErrLocked = errors.New("data file locked by another process")
	// ErrSchemaTooNew: the file was written by a newer schema version.
	ErrSchemaTooNew = errors.New("data file written by a newer schema version")
	// ErrCorrupt: the data file is damaged. From Open and Check the error
	// names the file and what is wrong; from reads it is a [*CorruptError]
	// naming the table and key (never the file's path, which a client must
	// not see). After damage to the file's structure (not to one row's
	// value) the store refuses every further write.
	ErrCorrupt = errors.New("data file damaged")
	// ErrCommit: a commit failed in the store itself (disk full, an I/O
	// error, damage), not in a caller's function: nothing of it was written.
	// Its text names no file; the system's error (say syscall.ENOSPC) stays
	// in the chain for errors.Is.
	ErrCommit = errors.New("commit failed")
	// ErrUnavailable: the database server cannot be reached right now (a
	// driver over a network, during a restart or an outage). The call did
	// nothing, or, when its error also wraps ErrCommit and says so, may have
	// committed; retrying later is safe for an idempotent call.
	ErrUnavailable = errors.New("database unavailable")
)

// CorruptError is a stored row or change-log record that failed its
// checksum or could not be decoded. It matches ErrCorrupt with errors.Is.
type CorruptError struct {
	// Table is the table holding the row ("" for a change-log record).
	Table string
	// Key is the row's key (for a change-log record, its version).
	Key string
	// Problem says what is wrong, e.g. "checksum mismatch".
	Problem string
}

// Error names the row and the problem, quoting at most a short prefix of the
// key.
func (e *CorruptError) Error() string {
	if e.Table == AuditLabel {
		return fmt.Sprintf("storage: the audit record of version %s is damaged (%s): run `mcp-sync check` on the data file", e.Key, e.Problem)
	}
	if e.Table == "" {
		return fmt.Sprintf("storage: change log record %s is damaged (%s): run `mcp-sync check` on the data file", e.Key, e.Problem)
	}
	return fmt.Sprintf("storage: table %q, key %q: stored value is damaged (%s): run `mcp-sync check` on the data file; rewrite or delete the row to repair it", e.Table, ShortKey(e.Key), e.Problem)
}

// Is reports whether target is ErrCorrupt.
func (e *CorruptError) Is(target error) bool { return target == ErrCorrupt }

// ShortKey returns at most the first 64 bytes of a key, for messages: a key
// may be 32 KiB.
func ShortKey(k string) string {
	const max = 64
	if len(k) <= max {
		return k
	}
	return k[:max] + "…"
}

// DescribeProblem is how the drivers' Check reports name a problem: where
// it is (a table, or a store part in brackets such as "[change log]"; a
// row's key, quoted short) and what is wrong.
func DescribeProblem(table, key, what string) string {
	var b strings.Builder
	switch {
	case strings.HasPrefix(table, "["):
		fmt.Fprintf(&b, "%s: ", table)
	case table != "":
		fmt.Fprintf(&b, "table %s: ", table)
	}
	if key != "" {
		fmt.Fprintf(&b, "key %q: ", ShortKey(key))
	}
	b.WriteString(what)
	return b.String()
}
