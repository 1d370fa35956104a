package client

import (
	"fmt"
	"sync"
	"time"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/mcp-sync/mcp-sync/wire"
)

func (cn *Conn) notified(n mcp.JSONRPCNotification) {
	switch n.Method {
	case "notifications/progress":
		token := fmt.Sprint(n.Params.AdditionalFields["progressToken"])
		cn.mu.Lock()
		f := cn.progress[token]
		cn.mu.Unlock()
		if f != nil {
			p, _ := n.Params.AdditionalFields["progress"].(float64)
			total, _ := n.Params.AdditionalFields["total"].(float64)
			msg, _ := n.Params.AdditionalFields["message"].(string)
			f(p, total, msg)
		}
	case mcp.MethodNotificationSubscriptionsAcknowledged:
		cn.mu.Lock()
		if cn.acked != nil {
			close(cn.acked)
			cn.acked = nil
		}
		// A new stream replaced the old one (a URI added, a reconnect, a
		// re-listen): a commit between the two was announced on neither, so
		// every watcher reads once, after a pause that lets a burst of new
		// watches (each replacing the stream) cost one read each, not one per
		// watch per stream.
		// Each acknowledgement puts it off, but by no more than nudgeMax
		// in all; one that finds it firing is answered by it.
		fire := func() {
			cn.mu.Lock()
			cn.nudge = nil
			cn.nudgeLocked()
			cn.mu.Unlock()
		}
		switch now := time.Now(); {
		case cn.nudge == nil:
			cn.nudgeSince = now
			cn.nudge = time.AfterFunc(cn.nudgeDelay, fire)
		case now.Sub(cn.nudgeSince) < cn.nudgeMax && cn.nudge.Stop():
			cn.nudge = time.AfterFunc(cn.nudgeDelay, fire)
		}
		cn.mu.Unlock()
	case "notifications/resources/updated":
		uri, _ := n.Params.AdditionalFields["uri"].(string)
		var notice *wire.ChangeNotice // nil: the changes are not in the notification
		if raw, ok := n.Params.Meta[wire.ChangesMetaKey].(string); ok {
			if cn, err := wire.DecodeNotice(uri, []byte(raw)); err == nil {
				notice = &cn
			}
		}
		cn.mu.Lock()
		for b := range cn.watches[uri] {
			b.put(notice)
		}
		cn.mu.Unlock()
	}
}

// inbox is one watch's update notifications: wake holds a value while any
// wait (coalesced: one pending wake-up at most), and a Watcher takes the
// changes they carried from notices.
type inbox struct {
	wake chan struct{}
	keep bool // queue notices (a Watcher reads them); otherwise only wake

	mu      sync.Mutex
	notices []*wire.ChangeNotice // a nil entry: an update whose changes must be read
}

// maxInbox bounds the notices an inbox holds: past it they collapse into
// one "read the changes", which covers them all.
const maxInbox = 64

func (b *inbox) put(n *wire.ChangeNotice) {
	if b.keep {
		b.mu.Lock()
		if len(b.notices) >= maxInbox {
			b.notices = append(b.notices[:0], nil)
		} else {
			b.notices = append(b.notices, n)
		}
		b.mu.Unlock()
	}
	select {
	case b.wake <- struct{}{}:
	default: // a wake-up is pending already
	}
}

// take returns the notices that arrived since the last take.
func (b *inbox) take() []*wire.ChangeNotice {
	b.mu.Lock()
	defer b.mu.Unlock()
	ns := b.notices
	b.notices = nil
	return ns
}

// nudgeDelay is how long after a new listen stream's acknowledgement every
// watcher reads once (see notified); nudgeMax bounds how long a run of
// acknowledgements may put that off.
const (
	nudgeDelay = 50 * time.Millisecond
	nudgeMax   = 250 * time.Millisecond
)

// nudgeLocked makes every watcher read once. Callers hold cn.mu.
func (cn *Conn) nudgeLocked() {
	for _, boxes := range cn.watches {
		for b := range boxes {
			b.put(nil)
		}
	}
}
