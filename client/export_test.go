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
