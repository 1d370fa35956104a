package postgres

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"

	"github.com/mcp-sync/mcp-sync/storage"
)

// orderPrefix is how many leading key bytes the key-order index holds: a
// btree entry must stay under ~2.7 KB, and keys run to 32 KiB.
const orderPrefix = 1024

// castagnoli is the CRC-32C table (crc32 keeps one; this only looks it up).
func castagnoli() *crc32.Table { return crc32.MakeTable(crc32.Castagnoli) }

// keyHash identifies a row's key in the primary key (the key itself may be
// too long for a btree entry).
func keyHash(key string) []byte {
	h := sha256.Sum256([]byte(key))
	return h[:]
}

// keyOrder is the key's prefix the order index holds; (keyOrder, key)
// sorts as key does.
func keyOrder(key string) []byte {
	return []byte(key[:min(len(key), orderPrefix)])
}

// sumValue is the checksum stored with a value: the CRC-32C of its table,
// key and bytes, so a value found under another key fails too.
func sumValue(table, key string, value []byte) int32 {
	var n [binary.MaxVarintLen64]byte
	tab := castagnoli()
	c := crc32.Update(0, tab, n[:binary.PutUvarint(n[:], uint64(len(table)))])
	c = crc32.Update(c, tab, []byte(table))
	c = crc32.Update(c, tab, n[:binary.PutUvarint(n[:], uint64(len(key)))])
	c = crc32.Update(c, tab, []byte(key))
	return int32(crc32.Update(c, tab, value))
}

// checkValue returns a CorruptError unless value matches its checksum.
func checkValue(table, key string, value []byte, sum int32) error {
	if sumValue(table, key, value) != sum {
		return &storage.CorruptError{Table: table, Key: key, Problem: "checksum mismatch"}
	}
	return nil
}

// sumRecord is the checksum stored with a change-log record.
func sumRecord(version uint64, data []byte) int32 {
	var k [8]byte
	binary.BigEndian.PutUint64(k[:], version)
	return int32(crc32.Update(crc32.Update(0, castagnoli(), k[:]), castagnoli(), data))
}

// encodeChanges lays out a version's changes: count, then per change
// table, key, op, value, each string length-prefixed (uvarint).
func encodeChanges(cs []storage.Change) []byte {
	n := binary.MaxVarintLen64
	for _, c := range cs {
		n += 3*binary.MaxVarintLen64 + 1 + len(c.Table) + len(c.Key) + len(c.Value)
	}
	b := make([]byte, 0, n)
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

var errUndecodable = errors.New("undecodable")

// decodeRecord checks and decodes version's log record.
func decodeRecord(version uint64, data []byte, sum int32) ([]storage.Change, error) {
	why := "checksum mismatch"
	if sumRecord(version, data) == sum {
		cs, err := decodeChanges(data)
		if err == nil {
			return cs, nil
		}
		why = "undecodable despite a good checksum"
	}
	return nil, &storage.CorruptError{Key: fmt.Sprintf("at version %d", version), Problem: why}
}

func decodeChanges(b []byte) ([]storage.Change, error) {
	n, b, err := storage.RecordUvarint(b)
	if err != nil || n > uint64(len(b)) {
		return nil, errUndecodable
	}
	out := make([]storage.Change, 0, n)
	for range n {
		var table, key, val []byte
		if table, b, err = storage.RecordField(b); err != nil {
			return nil, err
		}
		if key, b, err = storage.RecordField(b); err != nil {
			return nil, err
		}
		if len(b) == 0 {
			return nil, errUndecodable
		}
		op := storage.Op(b[0])
		if op != storage.OpPut && op != storage.OpDelete {
			return nil, errUndecodable
		}
		if val, b, err = storage.RecordField(b[1:]); err != nil {
			return nil, err
		}
		c := storage.Change{Table: string(table), Key: string(key), Op: op}
		if op == storage.OpPut {
			c.Value = val // pgx's bytes are the caller's to keep
		}
		out = append(out, c)
	}
	if len(b) != 0 {
		return nil, errUndecodable
	}
	return out, nil
}
