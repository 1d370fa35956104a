package tools

import (
	"bytes"
	"context"
	"encoding/json"
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
// On 2026-07-28, stdio, sockets and streamable HTTP answer such reads before mcp-go
// sees them (claimNotFound), with data.uri.
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

// maxDataURI is the longest URI a not-found error echoes in data.uri: a
// longer one is left out rather than sent back whole.
const maxDataURI = 2048

// claimNotFound answers, in mcp-go's place, a 2026-07-28 resources/read
// (stdio, a socket or streamable HTTP) of a URI nothing here serves, so that the
// error carries the URI in data.uri, as SEP-2164 asks: mcp-go builds that
// error itself and has no way to add data. It leaves to mcp-go every read
// it would answer otherwise: a URI a resource or template serves, an older
// protocol's request (its session's version is mcp-go's to know), an
// unknown version, and headers that do not match the body (mcp-go's
// -32020). header reads the HTTP request's headers (nil on stdio).
func (s *Server) claimNotFound(ctx context.Context, msg []byte, header headerFunc) (rpcReply, bool) {
	if !bytes.Contains(msg, []byte(`resources/read`)) {
		return rpcReply{}, false
	}
	var req rpcRequest
	if json.Unmarshal(msg, &req) != nil || req.JSONRPC != "2.0" || req.Method != string(mcp.MethodResourcesRead) ||
		len(req.ID) == 0 || string(req.ID) == "null" {
		return rpcReply{}, false
	}
	var p struct {
		URI  string    `json:"uri"`
		Meta *mcp.Meta `json:"_meta"`
	}
	if json.Unmarshal(req.Params, &p) != nil || p.URI == "" {
		return rpcReply{}, false
	}
	version := p.Meta.ProtocolVersion()
	if !mcp.IsModernProtocol(version) || !mcp.IsValidProtocolVersion(version) {
		return rpcReply{}, false
	}
	if header != nil && header(mcp.HeaderProtocolVersion) != "" {
		name, ok := mcp.DecodeHeaderValue(strings.TrimSpace(header(mcp.HeaderName)))
		if header(mcp.HeaderProtocolVersion) != version || header(mcp.HeaderMethod) != req.Method || !ok || name != p.URI {
			return rpcReply{}, false
		}
	}
	why := s.unserved(ctx, p.URI)
	if why == "" {
		return rpcReply{}, false
	}
	var data any
	if len(p.URI) <= maxDataURI {
		data = map[string]any{"uri": p.URI}
	}
	return s.rpcError(req, true, mcp.INVALID_PARAMS, "resource not found: "+why, data), true
}

// unserved says why nothing serves uri, or "" when a resource or template
// does (or, for this server's own URIs, the read may fail otherwise: the
// handler reports that).
func (s *Server) unserved(ctx context.Context, uri string) string {
	if strings.HasPrefix(uri, tablePrefix) || strings.HasPrefix(uri, runPrefix) {
		return s.missing(ctx, uri)
	}
	for _, r := range s.opts.Resources {
		if r.Resource.URI == uri {
			return ""
		}
	}
	for _, t := range s.opts.Templates {
		if t.Template.URITemplate != nil && t.Template.URITemplate.Regexp().MatchString(uri) {
			return ""
		}
	}
	return "no resource or resource template serves " + backend.Short(uri)
}
