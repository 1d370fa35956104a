package storage_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/mcp-sync/mcp-sync/storage"
	"github.com/mcp-sync/mcp-sync/storage/bolt"
)

// TestSubscriptionOverflowLeavesLiveMode: a subscription that has caught up
// is fed from memory; when its buffer fills, publishing stops feeding it
// (writers never wait for it) and it reads the rest back from the log. The
// driver-independent part of this is in storagetest; this test looks inside.
func TestSubscriptionOverflowLeavesLiveMode(t *testing.T) {
	d, err := bolt.Open(filepath.Join(t.TempDir(), "data.db"), bolt.Options{Tables: []string{"a"}, NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	s := storage.New(d, storage.Options{SubscriberBuffer: 4})
	t.Cleanup(func() { _ = s.Close() })
	sub, err := s.Subscribe(storage.Filter{Table: "a"}, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, err := sub.Next(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Next on an empty store = %v, want deadline exceeded", err)
	}
	if live, _ := storage.SubscriptionState(sub); !live {
		t.Fatal("subscription not live after catching up")
	}
	for i := range 10 {
		if _, err := s.Update(context.Background(), func(w *storage.WriteTx) error {
			return w.Put("a", fmt.Sprint("k", i), []byte("v"))
		}); err != nil {
			t.Fatal(err)
		}
	}
	if live, queued := storage.SubscriptionState(sub); live || queued != 4 {
		t.Fatalf("after overflow: live=%v with %d queued; want not live, 4 queued", live, queued)
	}
	for i := range 10 {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		ev, err := sub.Next(ctx)
		cancel()
		if err != nil || ev.Version != uint64(i+1) {
			t.Fatalf("event %d = %+v, %v; want version %d", i, ev, err, i+1)
		}
	}
}
