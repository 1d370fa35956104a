// Package auth makes an MCP server an OAuth 2.1 resource server, as the MCP
// authorization profile asks: it validates JWT access tokens an
// authorization server (the issuer) signed, serves the protected-resource
// metadata (RFC 9728) through which clients find that issuer, and answers
// requests without a valid token with the challenges of RFC 6750.
//
// The JOSE work (parsing, algorithm allow-list, signature checks) is
// github.com/coreos/go-oidc's, over go-jose; this package keeps the
// issuer's key set (read once, read again for an unknown key id at most
// every KeyRefetchInterval, reads paused after a failure), checks the
// claims an access token for this server must carry, and, as an option,
// asks the issuer about opaque tokens (RFC 7662 introspection, with a
// bounded cache). It imports no package of mcp-sync: the tools package
// turns a validated token into the caller's identity.
package auth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/go-jose/go-jose/v4"
)

// DefaultLeeway is how far a token's exp and nbf may be off the server's
// clock (Config.Leeway): enough for clocks kept by NTP, small enough that an
// expired token dies soon.
const DefaultLeeway = time.Minute

// Config says which tokens a [Verifier] accepts.
type Config struct {
	// Issuer is the authorization server's issuer URL, exactly as its
	// tokens' iss claim and its metadata name it. Its metadata (RFC 8414
	// /.well-known/oauth-authorization-server, else OpenID Connect
	// discovery) gives the key set's URL.
	Issuer string
	// Resource is this server's resource URL, the canonical URL of its MCP
	// endpoint (https://mcp.example.com/mcp): a token's aud must name it,
	// so a token minted for another server is refused here.
	Resource string
	// Scopes are the scopes every token must carry; a token without one
	// gets 403 insufficient_scope. They are advertised in the metadata.
	Scopes []string
	// Leeway is how far exp and nbf may be off (default [DefaultLeeway]).
	Leeway time.Duration
	// Algorithms are the signature algorithms accepted (default: RS256,
	// RS384, RS512, PS256, PS384, PS512, ES256, ES384, ES512, EdDSA).
	// Symmetric (HS*) algorithms and "none" are refused whatever this says.
	Algorithms []string
	// HTTPClient fetches the issuer's metadata and keys and calls its
	// introspection endpoint (default: one with a 10-second timeout).
	HTTPClient *http.Client
	// Introspection, when set, has tokens that are not JWTs checked by
	// the issuer's introspection endpoint (RFC 7662); JWTs are still
	// checked against the issuer's keys.
	Introspection *Introspection
	// Logger receives the failures to reach the issuer, which clients
	// see only as 503 (default: discard).
	Logger *slog.Logger
}

// defaultAlgorithms are the asymmetric signature algorithms accepted,
// a new slice each call, so that no caller can change another's.
func defaultAlgorithms() []string {
	return []string{
		oidc.RS256, oidc.RS384, oidc.RS512, oidc.PS256, oidc.PS384, oidc.PS512,
		oidc.ES256, oidc.ES384, oidc.ES512, oidc.EdDSA,
	}
}

// Claims are what a validated token says about its bearer.
type Claims struct {
	// Subject is the token's sub: the user (or, for a client-credentials
	// token, usually the client) it was issued for.
	Subject string
	// ClientID is the OAuth client the token was issued to (client_id,
	// else azp); empty when the token names none.
	ClientID string
	// Scopes are the token's scopes (scope, space-separated, or scp).
	Scopes []string
	// Expiry is when the token expires; zero for an introspected token
	// whose answer gave no exp.
	Expiry time.Time
}

// Verifier validates access tokens for one resource. It is safe for
// concurrent use.
type Verifier struct {
	cfg      Config
	client   *http.Client
	now      func() time.Time
	log      *slog.Logger
	verifier *oidc.IDTokenVerifier
	intro    *introspector // nil without Config.Introspection

	mu        sync.Mutex
	jwksURL   string            // "" until the metadata was read
	keys      []jose.JSONWebKey // nil until the key set was read
	keysAt    time.Time         // when it was read
	refetched time.Time         // when an unknown kid last had the key set read
	flight    *flight           // the read in progress, if any
	down      backoff
}

// New returns a Verifier for c. It checks c but does not reach the issuer:
// its metadata and keys are read on the first JWT, and after a failure
// again once a pause is over (0.5 s, doubling up to 30 s; tokens get
// ErrIssuerUnavailable meanwhile), so a server may start before its issuer.
func New(c Config) (*Verifier, error) {
	if err := checkURL("issuer", c.Issuer); err != nil {
		return nil, err
	}
	if err := checkURL("resource", c.Resource); err != nil {
		return nil, err
	}
	if u, _ := url.Parse(c.Resource); u.Fragment != "" || u.RawQuery != "" {
		return nil, fmt.Errorf("resource URL %q: a resource URL has no query or fragment (RFC 8707)", c.Resource)
	}
	for _, s := range c.Scopes {
		if s == "" || strings.ContainsAny(s, " \"\\") {
			return nil, fmt.Errorf("scope %q: a scope is a non-empty word without spaces, quotes or backslashes", s)
		}
	}
	if c.Leeway <= 0 {
		c.Leeway = DefaultLeeway
	}
	if len(c.Algorithms) == 0 {
		c.Algorithms = defaultAlgorithms()
	}
	for _, a := range c.Algorithms {
		if !slices.Contains(defaultAlgorithms(), a) {
			return nil, fmt.Errorf("signature algorithm %q is not accepted: use asymmetric ones (%s)", a, strings.Join(defaultAlgorithms(), ", "))
		}
	}
	if c.HTTPClient == nil {
		c.HTTPClient = &http.Client{Timeout: 10 * time.Second}
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	v := &Verifier{cfg: c, client: c.HTTPClient, now: time.Now, log: c.Logger}
	v.verifier = oidc.NewVerifier(c.Issuer, verifierKeys{v}, &oidc.Config{
		ClientID:             c.Resource,
		SupportedSigningAlgs: c.Algorithms,
		SkipExpiryCheck:      true, // checked with Leeway by Verify; go-oidc allows none on exp and 5 minutes on nbf
	})
	if c.Introspection != nil {
		in, err := newIntrospector(v, *c.Introspection)
		if err != nil {
			return nil, err
		}
		v.intro = in
	}
	return v, nil
}

// checkURL accepts an absolute https URL, or http on a loopback host (for
// local issuers and tests): tokens and keys must not travel in the clear.
func checkURL(what, s string) error {
	u, err := url.Parse(s)
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return fmt.Errorf("%s URL %q: want an absolute https URL", what, s)
	}
	if u.Scheme == "http" && !loopbackHost(u.Hostname()) {
		return fmt.Errorf("%s URL %q: http is allowed only on localhost; use https", what, s)
	}
	return nil
}

func loopbackHost(h string) bool {
	return h == "localhost" || h == "127.0.0.1" || h == "::1"
}

// Config returns the verifier's configuration, defaults filled.
func (v *Verifier) Config() Config { return v.cfg }

// Errors of [Verifier.Verify], told apart with errors.Is.
var (
	// ErrInvalidToken: the token is malformed, badly signed, expired, not
	// yet valid, or issued by or for someone else (401 invalid_token).
	ErrInvalidToken = errors.New("invalid token")
	// ErrInsufficientScope: the token lacks a scope (403 insufficient_scope).
	ErrInsufficientScope = errors.New("insufficient scope")
	// ErrIssuerUnavailable: the issuer's metadata or keys could not be
	// read, so no token can be checked now (503).
	ErrIssuerUnavailable = errors.New("authorization server unavailable")
	// ErrMisconfigured: the issuer refused this server's own credentials
	// (for its introspection endpoint), so no opaque token can be checked
	// until the operator fixes them (500).
	ErrMisconfigured = errors.New("the authorization server refused this server's credentials")
)

// notYetError is the ErrInvalidToken of a token whose nbf is ahead: unlike
// other invalid tokens it will become valid, so it is not cached.
type notYetError struct{ msg string }

func (e *notYetError) Error() string { return ErrInvalidToken.Error() + ": " + e.msg }

// Is makes a notYetError match ErrInvalidToken.
func (e *notYetError) Is(target error) bool { return target == ErrInvalidToken }

// ScopeError is the error of a token that lacks a required scope.
type ScopeError struct{ Scope string }

func (e *ScopeError) Error() string {
	return fmt.Sprintf("the token lacks the scope %q this server requires", e.Scope)
}

// Is makes a ScopeError match ErrInsufficientScope.
func (e *ScopeError) Is(target error) bool { return target == ErrInsufficientScope }

// Verify validates the raw access token and returns its claims: a JWT
// against the issuer's keys, any other token through introspection when
// Config.Introspection is set. The error wraps ErrInvalidToken,
// ErrInsufficientScope (a *ScopeError), ErrIssuerUnavailable or
// ErrMisconfigured; the text of the first two is fit for the token's
// bearer, the others' for the server's log.
func (v *Verifier) Verify(ctx context.Context, raw string) (Claims, error) {
	if v.intro != nil && !looksLikeJWT(raw) {
		return v.intro.verify(ctx, raw)
	}
	slot := &keysErr{}
	tok, err := v.verifier.Verify(context.WithValue(ctx, keysErrKey{}, slot), raw)
	if err != nil {
		if slot.err != nil {
			return Claims{}, slot.err
		}
		return Claims{}, fmt.Errorf("%w: %s", ErrInvalidToken, reason(err))
	}
	var c tokenClaims
	if err := tok.Claims(&c); err != nil {
		return Claims{}, fmt.Errorf("%w: its claims are not valid JSON", ErrInvalidToken)
	}
	c.Subject = tok.Subject
	return v.check(c, true)
}

// tokenClaims are the claims Verify reads from a JWT or an introspection
// answer, beyond those go-oidc checks.
type tokenClaims struct {
	Subject   string       `json:"sub"`
	Expiry    *json.Number `json:"exp"`
	NotBefore *json.Number `json:"nbf"`
	ClientID  string       `json:"client_id"`
	AZP       string       `json:"azp"`
	Scope     string       `json:"scope"`
	SCP       any          `json:"scp"`
}

// check checks c's times, subject and scopes and returns its claims;
// needExp says whether a missing exp makes c invalid.
func (v *Verifier) check(c tokenClaims, needExp bool) (Claims, error) {
	now := v.now()
	exp, ok := unixTime(c.Expiry)
	switch {
	case !ok && (needExp || c.Expiry != nil):
		return Claims{}, fmt.Errorf("%w: it has no valid exp (expiry) claim", ErrInvalidToken)
	case ok && now.After(exp.Add(v.cfg.Leeway)):
		return Claims{}, fmt.Errorf("%w: it expired at %s", ErrInvalidToken, exp.UTC().Format(time.RFC3339))
	}
	if c.NotBefore != nil {
		nbf, ok := unixTime(c.NotBefore)
		if !ok {
			return Claims{}, fmt.Errorf("%w: its nbf (not before) claim is not a time", ErrInvalidToken)
		}
		if now.Add(v.cfg.Leeway).Before(nbf) {
			return Claims{}, &notYetError{fmt.Sprintf("it is not valid before %s", nbf.UTC().Format(time.RFC3339))}
		}
	}
	out := Claims{Subject: c.Subject, ClientID: c.ClientID, Expiry: exp, Scopes: strings.Fields(c.Scope)}
	if out.ClientID == "" {
		out.ClientID = c.AZP
	}
	switch scp := c.SCP.(type) {
	case string:
		out.Scopes = append(out.Scopes, strings.Fields(scp)...)
	case []any:
		for _, s := range scp {
			if s, ok := s.(string); ok {
				out.Scopes = append(out.Scopes, s)
			}
		}
	}
	if out.Subject == "" {
		return Claims{}, fmt.Errorf("%w: it has no sub (subject) claim", ErrInvalidToken)
	}
	for _, s := range v.cfg.Scopes {
		if !slices.Contains(out.Scopes, s) {
			return Claims{}, &ScopeError{Scope: s}
		}
	}
	return out, nil
}

// unixTime reads a NumericDate (seconds since the epoch, maybe fractional).
func unixTime(n *json.Number) (time.Time, bool) {
	if n == nil {
		return time.Time{}, false
	}
	f, err := n.Float64()
	if err != nil || f <= 0 || f > 1<<40 {
		return time.Time{}, false
	}
	// Not as a Duration since 1970: one overflows past 2262, turning a far
	// nbf into a past one.
	sec, frac := math.Modf(f)
	return time.Unix(int64(sec), int64(frac*1e9)), true
}

// reason turns go-oidc's error into what the bearer may be told: which
// check failed, without go-oidc's prefix.
func reason(err error) string {
	msg := strings.TrimPrefix(err.Error(), "oidc: ")
	switch {
	case strings.Contains(msg, "malformed jwt"):
		return "it is not a JWT signed with an accepted algorithm (" + msg + ")"
	case strings.Contains(msg, "failed to verify"):
		return "its signature does not match any of the issuer's keys"
	case strings.Contains(msg, "expected audience"):
		return "it was not issued for this server (its aud claim does not name the resource)"
	case strings.Contains(msg, "different provider"):
		return "it was issued by another authorization server (iss)"
	}
	return msg
}

// discover reads the issuer's metadata, RFC 8414 first, then OpenID
// Connect discovery, and returns its jwks_uri.
func (v *Verifier) discover(ctx context.Context) (string, error) {
	u, _ := url.Parse(v.cfg.Issuer)
	path := strings.TrimSuffix(u.Path, "/")
	candidates := []string{
		u.Scheme + "://" + u.Host + "/.well-known/oauth-authorization-server" + path,
		strings.TrimSuffix(v.cfg.Issuer, "/") + "/.well-known/openid-configuration",
	}
	var errs []error
	for _, c := range candidates {
		jwks, err := v.metadata(ctx, c)
		if err == nil {
			return jwks, nil
		}
		errs = append(errs, err)
	}
	return "", fmt.Errorf("reading the metadata of issuer %s: %w", v.cfg.Issuer, errors.Join(errs...))
}

func (v *Verifier) metadata(ctx context.Context, at string) (string, error) {
	var m struct {
		Issuer  string `json:"issuer"`
		JWKSURI string `json:"jwks_uri"`
	}
	if err := v.getJSON(ctx, at, &m); err != nil {
		return "", err
	}
	if m.Issuer != v.cfg.Issuer {
		return "", fmt.Errorf("%s names issuer %q, not %q", at, m.Issuer, v.cfg.Issuer)
	}
	if err := checkURL("jwks_uri", m.JWKSURI); err != nil {
		return "", fmt.Errorf("%s: %w", at, err)
	}
	return m.JWKSURI, nil
}
