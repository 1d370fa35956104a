package ai

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Kind classifies a failure by what the caller should do about it.
type Kind int

// Kinds of *Error.
const (
	KindUnknown     Kind = iota // not an *Error from this package
	KindAuth                    // HTTP 401 or 403, or the API key could not be obtained: fix the key; retrying will not help
	KindRateLimit               // HTTP 429: wait Error.RetryAfter (when given) and retry, or fix the quota
	KindServer                  // HTTP 5xx, or an error event mid-stream: the provider failed; retry later
	KindBadRequest              // another HTTP 4xx, or a request refused before sending: fix the request or configuration
	KindUnavailable             // no HTTP response at all (connection refused, DNS, TLS): check the endpoint; retry
	KindStreamCut               // the stream ended before the answer was finished: the text so far is incomplete; retry
	KindMalformed               // the stream could not be decoded: the endpoint is not OpenAI-compatible or is broken
	KindCanceled                // the caller's context was cancelled or timed out
)

var kindNames = [...]string{"unknown", "auth", "rate limit", "server", "bad request", "unavailable", "stream cut", "malformed", "canceled"}

// String returns the kind's name, e.g. "rate limit".
func (k Kind) String() string {
	if k < 0 || int(k) >= len(kindNames) {
		return "Kind(" + strconv.Itoa(int(k)) + ")"
	}
	return kindNames[k]
}

// Error is the error a Provider yields. Use errors.As to reach it, or KindOf.
// It never contains the API key.
type Error struct {
	Kind       Kind
	Endpoint   string        // the base URL, without credentials
	Model      string        // the model requested
	Status     int           // the HTTP status, 0 when there was none (no response, or a failure after a 200)
	RetryAfter time.Duration // how long the provider asked to wait (Retry-After), 0 if it did not say
	Message    string        // the provider's own error message, API key removed; "" if none
	Chunks     int           // text chunks yielded before the failure
	Err        error         // the underlying cause, if any: a context, network, decoding or key-function error

	hint string // what to do, set where the context to say it is known
}

// Error describes what failed, where, and what to do about it.
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("ai: ")
	b.WriteString(e.what())
	var paren []string
	if e.Status != 0 {
		paren = append(paren, "HTTP "+strconv.Itoa(e.Status))
	}
	if e.Model != "" {
		paren = append(paren, "model "+strconv.Quote(e.Model))
	}
	if e.Chunks > 0 {
		paren = append(paren, "after "+strconv.Itoa(e.Chunks)+" chunks")
	}
	if len(paren) > 0 {
		b.WriteString(" (" + strings.Join(paren, ", ") + ")")
	}
	detail := e.Message
	if detail == "" && e.Err != nil {
		detail = e.Err.Error()
	}
	if detail != "" {
		b.WriteString(": ")
		b.WriteString(strings.TrimRight(detail, ". "))
	}
	if e.hint != "" {
		b.WriteString("; ")
		b.WriteString(e.hint)
	}
	return b.String()
}

func (e *Error) what() string {
	at := e.Endpoint
	if at == "" {
		at = "the AI endpoint"
	}
	switch e.Kind {
	case KindAuth:
		if e.Status == 403 {
			return at + " refused access"
		}
		if e.Status == 0 {
			return "could not authenticate with " + at
		}
		return at + " rejected the API key"
	case KindRateLimit:
		return at + " rate-limited the request"
	case KindServer:
		if e.Status == 0 {
			return at + " reported an error mid-stream"
		}
		return at + " failed"
	case KindBadRequest:
		if e.Status == 0 {
			return "request to " + at + " not sent"
		}
		return at + " rejected the request"
	case KindUnavailable:
		return "cannot reach " + at
	case KindStreamCut:
		return "the stream from " + at + " was cut off"
	case KindMalformed:
		return at + " sent a stream that cannot be decoded"
	case KindCanceled:
		return "the request to " + at + " was canceled"
	}
	return "request to " + at + " failed"
}

// Unwrap returns the underlying cause, so errors.Is(err, context.Canceled)
// and the like work.
func (e *Error) Unwrap() error { return e.Err }

// Retryable reports whether the same request may succeed if tried again
// later: rate limits, server errors, no response, and cut streams. The
// backend's action queue retries enqueued runs that fail with such errors.
func (e *Error) Retryable() bool {
	switch e.Kind {
	case KindRateLimit, KindServer, KindUnavailable, KindStreamCut:
		return true
	}
	return false
}

// KindOf returns the Kind of the first *Error in err's chain, or KindUnknown.
func KindOf(err error) Kind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return KindUnknown
}

// redact removes key from s. Providers echo keys in some messages, and a
// misbehaving proxy may echo the whole request.
func redact(s, key string) string {
	if key == "" || !strings.Contains(s, key) {
		return s
	}
	return strings.ReplaceAll(s, key, "[redacted]")
}

// redactErr returns err, or a plain copy of its text without key when the
// text contains it (the original chain is dropped with the key).
func redactErr(err error, key string) error {
	if err == nil || key == "" || !strings.Contains(err.Error(), key) {
		return err
	}
	return errors.New(redact(err.Error(), key))
}

// retryAfter reads how long a provider asks to wait: OpenAI's retry-after-ms,
// then Retry-After in seconds or as an HTTP date.
func retryAfter(get func(string) string, now time.Time) time.Duration {
	if ms, err := strconv.ParseFloat(strings.TrimSpace(get("Retry-After-Ms")), 64); err == nil && ms > 0 {
		return time.Duration(ms * float64(time.Millisecond))
	}
	v := strings.TrimSpace(get("Retry-After"))
	if v == "" {
		return 0
	}
	if s, err := strconv.ParseFloat(v, 64); err == nil {
		if s <= 0 {
			return 0
		}
		return time.Duration(s * float64(time.Second))
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now).Round(time.Second)
	}
	return 0
}

// formatWait renders a wait for a person: "2s", "1m30s", "250ms".
func formatWait(d time.Duration) string {
	if d >= time.Second {
		d = d.Round(time.Second)
	}
	return fmt.Sprint(d)
}
