package tools

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"os/user"
	"strconv"
	"strings"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"

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
		v.ServeMetadata(w, r, s.toolScopes()...)
		return nil, false
	}
	c, ok := v.Authenticate(w, r)
	if !ok {
		return nil, false
	}
	if strings.HasPrefix(c.Subject, backend.LocalOwnerPrefix) {
		// Local callers own rows and runs as "local:NAME" (Identity.Owner):
		// a token with such a subject would reach them.
		v.Refuse(w, "has a subject starting with "+strconv.Quote(backend.LocalOwnerPrefix)+", which this server reserves for its local users")
		return nil, false
	}
	id := backend.Identity{Subject: c.Subject, ClientID: c.ClientID, Scopes: c.Scopes}
	if !s.ownsSession(r, id) {
		http.Error(w, "mcp-sync: no session with this id; initialize a new one", http.StatusNotFound)
		return nil, false
	}
	if kind, name, scope := s.missingToolScope(r, id); scope != "" {
		v.Forbid(w, kind+" "+name, scope)
		return nil, false
	}
	return r.WithContext(backend.WithIdentity(r.Context(), id)), true
}

// checkAuth refuses HTTP options that cannot work with Options.Auth: the
// static Token and an OAuth access token travel in the one Authorization
// header, so no request could carry both and every one would be refused.
func (s *Server) checkAuth(o HTTPOptions) error {
	if s.opts.Auth != nil && o.Token != "" {
		return errors.New("HTTPOptions.Token and Options.Auth exclude each other: a request carries one bearer token, " +
			"so leave Token empty when serving OAuth access tokens")
	}
	return nil
}

// refuseAll is the handler HTTPHandler returns for options checkAuth
// refuses: it has no error to return, so it fails closed, answering every
// request 500 while the log says why.
func (s *Server) refuseAll(err error) http.Handler {
	s.log.Error("the HTTP handler refuses every request: its options are inconsistent", "err", err)
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "mcp-sync: this server is misconfigured and serves no request; its log says why", http.StatusInternalServerError)
	})
}

// hookOwners binds each legacy session (streamable HTTP 2025-11-25 and
// older, SSE) to the subject whose request opened it, so that a request of
// another subject naming it (to read its stream, or to act in it) is
// answered as for a session that does not exist. Session ids are
// unguessable; this keeps one that leaked (a log, a proxy) from being
// used by another user's token.
func (s *Server) hookOwners(h *server.Hooks) {
	h.AddOnRegisterSession(func(ctx context.Context, sess server.ClientSession) {
		if id, ok := backend.IdentityFrom(ctx); ok {
			s.owners.Store(sess.SessionID(), id.Subject)
		}
	})
	h.AddOnUnregisterSession(func(_ context.Context, sess server.ClientSession) {
		s.owners.Delete(sess.SessionID())
	})
}

// ownsSession reports whether the session r names, if any, was opened by
// id's subject (or by no one known).
func (s *Server) ownsSession(r *http.Request, id backend.Identity) bool {
	sid := r.Header.Get(server.HeaderKeySessionID)
	if sid == "" && r.URL.Path == PathSSEMessage {
		sid = r.URL.Query().Get("sessionId")
	}
	if sid == "" {
		return true
	}
	owner, ok := s.owners.Load(sid)
	return !ok || owner == id.Subject
}

// missingToolScope returns, for a tools/call of a mutator or action whose
// scopes (schema.Scopes) the caller lacks, the first one missing: the
// MCP profile answers such a call with 403 insufficient_scope, which a
// client can answer by asking for a token with that scope (step-up). The
// body was read whole by withBody and is put back.
func (s *Server) missingToolScope(r *http.Request, id backend.Identity) (kind, name, scope string) {
	if r.Method != http.MethodPost || r.Body == nil {
		return "", "", ""
	}
	body, err := requestBody(r)
	if err != nil {
		return "", "", "" // mcp-go reports the broken body
	}
	var msg struct {
		Method string `json:"method"`
		Params struct {
			Name string `json:"name"`
		} `json:"params"`
	}
	if json.Unmarshal(body, &msg) != nil || msg.Method != string(mcp.MethodToolsCall) {
		return "", "", ""
	}
	sc := s.eng.Schema()
	if m, ok := sc.Mutator(msg.Params.Name); ok && !m.Internal {
		return "mutator", m.Name, id.Missing(m.Scopes)
	}
	if a, ok := sc.Action(msg.Params.Name); ok && !a.Internal {
		return "action", a.Name, id.Missing(a.Scopes)
	}
	return "", "", ""
}

// toolScopes are the scopes the declared tools need, advertised in the
// protected-resource metadata so that clients can ask for them up front.
func (s *Server) toolScopes() []string {
	var out []string
	sc := s.eng.Schema()
	for _, m := range sc.Mutators() {
		if !m.Internal {
			out = append(out, m.Scopes...)
		}
	}
	for _, a := range sc.Actions() {
		if !a.Internal {
			out = append(out, a.Scopes...)
		}
	}
	return out
}

// tokenIdentity is the caller who holds the static HTTP token: trusted
// with every scope, as anyone holding it could read and change all data.
// A function, not a variable: a package-level value could be changed by
// any code of the package.
func tokenIdentity() backend.Identity { return backend.Identity{Subject: "token", Local: true} }

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
// with the one tool called: that passes, so the call meets the scope
// check itself (authenticate's 403 over HTTP; the engine's forbidden
// error otherwise) rather than mcp-go's "tool not found". tools/list
// always holds the read tools, so it is never one tool long.
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
