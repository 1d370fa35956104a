package tools

import "time"

// callStarted is told that a call of legacy session id begins whose
// response may carry notifications. It returns the session's subscriber (or
// nil) and a mark for callEnded: notices sent after it went while the call
// ran. A notice still queued when the call began could be taken by its
// forwarder too; it is not counted, since it would have to stay queued
// until the call's very end, and counting it re-announced URIs to sessions
// making calls back to back (each call's echo still queued when the next
// began).
func (r *registry) callStarted(id string) (*client, uint64) {
	r.mu.Lock()
	c := r.clients[id]
	r.mu.Unlock()
	if c == nil || !c.legacy {
		return nil, 0
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c, c.sends
}

// callEnded is told that the call callStarted returned started and mark for
// has ended: its forwarder may have dropped one notice sent after mark, so
// each URI such a notice went for is announced again, by an echo that
// continues from where its notices reached (a bare notification to a client
// that takes no changes). It looks echoDelay after the end: mcp-go does not
// wait for the forwarder to exit, and one that was busy may take, and drop,
// one more notification on its way out, so notices sent just after the call
// are at risk too, and an echo sent at once would be. An echo's own loss goes
// unrepaired: it only mattered if the notice before it was lost too.
func (r *registry) callEnded(id string, started *client, mark uint64) {
	r.mu.Lock()
	c := r.clients[id]
	r.mu.Unlock()
	if c == nil || !c.legacy {
		return
	}
	if c != started {
		mark = 0 // subscribed during the call: any of its notices
	}
	if r.echoDelay <= 0 {
		c.echoAfter(mark)
		return
	}
	time.AfterFunc(r.echoDelay, func() { c.echoAfter(mark) })
}

// echoAfter queues an echo for every URI a notice went for after mark.
func (c *client) echoAfter(mark uint64) {
	echoed := false
	c.mu.Lock()
	for uri, at := range c.sentAt {
		upTo, subscribed := c.upTo[uri]
		if at <= mark || !subscribed || c.dirty[uri] != nil {
			continue // not at risk, gone, or a newer notice is on its way
		}
		c.dirty[uri] = &notice{after: upTo, version: upTo, bare: !c.changes, echo: true}
		echoed = true
	}
	c.mu.Unlock()
	if echoed {
		select {
		case c.wake <- struct{}{}:
		default:
		}
	}
}
