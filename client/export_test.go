package client

import "time"

// SetNudgeWindow widens c's nudge debounce (nudgeDelay, nudgeMax; see
// Conn.notified), so that a test's run of watches is one burst however
// slowly a loaded machine runs it.
func SetNudgeWindow(c *Conn, delay, most time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.nudgeDelay, c.nudgeMax = delay, most
}

// SetPoll lengthens how long w waits for a notification before asking for
// changes, so that a test can tell a notification from the poll by whether
// a change arrives at all, not by how soon.
func SetPoll[T any](w *Watcher[T], d time.Duration) { w.poll.Store(int64(d)) }

// SetReplicaPoll is SetPoll for every table watcher of r.
func SetReplicaPoll(r *Replica, d time.Duration) {
	for _, w := range r.watchers {
		w.poll.Store(int64(d))
	}
}

// Unconfirmed is how many of r's mutations the server has not yet
// confirmed or rejected: what a failed wait was still waiting for.
func Unconfirmed(r *Replica) int {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return len(r.pending)
}
