package bolt

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/mcp-sync/mcp-sync/storage"
)

// encodeRecord lays out version's changes as a log record: its checksum
// (see openRecord), then count, then per change table, key, op, value, each
// string length-prefixed (uvarint).
func encodeRecord(version uint64, cs []storage.Change) []byte {
	b := encodeChanges(recordHeader, cs)
	binary.LittleEndian.PutUint32(b, sumRecord(version, b[recordHeader:]))
	return b
}

// encodeChanges encodes changes after skip zero bytes.
func encodeChanges(skip int, cs []storage.Change) []byte {
	n := skip + binary.MaxVarintLen64
	for _, c := range cs {
		n += 3*binary.MaxVarintLen64 + 1 + len(c.Table) + len(c.Key) + len(c.Value)
	}
	b := make([]byte, skip, n)
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

var errCorrupt = errors.New("corrupt record")

// decodeRecord checks and decodes version's log record.
func decodeRecord(version uint64, rec []byte) ([]storage.Change, error) {
	data, why := openRecord(version, rec)
	if why == "" {
		cs, err := decodeChanges(data)
		if err == nil {
			return cs, nil
		}
		why = "undecodable despite a good checksum"
	}
	return nil, &storage.CorruptError{Key: fmt.Sprintf("at version %d", version), Problem: why}
}

func decodeChanges(b []byte) ([]storage.Change, error) {
	n, b, err := uvarint(b)
	if err != nil || n > uint64(len(b)) {
		return nil, errCorrupt
	}
	out := make([]storage.Change, 0, n)
	for range n {
		var c storage.Change
		var table, key, val []byte
		if table, b, err = field(b); err != nil {
			return nil, err
		}
		if key, b, err = field(b); err != nil {
			return nil, err
		}
		if len(b) == 0 {
			return nil, errCorrupt
		}
		c.Op, b = storage.Op(b[0]), b[1:]
		if val, b, err = field(b); err != nil {
			return nil, err
		}
		c.Table, c.Key = string(table), string(key)
		if c.Op == storage.OpPut {
			c.Value = append([]byte{}, val...) // bbolt's bytes die with the transaction
		}
		out = append(out, c)
	}
	return out, nil
}

func uvarint(b []byte) (uint64, []byte, error) {
	v, n := binary.Uvarint(b)
	if n <= 0 {
		return 0, nil, errCorrupt
	}
	return v, b[n:], nil
}

func field(b []byte) ([]byte, []byte, error) {
	n, b, err := uvarint(b)
	if err != nil || n > uint64(len(b)) {
		return nil, nil, errCorrupt
	}
	return b[:n], b[n:], nil
}
