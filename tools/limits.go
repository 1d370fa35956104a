package tools

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"sync"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"
)

// DefaultMaxSubscriptionsPerSession is [Options.MaxSubscriptionsPerSession]'s
// default.
const DefaultMaxSubscriptionsPerSession = 1000

// DefaultMaxSubscriptions is [Options.MaxSubscriptions]'s default.
const DefaultMaxSubscriptions = 50000

// limitSubscriptions refuses, before mcp-go handles it, a resources/subscribe
// that would give its session more than max subscriptions or the server more
// than total (either 0: no limit), and a subscriptions/listen naming more than max
// URIs or more than the server has room for. mcp-go answers a hook's error
// with -32600 and the error's text. The server-wide cap is what bounds
// 2026-07-28 listen streams, which have no session to count by.
//
// A subscribe let through holds a place until the registry has it (or it
// failed): SSE handles each message in its own goroutine, so without the
// reservation a burst could pass the check together and overshoot. It must
// be called after s.subs.hook, so that the release runs after the add.
func (s *Server) limitSubscriptions(hooks *server.Hooks, max, total int) {
	held := &reserved{places: map[reservation]bool{}, count: map[string]int{}}
	release := func(ctx context.Context, id any) {
		if sess := server.ClientSessionFromContext(ctx); sess != nil {
			held.release(sess.SessionID(), id)
		}
	}
	hooks.AddAfterSubscribe(func(ctx context.Context, id any, _ *mcp.SubscribeRequest, _ *mcp.EmptyResult) {
		release(ctx, id)
	})
	hooks.AddOnError(func(ctx context.Context, id any, method mcp.MCPMethod, _ any, _ error) {
		if method == mcp.MethodResourcesSubscribe {
			release(ctx, id)
		}
	})
	hooks.AddOnUnregisterSession(func(_ context.Context, sess server.ClientSession) {
		held.drop(sess.SessionID())
	})
	hooks.AddOnRequestInitialization(func(ctx context.Context, reqID any, message any) error {
		raw, ok := message.(json.RawMessage)
		if !ok || !(bytes.Contains(raw, []byte(`"resources/subscribe"`)) || bytes.Contains(raw, []byte(`"subscriptions/listen"`))) {
			return nil
		}
		var msg struct {
			Method string `json:"method"`
			Params struct {
				URI           string                 `json:"uri"`
				Notifications mcp.SubscriptionFilter `json:"notifications"`
			} `json:"params"`
		}
		if json.Unmarshal(raw, &msg) != nil {
			return nil // mcp-go reports the malformed message itself
		}
		switch msg.Method {
		case string(mcp.MethodResourcesSubscribe):
			sess := server.ClientSessionFromContext(ctx)
			if sess == nil {
				return nil
			}
			switch held.take(s.subs, sess.SessionID(), reqID, msg.Params.URI, max, total) {
			case sessionFull:
				return fmt.Errorf("this session already holds its maximum of %d resource subscriptions "+
					"(--max-subscriptions, Options.MaxSubscriptionsPerSession); unsubscribe from some first", max)
			case serverFull:
				return serverFullError(total)
			}
		case string(mcp.MethodSubscriptionsListen):
			n := len(msg.Params.Notifications.ResourceSubscriptions)
			if max > 0 && n > max {
				return fmt.Errorf("subscriptions/listen names %d resources, over the limit of %d per stream "+
					"(--max-subscriptions, Options.MaxSubscriptionsPerSession); watch a whole table instead, or fewer rows", n, max)
			}
			if total > 0 && s.subs.count()+held.held()+n > total {
				return serverFullError(total)
			}
		}
		return nil
	})
}

func serverFullError(total int) error {
	return fmt.Errorf("the server holds its maximum of %d resource subscriptions across all sessions "+
		"(--max-subscriptions-total, Options.MaxSubscriptions); retry later, or watch a whole table instead of many rows", total)
}

// reserved holds the places of subscribes let through and not yet in the
// registry.
type reserved struct {
	mu     sync.Mutex
	places map[reservation]bool
	count  map[string]int // places by session
	all    int            // places in all
}

// verdict is what take decided.
type verdict int

const (
	allowed verdict = iota
	sessionFull
	serverFull
)

// reservation is one subscribe request: its session and JSON-RPC id.
type reservation struct{ session, id string }

func keyOf(session string, id any) reservation {
	return reservation{session, fmt.Sprint(id)}
}

// take decides whether session may subscribe to uri, with at most max
// subscriptions a session and total in all (0: no limit), holding a place
// for request id if it takes a new one.
func (h *reserved) take(r *registry, session string, id any, uri string, max, total int) verdict {
	n, has, all := r.holding(session, uri)
	if has {
		return allowed
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	k := keyOf(session, id)
	if h.places[k] {
		return allowed
	}
	if max > 0 && n+h.count[session] >= max {
		return sessionFull
	}
	if total > 0 && all+h.all >= total {
		return serverFull
	}
	h.places[k] = true
	h.count[session]++
	h.all++
	return allowed
}

// held returns how many places are held in all.
func (h *reserved) held() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.all
}

// release frees the place request id of session held, if it held one.
func (h *reserved) release(session string, id any) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if k := keyOf(session, id); h.places[k] {
		delete(h.places, k)
		h.all--
		if h.count[k.session]--; h.count[k.session] <= 0 {
			delete(h.count, k.session)
		}
	}
}

// drop forgets a session's places (one whose request failed before any
// hook could see it would otherwise stay).
func (h *reserved) drop(session string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.count[session] == 0 {
		return
	}
	for k := range h.places {
		if k.session == session {
			delete(h.places, k)
			h.all--
		}
	}
	delete(h.count, session)
}

// holding returns how many subscriptions the legacy session id holds,
// whether uri is one of them, and how many the server holds in all.
func (r *registry) holding(id, uri string) (n int, has bool, all int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	c := r.clients[id]
	if c == nil {
		return 0, false, r.total
	}
	return len(c.uris), c.uris[uri], r.total
}

// count returns how many (client, URI) subscriptions the server holds.
func (r *registry) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.total
}
