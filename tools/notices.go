package tools

import (
	"errors"
	"sync"
	"time"

	"github.com/mark3labs/mcp-go/server"

	"github.com/mcp-sync/mcp-sync/wire"
)

// client is one notification target: a legacy session (by id) or a modern
// subscriptions/listen stream.
type client struct {
	key     any
	send    func(uri, changes string) error // changes: a wire.ChangeNotice's JSON, or ""
	changes bool                            // it declared wire.ChangesMetaKey: carry changes
	uris    map[string]bool

	mu    sync.Mutex
	dirty map[string]*notice
	upTo  map[string]uint64 // per URI: every change through this version is in a notice, sent or pending
	wake  chan struct{}
	stop  chan struct{}
	// sending: a flush of this client is under way (see registry.flush).
	sending bool
	// owners: per URI whose rows it names, when not "" (see privatesubs.go).
	owners map[string]string

	// A legacy session's notices share its queue with whatever else it is
	// sent, and on streamable HTTP mcp-go's forwarder for a call's response
	// drops a notification it took from that queue as the call ends. So
	// notices are counted, and when a call ends every URI a notice went for
	// while it ran is announced again (callEnded).
	legacy bool              // a legacy session (by id), not a listen stream
	sends  uint64            // notices sent (echoes aside)
	sentAt map[string]uint64 // per URI: sends when its last notice went
}

// notice is a client's pending update of one URI: the URI's changes after
// after, through version. Without payload (too large, or not known exactly)
// the notification goes out bare and the client reads the changes itself.
type notice struct {
	after, version uint64
	events         []wire.SyncEvent
	size           int
	bare           bool
	// echo: made by callEnded to repeat where the URI's notices reached, so
	// after == version until a change joins it. A client that has it all
	// ignores it; one that lost the last notice reads its changes.
	echo bool
	// enc is the notice's encoding when made as it was noted (see
	// oneEvent), valid while encoded; any later change to the notice
	// clears encoded.
	enc     string
	encoded bool
}

// A notice stops carrying changes beyond these: notifications stay small, and
// a client that fell behind reads its changes in pages instead.
const (
	maxNoticeEvents = 256
	maxNoticeBytes  = 32 << 10
)

// add appends the event at version v (changes already selected for the URI).
func (n *notice) add(v uint64, changes []wire.SyncChange) {
	n.encoded = false
	if v <= n.after || (len(n.events) > 0 && v <= n.events[len(n.events)-1].Version) {
		return // committed before the client subscribed, or already noted
	}
	n.version = max(n.version, v)
	if n.bare {
		return
	}
	for _, c := range changes {
		n.size += len(c.Key) + len(c.Value) + len(c.Append) + len(c.Merge) + 32
	}
	n.events = append(n.events, wire.SyncEvent{Version: v, Changes: changes})
	if len(n.events) > maxNoticeEvents || n.size > maxNoticeBytes {
		n.makeBare()
	}
}

func (n *notice) makeBare() { n.bare, n.events, n.size, n.encoded = true, nil, 0, false }

// putBack returns a notice whose send failed to uri's pending one. Callers
// hold c.mu.
func (c *client) putBack(uri string, owed *notice) {
	upTo, subscribed := c.upTo[uri]
	if !subscribed || (owed.version == 0 && !owed.bare) {
		return // unsubscribed meanwhile, or only changes from before the subscription: nothing owed
	}
	owed.encoded = false // its version may move on below
	later := c.dirty[uri]
	// The chain must join: a client that unsubscribed and subscribed again
	// meanwhile started a new one, and changes in between are in neither.
	if (later != nil && later.after != owed.version) || (later == nil && upTo != owed.version) {
		owed.makeBare()
	}
	if later != nil {
		owed.merge(later)
	}
	owed.version = max(owed.version, upTo)
	c.dirty[uri] = owed
}

// merge folds a later notice of the same URI into n: n was taken for sending
// and failed, so the later one was made while n was still owed.
func (n *notice) merge(later *notice) {
	n.version = max(n.version, later.version)
	if n.bare || later.bare {
		n.makeBare()
		return
	}
	for _, ev := range later.events {
		n.add(ev.Version, ev.Changes)
	}
}

// note adds a version's changes to uri's pending notice (bare: none carried).
// one, when not nil, encodes a notice of this version's changes alone (see
// oneEvent). The caller sends it: registry.flush, or poke for the sender.
func (c *client) note(uri string, version uint64, changes []wire.SyncChange, bare bool, one *oneEvent) {
	c.mu.Lock()
	n := c.dirty[uri]
	fresh := n == nil
	if fresh {
		// Notices of a URI go out in the order they are made, so this one
		// goes on from where the last one ended.
		n = &notice{after: c.upTo[uri]}
		c.dirty[uri] = n
	}
	if bare || !c.changes {
		n.makeBare()
		n.version = max(n.version, version)
	} else {
		n.add(version, changes)
		if fresh && one != nil {
			n.enc, n.encoded = one.encoding(n)
		}
	}
	c.upTo[uri] = max(c.upTo[uri], n.version)
	c.mu.Unlock()
}

// poke wakes c's sender (deliver) to flush its pending notices.
func (c *client) poke() {
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// deliver is c's sender: it flushes c's pending notices when poked, and
// after r.retry when a send found the client's queue full, so an update is
// late, never lost.
func (r *registry) deliver(c *client) {
	var retry <-chan time.Time
	for {
		select {
		case <-c.stop:
			return
		case <-c.wake:
		case <-retry:
		}
		retry = nil
		if r.flush(c) {
			retry = time.After(r.retry)
		}
	}
}

// flush sends c's pending notices, one per dirty URI, and reports whether
// a send found the client's queue full (the rest stay pending). One flush
// of a client runs at a time, so a URI's notices go out in the order made:
// a flush that finds another under way leaves its notices to that one,
// which looks for more before it ends. The marking goroutine flushes the
// clients it noted itself (sends never block), rather than wake a hundred
// senders, each of which a loaded machine may not run before the next
// change, which would then coalesce.
func (r *registry) flush(c *client) (blocked bool) {
	c.mu.Lock()
	if c.sending {
		c.mu.Unlock()
		return false
	}
	c.sending = true
	for len(c.dirty) > 0 && !blocked {
		uris := make([]string, 0, len(c.dirty))
		notices := make([]*notice, 0, len(c.dirty))
		owners := make([]string, 0, len(c.dirty))
		for uri, n := range c.dirty {
			uris, notices, owners = append(uris, uri), append(notices, n), append(owners, c.owners[uri])
		}
		clear(c.dirty)
		c.mu.Unlock()
		var gone bool
		blocked, gone = r.send(c, uris, notices, owners)
		c.mu.Lock()
		if gone {
			break
		}
	}
	c.sending = false
	c.mu.Unlock()
	return blocked
}

// send sends the notices taken from c's pending ones. A send that finds the
// client's queue full puts them back (blocked); one that finds the session
// gone has the client dropped (gone).
func (r *registry) send(c *client, uris []string, notices []*notice, owners []string) (blocked, gone bool) {
	for i, uri := range uris {
		n := notices[i]
		if n.version == 0 && len(n.events) == 0 && !n.bare {
			continue // only changes from before the subscription
		}
		changes := ""
		switch {
		case !c.changes:
		case n.encoded:
			changes = n.enc
		default:
			changes = r.encodings.of(owners[i], uri, n)
		}
		err := c.send(uri, changes)
		if err == nil {
			c.sent(uri, n)
			continue
		}
		if errors.Is(err, server.ErrNotificationChannelBlocked) {
			c.mu.Lock()
			for j, u := range uris[i:] {
				c.putBack(u, notices[i+j])
			}
			c.mu.Unlock()
			return true, false
		}
		// The session is gone (or never finished initializing): forget it.
		r.log.Debug("dropping subscriber", "err", err)
		go r.dropClient(c)
		return false, true
	}
	return false, false
}
