package cli

import (
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sync"
)

// The collector's target while a server runs (see gcTuner): the live heap
// plus at least gcHeadroom, but at most gcMaxPercent more than it, and
// never less than Go's default of 100%.
const (
	gcHeadroom   = 64 << 20
	gcMaxPercent = 400
)

// gcTuner sets the garbage collector's target (GOGC) after every cycle
// from the live heap. A server's live heap is small and every call
// allocates, so at Go's default of 100% a busy one collects many times a
// second: at 400% a call on 16 sessions' durable writes cost 13-26% less
// CPU (mcp-sync-bench peers). But a fixed 400% multiplies a large live
// heap as well: under soak --abuse (10,000 sessions) the server's RSS
// reached 486 MB against 245 MB at 100%. Headroom in bytes gives the small
// heap the first and the large one Go's default, and costs at most
// gcHeadroom more memory than the default.
type gcTuner struct {
	mu      sync.Mutex
	stopped bool
	prev    int              // the target before the tuner started
	samples []metrics.Sample // the live heap, the target now
}

// gcSentinel is an object whose finalizer runs once a cycle has found it
// unreachable; it holds a pointer, so the tiny allocator (whose objects'
// finalizers may never run) does not take it.
type gcSentinel struct{ t *gcTuner }

// StartGCTuner starts tuning this process's collector target after each
// cycle, as serve does; stop restores the target it found. A process that
// must honour a GOGC set in its environment calls it only when none is.
func StartGCTuner() (stop func()) {
	t := &gcTuner{samples: []metrics.Sample{{Name: "/gc/heap/live:bytes"}, {Name: "/gc/gogc:percent"}}}
	t.prev = debug.SetGCPercent(gcMaxPercent)
	t.arm()
	return func() {
		t.mu.Lock()
		defer t.mu.Unlock()
		t.stopped = true
		debug.SetGCPercent(t.prev)
	}
}

func (t *gcTuner) arm() {
	runtime.SetFinalizer(&gcSentinel{t}, func(s *gcSentinel) { s.t.cycle() })
}

// cycle runs on the finalizer goroutine after a collection.
func (t *gcTuner) cycle() {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.stopped {
		return
	}
	metrics.Read(t.samples)
	live, now := t.samples[0].Value, t.samples[1].Value
	if live.Kind() == metrics.KindUint64 && now.Kind() == metrics.KindUint64 {
		if p := gcPercentFor(live.Uint64()); uint64(p) != now.Uint64() {
			debug.SetGCPercent(p)
		}
	}
	t.arm()
}

// gcPercentFor is the target for a live heap of live bytes.
func gcPercentFor(live uint64) int {
	if live == 0 {
		return gcMaxPercent
	}
	return int(min(max(gcHeadroom*100/live, 100), gcMaxPercent))
}
