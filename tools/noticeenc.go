package tools

import (
	"sync"

	"github.com/mcp-sync/mcp-sync/wire"
)

// encodings shares each notice's JSON among the clients that owe the same
// one: every subscriber of a URI keeping pace owes the same (after, version)
// range, so a change watched by a hundred is encoded once, not a hundred
// times. The most recent encodings are kept, bounded in number and bytes; a
// client whose range fell out of it (it coalesced differently, or lagged)
// encodes its own. The zero value is ready to use.
type encodings struct {
	mu    sync.Mutex
	byKey map[noticeKey]*encoding
	order []noticeKey // oldest first
	bytes int         // sum of the kept encodings' estimated sizes
}

// noticeKey names one notice's content: the changes of uri as owner sees
// it (see privatesubs.go) in (after, version], of which there are events.
// Notices with the same key carry the same events, since every client of a
// URI and owner is noted every change of it; two owners' notices of one
// URI carry different rows.
type noticeKey struct {
	owner, uri     string
	after, version uint64
	events         int
}

type encoding struct {
	once sync.Once
	s    string
	size int
}

// Bounds of the kept encodings: a notice carries at most maxNoticeBytes of
// changes, so at least 128 of the largest fit.
const (
	maxKeptEncodings     = 512
	maxKeptEncodingBytes = 4 << 20
)

// of returns n's wire.ChangeNotice (of uri, as owner sees it) as JSON, or
// "" when n goes bare. Clients encoding the same notice at once wait for
// one encoder.
func (e *encodings) of(owner, uri string, n *notice) string {
	if !n.carries() {
		return ""
	}
	key := noticeKey{owner: owner, uri: uri, after: n.after, version: n.version, events: len(n.events)}
	e.mu.Lock()
	enc := e.byKey[key]
	if enc == nil {
		if e.byKey == nil {
			e.byKey = map[noticeKey]*encoding{}
		}
		enc = &encoding{size: n.size + len(uri) + 64}
		e.byKey[key] = enc
		e.order = append(e.order, key)
		e.bytes += enc.size
		for len(e.order) > maxKeptEncodings || (e.bytes > maxKeptEncodingBytes && len(e.order) > 1) {
			old := e.order[0]
			e.order = e.order[1:]
			e.bytes -= e.byKey[old].size
			delete(e.byKey, old)
		}
	}
	e.mu.Unlock()
	enc.once.Do(func() { enc.s = n.encode(uri) })
	return enc.s
}

// carries reports whether n's notification carries a wire.ChangeNotice.
func (n *notice) carries() bool { return !n.bare && (len(n.events) > 0 || n.pureEcho()) }

// encode is n's wire.ChangeNotice in uri's notification (the compact form
// of wire.EncodeNotice), or "" when bare. It goes out as a JSON string:
// generic decoders (mcp-go's client transports decode _meta into
// map[string]any, JavaScript reads numbers as doubles) pass a string through
// exactly and cheaply, where an object's numbers past 2^53 would change and
// its decoding costs each subscriber more than the string's escaping costs
// the server (measured: BenchmarkNoticeForms).
func (n *notice) encode(uri string) string {
	if !n.carries() {
		return ""
	}
	b, err := wire.EncodeNotice(uri, wire.ChangeNotice{After: n.after, Version: n.version, Events: n.events})
	if err != nil {
		return ""
	}
	return string(b)
}

// oneEvent encodes the notices of one URI that hold one version's changes
// alone, as that version is noted to the URI's clients: every client
// keeping pace owes the same such notice, so it is encoded once per start
// and whoever sends it (registry.flush) finds it ready, where through
// encodings.of the first sender would encode it while the others waited.
// Used only by the marking goroutine, under registry.mu.
type oneEvent struct {
	uri   string
	after []uint64 // the notices' afters encoded so far (clients that subscribed later start later)
	enc   []string
}

// Notices of one version differ only in where they start; past this many
// starts, the rest are encoded by their senders.
const maxOneEventStarts = 4

// encoding returns n's encoding and true, n holding one event and made
// as it was noted, or false when there is none to share (n goes bare, or
// too many starts).
func (o *oneEvent) encoding(n *notice) (string, bool) {
	if !n.carries() || len(n.events) != 1 || n.echo {
		return "", false
	}
	for i, a := range o.after {
		if a == n.after {
			return o.enc[i], true
		}
	}
	if len(o.after) >= maxOneEventStarts {
		return "", false
	}
	s := n.encode(o.uri)
	o.after, o.enc = append(o.after, n.after), append(o.enc, s)
	return s, true
}
