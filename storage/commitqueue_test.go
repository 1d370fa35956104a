package storage_test

import (
	"errors"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mcp-sync/mcp-sync/storage"
)

// recorder is a commit function for CommitQueue tests: it gives each
// request of a batch that succeeds the next version and records, per
// batch, its writers and the goroutine that committed it. Armed with hold,
// its next commit signals held and waits for hold to close, so that
// writers queue behind it.
type recorder struct {
	mu      sync.Mutex
	version uint64
	batches [][]string // each batch's writers (their goroutines), in order
	leaders []string   // the goroutine that committed each batch
	hold    chan struct{}
	held    chan struct{}
	busy    atomic.Int32
	overlap atomic.Bool // two commits ran at once
}

func newRecorder() *recorder { return &recorder{held: make(chan struct{}, 1)} }

// holdNext makes the next commit wait until the returned function runs.
func (rc *recorder) holdNext() (release func()) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	hold := make(chan struct{})
	rc.hold = hold
	return sync.OnceFunc(func() { close(hold) })
}

func (rc *recorder) commit(batch []*storage.Request) {
	if rc.busy.Add(1) != 1 {
		rc.overlap.Store(true)
	}
	defer rc.busy.Add(-1)
	rc.mu.Lock()
	hold := rc.hold
	rc.hold = nil
	rc.mu.Unlock()
	if hold != nil {
		rc.held <- struct{}{}
		<-hold
	}
	var names []string
	rc.mu.Lock()
	defer rc.mu.Unlock()
	for _, r := range batch {
		changes, err := r.Fn(nil)
		names = append(names, changes[0].Key)
		r.Err, r.Version = err, 0
		if err == nil {
			rc.version++
			r.Version = rc.version
		}
	}
	rc.batches = append(rc.batches, names)
	rc.leaders = append(rc.leaders, goid())
}

// sizes returns how many writers each batch had.
func (rc *recorder) sizes() []int {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	var n []int
	for _, b := range rc.batches {
		n = append(n, len(b))
	}
	return n
}

// check fails t if two commits overlapped, or a batch was committed by
// anyone but its first writer: the lead goes to a queued writer, which
// commits the batch holding its own write.
func (rc *recorder) check(t *testing.T, maxBatch int) {
	t.Helper()
	if rc.overlap.Load() {
		t.Error("two commits ran at once")
	}
	rc.mu.Lock()
	defer rc.mu.Unlock()
	for i, b := range rc.batches {
		if len(b) == 0 || len(b) > maxBatch {
			t.Errorf("batch %d has %d writers, want 1 to %d", i, len(b), maxBatch)
			continue
		}
		if rc.leaders[i] != b[0] {
			t.Errorf("batch %d %v committed by goroutine %s, want its first writer's", i, b, rc.leaders[i])
		}
	}
}

// goid returns the calling goroutine's id, from its stack trace's first
// line ("goroutine 7 [running]:").
func goid() string {
	var buf [64]byte
	f := strings.Fields(string(buf[:runtime.Stack(buf[:], false)]))
	return f[1]
}

// update queues a write naming the calling goroutine, which fails with
// fail when that is set.
func update(q *storage.CommitQueue, fail error) (uint64, error) {
	me := goid()
	return q.Update(func(storage.DriverWriteTx) ([]storage.Change, error) {
		return []storage.Change{{Key: me}}, fail
	})
}

// waitQueued waits until n writers are queued in q.
func waitQueued(t *testing.T, q *storage.CommitQueue, n int) {
	t.Helper()
	for range 10000 {
		if q.Queued() >= n {
			return
		}
		time.Sleep(time.Millisecond)
	}
	t.Fatalf("%d writers queued, want %d", q.Queued(), n)
}

type result struct {
	version uint64
	err     error
}

// behind holds a commit of one writer, queues n more behind it, and
// returns the function that releases the commit and the results of all
// n+1 writers, which arrive once released.
func behind(t *testing.T, q *storage.CommitQueue, rc *recorder, n int) (release func(), results chan result) {
	t.Helper()
	release = rc.holdNext()
	t.Cleanup(release)
	results = make(chan result, n+1)
	run := func() {
		v, err := update(q, nil)
		results <- result{v, err}
	}
	go run()
	<-rc.held
	for range n {
		go run()
	}
	waitQueued(t, q, n)
	return release, results
}

// versions collects n results and fails t unless they are versions 1 to n
// without errors.
func versions(t *testing.T, results chan result, n int) {
	t.Helper()
	var got []int
	for range n {
		r := <-results
		if r.err != nil {
			t.Fatalf("Update: %v", r.err)
		}
		got = append(got, int(r.version))
	}
	slices.Sort(got)
	for i, v := range got {
		if v != i+1 {
			t.Fatalf("versions %v, want 1 to %d once each", got, n)
		}
	}
}

// TestCommitQueueLoneWriterLeads: a writer that finds nobody committing
// commits on its own goroutine, alone.
func TestCommitQueueLoneWriterLeads(t *testing.T) {
	rc := newRecorder()
	q := storage.NewCommitQueue(4, time.Minute, rc.commit)
	for i := range 3 {
		if v, err := update(q, nil); err != nil || v != uint64(i+1) {
			t.Fatalf("Update %d = %d, %v; want %d", i, v, err, i+1)
		}
	}
	if got := rc.sizes(); !slices.Equal(got, []int{1, 1, 1}) {
		t.Fatalf("batch sizes %v, want [1 1 1]", got)
	}
	rc.check(t, 4)
}

// TestCommitQueueHandsLeadOn: writers queued behind a commit are committed
// in batches of at most maxBatch, each by its first writer, to whom the
// previous leader handed the lead.
func TestCommitQueueHandsLeadOn(t *testing.T) {
	rc := newRecorder()
	q := storage.NewCommitQueue(3, 0, rc.commit)
	release, results := behind(t, q, rc, 7)
	release()
	versions(t, results, 8)
	if got := rc.sizes(); !slices.Equal(got, []int{1, 3, 3, 1}) {
		t.Fatalf("batch sizes %v, want [1 3 3 1]", got)
	}
	rc.check(t, 3)
}

// TestCommitQueueCloseDrains: Close waits for the leader in flight and the
// writers queued behind it to commit, then refuses writers.
func TestCommitQueueCloseDrains(t *testing.T) {
	rc := newRecorder()
	q := storage.NewCommitQueue(2, 0, rc.commit)
	release, results := behind(t, q, rc, 5)
	closed := make(chan struct{})
	go func() { q.Close(); close(closed) }()
	select {
	case <-closed:
		t.Fatal("Close returned while a commit was in flight")
	case <-time.After(50 * time.Millisecond):
	}
	release()
	versions(t, results, 6)
	<-closed
	if v, err := update(q, nil); !errors.Is(err, storage.ErrClosed) || v != 0 {
		t.Fatalf("Update after Close = %d, %v; want storage.ErrClosed", v, err)
	}
	q.Close() // a second Close returns at once
	rc.check(t, 2)
}

// TestCommitQueueCloseIdle: Close with nobody committing returns at once.
func TestCommitQueueCloseIdle(t *testing.T) {
	q := storage.NewCommitQueue(2, time.Minute, newRecorder().commit)
	q.Close()
	if _, err := update(q, nil); !errors.Is(err, storage.ErrClosed) {
		t.Fatalf("Update after Close = %v, want storage.ErrClosed", err)
	}
}

// TestCommitQueueLinger: after a shared batch, a leader waits for as many
// writers as it had, up to the linger, and Close cuts the wait short.
func TestCommitQueueLinger(t *testing.T) {
	// sharedBatch leaves q's last batch one of three writers.
	sharedBatch := func(t *testing.T, q *storage.CommitQueue, rc *recorder) {
		release, results := behind(t, q, rc, 3)
		release()
		versions(t, results, 4)
	}
	t.Run("gathers", func(t *testing.T) {
		rc := newRecorder()
		q := storage.NewCommitQueue(8, time.Minute, rc.commit)
		sharedBatch(t, q, rc)
		start := time.Now()
		var wg sync.WaitGroup
		for range 3 {
			wg.Go(func() {
				if _, err := update(q, nil); err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
		if got := rc.sizes(); !slices.Equal(got, []int{1, 3, 3}) {
			t.Fatalf("batch sizes %v, want [1 3 3]: three writers started together, one batch", got)
		}
		if d := time.Since(start); d > 30*time.Second {
			t.Fatalf("took %v: the leader waited out its linger with all three queued", d)
		}
		rc.check(t, 8)
	})
	t.Run("times out", func(t *testing.T) {
		rc := newRecorder()
		const linger = 20 * time.Millisecond
		q := storage.NewCommitQueue(8, linger, rc.commit)
		sharedBatch(t, q, rc)
		start := time.Now()
		if _, err := update(q, nil); err != nil {
			t.Fatal(err)
		}
		if d := time.Since(start); d < linger {
			t.Fatalf("a lone writer after a shared batch committed after %v, want a linger of %v first", d, linger)
		}
		if got := rc.sizes(); !slices.Equal(got, []int{1, 3, 1}) {
			t.Fatalf("batch sizes %v, want [1 3 1]", got)
		}
	})
	t.Run("Close ends it", func(t *testing.T) {
		rc := newRecorder()
		q := storage.NewCommitQueue(8, time.Minute, rc.commit)
		sharedBatch(t, q, rc)
		done := make(chan error, 1)
		go func() { _, err := update(q, nil); done <- err }()
		waitQueued(t, q, 1)
		start := time.Now()
		q.Close() // returns once the lingering leader has committed
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		if d := time.Since(start); d > 30*time.Second {
			t.Fatalf("Close took %v: the leader waited out its linger", d)
		}
	})
}

// TestCommitQueueConcurrent: many writers, some failing, each get a
// version of their own or their error; batches stay within maxBatch and
// never overlap.
func TestCommitQueueConcurrent(t *testing.T) {
	rc := newRecorder()
	const maxBatch, writers, each = 4, 8, 50
	q := storage.NewCommitQueue(maxBatch, 200*time.Microsecond, rc.commit)
	bad := errors.New("fn failed")
	var mu sync.Mutex
	var got []int
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				var fail error
				if (w+i)%7 == 0 {
					fail = fmt.Errorf("writer %d: %w", w, bad)
				}
				v, err := update(q, fail)
				switch {
				case fail != nil && (!errors.Is(err, bad) || v != 0):
					t.Errorf("failing write = %d, %v; want 0, its error", v, err)
				case fail == nil && err != nil:
					t.Errorf("Update: %v", err)
				case fail == nil:
					mu.Lock()
					got = append(got, int(v))
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	q.Close()
	slices.Sort(got)
	for i, v := range got {
		if v != i+1 {
			t.Fatalf("versions %v…, want 1 to %d once each", got[:i+1], len(got))
		}
	}
	total := 0
	for _, n := range rc.sizes() {
		total += n
	}
	if total != writers*each {
		t.Fatalf("%d writes committed, want %d", total, writers*each)
	}
	rc.check(t, maxBatch)
}
