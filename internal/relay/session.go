package relay

import (
	"bytes"
	"encoding/json"
	"maps"
	"slices"
)

// session is what a relay keeps of its host's session, to carry it over to
// a new owner: read from each line's id and method only (and the params of
// the few methods that change it), never from results.
type session struct {
	init        []byte // the host's initialize request (2025-11-25 and older)
	initialized bool   // the host sent notifications/initialized
	subs        []string
	pending     map[string]string // the host's requests the owner has not answered: id → method
	listens     map[string][]byte // subscriptions/listen requests, open as long as unanswered
	swallow     map[string]bool   // ids of the relay's own requests, whose answers the host never sees
}

func newSession() *session {
	return &session{pending: map[string]string{}, listens: map[string][]byte{}, swallow: map[string]bool{}}
}

// head is the part of a JSON-RPC message a relay reads.
type head struct {
	ID     json.RawMessage `json:"id"`
	Method string          `json:"method"`
}

// fromHost notes msg, a line from the host on its way to the owner.
func (s *session) fromHost(msg []byte) {
	var h head
	if json.Unmarshal(msg, &h) != nil {
		return // the owner answers it with a parse error
	}
	if h.ID == nil || bytes.Equal(h.ID, []byte("null")) {
		switch h.Method {
		case "notifications/initialized":
			s.initialized = true
		case "notifications/cancelled":
			var p struct {
				Params struct {
					RequestID json.RawMessage `json:"requestId"`
				} `json:"params"`
			}
			if json.Unmarshal(msg, &p) == nil && p.Params.RequestID != nil {
				// A cancelled request may go unanswered: it is not lost.
				delete(s.pending, idKey(p.Params.RequestID))
				delete(s.listens, idKey(p.Params.RequestID))
			}
		}
		return
	}
	if h.Method == "" {
		return // the host's answer to a request of the owner's
	}
	id := idKey(h.ID)
	switch h.Method {
	case "initialize":
		s.init = bytes.Clone(msg)
	case "subscriptions/listen":
		s.listens[id] = bytes.Clone(msg)
		return
	case "resources/subscribe", "resources/unsubscribe":
		var p struct {
			Params struct {
				URI string `json:"uri"`
			} `json:"params"`
		}
		if json.Unmarshal(msg, &p) == nil && p.Params.URI != "" {
			i := slices.Index(s.subs, p.Params.URI)
			switch {
			case h.Method == "resources/subscribe" && i < 0:
				s.subs = append(s.subs, p.Params.URI)
			case h.Method == "resources/unsubscribe" && i >= 0:
				s.subs = slices.Delete(s.subs, i, i+1)
			}
		}
	}
	s.pending[id] = h.Method
}

// notificationPrefix starts every notification mcp-go writes (its struct's
// field order): such a line is passed on unread.
var notificationPrefix = []byte(`{"jsonrpc":"2.0","method":`)

// fromOwner notes line, from the owner on its way to the host, and says
// whether the host should see it (not when it answers the relay's own
// request).
func (s *session) fromOwner(line []byte) bool {
	if bytes.HasPrefix(line, notificationPrefix) {
		return true
	}
	var h head
	if json.Unmarshal(line, &h) != nil || h.Method != "" || h.ID == nil {
		return true
	}
	id := idKey(h.ID)
	if s.swallow[id] {
		delete(s.swallow, id)
		return false
	}
	delete(s.pending, id)
	delete(s.listens, id)
	return true
}

// takeLost returns the requests in flight when the owner went away (id →
// method; subscriptions/listen streams excepted: they are replayed) and
// forgets them.
func (s *session) takeLost() map[string]string {
	lost := maps.Clone(s.pending)
	clear(s.pending)
	clear(s.swallow) // the old owner will never answer those
	return lost
}

// replay returns the lines that set a new owner's session up as the old
// one was: initialize and the subscriptions under ids from newID (whose
// answers fromOwner then swallows), and the listen streams as the host
// sent them, so that their notifications carry the host's ids.
func (s *session) replay(newID func() json.RawMessage) [][]byte {
	var out [][]byte
	own := func(m map[string]any) {
		id := newID()
		s.swallow[idKey(id)] = true
		m["jsonrpc"], m["id"] = "2.0", id
		b, _ := json.Marshal(m)
		out = append(out, append(b, '\n'))
	}
	if s.init != nil {
		var raw map[string]json.RawMessage // kept as sent, but for the id
		if json.Unmarshal(s.init, &raw) == nil {
			m := map[string]any{}
			for k, v := range raw {
				m[k] = v
			}
			own(m)
		}
		if s.initialized {
			out = append(out, []byte("{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}\n"))
		}
	}
	for _, uri := range s.subs {
		own(map[string]any{"method": "resources/subscribe", "params": map[string]any{"uri": uri}})
	}
	ids := make([]string, 0, len(s.listens))
	for id := range s.listens {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		out = append(out, s.listens[id])
	}
	return out
}

// subscribed returns the URIs the host subscribes to.
func (s *session) subscribed() []string { return slices.Clone(s.subs) }

// idKey is a JSON-RPC id as a map key: its JSON text, so 1 and "1" differ.
func idKey(raw json.RawMessage) string { return string(bytes.TrimSpace(raw)) }
