package bolt

import (
	"bytes"
	"fmt"
	"runtime/debug"

	"github.com/mcp-sync/mcp-sync/storage"
	bbolt "go.etcd.io/bbolt"
)

// readTx is a storage.DriverReadTx over a bbolt transaction.
type readTx struct {
	s       *Driver
	tx      *bbolt.Tx
	version uint64

	// w is the write transaction this is part of, if any: ReadLog there
	// rebuilds from the rows as the commit found them.
	w *writeTx

	// The bucket last used: a write looks its key up (for the undo log)
	// then writes it, and a function mostly writes one table.
	lastTable string
	lastB     *bbolt.Bucket
	lastName  []byte
}

func (r *readTx) Version() uint64 { return r.version }

func (r *readTx) bucket(table string) (*bbolt.Bucket, []byte, error) {
	if r.lastB != nil && table == r.lastTable {
		return r.lastB, r.lastName, nil
	}
	name, ok := r.s.tables[table]
	if !ok { // the Store checks tables first
		return nil, nil, fmt.Errorf("storage: table %q: %w", table, storage.ErrNoTable)
	}
	b := r.tx.Bucket(name)
	if b == nil { // declared tables all have buckets once Open is done
		return nil, nil, fmt.Errorf("storage: table %q has no bucket in the data file: %w", table, storage.ErrCorrupt)
	}
	r.lastTable, r.lastB, r.lastName = table, b, name
	return b, name, nil
}

// open checks a stored value (inline or segmented) and returns a copy of
// the caller's bytes.
func (r *readTx) open(table string, bucket, key, stored []byte) ([]byte, error) {
	if isHead(stored) {
		v, why := readValue(r.tx, bucket, key, stored)
		if why != "" {
			return nil, &storage.CorruptError{Table: table, Key: string(key), Problem: why}
		}
		return v, nil
	}
	v, why := openValue(bucket, key, stored)
	if why != "" {
		return nil, &storage.CorruptError{Table: table, Key: string(key), Problem: why}
	}
	return bytes.Clone(v), nil
}

// lookup returns key's stored bytes in table (nil when there is no row),
// with the key and bucket name that reading its segments takes. It reads
// the mapped file: callers recover its faults.
func (r *readTx) lookup(table, key string) (name, k, stored []byte, err error) {
	b, name, err := r.bucket(table)
	if err != nil {
		return nil, nil, nil, err
	}
	k = []byte(key)
	return name, k, b.Get(k), nil
}

func (r *readTx) Get(table, key string) (_ []byte, _ bool, err error) {
	defer r.s.catch(&err, "read")
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	name, k, v, err := r.lookup(table, key)
	if v == nil || err != nil {
		return nil, false, err
	}
	if v, err = r.open(table, name, k, v); err != nil {
		return nil, false, err
	}
	return v, true, nil
}

func (r *readTx) Scan(table string, o storage.ScanOptions) (_ []storage.KV, _ string, err error) {
	defer r.s.catch(&err, "scan")
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	b, name, err := r.bucket(table)
	if err != nil {
		return nil, "", err
	}
	prefix, after := []byte(o.Prefix), []byte(o.After)
	c := b.Cursor()
	var k, v []byte
	if !o.Reverse {
		switch {
		case o.After != "" && bytes.Compare(after, prefix) >= 0:
			k, v = c.Seek(after)
			if bytes.Equal(k, after) {
				k, v = c.Next()
			}
		default:
			k, v = c.Seek(prefix)
		}
	} else {
		end := prefixEnd(prefix) // first key past the prefix range, nil if none
		if o.After != "" && (end == nil || bytes.Compare(after, end) < 0) {
			end = after
		}
		if end == nil {
			k, v = c.Last()
		} else {
			k, v = c.Seek(end)
			if k == nil {
				k, v = c.Last()
			}
			// Seek lands on the first key >= end; step back past it.
			for k != nil && bytes.Compare(k, end) >= 0 {
				k, v = c.Prev()
			}
		}
	}
	step := c.Next
	if o.Reverse {
		step = c.Prev
	}
	var (
		out   []storage.KV
		arena []byte
		sr    = segReader{tx: r.tx, name: name}
	)
	for ; k != nil && bytes.HasPrefix(k, prefix); k, v = step() {
		if len(out) == o.Limit {
			return out, out[len(out)-1].Key, nil
		}
		segs, n, why := sr.read(k, v)
		if why != "" {
			return nil, "", &storage.CorruptError{Table: table, Key: string(k), Problem: why}
		}
		if n > cap(arena)-len(arena) {
			arena = make([]byte, 0, max(scanArena, n))
		}
		start := len(arena)
		for _, seg := range segs {
			arena = append(arena, seg...)
		}
		out = append(out, storage.KV{Key: string(k), Value: arena[start:len(arena):len(arena)]})
	}
	return out, "", nil
}

// scanArena is the size of the blocks a page's values are copied into:
// one allocation for many small values instead of one each.
const scanArena = 16 << 10

// prefixEnd returns the smallest key greater than every key with prefix p,
// or nil when there is none (p empty or all 0xff).
func prefixEnd(p []byte) []byte {
	end := bytes.Clone(p)
	for i := len(end) - 1; i >= 0; i-- {
		if end[i] < 0xff {
			end[i]++
			return end[:i+1]
		}
	}
	return nil
}

// writeTx is a storage.DriverWriteTx: one write function's view of the
// commit's shared bbolt transaction. The commit's functions share it, so
// what it tracks for the change log spans the commit.
type writeTx struct {
	readTx

	// before is each row as the commit found it, taken at the first write
	// of it (a function that fails puts it back, so it stays true); rows is
	// each row after the changes logged so far. From both undoRecord logs a
	// change as its undo. Keyed by rowKey.
	before, rows map[string]rowImage
	buf          []byte
	audit        []byte // the running function's audit record (audit.go)
}

// rowImage is a row's value at some point of a commit.
type rowImage struct {
	val     []byte // the caller's bytes: valid for the transaction
	found   bool
	damaged bool // found, but failing its checksum
}

// capture notes key's row as the commit found it, the first time the
// commit writes it.
func (w *writeTx) capture(table string, name []byte, b *bbolt.Bucket, k []byte) {
	w.buf = rowKey(w.buf, []byte(table), k)
	if _, ok := w.before[string(w.buf)]; ok {
		return
	}
	if w.before == nil {
		w.before = make(map[string]rowImage)
	}
	img := rowImage{}
	if v := b.Get(k); v != nil {
		var why string
		if isHead(v) {
			img.val, why = readValue(w.tx, name, k, v)
		} else {
			img.val, why = openValue(name, k, v)
		}
		img.found, img.damaged = true, why != ""
	}
	w.before[string(w.buf)] = img
}

// undoRecord encodes version's changes for the log as their undos
// (logcodec.go): a row the version created as kindNew, a put over a row as a
// splice or the whole old value, whichever is smaller, a delete as the
// whole old value.
func (w *writeTx) undoRecord(version uint64, changes []storage.Change) []byte {
	if w.rows == nil {
		w.rows = make(map[string]rowImage)
	}
	cs := make([]logChange, len(changes))
	for i, c := range changes {
		w.buf = rowKey(w.buf, []byte(c.Table), []byte(c.Key))
		prev, ok := w.rows[string(w.buf)]
		if !ok {
			prev, ok = w.before[string(w.buf)]
		}
		lc := logChange{table: []byte(c.Table), key: []byte(c.Key), op: c.Op}
		switch {
		case !ok || prev.damaged || (!prev.found && c.Op == storage.OpDelete):
			lc.kind = kindUnknown // not reached through Put or Delete: never, but safe
		case !prev.found:
			lc.kind = kindNew
		case c.Op == storage.OpDelete:
			lc.kind, lc.data = kindFull, prev.val
		default:
			u := undoOf(prev.val, c.Value)
			lc.kind, lc.p, lc.s, lc.data = u.kind, u.p, u.s, u.data
		}
		cs[i] = lc
		w.rows[string(w.buf)] = rowImage{val: c.Value, found: c.Op == storage.OpPut}
	}
	return encodeRecord(version, cs)
}

func (w *writeTx) Put(table, key string, value []byte) (_ []byte, err error) {
	defer w.s.catch(&err, "write")
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	b, name, err := w.bucket(table)
	if err != nil {
		return nil, err
	}
	// A new slice: bbolt keeps the key and value until commit.
	k := []byte(key)
	w.capture(table, name, b, k)
	old := b.Get(k)
	if segmented(k, len(value)) || isHead(old) {
		if err := putValue(w.tx, b, name, k, old, value); err != nil {
			return nil, fmt.Errorf("storage: table %q: put %q: %w", table, storage.ShortKey(key), err)
		}
		return bytes.Clone(value), nil
	}
	stored := sealValue(name, k, value)
	if err := b.Put(k, stored); err != nil {
		return nil, fmt.Errorf("storage: table %q: put %q: %w", table, storage.ShortKey(key), err)
	}
	return stored[valueHeader:], nil
}

func (w *writeTx) Delete(table, key string) (_ bool, err error) {
	defer w.s.catch(&err, "delete")
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	b, name, err := w.bucket(table)
	if err != nil {
		return false, err
	}
	k := []byte(key)
	old := b.Get(k)
	if old == nil {
		return false, nil
	}
	w.capture(table, name, b, k)
	if isHead(old) {
		if err := dropSegments(w.tx, name, k, 0); err != nil {
			return false, fmt.Errorf("storage: table %q: delete %q: %w", table, storage.ShortKey(key), err)
		}
	}
	if err := b.Delete(k); err != nil {
		return false, fmt.Errorf("storage: table %q: delete %q: %w", table, storage.ShortKey(key), err)
	}
	return true, nil
}

func (w *writeTx) Raw(table, key string) (_ []byte, _ bool, err error) {
	defer w.s.catch(&err, "read")
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	name, k, v, err := w.lookup(table, key)
	if v == nil || err != nil {
		return nil, false, err
	}
	return rawRow(w.tx, name, k, v), true, nil
}

func (w *writeTx) Restore(table, key string, raw []byte, found bool) (err error) {
	defer w.s.catch(&err, "roll back")
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	b, name, err := w.bucket(table)
	if err != nil {
		return err
	}
	k := []byte(key)
	if found {
		return restoreRow(w.tx, b, name, k, raw)
	}
	if err := dropSegments(w.tx, name, k, 0); err != nil {
		return err
	}
	return b.Delete(k)
}
