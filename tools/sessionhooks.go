package tools

import (
	"context"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"

	"github.com/mcp-sync/mcp-sync/wire"
)

// hook wires the registry into the server's hooks for both protocol eras.
func (r *registry) hook(h *server.Hooks) {
	h.AddAfterSubscribe(func(ctx context.Context, _ any, msg *mcp.SubscribeRequest, _ *mcp.EmptyResult) {
		sess := server.ClientSessionFromContext(ctx)
		if sess == nil {
			return
		}
		id := sess.SessionID()
		// The registered session holds what initialize declared; a
		// streamable HTTP request may run on a stand-in without it.
		if reg, ok := r.sessions.Load(id); ok {
			sess = reg.(server.ClientSession)
		}
		wants := false
		if ci, ok := sess.(server.SessionWithClientInfo); ok {
			_, wants = ci.GetClientCapabilities().Experimental[wire.ChangesMetaKey]
		}
		r.add(ctx, id, wants, func(uri, changes string) error {
			return r.sendTo(id, uri, changes)
		}, msg.Params.URI)
	})
	h.AddAfterUnsubscribe(func(ctx context.Context, _ any, msg *mcp.UnsubscribeRequest, _ *mcp.EmptyResult) {
		if sess := server.ClientSessionFromContext(ctx); sess != nil {
			r.remove(sess.SessionID(), msg.Params.URI)
		}
	})
	h.AddOnRegisterSession(func(_ context.Context, sess server.ClientSession) {
		r.sessions.Store(sess.SessionID(), sess)
	})
	h.AddOnUnregisterSession(func(_ context.Context, sess server.ClientSession) {
		r.sessions.CompareAndDelete(sess.SessionID(), sess)
		r.drop(sess.SessionID())
		r.endListens(sess.SessionID())
	})
	h.AddBeforeSubscriptionsListen(func(ctx context.Context, id any, msg *mcp.SubscriptionsListenRequest) {
		sess := server.ClientSessionFromContext(ctx)
		if sess == nil || id == nil || len(msg.Params.Notifications.ResourceSubscriptions) == 0 {
			return
		}
		// The stream lives as long as the request: key it by its session
		// object (modern HTTP sessions are per request and never registered).
		ch := sess.NotificationChannel()
		send := func(uri, changes string) error {
			meta := map[string]any{mcp.MetaKeySubscriptionID: id}
			if changes != "" {
				meta[wire.ChangesMetaKey] = changes
			}
			n := mcp.JSONRPCNotification{JSONRPC: mcp.JSONRPC_VERSION, Notification: mcp.Notification{
				Method: string(mcp.MethodNotificationResourceUpdated),
				Params: mcp.NotificationParams{
					Meta:             meta,
					AdditionalFields: map[string]any{"uri": uri},
				},
			}}
			select {
			case ch <- n:
				return nil
			default:
				return server.ErrNotificationChannelBlocked
			}
		}
		wants := false
		if info := server.RequestProtocolInfoFromContext(ctx); info != nil && info.ClientCapabilities != nil {
			_, wants = info.ClientCapabilities.Experimental[wire.ChangesMetaKey]
		}
		key := &listenKey{sess: sess, id: id}
		r.add(ctx, key, wants, send, msg.Params.Notifications.ResourceSubscriptions...)
		forget := r.trackListen(ctx, sess, id)
		go func() {
			<-ctx.Done()
			forget()
			r.drop(key)
		}()
	})
}

// sendTo sends a resources/updated notification for uri to the session
// registered as id, with changes (a wire.ChangeNotice's JSON, or "") in its
// _meta.
func (r *registry) sendTo(id, uri, changes string) error {
	v, ok := r.sessions.Load(id)
	if !ok {
		return server.ErrSessionNotFound
	}
	sess := v.(server.ClientSession)
	if !sess.Initialized() {
		return server.ErrSessionNotInitialized
	}
	params := mcp.NotificationParams{AdditionalFields: map[string]any{"uri": uri}}
	if changes != "" {
		params.Meta = map[string]any{wire.ChangesMetaKey: changes}
	}
	// As mcp-go does: a streamable HTTP session answers a request in progress
	// as an SSE stream, so the notification can go with it.
	if hs, ok := sess.(server.SessionWithStreamableHTTPConfig); ok {
		hs.UpgradeToSSEWhenReceiveNotification()
	}
	select {
	case sess.NotificationChannel() <- mcp.JSONRPCNotification{JSONRPC: mcp.JSONRPC_VERSION,
		Notification: mcp.Notification{Method: string(mcp.MethodNotificationResourceUpdated), Params: params}}:
		return nil
	default:
		return server.ErrNotificationChannelBlocked
	}
}

// listenKey identifies one subscriptions/listen stream.
type listenKey struct {
	sess server.ClientSession
	id   any
}
