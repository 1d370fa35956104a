package tools

import (
	"testing"
	"time"

	"github.com/mcp-sync/mcp-sync/wire"
)

// echoClient is a legacy session's subscriber, subscribed to "u" with
// notices up to version 5.
func echoClient(changes bool) (*registry, *client) {
	r := &registry{clients: map[any]*client{}}
	c := &client{key: "s", changes: changes, legacy: true,
		uris: map[string]bool{"u": true}, dirty: map[string]*notice{}, upTo: map[string]uint64{"u": 5},
		sentAt: map[string]uint64{}, wake: make(chan struct{}, 1)}
	r.clients["s"] = c
	return r, c
}

// sendForTest does what deliver does after a successful send of n.
func (c *client) sendForTest(uri string, n *notice) { c.sent(uri, n) }

// TestCallEndEchoesNoticesItCouldHaveDropped: mcp-go's forwarder for a
// legacy streamable HTTP call drops a notification it took from the
// session's queue as the call ends, so a notice sent while a call was in
// flight is announced again when it ends: by an empty notice continuing
// from where the URI's notices reached, which a client that has them all
// ignores. Echoes are not echoed, nor notices sent before the call.
func TestCallEndEchoesNoticesItCouldHaveDropped(t *testing.T) {
	r, c := echoClient(true)

	started, mark := r.callStarted("s")
	c.sendForTest("u", &notice{after: 4, version: 5, events: []wire.SyncEvent{{Version: 5}}})
	r.callEnded("s", started, mark)
	echo := c.dirty["u"]
	if echo == nil || !echo.pureEcho() || echo.after != 5 || echo.bare {
		t.Fatalf("after a notice sent during a call: pending %+v, want an echo at 5", echo)
	}
	if got, want := echo.encode("u"), `{"a":5,"v":5}`; got != want {
		t.Errorf("echo payload %s, want %s", got, want)
	}
	select {
	case <-c.wake:
	default:
		t.Error("the echo did not wake the sender")
	}

	delete(c.dirty, "u")
	c.sendForTest("u", echo)
	started, mark = r.callStarted("s")
	r.callEnded("s", started, mark)
	if n := c.dirty["u"]; n != nil {
		t.Errorf("a call after the echo was sent echoed again: %+v", n)
	}

	// Sent before the call began: not its forwarder's to drop.
	c.sendForTest("u", &notice{after: 5, version: 6, events: []wire.SyncEvent{{Version: 6}}})
	c.upTo["u"] = 6
	started, mark = r.callStarted("s")
	r.callEnded("s", started, mark)
	if n := c.dirty["u"]; n != nil {
		t.Errorf("a notice sent before the call began was echoed: %+v", n)
	}

	// A subscriber made during the call: every notice it got went during it.
	c2 := &client{key: "s", changes: true, legacy: true, uris: map[string]bool{"u": true}, dirty: map[string]*notice{},
		upTo: map[string]uint64{"u": 6}, sentAt: map[string]uint64{}, wake: make(chan struct{}, 1)}
	started, mark = r.callStarted("s")
	r.clients["s"] = c2
	c2.sendForTest("u", &notice{after: 5, version: 6, events: []wire.SyncEvent{{Version: 6}}})
	r.callEnded("s", started, mark)
	if n := c2.dirty["u"]; n == nil || !n.pureEcho() || n.after != 6 {
		t.Errorf("a notice to a subscriber made during the call: pending %+v, want an echo at 6", n)
	}
	r.clients["s"] = c

	// A newer notice on its way makes an echo needless.
	c.dirty["u"] = &notice{after: 6, version: 7, events: []wire.SyncEvent{{Version: 7}}}
	started, mark = r.callStarted("s")
	c.sendForTest("u", &notice{after: 6, version: 7})
	r.callEnded("s", started, mark)
	if n := c.dirty["u"]; n.echo {
		t.Errorf("a pending notice was replaced by an echo: %+v", n)
	}
}

// TestEchoToAPlainClientIsBare: a client that takes no changes gets the
// echo as a plain notification, and a change joining an echo makes it a
// notice like any other.
func TestEchoToAPlainClientIsBare(t *testing.T) {
	r, c := echoClient(false)
	started, mark := r.callStarted("s")
	c.sendForTest("u", &notice{after: 4, version: 5, bare: true})
	r.callEnded("s", started, mark)
	n := c.dirty["u"]
	if n == nil || !n.bare || n.encode("u") != "" {
		t.Fatalf("echo to a plain client: %+v", n)
	}
	c.note("u", 6, nil, true, nil)
	if n.pureEcho() {
		t.Errorf("a change joined the echo but it still reads as one: %+v", n)
	}
}

// TestEchoCoversNoticesJustAfterTheCall: mcp-go does not wait for a call's
// forwarder to exit, and one that was busy may take and drop one more
// notification on its way out; so callEnded looks echoDelay after the end,
// and a notice sent in between is echoed too (found in review).
func TestEchoCoversNoticesJustAfterTheCall(t *testing.T) {
	r, c := echoClient(true)
	r.echoDelay = 20 * time.Millisecond
	started, mark := r.callStarted("s")
	r.callEnded("s", started, mark)
	c.mu.Lock()
	c.upTo["u"] = 6
	c.mu.Unlock()
	c.sendForTest("u", &notice{after: 5, version: 6, events: []wire.SyncEvent{{Version: 6}}})
	deadline := time.Now().Add(30 * time.Second) // a loaded machine is slow
	for {
		c.mu.Lock()
		n := c.dirty["u"]
		c.mu.Unlock()
		if n != nil {
			if !n.pureEcho() || n.after != 6 {
				t.Fatalf("pending %+v, want an echo at 6", n)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("a notice sent just after the call ended was not echoed within 30 s")
		}
		time.Sleep(5 * time.Millisecond)
	}
}
