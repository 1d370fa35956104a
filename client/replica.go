package client

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sync"

	"github.com/mcp-sync/mcp-sync/backend"
	"github.com/mcp-sync/mcp-sync/schema"
	"github.com/mcp-sync/mcp-sync/wire"
)

// Replica is a local copy of some of a server's tables on which the app's
// own mutators run first. See the package documentation.
type Replica struct {
	c        *Conn
	eng      *backend.Engine // the local copy: a replica-mode engine on a temp file
	dir      string
	clientID string
	tables   []string
	log      *slog.Logger
	onChange func(table string, version uint64)

	mu        sync.RWMutex
	confirmed map[string]map[string]json.RawMessage // table → key → the server's value
	seen      map[string]uint64                     // table → version its watcher reached
	pending   []*Pending
	touched   map[[2]string]bool // rows pending mutations wrote locally
	nextSeq   uint64
	watchers  map[string]*Watcher[json.RawMessage]
	ready     chan struct{} // closed once every table's first snapshot is in
	nReady    int
	failed    chan error // a table's watcher stopped before its first snapshot

	pushWake chan struct{}
	ctx      context.Context
	cancel   context.CancelFunc
	wg       sync.WaitGroup
}

// Pending is a mutation applied locally and pushed to the server.
type Pending struct {
	Seq     uint64
	Mutator string
	input   json.RawMessage
	done    chan struct{}
	err     error
	version uint64 // the server's version for it, once pushed
	pushed  bool
}

// Wait returns once the server has applied the mutation and the replica has
// caught up with it (nil), or rejected it (its error: the local change has
// been rolled back).
func (p *Pending) Wait(ctx context.Context) error {
	select {
	case <-p.done:
		return p.err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// ReplicaOptions configure a Replica.
type ReplicaOptions struct {
	// Logger receives the replica's own logs (default: discard).
	Logger *slog.Logger
	// OnChange, when set, is called after the local copy may have changed
	// (server changes arrived, a mutation was confirmed or rolled back), once
	// per replicated table with the version its copy has reached: a UI
	// re-renders there. It runs on the replica's goroutines: keep it short.
	OnChange func(table string, version uint64)
}

// NewReplica keeps a local copy of tables (all client-visible tables of
// cfg's schema when none are named) from the server c connects to, and
// runs cfg's mutators on it. cfg is the app's backend config: the same
// mutator code the server runs (its actions never run here). It returns
// once the first snapshot of every table is in.
func NewReplica(ctx context.Context, c *Conn, cfg backend.Config, o ReplicaOptions, tables ...string) (*Replica, error) {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if len(tables) == 0 {
		for _, t := range cfg.Schema.Tables() {
			if !t.ServerOnly {
				tables = append(tables, t.Name)
			}
		}
	}
	tables = slices.Compact(slices.Sorted(slices.Values(tables)))
	dir, err := os.MkdirTemp("", "mcp-sync-replica-")
	if err != nil {
		return nil, fmt.Errorf("replica: a directory for the local copy: %w", err)
	}
	eng, err := backend.Open(cfg, backend.Options{Path: filepath.Join(dir, "replica.db"), Replica: true, Logger: o.Logger})
	if err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("replica: %w", err)
	}
	id := make([]byte, 12)
	_, _ = rand.Read(id)
	r := &Replica{c: c, eng: eng, dir: dir, clientID: hex.EncodeToString(id), tables: tables, log: o.Logger, onChange: o.OnChange,
		confirmed: map[string]map[string]json.RawMessage{}, seen: map[string]uint64{},
		touched: map[[2]string]bool{}, watchers: map[string]*Watcher[json.RawMessage]{},
		ready: make(chan struct{}), failed: make(chan error, len(tables)), pushWake: make(chan struct{}, 1)}
	r.ctx, r.cancel = context.WithCancel(context.Background())
	for _, t := range tables {
		info, ok := cfg.Schema.Table(t)
		if !ok || info.ServerOnly {
			r.Close()
			return nil, fmt.Errorf("replica: %w: no client table %q in the schema", ErrUnknown, t)
		}
		uri := wire.TableURI(t)
		box, stop, err := c.watch(ctx, uri, true)
		if err != nil {
			r.Close()
			return nil, err
		}
		r.confirmed[t] = map[string]json.RawMessage{}
		w := newWatcher[json.RawMessage](c, t, Selector{}, 0, box, stop)
		w.ticks = true // confirmations need the position even when nothing changed
		r.watchers[t] = w
	}
	for t, w := range r.watchers {
		r.wg.Add(1)
		go r.follow(t, w)
	}
	r.wg.Add(1)
	go r.pusher()
	select {
	case <-r.ready:
		return r, nil
	case err := <-r.failed:
		r.Close()
		return nil, fmt.Errorf("replica: %w", err)
	case <-ctx.Done():
		r.Close()
		return nil, ctx.Err()
	}
}

// ClientID is the id the replica's pushes carry.
func (r *Replica) ClientID() string { return r.clientID }

// Conn is the connection the replica uses.
func (r *Replica) Conn() *Conn { return r.c }

// Close stops the replica and removes its local copy. Pending mutations
// not yet pushed are dropped.
func (r *Replica) Close() {
	r.cancel()
	r.wg.Wait()
	for _, w := range r.watchers {
		w.Close()
	}
	r.mu.Lock()
	for _, p := range r.pending {
		p.err = fmt.Errorf("%w: the replica closed before the server confirmed %s", ErrTransport, p.Mutator)
		close(p.done)
	}
	r.pending = nil
	r.mu.Unlock()
	r.eng.Close()
	os.RemoveAll(r.dir)
}

// Get returns a row of the local copy: the server's confirmed state with the
// pending mutations applied on top.
func (r *Replica) Get(table, key string) (json.RawMessage, bool, error) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	val, ok, _, err := r.eng.Get(r.ctx, table, key)
	return val, ok, err
}

// Scan returns the local copy's rows of table with keys starting with
// prefix, in key order.
func (r *Replica) Scan(table, prefix string) ([]backend.Row, error) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	var all []backend.Row
	for after := ""; ; {
		rows, next, _, err := r.eng.Scan(r.ctx, table, backend.ScanOptions{Prefix: prefix, After: after, Limit: 1000})
		if err != nil {
			return nil, err
		}
		all = append(all, rows...)
		if next == "" {
			return all, nil
		}
		after = next
	}
}

// Get is the typed form of [Replica.Get].
func Get[T any](r *Replica, t schema.TableDef[T], key string) (T, bool, error) {
	var v T
	raw, ok, err := r.Get(t.Name(), key)
	if err != nil || !ok {
		return v, ok, err
	}
	return v, true, json.Unmarshal(raw, &v)
}

// Mutate runs the named mutator on the local copy at once (IsServer()
// false), so reads see its effect, and queues it to be pushed to the server.
// Invalid input fails here and is not pushed; a mutator that fails locally
// is still pushed (the server, which sees all the data, decides). Wait on
// the returned Pending for the server's verdict.
func (r *Replica) Mutate(ctx context.Context, name string, input any) (*Pending, error) {
	// The schema's encoding sends a nil slice as [], as the server would store it.
	raw, err := r.eng.Schema().EncodeInput(name, input)
	if err != nil {
		return nil, fmt.Errorf("%s: encoding the input: %w", name, err)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.ctx.Err() != nil {
		return nil, fmt.Errorf("%w: the replica is closed", ErrTransport)
	}
	if err := r.applyLocked(ctx, name, raw); err != nil && backend.KindOf(err) != backend.ErrHandler {
		if backend.KindOf(err) == backend.ErrInvalidInput {
			return nil, &CallError{Tool: name, Kind: wire.KindInvalidInput, Message: err.Error()}
		}
		return nil, err
	}
	r.nextSeq++
	p := &Pending{Seq: r.nextSeq, Mutator: name, input: raw, done: make(chan struct{})}
	r.pending = append(r.pending, p)
	select {
	case r.pushWake <- struct{}{}:
	default:
	}
	return p, nil
}

// MutateLocal is the typed form of [Replica.Mutate].
func MutateLocal[In any](ctx context.Context, r *Replica, d schema.MutatorDef[In], in In) (*Pending, error) {
	return r.Mutate(ctx, d.Name(), in)
}

// Settled waits until every pending mutation has been confirmed or
// rejected.
func (r *Replica) Settled(ctx context.Context) error {
	for {
		r.mu.RLock()
		var last *Pending
		if n := len(r.pending); n > 0 {
			last = r.pending[n-1]
		}
		r.mu.RUnlock()
		if last == nil {
			return nil
		}
		if err := last.Wait(ctx); err != nil && ctx.Err() != nil {
			return err
		}
	}
}

// ReplicaAction calls an action once the replica's pending mutations are
// confirmed, so the action sees them.
func ReplicaAction[In, Out any](ctx context.Context, r *Replica, d schema.ActionDef[In, Out], in In, opts ...CallOption) (Out, error) {
	if err := r.Settled(ctx); err != nil {
		var zero Out
		return zero, err
	}
	return Action(ctx, r.c, d, in, opts...)
}

// applyLocked runs a mutator on the local copy and records the rows it
// wrote. Callers hold r.mu.
func (r *Replica) applyLocked(ctx context.Context, name string, input json.RawMessage) error {
	v0 := r.eng.Version()
	m, err := r.eng.Mutate(ctx, name, input)
	if err != nil {
		return err
	}
	v := m.Version
	for _, t := range r.tables {
		// Not ctx: the mutation has committed, and what it touched must be
		// known even if the caller has since gone away.
		evs, err := r.eng.ChangesSince(context.WithoutCancel(ctx), backend.Filter{Table: t}, v0, 0)
		if err != nil {
			return fmt.Errorf("replica: reading back local changes: %w", err)
		}
		for _, ev := range evs {
			if ev.Version > v {
				break
			}
			for _, c := range ev.Changes {
				r.touched[[2]string{t, c.Key}] = true
			}
		}
	}
	return nil
}
