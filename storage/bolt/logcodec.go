package bolt

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/mcp-sync/mcp-sync/storage"
)

// A log record is its checksum (see openRecord), then a count, then per
// change its table, key and op. What follows the op depends on the record's
// layout:
//
//   - Format 3 records (versions below Driver.deltaSince) hold each put's
//     full value, in the layout storage.AppendChanges writes (decodeFull).
//   - Format 4 records hold, per change, a kind and what the row was before
//     it, relative to what it became: the undo of the change. The value
//     after a change is the row in the table, or the value before the
//     row's next change, so a reader rebuilds values backwards from the
//     table (logread.go). A streamed answer's chunk is so logged as the few
//     bytes that changed besides the appended text (its old counters), not
//     as a copy of the row.
//
// Kinds of a format-4 change (a delete is always kindFull or kindUnknown):
const (
	kindNew     = 0 // a put of a row that did not exist: nothing more
	kindSplice  = 1 // a put: uvarint p, uvarint s, field mid; before = after[:p] + mid + after[len-s:]
	kindFull    = 2 // field old: the whole value before
	kindUnknown = 3 // the value before failed its checksum: not rebuildable

	// kindAfter is a format-3 change as decoded: data is the value after
	// the put; the value before is unknown. It is never written.
	kindAfter = 0xff
)

// logChange is one change of a decoded record. Its slices point into the
// record: they live as long as the transaction that read it.
type logChange struct {
	table, key []byte
	op         storage.Op
	kind       byte
	p, s       int
	data       []byte // kindSplice: mid; kindFull: the old value; kindAfter: the new one
}

// undoOf is the format-4 encoding of a change from before to after: the
// smaller of a splice (the bytes of before between the prefix and suffix it
// shares with after) and before in full.
func undoOf(before, after []byte) logChange {
	p := 0
	for p < len(before) && p < len(after) && before[p] == after[p] {
		p++
	}
	s := 0
	for s < len(before)-p && s < len(after)-p && before[len(before)-1-s] == after[len(after)-1-s] {
		s++
	}
	mid := before[p : len(before)-s]
	if uvarintLen(uint64(p))+uvarintLen(uint64(s)) < p+s {
		return logChange{kind: kindSplice, p: p, s: s, data: mid}
	}
	return logChange{kind: kindFull, data: before}
}

func uvarintLen(n uint64) int {
	var b [binary.MaxVarintLen64]byte
	return binary.PutUvarint(b[:], n)
}

// encodeRecord lays out version's changes in format 4, with its checksum.
func encodeRecord(version uint64, cs []logChange) []byte {
	n := recordHeader + binary.MaxVarintLen64
	for _, c := range cs {
		n += 5*binary.MaxVarintLen64 + 2 + len(c.table) + len(c.key) + len(c.data)
	}
	b := make([]byte, recordHeader, n)
	b = binary.AppendUvarint(b, uint64(len(cs)))
	for _, c := range cs {
		b = appendField(b, c.table)
		b = appendField(b, c.key)
		b = append(b, byte(c.op), c.kind)
		switch c.kind {
		case kindSplice:
			b = binary.AppendUvarint(b, uint64(c.p))
			b = binary.AppendUvarint(b, uint64(c.s))
			b = appendField(b, c.data)
		case kindFull:
			b = appendField(b, c.data)
		}
	}
	binary.LittleEndian.PutUint32(b, sumRecord(version, b[recordHeader:]))
	return b
}

func appendField(b, f []byte) []byte {
	b = binary.AppendUvarint(b, uint64(len(f)))
	return append(b, f...)
}

// decodeRecord checks version's record and decodes it, in format 4 unless
// full says it holds full values (format 3). The changes point into rec.
func decodeRecord(version uint64, rec []byte, full bool) ([]logChange, error) {
	data, why := openRecord(version, rec)
	if why == "" {
		var cs []logChange
		var err error
		if full {
			cs, err = decodeFull(data)
		} else {
			cs, err = decodeUndo(data)
		}
		if err == nil {
			return cs, nil
		}
		why = "undecodable despite a good checksum"
	}
	return nil, &storage.CorruptError{Key: fmt.Sprintf("at version %d", version), Problem: why}
}

// decodeUndo decodes a format-4 record's changes.
func decodeUndo(b []byte) ([]logChange, error) {
	n, b, err := storage.RecordUvarint(b)
	if err != nil || n > uint64(len(b)) {
		return nil, errCorrupt
	}
	out := make([]logChange, 0, n)
	for range n {
		var c logChange
		if c.table, b, err = storage.RecordField(b); err != nil {
			return nil, err
		}
		if c.key, b, err = storage.RecordField(b); err != nil {
			return nil, err
		}
		if len(b) < 2 {
			return nil, errCorrupt
		}
		c.op, c.kind, b = storage.Op(b[0]), b[1], b[2:]
		var p, s uint64
		switch {
		case c.kind == kindSplice && c.op == storage.OpPut:
			if p, b, err = storage.RecordUvarint(b); err != nil {
				return nil, err
			}
			if s, b, err = storage.RecordUvarint(b); err != nil {
				return nil, err
			}
			if p > 1<<40 || s > 1<<40 { // bounds a damaged length: values are far smaller
				return nil, errCorrupt
			}
			c.p, c.s = int(p), int(s)
			c.data, b, err = storage.RecordField(b)
		case c.kind == kindFull && (c.op == storage.OpPut || c.op == storage.OpDelete):
			c.data, b, err = storage.RecordField(b)
		case c.kind == kindUnknown && (c.op == storage.OpPut || c.op == storage.OpDelete),
			c.kind == kindNew && c.op == storage.OpPut:
		default:
			err = errCorrupt
		}
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, nil
}

// decodeFull decodes a format-3 record's changes as kindAfter ones.
func decodeFull(b []byte) ([]logChange, error) {
	cs, _, err := storage.DecodeChanges(b)
	if err != nil {
		return nil, err
	}
	out := make([]logChange, len(cs))
	for i, c := range cs {
		out[i] = logChange{table: []byte(c.Table), key: []byte(c.Key), op: c.Op, kind: kindAfter, data: c.Value}
	}
	return out, nil
}

var errCorrupt = errors.New("corrupt record")
