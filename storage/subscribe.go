package storage

import (
	"context"
	"errors"
	"runtime"
	"sync"
)

// catchUpBatch is how many events a lagging subscription reads from the log
// at a time.
const catchUpBatch = 256

// Subscription delivers the committed changes a Filter selects, in commit
// order, each version at most once. Get one with [Store.Subscribe]; call
// Close when done.
//
// A subscription never slows writers. While it keeps up it is fed from
// memory; when its buffer fills it reads what it missed from the change log
// in its own goroutine (in Next); when the log no longer reaches back that
// far, Next returns an Event with Resync set.
type Subscription struct {
	s      *Store
	f      Filter
	notify chan struct{} // capacity 1: "something changed"

	mu      sync.Mutex
	live    bool    // fed by publish; otherwise catching up from the log
	queue   []Event // fed by publish while live
	pending []Event // read from the log, not yet returned
	read    uint64  // every event through this version was returned or is pending
	err     error   // why the subscription ended
}

// Subscribe returns a subscription to the changes f selects with versions
// after from. Pass the version of a snapshot you read to receive exactly the
// changes after it; pass Version() to receive only new ones. When from is
// older than the log's retention (or newer than the store), the first event
// is a Resync.
func (s *Store) Subscribe(f Filter, from uint64) (*Subscription, error) {
	if err := s.checkFilter(f); err != nil {
		return nil, err
	}
	sub := &Subscription{s: s, f: f, notify: make(chan struct{}, 1), read: from}
	s.pubMu.Lock()
	defer s.pubMu.Unlock()
	if s.subs == nil {
		return nil, ErrClosed
	}
	s.subs[sub] = struct{}{}
	return sub, nil
}

// Filter returns what the subscription selects.
func (sub *Subscription) Filter() Filter { return sub.f }

// Close ends the subscription; a Next waiting on it returns ErrClosed.
func (sub *Subscription) Close() {
	sub.s.pubMu.Lock()
	if sub.s.subs != nil {
		delete(sub.s.subs, sub)
	}
	sub.s.pubMu.Unlock()
	sub.end(ErrClosed)
}

func (sub *Subscription) end(err error) {
	sub.mu.Lock()
	if sub.err == nil {
		sub.err = err
		sub.queue, sub.pending = nil, nil
	}
	sub.mu.Unlock()
	sub.signal()
}

func (sub *Subscription) signal() {
	select {
	case sub.notify <- struct{}{}:
	default:
	}
}

// Next returns the next event, waiting for one until ctx is done. It returns
// ErrClosed once the subscription or the store is closed.
func (sub *Subscription) Next(ctx context.Context) (Event, error) {
	for {
		sub.mu.Lock()
		if sub.err != nil {
			err := sub.err
			sub.mu.Unlock()
			return Event{}, err
		}
		if len(sub.queue) > 0 {
			ev := sub.queue[0]
			sub.queue[0] = Event{}
			sub.queue = sub.queue[1:]
			sub.read = ev.Version
			sub.mu.Unlock()
			return ev, nil
		}
		if len(sub.pending) > 0 {
			ev := sub.pending[0]
			sub.pending[0] = Event{}
			sub.pending = sub.pending[1:]
			sub.mu.Unlock()
			return ev, nil
		}
		live, read := sub.live, sub.read
		sub.mu.Unlock()

		if live {
			select {
			case <-sub.notify:
				continue
			case <-ctx.Done():
				return Event{}, ctx.Err()
			}
		}
		if err := ctx.Err(); err != nil {
			return Event{}, err
		}
		ev, ok, err := sub.catchUp(read)
		if err != nil {
			return Event{}, err
		}
		if ok {
			return ev, nil
		}
	}
}

// catchUp reads events after read from the log into pending, or turns the
// subscription live once it has read everything committed. It returns an
// event directly only for a resync.
func (sub *Subscription) catchUp(read uint64) (Event, bool, error) {
	s := sub.s
	upto := s.version.Load()
	if read > upto {
		// A snapshot (View) can show a version the driver has committed but
		// not yet published: wait for it. Only a version past the store's
		// is one this store never reached.
		var committed uint64
		if err := s.d.View(func(tx DriverReadTx) error { committed = tx.Version(); return nil }); err != nil {
			return Event{}, false, err
		}
		if read > committed { // its history differs
			return sub.resync(upto), true, nil
		}
		runtime.Gosched() // publish follows the commit at once
		return Event{}, false, nil
	}
	if read == upto {
		s.pubMu.Lock()
		sub.mu.Lock()
		if s.version.Load() == sub.read && sub.err == nil {
			sub.live = true
		}
		sub.mu.Unlock()
		s.pubMu.Unlock()
		return Event{}, false, nil
	}
	var evs []Event
	var through uint64
	err := s.d.View(func(tx DriverReadTx) error {
		var err error
		evs, through, err = readLog(tx, read, upto, sub.f, catchUpBatch)
		return err
	})
	if errors.Is(err, ErrResync) {
		return sub.resync(upto), true, nil
	}
	if err != nil {
		return Event{}, false, err
	}
	sub.mu.Lock()
	if sub.err == nil {
		sub.pending, sub.read = evs, through
	}
	sub.mu.Unlock()
	return Event{}, false, nil
}

func (sub *Subscription) resync(at uint64) Event {
	sub.mu.Lock()
	sub.read = at
	sub.mu.Unlock()
	return Event{Version: at, Resync: true}
}

// publish makes version the committed one and hands events to live
// subscriptions: the driver calls it after every commit (Driver.OnCommit).
// It never blocks on a subscriber: one whose buffer is full drops back to
// reading the log.
func (s *Store) publish(version uint64, events []Event) {
	s.pubMu.Lock()
	defer s.pubMu.Unlock()
	s.version.Store(version)
	for sub := range s.subs {
		for _, ev := range events {
			if ev.Resync { // a gap the driver cannot list: read the log
				sub.fallBehind()
				break
			}
			fev, ok := sub.f.apply(ev)
			if !ok {
				continue
			}
			if !sub.deliver(fev, s.opts.SubscriberBuffer) {
				break
			}
		}
	}
}

// fallBehind makes a live subscription read what follows from the log.
func (sub *Subscription) fallBehind() {
	sub.mu.Lock()
	sub.live = false
	sub.mu.Unlock()
	sub.signal()
}

// deliver queues ev if the subscription is live and has room, and reports
// whether it is still live.
func (sub *Subscription) deliver(ev Event, limit int) bool {
	sub.mu.Lock()
	if !sub.live || sub.err != nil {
		sub.mu.Unlock()
		return false
	}
	if len(sub.queue) >= limit {
		sub.live = false // it reads the rest from the log
		sub.mu.Unlock()
		sub.signal()
		return false
	}
	sub.queue = append(sub.queue, ev)
	sub.mu.Unlock()
	sub.signal()
	return true
}
