package tools

import "testing"

// TestPutBackSkippableNotice: a notice that deliver would skip (only changes
// from before the subscription: version 0), put back behind a blocked send of
// another URI, stays skippable, and a real later notice keeps its events
// (putBack made both bare: a needless read; found in review).
func TestPutBackSkippableNotice(t *testing.T) {
	c := &client{dirty: map[string]*notice{}, upTo: map[string]uint64{"u": 10}}
	c.putBack("u", &notice{after: 10}) // version 0, no events, not bare
	if n := c.dirty["u"]; n != nil && (n.bare || n.version != 0) {
		t.Errorf("put back as %+v: deliver now sends a bare notification for nothing", *n)
	}
	// and a real later notice loses its events
	c = &client{dirty: map[string]*notice{"u": {after: 10, version: 11}}, upTo: map[string]uint64{"u": 11}}
	c.dirty["u"].events = nil
	c.dirty["u"].add(11, nil)
	c.dirty["u"].version = 11
	c.putBack("u", &notice{after: 10})
	if n := c.dirty["u"]; n.bare {
		t.Errorf("later notice (10,11] with events became bare: %+v", *n)
	}
}
