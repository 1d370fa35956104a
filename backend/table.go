package backend

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/mcp-sync/mcp-sync/schema"
	"github.com/mcp-sync/mcp-sync/storage"
)

// reader is the read side of a storage transaction.
type reader interface {
	Get(table, key string) ([]byte, bool, error)
	Scan(table string, o storage.ScanOptions) ([]storage.KV, string, error)
}

// writer is a storage write transaction.
type writer interface {
	reader
	Put(table, key string, value []byte) error
	Delete(table, key string) error
}

// Row is one row as JSON.
type Row struct {
	Key   string          `json:"key"`
	Value json.RawMessage `json:"value"`
}

// ScanOptions selects rows for Scan, in key order. Limit 0 means 100; at most
// 1000 rows come back per call, with a cursor for the next page.
type ScanOptions = storage.ScanOptions

// Table gives access to one table by name inside a mutator (read and write)
// or an action (read only). Get one with MutatorCtx.Table or ActionCtx.Table,
// or typed with [TableOf]. Errors, such as an undeclared table name, are
// reported by each method. A private table's handle (schema.Private) reaches
// the rows of the owner its ctx names (the caller, or [WithOwner]), under
// their plain keys; with no owner, each method fails (ErrForbidden).
type Table struct {
	info *schema.TableInfo
	name string
	err  error // set when the table cannot be used
	view func(fn func(r reader) error) error
	w    writer  // nil: read only
	eng  *Engine // for its limits
	// prefix is the stored-key prefix of the owner's rows of a private
	// table (see private.go); "" otherwise.
	prefix string
}

// failure classifies a storage error met by op: the table's error (an
// undeclared name) stays as it is; a storage failure becomes internal, so
// that a handler returning it shows its caller a reference, not the
// storage's detail.
func (t *Table) failure(op string, err error) error {
	if err == t.err {
		return err
	}
	return t.eng.storageFailure("table "+t.name+": "+op, err)
}

func (t *Table) read(fn func(r reader) error) error {
	if t.err != nil {
		return t.err
	}
	return t.view(fn)
}

// GetJSON returns the row stored under key as JSON, and whether it exists.
// Fields missing from the stored row that declare a default (a row written
// before the field existed) read as their default.
func (t *Table) GetJSON(key string) (json.RawMessage, bool, error) {
	if err := checkKey(t.name, key); err != nil {
		return nil, false, err
	}
	var v []byte
	var ok bool
	err := t.read(func(r reader) error {
		var err error
		v, ok, err = r.Get(t.name, t.prefix+key)
		return err
	})
	if err != nil {
		return nil, false, t.failure("get "+Short(key), err)
	}
	if ok {
		v = t.info.Rows.WithDefaults(v)
	}
	return v, ok, nil
}

// Get decodes the row stored under key into dst and reports whether it
// exists; dst is left alone when it does not.
func (t *Table) Get(key string, dst any) (bool, error) {
	v, ok, err := t.GetJSON(key)
	if err != nil || !ok {
		return ok, err
	}
	if err := json.Unmarshal(v, dst); err != nil {
		return true, fmt.Errorf("table %s: decode %s: %w", t.name, Short(key), err)
	}
	return true, nil
}

// Scan returns rows in key order, and a cursor for the next page ("" when
// there is none): pass it as ScanOptions.After. Missing fields read as
// their declared defaults, as in GetJSON.
func (t *Table) Scan(o ScanOptions) ([]Row, string, error) {
	if err := checkScan(t.name, o); err != nil {
		return nil, "", err
	}
	var kvs []storage.KV
	var next string
	err := t.read(func(r reader) error {
		var err error
		kvs, next, err = r.Scan(t.name, scoped(t.prefix, o))
		return err
	})
	if err != nil {
		return nil, "", t.failure("scan", err)
	}
	return toRows(t.info, t.prefix, kvs), strings.TrimPrefix(next, t.prefix), nil
}

var errReadOnly = errors.New("actions cannot write tables directly: call ctx.Mutate with a mutator, so the write is one transaction subscribers see")

// Set stores v under key. v must encode to JSON matching the table's row
// schema; otherwise Set fails and, returned from the mutator, aborts its
// transaction. A value of the row type is encoded with
// [schema.Validator.Encode]: its nil slices and maps are stored as [] and
// {} (unless omitempty or declared nullable).
func (t *Table) Set(key string, v any) error {
	if t.err != nil {
		return t.err
	}
	if t.w == nil {
		return fmt.Errorf("table %s: set %s: %w", t.name, Short(key), errReadOnly)
	}
	if err := checkKey(t.name, key); err != nil {
		return err
	}
	data, err := t.info.Rows.Encode(v)
	if err != nil {
		return fmt.Errorf("table %s: set %s: encode: %w", t.name, Short(key), err)
	}
	if err := t.eng.checkRowSize(t.name, key, len(data)); err != nil {
		return err
	}
	if err := t.info.Rows.Validate(data); err != nil {
		return fmt.Errorf("table %s: set %s: %w", t.name, Short(key), err)
	}
	if err := t.w.Put(t.name, t.prefix+key, data); err != nil {
		return t.failure("set "+Short(key), err)
	}
	return nil
}

// Delete removes the row under key; deleting a missing row is not an error.
func (t *Table) Delete(key string) error {
	if t.err != nil {
		return t.err
	}
	if t.w == nil {
		return fmt.Errorf("table %s: delete %s: %w", t.name, Short(key), errReadOnly)
	}
	if err := checkKey(t.name, key); err != nil {
		return err
	}
	if err := t.w.Delete(t.name, t.prefix+key); err != nil {
		return t.failure("delete "+Short(key), err)
	}
	return nil
}

// Tables is what offers table access by name: *MutatorCtx and *ActionCtx.
type Tables interface {
	Table(name string) *Table
}

// TypedTable is a [Table] whose rows are T. Get one with [TableOf].
type TypedTable[T any] struct{ t *Table }

// TableOf returns typed access to the declared table d through ctx (a
// *MutatorCtx or *ActionCtx): backend.TableOf(ctx, Todos).Set(id, todo).
func TableOf[T any](ctx Tables, d schema.TableDef[T]) TypedTable[T] {
	return TypedTable[T]{ctx.Table(d.Name())}
}

// Get returns the row under key and whether it exists.
func (tt TypedTable[T]) Get(key string) (T, bool, error) {
	var v T
	ok, err := tt.t.Get(key, &v)
	return v, ok, err
}

// Set stores v under key.
func (tt TypedTable[T]) Set(key string, v T) error { return tt.t.Set(key, v) }

// Delete removes the row under key.
func (tt TypedTable[T]) Delete(key string) error { return tt.t.Delete(key) }

// Scan returns decoded rows in key order and the cursor for the next page.
func (tt TypedTable[T]) Scan(o ScanOptions) ([]T, string, error) {
	rows, next, err := tt.t.Scan(o)
	if err != nil {
		return nil, "", err
	}
	out := make([]T, len(rows))
	for i, r := range rows {
		if err := json.Unmarshal(r.Value, &out[i]); err != nil {
			return nil, "", fmt.Errorf("table %s: decode %s: %w", tt.t.name, Short(r.Key), err)
		}
	}
	return out, next, nil
}

// toRows turns the stored rows of table info into Rows, filling in the
// fields that declare a default and are missing (rows written before the
// field existed), and cutting a private table's owner prefix from the keys.
func toRows(info *schema.TableInfo, prefix string, kvs []storage.KV) []Row {
	rows := make([]Row, len(kvs))
	for i, kv := range kvs {
		rows[i] = Row{Key: strings.TrimPrefix(kv.Key, prefix), Value: info.Rows.WithDefaults(kv.Value)}
	}
	return rows
}
