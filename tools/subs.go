package tools

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"

	"github.com/mcp-sync/mcp-sync/backend"
	"github.com/mcp-sync/mcp-sync/storage"
	"github.com/mcp-sync/mcp-sync/tools/wire"
)

// registry tracks resource subscriptions and turns committed changes into
// notifications/resources/updated. mcp-go acknowledges resources/subscribe
// without tracking it, so this is ours.
//
// One storage subscription per watched table feeds it; each client has a set
// of dirty URIs and its own sender goroutine, so an update for a URI that is
// already pending is absorbed (coalesced), and a client whose queue is full
// is retried later without ever holding up the store or other clients.
type registry struct {
	eng   *backend.Engine
	mcp   *server.MCPServer
	log   *slog.Logger
	retry time.Duration

	mu       sync.Mutex
	closed   bool
	clients  map[any]*client             // by legacy session id (string) or modern session
	byURI    map[string]map[*client]bool // who watches each URI
	watchers map[string]*watcher         // by storage table
}

// client is one notification target: a legacy session (by id) or a modern
// subscriptions/listen stream.
type client struct {
	key  any
	send func(uri string) error
	uris map[string]bool

	mu    sync.Mutex
	dirty map[string]bool
	wake  chan struct{}
	stop  chan struct{}
}

type watcher struct {
	refs int
	sub  *storage.Subscription
	stop context.CancelFunc
}

func newRegistry(eng *backend.Engine, log *slog.Logger, retry time.Duration) *registry {
	return &registry{eng: eng, log: log, retry: retry,
		clients: map[any]*client{}, byURI: map[string]map[*client]bool{}, watchers: map[string]*watcher{}}
}

// hook wires the registry into the server's hooks for both protocol eras.
func (r *registry) hook(h *server.Hooks) {
	h.AddAfterSubscribe(func(ctx context.Context, _ any, msg *mcp.SubscribeRequest, _ *mcp.EmptyResult) {
		sess := server.ClientSessionFromContext(ctx)
		if sess == nil {
			return
		}
		id := sess.SessionID()
		r.add(id, func(uri string) error {
			return r.mcp.SendNotificationToSpecificClient(id, string(mcp.MethodNotificationResourceUpdated), map[string]any{"uri": uri})
		}, msg.Params.URI)
	})
	h.AddAfterUnsubscribe(func(ctx context.Context, _ any, msg *mcp.UnsubscribeRequest, _ *mcp.EmptyResult) {
		if sess := server.ClientSessionFromContext(ctx); sess != nil {
			r.remove(sess.SessionID(), msg.Params.URI)
		}
	})
	h.AddOnUnregisterSession(func(_ context.Context, sess server.ClientSession) {
		r.drop(sess.SessionID())
	})
	h.AddBeforeSubscriptionsListen(func(ctx context.Context, id any, msg *mcp.SubscriptionsListenRequest) {
		sess := server.ClientSessionFromContext(ctx)
		if sess == nil || id == nil || len(msg.Params.Notifications.ResourceSubscriptions) == 0 {
			return
		}
		// The stream lives as long as the request: key it by its session
		// object (modern HTTP sessions are per request and never registered).
		ch := sess.NotificationChannel()
		send := func(uri string) error {
			n := mcp.JSONRPCNotification{JSONRPC: mcp.JSONRPC_VERSION, Notification: mcp.Notification{
				Method: string(mcp.MethodNotificationResourceUpdated),
				Params: mcp.NotificationParams{
					Meta:             map[string]any{mcp.MetaKeySubscriptionID: id},
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
		key := &listenKey{sess: sess, id: id}
		r.add(key, send, msg.Params.Notifications.ResourceSubscriptions...)
		go func() {
			<-ctx.Done()
			r.drop(key)
		}()
	})
}

// listenKey identifies one subscriptions/listen stream.
type listenKey struct {
	sess server.ClientSession
	id   any
}

// watchTable is the storage table behind a URI, or "" when the URI names
// nothing a client may watch (unknown, server-only, malformed): such
// subscriptions are acknowledged by mcp-go but never notified, and reveal
// nothing.
func (r *registry) watchTable(uri string) string {
	tg, err := parseURI(uri)
	if err != nil {
		return ""
	}
	if tg.run != "" {
		return backend.RunsTable
	}
	for _, t := range r.eng.ClientTables() {
		if t.Name == tg.table {
			return t.Name
		}
	}
	return ""
}

func (r *registry) add(key any, send func(string) error, uris ...string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return
	}
	c := r.clients[key]
	for _, uri := range uris {
		table := r.watchTable(uri)
		if table == "" {
			r.log.Debug("ignoring subscription to a URI that names nothing watchable", "uri", uri)
			continue
		}
		if c == nil {
			c = &client{key: key, send: send, uris: map[string]bool{}, dirty: map[string]bool{},
				wake: make(chan struct{}, 1), stop: make(chan struct{})}
			r.clients[key] = c
			go r.deliver(c)
		}
		if c.uris[uri] || !r.retain(table) {
			continue
		}
		c.uris[uri] = true
		if r.byURI[uri] == nil {
			r.byURI[uri] = map[*client]bool{}
		}
		r.byURI[uri][c] = true
	}
}

func (r *registry) remove(key any, uri string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	c := r.clients[key]
	if c == nil || !c.uris[uri] {
		return
	}
	r.unlink(c, uri)
	if len(c.uris) == 0 {
		delete(r.clients, key)
		close(c.stop)
	}
}

// dropClient drops c unless its key has since been taken by another client.
func (r *registry) dropClient(c *client) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.clients[c.key] == c {
		r.dropLocked(c)
	}
}

// drop removes every subscription of a client.
func (r *registry) drop(key any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if c := r.clients[key]; c != nil {
		r.dropLocked(c)
	}
}

func (r *registry) dropLocked(c *client) {
	for uri := range c.uris {
		r.unlink(c, uri)
	}
	delete(r.clients, c.key)
	close(c.stop)
}

func (r *registry) unlink(c *client, uri string) {
	delete(c.uris, uri)
	delete(r.byURI[uri], c)
	if len(r.byURI[uri]) == 0 {
		delete(r.byURI, uri)
	}
	r.release(r.watchTable(uri))
}

// retain starts watching table on its first subscriber, and reports false
// when it cannot. Callers hold r.mu.
func (r *registry) retain(table string) bool {
	if w := r.watchers[table]; w != nil {
		w.refs++
		return true
	}
	sub, err := r.subscribe(table)
	if err != nil {
		r.log.Error("cannot watch table for subscribers", "table", table, "err", err)
		return false
	}
	ctx, cancel := context.WithCancel(context.Background())
	w := &watcher{refs: 1, sub: sub, stop: cancel}
	r.watchers[table] = w
	go r.watch(ctx, table, w)
	return true
}

// subscribe opens the storage subscription behind table's URIs, from now.
func (r *registry) subscribe(table string) (*storage.Subscription, error) {
	if table == backend.RunsTable {
		return r.eng.Store().Subscribe(storage.Filter{Table: table}, r.eng.Version())
	}
	return r.eng.Subscribe(storage.Filter{Table: table}, r.eng.Version())
}

// release stops watching table after its last subscriber. Callers hold r.mu.
func (r *registry) release(table string) {
	w := r.watchers[table]
	if w == nil {
		return
	}
	if w.refs--; w.refs == 0 {
		w.stop()
		w.sub.Close()
		delete(r.watchers, table)
	}
}

func (r *registry) watch(ctx context.Context, table string, w *watcher) {
	sub := w.sub
	for {
		ev, err := sub.Next(ctx)
		if err != nil {
			if errors.Is(err, context.Canceled) || errors.Is(err, storage.ErrClosed) {
				return
			}
			// An unexpected failure: subscribe again from now, and tell every
			// subscriber of the table to re-read what it may have missed.
			r.log.Error("table watch failed; restarting it", "table", table, "err", err)
			select {
			case <-ctx.Done():
				return
			case <-time.After(100 * time.Millisecond):
			}
			sub.Close()
			if sub, err = r.subscribe(table); err != nil {
				continue
			}
			r.mu.Lock()
			w.sub = sub
			r.mu.Unlock()
			r.markTable(table)
			continue
		}
		if ev.Resync { // changes were skipped: every watched URI of the table may be stale
			r.markTable(table)
			continue
		}
		uris := make([]string, 0, len(ev.Changes)+1)
		if table == backend.RunsTable {
			for _, c := range ev.Changes {
				uris = append(uris, wire.RunURI(c.Key))
			}
		} else {
			uris = append(uris, wire.TableURI(table))
			for _, c := range ev.Changes {
				uris = append(uris, wire.RowURI(table, c.Key))
			}
		}
		r.mark(uris)
	}
}

func (r *registry) mark(uris []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, uri := range uris {
		for c := range r.byURI[uri] {
			c.markDirty(uri)
		}
	}
}

// markTable marks every watched URI backed by table.
func (r *registry) markTable(table string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for uri, cs := range r.byURI {
		if r.watchTable(uri) == table {
			for c := range cs {
				c.markDirty(uri)
			}
		}
	}
}

func (c *client) markDirty(uri string) {
	c.mu.Lock()
	c.dirty[uri] = true
	c.mu.Unlock()
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// deliver sends a client's pending updates, one per dirty URI. A send that
// finds the client's queue full leaves the URI dirty and retries after
// r.retry, so the update is late, never lost.
func (r *registry) deliver(c *client) {
	var retry <-chan time.Time
	for {
		select {
		case <-c.stop:
			return
		case <-c.wake:
		case <-retry:
		}
		retry = nil
		c.mu.Lock()
		pending := make([]string, 0, len(c.dirty))
		for uri := range c.dirty {
			pending = append(pending, uri)
		}
		clear(c.dirty)
		c.mu.Unlock()
		for i, uri := range pending {
			err := c.send(uri)
			if err == nil {
				continue
			}
			if errors.Is(err, server.ErrNotificationChannelBlocked) {
				c.mu.Lock()
				for _, u := range pending[i:] {
					c.dirty[u] = true
				}
				c.mu.Unlock()
				retry = time.After(r.retry)
				break
			}
			// The session is gone (or never finished initializing): forget it.
			r.log.Debug("dropping subscriber", "err", err)
			go r.dropClient(c)
			return
		}
	}
}

func (r *registry) close() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.closed = true
	for key, c := range r.clients {
		close(c.stop)
		delete(r.clients, key)
	}
	for table, w := range r.watchers {
		w.stop()
		w.sub.Close()
		delete(r.watchers, table)
	}
	clear(r.byURI)
}
