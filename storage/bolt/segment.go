package bolt

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"slices"

	bbolt "go.etcd.io/bbolt"
)

// A value longer than segThreshold is stored in segments of segSize bytes
// (the last one shorter) in the table's segments bucket (segPrefix + table),
// and its row in the table holds a head: the format byte valueSegmented, a
// CRC-32C of the bucket name, the key and the head's body, and a body of the
// segment count. A streamed answer rewrites its row on every chunk; bbolt
// rewrites a whole value and the pages it overflows into, so a row stored
// whole costs each chunk its full length. Segments at fixed offsets change
// only from the first byte that differs: a string growing inside the JSON
// changes the last segment or two, and the head only when the count
// changes, so what a chunk writes stays flat as the row grows.
//
// Two segments of segSize and their keys fit in one 4 KB page, and bbolt
// splits no node of four entries or fewer, so the leaf a chunk dirties is
// one or two pages. segThreshold keeps values up to two segments inline:
// smaller rows cost what they cost before segments.
const (
	segSize      = 1900
	segThreshold = 2 * segSize

	valueSegmented = 2
	segPrefix      = "s/"
	segHeader      = 4 // CRC-32C of the table bucket name, segment key, data
)

// segKey appends to buf the key of segment i of key: the key's length, the
// key, and i big-endian, so that a row's segments sort together in order
// and no key's segments share a prefix with another key's.
func segKey(buf, key []byte, i uint32) []byte {
	buf = segRowPrefix(buf, key)
	return binary.BigEndian.AppendUint32(buf, i)
}

// segRowPrefix appends to buf the prefix every segment key of key has.
func segRowPrefix(buf, key []byte) []byte {
	buf = binary.AppendUvarint(buf[:0], uint64(len(key)))
	return append(buf, key...)
}

// parseSegKey splits a segment key into its row key and index.
func parseSegKey(sk []byte) (key []byte, i uint32, ok bool) {
	n, w := binary.Uvarint(sk)
	if w <= 0 || uint64(len(sk)-w) != n+4 {
		return nil, 0, false
	}
	key = sk[w : w+int(n)]
	return key, binary.BigEndian.Uint32(sk[w+int(n):]), true
}

// sumSegment is the checksum stored with a segment: bound to the table and
// the segment key (so the row and index), like a value's.
func sumSegment(bucket, sk, data []byte) uint32 {
	return sumSegmentFrom(segSumStart(bucket), sk, data)
}

// segSumStart is the checksum state after the bucket name, the same for
// every segment of a table.
func segSumStart(bucket []byte) uint32 {
	t := crc32.MakeTable(crc32.Castagnoli)
	return crc32.Update(crc32.Update(0, t, bucket), t, []byte{byte(len(bucket))})
}

func sumSegmentFrom(start uint32, sk, data []byte) uint32 {
	t := crc32.MakeTable(crc32.Castagnoli)
	return crc32.Update(crc32.Update(start, t, sk), t, data)
}

// sealSegment returns data with its checksum, in a new slice.
func sealSegment(bucket, sk, data []byte) []byte {
	out := make([]byte, segHeader+len(data))
	binary.LittleEndian.PutUint32(out, sumSegment(bucket, sk, data))
	copy(out[segHeader:], data)
	return out
}

// openSegment returns a stored segment's data (a sub-slice), or what is
// wrong with it.
func openSegment(bucket, sk, stored []byte) ([]byte, string) {
	return openSegmentFrom(segSumStart(bucket), sk, stored)
}

func openSegmentFrom(start uint32, sk, stored []byte) ([]byte, string) {
	if len(stored) < segHeader {
		return nil, fmt.Sprintf("a segment of %d bytes, shorter than its checksum", len(stored))
	}
	data := stored[segHeader:]
	if binary.LittleEndian.Uint32(stored) != sumSegmentFrom(start, sk, data) {
		return nil, "segment checksum mismatch"
	}
	return data, ""
}

// sealHead returns the head of a value stored in n segments.
func sealHead(bucket, key []byte, n int) []byte {
	body := binary.AppendUvarint(nil, uint64(n))
	out := make([]byte, valueHeader+len(body))
	out[0] = valueSegmented
	binary.LittleEndian.PutUint32(out[1:], sumValue(bucket, key, body))
	copy(out[valueHeader:], body)
	return out
}

// isHead reports whether stored is a segmented value's head (checked or
// not).
func isHead(stored []byte) bool { return len(stored) > 0 && stored[0] == valueSegmented }

// openHead returns the segment count of a head, or what is wrong with it.
func openHead(bucket, key, stored []byte) (int, string) {
	if len(stored) < valueHeader {
		return 0, fmt.Sprintf("%d bytes, shorter than the %d-byte checksum header", len(stored), valueHeader)
	}
	body := stored[valueHeader:]
	if binary.LittleEndian.Uint32(stored[1:]) != sumValue(bucket, key, body) {
		return 0, "checksum mismatch"
	}
	n, w := binary.Uvarint(body)
	if w != len(body) || n < 1 || n > 1<<31 {
		return 0, "a segmented value's head that does not say how many segments it has"
	}
	return int(n), ""
}

// checkStored checks a stored table value of either form on its own: a
// head's segments are checked where they are stored.
func checkStored(bucket, key, stored []byte) string {
	if isHead(stored) {
		_, why := openHead(bucket, key, stored)
		return why
	}
	_, why := openValue(bucket, key, stored)
	return why
}

// segBucketName returns the segments bucket name of a table bucket name.
func segBucketName(name []byte) []byte {
	return append([]byte(segPrefix), name[len(tablePrefix):]...)
}

// readStored returns the value stored as stored under key in the table
// bucket name: the caller's bytes as segments pointing into the
// transaction's pages (one segment for an inline value), not copies, or
// what is wrong with them.
func readStored(tx *bbolt.Tx, name, key, stored []byte) ([][]byte, int, string) {
	r := segReader{tx: tx, name: name}
	segs, n, why := r.read(key, stored)
	return slices.Clone(segs), n, why
}

// segReader reads the rows of one table, keeping its segments cursor
// between rows: a scan forward meets rows whose segments follow those of
// the row before (keys of one length sort alike in both buckets), so it
// steps on instead of seeking from the root.
type segReader struct {
	tx   *bbolt.Tx
	name []byte // the table's bucket
	c    *bbolt.Cursor
	k, v []byte // where c is
	want []byte
	segs [][]byte
	sum  uint32 // segSumStart(name), once c is set
}

// read is readStored; the segments slice is reused by the next call.
func (r *segReader) read(key, stored []byte) ([][]byte, int, string) {
	r.segs = r.segs[:0]
	if !isHead(stored) {
		v, why := openValue(r.name, key, stored)
		return append(r.segs, v), len(v), why
	}
	n, why := openHead(r.name, key, stored)
	if why != "" {
		return nil, 0, why
	}
	if r.c == nil {
		sb := r.tx.Bucket(segBucketName(r.name))
		if sb == nil {
			return nil, 0, "its segments are missing"
		}
		r.c, r.sum = sb.Cursor(), segSumStart(r.name)
	}
	total := 0
	r.want = segKey(r.want, key, 0)
	if r.k == nil || !bytes.Equal(r.k, r.want) {
		r.k, r.v = r.c.Seek(r.want)
	}
	idx := len(r.want) - 4
	for i := range n {
		binary.BigEndian.PutUint32(r.want[idx:], uint32(i))
		if !bytes.Equal(r.k, r.want) {
			return nil, 0, fmt.Sprintf("segment %d of %d is missing", i+1, n)
		}
		data, why := openSegmentFrom(r.sum, r.k, r.v)
		if why != "" {
			return nil, 0, fmt.Sprintf("segment %d of %d: %s", i+1, n, why)
		}
		r.segs = append(r.segs, data)
		total += len(data)
		r.k, r.v = r.c.Next()
	}
	return r.segs, total, ""
}

// readValue returns the value stored as stored, in a new slice.
func readValue(tx *bbolt.Tx, name, key, stored []byte) ([]byte, string) {
	segs, n, why := readStored(tx, name, key, stored)
	if why != "" {
		return nil, why
	}
	out := make([]byte, 0, n)
	for _, s := range segs {
		out = append(out, s...)
	}
	return out, ""
}

// segmented reports whether a value of n bytes under key is stored in
// segments: long, and under a key short enough that its segment keys stay
// within bbolt's key limit (a longer one is stored inline, as before
// segments).
func segmented(key []byte, n int) bool {
	return n > segThreshold && len(key)+binary.MaxVarintLen64+4 <= bbolt.MaxKeySize
}

// putValue stores value under key in the table bucket b (named name):
// inline, or in segments rewriting only those that differ from what is
// stored. old is what the row holds now (nil: nothing).
func putValue(tx *bbolt.Tx, b *bbolt.Bucket, name, key, old, value []byte) error {
	if !segmented(key, len(value)) {
		if isHead(old) {
			if err := dropSegments(tx, name, key, 0); err != nil {
				return err
			}
		}
		return b.Put(key, sealValue(name, key, value))
	}
	sb, err := tx.CreateBucketIfNotExists(segBucketName(name))
	if err != nil {
		return fmt.Errorf("create the segments bucket: %w", err)
	}
	n := (len(value) + segSize - 1) / segSize
	for i := range n {
		sk := segKey(nil, key, uint32(i))
		seg := sealSegment(name, sk, value[i*segSize:min((i+1)*segSize, len(value))])
		if !bytes.Equal(sb.Get(sk), seg) {
			if err := sb.Put(sk, seg); err != nil {
				return err
			}
		}
	}
	if err := dropSegments(tx, name, key, n); err != nil {
		return err
	}
	if head := sealHead(name, key, n); !bytes.Equal(old, head) {
		return b.Put(key, head)
	}
	return nil
}

// dropSegments deletes key's segments from index from on.
func dropSegments(tx *bbolt.Tx, name, key []byte, from int) error {
	sb := tx.Bucket(segBucketName(name))
	if sb == nil {
		return nil
	}
	prefix := segRowPrefix(nil, key)
	c := sb.Cursor()
	for k, _ := c.Seek(segKey(nil, key, uint32(from))); k != nil && bytes.HasPrefix(k, prefix); {
		if _, _, ok := parseSegKey(k); !ok { // another key's with this prefix: none sort between
			break
		}
		if err := c.Delete(); err != nil {
			return err
		}
		k, _ = c.Seek(segKey(nil, key, uint32(from)))
	}
	return nil
}

// rawSegmented marks what Raw returns for a segmented row: the head and
// every stored segment of the key, unchecked, so that Restore puts back
// even a damaged row as it was. An inline value's raw form is the value as
// stored, whose first byte is never rawSegmented.
const rawSegmented = 0x80

// rawRow returns the raw form of key's row, whose head (or inline value)
// is stored.
func rawRow(tx *bbolt.Tx, name, key, stored []byte) []byte {
	if !isHead(stored) {
		return bytes.Clone(stored)
	}
	out := append([]byte{rawSegmented}, binary.AppendUvarint(nil, uint64(len(stored)))...)
	out = append(out, stored...)
	sb := tx.Bucket(segBucketName(name))
	if sb == nil {
		return out
	}
	prefix := segRowPrefix(nil, key)
	c := sb.Cursor()
	for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
		out = binary.AppendUvarint(out, uint64(len(k)))
		out = append(out, k...)
		out = binary.AppendUvarint(out, uint64(len(v)))
		out = append(out, v...)
	}
	return out
}

// restoreRow puts back what rawRow returned for key.
func restoreRow(tx *bbolt.Tx, b *bbolt.Bucket, name, key, raw []byte) error {
	if len(raw) == 0 || raw[0] != rawSegmented {
		if err := dropSegments(tx, name, key, 0); err != nil {
			return err
		}
		return b.Put(key, bytes.Clone(raw))
	}
	next := func(p []byte) ([]byte, []byte, bool) {
		n, w := binary.Uvarint(p)
		if w <= 0 || uint64(len(p)-w) < n {
			return nil, nil, false
		}
		return p[w : w+int(n)], p[w+int(n):], true
	}
	head, rest, ok := next(raw[1:])
	if !ok {
		return fmt.Errorf("undo record of a segmented row cut short")
	}
	type kv struct{ k, v []byte }
	var segs []kv
	for len(rest) > 0 {
		var k, v []byte
		if k, rest, ok = next(rest); ok {
			v, rest, ok = next(rest)
		}
		if !ok {
			return fmt.Errorf("undo record of a segmented row cut short")
		}
		segs = append(segs, kv{bytes.Clone(k), bytes.Clone(v)})
	}
	if err := dropSegments(tx, name, key, 0); err != nil {
		return err
	}
	if len(segs) > 0 {
		sb, err := tx.CreateBucketIfNotExists(segBucketName(name))
		if err != nil {
			return fmt.Errorf("create the segments bucket: %w", err)
		}
		for _, s := range segs {
			if err := sb.Put(s.k, s.v); err != nil {
				return err
			}
		}
	}
	return b.Put(key, bytes.Clone(head))
}
