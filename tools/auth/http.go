package auth

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
)

// MetadataPath is where protected-resource metadata is served (RFC 9728);
// the path-suffixed form adds the resource URL's path to it.
const MetadataPath = "/.well-known/oauth-protected-resource"

// Metadata is the protected-resource metadata of RFC 9728.
type Metadata struct {
	Resource               string   `json:"resource"`
	AuthorizationServers   []string `json:"authorization_servers"`
	ScopesSupported        []string `json:"scopes_supported,omitempty"`
	BearerMethodsSupported []string `json:"bearer_methods_supported"`
	ResourceName           string   `json:"resource_name,omitempty"`
}

// Metadata returns this resource's metadata. scopes_supported lists the
// required scopes and then extra (those some operations need, such as a
// tool's), each once.
func (v *Verifier) Metadata(extra ...string) Metadata {
	return Metadata{
		Resource:               v.cfg.Resource,
		AuthorizationServers:   []string{v.cfg.Issuer},
		ScopesSupported:        v.union(extra),
		BearerMethodsSupported: []string{"header"},
		ResourceName:           "mcp-sync",
	}
}

// union returns the required scopes followed by those of extra not among
// them, each once.
func (v *Verifier) union(extra []string) []string {
	out := slices.Clone(v.cfg.Scopes)
	for _, s := range extra {
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}

// MetadataURL is the metadata's address that 401 challenges name: the
// resource's origin, MetadataPath, and the resource's path (RFC 9728 §3.1).
func (v *Verifier) MetadataURL() string {
	u, _ := url.Parse(v.cfg.Resource) // checked by New
	return u.Scheme + "://" + u.Host + MetadataPath + strings.TrimSuffix(u.EscapedPath(), "/")
}

// IsMetadataPath reports whether path is one [Verifier.ServeMetadata]
// answers: MetadataPath, or it followed by the resource's path.
func (v *Verifier) IsMetadataPath(path string) bool {
	u, _ := url.Parse(v.cfg.Resource)
	return path == MetadataPath || path == MetadataPath+strings.TrimSuffix(u.Path, "/")
}

// ServeMetadata answers a GET of the metadata, advertising the extra
// scopes too (see [Verifier.Metadata]). Browsers' clients may read it from
// any origin: it is public by design.
func (v *Verifier) ServeMetadata(w http.ResponseWriter, r *http.Request, extra ...string) {
	w.Header().Set("Access-Control-Allow-Origin", "*")
	switch r.Method {
	case http.MethodGet, http.MethodHead:
	case http.MethodOptions:
		w.WriteHeader(http.StatusNoContent)
		return
	default:
		w.Header().Set("Allow", "GET, HEAD, OPTIONS")
		http.Error(w, "mcp-sync: the protected-resource metadata is read with GET", http.StatusMethodNotAllowed)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "max-age=3600")
	_ = json.NewEncoder(w).Encode(v.Metadata(extra...))
}

// Authenticate checks r's bearer token. On success it returns the token's
// claims; otherwise it has answered r (401 with a challenge naming the
// metadata, 403 insufficient_scope, 503 with Retry-After while the issuer
// cannot be reached, 500 while it refuses this server's credentials) and
// returns ok false.
func (v *Verifier) Authenticate(w http.ResponseWriter, r *http.Request) (c Claims, ok bool) {
	h := r.Header.Get("Authorization")
	if h == "" {
		v.challenge(w, http.StatusUnauthorized, "", "", "mcp-sync: this server requires an OAuth access token: "+
			"see "+v.MetadataURL()+" for the authorization server to get one from")
		return Claims{}, false
	}
	scheme, raw, _ := strings.Cut(h, " ")
	raw = strings.TrimSpace(raw)
	if !strings.EqualFold(scheme, "Bearer") || raw == "" {
		v.challenge(w, http.StatusUnauthorized, "invalid_request", "send the token as Authorization: Bearer <token>",
			"mcp-sync: send the access token as Authorization: Bearer <token>")
		return Claims{}, false
	}
	c, err := v.Verify(r.Context(), raw)
	var scope *ScopeError
	switch {
	case err == nil:
		return c, true
	case errors.As(err, &scope):
		// scope= names all the scopes needed, not only the missing one.
		v.challenge(w, http.StatusForbidden, "insufficient_scope", err.Error(), "mcp-sync: "+err.Error())
	case errors.Is(err, ErrIssuerUnavailable):
		w.Header().Set("Retry-After", strconv.Itoa(retryAfter(err)))
		http.Error(w, "mcp-sync: the authorization server cannot be reached now, so no token can be checked; retry later",
			http.StatusServiceUnavailable)
	case errors.Is(err, ErrMisconfigured):
		http.Error(w, "mcp-sync: this server cannot check access tokens now (a configuration problem on the server; its log says more)",
			http.StatusInternalServerError)
	default:
		desc := strings.TrimPrefix(err.Error(), ErrInvalidToken.Error()+": ")
		v.challenge(w, http.StatusUnauthorized, "invalid_token", "the access token "+desc, "mcp-sync: the access token "+desc)
	}
	return Claims{}, false
}

// Forbid answers a request whose token lacks scope, which the operation it
// asks for (what, as "tool setTodo") needs: 403 insufficient_scope whose
// scope parameter names every scope the operation needs (the required
// ones and scope), so that a client asking for a new token with exactly
// those can proceed (RFC 6750 §3.1; the MCP profile's scope challenge).
func (v *Verifier) Forbid(w http.ResponseWriter, what, scope string) {
	msg := fmt.Sprintf("%s needs the scope %q, which the access token does not grant", what, scope)
	v.challenge(w, http.StatusForbidden, "insufficient_scope", msg, "mcp-sync: "+msg, v.union([]string{scope})...)
}

// challenge answers with status and a Bearer challenge (RFC 6750 §3) that
// names the metadata and the scopes to ask for.
func (v *Verifier) challenge(w http.ResponseWriter, status int, code, desc, body string, scopes ...string) {
	parts := []string{}
	if code != "" {
		parts = append(parts, fmt.Sprintf("error=%q", code))
		parts = append(parts, fmt.Sprintf("error_description=%q", quotable(desc)))
	}
	if len(scopes) == 0 {
		scopes = v.cfg.Scopes
	}
	if len(scopes) > 0 {
		parts = append(parts, fmt.Sprintf("scope=%q", strings.Join(scopes, " ")))
	}
	parts = append(parts, fmt.Sprintf("resource_metadata=%q", v.MetadataURL()))
	w.Header().Set("WWW-Authenticate", "Bearer "+strings.Join(parts, ", "))
	http.Error(w, body, status)
}

// quotable keeps an error_description within RFC 6750's character set
// (printable ASCII without " and \).
func quotable(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r > 0x7e || r == '"' || r == '\\' {
			return '\''
		}
		return r
	}, s)
}
