package bolt

import (
	"encoding/binary"
	"fmt"
	"runtime/debug"

	"github.com/mcp-sync/mcp-sync/storage"
)

// ReadLog calls visit with the changes of each version in (after, upto], in
// order, until visit returns false (see storage.DriverReadTx).
//
// Format-4 records hold undos (logcodec.go), so values are rebuilt
// backwards from the rows in the table, as this transaction sees them: a
// window of records is read forwards, every newer record is undone for the
// rows the window touches, then the window itself, newest first, each
// change's value being the row as it was before the next one undid it.
// Windows hold up to windowChanges changes (Options.logWindow in tests),
// bounding what a read keeps in memory to one window's records and rope
// headers plus the rows it changes; a range longer than a window undoes the
// newer records once per window.
func (r *readTx) ReadLog(after, upto uint64, visit func(version uint64, changes []storage.Change) bool) (err error) {
	s := r.s
	defer s.catch(&err, "read the change log")
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	if after < s.logFloor.Load() {
		return fmt.Errorf("storage: changes after version %d: %w", after, storage.ErrResync)
	}
	stopped := false // by visit
	for from := after; from < upto && !stopped; {
		w, err := r.readWindow(from, upto)
		if err != nil {
			return err
		}
		if err := r.rebuild(w); err != nil {
			return err
		}
		for _, e := range w.entries {
			if !visit(e.version, e.values()) {
				stopped = true
				break
			}
		}
		from = w.to
	}
	// Checked again after reading: a trim racing this read may have removed
	// records it needed. A reader that stopped early has what it asked for.
	if !stopped && after < s.logFloor.Load() {
		return fmt.Errorf("storage: changes after version %d: %w", after, storage.ErrResync)
	}
	return nil
}

// windowChanges is how many changes a window of ReadLog holds by default
// (at least one version's, however many that has): about 200 B each.
const windowChanges = 2048

// logWindow is the records of versions (from, to] and, once rebuilt, the
// value after each of their puts.
type logWindow struct {
	entries []logEntry
	to      uint64
	rows    map[string]*rowState // the rows the window changes, by rowKey
}

type logEntry struct {
	version uint64
	changes []logChange
	after   []rope // per change: the value it put
}

// values returns the entry's changes with their values, the caller's to
// keep.
func (e *logEntry) values() []storage.Change {
	out := make([]storage.Change, len(e.changes))
	for i, c := range e.changes {
		out[i] = storage.Change{Table: string(c.table), Key: string(c.key), Op: c.op}
		if c.op == storage.OpPut {
			out[i].Value = e.after[i].bytes()
		}
	}
	return out
}

// rowState is a row's value at the point the backwards rebuild has reached.
type rowState struct {
	table, key []byte
	loaded     bool // from the table
	present    bool
	damaged    bool // a damaged value in its history: not rebuildable past it
	val        rope
}

// rowKey appends the map key of table's key to buf.
func rowKey(buf, table, key []byte) []byte {
	buf = binary.AppendUvarint(buf[:0], uint64(len(table)))
	return append(append(buf, table...), key...)
}

// readWindow reads the records after from, up to upto, until windowChanges
// changes are read.
func (r *readTx) readWindow(from, upto uint64) (*logWindow, error) {
	w := &logWindow{to: upto, rows: make(map[string]*rowState)}
	n := 0
	var buf []byte
	err := r.forwardLog(from, func(ver uint64, data []byte) (bool, error) {
		if ver > upto {
			return false, nil
		}
		cs, err := decodeRecord(ver, data, ver < r.s.deltaSince)
		if err != nil {
			return false, err
		}
		for _, c := range cs {
			buf = rowKey(buf, c.table, c.key)
			if w.rows[string(buf)] == nil {
				w.rows[string(buf)] = &rowState{table: c.table, key: c.key}
			}
		}
		w.entries = append(w.entries, logEntry{version: ver, changes: cs})
		if n += len(cs); n >= r.s.opts.logWindow && ver < upto {
			w.to = ver
			return false, nil
		}
		return true, nil
	})
	return w, err
}

// rebuild sets the value after each put of w, undoing every record after
// w.to, then w's own.
func (r *readTx) rebuild(w *logWindow) error {
	var buf []byte
	err := r.backwardLog(w.to, func(ver uint64, data []byte) error {
		cs, err := decodeRecord(ver, data, ver < r.s.deltaSince)
		if err != nil {
			return err
		}
		for i := len(cs) - 1; i >= 0; i-- {
			buf = rowKey(buf, cs[i].table, cs[i].key)
			if st := w.rows[string(buf)]; st != nil {
				if err := r.undo(st, ver, &cs[i]); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	for i := len(w.entries) - 1; i >= 0; i-- {
		e := &w.entries[i]
		e.after = make([]rope, len(e.changes))
		for j := len(e.changes) - 1; j >= 0; j-- {
			c := &e.changes[j]
			buf = rowKey(buf, c.table, c.key)
			st := w.rows[string(buf)]
			if err := r.load(st); err != nil {
				return err
			}
			if c.op == storage.OpPut {
				switch {
				case c.kind == kindAfter:
					e.after[j] = ropeOf(c.data)
				case st.damaged:
					return fmt.Errorf("storage: the change log cannot rebuild the value of table %q, key %q at version %d, a damaged value being in its history: %w",
						c.table, storage.ShortKey(string(c.key)), e.version, storage.ErrResync)
				case !st.present:
					return mismatch(e.version)
				default:
					e.after[j] = st.val
				}
			}
			if err := r.undo(st, e.version, c); err != nil {
				return err
			}
		}
	}
	return nil
}

// load reads st's row from the table, once. In a write transaction, a row
// the commit has written is taken as the commit found it: the log holds
// none of the commit's records until its functions have all run.
func (r *readTx) load(st *rowState) error {
	if st.loaded {
		return nil
	}
	st.loaded = true
	if r.w != nil {
		if img, ok := r.w.before[string(rowKey(nil, st.table, st.key))]; ok {
			st.present, st.damaged, st.val = img.found && !img.damaged, img.damaged, ropeOf(img.val)
			return nil
		}
	}
	name := []byte(tablePrefix + string(st.table))
	b := r.tx.Bucket(name)
	if b == nil {
		return nil // a table no longer declared, dropped: the log still names it
	}
	v := b.Get(st.key)
	if v == nil {
		return nil
	}
	segs, n, why := readStored(r.tx, name, st.key, v)
	if why != "" {
		st.damaged = true
		return nil
	}
	st.present, st.val = true, rope{segs: segs, n: n}
	if len(segs) > maxSegs {
		st.val = ropeOf(st.val.bytes())
	}
	return nil
}

// undo turns st, the row after change c of version ver, into the row
// before it.
func (r *readTx) undo(st *rowState, ver uint64, c *logChange) error {
	if err := r.load(st); err != nil {
		return err
	}
	if c.kind == kindAfter { // format 3: the value before is not logged
		st.damaged = true
		return nil
	}
	if !st.damaged && (c.op == storage.OpPut) != st.present {
		return mismatch(ver)
	}
	switch c.kind {
	case kindNew:
		st.present, st.damaged, st.val = false, false, rope{}
	case kindSplice:
		if st.damaged {
			return nil
		}
		v, ok := st.val.splice(c.p, c.s, c.data)
		if !ok {
			return mismatch(ver)
		}
		st.val = v
	case kindFull:
		st.present, st.damaged, st.val = true, false, ropeOf(c.data)
	case kindUnknown:
		st.damaged = true
	}
	return nil
}

// mismatch is a record at version that does not fit the row it changed:
// the log and the table disagree.
func mismatch(version uint64) error {
	return &storage.CorruptError{Key: fmt.Sprintf("at version %d", version), Problem: "does not match the row it changed"}
}

// forwardLog calls fn with each record after version after, oldest first,
// until fn returns false. The bucket holds the older records, the tail the
// newest (appendLog).
func (r *readTx) forwardLog(after uint64, fn func(ver uint64, data []byte) (bool, error)) error {
	c := r.tx.Bucket(logBucket).Cursor()
	for k, v := c.Seek(versionKey(after + 1)); k != nil; k, v = c.Next() {
		if more, err := fn(binary.BigEndian.Uint64(k), v); err != nil || !more {
			return err
		}
	}
	tail, err := decodeTail(r.tx.Bucket(metaBucket).Get(keyLogTail), false)
	if err != nil {
		return err
	}
	for _, rec := range tail {
		if rec.version <= after {
			continue
		}
		if more, err := fn(rec.version, rec.data); err != nil || !more {
			return err
		}
	}
	return nil
}

// backwardLog calls fn with each record after version after, newest first.
func (r *readTx) backwardLog(after uint64, fn func(ver uint64, data []byte) error) error {
	tail, err := decodeTail(r.tx.Bucket(metaBucket).Get(keyLogTail), false)
	if err != nil {
		return err
	}
	for i := len(tail) - 1; i >= 0; i-- {
		if tail[i].version <= after {
			return nil
		}
		if err := fn(tail[i].version, tail[i].data); err != nil {
			return err
		}
	}
	c := r.tx.Bucket(logBucket).Cursor()
	for k, v := c.Last(); k != nil; k, v = c.Prev() {
		ver := binary.BigEndian.Uint64(k)
		if ver <= after {
			return nil
		}
		if err := fn(ver, v); err != nil {
			return err
		}
	}
	return nil
}
