package tools

import (
	"log/slog"
	"testing"
	"time"
)

// TestSubscribeInFlightHoldsAPlace: a subscribe let through counts against
// the cap until the registry has it, so subscribes handled at once (SSE runs
// each message in its own goroutine) cannot pass the check together.
func TestSubscribeInFlightHoldsAPlace(t *testing.T) {
	r := newRegistry(nil, slog.New(slog.DiscardHandler), time.Millisecond)
	h := &reserved{places: map[reservation]bool{}, count: map[string]int{}}
	if !h.take(r, "s", 1, "u1", 2) || !h.take(r, "s", 2, "u2", 2) {
		t.Fatal("two subscribes under a cap of 2 were refused")
	}
	if h.take(r, "s", 3, "u3", 2) {
		t.Error("a third subscribe passed while two were in flight under a cap of 2")
	}
	if !h.take(r, "other", 1, "u1", 2) {
		t.Error("another session's subscribe was refused")
	}
	h.release("s", 1)
	if !h.take(r, "s", 3, "u3", 2) {
		t.Error("a place released was not free again")
	}
	h.drop("s")
	if len(h.places) != 1 || h.count["s"] != 0 {
		t.Errorf("drop left %d places, %d for the session", len(h.places), h.count["s"])
	}
}
