package backend_test

import (
	"strings"
	"testing"
	"time"
)

// waitFailureLogged waits for want "action run failed" lines at ERROR: the
// engine logs a failure once its record has committed, just after a reader
// can see the run failed. It fails if there are more.
func waitFailureLogged(t *testing.T, logs *logBuf, want int) {
	t.Helper()
	const line = `level=ERROR msg="action run failed"`
	deadline := time.Now().Add(30 * time.Second)
	for strings.Count(logs.String(), line) < want && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(50 * time.Millisecond) // a duplicate would follow at once
	if got := strings.Count(logs.String(), line); got != want {
		t.Errorf("the failure was logged at ERROR %d times, want %d:\n%s", got, want, logs)
	}
}
