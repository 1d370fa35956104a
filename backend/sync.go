package backend

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/mcp-sync/mcp-sync/storage"
)

// clientsTable records, per client id, the last pushed mutation applied:
// what makes a retried push apply once.
const clientsTable = ".clients"

// ClientState is the last mutation a client pushed that the server applied.
type ClientState struct {
	Seq     uint64 `json:"seq"`
	Version uint64 `json:"version"` // the version that mutation committed as
	At      int64  `json:"at"`      // when, in Unix seconds
}

// Pushed is the outcome of [Engine.MutateOnce].
type Pushed struct {
	// Version is the version the mutation committed as; for a duplicate,
	// the version of the client's last applied mutation.
	Version uint64
	// Applied is false when seq was already applied (a retried push).
	Applied bool
	// Runs are the ids of the action runs the mutation enqueued.
	Runs []string
}

// MutateOnce runs a mutation a client pushed, at most once per (client,
// seq): the mutator and the client's new sequence number commit in one
// transaction, so a push retried after a lost reply is recognised and not
// applied again. Sequence numbers must increase per client; gaps are fine
// (a rejected push records nothing). Errors are Mutate's.
func (e *Engine) MutateOnce(ctx context.Context, clientID string, seq uint64, name string, input json.RawMessage) (Pushed, error) {
	if clientID == "" || seq == 0 {
		return Pushed{}, withKind(ErrInvalidInput, "push", errors.New("a pushed mutation needs a client id and a sequence number from 1"))
	}
	if err := checkKey("client ids", clientID); err != nil {
		return Pushed{}, withKind(ErrInvalidInput, "push", err)
	}
	if st, err := e.ClientState(clientID); err != nil {
		return Pushed{}, err
	} else if seq <= st.Seq {
		return Pushed{Version: st.Version}, nil
	}
	m, err := e.mutation(name, input)
	if err != nil {
		return Pushed{}, err
	}
	var (
		enqueued []string
		dup      *ClientState
	)
	v, err := e.store.Update(ctx, func(tx *storage.WriteTx) error {
		// Checked again inside the transaction: two retries may race.
		st, err := clientState(tx, clientID)
		if err != nil {
			return err
		}
		if seq <= st.Seq {
			dup = &st
			return nil
		}
		mc := &MutatorCtx{Context: ctx, eng: e, name: name, tx: tx}
		if err := e.runMutator(m, mc, input); err != nil {
			return err
		}
		enqueued = mc.enqueued
		rec, _ := json.Marshal(ClientState{Seq: seq, Version: tx.Version(), At: time.Now().Unix()})
		if err := tx.Put(clientsTable, clientID, rec); err != nil {
			return err
		}
		if e.pushes.Add(1)%pruneEvery == 0 {
			return e.pruneClients(tx)
		}
		return nil
	})
	if err != nil {
		return Pushed{}, e.commitFailure(name, err)
	}
	if dup != nil {
		return Pushed{Version: dup.Version}, nil
	}
	e.dispatch(enqueued)
	return Pushed{Version: v, Applied: true, Runs: enqueued}, nil
}

// pruneEvery is how many applied pushes pass between prunings of .clients.
const pruneEvery = 256

// pruneClients drops, in the caller's transaction, the records of up to a
// thousand clients that have not pushed for Options.ClientRetention: each
// replica instance is a client, so the table would otherwise only grow.
func (e *Engine) pruneClients(tx *storage.WriteTx) error {
	cutoff := time.Now().Add(-e.opts.ClientRetention).Unix()
	after, scanned := "", 0
	for scanned < 1000 {
		kvs, next, err := tx.Scan(clientsTable, storage.ScanOptions{After: after, Limit: 200})
		if err != nil {
			return err
		}
		for _, kv := range kvs {
			var st ClientState
			if json.Unmarshal(kv.Value, &st) == nil && st.At < cutoff {
				if err := tx.Delete(clientsTable, kv.Key); err != nil {
					return err
				}
			}
		}
		scanned += len(kvs)
		if next == "" {
			return nil
		}
		after = next
	}
	return nil
}

// ClientState returns the last mutation clientID pushed that was applied
// (zero when none was).
func (e *Engine) ClientState(clientID string) (ClientState, error) {
	var st ClientState
	err := e.store.View(func(tx *storage.ReadTx) error {
		var err error
		st, err = clientState(tx, clientID)
		return err
	})
	return st, err
}

type getter interface {
	Get(table, key string) ([]byte, bool, error)
}

func clientState(tx getter, clientID string) (ClientState, error) {
	var st ClientState
	raw, ok, err := tx.Get(clientsTable, clientID)
	if err != nil || !ok {
		return st, err
	}
	if err := json.Unmarshal(raw, &st); err != nil {
		return st, fmt.Errorf("client %s: corrupt state %q: %w", clientID, raw, err)
	}
	return st, nil
}

// ChangesSince returns up to limit committed versions after the given one
// that touched what f selects in a client-visible table, in order. It fails
// with storage.ErrResync when the change log no longer reaches back that
// far: read a snapshot instead.
func (e *Engine) ChangesSince(f storage.Filter, after uint64, limit int) ([]storage.Event, error) {
	if _, err := e.clientTable(f.Table); err != nil {
		return nil, err
	}
	if err := checkFilter(f); err != nil {
		return nil, err
	}
	return e.store.ChangesSince(after, f, limit)
}
