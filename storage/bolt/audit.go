package bolt

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"runtime/debug"

	"github.com/mcp-sync/mcp-sync/storage"
	bbolt "go.etcd.io/bbolt"
)

// auditName is the bucket of audit records (storage.AuditEntry), keyed by
// version (8 bytes, big-endian), each sealed as a table value is
// (value.go) under this name and its key. A file written before the audit
// existed gets its buckets at its next open; versions committed before
// that have no record.
const auditName = "audit"

// auditTailName is a small bucket holding the newest records, every one
// newer than those in auditName's: putting a record in the audit bucket
// rewrites its last leaf and branch pages (8 KiB for ~150 bytes), so, as
// the change log's tail does (logtail.go), records collect here, where
// bbolt keeps the bucket inline in the root page every commit rewrites
// anyway, and move to the audit bucket together. Records are sealed under
// auditName in both, so they move as they are.
const auditTailName = "auditTail"

// auditTailBudget bounds the tail's size as bbolt counts it (a 16-byte
// header, then 16 bytes an element, its key and value): under a quarter
// page (1024 B), it stays inline.
const auditTailBudget = 1000

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

// writeAudit stores a commit's records, in the tail while they fit, and
// trims those past Options.AuditRetention.
func (s *Driver) writeAudit(btx *bbolt.Tx, recs []auditRecord, now uint64) error {
	if len(recs) == 0 {
		return nil
	}
	b, tail := btx.Bucket([]byte(auditName)), btx.Bucket([]byte(auditTailName))
	if b == nil || tail == nil {
		return fmt.Errorf("storage: the data file has no audit bucket: %w", storage.ErrCorrupt)
	}
	size := 16
	_ = tail.ForEach(func(k, v []byte) error { size += 16 + len(k) + len(v); return nil })
	for _, r := range recs {
		k := versionKey(r.version)
		v := sealValue([]byte(auditName), k, r.data)
		add := 16 + len(k) + len(v)
		if size+add > auditTailBudget {
			if err := flushAuditTail(b, tail); err != nil {
				return err
			}
			size = 16
		}
		dst := tail
		if size+add > auditTailBudget {
			dst = b // too long for the tail, which is empty: order holds
		} else {
			size += add
		}
		if err := dst.Put(k, v); err != nil {
			return fmt.Errorf("storage: write the audit record of version %d: %w", r.version, err)
		}
	}
	return s.trimAudit(b, now)
}

// flushAuditTail moves the tail's records to the audit bucket.
func flushAuditTail(b, tail *bbolt.Bucket) error {
	var recs []auditRecord
	_ = tail.ForEach(func(k, v []byte) error {
		// Copied: the tail's bytes go when their keys are deleted.
		recs = append(recs, auditRecord{version: binary.BigEndian.Uint64(k), data: bytes.Clone(v)})
		return nil
	})
	for _, r := range recs {
		if err := b.Put(versionKey(r.version), r.data); err != nil {
			return fmt.Errorf("storage: move the audit record of version %d: %w", r.version, err)
		}
		if err := tail.Delete(versionKey(r.version)); err != nil {
			return fmt.Errorf("storage: move the audit record of version %d: %w", r.version, err)
		}
	}
	return nil
}

// trimAudit deletes the records older than the retention from the audit
// bucket, once auditTrimChunk of them have piled up.
func (s *Driver) trimAudit(b *bbolt.Bucket, now uint64) error {
	if now <= s.opts.AuditRetention || now-s.opts.AuditRetention <= auditTrimChunk { // no sum: it could wrap
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
// with reverse (see storage.DriverReadTx): the audit bucket's, then the
// tail's, which are newer (the other way round with reverse).
func (r *readTx) ReadAudit(from uint64, reverse bool, visit func(version uint64, record []byte) bool) (err error) {
	defer r.s.catch(&err, "read the audit")
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	if !reverse && from == math.MaxUint64 {
		return nil // no version is after it (from+1 would wrap to the start)
	}
	names := []string{auditName, auditTailName}
	if reverse {
		names[0], names[1] = names[1], names[0]
	}
	for _, name := range names {
		b := r.tx.Bucket([]byte(name))
		if b == nil {
			continue // a file opened before the audit existed, read by Check
		}
		more, err := readAuditBucket(b, from, reverse, visit)
		if err != nil || !more {
			return err
		}
	}
	return nil
}

// readAuditBucket is ReadAudit over one bucket; more is false once visit
// has asked to stop.
func readAuditBucket(b *bbolt.Bucket, from uint64, reverse bool, visit func(version uint64, record []byte) bool) (more bool, _ error) {
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
			return false, &storage.CorruptError{Table: storage.AuditLabel, Key: fmt.Sprintf("%x", k), Problem: "a key that is not a version"}
		}
		ver := binary.BigEndian.Uint64(k)
		data, why := openValue([]byte(auditName), k, v)
		if why != "" {
			return false, &storage.CorruptError{Table: storage.AuditLabel, Key: fmt.Sprint(ver), Problem: why}
		}
		if !visit(ver, data) {
			return false, nil
		}
	}
	return true, nil
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
