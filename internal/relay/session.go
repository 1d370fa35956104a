package relay

import (
	"bytes"
	"encoding/json"
	"maps"
	"slices"
)

// session is what a relay keeps of its host's session, to carry it over to
// a new owner: read from each line's id, method and the two params that
// matter (a tool's name, a resource's URI), never from results.
type session struct {
	init        []byte // the host's initialize request (2025-11-25 and older)
	initialized bool   // the host sent notifications/initialized
	subs        []string
	pending     map[string]inFlight // the host's requests the owner has not answered, by id
	listens     map[string][]byte   // subscriptions/listen requests, open as long as unanswered
	swallow     map[string]bool     // ids of the relay's own requests, whose answers the host never sees
	readTools   map[string]bool     // tools whose calls change nothing: sent again, not failed
}

// inFlight is a request of the host's the owner has not answered: a tool
// call that may write is failed if the owner goes away; anything else is
// kept (line) and sent to the next owner.
type inFlight struct {
	line []byte // nil: not safe to send twice
}

func newSession(readTools []string) *session {
	s := &session{pending: map[string]inFlight{}, listens: map[string][]byte{}, swallow: map[string]bool{}, readTools: map[string]bool{}}
	for _, t := range readTools {
		s.readTools[t] = true
	}
	return s
}

// head is the part of a JSON-RPC message a relay reads.
type head struct {
	ID     json.RawMessage `json:"id"`
	Method string          `json:"method"`
	Params struct {
		Name      string          `json:"name"`      // tools/call
		URI       string          `json:"uri"`       // resources/subscribe, unsubscribe
		RequestID json.RawMessage `json:"requestId"` // notifications/cancelled
	} `json:"params"`
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
			if h.Params.RequestID != nil {
				// A cancelled request may go unanswered: it is not lost.
				delete(s.pending, idKey(h.Params.RequestID))
				delete(s.listens, idKey(h.Params.RequestID))
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
		if uri := h.Params.URI; uri != "" {
			i := slices.Index(s.subs, uri)
			switch {
			case h.Method == "resources/subscribe" && i < 0:
				s.subs = append(s.subs, uri)
			case h.Method == "resources/unsubscribe" && i >= 0:
				s.subs = slices.Delete(s.subs, i, i+1)
			}
		}
	}
	var f inFlight
	if h.Method != "tools/call" || s.readTools[h.Params.Name] {
		f.line = bytes.Clone(msg)
	}
	s.pending[id] = f
}

// notificationPrefix starts every notification mcp-go writes (its struct's
// field order): such a line is passed on unread.
const notificationPrefix = `{"jsonrpc":"2.0","method":`

// fromOwner notes line, from the owner on its way to the host, and says
// whether the host should see it (not when it answers the relay's own
// request).
func (s *session) fromOwner(line []byte) bool {
	if bytes.HasPrefix(line, []byte(notificationPrefix)) {
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

// takeLost returns the ids of the tool calls in flight when the owner went
// away that may have written, and forgets them; the other requests in
// flight stay, to be sent again by replay.
func (s *session) takeLost() []string {
	var lost []string
	for id, f := range s.pending {
		if f.line == nil {
			lost = append(lost, id)
			delete(s.pending, id)
		}
	}
	slices.Sort(lost)
	clear(s.swallow) // the old owner will never answer those
	return lost
}

// replay returns the lines that set a new owner's session up as the old
// one was: initialize and the subscriptions under ids from newID (whose
// answers fromOwner then swallows), the listen streams as the host sent
// them, so that their notifications carry the host's ids, and the requests
// in flight that change nothing (reads), to be answered by the new owner.
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
	for _, id := range slices.Sorted(maps.Keys(s.pending)) {
		out = append(out, s.pending[id].line) // takeLost left only those safe to send again
	}
	return out
}

// subscribed returns the URIs the host subscribes to.
func (s *session) subscribed() []string { return slices.Clone(s.subs) }

// idKey is a JSON-RPC id as a map key: its JSON text, so 1 and "1" differ.
func idKey(raw json.RawMessage) string { return string(bytes.TrimSpace(raw)) }
