package backend

import (
	"context"
	"encoding/json"
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

// pruneEvery is how many applied pushes pass between prunings of .clients.
const pruneEvery = 256

// pruneClients drops, in the caller's transaction, the records of up to a
// thousand clients that have not pushed for Options.ClientRetention: each
// replica instance is a client, so the table would otherwise only grow.
func (e *Engine) pruneClients(tx *storage.WriteTx) error {
	cutoff := time.Now().Add(-e.opts.ClientRetention).Unix()
	const budget = 1000 // clients looked at per call, so a push never waits on a long table
	after, scanned := "", 0
	for scanned < budget {
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
// (zero when none was). ctx is the caller's request: a done ctx reads
// nothing. Client ids are the caller's own (see [Once]): another signed-in
// user's pushes under the same id are not these.
func (e *Engine) ClientState(ctx context.Context, clientID string) (ClientState, error) {
	var st ClientState
	if err := ctx.Err(); err != nil {
		return st, err
	}
	err := e.store.View(func(tx *storage.ReadTx) error {
		var err error
		st, err = clientState(tx, pushClient(ctx, clientID))
		return err
	})
	return st, e.storageFailure("client "+Short(clientID), err)
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
