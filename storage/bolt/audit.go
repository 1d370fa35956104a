package bolt

import (
	"encoding/binary"
	"fmt"
	"runtime/debug"

	"github.com/mcp-sync/mcp-sync/storage"
	bbolt "go.etcd.io/bbolt"
)

// auditName is the bucket of audit records (storage.AuditEntry), keyed by
// version (8 bytes, big-endian), each sealed as a table value is
// (value.go) under the bucket's name and its key. A file written before
// the audit existed gets the bucket at its next open; versions committed
// before that have no record.
const auditName = "audit"

// auditTrimChunk is how many records past the retention pile up before a
// commit deletes them: deleting from the front rewrites the bucket's first
// pages, which is not worth doing for one record a commit.
const auditTrimChunk = 256

// Audit sets the record of the write function's version (see
// storage.DriverWriteTx).
func (w *writeTx) Audit(record []byte) { w.audit = record }

// auditRecord is one version's record waiting for its commit.
type auditRecord struct {
	version uint64
	data    []byte
}

// writeAudit stores a commit's records and trims those past
// Options.AuditRetention.
func (s *Driver) writeAudit(btx *bbolt.Tx, recs []auditRecord, now uint64) error {
	if len(recs) == 0 {
		return nil
	}
	b := btx.Bucket([]byte(auditName))
	if b == nil {
		return fmt.Errorf("storage: the data file has no audit bucket: %w", storage.ErrCorrupt)
	}
	for _, r := range recs {
		k := versionKey(r.version)
		if err := b.Put(k, sealValue([]byte(auditName), k, r.data)); err != nil {
			return fmt.Errorf("storage: write the audit record of version %d: %w", r.version, err)
		}
	}
	if now <= s.opts.AuditRetention+auditTrimChunk {
		return nil
	}
	floor := now - s.opts.AuditRetention
	c := b.Cursor()
	k, _ := c.First()
	if k == nil || binary.BigEndian.Uint64(k)+auditTrimChunk > floor {
		return nil
	}
	for ; k != nil && binary.BigEndian.Uint64(k) <= floor; k, _ = c.First() {
		if err := c.Delete(); err != nil {
			return fmt.Errorf("storage: trim the audit: %w", err)
		}
	}
	return nil
}

// ReadAudit calls visit with the audit records after from, or before it
// with reverse (see storage.DriverReadTx).
func (r *readTx) ReadAudit(from uint64, reverse bool, visit func(version uint64, record []byte) bool) (err error) {
	defer r.s.catch(&err, "read the audit")
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	b := r.tx.Bucket([]byte(auditName))
	if b == nil {
		return nil // a file opened before the audit existed, read by Check
	}
	c := b.Cursor()
	var k, v []byte
	switch {
	case !reverse:
		k, v = c.Seek(versionKey(from + 1))
	case from == 0:
		k, v = c.Last()
	default:
		if k, v = c.Seek(versionKey(from)); k == nil {
			k, v = c.Last()
		}
		for k != nil && binary.BigEndian.Uint64(k) >= from {
			k, v = c.Prev()
		}
	}
	for ; k != nil; k, v = step(c, reverse) {
		if len(k) != 8 {
			return &storage.CorruptError{Table: storage.AuditLabel, Key: fmt.Sprintf("%x", k), Problem: "a key that is not a version"}
		}
		ver := binary.BigEndian.Uint64(k)
		data, why := openValue([]byte(auditName), k, v)
		if why != "" {
			return &storage.CorruptError{Table: storage.AuditLabel, Key: fmt.Sprint(ver), Problem: why}
		}
		if !visit(ver, data) {
			return nil
		}
	}
	return nil
}

func step(c *bbolt.Cursor, reverse bool) ([]byte, []byte) {
	if reverse {
		return c.Prev()
	}
	return c.Next()
}

// checkAudit checks every audit record's key, checksum and encoding.
func (r *Report) checkAudit(b *bbolt.Bucket) {
	_ = b.ForEach(func(k, v []byte) error {
		if len(k) != 8 {
			r.addProblem(Problem{Table: storage.AuditLabel, Key: fmt.Sprintf("%x", k), What: "a key that is not a version"})
			return nil
		}
		ver := binary.BigEndian.Uint64(k)
		data, why := openValue([]byte(auditName), k, v)
		if why == "" {
			if _, err := storage.DecodeAudit(ver, data); err != nil {
				why = "does not decode"
			}
		}
		if why != "" {
			r.addProblem(Problem{Table: storage.AuditLabel, Key: fmt.Sprint(ver), What: why})
		}
		return nil
	})
}
