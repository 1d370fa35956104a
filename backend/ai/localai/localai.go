// Package localai is a small, deterministic OpenAI-compatible chat server.
//
// It answers POST /v1/chat/completions (streamed as server-sent events, or as
// one JSON object when "stream" is false) and GET /v1/models with text built
// from the prompt, so the product can demonstrate streaming without an API key
// and tests can drive a real OpenAI client over real HTTP. Options inject the
// failures real providers produce: an error status before the stream, a
// dropped connection, an undecodable chunk, an error event mid-stream.
//
// Every request is recorded (model, messages, the bearer key, how the response
// ended) so a test can check what the client sent and whether it hung up.
package localai

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"
)

// DefaultModel is the model id the server lists when Options.Model is empty.
// Requests may name any model: the server answers them all the same way.
const DefaultModel = "mcp-sync-local"

// Options configures a Handler. The zero value serves the canned answer, one
// chunk per word, without delay or failures.
type Options struct {
	// Model is the id listed by GET /v1/models. Empty means DefaultModel.
	Model string

	// Chunks is the number of content chunks an answer is split into, on rune
	// boundaries and as evenly as possible. Zero means one chunk per word, as a
	// tokenizer would roughly do. An answer shorter than Chunks runes is sent
	// one rune per chunk.
	Chunks int

	// Delay is the pause before each content chunk. Delays end early when the
	// client goes away.
	Delay time.Duration

	// Text, when not empty, is the answer to every request instead of Reply(prompt).
	Text string

	// RequireKey, when not empty, makes every request without
	// "Authorization: Bearer <RequireKey>" fail with 401.
	RequireKey string

	// FailStatus, when not zero, answers every chat request with this HTTP
	// status (400–599) and an OpenAI-style JSON error body, before any stream.
	FailStatus int
	// FailMessage is the error message sent with FailStatus or ErrorAfter.
	// Empty means a message like OpenAI's for the status.
	FailMessage string
	// RetryAfter, when positive, is sent with FailStatus as a Retry-After
	// header in whole seconds (rounded up).
	RetryAfter time.Duration

	// CutAfter, when positive, drops the connection after that many content
	// chunks, without a finish_reason or [DONE]: the client sees the body end
	// abruptly, as when a network path or a provider fails.
	CutAfter int
	// CutGracefully makes CutAfter end the HTTP response properly instead of
	// dropping the connection, as a proxy that gives up would: the client sees
	// a clean end of body that still lacks a finish_reason and [DONE].
	CutGracefully bool

	// MalformedAfter, when positive, sends an undecodable (truncated JSON)
	// chunk after that many content chunks, then ends the response.
	MalformedAfter int

	// ErrorAfter, when positive, sends an OpenAI-style error event
	// (data: {"error": …}) after that many content chunks, then ends the
	// response, as OpenAI does when a generation fails part-way.
	ErrorAfter int

	// OmitDone leaves out the final "data: [DONE]" line, as some
	// OpenAI-compatible servers do; the finish_reason chunk is still sent.
	OmitDone bool
	// OmitFinishReason leaves out the chunk carrying finish_reason, as some
	// OpenAI-compatible servers do; [DONE] is still sent.
	OmitFinishReason bool
}

func (o Options) validate() error {
	switch {
	case o.Chunks < 0:
		return fmt.Errorf("localai: Chunks is %d; use 0 for one chunk per word or a positive count", o.Chunks)
	case o.Delay < 0:
		return fmt.Errorf("localai: Delay is %v; it must not be negative", o.Delay)
	case o.FailStatus != 0 && (o.FailStatus < 400 || o.FailStatus > 599):
		return fmt.Errorf("localai: FailStatus is %d; use 0 (no failure) or an HTTP error status 400–599", o.FailStatus)
	case o.RetryAfter < 0:
		return fmt.Errorf("localai: RetryAfter is %v; it must not be negative", o.RetryAfter)
	case o.CutAfter < 0, o.MalformedAfter < 0, o.ErrorAfter < 0:
		return errors.New("localai: CutAfter, MalformedAfter and ErrorAfter must not be negative (0 disables them)")
	}
	return nil
}

// Reply is the canned answer to prompt, served when Options.Text is empty.
// It is deterministic, so a caller can compute what a stream must join to.
func Reply(prompt string) string {
	prompt = strings.TrimSpace(prompt)
	if prompt == "" {
		return "Hello! This is mcp-sync's built-in local model: no AI provider is configured, " +
			"so this answer is canned. Set OPENAI_API_KEY (and optionally OPENAI_BASE_URL and OPENAI_MODEL) to use a real model."
	}
	return "Hello! This is mcp-sync's built-in local model: no AI provider is configured, " +
		"so this answer is canned. You asked: \"" + prompt + "\". " +
		"Set OPENAI_API_KEY (and optionally OPENAI_BASE_URL and OPENAI_MODEL) to use a real model."
}

// split cuts text into the pieces a stream sends: n pieces of nearly equal
// rune length, or one piece per word (with its leading space) when n is 0.
// Pieces always end on rune boundaries so each is valid UTF-8 on its own.
func split(text string, n int) []string {
	if text == "" {
		return nil
	}
	if n == 0 {
		var pieces []string
		start := 0
		prevSpace := false
		for i, r := range text {
			space := unicode.IsSpace(r)
			if i > start && prevSpace && !space {
				pieces = append(pieces, text[start:i])
				start = i
			}
			prevSpace = space
		}
		return append(pieces, text[start:])
	}
	runes := utf8.RuneCountInString(text)
	n = min(n, runes)
	pieces := make([]string, 0, n)
	start, seen := 0, 0
	for i := range text {
		// Piece k ends after (k+1)*runes/n runes: lengths differ by at most one.
		if seen > 0 && seen == (len(pieces)+1)*runes/n {
			pieces = append(pieces, text[start:i])
			start = i
		}
		seen++
	}
	return append(pieces, text[start:])
}

// Outcome says how the server ended a response.
type Outcome string

// Outcomes of a recorded exchange.
const (
	OutcomePending   Outcome = ""           // the response is still being written
	OutcomeCompleted Outcome = "completed"  // the full answer was sent
	OutcomeRejected  Outcome = "rejected"   // an error status was sent (bad request, RequireKey, FailStatus)
	OutcomeCut       Outcome = "cut"        // CutAfter ended the stream
	OutcomeMalformed Outcome = "malformed"  // MalformedAfter sent a bad chunk
	OutcomeError     Outcome = "error"      // ErrorAfter sent an error event
	OutcomeGone      Outcome = "clientgone" // the client closed the connection first
)

// Message is one chat message as the server received it. Content parts of
// array-form messages are joined.
type Message struct {
	Role    string
	Content string
}

// Exchange records one chat completion request and how its response ended.
type Exchange struct {
	Seq       int // 1 for the first request the handler received
	Model     string
	Messages  []Message
	APIKey    string // the bearer token sent, "" if none
	Stream    bool
	MaxTokens int // max_tokens, 0 if absent
	// MaxCompletionTokens is max_completion_tokens, 0 if absent. Reasoning
	// models take this one instead of max_tokens.
	MaxCompletionTokens int
	Chunks              int // content chunks written
	Outcome             Outcome
}

// Prompt returns the content of the last user message, "" if there is none.
func (e Exchange) Prompt() string {
	for i := len(e.Messages) - 1; i >= 0; i-- {
		if e.Messages[i].Role == "user" {
			return e.Messages[i].Content
		}
	}
	return ""
}

// keep bounds the exchanges a handler remembers, so a long-running demo
// server does not grow without limit; counts are kept in full.
const keep = 64

// Handler is the OpenAI-compatible http.Handler. Mount it at the root (it
// serves /v1/...) or under a prefix with http.StripPrefix. It is safe for
// concurrent use.
type Handler struct {
	opts Options

	mu        sync.Mutex
	requests  int
	ended     int
	exchanges []*Exchange   // the last `keep` exchanges, oldest first
	changed   chan struct{} // closed and replaced whenever an exchange ends
}

// New returns a Handler serving opts, or an error naming the invalid option.
func New(opts Options) (*Handler, error) {
	if err := opts.validate(); err != nil {
		return nil, err
	}
	if opts.Model == "" {
		opts.Model = DefaultModel
	}
	return &Handler{opts: opts, changed: make(chan struct{})}, nil
}

// Requests returns the number of chat completion requests received so far,
// including rejected ones.
func (h *Handler) Requests() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.requests
}

// Last returns the most recent chat completion request, and false if there
// has been none.
func (h *Handler) Last() (Exchange, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.exchanges) == 0 {
		return Exchange{}, false
	}
	return h.exchanges[len(h.exchanges)-1].clone(), true
}

// Exchanges returns the recorded requests, oldest first: all of them, or the
// last 64 once more have been received.
func (h *Handler) Exchanges() []Exchange {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.snapshot()
}

// WaitEnded blocks until at least n responses have ended (any outcome but
// OutcomePending) and returns the recorded exchanges, or returns ctx's error.
func (h *Handler) WaitEnded(ctx context.Context, n int) ([]Exchange, error) {
	for {
		h.mu.Lock()
		ended, changed := h.ended, h.changed
		if ended >= n {
			defer h.mu.Unlock()
			return h.snapshot(), nil
		}
		h.mu.Unlock()
		select {
		case <-changed:
		case <-ctx.Done():
			return h.Exchanges(), fmt.Errorf("localai: %d of %d responses ended before waiting stopped: %w", ended, n, ctx.Err())
		}
	}
}

func (h *Handler) snapshot() []Exchange {
	out := make([]Exchange, len(h.exchanges))
	for i, e := range h.exchanges {
		out[i] = e.clone()
	}
	return out
}

func (e *Exchange) clone() Exchange {
	c := *e
	c.Messages = append([]Message(nil), e.Messages...)
	return c
}

// record registers a filled-in exchange; afterwards only sent and end
// change it, under h.mu.
func (h *Handler) record(e *Exchange) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.requests++
	e.Seq = h.requests
	if len(h.exchanges) == keep {
		h.exchanges = append(h.exchanges[:0], h.exchanges[1:]...)
	}
	h.exchanges = append(h.exchanges, e)
}

func (h *Handler) sent(e *Exchange) {
	h.mu.Lock()
	e.Chunks++
	h.mu.Unlock()
}

func (h *Handler) end(e *Exchange, o Outcome) {
	h.mu.Lock()
	defer h.mu.Unlock()
	e.Outcome = o
	h.ended++
	close(h.changed)
	h.changed = make(chan struct{})
}

// Server is a Handler listening on a loopback port.
type Server struct {
	*Handler
	srv *http.Server
	url string
}

// Start serves opts on 127.0.0.1 at a free port until Close.
func Start(opts Options) (*Server, error) {
	h, err := New(opts)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("localai: listen on 127.0.0.1: %w", err)
	}
	s := &Server{
		Handler: h,
		srv:     &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second},
		url:     "http://" + ln.Addr().String() + "/v1",
	}
	go func() { _ = s.srv.Serve(ln) }() // returns ErrServerClosed on Close
	return s, nil
}

// URL returns the base URL for an OpenAI client, ending in /v1
// (for example http://127.0.0.1:40123/v1).
func (s *Server) URL() string { return s.url }

// Close stops the server and drops open connections, ending streams in progress.
func (s *Server) Close() error { return s.srv.Close() }
