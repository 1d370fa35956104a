// Package testissuer is a small OAuth 2.1 / OpenID Connect authorization
// server for tests: metadata (RFC 8414 and OpenID discovery), a JWKS,
// access tokens signed with RSA keys it can rotate, and the
// client-credentials grant, opaque tokens and their introspection (RFC
// 7662). It also mints the bad tokens tests need (alg none, HMAC keyed
// with the public key, wrong claims). It serves on 127.0.0.1 only and
// keeps everything in memory. The signing is go-jose's.
package testissuer

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// Issuer is a running test authorization server. Close it when done.
type Issuer struct {
	// URL is the issuer URL (http://127.0.0.1:port), the tokens' iss.
	URL string

	srv *httptest.Server

	mu             sync.Mutex
	keys           []signingKey // the newest first; all are published
	clients        map[string]Client
	tokenReqs      int
	opaque         map[string]opaqueToken // by token
	introspections int
}

type signingKey struct {
	id  string
	key *rsa.PrivateKey
}

// Client is a registered client of the client-credentials grant.
type Client struct {
	Secret string
	// Subject is the sub of the client's tokens (default: its id).
	Subject string
	// Scopes are those the client may be granted; a request for others
	// is refused with invalid_scope. Asking for none grants all.
	Scopes []string
	// Opaque has the client granted opaque tokens (checked by
	// introspection) instead of JWTs.
	Opaque bool
}

// New starts an issuer with one signing key.
func New() (*Issuer, error) {
	is := &Issuer{clients: map[string]Client{}, opaque: map[string]opaqueToken{}}
	if err := is.Rotate(false); err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/.well-known/oauth-authorization-server", is.metadata)
	mux.HandleFunc("/.well-known/openid-configuration", is.metadata)
	mux.HandleFunc("/jwks", is.jwks)
	mux.HandleFunc("/token", is.token)
	mux.HandleFunc("/introspect", is.introspect)
	mux.HandleFunc("/authorize", func(w http.ResponseWriter, _ *http.Request) {
		oauthError(w, http.StatusBadRequest, "unsupported_response_type", "this test issuer grants client_credentials only")
	})
	// URL is set before the server starts: its handlers read it, and a
	// write after NewServer would race with the first request.
	is.srv = httptest.NewUnstartedServer(mux)
	is.URL = "http://" + is.srv.Listener.Addr().String()
	is.srv.Start()
	return is, nil
}

// Close stops the issuer.
func (is *Issuer) Close() { is.srv.Close() }

// AddClient registers a client for the client-credentials grant.
func (is *Issuer) AddClient(id string, c Client) {
	is.mu.Lock()
	defer is.mu.Unlock()
	is.clients[id] = c
}

// TokenRequests returns how many token requests succeeded.
func (is *Issuer) TokenRequests() int {
	is.mu.Lock()
	defer is.mu.Unlock()
	return is.tokenReqs
}

// Rotate makes a new signing key the one tokens are signed with; with
// dropOld the older keys are no longer published.
func (is *Issuer) Rotate(dropOld bool) error {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return fmt.Errorf("generating a key: %w", err)
	}
	is.mu.Lock()
	defer is.mu.Unlock()
	sk := signingKey{id: fmt.Sprintf("key-%d", len(is.keys)+1), key: k}
	if dropOld {
		is.keys = []signingKey{sk}
	} else {
		is.keys = append([]signingKey{sk}, is.keys...)
	}
	return nil
}

// Token are the claims of a token to mint; zero fields take defaults.
type Token struct {
	Issuer    string   // default: the issuer's URL
	Audience  []string // the resource(s)
	Subject   string   // default "user-1"
	ClientID  string
	Scopes    []string
	Expiry    time.Time // default: an hour from now
	NotBefore time.Time // default: none
}

func (is *Issuer) claims(t Token) map[string]any {
	now := time.Now()
	c := map[string]any{
		"iss": is.URL, "sub": "user-1", "iat": now.Unix(), "exp": now.Add(time.Hour).Unix(),
		"jti": rand.Text(),
	}
	if t.Issuer != "" {
		c["iss"] = t.Issuer
	}
	if t.Subject != "" {
		c["sub"] = t.Subject
	}
	if len(t.Audience) > 0 {
		c["aud"] = t.Audience
	}
	if t.ClientID != "" {
		c["client_id"] = t.ClientID
	}
	if len(t.Scopes) > 0 {
		c["scope"] = strings.Join(t.Scopes, " ")
	}
	if !t.Expiry.IsZero() {
		c["exp"] = t.Expiry.Unix()
	}
	if !t.NotBefore.IsZero() {
		c["nbf"] = t.NotBefore.Unix()
	}
	return c
}

// Sign mints t signed (RS256) with the current key.
func (is *Issuer) Sign(t Token) (string, error) {
	is.mu.Lock()
	k := is.keys[0]
	is.mu.Unlock()
	return signRSA(k, is.claims(t))
}

// SignWithUnknownKey mints t signed with a fresh key the issuer never
// published: a forged token.
func (is *Issuer) SignWithUnknownKey(t Token, kid string) (string, error) {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return "", err
	}
	return signRSA(signingKey{id: kid, key: k}, is.claims(t))
}

func signRSA(k signingKey, claims map[string]any) (string, error) {
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: k.key},
		(&jose.SignerOptions{}).WithType("at+jwt").WithHeader("kid", k.id))
	if err != nil {
		return "", err
	}
	return jwt.Signed(s).Claims(claims).Serialize()
}

// SignNone mints t unsigned, with alg "none".
func (is *Issuer) SignNone(t Token) string {
	is.mu.Lock()
	kid := is.keys[0].id
	is.mu.Unlock()
	h, _ := json.Marshal(map[string]string{"alg": "none", "typ": "at+jwt", "kid": kid})
	p, _ := json.Marshal(is.claims(t))
	enc := base64.RawURLEncoding.EncodeToString
	return enc(h) + "." + enc(p) + "."
}

// SignHMACWithPublicKey mints t with HS256 keyed with the current public
// key's PEM: the algorithm-confusion attack on verifiers that take the
// algorithm from the token.
func (is *Issuer) SignHMACWithPublicKey(t Token) (string, error) {
	is.mu.Lock()
	k := is.keys[0]
	is.mu.Unlock()
	der, err := x509.MarshalPKIXPublicKey(&k.key.PublicKey)
	if err != nil {
		return "", err
	}
	pemKey := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.HS256, Key: pemKey},
		(&jose.SignerOptions{}).WithType("at+jwt").WithHeader("kid", k.id))
	if err != nil {
		return "", err
	}
	return jwt.Signed(s).Claims(is.claims(t)).Serialize()
}

func (is *Issuer) metadata(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{
		"issuer":                                is.URL,
		"authorization_endpoint":                is.URL + "/authorize", // RFC 8414 requires one; it serves no grant
		"token_endpoint":                        is.URL + "/token",
		"jwks_uri":                              is.URL + "/jwks",
		"introspection_endpoint":                is.URL + "/introspect",
		"grant_types_supported":                 []string{"client_credentials"},
		"token_endpoint_auth_methods_supported": []string{"client_secret_basic", "client_secret_post"},
		"response_types_supported":              []string{"token"},
		"subject_types_supported":               []string{"public"},
		"id_token_signing_alg_values_supported": []string{"RS256"},
	})
}

func (is *Issuer) jwks(w http.ResponseWriter, _ *http.Request) {
	is.mu.Lock()
	defer is.mu.Unlock()
	var set jose.JSONWebKeySet
	for _, k := range is.keys {
		set.Keys = append(set.Keys, jose.JSONWebKey{Key: &k.key.PublicKey, KeyID: k.id, Algorithm: "RS256", Use: "sig"})
	}
	writeJSON(w, http.StatusOK, set)
}

// token serves the client-credentials grant (RFC 6749 §4.4) with the
// resource parameter (RFC 8707) naming the token's audience.
func (is *Issuer) token(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		oauthError(w, http.StatusMethodNotAllowed, "invalid_request", "POST the token request")
		return
	}
	if err := r.ParseForm(); err != nil {
		oauthError(w, http.StatusBadRequest, "invalid_request", "the body is not a form")
		return
	}
	if gt := r.PostForm.Get("grant_type"); gt != "client_credentials" {
		oauthError(w, http.StatusBadRequest, "unsupported_grant_type", "only client_credentials is supported, not "+gt)
		return
	}
	id, secret, ok := r.BasicAuth()
	if !ok {
		id, secret = r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
	}
	is.mu.Lock()
	c, known := is.clients[id]
	is.mu.Unlock()
	if !known || c.Secret != secret {
		oauthError(w, http.StatusUnauthorized, "invalid_client", "unknown client or wrong secret")
		return
	}
	scopes := strings.Fields(r.PostForm.Get("scope"))
	for _, s := range scopes {
		if !slices.Contains(c.Scopes, s) {
			oauthError(w, http.StatusBadRequest, "invalid_scope", "the client may not have the scope "+s)
			return
		}
	}
	if len(scopes) == 0 {
		scopes = c.Scopes
	}
	t := Token{Subject: c.Subject, ClientID: id, Scopes: scopes, Audience: r.PostForm["resource"]}
	if t.Subject == "" {
		t.Subject = id
	}
	sign := is.Sign
	if c.Opaque {
		sign = func(t Token) (string, error) { return is.Opaque(t), nil }
	}
	tok, err := sign(t)
	if err != nil {
		oauthError(w, http.StatusInternalServerError, "server_error", err.Error())
		return
	}
	is.mu.Lock()
	is.tokenReqs++
	is.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{
		"access_token": tok, "token_type": "Bearer", "expires_in": 3600, "scope": strings.Join(scopes, " "),
	})
}

func oauthError(w http.ResponseWriter, status int, code, desc string) {
	writeJSON(w, status, map[string]string{"error": code, "error_description": desc})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
