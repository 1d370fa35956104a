package cli

import (
	"runtime/debug"
	"testing"
)

// TestTuneGC: serve raises the collector's target unless GOGC is set.
func TestTuneGC(t *testing.T) {
	prev := debug.SetGCPercent(100)
	defer debug.SetGCPercent(prev)
	tuneGC(func(string) string { return "" })
	if got := debug.SetGCPercent(100); got != serveGCPercent {
		t.Errorf("with GOGC unset the target is %d, want %d", got, serveGCPercent)
	}
	tuneGC(func(k string) string { return map[string]string{"GOGC": "100"}[k] })
	if got := debug.SetGCPercent(100); got != 100 {
		t.Errorf("with GOGC=100 the target is %d, want it left at 100", got)
	}
}
