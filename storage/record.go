package storage

import (
	"encoding/binary"
	"errors"
)

// ErrBadRecord is what [RecordUvarint] and [RecordField] return for bytes
// that do not hold what was asked: a record cut short or damaged.
var ErrBadRecord = errors.New("storage: malformed record")

// RecordUvarint reads the varint at the front of b, for drivers decoding
// their change-log and audit records; it returns the value and the rest
// of b.
func RecordUvarint(b []byte) (uint64, []byte, error) {
	v, n := binary.Uvarint(b)
	if n <= 0 {
		return 0, nil, ErrBadRecord
	}
	return v, b[n:], nil
}

// RecordField reads a field written as its length (a varint) and its
// bytes from the front of b; it returns the field, which shares b's
// memory, and the rest of b.
func RecordField(b []byte) ([]byte, []byte, error) {
	n, b, err := RecordUvarint(b)
	if err != nil || n > uint64(len(b)) {
		return nil, nil, ErrBadRecord
	}
	return b[:n], b[n:], nil
}

// AppendChanges appends cs to b as a change-log record in the layout the
// drivers share (bbolt's format 3, PostgreSQL's log rows): the count, then
// per change its table, key, op (one byte) and value, each string written
// as its length (a varint) and its bytes. [DecodeChanges] reads it back.
func AppendChanges(b []byte, cs []Change) []byte {
	b = binary.AppendUvarint(b, uint64(len(cs)))
	for _, c := range cs {
		b = binary.AppendUvarint(b, uint64(len(c.Table)))
		b = append(b, c.Table...)
		b = binary.AppendUvarint(b, uint64(len(c.Key)))
		b = append(b, c.Key...)
		b = append(b, byte(c.Op))
		b = binary.AppendUvarint(b, uint64(len(c.Value)))
		b = append(b, c.Value...)
	}
	return b
}

// DecodeChanges reads a record [AppendChanges] wrote from the front of b
// and returns its changes, whose values share b's memory (a delete's is
// nil), and the rest of b. A record cut short or damaged, or holding an op
// other than OpPut and OpDelete, is ErrBadRecord.
func DecodeChanges(b []byte) ([]Change, []byte, error) {
	n, b, err := RecordUvarint(b)
	if err != nil || n > uint64(len(b)) { // each change takes a byte at least
		return nil, nil, ErrBadRecord
	}
	out := make([]Change, 0, n)
	for range n {
		var table, key, val []byte
		if table, b, err = RecordField(b); err != nil {
			return nil, nil, err
		}
		if key, b, err = RecordField(b); err != nil {
			return nil, nil, err
		}
		if len(b) == 0 {
			return nil, nil, ErrBadRecord
		}
		op := Op(b[0])
		if op != OpPut && op != OpDelete {
			return nil, nil, ErrBadRecord
		}
		if val, b, err = RecordField(b[1:]); err != nil {
			return nil, nil, err
		}
		c := Change{Table: string(table), Key: string(key), Op: op}
		if op == OpPut {
			c.Value = val
		}
		out = append(out, c)
	}
	return out, b, nil
}
