package tools

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"
)

// DefaultMaxSubscriptionsPerSession is [Options.MaxSubscriptionsPerSession]'s
// default.
const DefaultMaxSubscriptionsPerSession = 1000

// limitSubscriptions refuses, before mcp-go handles it, a resources/subscribe
// that would give its session more than max subscriptions, and a
// subscriptions/listen naming more than max URIs. mcp-go answers a hook's
// error with -32600 and the error's text.
func (s *Server) limitSubscriptions(hooks *server.Hooks, max int) {
	hooks.AddOnRequestInitialization(func(ctx context.Context, _ any, message any) error {
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
			if sess == nil || !s.subs.full(sess.SessionID(), msg.Params.URI, max) {
				return nil
			}
			return fmt.Errorf("this session already holds its maximum of %d resource subscriptions "+
				"(--max-subscriptions, Options.MaxSubscriptionsPerSession); unsubscribe from some first", max)
		case string(mcp.MethodSubscriptionsListen):
			if n := len(msg.Params.Notifications.ResourceSubscriptions); n > max {
				return fmt.Errorf("subscriptions/listen names %d resources, over the limit of %d per stream "+
					"(--max-subscriptions, Options.MaxSubscriptionsPerSession); watch a whole table instead, or fewer rows", n, max)
			}
		}
		return nil
	})
}

// full reports whether the legacy session id already holds max
// subscriptions and uri is not one of them.
func (r *registry) full(id, uri string, max int) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	c := r.clients[id]
	return c != nil && len(c.uris) >= max && !c.uris[uri]
}
