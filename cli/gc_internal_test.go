package cli

import (
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"testing"
	"time"
)

// TestGCPercentFor: a small live heap gets the most headroom, a large one
// Go's default, and one between them gcHeadroom in bytes.
func TestGCPercentFor(t *testing.T) {
	for _, c := range []struct {
		live uint64
		want int
	}{{0, 400}, {4 << 20, 400}, {16 << 20, 400}, {32 << 20, 200}, {64 << 20, 100}, {1 << 30, 100}} {
		if got := gcPercentFor(c.live); got != c.want {
			t.Errorf("gcPercentFor(%d MB) = %d, want %d", c.live>>20, got, c.want)
		}
	}
}

// gogc reads the collector's current target.
func gogc() int {
	s := []metrics.Sample{{Name: "/gc/gogc:percent"}}
	metrics.Read(s)
	return int(s[0].Value.Uint64())
}

// waitGOGC collects until the tuner has set want, or fails.
func waitGOGC(t *testing.T, want int) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for gogc() != want {
		if time.Now().After(deadline) {
			t.Fatalf("the target stayed %d, want %d", gogc(), want)
		}
		runtime.GC()
		time.Sleep(10 * time.Millisecond)
	}
}

// TestGCTuner: the tuner follows the live heap after each collection, and
// stopping it restores the target it found.
func TestGCTuner(t *testing.T) {
	prev := debug.SetGCPercent(77)
	defer debug.SetGCPercent(prev)
	stop := StartGCTuner()
	waitGOGC(t, gcMaxPercent)
	func() {
		big := make([][]byte, 0, 160)
		for range cap(big) {
			big = append(big, make([]byte, 1<<20)) // 160 MB live: Go's default
		}
		waitGOGC(t, 100)
		runtime.KeepAlive(big)
	}()
	waitGOGC(t, gcMaxPercent)
	stop()
	if got := gogc(); got != 77 {
		t.Errorf("after stop the target is %d, want the 77 it found", got)
	}
}
