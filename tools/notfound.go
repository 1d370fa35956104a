package tools

import (
	"context"
	"fmt"
	"strings"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"

	"github.com/mcp-sync/mcp-sync/backend"
)

// answerNotFound makes resources/read of one of this server's URIs that
// names nothing (a missing row or run, an unknown or server-only table, a
// malformed URI) fail as mcp-go fails a URI no handler serves: with the
// not-found code of the request's protocol (-32002 up to 2025-11-25; -32602
// on 2026-07-28, which SEP-2164 requires). A handler's own error is always
// -32603 in mcp-go, so the hook rewrites the URI, before mcp-go looks for a
// handler, into a short description that no handler serves; mcp-go's
// message then reads "handler not found for resource URI '<description>'".
// A row deleted between this check and the handler's read still gets -32603.
func (s *Server) answerNotFound(hooks *server.Hooks) {
	hooks.AddBeforeReadResource(func(ctx context.Context, _ any, req *mcp.ReadResourceRequest) {
		if why := s.missing(ctx, req.Params.URI); why != "" {
			req.Params.URI = why
		}
	})
}

// missing says why uri, one of this server's, names nothing, or "" when it
// names something (or is not this server's, or the read failed otherwise:
// the handler reports that).
func (s *Server) missing(ctx context.Context, uri string) string {
	if !strings.HasPrefix(uri, tablePrefix) && !strings.HasPrefix(uri, runPrefix) {
		return ""
	}
	tg, err := parseURI(uri)
	if err != nil {
		return "malformed URI " + backend.Short(uri)
	}
	switch {
	case tg.run != "":
		if _, ok, err := s.eng.Run(ctx, tg.run); err == nil && !ok {
			return fmt.Sprintf("no action run %s", backend.Short(tg.run))
		}
	case tg.hasKey:
		_, ok, _, err := s.eng.Get(ctx, tg.table, tg.key)
		if backend.KindOf(err) == backend.ErrUnknown {
			return fmt.Sprintf("no table %s; readable tables: %s", backend.Short(tg.table), s.tableEnum())
		}
		if err == nil && !ok || backend.KindOf(err) == backend.ErrInvalidInput { // a key no row can have
			return fmt.Sprintf("no row %s in table %s", backend.Short(tg.key), backend.Short(tg.table))
		}
	default:
		if !s.clientTable(tg.table) {
			return fmt.Sprintf("no table %s; readable tables: %s", backend.Short(tg.table), s.tableEnum())
		}
	}
	return ""
}

func (s *Server) clientTable(name string) bool {
	for _, t := range s.eng.ClientTables() {
		if t.Name == name {
			return true
		}
	}
	return false
}
