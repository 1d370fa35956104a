package tools

import (
	"encoding/json"
	"strconv"
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

// noticeKey names one notice's content: the changes of uri in (after,
// version], of which there are events. Notices with the same key carry the
// same events, since every client of a URI is noted every change of it.
type noticeKey struct {
	uri            string
	after, version uint64
	events         int
}

type encoding struct {
	once sync.Once
	b    json.RawMessage
	size int
}

// Bounds of the kept encodings: a notice carries at most maxNoticeBytes of
// changes, so at least 128 of the largest fit.
const (
	maxKeptEncodings     = 512
	maxKeptEncodingBytes = 4 << 20
)

// of returns n's wire.ChangeNotice as JSON, or nil when n goes bare (see
// notice.encode). Clients encoding the same notice at once wait for one
// encoder.
func (e *encodings) of(uri string, n *notice) json.RawMessage {
	if !n.carries() {
		return nil
	}
	key := noticeKey{uri: uri, after: n.after, version: n.version, events: len(n.events)}
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
	enc.once.Do(func() { enc.b = n.encode() })
	return enc.b
}

// carries reports whether n's notification carries a wire.ChangeNotice.
func (n *notice) carries() bool { return !n.bare && (len(n.events) > 0 || n.pureEcho()) }

// encode is n's wire.ChangeNotice as JSON, or nil when bare. It is nil too
// when a number in the changes would not survive a generic JSON decoder:
// mcp-go's client transports decode _meta into map[string]any, so an
// integer past 2^53 would come out changed, and one past float64's range
// would lose the whole notification. Such a notice goes bare and the client
// reads the changes through _sync_changes, which keeps them exact.
func (n *notice) encode() json.RawMessage {
	if !n.carries() {
		return nil
	}
	b, err := json.Marshal(wire.ChangeNotice{After: n.after, Version: n.version, Events: n.events})
	if err != nil || !numbersSurviveFloat64(b) {
		return nil
	}
	return b
}

// numbersSurviveFloat64 reports whether every number in the valid JSON b
// reads back as the same value through float64: integers within ±2^53,
// other numbers within float64's range.
func numbersSurviveFloat64(b []byte) bool {
	for i := 0; i < len(b); i++ {
		switch c := b[i]; {
		case c == '"':
			for i++; i < len(b) && b[i] != '"'; i++ {
				if b[i] == '\\' {
					i++
				}
			}
		case c == '-' || ('0' <= c && c <= '9'):
			j, integer := i+1, true
			for ; j < len(b) && isNumberByte(b[j]); j++ {
				if b[j] == '.' || b[j] == 'e' || b[j] == 'E' {
					integer = false
				}
			}
			if !numberSurvivesFloat64(b[i:j], integer) {
				return false
			}
			i = j - 1
		}
	}
	return true
}

func isNumberByte(c byte) bool {
	return ('0' <= c && c <= '9') || c == '.' || c == 'e' || c == 'E' || c == '+' || c == '-'
}

func numberSurvivesFloat64(tok []byte, integer bool) bool {
	if integer {
		if len(tok) <= 15 { // at most 15 digits: below 2^53 (a common case, checked cheaply)
			return true
		}
		v, err := strconv.ParseInt(string(tok), 10, 64)
		return err == nil && -1<<53 <= v && v <= 1<<53
	}
	_, err := strconv.ParseFloat(string(tok), 64)
	return err == nil
}
