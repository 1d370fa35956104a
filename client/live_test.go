package client_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/mcp-sync/mcp-sync/client"
)

// TestStreamReplacementDoesNotStall: a watcher that is up to date waits for a
// notification. Watching a second URI replaces the 2026-07-28 listen stream;
// a commit made while the old stream is gone and the new one not yet in place
// is announced on neither. The new stream's acknowledgement makes every
// watcher read once; before, the first watcher saw the change only at the
// 2 s poll (found in review). The poll is put off past the test's deadline:
// the change must arrive without it.
func TestStreamReplacementDoesNotStall(t *testing.T) {
	s := newServer(t)
	c := dial(t, s, false)
	ctx := testCtx(t)
	w, err := client.Watch(ctx, c, items, client.Selector{}, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	client.SetPoll(w, 2*testWait)
	if _, err := w.Next(ctx); err != nil {
		t.Fatal(err)
	}
	got := arrivals(ctx, w, "a")
	time.Sleep(200 * time.Millisecond) // the watcher is current, waiting
	s.delay.Store(int64(300 * time.Millisecond))
	go func() {
		w2, err := client.Watch(ctx, c, items, client.Selector{Key: "other"}, 0)
		if err == nil {
			defer w2.Close()
		}
		<-ctx.Done()
	}()
	time.Sleep(100 * time.Millisecond)
	mustMutate(t, s, "put", PutIn{Key: "a", Name: "x"})
	t0 := time.Now()
	select {
	case at := <-got:
		t.Logf("latency %v", at.Sub(t0))
	case <-ctx.Done():
		t.Fatalf("the change never reached the watcher (%v, the poll off): no notification, no read after the new stream's acknowledgement", testWait)
	}
}

// TestSecondWatchOfURIIsLive: two watches of one URI started together. The
// second waits for the first's subscription to reach the server; before, it
// returned at once, and a commit just after reached it only at the 2 s poll
// (found in review). The poll is put off past the test's deadline: the
// change must arrive without it.
func TestSecondWatchOfURIIsLive(t *testing.T) {
	for _, legacy := range []bool{false, true} {
		s := newServer(t)
		c := dial(t, s, legacy)
		ctx := testCtx(t)
		s.delay.Store(int64(400 * time.Millisecond))
		go func() {
			w1, err := client.Watch(ctx, c, items, client.Selector{}, 0)
			if err == nil {
				defer w1.Close()
			}
			<-ctx.Done()
		}()
		time.Sleep(20 * time.Millisecond)
		w, err := client.Watch(ctx, c, items, client.Selector{}, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer w.Close()
		client.SetPoll(w, 2*testWait)
		if _, err := w.Next(ctx); err != nil { // snapshot
			t.Fatal(err)
		}
		got := arrivals(ctx, w, "a")
		time.Sleep(100 * time.Millisecond)
		mustMutate(t, s, "put", PutIn{Key: "a", Name: "x"})
		t0 := time.Now()
		select {
		case at := <-got:
			t.Logf("latency %v", at.Sub(t0))
		case <-ctx.Done():
			t.Fatalf("legacy=%v: the change never reached the second watcher (%v, the poll off)", legacy, testWait)
		}
	}
}

// TestStoppedWatchUnsubscribes: on a 2025-11-25 connection, closing the
// last watch of a URI unsubscribes, so the server stops sending its
// notifications (which may carry changes); watching it again subscribes
// again. Before, the subscription lasted as long as the connection.
func TestStoppedWatchUnsubscribes(t *testing.T) {
	s := newServer(t)
	c := dial(t, s, true)
	ctx := testCtx(t)
	subscriptions := func() int { return s.ts.Stats().Subscriptions }
	for round := range 3 {
		w, err := client.Watch(ctx, c, items, client.Selector{Key: "k"}, 0)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Next(ctx); err != nil {
			t.Fatal(err)
		}
		if n := subscriptions(); n != 1 {
			t.Fatalf("round %d: %d subscriptions while watching, want 1", round, n)
		}
		mustMutate(t, s, "put", PutIn{Key: "k", Name: fmt.Sprint("v", round)})
		if ev, err := w.Next(ctx); err != nil || len(ev.Changes) != 1 || ev.Changes[0].Value.Name != fmt.Sprint("v", round) {
			t.Fatalf("round %d: %+v %v", round, ev, err)
		}
		w.Close()
		deadline := time.Now().Add(testWait)
		for subscriptions() != 0 && time.Now().Before(deadline) {
			time.Sleep(5 * time.Millisecond)
		}
		if n := subscriptions(); n != 0 {
			t.Fatalf("round %d: %d subscriptions %v after the watch closed, want 0", round, n, testWait)
		}
	}
	// Closing and watching again at once: the unsubscribe must not overtake
	// the new subscribe.
	for range 20 {
		w, err := client.Watch(ctx, c, items, client.Selector{Key: "k"}, 0)
		if err != nil {
			t.Fatal(err)
		}
		w.Close()
	}
	w, err := client.Watch(ctx, c, items, client.Selector{Key: "k"}, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if _, err := w.Next(ctx); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond) // let any unsubscribe still queued run
	if n := subscriptions(); n != 1 {
		t.Fatalf("%d subscriptions after watching again, want 1", n)
	}
}

// arrivals follows w in the background and says when each change to key
// comes out of it.
func arrivals(ctx context.Context, w *client.Watcher[Item], key string) <-chan time.Time {
	got := make(chan time.Time, 16)
	go func() {
		for {
			ev, err := w.Next(ctx)
			if err != nil {
				return
			}
			for _, ch := range ev.Changes {
				if ch.Key == key {
					got <- time.Now()
				}
			}
		}
	}()
	return got
}
