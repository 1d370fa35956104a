package backend

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/mcp-sync/mcp-sync/schema"
	"github.com/mcp-sync/mcp-sync/storage"
)

// The methods in this file are the client-facing read path: the MCP layer
// and the Go client's replica read through them only. On a server engine a
// server-only table is reported exactly like an undeclared one, so its name
// never leaks.

// ClientTables returns the tables clients may see, in declaration order:
// every declared table that is not server-only.
func (e *Engine) ClientTables() []*schema.TableInfo {
	return except(e.cfg.Schema.Tables(), func(t *schema.TableInfo) bool { return t.ServerOnly })
}

// ClientMutators returns the mutators clients may call, in declaration
// order: every declared mutator that is not internal (schema.Internal).
func (e *Engine) ClientMutators() []*schema.MutatorInfo {
	return except(e.cfg.Schema.Mutators(), func(m *schema.MutatorInfo) bool { return m.Internal })
}

// ClientActions returns the actions clients may call, in declaration order:
// every declared action that is not internal (schema.Internal).
func (e *Engine) ClientActions() []*schema.ActionInfo {
	return except(e.cfg.Schema.Actions(), func(a *schema.ActionInfo) bool { return a.Internal })
}

// except returns the declarations in all that hidden does not hold, in
// order, in a new slice (the schema's own are shared).
func except[T any](all []T, hidden func(T) bool) []T {
	var out []T
	for _, d := range all {
		if !hidden(d) {
			out = append(out, d)
		}
	}
	return out
}

// clientTable returns the declared table name when a client may see it:
// on a server, one that is not server-only; on a replica engine
// (Options.Replica), any, since its data is the client's own copy (a
// server-only table there holds only what the client's mutators wrote).
func (e *Engine) clientTable(name string) (*schema.TableInfo, error) {
	t, ok := e.cfg.Schema.Table(name)
	if !ok || t.ServerOnly && !e.opts.Replica {
		return nil, unknownf("no table named %s", Short(name))
	}
	return t, nil
}

// Version returns the last committed version.
func (e *Engine) Version() uint64 { return e.store.Version() }

// Get returns a client-visible row as JSON, whether it exists, and the
// version the read saw. ctx is the caller's request (the reads take it so
// that who is asking can travel with it): a done ctx reads nothing. In a
// private table (schema.Private) key names a row of ctx's owner (see
// [Engine.Owner]); another user's row under the same key is not seen.
// Fields missing from the stored row that declare a default (a row written
// before the field existed) read as their default, as they do for server
// code ([Table.GetJSON]); the change feed carries rows as stored.
func (e *Engine) Get(ctx context.Context, table, key string) (json.RawMessage, bool, uint64, error) {
	if err := ctx.Err(); err != nil {
		return nil, false, 0, err
	}
	info, err := e.clientTable(table)
	if err != nil {
		return nil, false, 0, err
	}
	if err := checkKey(table, key); err != nil {
		return nil, false, 0, withKind(ErrInvalidInput, "", err)
	}
	prefix, err := e.rowPrefix(ctx, info)
	if err != nil {
		return nil, false, 0, err
	}
	var (
		val []byte
		ok  bool
		ver uint64
	)
	err = e.store.View(func(tx *storage.ReadTx) error {
		var err error
		val, ok, err = tx.Get(table, prefix+key)
		ver = tx.Version()
		return err
	})
	if err != nil {
		return nil, false, 0, e.storageFailure(fmt.Sprintf("table %s: get %s", table, Short(key)), err)
	}
	if ok {
		val = info.Rows.WithDefaults(val)
	}
	return val, ok, ver, nil
}

// Scan returns client-visible rows in key order, the cursor for the next page
// ("" when there is none), and the version the read saw. ctx, defaults and
// private tables are as for [Engine.Get]: a private table's scan holds only
// ctx's owner's rows, under their keys as the owner names them.
func (e *Engine) Scan(ctx context.Context, table string, o ScanOptions) ([]Row, string, uint64, error) {
	if err := ctx.Err(); err != nil {
		return nil, "", 0, err
	}
	info, err := e.clientTable(table)
	if err != nil {
		return nil, "", 0, err
	}
	if err := checkScan(table, o); err != nil {
		return nil, "", 0, withKind(ErrInvalidInput, "", err)
	}
	prefix, err := e.rowPrefix(ctx, info)
	if err != nil {
		return nil, "", 0, err
	}
	var (
		kvs  []storage.KV
		next string
		ver  uint64
	)
	err = e.store.View(func(tx *storage.ReadTx) error {
		var err error
		kvs, next, err = tx.Scan(table, scoped(prefix, o))
		ver = tx.Version()
		return err
	})
	if err != nil {
		return nil, "", 0, e.storageFailure("table "+table+": scan", err)
	}
	return toRows(info, prefix, kvs), strings.TrimPrefix(next, prefix), ver, nil
}

// Run returns the enqueued action run with id, and whether it exists, as a
// client may see it: a [schema.Sensitive] action's input and output are left
// out (Redacted says so), a run of an internal action (schema.Internal) does
// not exist, and an internal mutator that enqueued a run is not named
// (EnqueuedBy is empty); the workers that run it read the full record.
// A run that records a caller (Run.Caller) is seen only by callers with
// the same owner ([Identity.Owner]: a local caller and a signed-in one are
// never the same) and by server code (no identity): to anyone else it
// does not exist. ctx is as for [Engine.Get].
func (e *Engine) Run(ctx context.Context, id string) (*Run, bool, error) {
	if err := ctx.Err(); err != nil {
		return nil, false, err
	}
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
		if !e.runVisible(ctx, run) {
			return nil, false, nil
		}
		info, found := e.cfg.Schema.Action(run.Action)
		if found && info.Sensitive {
			run.Input, run.Output, run.Redacted = nil, nil, true
		}
		if m, found := e.cfg.Schema.Mutator(run.EnqueuedBy); found && m.Internal {
			run.EnqueuedBy = ""
		}
	}
	return run, ok, nil
}

// runVisible reports whether ctx's caller may see run: a run of an
// internal action is no client's, and a run some caller started or
// enqueued is its owner's ([Identity.Owner]) and the server's. A local
// caller's run is not a signed-in caller's whose subject is the local
// user's name: they are different owners.
func (e *Engine) runVisible(ctx context.Context, run *Run) bool {
	if info, found := e.cfg.Schema.Action(run.Action); found && info.Internal {
		return false // its action's name is not the client's to know
	}
	id, ok := IdentityFrom(ctx)
	if !ok || run.Caller == nil {
		return true
	}
	return run.Caller.Owner() == id.Owner()
}
