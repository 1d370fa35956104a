package tools

import (
	"context"
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
	err := r.srv.SendLogMessageToClient(r.ctx, mcp.NewLoggingMessageNotification(mcpLevel(level), "mcp-sync", data))
	if errors.Is(err, server.ErrSessionDoesNotSupportLogging) || errors.Is(err, server.ErrNotificationNotInitialized) {
		return
	}
	r.note(err)
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

// settle waits until the session's notification queue is empty and then a
// little longer, so the notifications an action sent reach the client before
// its reply: mcp-go's streamable HTTP transport drops a notification its
// forwarder has taken off the queue but not yet written when the reply is
// written (measured: most calls lost their last progress message without
// this). It first sends a progress report still pending. Bounded: a client
// that does not read costs at most 250 ms.
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
	for len(ch) > 0 && time.Now().Before(deadline) {
		time.Sleep(200 * time.Microsecond)
	}
	time.Sleep(2 * time.Millisecond) // the forwarder writes what it took
}
