package client_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/mcp-sync/mcp-sync/client"
)

// TestSecondWatchOutlivesFirstsContext: W1's ctx ends while its
// resources/subscribe is in flight; W2, with a live ctx, waited on W1's
// subscription and failed with W1's ctx error (found in review). Now it
// subscribes itself.
func TestSecondWatchOutlivesFirstsContext(t *testing.T) {
	s, delay := newDelayServer(t)
	c := dial(t, s, true)
	delay.Store(int64(400 * time.Millisecond))
	ctx1, cancel1 := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel1()
	go func() {
		w1, err := client.Watch(ctx1, c, items, client.Selector{}, 0)
		if err == nil {
			w1.Close()
		}
	}()
	time.Sleep(20 * time.Millisecond)
	w2, err := client.Watch(ctx10(t), c, items, client.Selector{}, 0)
	if err != nil {
		t.Fatalf("second watch, own ctx alive, failed with the first's error: %v (ctx canceled? %v)", err, errors.Is(err, client.ErrTransport))
	}
	w2.Close()
}

// TestNewWatchesCostOneReadEach: starting n row watches one after another
// on a 2026-07-28 connection replaces the listen stream n times, and each
// replacement makes every watcher read once. That cost n²/2 _sync_changes
// reads (492 for 30, found in review); the reads now wait 50 ms after an
// acknowledgement, so a burst costs about one per watch besides the one
// after each snapshot.
func TestNewWatchesCostOneReadEach(t *testing.T) {
	for _, legacy := range []bool{false, true} {
		s := newServer(t)
		c := dial(t, s, legacy)
		ctx := ctx10(t)
		const n = 30
		var wg sync.WaitGroup
		var ws []*client.Watcher[Item]
		for i := range n {
			w, err := client.Watch(ctx, c, items, client.Selector{Key: fmt.Sprint("k", i)}, 0)
			if err != nil {
				t.Fatal(err)
			}
			ws = append(ws, w)
			if _, err := w.Next(ctx); err != nil { // snapshot
				t.Fatal(err)
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					if _, err := w.Next(ctx); err != nil {
						return
					}
				}
			}()
		}
		time.Sleep(300 * time.Millisecond)
		reads := s.reads.Load()
		t.Logf("legacy=%v: %d watches started: %d _sync_changes reads", legacy, n, reads)
		if reads > 3*n {
			t.Errorf("legacy=%v: %d watches cost %d _sync_changes reads, want at most %d", legacy, n, reads, 3*n)
		}
		for _, w := range ws {
			w.Close()
		}
		wg.Wait()
	}
}

// TestWatchContextBoundsItsTurn: subscribes and unsubscribes on a Conn take
// turns; a Watch whose ctx ends while another's subscribe holds the turn
// behind a slow server returns then, not when the turn comes.
func TestWatchContextBoundsItsTurn(t *testing.T) {
	s, delay := newDelayServer(t)
	c := dial(t, s, true)
	delay.Store(int64(1500 * time.Millisecond))
	go func() {
		if w, err := client.Watch(ctx10(t), c, items, client.Selector{Key: "slow"}, 0); err == nil {
			w.Close()
		}
	}()
	time.Sleep(50 * time.Millisecond) // the slow subscribe holds the turn
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := client.Watch(ctx, c, items, client.Selector{Key: "other"}, 0)
	if err == nil || !errors.Is(err, client.ErrTransport) {
		t.Fatalf("Watch with an ended ctx: %v, want a transport error", err)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("Watch returned %v after its ctx ended, waiting for the slow subscribe", d)
	}
}
