package client

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/mcp-sync/mcp-sync/backend"
	"github.com/mcp-sync/mcp-sync/wire"
)

// follow applies one table's confirmed changes as the server commits them.
func (r *Replica) follow(table string, w *Watcher[json.RawMessage]) {
	defer r.wg.Done()
	first := true
	for {
		ev, err := w.Next(r.ctx)
		if err != nil {
			if r.ctx.Err() == nil {
				r.log.Error("replica: following the table stopped", "table", table, "err", err)
				if first {
					r.failed <- fmt.Errorf("table %s: %w", table, err)
				}
			}
			return
		}
		r.mu.Lock()
		server := map[string]bool{}
		for {
			r.takeLocked(table, ev, server)
			if len(w.pending) == 0 {
				break
			}
			// Take in every event already fetched before rebasing once: a
			// replica must keep up with the server's write rate.
			if ev, err = w.Next(r.ctx); err != nil {
				break
			}
		}
		r.seen[table] = w.Version()
		confirmed := r.confirmLocked()
		if len(server) > 0 || confirmed {
			r.rebaseLocked(table, server)
		}
		if first {
			first = false
			if r.nReady++; r.nReady == len(r.tables) {
				close(r.ready)
			}
		}
		r.mu.Unlock()
		r.changed()
	}
}

// takeLocked takes one event's changes into the confirmed state, noting
// the keys it touched in server. Callers hold r.mu.
func (r *Replica) takeLocked(table string, ev Event[json.RawMessage], server map[string]bool) {
	if ev.Resync { // a snapshot: replace what was known
		for k := range r.confirmed[table] {
			server[k] = true
		}
		r.confirmed[table] = map[string]json.RawMessage{}
	}
	for _, c := range ev.Changes {
		server[c.Key] = true
		if c.Deleted {
			delete(r.confirmed[table], c.Key)
		} else {
			r.confirmed[table][c.Key] = c.Value
		}
	}
}

// changed tells OnChange that the local copy may have changed.
func (r *Replica) changed() {
	if r.onChange == nil {
		return
	}
	r.mu.RLock()
	seen := make(map[string]uint64, len(r.seen))
	maps.Copy(seen, r.seen)
	r.mu.RUnlock()
	for _, t := range r.tables {
		r.onChange(t, seen[t])
	}
}

// confirmLocked ends the pending mutations every table's watcher has caught
// up with, and reports whether it ended any. Callers hold r.mu.
func (r *Replica) confirmLocked() bool {
	low := ^uint64(0)
	for _, t := range r.tables {
		low = min(low, r.seen[t])
	}
	kept := r.pending[:0]
	for _, p := range r.pending {
		if p.pushed && p.version <= low {
			close(p.done)
			continue
		}
		kept = append(kept, p)
	}
	ended := len(kept) < len(r.pending)
	r.pending = kept
	return ended
}

// rebaseLocked makes the local copy the confirmed state with the pending
// mutations applied on top: rows the server changed (in table) and rows
// pending mutations wrote are reset to the server's values, then the
// pending mutations run again, in order. Callers hold r.mu.
func (r *Replica) rebaseLocked(table string, server map[string]bool) {
	reset := map[[2]string]bool{}
	for k := range server {
		reset[[2]string{table, k}] = true
	}
	for tk := range r.touched {
		reset[tk] = true
	}
	if len(reset) == 0 {
		return
	}
	// One commit: the reset and every pending mutation run again, each all
	// or nothing, so a rebase costs one local commit however many are pending.
	base := make([]backend.Change, 0, len(reset))
	for tk := range reset {
		c := backend.Change{Table: tk[0], Key: tk[1], Op: backend.OpDelete}
		if v, ok := r.confirmed[tk[0]][tk[1]]; ok {
			c.Op, c.Value = backend.OpPut, v
		}
		base = append(base, c)
	}
	pending := make([]backend.PendingMutation, len(r.pending))
	for i, p := range r.pending {
		pending[i] = backend.PendingMutation{Mutator: p.Mutator, Input: p.input}
	}
	res, err := r.eng.Rebase(r.ctx, base, pending)
	if err != nil {
		// Nothing changed locally: keep every row to reset for the next
		// rebase, the server's new ones included.
		r.log.Error("replica: rebasing the local copy on the server's state", "err", err)
		for tk := range reset {
			r.touched[tk] = true
		}
		return
	}
	for i, err := range res.Failed {
		if err != nil {
			r.log.Debug("replica: a pending mutation fails on the new state; the server decides", "mutator", pending[i].Mutator, "err", err)
		}
	}
	touched := map[[2]string]bool{}
	for _, c := range res.Written {
		if slices.Contains(r.tables, c.Table) { // as applyLocked: only the tables the replica follows
			touched[[2]string{c.Table, c.Key}] = true
		}
	}
	r.touched = touched
}

// pusher sends pending mutations to the server in order, each once per
// (client, seq): a push whose reply was lost is sent again after
// reconnecting, and the server applies it once.
func (r *Replica) pusher() {
	defer r.wg.Done()
	backoff := 50 * time.Millisecond
	for {
		r.mu.RLock()
		var next *Pending
		for _, p := range r.pending {
			if !p.pushed {
				next = p
				break
			}
		}
		r.mu.RUnlock()
		if next == nil {
			select {
			case <-r.ctx.Done():
				return
			case <-r.pushWake:
				continue
			}
		}
		raw, gen, err := r.c.call(r.ctx, wire.ToolSyncPush, wire.SyncPushIn{Client: r.clientID, Seq: next.Seq, Mutator: next.Mutator, Args: next.input}, nil)
		var ce *CallError
		switch {
		case err == nil:
			backoff = 50 * time.Millisecond
			var out wire.SyncPushOut
			if err := json.Unmarshal(raw, &out); err != nil {
				r.reject(next, fmt.Errorf("%s: decoding %s: %w", wire.ToolSyncPush, raw, err))
				continue
			}
			r.mu.Lock()
			next.pushed, next.version = true, out.Version
			rebased := r.confirmLocked()
			if rebased {
				// The confirmed state already holds its effect, which the
				// local copy applied on top once more: rebase.
				r.rebaseLocked("", nil)
			}
			r.mu.Unlock()
			if rebased {
				r.changed()
			}
			for _, w := range r.watchers {
				w.poke() // the change may touch no watched row: let the watchers catch up to it
			}
		case errors.As(err, &ce) && !errors.Is(err, ErrTransport):
			r.reject(next, ce)
		default:
			if r.ctx.Err() != nil {
				return
			}
			select {
			case <-r.ctx.Done():
				return
			case <-time.After(backoff):
			}
			backoff = min(backoff*2, 2*time.Second)
			_ = r.c.Reconnect(r.ctx, gen)
		}
	}
}

// reject ends a pending mutation with the server's error and rolls its
// local effect back.
func (r *Replica) reject(p *Pending, err error) {
	defer r.changed()
	r.mu.Lock()
	defer r.mu.Unlock()
	kept := r.pending[:0]
	for _, q := range r.pending {
		if q != p {
			kept = append(kept, q)
		}
	}
	r.pending = kept
	p.err = err
	close(p.done)
	r.rebaseLocked("", nil)
}
