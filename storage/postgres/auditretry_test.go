package postgres

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/mcp-sync/mcp-sync/storage"
	"github.com/mcp-sync/mcp-sync/storage/storagetest"
)

// TestAuditOfARefusedBatch: a batch PostgreSQL refuses is retried member
// by member; every member that commits then has exactly one audit record,
// under its own version and with its own cause, and neither the refused
// member nor one whose function failed has any.
func TestAuditOfARefusedBatch(t *testing.T) {
	s, d, dsn, schema := newSchema(t, Options{})
	storagetest.Put(t, s, "a", "seed", "1")
	exec(t, dsn, schema, `ALTER TABLE {s}.rows ADD CONSTRAINT no_poison CHECK (k <> 'poison'::bytea)`)
	release := storagetest.BlockLoop(t, s)
	const n = 6
	vs, errs := make([]uint64, n), make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			key := fmt.Sprintf("k%d", i)
			if i == 3 {
				key = "poison"
			}
			vs[i], errs[i] = s.Update(storage.WithCause(context.Background(), []byte(key)), func(w *storage.WriteTx) error {
				if err := w.Put("a", key, []byte("v")); err != nil {
					return err
				}
				if i == 1 {
					return errors.New("refused by its function")
				}
				return nil
			})
		})
		waitQueued(t, d, i+1)
	}
	release()
	wg.Wait()
	want := map[uint64]string{}
	for i, err := range errs {
		if (err == nil) != (i != 1 && i != 3) {
			t.Fatalf("writer %d: %v", i, err)
		}
		if err == nil {
			want[vs[i]] = fmt.Sprintf("k%d", i)
		}
	}
	got, _, err := s.Audit(storage.AuditQuery{})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Fatalf("the audit holds %d records, want %d (one per committed writer): %+v", len(got), len(want), got)
	}
	for _, e := range got {
		if string(e.Cause) != want[e.Version] || len(e.Changes) != 1 || e.Changes[0].Key != want[e.Version] {
			t.Fatalf("the record of v%d: cause %q, changes %+v; want %q's own", e.Version, e.Cause, e.Changes, want[e.Version])
		}
	}
}
