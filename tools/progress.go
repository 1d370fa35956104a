package tools

import (
	"context"
	"crypto/rand"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"

	"github.com/mcp-sync/mcp-sync/backend"
)

// reporter turns an action's progress and logs into notifications to the
// calling client.
type reporter struct {
	ctx   context.Context
	srv   *server.MCPServer
	token mcp.ProgressToken

	mu       sync.Mutex
	sent     bool           // a notification went out: settle before replying
	pending  map[string]any // a progress report the full queue refused
	lastProg float64
}

func newReporter(ctx context.Context, srv *server.MCPServer, req mcp.CallToolRequest) *reporter {
	r := &reporter{ctx: ctx, srv: srv}
	if req.Params.Meta != nil {
		r.token = req.Params.Meta.ProgressToken
	}
	return r
}

// Progress implements backend.Reporter. Progress values must increase (MCP
// requires it), so a report that would go backwards is raised to the last.
// A report the session's full queue refuses is kept and sent with the next
// one or by settle, so the last report always goes out.
func (r *reporter) Progress(p backend.Progress) {
	if r.token == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if p.Progress < r.lastProg {
		p.Progress = r.lastProg
	}
	r.lastProg = p.Progress
	params := map[string]any{"progressToken": r.token, "progress": p.Progress}
	if p.Total > 0 {
		params["total"] = p.Total
	}
	if p.Message != "" {
		params["message"] = p.Message
	}
	r.pending = params // a newer report supersedes one still pending
	r.flushLocked()
}

// flushLocked sends the pending progress report, if any. Callers hold r.mu.
func (r *reporter) flushLocked() bool {
	if r.pending == nil {
		return true
	}
	err := r.srv.SendNotificationToClient(r.ctx, "notifications/progress", r.pending)
	if errors.Is(err, server.ErrNotificationChannelBlocked) {
		return false
	}
	if err == nil {
		r.sent = true
	}
	r.pending = nil
	return true
}

// Log implements backend.Reporter: a notifications/message at the client's
// chosen level or above.
func (r *reporter) Log(level slog.Level, msg string, args ...any) {
	var data any = msg
	if len(args) > 0 {
		fields := map[string]any{"message": msg}
		rec := slog.NewRecord(time.Time{}, level, msg, 0)
		rec.Add(args...)
		rec.Attrs(func(a slog.Attr) bool {
			fields[a.Key] = a.Value.Resolve().Any()
			return true
		})
		data = fields
	}
	lvl := mcpLevel(level)
	if !r.logWanted(lvl) { // mcp-go would drop it silently: nothing to settle
		return
	}
	r.note(r.srv.SendLogMessageToClient(r.ctx, mcp.NewLoggingMessageNotification(lvl, "mcp-sync", data)))
}

// logWanted says whether the client asked for log messages at level: per
// request on 2026-07-28, per session (logging/setLevel) before.
func (r *reporter) logWanted(level mcp.LoggingLevel) bool {
	if info := server.RequestProtocolInfoFromContext(r.ctx); info != nil && info.Modern {
		return info.LogLevel != "" && level.ShouldSendTo(info.LogLevel)
	}
	sess, ok := server.ClientSessionFromContext(r.ctx).(server.SessionWithLogging)
	return ok && sess.Initialized() && level.ShouldSendTo(sess.GetLogLevel())
}

func (r *reporter) note(err error) {
	if err == nil {
		r.mu.Lock()
		r.sent = true
		r.mu.Unlock()
	}
	// A log line the full queue refused is dropped: logs are advisory, and
	// the call's result still reports its outcome.
}

// flushMethod is the notification settle uses as a marker. Clients ignore
// notifications they do not know (JSON-RPC), so it may arrive or not.
const flushMethod = "notifications/mcp-sync/flush"

// settle makes the notifications an action sent reach the client before its
// reply. mcp-go writes notifications from a queue on another goroutine, so a
// reply written when the handler returns can overtake them (stdio, SSE), or
// be written while the streamable HTTP forwarder still holds one it then
// drops (measured: most calls lost their last progress message).
//
// It first sends a progress report still pending, waits for the queue to
// empty, then queues a marker and waits until the writer has taken it: the
// writer takes messages one at a time and writes each before taking the
// next, so by then everything before the marker has been written. Bounded:
// a client that does not read costs at most 250 ms.
//
// Legacy streamable HTTP is the exception: with a GET stream open, mcp-go
// feeds the session's queue to both streams, so a marker taken proves
// nothing about this call's forwarder, which may still hold a report it
// then drops (a 2 ms pause was all that covered it, and under load a call
// lost one). There settle queues a marker whenever the queue is empty until
// one is written on this call's own response (withReplyWatch sees it): by
// then the forwarder has written all it took. A report the GET stream took
// may still go out after the reply (clients see reports out of order there
// too); a short pause makes that rarer.
func (r *reporter) settle() {
	deadline := time.Now().Add(250 * time.Millisecond)
	r.mu.Lock()
	for !r.flushLocked() && time.Now().Before(deadline) {
		r.mu.Unlock()
		time.Sleep(time.Millisecond)
		r.mu.Lock()
	}
	sent := r.sent
	r.mu.Unlock()
	if !sent {
		return
	}
	sess := server.ClientSessionFromContext(r.ctx)
	if sess == nil {
		return
	}
	ch := sess.NotificationChannel()
	drained := func() bool {
		for len(ch) > 0 {
			if time.Now().After(deadline) {
				return false
			}
			time.Sleep(100 * time.Microsecond)
		}
		return true
	}
	if !drained() {
		return
	}
	marker := mcp.JSONRPCNotification{JSONRPC: mcp.JSONRPC_VERSION, Notification: mcp.Notification{Method: flushMethod}}
	reply := replyWatchFrom(r.ctx)
	if reply == nil {
		select {
		case ch <- marker:
			drained()
		default:
		}
		return
	}
	// A token of this call's own, so that a marker another call of the
	// session queued earlier does not count.
	token := rand.Text()
	marker.Params.AdditionalFields = map[string]any{"token": token}
	wrote := reply.expect(token)
	for time.Now().Before(deadline) {
		if len(ch) == 0 {
			select {
			case ch <- marker:
			default:
			}
		}
		select {
		case <-wrote:
			// Best effort, not needed for delivery: let the GET stream, if
			// open, write what it took before the reply goes.
			time.Sleep(2 * time.Millisecond)
			return
		case <-time.After(time.Millisecond): // the GET stream may have taken it: queue another
		}
	}
}
