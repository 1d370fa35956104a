package tools

import (
	"log/slog"
	"testing"
	"time"
)

// TestSubscribeInFlightHoldsAPlace: a subscribe let through counts against
// the caps until the registry has it, so subscribes handled at once (SSE runs
// each message in its own goroutine) cannot pass the check together.
func TestSubscribeInFlightHoldsAPlace(t *testing.T) {
	r := newRegistry(nil, slog.New(slog.DiscardHandler), time.Millisecond)
	h := &reserved{places: map[reservation]bool{}, count: map[string]int{}}
	if h.take(r, "s", 1, "u1", 2, 0) != allowed || h.take(r, "s", 2, "u2", 2, 0) != allowed {
		t.Fatal("two subscribes under a cap of 2 were refused")
	}
	if h.take(r, "s", 3, "u3", 2, 0) != sessionFull {
		t.Error("a third subscribe passed while two were in flight under a cap of 2")
	}
	if h.take(r, "other", 1, "u1", 2, 0) != allowed {
		t.Error("another session's subscribe was refused")
	}
	h.release("s", 1)
	if h.take(r, "s", 3, "u3", 2, 0) != allowed {
		t.Error("a place released was not free again")
	}
	h.drop("s")
	if len(h.places) != 1 || h.count["s"] != 0 || h.all != 1 {
		t.Errorf("drop left %d places (%d counted), %d for the session", len(h.places), h.all, h.count["s"])
	}
}

// TestServerWideCapCountsPlacesInFlight: the server-wide cap counts the
// places of subscribes in flight from every session, not just the
// registry's, and a released place is free again for any session.
func TestServerWideCapCountsPlacesInFlight(t *testing.T) {
	r := newRegistry(nil, slog.New(slog.DiscardHandler), time.Millisecond)
	h := &reserved{places: map[reservation]bool{}, count: map[string]int{}}
	if h.take(r, "a", 1, "u1", 10, 2) != allowed || h.take(r, "b", 1, "u1", 10, 2) != allowed {
		t.Fatal("two subscribes under a server-wide cap of 2 were refused")
	}
	if got := h.take(r, "c", 1, "u1", 10, 2); got != serverFull {
		t.Errorf("a third session's subscribe: %v, want serverFull", got)
	}
	h.release("a", 1)
	if got := h.take(r, "c", 1, "u1", 10, 2); got != allowed {
		t.Errorf("after a release: %v, want allowed", got)
	}
}
