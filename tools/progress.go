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
