package testissuer

import (
	"crypto/rand"
	"maps"
	"net/http"
)

// IntrospectionURL is the issuer's introspection endpoint (RFC 7662). Any
// registered client may call it, with HTTP Basic credentials.
func (is *Issuer) IntrospectionURL() string { return is.URL + "/introspect" }

// opaqueToken is an opaque token's claims and whether it was revoked.
type opaqueToken struct {
	claims  map[string]any
	revoked bool
}

// Opaque mints an opaque token (random text, no JWT) for t's claims, to be
// checked through the introspection endpoint.
func (is *Issuer) Opaque(t Token) string {
	tok := "opaque-" + rand.Text()
	is.mu.Lock()
	defer is.mu.Unlock()
	is.opaque[tok] = opaqueToken{claims: is.claims(t)}
	return tok
}

// Revoke makes the introspection endpoint call the opaque token tok
// inactive from now on.
func (is *Issuer) Revoke(tok string) {
	is.mu.Lock()
	defer is.mu.Unlock()
	if o, ok := is.opaque[tok]; ok {
		o.revoked = true
		is.opaque[tok] = o
	}
}

// Introspections returns how many introspection requests were answered
// (those with valid client credentials).
func (is *Issuer) Introspections() int {
	is.mu.Lock()
	defer is.mu.Unlock()
	return is.introspections
}

// introspect answers RFC 7662 requests: active with the token's claims
// for a known opaque token that was not revoked, {"active":false} for any
// other. It does not check exp or nbf itself, so tests see the resource
// server's own checks of the claims it answers.
func (is *Issuer) introspect(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		oauthError(w, http.StatusMethodNotAllowed, "invalid_request", "POST the introspection request")
		return
	}
	id, secret, ok := r.BasicAuth()
	is.mu.Lock()
	c, known := is.clients[id]
	is.mu.Unlock()
	if !ok || !known || c.Secret != secret {
		w.Header().Set("WWW-Authenticate", `Basic realm="testissuer"`)
		oauthError(w, http.StatusUnauthorized, "invalid_client", "unknown client or wrong secret")
		return
	}
	if err := r.ParseForm(); err != nil || r.PostForm.Get("token") == "" {
		oauthError(w, http.StatusBadRequest, "invalid_request", "the body is not a form with a token")
		return
	}
	is.mu.Lock()
	is.introspections++
	o, found := is.opaque[r.PostForm.Get("token")]
	is.mu.Unlock()
	if !found || o.revoked {
		writeJSON(w, http.StatusOK, map[string]any{"active": false})
		return
	}
	out := maps.Clone(o.claims)
	out["active"], out["token_type"] = true, "Bearer"
	writeJSON(w, http.StatusOK, out)
}
