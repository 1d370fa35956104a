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

// encodeChanges lays out a version's changes (storage.AppendChanges), in
// a buffer sized for them at once.
func encodeChanges(cs []storage.Change) []byte {
	n := binary.MaxVarintLen64
	for _, c := range cs {
		n += 3*binary.MaxVarintLen64 + 1 + len(c.Table) + len(c.Key) + len(c.Value)
	}
	return storage.AppendChanges(make([]byte, 0, n), cs)
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

// decodeChanges decodes a whole log record; the values share data, which
// pgx gives the caller to keep.
func decodeChanges(data []byte) ([]storage.Change, error) {
	cs, rest, err := storage.DecodeChanges(data)
	if err != nil || len(rest) != 0 {
		return nil, errUndecodable
	}
	return cs, nil
}
