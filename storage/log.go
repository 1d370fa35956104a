package storage

import (
	"encoding/binary"
	"errors"
	"fmt"
	"runtime/debug"
	"strings"

	bolt "go.etcd.io/bbolt"
)

// Op is what a change did to its row.
type Op uint8

// The operations a change records.
const (
	OpPut    Op = 1
	OpDelete Op = 2
)

// String returns "put" or "delete".
func (o Op) String() string {
	switch o {
	case OpPut:
		return "put"
	case OpDelete:
		return "delete"
	}
	return fmt.Sprintf("op(%d)", uint8(o))
}

// Change is one row written or deleted. Value is nil for a delete.
type Change struct {
	Table string
	Key   string
	Op    Op
	Value []byte
}

// Event is what one committed version changed (filtered for a
// subscription). With Resync set, Changes is empty and Version is the
// store's version when the subscriber fell behind: read a snapshot, then
// skip events at or below the snapshot's version.
type Event struct {
	Version uint64
	Changes []Change
	Resync  bool
}

// Filter selects changes: a table (required), and within it a key prefix or
// one key.
type Filter struct {
	Table  string
	Prefix string
	Key    string
}

func (f Filter) match(c *Change) bool {
	if c.Table != f.Table {
		return false
	}
	if f.Key != "" {
		return c.Key == f.Key
	}
	return strings.HasPrefix(c.Key, f.Prefix)
}

// apply returns ev with only the changes f selects, and whether any remain.
func (f Filter) apply(ev Event) (Event, bool) {
	n := 0
	for i := range ev.Changes {
		if f.match(&ev.Changes[i]) {
			n++
		}
	}
	if n == 0 {
		return Event{}, false
	}
	if n == len(ev.Changes) {
		return ev, true
	}
	out := Event{Version: ev.Version, Changes: make([]Change, 0, n)}
	for _, c := range ev.Changes {
		if f.match(&c) {
			out.Changes = append(out.Changes, c)
		}
	}
	return out, true
}

func (s *Store) checkFilter(f Filter) error {
	if f.Table == "" {
		return errors.New("storage: filter names no table")
	}
	if _, ok := s.tables[f.Table]; !ok {
		return fmt.Errorf("storage: table %q: %w", f.Table, ErrNoTable)
	}
	return nil
}

// ChangesSince returns up to limit events (0 means 1000) with versions after
// the given one that f selects, in order. It fails with ErrResync when the
// log no longer reaches back to after.
func (s *Store) ChangesSince(after uint64, f Filter, limit int) ([]Event, error) {
	if err := s.checkFilter(f); err != nil {
		return nil, err
	}
	if limit <= 0 {
		limit = 1000
	}
	var out []Event
	err := s.View(func(tx *ReadTx) error {
		var err error
		out, _, err = s.readLog(tx.tx, after, tx.version, f, limit)
		return err
	})
	return out, err
}

// readLog reads events in (after, upto] selected by f, at most limit of them,
// and returns the version it read through.
func (s *Store) readLog(btx *bolt.Tx, after, upto uint64, f Filter, limit int) (_ []Event, _ uint64, err error) {
	defer s.catch(&err, "read the change log")
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	if after < s.logFloor.Load() {
		return nil, after, fmt.Errorf("storage: changes after version %d: %w", after, ErrResync)
	}
	var out []Event
	through := after
	full := false
	visit := func(ver uint64, data []byte) (bool, error) {
		if ver <= after {
			return true, nil
		}
		if ver > upto {
			return false, nil
		}
		changes, err := decodeRecord(ver, data)
		if err != nil {
			return false, err
		}
		through = ver
		if ev, ok := f.apply(Event{Version: ver, Changes: changes}); ok {
			out = append(out, ev)
			full = len(out) == limit
		}
		return !full, nil
	}
	// The bucket holds the older records, the tail the newest (appendLog).
	more := true
	c := btx.Bucket(logBucket).Cursor()
	for k, v := c.Seek(versionKey(after + 1)); k != nil && more; k, v = c.Next() {
		var err error
		if more, err = visit(binary.BigEndian.Uint64(k), v); err != nil {
			return nil, through, err
		}
	}
	if more {
		tail, err := decodeTail(btx.Bucket(metaBucket).Get(keyLogTail), false)
		if err != nil {
			return nil, through, err
		}
		for _, r := range tail {
			if more, err = visit(r.version, r.data); err != nil || !more {
				break
			}
		}
		if err != nil {
			return nil, through, err
		}
	}
	if full {
		return out, through, nil
	}
	// Checked again after reading: a trim racing this read may have removed
	// records it needed.
	if after < s.logFloor.Load() {
		return nil, after, fmt.Errorf("storage: changes after version %d: %w", after, ErrResync)
	}
	return out, upto, nil
}

// logRecord is one version's encoded changes.
type logRecord struct {
	version uint64
	data    []byte
}

// tailBudget bounds the log tail, so that the meta bucket stays small enough
// (a quarter page) for bbolt to keep it inline in the root page.
const tailBudget = 640

// appendLog adds a commit's records to the change log. Appending to the log
// bucket rewrites its last leaf and branch pages, two page writes that cost
// a lone small commit about as much as its own row; so small records collect
// in a tail inside the meta bucket, whose page (the root, with the version)
// every commit rewrites anyway, and move to the bucket together when the
// tail would outgrow tailBudget.
func (s *Store) appendLog(btx *bolt.Tx, recs []logRecord) error {
	if len(recs) == 0 {
		return nil
	}
	meta := btx.Bucket(metaBucket)
	tail := meta.Get(keyLogTail)
	n := len(tail)
	for _, r := range recs {
		n += 2*binary.MaxVarintLen64 + len(r.data)
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
		v, rest, err := uvarint(b)
		if err != nil {
			return nil, &CorruptError{Key: "tail", Problem: "bad framing"}
		}
		data, rest, err := field(rest)
		if err != nil {
			return nil, &CorruptError{Key: "tail", Problem: "bad framing"}
		}
		if copyData {
			data = append([]byte(nil), data...)
		}
		out = append(out, logRecord{version: v, data: data})
		b = rest
	}
	return out, nil
}

// encodeRecord lays out version's changes as a log record: its checksum
// (see openRecord), then count, then per change table, key, op, value, each
// string length-prefixed (uvarint).
func encodeRecord(version uint64, cs []Change) []byte {
	b := encodeChanges(recordHeader, cs)
	binary.LittleEndian.PutUint32(b, sumRecord(version, b[recordHeader:]))
	return b
}

// encodeChanges encodes changes after skip zero bytes.
func encodeChanges(skip int, cs []Change) []byte {
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
func decodeRecord(version uint64, rec []byte) ([]Change, error) {
	data, why := openRecord(version, rec)
	if why == "" {
		cs, err := decodeChanges(data)
		if err == nil {
			return cs, nil
		}
		why = "undecodable despite a good checksum"
	}
	return nil, &CorruptError{Key: fmt.Sprintf("at version %d", version), Problem: why}
}

func decodeChanges(b []byte) ([]Change, error) {
	n, b, err := uvarint(b)
	if err != nil || n > uint64(len(b)) {
		return nil, errCorrupt
	}
	out := make([]Change, 0, n)
	for range n {
		var c Change
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
		c.Op, b = Op(b[0]), b[1:]
		if val, b, err = field(b); err != nil {
			return nil, err
		}
		c.Table, c.Key = string(table), string(key)
		if c.Op == OpPut {
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
