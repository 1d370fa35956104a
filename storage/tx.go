package storage

import (
	"bytes"
	"fmt"
	"runtime/debug"
	"slices"

	bolt "go.etcd.io/bbolt"
)

// KV is one row: its key and its stored bytes.
type KV struct {
	Key   string
	Value []byte
}

// ScanOptions select a page of a table, in key order.
type ScanOptions struct {
	// Prefix keeps keys that start with it.
	Prefix string
	// After starts the page after this key (exclusive): pass the previous
	// page's next cursor. In reverse, the page starts before it.
	After string
	// Limit is the page size: 0 means 100; more than 1000 means 1000.
	Limit int
	// Reverse walks keys from last to first.
	Reverse bool
}

// Scan limits.
const (
	DefaultScanLimit = 100
	MaxScanLimit     = 1000
)

// ReadTx is a read transaction: a consistent snapshot at Version. Values it
// returns are copies, safe to keep. A value that fails its checksum is
// returned as a [*CorruptError] naming its table and key, never served.
type ReadTx struct {
	s       *Store
	tx      *bolt.Tx
	version uint64
}

// Version returns the version of the snapshot.
func (r *ReadTx) Version() uint64 { return r.version }

func (r *ReadTx) bucket(table string) (*bolt.Bucket, []byte, error) {
	name, ok := r.s.tables[table]
	if !ok {
		return nil, nil, fmt.Errorf("storage: table %q: %w", table, ErrNoTable)
	}
	b := r.tx.Bucket(name)
	if b == nil { // declared tables all have buckets once Open is done
		return nil, nil, fmt.Errorf("storage: table %q has no bucket in the data file: %w", table, ErrCorrupt)
	}
	return b, name, nil
}

// open checks a stored value and returns a copy of the caller's bytes.
func (r *ReadTx) open(table string, bucket, key, stored []byte) ([]byte, error) {
	v, why := openValue(bucket, key, stored)
	if why != "" {
		return nil, &CorruptError{Table: table, Key: string(key), Problem: why}
	}
	return bytes.Clone(v), nil
}

// Get returns the value stored under key, and whether there is one.
func (r *ReadTx) Get(table, key string) (_ []byte, _ bool, err error) {
	defer r.s.catch(&err, "read")
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	b, name, err := r.bucket(table)
	if err != nil {
		return nil, false, err
	}
	k := []byte(key)
	v := b.Get(k)
	if v == nil {
		return nil, false, nil
	}
	if v, err = r.open(table, name, k, v); err != nil {
		return nil, false, err
	}
	return v, true, nil
}

// Scan returns a page of rows and the cursor for the next page ("" when this
// page is the last). A damaged row in the page fails the whole page with a
// [*CorruptError] naming it.
func (r *ReadTx) Scan(table string, o ScanOptions) (_ []KV, _ string, err error) {
	defer r.s.catch(&err, "scan")
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	b, name, err := r.bucket(table)
	if err != nil {
		return nil, "", err
	}
	limit := o.Limit
	if limit <= 0 {
		limit = DefaultScanLimit
	}
	limit = min(limit, MaxScanLimit)
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
	var out []KV
	for ; k != nil && bytes.HasPrefix(k, prefix); k, v = step() {
		if len(out) == limit {
			return out, out[len(out)-1].Key, nil
		}
		val, err := r.open(table, name, k, v)
		if err != nil {
			return nil, "", err
		}
		out = append(out, KV{Key: string(k), Value: val})
	}
	return out, "", nil
}

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

// WriteTx is a write transaction: a ReadTx that also writes. It sees its own
// writes. Its Version is the version it commits as.
type WriteTx struct {
	ReadTx
	changes []Change
	undo    []undoEntry
	touched map[tableKey]struct{}
	unsafe  error // a step of Try could not be undone: the commit must fail
}

type tableKey struct{ table, key string }

// undoEntry restores a key's value from before the function touched it.
type undoEntry struct {
	tk    tableKey
	b     *bolt.Bucket
	key   []byte
	prev  []byte
	found bool
}

func (w *WriteTx) checkKey(table, key string) (*bolt.Bucket, []byte, error) {
	b, name, err := w.bucket(table)
	if err != nil {
		return nil, nil, err
	}
	if key == "" {
		return nil, nil, fmt.Errorf("storage: table %q: empty key: every row needs a non-empty key", table)
	}
	if len(key) > bolt.MaxKeySize {
		return nil, nil, fmt.Errorf("storage: table %q: key of %d bytes exceeds the limit of %d", table, len(key), bolt.MaxKeySize)
	}
	return b, name, nil
}

// remember records key's current value the first time this function touches it.
func (w *WriteTx) remember(table string, b *bolt.Bucket, key []byte) {
	tk := tableKey{table, string(key)}
	if _, ok := w.touched[tk]; ok {
		return
	}
	if w.touched == nil {
		w.touched = make(map[tableKey]struct{})
	}
	w.touched[tk] = struct{}{}
	prev := b.Get(key)
	w.undo = append(w.undo, undoEntry{tk: tk, b: b, key: key, prev: bytes.Clone(prev), found: prev != nil})
}

// Put stores value under key, replacing any value there. The value is
// stored with its checksum.
func (w *WriteTx) Put(table, key string, value []byte) (err error) {
	defer w.s.catch(&err, "write")
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	b, name, err := w.checkKey(table, key)
	if err != nil {
		return err
	}
	// A new slice: bbolt keeps the key and value until commit.
	k := []byte(key)
	stored := sealValue(name, k, value)
	w.remember(table, b, k)
	if err := b.Put(k, stored); err != nil {
		return fmt.Errorf("storage: table %q: put %q: %w", table, shortKey(key), err)
	}
	w.changes = append(w.changes, Change{Table: table, Key: key, Op: OpPut, Value: stored[valueHeader:]})
	return nil
}

// Delete removes key; deleting a missing key is not an error and records no
// change.
func (w *WriteTx) Delete(table, key string) (err error) {
	defer w.s.catch(&err, "delete")
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	b, _, err := w.checkKey(table, key)
	if err != nil {
		return err
	}
	k := []byte(key)
	if b.Get(k) == nil {
		return nil
	}
	w.remember(table, b, k)
	if err := b.Delete(k); err != nil {
		return fmt.Errorf("storage: table %q: delete %q: %w", table, shortKey(key), err)
	}
	w.changes = append(w.changes, Change{Table: table, Key: key, Op: OpDelete})
	return nil
}

// Try runs fn as one step of w, sharing its transaction and version: if fn
// fails (or panics), its writes are undone and w goes on without them; if it
// succeeds, they are w's. It returns fn's error. Several mutations can so
// commit together, each all or nothing (a replica's rebase). A failed step
// whose writes cannot be undone fails the whole commit.
func (w *WriteTx) Try(fn func(*WriteTx) error) error {
	step := &WriteTx{ReadTx: w.ReadTx}
	err := runFn(fn, step)
	if w.unsafe == nil {
		w.unsafe = step.unsafe // from a Try inside fn
	}
	if err != nil {
		if rbErr := step.rollback(); rbErr != nil && w.unsafe == nil {
			w.unsafe = rbErr
		}
		return err
	}
	w.changes = append(w.changes, step.changes...)
	for _, u := range step.undo {
		if _, ok := w.touched[u.tk]; ok {
			continue // w's own entry holds the older value
		}
		if w.touched == nil {
			w.touched = make(map[tableKey]struct{})
		}
		w.touched[u.tk] = struct{}{}
		w.undo = append(w.undo, u)
	}
	return nil
}

// Changes returns the changes w has made so far, in order. The slice is w's
// own: read it, do not change it.
func (w *WriteTx) Changes() []Change { return slices.Clip(w.changes) }

// rollback undoes every write of this function, in the shared transaction.
func (w *WriteTx) rollback() error {
	for i := len(w.undo) - 1; i >= 0; i-- {
		u := w.undo[i]
		var err error
		if u.found {
			err = u.b.Put(u.key, u.prev)
		} else {
			err = u.b.Delete(u.key)
		}
		if err != nil {
			return fmt.Errorf("storage: roll back %q: %w", u.key, err)
		}
	}
	return nil
}
