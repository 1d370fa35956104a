package storage

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"time"
)

// The audit: a record per committed version of why it was made (its cause,
// bytes the caller chose: the engine's caller, tool, session or run), when,
// and which rows it changed. A write function whose context carries a cause
// ([WithCause]) gets one; drivers keep records under their version, in the
// commit's own transaction, for a retention of their own (longer than the
// change log's: the audit answers "who changed this?" long after
// subscribers stopped needing the data).

// Audit bounds. A record lists at most MaxAuditChanges changes (the rest
// are counted) and each key's first MaxAuditKey bytes; a cause longer than
// MaxCauseSize is refused.
const (
	MaxAuditChanges = 64
	MaxAuditKey     = 256
	MaxCauseSize    = 2048
)

// Audit read bounds: entries a page returns, and records one read may pass
// over looking for entries its filter keeps.
const (
	DefaultAuditLimit = 100
	MaxAuditLimit     = 1000
	MaxAuditScan      = 10000
)

// AuditEntry is the audit record of one committed version.
type AuditEntry struct {
	Version uint64
	Time    time.Time
	// Cause is what the writer's context carried ([WithCause]).
	Cause []byte
	// Changes are the version's first MaxAuditChanges changes, in order.
	Changes []AuditChange
	// More counts the changes past those listed.
	More int
}

// AuditChange is one row a version changed.
type AuditChange struct {
	Table string
	// Key is the row's key, cut to MaxAuditKey bytes when Cut is set.
	Key string
	Op  Op
	Cut bool
}

type causeKey struct{}

// WithCause returns ctx carrying cause: the write functions run with it
// ([Store.Update]) are audited with cause as theirs. cause must not change
// afterwards.
func WithCause(ctx context.Context, cause []byte) context.Context {
	return context.WithValue(ctx, causeKey{}, cause)
}

// CauseFrom returns the cause ctx carries, or nil.
func CauseFrom(ctx context.Context) []byte {
	c, _ := ctx.Value(causeKey{}).([]byte)
	return c
}

// encodeAudit lays out a record: the time (Unix ns), the cause, the count
// of changes, how many are listed, then each listed change as op (bit 7:
// key cut), table and key, lengths as uvarints.
func encodeAudit(at time.Time, cause []byte, changes []Change) []byte {
	n := min(len(changes), MaxAuditChanges)
	size := 3*binary.MaxVarintLen64 + len(cause)
	for _, c := range changes[:n] {
		size += 1 + 2*binary.MaxVarintLen32 + len(c.Table) + min(len(c.Key), MaxAuditKey)
	}
	b := make([]byte, 0, size)
	b = binary.AppendUvarint(b, uint64(at.UnixNano()))
	b = binary.AppendUvarint(b, uint64(len(cause)))
	b = append(b, cause...)
	b = binary.AppendUvarint(b, uint64(len(changes)))
	b = binary.AppendUvarint(b, uint64(n))
	for _, c := range changes[:n] {
		op, key := byte(c.Op), c.Key
		if len(key) > MaxAuditKey {
			op, key = op|0x80, key[:MaxAuditKey]
		}
		b = append(b, op)
		b = binary.AppendUvarint(b, uint64(len(c.Table)))
		b = append(b, c.Table...)
		b = binary.AppendUvarint(b, uint64(len(key)))
		b = append(b, key...)
	}
	return b
}

// DecodeAudit decodes the record of version (as a driver stored it). A
// record that does not decode is a [*CorruptError].
func DecodeAudit(version uint64, rec []byte) (AuditEntry, error) {
	e, err := decodeAudit(version, rec)
	if err != nil {
		return AuditEntry{}, &CorruptError{Table: AuditLabel, Key: fmt.Sprint(version), Problem: err.Error()}
	}
	return e, nil
}

// AuditLabel names the audit in a [*CorruptError]'s Table.
const AuditLabel = "[audit]"

func decodeAudit(version uint64, b []byte) (AuditEntry, error) {
	e := AuditEntry{Version: version}
	var r auditReader
	r.b = b
	e.Time = time.Unix(0, int64(r.uvarint())).UTC()
	e.Cause = r.bytes()
	total, n := r.uvarint(), r.uvarint()
	if r.err != nil || n > total || n > MaxAuditChanges {
		return e, errors.New("bad framing")
	}
	e.More = int(total - n)
	e.Changes = make([]AuditChange, 0, n)
	for range n {
		if len(r.b) == 0 {
			return e, errors.New("bad framing")
		}
		op := r.b[0]
		r.b = r.b[1:]
		c := AuditChange{Op: Op(op &^ 0x80), Cut: op&0x80 != 0}
		c.Table, c.Key = string(r.bytes()), string(r.bytes())
		if c.Op != OpPut && c.Op != OpDelete {
			return e, fmt.Errorf("unknown op %d", c.Op)
		}
		e.Changes = append(e.Changes, c)
	}
	if r.err != nil || len(r.b) != 0 {
		return e, errors.New("bad framing")
	}
	return e, nil
}

// auditReader reads a record's fields, keeping the first error.
type auditReader struct {
	b   []byte
	err error
}

func (r *auditReader) uvarint() uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.err = errors.New("bad framing")
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *auditReader) bytes() []byte {
	n := r.uvarint()
	if r.err != nil || n > uint64(len(r.b)) {
		r.err = errors.New("bad framing")
		return nil
	}
	out := r.b[:n:n]
	r.b = r.b[n:]
	return out
}

// AuditQuery selects audit entries.
type AuditQuery struct {
	// From is the cursor: entries of versions after it (before it with
	// Reverse; 0 then means from the newest).
	From uint64
	// Reverse reads from the newest down.
	Reverse bool
	// Limit is the page size: 0 means DefaultAuditLimit; more than
	// MaxAuditLimit means MaxAuditLimit.
	Limit int
	// Keep, if set, selects the entries returned; the others are passed
	// over (at most MaxAuditScan records a read).
	Keep func(*AuditEntry) bool
}

// Audit returns a page of audit entries in version order (reversed with
// q.Reverse), and the cursor to pass as q.From for the next page (0 when
// no entry is left to read). A page may hold fewer than q.Limit entries
// and still have a next cursor: a read passes over at most MaxAuditScan
// records. A record that fails its check fails the read with a
// [*CorruptError] naming its version.
func (s *Store) Audit(q AuditQuery) (entries []AuditEntry, next uint64, err error) {
	if q.Limit <= 0 {
		q.Limit = DefaultAuditLimit
	}
	q.Limit = min(q.Limit, MaxAuditLimit)
	if !q.Reverse && q.From >= math.MaxInt64 {
		return nil, 0, nil // past every version (and From+1 would wrap to the start)
	}
	var top uint64 // the version the read saw: a process's own may lag it
	err = s.d.View(func(tx DriverReadTx) error {
		entries, next, top = nil, 0, tx.Version()
		scanned := 0
		var derr error
		err := tx.ReadAudit(q.From, q.Reverse, func(version uint64, rec []byte) bool {
			e, err := DecodeAudit(version, rec)
			if err != nil {
				derr = err
				return false
			}
			scanned++
			if q.Keep == nil || q.Keep(&e) {
				entries = append(entries, e)
			}
			if len(entries) == q.Limit || scanned == MaxAuditScan {
				next = version
				return false
			}
			return true
		})
		return errors.Join(err, derr)
	})
	if err != nil {
		return nil, 0, err
	}
	if next != 0 && !q.Reverse && next >= top {
		next = 0 // nothing after it yet
	}
	if next == 1 && q.Reverse {
		next = 0
	}
	return entries, next, nil
}
