package postgres

import (
	"fmt"
	"math"
	"strconv"

	"github.com/jackc/pgx/v5"
	"github.com/mcp-sync/mcp-sync/storage"
)

// The audit (storage.AuditEntry) is a table of its own in the driver's
// schema: a record per version, written in the commit's transaction, with
// a CRC-32C bound to its version. Schemas made before it existed get the
// table at the next Open; their earlier versions have no record.

// auditTrimChunk is how many records past the retention pile up before a
// commit deletes them: one DELETE per chunk rather than one per batch.
const auditTrimChunk = 256

// auditPage is how many records one round trip of ReadAudit fetches.
const auditPage = 256

// Audit sets the record of the write function's version (see
// storage.DriverWriteTx).
func (w *writeTx) Audit(record []byte) { w.audit = record }

// sumAudit is the checksum stored with an audit record.
func sumAudit(version uint64, data []byte) int32 {
	return sumValue(storage.AuditLabel, strconv.FormatUint(version, 10), data)
}

// queueAudit adds a batch's audit records, and the trim of those past
// Options.AuditRetention once a chunk of them has piled up, to b.
func (d *Driver) queueAudit(b *pgx.Batch, recs []logRow, base, next uint64) {
	if len(recs) == 0 {
		return
	}
	vs, ds, ss := make([]int64, len(recs)), make([][]byte, len(recs)), make([]int32, len(recs))
	for i, r := range recs {
		vs[i], ds[i], ss[i] = int64(r.version), r.data, sumAudit(r.version, r.data)
	}
	b.Queue(d.q.insertAudit, vs, ds, ss)
	if next > d.opts.AuditRetention && base/auditTrimChunk != next/auditTrimChunk {
		b.Queue(d.q.trimAudit, int64(next-d.opts.AuditRetention))
	}
}

// ReadAudit calls visit with the audit records after from, or before it
// with reverse (see storage.DriverReadTx), a page at a time.
func (r *readTx) ReadAudit(from uint64, reverse bool, visit func(version uint64, record []byte) bool) error {
	if r.err != nil {
		return r.err
	}
	query, cursor := r.d.q.readAudit, int64(from)
	switch {
	case reverse:
		query = r.d.q.readAuditDesc
		if from == 0 || from > math.MaxInt64 {
			cursor = math.MaxInt64
		}
	case from >= math.MaxInt64: // no version is after it (as int64 it would turn negative: from the start)
		return nil
	}
	for {
		ctx, cancel := r.ctx()
		rows, err := r.conn.Query(ctx, query, cursor, auditPage)
		if err != nil {
			cancel()
			return r.failed("read the audit", err)
		}
		recs, err := collectLog(rows)
		cancel()
		if err != nil {
			return r.failed("read the audit", err)
		}
		for _, rec := range recs {
			if sumAudit(rec.version, rec.data) != rec.sum {
				return &storage.CorruptError{Table: storage.AuditLabel, Key: fmt.Sprint(rec.version), Problem: "checksum mismatch"}
			}
			if !visit(rec.version, rec.data) {
				return nil
			}
			cursor = int64(rec.version)
		}
		if len(recs) < auditPage {
			return nil
		}
	}
}
