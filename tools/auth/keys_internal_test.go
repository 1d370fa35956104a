package auth

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mcp-sync/mcp-sync/internal/testissuer"
)

// These tests are inside the package to move the verifier's clock: the
// pauses they check last seconds.

const testResource = "http://127.0.0.1:1/mcp"

// countingTransport counts requests by path and fails them all while down
// is set, after delay (an issuer that times out slowly).
type countingTransport struct {
	down  atomic.Bool
	delay time.Duration

	mu    sync.Mutex
	paths map[string]int
}

func (c *countingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	c.mu.Lock()
	if c.paths == nil {
		c.paths = map[string]int{}
	}
	c.paths[req.URL.Path]++
	c.mu.Unlock()
	if c.down.Load() {
		time.Sleep(c.delay)
		return nil, errors.New("connection refused (test)")
	}
	return http.DefaultTransport.RoundTrip(req)
}

// count returns the requests made to paths containing part.
func (c *countingTransport) count(part string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for p, k := range c.paths {
		if strings.Contains(p, part) {
			n += k
		}
	}
	return n
}

// clock is a verifier clock the test moves.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func newTestVerifier(t *testing.T, is *testissuer.Issuer, tr *countingTransport) (*Verifier, *clock) {
	t.Helper()
	v, err := New(Config{Issuer: is.URL, Resource: testResource, HTTPClient: &http.Client{Transport: tr}})
	if err != nil {
		t.Fatal(err)
	}
	clk := &clock{t: time.Now()}
	v.now = clk.now
	return v, clk
}

func sign(t *testing.T, is *testissuer.Issuer) string {
	t.Helper()
	tok, err := is.Sign(testissuer.Token{Audience: []string{testResource}})
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// TestIssuerDownRequestsAnsweredAtOnce: while the issuer cannot be read,
// concurrent requests share one attempt, and later ones get 503 at once,
// without reaching for the issuer, until a pause (doubling per failure)
// is over; known keys keep working while a refetch fails.
func TestIssuerDownRequestsAnsweredAtOnce(t *testing.T) {
	is, err := testissuer.New()
	if err != nil {
		t.Fatal(err)
	}
	defer is.Close()
	tr := &countingTransport{delay: 200 * time.Millisecond}
	tr.down.Store(true)
	v, clk := newTestVerifier(t, is, tr)
	tok := sign(t, is)
	const metadata = "/.well-known/" // both discovery documents
	var wg sync.WaitGroup
	for range 10 {
		wg.Go(func() {
			if _, err := v.Verify(context.Background(), tok); !errors.Is(err, ErrIssuerUnavailable) {
				t.Errorf("issuer down: %v, want ErrIssuerUnavailable", err)
			}
		})
	}
	wg.Wait()
	if n := tr.count(metadata); n != 2 {
		t.Fatalf("10 concurrent requests while the issuer is down made %d metadata requests, want 2 (one attempt, both documents)", n)
	}
	for range 10 {
		_, err := v.Verify(context.Background(), tok)
		if !errors.Is(err, ErrIssuerUnavailable) || retryAfter(err) < 1 {
			t.Fatalf("during the pause: %v (Retry-After %d), want ErrIssuerUnavailable with a Retry-After", err, retryAfter(err))
		}
	}
	if n := tr.count(metadata); n != 2 {
		t.Fatalf("requests during the pause reached for the issuer: %d metadata requests, want still 2", n)
	}
	clk.advance(minBackoff)
	if _, err := v.Verify(context.Background(), tok); !errors.Is(err, ErrIssuerUnavailable) || tr.count(metadata) != 4 {
		t.Fatalf("after the first pause: %v, %d metadata requests; want a second attempt (4), failing", err, tr.count(metadata))
	}
	clk.advance(minBackoff) // the pause doubled: not over yet
	if _, err := v.Verify(context.Background(), tok); !errors.Is(err, ErrIssuerUnavailable) || tr.count(metadata) != 4 {
		t.Fatalf("within the doubled pause: %v, %d metadata requests; want no attempt (still 4)", err, tr.count(metadata))
	}
	tr.down.Store(false)
	clk.advance(minBackoff)
	if c, err := v.Verify(context.Background(), tok); err != nil || c.Subject != "user-1" {
		t.Fatalf("issuer back, pause over: %+v, %v; want the token accepted", c, err)
	}

	// Down again: keys read before still check tokens; a token with an
	// unknown kid makes one failing refetch and gets 503, not 401.
	tr.down.Store(true)
	if _, err := v.Verify(context.Background(), tok); err != nil {
		t.Errorf("a known key while the issuer is down: %v, want accepted", err)
	}
	forged, err := is.SignWithUnknownKey(testissuer.Token{Audience: []string{testResource}}, "key-unknown")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.Verify(context.Background(), forged); !errors.Is(err, ErrIssuerUnavailable) {
		t.Errorf("an unknown kid while the issuer is down: %v, want ErrIssuerUnavailable", err)
	}
}

// TestUnknownKidRefetchLimited: the first token with an unknown kid has
// the key set read again; more within KeyRefetchInterval are refused
// without a read; after it, a rotated key is picked up.
func TestUnknownKidRefetchLimited(t *testing.T) {
	is, err := testissuer.New()
	if err != nil {
		t.Fatal(err)
	}
	defer is.Close()
	tr := &countingTransport{}
	v, clk := newTestVerifier(t, is, tr)
	if _, err := v.Verify(context.Background(), sign(t, is)); err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		forged, err := is.SignWithUnknownKey(testissuer.Token{Audience: []string{testResource}}, "forged-"+string(rune('a'+i)))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := v.Verify(context.Background(), forged); !errors.Is(err, ErrInvalidToken) {
			t.Errorf("forged kid %d: %v, want ErrInvalidToken", i, err)
		}
	}
	if n := tr.count("/jwks"); n != 2 {
		t.Fatalf("the key set was read %d times for one good token and 5 unknown kids, want 2 (once, and one refetch)", n)
	}
	if err := is.Rotate(false); err != nil {
		t.Fatal(err)
	}
	rotated := sign(t, is)
	if _, err := v.Verify(context.Background(), rotated); !errors.Is(err, ErrInvalidToken) || tr.count("/jwks") != 2 {
		t.Fatalf("a new key within %s of the last refetch: %v, %d reads; want refused without a read", KeyRefetchInterval, err, tr.count("/jwks"))
	}
	clk.advance(KeyRefetchInterval)
	if _, err := v.Verify(context.Background(), rotated); err != nil || tr.count("/jwks") != 3 {
		t.Fatalf("a new key after %s: %v, %d reads; want it read (3) and the token accepted", KeyRefetchInterval, err, tr.count("/jwks"))
	}
}

// TestRetryAfterFollowsThePause: the 503's Retry-After is the pause left.
func TestRetryAfterFollowsThePause(t *testing.T) {
	is, err := testissuer.New()
	if err != nil {
		t.Fatal(err)
	}
	defer is.Close()
	tr := &countingTransport{}
	tr.down.Store(true)
	v, clk := newTestVerifier(t, is, tr)
	tok := sign(t, is)
	for range 4 { // pauses of 0.5, 1, 2 and 4 s
		_, _ = v.Verify(context.Background(), tok)
		clk.advance(maxBackoff)
	}
	clk.advance(-maxBackoff)
	rec := httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodPost, "/mcp", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	v.Authenticate(rec, req)
	if rec.Code != http.StatusServiceUnavailable || rec.Header().Get("Retry-After") != "4" {
		t.Errorf("after four failures: %d, Retry-After %q; want 503, 4", rec.Code, rec.Header().Get("Retry-After"))
	}
}

// TestOldKeySetReadAgain: a key set KeySetMaxAge old is read again in the
// background, so a key the issuer withdrew stops passing although no
// token named an unknown kid; tokens are not held up meanwhile.
func TestOldKeySetReadAgain(t *testing.T) {
	is, err := testissuer.New()
	if err != nil {
		t.Fatal(err)
	}
	defer is.Close()
	tr := &countingTransport{}
	v, clk := newTestVerifier(t, is, tr)
	old := sign(t, is)
	if _, err := v.Verify(context.Background(), old); err != nil {
		t.Fatal(err)
	}
	if err := is.Rotate(true); err != nil { // the old key is withdrawn
		t.Fatal(err)
	}
	if _, err := v.Verify(context.Background(), old); err != nil || tr.count("/jwks") != 1 {
		t.Fatalf("a fresh key set: %v, %d reads; want the old key still trusted, no read", err, tr.count("/jwks"))
	}
	clk.advance(KeySetMaxAge)
	if _, err := v.Verify(context.Background(), old); err != nil {
		t.Fatalf("the request that finds the set old: %v, want it checked against the set in hand", err)
	}
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if _, err = v.Verify(context.Background(), old); err != nil {
			break
		}
	}
	if !errors.Is(err, ErrInvalidToken) {
		t.Errorf("a withdrawn key after the set was read again: %v, want ErrInvalidToken", err)
	}
	if _, err := v.Verify(context.Background(), sign(t, is)); err != nil {
		t.Errorf("the new key: %v", err)
	}
}

// TestIntrospectionsBounded: a burst of distinct opaque tokens never has
// more than MaxConcurrentIntrospections questions at the endpoint at once.
func TestIntrospectionsBounded(t *testing.T) {
	is, err := testissuer.New()
	if err != nil {
		t.Fatal(err)
	}
	defer is.Close()
	is.AddClient("rs", testissuer.Client{Secret: "rs-secret"})
	g := &gauge{}
	v, err := New(Config{Issuer: is.URL, Resource: testResource, HTTPClient: &http.Client{Transport: g},
		Introspection: &Introspection{URL: is.IntrospectionURL(), ClientID: "rs", ClientSecret: "rs-secret"}})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for range 4 * MaxConcurrentIntrospections {
		tok := is.Opaque(testissuer.Token{Audience: []string{testResource}})
		wg.Go(func() {
			if _, err := v.Verify(context.Background(), tok); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if g.max > MaxConcurrentIntrospections || is.Introspections() != 4*MaxConcurrentIntrospections {
		t.Errorf("%d introspections, at most %d at once; want %d, at most %d", is.Introspections(), g.max,
			4*MaxConcurrentIntrospections, MaxConcurrentIntrospections)
	}
}

// gauge is a transport that records the most requests it had in flight,
// each held a moment so that they overlap.
type gauge struct {
	mu       sync.Mutex
	now, max int
}

func (g *gauge) RoundTrip(req *http.Request) (*http.Response, error) {
	g.mu.Lock()
	g.now++
	g.max = max(g.max, g.now)
	g.mu.Unlock()
	defer func() {
		g.mu.Lock()
		g.now--
		g.mu.Unlock()
	}()
	time.Sleep(20 * time.Millisecond)
	return http.DefaultTransport.RoundTrip(req)
}

// TestStaleKeySetNotTrusted: while the issuer cannot be read, the last key
// set read keeps working, but only until it is KeySetMaxStale old: then a
// token gets ErrIssuerUnavailable (503), not a pass on a key the issuer
// may have withdrawn meanwhile.
func TestStaleKeySetNotTrusted(t *testing.T) {
	is, err := testissuer.New()
	if err != nil {
		t.Fatal(err)
	}
	v, clk := newTestVerifier(t, is, &countingTransport{})
	tok, err := is.Sign(testissuer.Token{Audience: []string{testResource}, Expiry: time.Now().Add(3 * KeySetMaxStale)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.Verify(context.Background(), tok); err != nil {
		t.Fatal(err)
	}
	is.Close() // the issuer goes away
	clk.advance(KeySetMaxAge)
	if _, err := v.Verify(context.Background(), tok); err != nil {
		t.Fatalf("an hour into the outage: %v, want the token checked against the set in hand", err)
	}
	clk.advance(KeySetMaxStale)
	if _, err := v.Verify(context.Background(), tok); !errors.Is(err, ErrIssuerUnavailable) {
		t.Fatalf("a day into the outage: %v, want ErrIssuerUnavailable", err)
	}
}
