package postgres

import (
	"context"
	"testing"
	"time"

	"github.com/mcp-sync/mcp-sync/storage"
	"github.com/mcp-sync/mcp-sync/storage/storagetest"
)

// TestAuditPagesPastWhatWasPublished: a process whose listener lags (its
// connection gone silent) still pages through the whole audit, which it
// reads from the database: a full page's cursor is not dropped as "nothing
// after it yet" because this process has not yet published the versions
// another process committed.
func TestAuditPagesPastWhatWasPublished(t *testing.T) {
	s, other, p := openWithProxiedListener(t)
	storagetest.Put(t, other, "a", "first", "1") // no cause: no audit record
	for deadline := time.Now().Add(60 * time.Second); s.Version() != 1; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the listener never published the other process's first commit (version %d)", s.Version())
		}
	}
	p.Stall()
	for _, k := range []string{"k1", "k2", "k3"} {
		if _, err := other.Update(storage.WithCause(context.Background(), []byte("alice")), func(w *storage.WriteTx) error {
			return w.Put("a", k, []byte("1"))
		}); err != nil {
			t.Fatal(err)
		}
	}
	if s.Version() != 1 {
		t.Fatalf("the listener published version %d through its stalled connection", s.Version())
	}
	var got []uint64
	from := uint64(0)
	for range 10 {
		page, next, err := s.Audit(storage.AuditQuery{From: from, Limit: 2})
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range page {
			got = append(got, e.Version)
		}
		if next == 0 {
			break
		}
		from = next
	}
	if len(got) != 3 {
		t.Fatalf("paging the audit read versions %v, want 2, 3 and 4", got)
	}
}
