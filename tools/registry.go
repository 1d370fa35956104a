package tools

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/mark3labs/mcp-go/server"

	"github.com/mcp-sync/mcp-sync/backend"
	"github.com/mcp-sync/mcp-sync/wire"
)

// registry tracks resource subscriptions and turns committed changes into
// notifications/resources/updated. mcp-go acknowledges resources/subscribe
// without tracking it, so this is ours.
//
// One engine feed per watched table feeds it; each client has a set
// of dirty URIs and its own sender goroutine, so an update for a URI that is
// already pending is absorbed (coalesced), and a client whose queue is full
// is retried later without ever holding up the store or other clients.
//
// For a client that declares it wants them, a table or row URI's
// notification carries the changes it stands for (wire.ChangesMetaKey) while
// they are few and known exactly, so a watcher skips the _sync_changes round
// trip: each notification of a URI carries everything after the version the
// previous one reached (client.upTo).
type registry struct {
	eng   *backend.Engine
	mcp   *server.MCPServer
	log   *slog.Logger
	retry time.Duration
	// encodings shares notices' JSON among the clients that owe the same one.
	encodings encodings
	// echoDelay is how long after a legacy call ends callEnded looks for
	// notices to echo (see there); 0 looks at once (tests).
	echoDelay time.Duration

	// sessions are the registered sessions by id: a legacy subscriber's
	// notifications go to the one registered under its id when sent, as
	// mcp-go's SendNotificationToSpecificClient does, which cannot carry _meta.
	sessions sync.Map
	// listens are the subscriptions/listen requests in progress on
	// registered sessions (SSE), by session id: see endListens.
	listens sync.Map // session id -> *sync.Map of *listenReq

	mu       sync.Mutex
	closed   bool
	clients  map[any]*client             // by legacy session id (string) or modern session
	byURI    map[string]map[*client]bool // who watches each URI, by scopeKey(owner, URI)
	watchers map[string]*watcher         // by scopeKey(owner, table) (RunsTable for runs)
	total    int                         // (client, URI) pairs, for Options.MaxSubscriptions
}

type watcher struct {
	table, owner string // what it watches, as whom (see privatesubs.go)
	refs         int
	sub          *backend.Feed
	stop         context.CancelFunc
	// priors: the rows' previous values, for patches; only watch uses it.
	priors priors
}

// listenReq is one subscriptions/listen request in progress: its context
// (which carries its session) and its JSON-RPC id.
type listenReq struct {
	ctx context.Context
	id  any
}

// trackListen notes a listen request in progress on a registered session,
// and returns what forgets it once the request has ended. Requests on
// unregistered sessions (modern streamable HTTP: per request) end with
// their HTTP request and need no tracking.
func (r *registry) trackListen(ctx context.Context, sess server.ClientSession, id any) (forget func()) {
	sid := sess.SessionID()
	if _, ok := r.sessions.Load(sid); !ok {
		return func() {}
	}
	l := &listenReq{ctx: ctx, id: id}
	m, _ := r.listens.LoadOrStore(sid, &sync.Map{})
	m.(*sync.Map).Store(l, true)
	if _, ok := r.sessions.Load(sid); !ok { // ended meanwhile: endListens may have missed l
		r.cancelListen(l)
	}
	return func() { m.(*sync.Map).Delete(l) }
}

// endListens cancels the listen requests still open on a session that has
// ended. mcp-go runs an SSE session's requests on a context that outlives
// its connection, so a listen stream would otherwise wait for ever, its
// subscriptions with it; a notifications/cancelled, as the client would
// send, goes through mcp-go's own cancellation.
func (r *registry) endListens(sid string) {
	m, ok := r.listens.LoadAndDelete(sid)
	if !ok {
		return
	}
	for k := range m.(*sync.Map).Range {
		r.cancelListen(k.(*listenReq))
	}
}

// cancelListen cancels l as its client would; cancelling it twice is
// harmless.
func (r *registry) cancelListen(l *listenReq) {
	id, err := json.Marshal(l.id)
	if err != nil {
		return
	}
	msg := fmt.Sprintf(`{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":%s,"reason":"session ended"}}`, id)
	r.mcp.HandleMessage(l.ctx, json.RawMessage(msg))
}

func newRegistry(eng *backend.Engine, log *slog.Logger, retry time.Duration) *registry {
	return &registry{eng: eng, log: log, retry: retry, echoDelay: 5 * time.Millisecond,
		clients: map[any]*client{}, byURI: map[string]map[*client]bool{}, watchers: map[string]*watcher{}}
}

// watchTable is the table (RunsTable for a run) behind a URI, or "" when
// the URI names nothing a client may watch (unknown, server-only,
// malformed): such subscriptions are acknowledged by mcp-go but never
// notified, and reveal nothing.
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

// add subscribes a client (created on its first URI) to uris, as ctx's
// caller; changes says its notifications carry their changes.
func (r *registry) add(ctx context.Context, key any, changes bool, send func(uri, changes string) error, uris ...string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return
	}
	c := r.clients[key]
	for _, uri := range uris {
		table := r.watchTable(uri)
		owner, ok := r.ownerFor(ctx, table)
		if table == "" || !ok {
			r.log.Debug("ignoring subscription to a URI that names nothing watchable", "uri", uri)
			continue
		}
		if c == nil {
			c = &client{key: key, send: send, changes: changes, uris: map[string]bool{}, dirty: map[string]*notice{},
				upTo: map[string]uint64{}, wake: make(chan struct{}, 1), stop: make(chan struct{}), sentAt: map[string]uint64{},
				owners: map[string]string{}}
			_, c.legacy = key.(string)
			r.clients[key] = c
			go r.deliver(c)
		}
		if c.uris[uri] || !r.retain(table, owner) {
			continue
		}
		c.uris[uri] = true
		r.total++
		// Under r.mu, as marking is: every change after this version reaches
		// the client (see notice.add).
		c.mu.Lock()
		c.upTo[uri] = r.eng.Version()
		if owner != "" {
			c.owners[uri] = owner
		}
		c.mu.Unlock()
		sk := scopeKey(owner, uri)
		if r.byURI[sk] == nil {
			r.byURI[sk] = map[*client]bool{}
		}
		r.byURI[sk][c] = true
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
	r.total--
	c.mu.Lock()
	owner := c.owners[uri]
	delete(c.upTo, uri)
	delete(c.dirty, uri)
	delete(c.sentAt, uri)
	delete(c.owners, uri)
	c.mu.Unlock()
	sk := scopeKey(owner, uri)
	delete(r.byURI[sk], c)
	if len(r.byURI[sk]) == 0 {
		delete(r.byURI, sk)
	}
	r.release(scopeKey(owner, r.watchTable(uri)))
}

// retain starts watching table as owner on its first such subscriber, and
// reports false when it cannot. Callers hold r.mu.
func (r *registry) retain(table, owner string) bool {
	wk := scopeKey(owner, table)
	if w := r.watchers[wk]; w != nil {
		w.refs++
		return true
	}
	sub, _, err := r.subscribe(table, owner)
	if err != nil {
		r.log.Error("cannot watch table for subscribers", "table", table, "err", err)
		return false
	}
	ctx, cancel := context.WithCancel(context.Background())
	w := &watcher{table: table, owner: owner, refs: 1, sub: sub, stop: cancel}
	r.watchers[wk] = w
	go r.watch(ctx, w)
	return true
}

// subscribe opens the engine's feed behind table's URIs as owner sees them,
// from now, and says the version now is.
func (r *registry) subscribe(table, owner string) (*backend.Feed, uint64, error) {
	ctx := feedContext(table, owner)
	from := r.eng.Version()
	var sub *backend.Feed
	var err error
	if table == backend.RunsTable {
		sub, err = r.eng.WatchRun(ctx, "", from)
	} else {
		sub, err = r.eng.Subscribe(ctx, backend.Filter{Table: table}, from)
	}
	return sub, from, err
}

// release stops the watch wk (scopeKey(owner, table)) after its last
// subscriber. Callers hold r.mu.
func (r *registry) release(wk string) {
	w := r.watchers[wk]
	if w == nil {
		return
	}
	if w.refs--; w.refs == 0 {
		w.stop()
		w.sub.Close()
		delete(r.watchers, wk)
	}
}

func (r *registry) watch(ctx context.Context, w *watcher) {
	sub, table := w.sub, w.table
	for {
		ev, err := sub.Next(ctx)
		if err != nil {
			if errors.Is(err, context.Canceled) || errors.Is(err, backend.ErrClosed) {
				return
			}
			// An unexpected failure: subscribe again from now, and tell every
			// subscriber of the table to re-read what it may have missed.
			r.log.Error("table watch failed; restarting it", "table", table, "err", err)
			sub.Close()
			var from uint64
			for sub = nil; sub == nil; {
				select {
				case <-ctx.Done():
					return
				case <-time.After(100 * time.Millisecond):
				}
				// Until one succeeds: a nil sub must not reach Next.
				if sub, from, err = r.subscribe(table, w.owner); errors.Is(err, backend.ErrClosed) {
					return
				} else if err != nil {
					r.log.Error("cannot watch table again; retrying", "table", table, "err", err)
				}
			}
			r.mu.Lock()
			if r.watchers[scopeKey(w.owner, table)] != w { // released while it retried: nobody closes it but us
				r.mu.Unlock()
				sub.Close()
				return
			}
			w.sub = sub
			r.mu.Unlock()
			w.priors.reset()
			r.markTable(w, from)
			continue
		}
		if ev.Resync { // changes were skipped: every watched URI of the table may be stale
			w.priors.reset()
			r.markTable(w, ev.Version)
			continue
		}
		r.mark(w, ev)
	}
}

// mark notes a committed event of w's table for the clients watching the
// table as w's owner, the rows it changed or (for runs) the runs it
// changed, then flushes each of those clients (see flush). Rows rewritten
// go as patches of their previous values (see priors) when a client that
// takes changes watches them.
func (r *registry) mark(w *watcher, ev backend.Event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	table, owner := w.table, w.owner
	noted := map[*client]bool{}
	note := func(uri string, changes []wire.SyncChange, bare bool) {
		one := &oneEvent{uri: uri}
		for cl := range r.byURI[scopeKey(owner, uri)] {
			cl.note(uri, ev.Version, changes, bare, one)
			noted[cl] = true
		}
	}
	if table == backend.RunsTable { // run notifications stay bare: get_run reads the run
		for _, c := range ev.Changes {
			note(wire.RunURI(c.Key), nil, true)
		}
	} else {
		all := w.priors.note(ev.Version, syncChanges(ev.Changes), r.takesChanges(owner, table, ev.Changes))
		note(wire.TableURI(table), all, false)
		if len(all) == 1 { // the usual case
			note(wire.RowURI(table, all[0].Key), all, false)
		} else {
			keys, byKey := byRow(all)
			for _, key := range keys {
				note(wire.RowURI(table, key), byKey[key], false)
			}
		}
	}
	for cl := range noted {
		if r.flush(cl) {
			cl.poke() // its sender retries later
		}
	}
}

// takesChanges reports whether a client that takes changes watches table
// or a row among changes as owner. Callers hold r.mu.
func (r *registry) takesChanges(owner, table string, changes []backend.Change) bool {
	taker := func(uri string) bool {
		for c := range r.byURI[scopeKey(owner, uri)] {
			if c.changes {
				return true
			}
		}
		return false
	}
	if taker(wire.TableURI(table)) {
		return true
	}
	for _, c := range changes {
		if taker(wire.RowURI(table, c.Key)) {
			return true
		}
	}
	return false
}

// byRow groups changes by key (a version may write a key more than once),
// keys in the order first written.
func byRow(all []wire.SyncChange) ([]string, map[string][]wire.SyncChange) {
	keys := make([]string, 0, len(all))
	byKey := make(map[string][]wire.SyncChange, len(all))
	for _, c := range all {
		if _, seen := byKey[c.Key]; !seen {
			keys = append(keys, c.Key)
		}
		byKey[c.Key] = append(byKey[c.Key], c)
	}
	return keys, byKey
}

// markTable marks every URI watched through w, without changes: they are
// not known exactly up to version, so the clients read them.
func (r *registry) markTable(w *watcher, version uint64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for sk, cs := range r.byURI {
		if owner, uri := splitScopeKey(sk); owner == w.owner && r.watchTable(uri) == w.table {
			for c := range cs {
				c.note(uri, version, nil, true, nil)
				c.poke()
			}
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
	r.total = 0
}
