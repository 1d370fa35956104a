package auth

import (
	"container/list"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"
)

// Defaults of [Introspection].
const (
	DefaultIntrospectionCacheSize = 10_000
	DefaultIntrospectionCacheTTL  = time.Minute
)

// MaxConcurrentIntrospections bounds the questions one verifier asks the
// introspection endpoint at a time; more wait their turn, so a burst of
// new (or made-up) tokens cannot flood the issuer.
const MaxConcurrentIntrospections = 16

// Introspection has opaque access tokens checked by the issuer's
// introspection endpoint (RFC 7662). Its answers are checked as a JWT's
// claims are (active, iss, aud naming the resource, exp and nbf with the
// leeway, sub, scopes) and cached, bounded in number and time.
type Introspection struct {
	// URL is the introspection endpoint (https, or http on localhost).
	URL string
	// ClientID and ClientSecret authenticate this server to the endpoint
	// (HTTP Basic, RFC 6749 §2.3.1), as a client the issuer registered
	// for it. Leave both empty only for an endpoint protected otherwise
	// (a private network).
	ClientID     string
	ClientSecret string
	// CacheSize bounds how many answers are kept (default
	// DefaultIntrospectionCacheSize; negative: none), the least recently
	// used going first.
	CacheSize int
	// CacheTTL bounds how long an answer is kept (default
	// DefaultIntrospectionCacheTTL), never past the token's exp: a token
	// the issuer revokes is refused here within CacheTTL.
	CacheTTL time.Duration
}

// introspector asks the introspection endpoint about tokens and caches
// its answers, keyed by the token's SHA-256, so no token is kept.
type introspector struct {
	v   *Verifier
	cfg Introspection

	mu      sync.Mutex
	cache   map[[sha256.Size]byte]*list.Element // of *answer
	lru     *list.List                          // the most recently used first
	flights map[[sha256.Size]byte]*answer       // questions in flight, answered when done closes
	down    backoff
	slots   chan struct{} // one per question being asked: MaxConcurrentIntrospections
}

// answer is what the endpoint's answer means for one token.
type answer struct {
	key    [sha256.Size]byte
	claims Claims
	err    error
	until  time.Time     // kept in the cache until then
	done   chan struct{} // in flight: closed once claims and err are set
}

func newIntrospector(v *Verifier, c Introspection) (*introspector, error) {
	if err := checkURL("introspection endpoint", c.URL); err != nil {
		return nil, err
	}
	if (c.ClientID == "") != (c.ClientSecret == "") {
		return nil, errors.New("introspection: give both a client id and its secret, or neither")
	}
	if c.CacheSize == 0 {
		c.CacheSize = DefaultIntrospectionCacheSize
	}
	if c.CacheTTL <= 0 {
		c.CacheTTL = DefaultIntrospectionCacheTTL
	}
	return &introspector{v: v, cfg: c, cache: map[[sha256.Size]byte]*list.Element{}, lru: list.New(),
		flights: map[[sha256.Size]byte]*answer{}, slots: make(chan struct{}, MaxConcurrentIntrospections)}, nil
}

// looksLikeJWT reports whether raw is a JWS in compact form: three parts,
// the first a JSON header naming an algorithm.
func looksLikeJWT(raw string) bool {
	head, _, _ := strings.Cut(raw, ".")
	if strings.Count(raw, ".") != 2 {
		return false
	}
	b, err := base64.RawURLEncoding.DecodeString(head)
	var h struct {
		Alg string `json:"alg"`
	}
	return err == nil && json.Unmarshal(b, &h) == nil && h.Alg != ""
}

// verify answers for raw from the cache, else asks the endpoint, once for
// all requests with the same token. While the endpoint is failing, tokens
// not in the cache get ErrIssuerUnavailable at once.
func (in *introspector) verify(ctx context.Context, raw string) (Claims, error) {
	key := sha256.Sum256([]byte(raw))
	in.mu.Lock()
	now := in.v.now()
	if e, ok := in.cache[key]; ok {
		a := e.Value.(*answer)
		if now.Before(a.until) {
			in.lru.MoveToFront(e)
			in.mu.Unlock()
			return a.claims, a.err
		}
		in.lru.Remove(e)
		delete(in.cache, key)
	}
	a, ok := in.flights[key]
	if !ok {
		if err := in.down.blocked(now); err != nil {
			in.mu.Unlock()
			return Claims{}, err
		}
		a = &answer{key: key, done: make(chan struct{})}
		in.flights[key] = a
		go in.ask(a, raw)
	}
	in.mu.Unlock()
	select {
	case <-a.done:
		return a.claims, a.err
	case <-ctx.Done():
		return Claims{}, &unavailableError{retry: time.Second, msg: "gave up waiting for the introspection endpoint: " + ctx.Err().Error()}
	}
}

// ask asks the endpoint about raw on a context of its own (the request
// that started it may go away while others wait), and caches the answer.
func (in *introspector) ask(a *answer, raw string) {
	ctx, cancel := context.WithTimeout(context.Background(), fetchTimeout)
	defer cancel()
	var claims Claims
	var reached bool
	var err error
	select {
	case in.slots <- struct{}{}:
		claims, reached, err = in.introspect(ctx, raw)
		<-in.slots
	case <-ctx.Done():
		err = fmt.Errorf("introspection: %d questions were in flight for %s", MaxConcurrentIntrospections, fetchTimeout)
	}
	in.mu.Lock()
	defer close(a.done)
	defer in.mu.Unlock()
	delete(in.flights, a.key)
	now := in.v.now()
	if !reached {
		a.err = in.down.failed(now, err)
		if errors.Is(err, ErrMisconfigured) {
			in.v.log.Error("the introspection endpoint refused this server's credentials: opaque tokens get 500 until its credentials are fixed",
				"endpoint", in.cfg.URL, "err", err)
		} else {
			in.v.log.Warn("the introspection endpoint failed; opaque tokens get 503 until it answers",
				"endpoint", in.cfg.URL, "retry_in", in.down.wait, "err", err)
		}
		return
	}
	in.down = backoff{}
	a.claims, a.err = claims, err
	var notYet *notYetError
	if in.cfg.CacheSize < 0 || errors.As(err, &notYet) {
		return
	}
	a.until = now.Add(in.cfg.CacheTTL)
	if err == nil && a.until.After(claims.Expiry) && !claims.Expiry.IsZero() {
		a.until = claims.Expiry
	}
	if !now.Before(a.until) {
		return
	}
	in.cache[a.key] = in.lru.PushFront(a)
	for in.lru.Len() > in.cfg.CacheSize {
		old := in.lru.Back()
		in.lru.Remove(old)
		delete(in.cache, old.Value.(*answer).key)
	}
}

// introspect asks the endpoint about raw. reached is false when the
// endpoint gave no usable answer (err says why); otherwise err is nil or
// says why the token is refused.
func (in *introspector) introspect(ctx context.Context, raw string) (c Claims, reached bool, err error) {
	form := url.Values{"token": {raw}, "token_type_hint": {"access_token"}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, in.cfg.URL, strings.NewReader(form.Encode()))
	if err != nil {
		return Claims{}, false, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	if in.cfg.ClientID != "" {
		req.SetBasicAuth(url.QueryEscape(in.cfg.ClientID), url.QueryEscape(in.cfg.ClientSecret))
	}
	resp, err := in.v.client.Do(req)
	if err != nil {
		return Claims{}, false, fmt.Errorf("introspection endpoint %s: %w", in.cfg.URL, err)
	}
	defer func() { _ = resp.Body.Close() }()
	switch {
	case resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden:
		return Claims{}, false, fmt.Errorf("%w: the introspection endpoint %s answered %s: check the client id and secret it was given",
			ErrMisconfigured, in.cfg.URL, resp.Status)
	case resp.StatusCode != http.StatusOK:
		return Claims{}, false, fmt.Errorf("introspection endpoint %s: %s", in.cfg.URL, resp.Status)
	}
	var r struct {
		tokenClaims
		Active   bool     `json:"active"`
		Issuer   string   `json:"iss"`
		Audience audience `json:"aud"`
		TokenUse string   `json:"token_use"`
	}
	if err := json.NewDecoder(http.MaxBytesReader(nil, resp.Body, maxDocument)).Decode(&r); err != nil {
		return Claims{}, false, fmt.Errorf("introspection endpoint %s: not an RFC 7662 answer of at most %d bytes: %w", in.cfg.URL, maxDocument, err)
	}
	c, err = in.v.checkIntrospected(r.tokenClaims, r.Active, r.Issuer, r.Audience, r.TokenUse)
	return c, true, err
}

// checkIntrospected checks an introspection answer as Verify checks a
// JWT. iss may be missing (the endpoint is the issuer's); aud may not.
func (v *Verifier) checkIntrospected(c tokenClaims, active bool, iss string, aud audience, use string) (Claims, error) {
	switch {
	case !active:
		return Claims{}, fmt.Errorf("%w: the authorization server says it is not active (revoked, expired or unknown)", ErrInvalidToken)
	case use != "" && use != "access_token":
		return Claims{}, fmt.Errorf("%w: it is not an access token (token_use %q)", ErrInvalidToken, use)
	case iss != "" && iss != v.cfg.Issuer:
		return Claims{}, fmt.Errorf("%w: it was issued by another authorization server (iss)", ErrInvalidToken)
	case !slices.Contains(aud, v.cfg.Resource):
		return Claims{}, fmt.Errorf("%w: it was not issued for this server (its aud claim does not name the resource)", ErrInvalidToken)
	}
	return v.check(c, false)
}

// audience is an aud claim: one string or an array of them.
type audience []string

// UnmarshalJSON reads a string or an array of strings.
func (a *audience) UnmarshalJSON(b []byte) error {
	var one string
	if json.Unmarshal(b, &one) == nil {
		*a = audience{one}
		return nil
	}
	var many []string
	if err := json.Unmarshal(b, &many); err != nil {
		return errors.New("aud is neither a string nor an array of strings")
	}
	*a = many
	return nil
}
