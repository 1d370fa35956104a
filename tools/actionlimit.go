package tools

import (
	"context"
	"fmt"
	"sync"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"

	"github.com/mcp-sync/mcp-sync/backend"
	"github.com/mcp-sync/mcp-sync/wire"
)

// Defaults of the direct action call limits (Options.MaxActionCalls,
// MaxActionCallsPerSession, MaxActionQueue).
const (
	DefaultMaxActionCalls           = 32
	DefaultMaxActionCallsPerSession = 4
	DefaultMaxActionQueue           = 64
)

// actionLimiter bounds direct action calls (tool calls of actions; enqueued
// runs are bounded by the engine's workers): at most global run at once, at
// most perSession per session, and at most queue wait for a slot. A global
// or perSession below 0 is no limit; a queue below 0 is no queue (calls that
// find no slot fail at once). Calls of clients without a session
// (2026-07-28 HTTP) meet the global limit only.
type actionLimiter struct {
	global, perSession, queue int

	mu      sync.Mutex
	running int
	bySess  map[string]int
	waiting int
	freed   chan struct{} // closed and replaced each time a slot frees
}

func newActionLimiter(global, perSession, queue int) *actionLimiter {
	return &actionLimiter{global: global, perSession: perSession, queue: queue,
		bySess: map[string]int{}, freed: make(chan struct{})}
}

// busyError is a call refused because every slot and the queue are taken.
type busyError struct{ running, waiting int }

func (e *busyError) Error() string {
	return fmt.Sprintf("the server is busy: %d action calls are running and %d waiting, the most it holds (--max-action-calls, --max-action-calls-per-session, --max-action-queue); retry in a moment", e.running, e.waiting)
}

// fits says whether a call of sess may start now. Callers hold l.mu.
func (l *actionLimiter) fits(sess string) bool {
	if l.global >= 0 && l.running >= l.global {
		return false
	}
	return sess == "" || l.perSession < 0 || l.bySess[sess] < l.perSession
}

// take starts a call of sess and returns its release. Callers hold l.mu.
func (l *actionLimiter) take(sess string) func() {
	l.running++
	if sess != "" {
		l.bySess[sess]++
	}
	var once sync.Once
	return func() {
		once.Do(func() {
			l.mu.Lock()
			l.running--
			if sess != "" {
				if l.bySess[sess]--; l.bySess[sess] <= 0 {
					delete(l.bySess, sess)
				}
			}
			close(l.freed)
			l.freed = make(chan struct{})
			l.mu.Unlock()
		})
	}
}

// acquire waits for a slot for a call of sess: at once when one is free, in
// the queue (telling the caller through rep) when not, or fails with a
// *busyError when the queue is full, or with ctx's error.
func (l *actionLimiter) acquire(ctx context.Context, sess string, rep backend.Reporter) (func(), error) {
	l.mu.Lock()
	if l.fits(sess) {
		release := l.take(sess)
		l.mu.Unlock()
		return release, nil
	}
	if l.waiting >= max(l.queue, 0) {
		err := &busyError{running: l.running, waiting: l.waiting}
		l.mu.Unlock()
		return nil, err
	}
	l.waiting++
	msg := fmt.Sprintf("waiting for a free action slot (%d running, %d waiting)", l.running, l.waiting)
	for reported := false; ; {
		freed := l.freed
		l.mu.Unlock()
		if !reported {
			rep.Progress(backend.Progress{Message: msg})
			reported = true
		}
		select {
		case <-freed:
		case <-ctx.Done():
			l.mu.Lock()
			l.waiting--
			l.mu.Unlock()
			return nil, ctx.Err()
		}
		l.mu.Lock()
		if l.fits(sess) {
			l.waiting--
			release := l.take(sess)
			l.mu.Unlock()
			return release, nil
		}
	}
}

func sessionID(ctx context.Context) string {
	if sess := server.ClientSessionFromContext(ctx); sess != nil {
		return sess.SessionID()
	}
	return ""
}

// limitResult words a call the limiter refused or that gave up waiting.
func (s *Server) limitResult(ctx context.Context, name string, err error) *mcp.CallToolResult {
	if _, ok := err.(*busyError); ok {
		s.log.Warn("action call refused: busy", "action", name, "err", err)
		return errorWithKind(wire.KindBusy, fmt.Sprintf("action %s: %v", name, err))
	}
	return s.errorResult(ctx, "action", name, err)
}

// defaultInt is v, or def when v is 0.
func defaultInt(v, def int) int {
	if v == 0 {
		return def
	}
	return v
}
