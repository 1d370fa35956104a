package storage

import (
	"sync"
	"time"
)

// Request is one Update waiting in a [CommitQueue]. The driver's commit
// function runs Fn in the batch's transaction and sets Version (0 when Fn
// took none) and Err, which are what the Update returns.
type Request struct {
	// Fn is the Update's write function.
	Fn func(tx DriverWriteTx) ([]Change, error)
	// Version is the version Fn committed as, set by the commit.
	Version uint64
	// Err is Fn's error, or the commit's, set by the commit.
	Err error

	wake chan struct{} // one token: committed, or made the leader
	lead bool          // set under the queue's lock before wake: commit the queue
}

// CommitQueue is a driver's group commit: concurrent Updates share one
// transaction, and with it the round trip or fsync that dominates a small
// commit. It has no commit goroutine: the first writer to find nobody
// committing leads, committing the queue itself, so a lone writer commits
// on its own goroutine with no hand-off to wait for after the fsync
// (measured on the bbolt driver at ~5 futex calls per stdio call less).
// Writers that queue meanwhile wait; when the leader's batch is done it
// hands the lead to the next queued writer, so no caller keeps committing
// for others once its own write is done. The driver supplies only the
// commit of one batch.
type CommitQueue struct {
	maxBatch int
	linger   time.Duration
	commit   func(batch []*Request)

	mu        sync.Mutex
	queue     []*Request    // writers waiting for a commit
	leading   bool          // a writer is committing the queue
	lastBatch int           // writers in the previous commit
	closed    bool          // no more writers are queued
	arrived   chan struct{} // a writer queued, or Close began, while one lingers
	drained   chan struct{} // closed when the queue is empty after Close
}

// NewCommitQueue returns a queue whose leaders pass commit batches of up
// to maxBatch requests (at least 1), in queue order. commit must set every
// request's Version and Err; it runs on a writer's goroutine, one call at a
// time. With linger > 0, a leader whose previous batch was shared waits up
// to linger for as many writers as that batch had: under load, a commit's
// fixed cost (bbolt's page writes and two fsyncs) shared by more writers
// is what raises throughput. A lone writer never waits; with linger ≤ 0 no
// writer does.
func NewCommitQueue(maxBatch int, linger time.Duration, commit func(batch []*Request)) *CommitQueue {
	return &CommitQueue{maxBatch: max(maxBatch, 1), linger: linger, commit: commit,
		arrived: make(chan struct{}, 1), drained: make(chan struct{})}
}

// Update queues fn for the next commit and waits for it, returning the
// version it committed as and its error; after Close it fails with
// ErrClosed. Once queued it waits for the commit whatever happens, since
// the caller must learn whether fn committed.
func (q *CommitQueue) Update(fn func(tx DriverWriteTx) ([]Change, error)) (uint64, error) {
	r := &Request{Fn: fn, wake: make(chan struct{}, 1)}
	lead, err := q.enqueue(r)
	if err != nil {
		return 0, err
	}
	if lead {
		q.lead()
	}
	// At most two tokens: a writer made the leader commits the batch
	// holding its own request, which wakes it once more, not to lead.
	for {
		<-r.wake
		q.mu.Lock()
		promoted := r.lead
		r.lead = false
		q.mu.Unlock()
		if !promoted {
			return r.Version, r.Err
		}
		q.lead()
	}
}

// Close refuses further Updates and waits until the writes already queued
// have committed; a lingering leader stops waiting for company.
func (q *CommitQueue) Close() {
	q.mu.Lock()
	q.closed = true
	busy := q.leading
	q.wakeLinger()
	q.mu.Unlock()
	if busy {
		<-q.drained
	}
}

// Queued reports how many writers wait in the queue: not those of a batch
// being committed. Tests use it to learn that writers have queued behind
// a commit they hold.
func (q *CommitQueue) Queued() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.queue)
}

// enqueue adds r to the queue and reports whether its caller must lead.
func (q *CommitQueue) enqueue(r *Request) (lead bool, err error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed {
		return false, ErrClosed
	}
	q.queue = append(q.queue, r)
	if !q.leading {
		q.leading = true
		return true, nil
	}
	q.wakeLinger()
	return false, nil
}

// wakeLinger tells a lingering leader to look at the queue again. A token
// already pending will wake it all the same. Called with mu held.
func (q *CommitQueue) wakeLinger() {
	if q.linger <= 0 {
		return // nobody lingers
	}
	select {
	case q.arrived <- struct{}{}:
	default:
	}
}

// lead commits one batch, the one holding the caller's own request, then
// hands the lead to the next queued writer, or gives it up when none is
// left.
func (q *CommitQueue) lead() {
	q.mu.Lock()
	want := min(q.lastBatch, q.maxBatch)
	if want > 1 && len(q.queue) < want && q.linger > 0 && !q.closed {
		q.mu.Unlock()
		q.wait(want)
		q.mu.Lock()
	}
	n := min(len(q.queue), q.maxBatch)
	batch := make([]*Request, n)
	copy(batch, q.queue)
	q.queue = append(q.queue[:0], q.queue[n:]...)
	q.lastBatch = n
	q.mu.Unlock()

	q.commit(batch)

	q.mu.Lock()
	if len(q.queue) > 0 {
		next := q.queue[0]
		next.lead = true
		next.wake <- struct{}{}
	} else {
		q.leading = false
		if q.closed {
			close(q.drained)
		}
	}
	q.mu.Unlock()
	for _, r := range batch {
		r.wake <- struct{}{}
	}
}

// wait lingers until want writers are queued, the linger passes, or Close
// begins.
func (q *CommitQueue) wait(want int) {
	t := time.NewTimer(q.linger)
	defer t.Stop()
	for {
		q.mu.Lock()
		enough := len(q.queue) >= want || q.closed
		q.mu.Unlock()
		if enough {
			return
		}
		select {
		case <-q.arrived:
		case <-t.C:
			return
		}
	}
}
