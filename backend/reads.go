package backend

import (
	"encoding/json"
	"fmt"
	"unicode/utf8"

	"github.com/mcp-sync/mcp-sync/schema"
	"github.com/mcp-sync/mcp-sync/storage"
)

// The methods in this file are the client-facing read path: the MCP layer
// and the Go client's server side read through them only. A server-only table
// is reported exactly like an undeclared one, so its name never leaks.

// ClientTables returns the tables clients may see, in declaration order:
// every declared table that is not server-only.
func (e *Engine) ClientTables() []*schema.TableInfo {
	var out []*schema.TableInfo
	for _, t := range e.cfg.Schema.Tables() {
		if !t.ServerOnly {
			out = append(out, t)
		}
	}
	return out
}

func (e *Engine) clientTable(name string) (*schema.TableInfo, error) {
	t, ok := e.cfg.Schema.Table(name)
	if !ok || t.ServerOnly {
		return nil, unknownf("no table named %s", Short(name))
	}
	return t, nil
}

// Version returns the last committed version.
func (e *Engine) Version() uint64 { return e.store.Version() }

// Get returns a client-visible row as JSON, whether it exists, and the
// version the read saw.
func (e *Engine) Get(table, key string) (json.RawMessage, bool, uint64, error) {
	if _, err := e.clientTable(table); err != nil {
		return nil, false, 0, err
	}
	if err := checkKey(table, key); err != nil {
		return nil, false, 0, withKind(ErrInvalidInput, "", err)
	}
	var (
		val []byte
		ok  bool
		ver uint64
	)
	err := e.store.View(func(tx *storage.ReadTx) error {
		var err error
		val, ok, err = tx.Get(table, key)
		ver = tx.Version()
		return err
	})
	if err != nil {
		return nil, false, 0, e.storageFailure(fmt.Sprintf("table %s: get %s", table, Short(key)), err)
	}
	return val, ok, ver, nil
}

// Scan returns client-visible rows in key order, the cursor for the next page
// ("" when there is none), and the version the read saw.
func (e *Engine) Scan(table string, o ScanOptions) ([]Row, string, uint64, error) {
	if _, err := e.clientTable(table); err != nil {
		return nil, "", 0, err
	}
	if err := checkScan(table, o); err != nil {
		return nil, "", 0, withKind(ErrInvalidInput, "", err)
	}
	var (
		kvs  []storage.KV
		next string
		ver  uint64
	)
	err := e.store.View(func(tx *storage.ReadTx) error {
		var err error
		kvs, next, err = tx.Scan(table, o)
		ver = tx.Version()
		return err
	})
	if err != nil {
		return nil, "", 0, e.storageFailure("table "+table+": scan", err)
	}
	rows := make([]Row, len(kvs))
	for i, kv := range kvs {
		rows[i] = Row{Key: kv.Key, Value: kv.Value}
	}
	return rows, next, ver, nil
}

// Subscribe watches a client-visible table (f.Table is required), a key
// prefix in it or one row, delivering every change committed after version
// from. See storage.Subscription for ordering and resync.
func (e *Engine) Subscribe(f storage.Filter, from uint64) (*storage.Subscription, error) {
	if _, err := e.clientTable(f.Table); err != nil {
		return nil, err
	}
	if err := checkFilter(f); err != nil {
		return nil, err
	}
	return e.store.Subscribe(f, from)
}

// Run returns the enqueued action run with id, and whether it exists, as a
// client may see it: a [schema.Sensitive] action's input and output are left
// out (Redacted says so). Server code that needs them reads [RunsTable]
// through Store.
func (e *Engine) Run(id string) (*Run, bool, error) {
	if id == "" || len(id) > MaxKeyBytes || !utf8.ValidString(id) {
		return nil, false, nil // no run has such an id
	}
	var (
		run *Run
		ok  bool
	)
	err := e.store.View(func(tx *storage.ReadTx) error {
		var err error
		run, ok, err = getRun(tx, id)
		return err
	})
	if err != nil {
		return nil, false, e.storageFailure("run "+Short(id), err)
	}
	if ok {
		if info, found := e.cfg.Schema.Action(run.Action); found && info.Sensitive {
			run.Input, run.Output, run.Redacted = nil, nil, true
		}
	}
	return run, ok, nil
}

// SubscribeRun watches one run's record (in [RunsTable]) from version from.
func (e *Engine) SubscribeRun(id string, from uint64) (*storage.Subscription, error) {
	return e.store.Subscribe(storage.Filter{Table: RunsTable, Key: id}, from)
}
