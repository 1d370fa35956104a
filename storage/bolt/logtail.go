package bolt

import (
	"encoding/binary"
	"fmt"

	"github.com/mcp-sync/mcp-sync/storage"
	bbolt "go.etcd.io/bbolt"
)

// logRecord is one version's encoded changes.
type logRecord struct {
	version uint64
	data    []byte
}

// tailBudget bounds the log tail, so that the meta bucket stays small enough
// (a quarter page, 1024 B, of which its other keys take about 210) for
// bbolt to keep it inline in the root page. A streamed chunk's record takes
// about 80 B of it, so the log bucket is written once per nine chunks.
const tailBudget = 768

// appendLog adds a commit's records to the change log. Appending to the log
// bucket rewrites its last leaf and branch pages, two page writes that cost
// a lone small commit about as much as its own row; so small records collect
// in a tail inside the meta bucket, whose page (the root, with the version)
// every commit rewrites anyway, and move to the bucket together when the
// tail would outgrow tailBudget.
func (s *Driver) appendLog(btx *bbolt.Tx, recs []logRecord) error {
	if len(recs) == 0 {
		return nil
	}
	meta := btx.Bucket(metaBucket)
	tail := meta.Get(keyLogTail)
	n := len(tail)
	for _, r := range recs {
		n += uvarintLen(r.version) + uvarintLen(uint64(len(r.data))) + len(r.data)
	}
	if n <= tailBudget {
		buf := append(make([]byte, 0, n), tail...)
		for _, r := range recs {
			buf = binary.AppendUvarint(buf, r.version)
			buf = binary.AppendUvarint(buf, uint64(len(r.data)))
			buf = append(buf, r.data...)
		}
		return meta.Put(keyLogTail, buf)
	}
	// Copied: bbolt keeps the slices Put is given until the commit, and
	// deleting the tail may reuse its memory.
	old, err := decodeTail(tail, true)
	if err != nil {
		return err
	}
	log := btx.Bucket(logBucket)
	for _, r := range append(old, recs...) {
		if err := log.Put(versionKey(r.version), r.data); err != nil {
			return fmt.Errorf("storage: append to change log: %w", err)
		}
	}
	if tail != nil {
		if err := meta.Delete(keyLogTail); err != nil {
			return fmt.Errorf("storage: clear change log tail: %w", err)
		}
	}
	return nil
}

// decodeTail splits the log tail into its records, copying their bytes
// when copyData is set.
func decodeTail(b []byte, copyData bool) ([]logRecord, error) {
	var out []logRecord
	for len(b) > 0 {
		v, rest, err := storage.RecordUvarint(b)
		if err != nil {
			return nil, &storage.CorruptError{Key: "tail", Problem: "bad framing"}
		}
		data, rest, err := storage.RecordField(rest)
		if err != nil {
			return nil, &storage.CorruptError{Key: "tail", Problem: "bad framing"}
		}
		if copyData {
			data = append([]byte(nil), data...)
		}
		out = append(out, logRecord{version: v, data: data})
		b = rest
	}
	return out, nil
}
