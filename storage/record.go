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
