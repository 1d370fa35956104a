package tools

import (
	"context"
	"net/http"
	"os/user"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/mcp-sync/mcp-sync/backend"
)

// authenticate applies Options.Auth to an HTTP request: it answers the
// protected-resource metadata, and refuses a request without a valid
// access token (401/403, with the challenge the MCP authorization profile
// asks for). A request that passes comes back carrying the token's
// identity, which every engine call it makes runs as. ok false means r
// was answered.
func (s *Server) authenticate(w http.ResponseWriter, r *http.Request) (_ *http.Request, ok bool) {
	v := s.opts.Auth
	if v == nil {
		return r, true
	}
	if v.IsMetadataPath(r.URL.Path) {
		v.ServeMetadata(w, r)
		return nil, false
	}
	c, ok := v.Authenticate(w, r)
	if !ok {
		return nil, false
	}
	id := backend.Identity{Subject: c.Subject, ClientID: c.ClientID, Scopes: c.Scopes}
	return r.WithContext(backend.WithIdentity(r.Context(), id)), true
}

// tokenIdentity is the caller who holds the static HTTP token: trusted
// with every scope, as anyone holding it could read and change all data.
var tokenIdentity = backend.Identity{Subject: "token", Local: true}

// LocalIdentity is the caller on stdio: the user running the server, with
// every scope. ServeStdio's callers put it on the context they serve with.
func LocalIdentity() backend.Identity {
	name := "local"
	if u, err := user.Current(); err == nil && u.Username != "" {
		name = u.Username
	}
	return backend.Identity{Subject: name, Local: true}
}

// WithLocalIdentity returns ctx carrying [LocalIdentity] unless it
// carries an identity already: serve stdio with it so handlers see the
// local user as the caller.
func WithLocalIdentity(ctx context.Context) context.Context {
	if _, ok := backend.IdentityFrom(ctx); ok {
		return ctx
	}
	return backend.WithIdentity(ctx, LocalIdentity())
}

// filterTools leaves out of tools/list the mutators and actions whose
// scopes (schema.Scopes) the caller lacks. mcp-go also filters a call
// with the one tool called: that passes, so the engine refuses the call
// with an error naming the scope rather than mcp-go's "tool not found"
// (tools/list always holds the read tools, so it is never one tool long).
func (s *Server) filterTools(ctx context.Context, tools []mcp.Tool) []mcp.Tool {
	id, ok := backend.IdentityFrom(ctx)
	if !ok || id.Local || len(tools) <= 1 {
		return tools
	}
	sc := s.eng.Schema()
	out := make([]mcp.Tool, 0, len(tools))
	for _, t := range tools {
		var scopes []string
		if m, ok := sc.Mutator(t.Name); ok {
			scopes = m.Scopes
		} else if a, ok := sc.Action(t.Name); ok {
			scopes = a.Scopes
		}
		if id.Missing(scopes) == "" {
			out = append(out, t)
		}
	}
	return out
}
