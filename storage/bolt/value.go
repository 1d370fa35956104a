package bolt

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
)

// A stored table value is a 5-byte header then the caller's bytes: a format
// byte (valueFormat) and the CRC-32C (Castagnoli: hardware-accelerated) of
// the bucket name, the key and the value. Binding the key and table means a
// value found under the wrong key, say after a flipped key byte, fails its
// check too.
const (
	valueFormat = 1
	valueHeader = 5
)

// sumValue is the checksum stored with a value.
func sumValue(bucket, key, value []byte) uint32 {
	t := crc32.MakeTable(crc32.Castagnoli) // the package's own table, built once
	var n [binary.MaxVarintLen64]byte
	c := crc32.Update(0, t, bucket)
	c = crc32.Update(c, t, n[:binary.PutUvarint(n[:], uint64(len(key)))])
	c = crc32.Update(c, t, key)
	return crc32.Update(c, t, value)
}

// sealValue returns value with its header, in a new slice.
func sealValue(bucket, key, value []byte) []byte {
	out := make([]byte, valueHeader+len(value))
	out[0] = valueFormat
	binary.LittleEndian.PutUint32(out[1:], sumValue(bucket, key, value))
	copy(out[valueHeader:], value)
	return out
}

// openValue returns the caller's bytes inside stored (a sub-slice, not a
// copy), or what is wrong with them.
func openValue(bucket, key, stored []byte) ([]byte, string) {
	if len(stored) < valueHeader {
		return nil, fmt.Sprintf("%d bytes, shorter than the %d-byte checksum header", len(stored), valueHeader)
	}
	if stored[0] != valueFormat {
		return nil, fmt.Sprintf("unknown value format %d", stored[0])
	}
	v := stored[valueHeader:]
	if binary.LittleEndian.Uint32(stored[1:]) != sumValue(bucket, key, v) {
		return nil, "checksum mismatch"
	}
	return v, ""
}

// A change-log record is the CRC-32C of its version and encoded changes,
// then the changes: the log holds copies of values that subscribers and
// catching-up clients are served, so a flipped byte there must not be
// served either.
const recordHeader = 4

func sumRecord(version uint64, data []byte) uint32 {
	t := crc32.MakeTable(crc32.Castagnoli)
	var k [8]byte
	binary.BigEndian.PutUint64(k[:], version)
	return crc32.Update(crc32.Update(0, t, k[:]), t, data)
}

// openRecord returns a log record's encoded changes, or what is wrong.
func openRecord(version uint64, rec []byte) ([]byte, string) {
	if len(rec) < recordHeader {
		return nil, "shorter than its checksum"
	}
	data := rec[recordHeader:]
	if binary.LittleEndian.Uint32(rec) != sumRecord(version, data) {
		return nil, "checksum mismatch"
	}
	return data, ""
}
