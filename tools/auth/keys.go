package auth

import (
	"context"
	"crypto"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/go-jose/go-jose/v4"
)

// Timings of reading the issuer's metadata and keys.
const (
	// KeyRefetchInterval is how often, at most, a token whose key id
	// (kid) is not in the cached key set makes the verifier read the set
	// again, beyond the first such token: a key rotation is picked up at
	// once, while a stream of forged kids cannot make this server hammer
	// the issuer (those tokens get 401 invalid_token meanwhile).
	KeyRefetchInterval = 10 * time.Second
	// KeySetMaxAge is how long the key set is used before it is read
	// again in the background (tokens are checked against the old set
	// meanwhile), so that a key the issuer withdrew stops being trusted
	// even if no token ever names an unknown kid.
	KeySetMaxAge = time.Hour
	// KeySetMaxStale is how long a key set is trusted at all: while the
	// issuer cannot be read, tokens are checked against the last set read
	// for this long, then get 503 until a read succeeds, so that a key the
	// issuer withdrew during an outage is not trusted for good.
	KeySetMaxStale = 24 * time.Hour
	// minBackoff and maxBackoff bound the pause after a failed read of
	// the issuer's metadata, keys or introspection endpoint: requests
	// meanwhile are answered 503 at once instead of each waiting for a
	// read that will likely fail again. The pause doubles per failure.
	minBackoff = 500 * time.Millisecond
	maxBackoff = 30 * time.Second
	// fetchTimeout bounds one read of the metadata and keys, whatever
	// Config.HTTPClient allows.
	fetchTimeout = 30 * time.Second
	// maxDocument bounds a metadata, key set or introspection answer.
	maxDocument = 1 << 20
)

// unavailableError is an ErrIssuerUnavailable that says when to retry.
type unavailableError struct {
	retry time.Duration
	msg   string
}

func (e *unavailableError) Error() string { return ErrIssuerUnavailable.Error() + ": " + e.msg }

// Is makes an unavailableError match ErrIssuerUnavailable.
func (e *unavailableError) Is(target error) bool { return target == ErrIssuerUnavailable }

// retryAfter is the Retry-After of a 503 for err: whole seconds, at least 1.
func retryAfter(err error) int {
	var u *unavailableError
	if errors.As(err, &u) && u.retry > 0 {
		return int(math.Ceil(u.retry.Seconds()))
	}
	return 1
}

// backoff spaces out reads from an issuer that failed.
type backoff struct {
	wait  time.Duration // the current pause; 0 after a success
	until time.Time
	err   error // the last failure
}

// failed records a failed read at now and returns the error to answer
// with: an unavailableError, or err itself if it is ErrMisconfigured.
func (b *backoff) failed(now time.Time, err error) error {
	b.wait = min(max(2*b.wait, minBackoff), maxBackoff)
	b.until, b.err = now.Add(b.wait), err
	return b.answer(now)
}

// blocked returns the error to answer with while reads are paused, or nil
// when the next may be tried.
func (b *backoff) blocked(now time.Time) error {
	if b.err == nil || !now.Before(b.until) {
		return nil
	}
	return b.answer(now)
}

func (b *backoff) answer(now time.Time) error {
	if errors.Is(b.err, ErrMisconfigured) {
		return b.err
	}
	return &unavailableError{retry: b.until.Sub(now), msg: b.err.Error()}
}

// flight is one read of the issuer's keys that requests wait on together.
type flight struct {
	done chan struct{}
	err  error // set before done is closed
}

// keysErr carries, through go-oidc's verification, why the keys could not
// be had: go-oidc flattens the key set's error into text.
type keysErr struct{ err error }

type keysErrKey struct{}

// verifierKeys is the key set go-oidc verifies signatures with: the
// verifier's cache of the issuer's keys, looked up by the token's kid.
type verifierKeys struct{ v *Verifier }

// VerifySignature implements oidc.KeySet: go-oidc has checked the
// algorithm against Config.Algorithms; go-jose checks the signature with
// the keys bearing the token's kid.
func (k verifierKeys) VerifySignature(ctx context.Context, raw string) ([]byte, error) {
	jws, err := jose.ParseSignedCompact(raw, k.v.algorithms())
	if err != nil { // go-oidc parsed it already: not reached
		return nil, fmt.Errorf("parsing the JWT: %w", err)
	}
	keys, err := k.v.keysFor(ctx, jws.Signatures[0].Header.KeyID)
	if err != nil {
		if slot, ok := ctx.Value(keysErrKey{}).(*keysErr); ok && !errors.Is(err, errUnknownKey) {
			slot.err = err
		}
		return nil, err
	}
	return (&oidc.StaticKeySet{PublicKeys: keys}).VerifySignature(ctx, raw)
}

func (v *Verifier) algorithms() []jose.SignatureAlgorithm {
	out := make([]jose.SignatureAlgorithm, len(v.cfg.Algorithms))
	for i, a := range v.cfg.Algorithms {
		out[i] = jose.SignatureAlgorithm(a)
	}
	return out
}

// constError is an error that can be a constant.
type constError string

func (e constError) Error() string { return string(e) }

// errUnknownKey: no key of the issuer's set has the token's kid.
const errUnknownKey = constError("no key of the issuer has the token's key id")

// keysFor returns the issuer's public keys with id kid (all of them for
// an empty kid). It reads the metadata and key set the first time, and
// the key set again for an unknown kid, at most once per
// KeyRefetchInterval beyond the first time, and in the background once
// the set is KeySetMaxAge old; a set KeySetMaxStale old is not used until
// a read succeeds. While reads are paused after a failure it answers at
// once.
func (v *Verifier) keysFor(ctx context.Context, kid string) ([]crypto.PublicKey, error) {
	for fetched := false; ; fetched = true {
		v.mu.Lock()
		now := v.now()
		if v.keys != nil && now.Sub(v.keysAt) < KeySetMaxStale {
			if m := matching(v.keys, kid); len(m) > 0 {
				if now.Sub(v.keysAt) >= KeySetMaxAge && v.flight == nil && v.down.blocked(now) == nil {
					v.flight = &flight{done: make(chan struct{})}
					go v.fetchKeys(v.flight, v.jwksURL)
				}
				v.mu.Unlock()
				return m, nil
			}
			if fetched || (v.flight == nil && !v.refetched.IsZero() && now.Sub(v.refetched) < KeyRefetchInterval) {
				v.mu.Unlock()
				return nil, errUnknownKey
			}
		}
		if v.flight == nil {
			if err := v.down.blocked(now); err != nil {
				v.mu.Unlock()
				return nil, err
			}
			if v.keys != nil {
				v.refetched = now
			}
			v.flight = &flight{done: make(chan struct{})}
			go v.fetchKeys(v.flight, v.jwksURL)
		}
		f := v.flight
		v.mu.Unlock()
		select {
		case <-f.done:
			if f.err != nil {
				return nil, f.err
			}
		case <-ctx.Done():
			return nil, &unavailableError{retry: time.Second, msg: "gave up waiting for the issuer's keys: " + ctx.Err().Error()}
		}
	}
}

// matching returns the keys with id kid, or all for an empty kid.
func matching(keys []jose.JSONWebKey, kid string) []crypto.PublicKey {
	var out []crypto.PublicKey
	for _, k := range keys {
		if kid == "" || k.KeyID == kid {
			out = append(out, k.Key)
		}
	}
	return out
}

// fetchKeys reads the key set (after the metadata, when jwksURL is not
// known yet) for f, on a context of its own: the request that started it
// may go away while others wait on it.
func (v *Verifier) fetchKeys(f *flight, jwksURL string) {
	ctx, cancel := context.WithTimeout(context.Background(), fetchTimeout)
	defer cancel()
	var err error
	if jwksURL == "" {
		jwksURL, err = v.discover(ctx)
	}
	var keys []jose.JSONWebKey
	if err == nil {
		keys, err = v.readKeySet(ctx, jwksURL)
	}
	v.mu.Lock()
	if err != nil {
		f.err = v.down.failed(v.now(), err)
		v.log.Warn("reading the authorization server's keys failed; tokens get 503 until a read succeeds",
			"issuer", v.cfg.Issuer, "retry_in", v.down.wait, "err", err)
	} else {
		v.jwksURL, v.keys, v.keysAt, v.down = jwksURL, keys, v.now(), backoff{}
	}
	v.flight = nil
	v.mu.Unlock()
	close(f.done)
}

// readKeySet reads the JWKS at u and keeps its public signature keys. A
// key go-jose cannot read (a type it does not know) is skipped, not fatal:
// issuers publish encryption keys and new key types beside signing keys.
func (v *Verifier) readKeySet(ctx context.Context, u string) ([]jose.JSONWebKey, error) {
	var set struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := v.getJSON(ctx, u, &set); err != nil {
		return nil, err
	}
	var keys []jose.JSONWebKey
	for _, raw := range set.Keys {
		var k jose.JSONWebKey
		if json.Unmarshal(raw, &k) != nil || !k.IsPublic() || (k.Use != "" && k.Use != "sig") {
			continue
		}
		keys = append(keys, k)
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("%s holds no public signature key", u)
	}
	return keys, nil
}

// getJSON GETs u and decodes its JSON answer (at most maxDocument bytes)
// into out.
func (v *Verifier) getJSON(ctx context.Context, u string, out any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := v.client.Do(req)
	if err != nil {
		return err
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %s", u, resp.Status)
	}
	if err := json.NewDecoder(http.MaxBytesReader(nil, resp.Body, maxDocument)).Decode(out); err != nil {
		return fmt.Errorf("%s: not a JSON document of at most %d bytes: %w", u, maxDocument, err)
	}
	return nil
}
