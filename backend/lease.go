package backend

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/mcp-sync/mcp-sync/storage"
)

// Runs on a shared store (storage.Shared: PostgreSQL replicas). Each
// engine is an instance with an id of its own and a lease, a row of
// instancesTable holding when it expires, renewed every RunLease/3. A run
// is claimed by writing the claimant's id into its work-list entry in the
// transaction that marks it running: writes are serialised by the store's
// version, so two instances cannot both claim one run. A run whose holder's
// lease expired (the process died, or lost the database for a whole lease)
// is taken over by another instance: at-least-once, as a restart on bbolt.
// The lease is first written by a claim's own transaction, and renewed
// only while the instance holds runs: an idle replica writes nothing.
// One lease per instance rather than per run keeps renewals at one write
// per instance, whatever the number of runs in flight.
//
// Every instance learns of runs enqueued elsewhere from the change feed of
// the work list, and of runs to take over from a scan of it on each
// renewal (the slow poll, which also covers a feed that had to resync).
const instancesTable = ".instances"

// foreignDelay is how long an instance leaves a run another instance
// enqueued to that one, which usually claims it at once, before it tries
// to claim the run itself (and helps with a backlog).
const foreignDelay = 100 * time.Millisecond

// errTaken ends a claim that found the run held by a live instance, or a
// record of an attempt whose run was taken over: it writes nothing and
// takes no version.
var errTaken = errors.New("the run is held by another instance")

// errNotDue ends a claim of a run waiting for a retry that is not yet
// due: it is scheduled for then.
var errNotDue = errors.New("the run's next attempt is not yet due")

// queueEntry is a run's entry in the work list.
type queueEntry struct {
	// Owner is the instance that claimed the run (shared stores only).
	Owner string `json:"owner,omitempty"`
	// Cancel asks the owner to cancel the run's attempt in progress.
	Cancel bool `json:"cancel,omitempty"`
}

func (q queueEntry) encode() []byte {
	if q == (queueEntry{}) {
		return []byte("{}")
	}
	b, _ := json.Marshal(q) // a struct of a string and a bool
	return b
}

func decodeEntry(b []byte) queueEntry {
	var q queueEntry
	_ = json.Unmarshal(b, &q) // an entry not understood holds no claim
	return q
}

func getEntry(r reader, id string) (queueEntry, bool, error) {
	b, ok, err := r.Get(queueTable, id)
	if err != nil || !ok {
		return queueEntry{}, ok, err
	}
	return decodeEntry(b), true, nil
}

// instanceRec is an instance's lease.
type instanceRec struct {
	Expires int64 `json:"expires"` // Unix milliseconds, by the instance's clock
}

// newInstanceID names this engine: host and pid for the operator, and
// random bytes so that a restarted process never inherits a dead one's
// claims.
func newInstanceID() string {
	host, _ := os.Hostname()
	var b [4]byte
	_, _ = rand.Read(b[:])
	return fmt.Sprintf("%s/%d/%s", host, os.Getpid(), hex.EncodeToString(b[:]))
}

// alive reports whether instance id holds an unexpired lease. Clocks of
// replicas must agree to well within RunLease.
func alive(r reader, id string, now time.Time) (bool, error) {
	b, ok, err := r.Get(instancesTable, id)
	if err != nil || !ok {
		return false, err
	}
	var rec instanceRec
	if json.Unmarshal(b, &rec) != nil {
		return false, nil
	}
	return rec.Expires > now.UnixMilli(), nil
}

// renew writes this instance's lease.
func (e *Engine) renew(ctx context.Context) error {
	now := time.Now()
	rec, _ := json.Marshal(instanceRec{Expires: now.Add(e.opts.RunLease).UnixMilli()})
	_, err := e.update(ctx, func(tx *storage.WriteTx) error {
		return tx.Put(instancesTable, e.self, rec)
	})
	if err == nil {
		e.leaseUntil.Store(now.Add(e.opts.RunLease).UnixMilli())
	}
	return err
}

// leaseInClaim, inside a claim's transaction, writes this instance's
// lease when it has none or it is half spent: an instance that never
// claims a run never writes one, so an app without queued actions pays
// nothing for replicas.
func (e *Engine) leaseInClaim(tx *storage.WriteTx, at time.Time) (wrote bool, err error) {
	if e.leaseUntil.Load()-at.UnixMilli() > e.opts.RunLease.Milliseconds()/2 {
		return false, nil
	}
	rec, _ := json.Marshal(instanceRec{Expires: at.Add(e.opts.RunLease).UnixMilli()})
	return true, tx.Put(instancesTable, e.self, rec)
}

// claimed notes, after a claim made at at committed, the lease it wrote
// (if wrote).
func (e *Engine) claimed(at time.Time, wrote bool) {
	e.lastClaim.Store(at.UnixMilli())
	if until := at.Add(e.opts.RunLease).UnixMilli(); wrote && until > e.leaseUntil.Load() {
		e.leaseUntil.Store(until)
	}
}

// holding reports whether this instance may hold runs: it claimed one
// lately (a run waiting for a retry waits a minute at most), or has runs
// queued or running.
func (e *Engine) holding() bool {
	return time.Since(time.UnixMilli(e.lastClaim.Load())) < 10*e.opts.RunLease+2*time.Minute || e.work.busy()
}

// startShared starts renewing this instance's lease while it holds runs,
// scanning the work list and following its change feed.
func (e *Engine) startShared() error {
	from := e.store.Version()
	e.wg.Add(3)
	go e.every(false, func() {
		if e.leaseUntil.Load() == 0 || !e.holding() {
			return
		}
		if err := e.renew(e.ctx); err != nil && e.ctx.Err() == nil {
			e.log.Warn("renewing this instance's lease on its action runs failed; retrying", "err", err)
		}
	})
	go e.every(true, func() { // at once: runs left by expired instances
		if err := e.scanQueue(); err != nil && e.ctx.Err() == nil {
			e.log.Warn("scanning the action queue failed; retrying", "err", err)
		}
	})
	go e.followQueue(from)
	return nil
}

// every calls fn every RunLease/3 (first at once if now is set) until the
// engine closes. Renewals and scans have a loop each: a long scan must not
// delay a renewal.
func (e *Engine) every(now bool, fn func()) {
	defer e.wg.Done()
	if now {
		fn()
	}
	for {
		t := time.NewTimer(e.opts.RunLease / 3)
		select {
		case <-e.ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		fn()
	}
}

// scanQueue dispatches every unfinished run nobody live holds: unclaimed
// ones (enqueued elsewhere, their feed event missed) and those of expired
// instances.
func (e *Engine) scanQueue() error {
	now := time.Now()
	return e.queuePages(func(tx *storage.ReadTx, kvs []storage.KV) ([]string, error) {
		var ids []string
		live := map[string]bool{e.self: true}
		for _, kv := range kvs {
			ent := decodeEntry(kv.Value)
			if ent.Owner != "" {
				ok, seen := live[ent.Owner]
				if !seen {
					var err error
					if ok, err = alive(tx, ent.Owner, now); err != nil {
						return nil, err
					}
					live[ent.Owner] = ok
				}
				if ok {
					continue
				}
			}
			ids = append(ids, kv.Key)
		}
		return ids, nil
	}, func(id string) {
		e.work.push(id) // a claim of a retry not yet due schedules it
	})
}

// followQueue dispatches runs other instances enqueue, and cancels a
// local attempt another instance asked to cancel, as the work list's
// change feed tells of them.
func (e *Engine) followQueue(from uint64) {
	defer e.wg.Done()
	sub, err := e.store.Subscribe(storage.Filter{Table: queueTable}, from)
	if err != nil {
		e.log.Error("following the action queue failed; runs enqueued elsewhere start on the next scan", "err", err)
		return
	}
	defer sub.Close()
	for {
		ev, err := sub.Next(e.ctx)
		if err != nil {
			return // closing
		}
		if ev.Resync {
			if err := e.scanQueue(); err != nil && e.ctx.Err() == nil {
				e.log.Warn("scanning the action queue failed; retrying on the next renewal", "err", err)
			}
			continue
		}
		for _, c := range ev.Changes {
			if c.Op != storage.OpPut {
				continue
			}
			ent := decodeEntry(c.Value)
			switch {
			case ent.Owner == "":
				e.pushAfter(c.Key, foreignDelay)
			case ent.Owner == e.self && ent.Cancel:
				if cancel, ok := e.running.Load(c.Key); ok {
					cancel.(context.CancelFunc)()
				}
			}
		}
	}
}

// claimable reports, from a read, whether a claim of run id may succeed:
// no live instance other than this one holds it. It saves the write
// transaction of a claim bound to fail.
func (e *Engine) claimable(id string) bool {
	ok := true
	_ = e.store.View(func(tx *storage.ReadTx) error {
		ent, found, err := getEntry(tx, id)
		if err != nil || !found {
			ok = err != nil // unreadable: let the claim say why
			return nil
		}
		if ent.Owner != "" && ent.Owner != e.self {
			held, err := alive(tx, ent.Owner, time.Now())
			ok = err != nil || !held
		}
		return nil
	})
	return ok
}

// checkClaim, inside a claim's transaction, fails with errTaken when a
// live instance other than this one holds run id.
func (e *Engine) checkClaim(tx *storage.WriteTx, id string) error {
	ent, _, err := getEntry(tx, id)
	if err != nil || ent.Owner == "" || ent.Owner == e.self {
		return err
	}
	held, err := alive(tx, ent.Owner, time.Now())
	if err == nil && held {
		return errTaken
	}
	return err
}

// checkHeld, inside the transaction recording an attempt's outcome, fails
// with errTaken when this instance no longer holds the run (its lease
// lapsed and another took the run over): that instance's attempt counts.
func (e *Engine) checkHeld(tx *storage.WriteTx, run *Run) error {
	ent, found, err := getEntry(tx, run.ID)
	if err != nil {
		return err
	}
	if !found || ent.Owner != e.self {
		return errTaken
	}
	r, ok, err := getRun(tx, run.ID)
	if err != nil {
		return err
	}
	if !ok || r.Attempts != run.Attempts {
		return errTaken
	}
	return nil
}

// releaseLease deletes this instance's lease as it closes, so that other
// instances take over its unfinished runs on their next scan rather than
// after the lease expires.
func (e *Engine) releaseLease() {
	if e.leaseUntil.Load() == 0 {
		return // never written
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err := e.update(ctx, func(tx *storage.WriteTx) error {
		return tx.Delete(instancesTable, e.self)
	})
	if err != nil {
		e.log.Warn("could not release this instance's lease; others take its runs over once it expires", "err", err)
	}
}
