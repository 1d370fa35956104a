package ai_test

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/mcp-sync/mcp-sync/backend/ai"
	"github.com/mcp-sync/mcp-sync/backend/ai/localai"
)

// testKey is sent in tests; no error message may contain it.
const testKey = "sk-test-SECRET-4f9c2a7e1b"

func start(t *testing.T, opts localai.Options) *localai.Server {
	t.Helper()
	s, err := localai.Start(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func provider(t *testing.T, cfg ai.Config) *ai.OpenAI {
	t.Helper()
	p, err := ai.NewOpenAI(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// collect ranges over a stream and returns its chunks and the error that
// ended it (nil on success), failing the test if the stream misbehaves.
func collect(t *testing.T, seq func(func(string, error) bool)) ([]string, error) {
	t.Helper()
	var chunks []string
	var final error
	for chunk, err := range seq {
		if final != nil {
			t.Fatalf("stream yielded %q after its final error %v", chunk, final)
		}
		if err != nil {
			if chunk != "" {
				t.Errorf("error yielded with text %q", chunk)
			}
			final = err
			continue
		}
		chunks = append(chunks, chunk)
	}
	return chunks, final
}

// words returns n distinct words, so any reordering or loss changes the text.
func words(n int) string {
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, "w%04d ", i)
	}
	return b.String()
}

func TestStreamInOrder(t *testing.T) {
	text := words(500) // 3000 runes, sent as 500 chunks of 6
	s := start(t, localai.Options{Chunks: 500, Text: text})
	p := provider(t, ai.Config{APIKey: testKey, BaseURL: s.URL(), Model: "local-test"})

	chunks, err := collect(t, p.Stream(t.Context(), ai.Request{Prompt: "count for me", System: "be terse"}))
	if err != nil {
		t.Fatal(err)
	}
	if len(chunks) != 500 {
		t.Errorf("got %d chunks, want 500", len(chunks))
	}
	if got := strings.Join(chunks, ""); got != text {
		t.Errorf("joined text differs from the server's: got %d bytes, want %d", len(got), len(text))
	}
	for i, c := range chunks {
		if want := fmt.Sprintf("w%04d ", i); c != want {
			t.Fatalf("chunk %d = %q, want %q", i, c, want)
		}
	}

	ex, ok := s.Last()
	if !ok {
		t.Fatal("the server recorded no request")
	}
	if ex.APIKey != testKey || ex.Model != "local-test" || !ex.Stream || ex.Prompt() != "count for me" {
		t.Errorf("server saw key %q, model %q, stream %v, prompt %q", ex.APIKey, ex.Model, ex.Stream, ex.Prompt())
	}
	if len(ex.Messages) != 2 || ex.Messages[0] != (localai.Message{Role: "system", Content: "be terse"}) {
		t.Errorf("server saw messages %+v, want the system message first", ex.Messages)
	}
	if ex.Outcome != localai.OutcomeCompleted || ex.Chunks != 500 {
		t.Errorf("server outcome %q after %d chunks, want completed after 500", ex.Outcome, ex.Chunks)
	}
}

func TestCompleteCannedReply(t *testing.T) {
	s := start(t, localai.Options{})
	p := provider(t, ai.Config{BaseURL: s.URL()})
	got, err := ai.Complete(t.Context(), p, ai.Request{Prompt: "Plan my day"})
	if err != nil {
		t.Fatal(err)
	}
	if want := localai.Reply("Plan my day"); got != want {
		t.Errorf("Complete = %q, want %q", got, want)
	}
	if ex, _ := s.Last(); ex.Model != ai.DefaultModel || ex.APIKey != "" {
		t.Errorf("server saw model %q and key %q, want the default model and no key", ex.Model, ex.APIKey)
	}
}

// Variants seen in OpenAI-compatible servers: either end marker is enough.
func TestStreamEndMarkers(t *testing.T) {
	for name, opts := range map[string]localai.Options{
		"no [DONE]":        {Chunks: 5, Text: "abcdefghij", OmitDone: true},
		"no finish_reason": {Chunks: 5, Text: "abcdefghij", OmitFinishReason: true},
	} {
		t.Run(name, func(t *testing.T) {
			s := start(t, opts)
			got, err := ai.Complete(t.Context(), provider(t, ai.Config{BaseURL: s.URL()}), ai.Request{Prompt: "x"})
			if err != nil || got != "abcdefghij" {
				t.Fatalf("Complete = %q, %v; want the whole text and no error", got, err)
			}
		})
	}
}

func TestFailures(t *testing.T) {
	const text = "0123456789" // one rune per chunk, so "after 3" means "012"
	cases := []struct {
		name     string
		opts     localai.Options
		kind     ai.Kind
		status   int
		partial  string        // text yielded before the error
		retry    time.Duration // Error.RetryAfter
		contains []string      // in the message, besides the endpoint
	}{
		{name: "401 wrong key", opts: localai.Options{RequireKey: "sk-other"},
			kind: ai.KindAuth, status: 401, contains: []string{"HTTP 401", "rejected the API key", "Incorrect API key", "check OPENAI_API_KEY"}},
		{name: "401 server echoes the key", opts: localai.Options{FailStatus: 401, FailMessage: "Incorrect API key provided: " + testKey + "."},
			kind: ai.KindAuth, status: 401, contains: []string{"Incorrect API key provided: [redacted]"}},
		{name: "403", opts: localai.Options{FailStatus: 403},
			kind: ai.KindAuth, status: 403, contains: []string{"HTTP 403", "refused access", "not allowed to use model"}},
		{name: "429 with Retry-After", opts: localai.Options{FailStatus: 429, RetryAfter: 2 * time.Second},
			kind: ai.KindRateLimit, status: 429, retry: 2 * time.Second, contains: []string{"HTTP 429", "rate limited: retry after 2s"}},
		{name: "429 without Retry-After", opts: localai.Options{FailStatus: 429},
			kind: ai.KindRateLimit, status: 429, contains: []string{"rate limited: retry later"}},
		{name: "429 quota", opts: localai.Options{FailStatus: 429, FailMessage: "You exceeded your current quota"},
			kind: ai.KindRateLimit, status: 429, contains: []string{"exceeded your current quota", "check its plan and billing; retrying will not help"}},
		{name: "500 before the stream", opts: localai.Options{FailStatus: 500},
			kind: ai.KindServer, status: 500, contains: []string{"HTTP 500", "failed", "retry later"}},
		{name: "503 with Retry-After", opts: localai.Options{FailStatus: 503, RetryAfter: 3 * time.Second},
			kind: ai.KindServer, status: 503, retry: 3 * time.Second, contains: []string{"retry after 3s"}},
		{name: "400", opts: localai.Options{FailStatus: 400},
			kind: ai.KindBadRequest, status: 400, contains: []string{"HTTP 400", "rejected the request", "OPENAI_MODEL"}},
		{name: "404", opts: localai.Options{FailStatus: 404},
			kind: ai.KindBadRequest, status: 404, contains: []string{"HTTP 404", "OPENAI_BASE_URL", "/v1"}},
		{name: "cut mid-stream", opts: localai.Options{Chunks: 10, Text: text, CutAfter: 3},
			kind: ai.KindStreamCut, partial: "012", contains: []string{"cut off", "after 3 chunks", "connection failed", "incomplete"}},
		{name: "cut gracefully mid-stream", opts: localai.Options{Chunks: 10, Text: text, CutAfter: 3, CutGracefully: true},
			kind: ai.KindStreamCut, partial: "012", contains: []string{"cut off", "without a finish_reason or [DONE]"}},
		{name: "malformed chunk", opts: localai.Options{Chunks: 10, Text: text, MalformedAfter: 3},
			kind: ai.KindMalformed, partial: "012", contains: []string{"cannot be decoded", "not valid chat.completion.chunk JSON", "OPENAI_BASE_URL"}},
		{name: "error event mid-stream", opts: localai.Options{Chunks: 10, Text: text, ErrorAfter: 3},
			kind: ai.KindServer, partial: "012", contains: []string{"error mid-stream", "The server had an error", "incomplete"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := start(t, tc.opts)
			p := provider(t, ai.Config{APIKey: testKey, BaseURL: s.URL(), Model: "m"})
			chunks, err := collect(t, p.Stream(t.Context(), ai.Request{Prompt: "hi"}))
			if got := strings.Join(chunks, ""); got != tc.partial {
				t.Errorf("yielded %q before the error, want %q", got, tc.partial)
			}
			var e *ai.Error
			if !errors.As(err, &e) {
				t.Fatalf("error %v (%T) is not an *ai.Error", err, err)
			}
			if e.Kind != tc.kind || ai.KindOf(err) != tc.kind || e.Status != tc.status || e.RetryAfter != tc.retry {
				t.Errorf("got kind %v, status %d, retry after %v; want %v, %d, %v", e.Kind, e.Status, e.RetryAfter, tc.kind, tc.status, tc.retry)
			}
			wantRetry := tc.kind == ai.KindRateLimit || tc.kind == ai.KindServer || tc.kind == ai.KindStreamCut
			if e.Retryable() != wantRetry {
				t.Errorf("Retryable() = %v for %v", e.Retryable(), e.Kind)
			}
			if e.Chunks != len(tc.partial) || e.Endpoint != s.URL() || e.Model != "m" {
				t.Errorf("got Chunks %d, Endpoint %q, Model %q", e.Chunks, e.Endpoint, e.Model)
			}
			msg := err.Error()
			t.Log(msg)
			for _, want := range append(tc.contains, s.URL()) {
				if !strings.Contains(msg, want) {
					t.Errorf("message %q does not contain %q", msg, want)
				}
			}
			if strings.Contains(msg, testKey) || strings.Contains(e.Message, testKey) {
				t.Errorf("message contains the API key: %q", msg)
			}
			if got := s.Requests(); got != 1 {
				t.Errorf("server received %d requests, want 1", got)
			}
		})
	}
}

func TestErrorMessage(t *testing.T) {
	s := start(t, localai.Options{FailStatus: 429, RetryAfter: 2 * time.Second})
	_, err := ai.Complete(t.Context(), provider(t, ai.Config{BaseURL: s.URL()}), ai.Request{Prompt: "hi"})
	want := "ai: " + s.URL() + ` rate-limited the request (HTTP 429, model "gpt-4o-mini"): ` +
		"Rate limit reached for requests. Please try again later; rate limited: retry after 2s"
	if err == nil || err.Error() != want {
		t.Errorf("got  %v\nwant %s", err, want)
	}
}

func TestNoAPIKeySent(t *testing.T) {
	s := start(t, localai.Options{RequireKey: testKey})
	_, err := ai.Complete(t.Context(), provider(t, ai.Config{BaseURL: s.URL()}), ai.Request{Prompt: "hi"})
	if ai.KindOf(err) != ai.KindAuth || !strings.Contains(err.Error(), "no API key was sent: set OPENAI_API_KEY") {
		t.Errorf("got %v, want an auth error saying to set OPENAI_API_KEY", err)
	}
}

// Failures from servers that are not OpenAI-compatible, over real HTTP.
func TestNonOpenAIResponses(t *testing.T) {
	cases := []struct {
		name     string
		handler  http.HandlerFunc
		kind     ai.Kind
		contains string
	}{
		{"HTML 502 from a proxy", func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "text/html")
			w.WriteHeader(http.StatusBadGateway)
			fmt.Fprint(w, "<html>\n<body><h1>502 Bad Gateway</h1></body>\n</html>")
		}, ai.KindServer, "<html> <body><h1>502 Bad Gateway</h1></body> </html>"},
		{"JSON instead of a stream", func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprint(w, `{"id":"x","object":"chat.completion","choices":[{"message":{"content":"hi"}}]}`)
		}, ai.KindMalformed, `Content-Type "application/json", not text/event-stream`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(tc.handler)
			defer srv.Close()
			_, err := ai.Complete(t.Context(), provider(t, ai.Config{BaseURL: srv.URL + "/v1"}), ai.Request{Prompt: "hi"})
			if ai.KindOf(err) != tc.kind || !strings.Contains(err.Error(), tc.contains) {
				t.Errorf("got %v (kind %v), want kind %v mentioning %q", err, ai.KindOf(err), tc.kind, tc.contains)
			}
		})
	}
}

func TestUnavailable(t *testing.T) {
	s := start(t, localai.Options{})
	url := s.URL()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	_, err := ai.Complete(t.Context(), provider(t, ai.Config{APIKey: testKey, BaseURL: url}), ai.Request{Prompt: "hi"})
	if ai.KindOf(err) != ai.KindUnavailable {
		t.Fatalf("got %v, want KindUnavailable", err)
	}
	// Not "dial tcp": with test packages running in parallel, another one
	// may listen on the freed port by the time of the call, and the error
	// is then a reset connection (seen in CI), unavailable all the same.
	for _, want := range []string{"cannot reach " + url, "check OPENAI_BASE_URL"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("message %q does not contain %q", err, want)
		}
	}
}

func TestRejectedBeforeSending(t *testing.T) {
	s := start(t, localai.Options{})
	p := provider(t, ai.Config{BaseURL: s.URL()})
	for _, req := range []ai.Request{{Prompt: "  "}, {Prompt: "hi", MaxTokens: -1}} {
		_, err := ai.Complete(t.Context(), p, req)
		if ai.KindOf(err) != ai.KindBadRequest || !strings.Contains(err.Error(), "not sent") {
			t.Errorf("request %+v: got %v, want a bad-request error before sending", req, err)
		}
	}
	if n := s.Requests(); n != 0 {
		t.Errorf("server received %d requests, want none", n)
	}
}

func TestMaxTokens(t *testing.T) {
	// o3-mini is a reasoning model: it takes max_completion_tokens (and
	// go-openai refuses max_tokens for it); other servers often know only
	// max_tokens.
	for _, tc := range []struct {
		model                    string
		maxTokens, maxCompletion int
	}{{"gpt-4o-mini", 4, 0}, {"o3-mini", 0, 4}} {
		t.Run(tc.model, func(t *testing.T) {
			s := start(t, localai.Options{Chunks: 10, Text: "0123456789"})
			got, err := ai.Complete(t.Context(), provider(t, ai.Config{BaseURL: s.URL()}), ai.Request{Prompt: "hi", Model: tc.model, MaxTokens: 4})
			if err != nil || got != "0123" {
				t.Fatalf("Complete = %q, %v; want the first 4 chunks", got, err)
			}
			if ex, _ := s.Last(); ex.MaxTokens != tc.maxTokens || ex.MaxCompletionTokens != tc.maxCompletion || ex.Model != tc.model {
				t.Errorf("server saw max_tokens %d, max_completion_tokens %d for model %q", ex.MaxTokens, ex.MaxCompletionTokens, ex.Model)
			}
		})
	}
}
