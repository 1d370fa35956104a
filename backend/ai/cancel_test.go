package ai_test

// Cancellation, deadlines, concurrent streams and the provider's configuration.

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/mcp-sync/mcp-sync/backend/ai"
	"github.com/mcp-sync/mcp-sync/backend/ai/localai"
)

func TestCancelMidStream(t *testing.T) {
	s := start(t, localai.Options{Chunks: 1000, Text: words(1000), Delay: 50 * time.Millisecond})
	p := provider(t, ai.Config{BaseURL: s.URL()})
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()

	var canceledAt time.Time
	n := 0
	var final error
	for _, err := range p.Stream(ctx, ai.Request{Prompt: "hi"}) {
		if err != nil {
			final = err
			break
		}
		if n++; n == 3 {
			// From another goroutine, so the cancel usually lands while the
			// stream waits for the next chunk, not between chunks.
			canceledAt = time.Now()
			go cancel()
		}
	}
	// Uncancelled, the stream would run 50 s; the bound is loose enough for
	// a loaded machine and tight enough to tell.
	if elapsed := time.Since(canceledAt); canceledAt.IsZero() || elapsed > 10*time.Second {
		t.Errorf("the stream ended %v after the cancel (3 chunks seen: %v), want within 10 s (the whole stream takes 50 s)", elapsed, !canceledAt.IsZero())
	}
	if ai.KindOf(final) != ai.KindCanceled || !errors.Is(final, context.Canceled) {
		t.Errorf("got %v, want KindCanceled wrapping context.Canceled", final)
	}
	wantGone(t, s)
}

func TestCancelWhileWaiting(t *testing.T) {
	// The first chunk would take a minute: only a cancel that closes the
	// blocked read ends the stream well before.
	s := start(t, localai.Options{Delay: time.Minute})
	p := provider(t, ai.Config{BaseURL: s.URL()})
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	time.AfterFunc(100*time.Millisecond, cancel)

	began := time.Now()
	chunks, err := collect(t, p.Stream(ctx, ai.Request{Prompt: "hi"}))
	if elapsed := time.Since(began); elapsed > 20*time.Second {
		t.Errorf("the stream ended %v after it began, want soon after the cancel at 100 ms (the first chunk is due at 1 min)", elapsed)
	}
	if len(chunks) != 0 || ai.KindOf(err) != ai.KindCanceled {
		t.Errorf("got %d chunks and %v, want none and KindCanceled", len(chunks), err)
	}
	wantGone(t, s)
}

// Chunks already buffered from the connection must not flow after a cancel.
func TestNoChunksAfterCancel(t *testing.T) {
	s := start(t, localai.Options{Chunks: 1000, Text: words(1000)})
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	n, after := 0, 0
	var final error
	for chunk, err := range provider(t, ai.Config{BaseURL: s.URL()}).Stream(ctx, ai.Request{Prompt: "hi"}) {
		switch {
		case err != nil:
			final = err
		case ctx.Err() != nil:
			after++
			t.Errorf("chunk %q yielded after the cancel", chunk)
		}
		if n++; n == 3 {
			cancel()
		}
	}
	if ai.KindOf(final) != ai.KindCanceled || after > 0 {
		t.Errorf("got %v after %d chunks past the cancel, want KindCanceled at once", final, after)
	}
}

func TestDeadline(t *testing.T) {
	s := start(t, localai.Options{Delay: time.Minute})
	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	began := time.Now()
	_, err := ai.Complete(ctx, provider(t, ai.Config{BaseURL: s.URL()}), ai.Request{Prompt: "hi"})
	if ai.KindOf(err) != ai.KindCanceled || !errors.Is(err, context.DeadlineExceeded) || time.Since(began) > 20*time.Second {
		t.Errorf("got %v after %v, want KindCanceled wrapping context.DeadlineExceeded soon after the 100 ms deadline (the first chunk is due at 1 min)", err, time.Since(began))
	}
}

func TestConcurrentStreams(t *testing.T) {
	s := start(t, localai.Options{Chunks: 50})
	p := provider(t, ai.Config{BaseURL: s.URL()})
	const n = 8
	errs := make(chan error, n)
	for i := range n {
		go func() {
			prompt := fmt.Sprintf("prompt %d", i)
			got, err := ai.Complete(t.Context(), p, ai.Request{Prompt: prompt})
			if err == nil && got != localai.Reply(prompt) {
				err = fmt.Errorf("stream %d got %q", i, got)
			}
			errs <- err
		}()
	}
	for range n {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}

func TestCanceledBeforeStart(t *testing.T) {
	s := start(t, localai.Options{})
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err := ai.Complete(ctx, provider(t, ai.Config{BaseURL: s.URL()}), ai.Request{Prompt: "hi"})
	if ai.KindOf(err) != ai.KindCanceled || !errors.Is(err, context.Canceled) {
		t.Errorf("got %v, want KindCanceled", err)
	}
}

func TestBreakClosesConnection(t *testing.T) {
	s := start(t, localai.Options{Chunks: 1000, Text: words(1000), Delay: 10 * time.Millisecond})
	p := provider(t, ai.Config{BaseURL: s.URL()})
	n := 0
	for _, err := range p.Stream(t.Context(), ai.Request{Prompt: "hi"}) {
		if err != nil {
			t.Fatal(err)
		}
		if n++; n == 3 {
			break
		}
	}
	// Without the close, the server would go on writing for 10s.
	wantGone(t, s)
}

// wantGone checks that the server saw the client hang up before the stream
// ended (30 s allowed: a loaded machine is slow, and every stream checked
// would run longer or end otherwise).
func wantGone(t *testing.T, s *localai.Server) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	exs, err := s.WaitEnded(ctx, 1)
	if err != nil {
		t.Fatalf("the server did not see the connection close within 30 s: %v", err)
	}
	if ex := exs[0]; ex.Outcome != localai.OutcomeGone || ex.Chunks >= 1000 {
		t.Errorf("server outcome %q after %d chunks, want %q early", ex.Outcome, ex.Chunks, localai.OutcomeGone)
	}
}

func TestConfigFromEnv(t *testing.T) {
	env := map[string]string{
		"OPENAI_API_KEY":  " " + testKey + "\n",
		"OPENAI_BASE_URL": "http://127.0.0.1:9/v1/",
		"OPENAI_MODEL":    "llama3",
	}
	cfg := ai.ConfigFromEnv(func(k string) string { return env[k] })
	if cfg.APIKey != testKey || cfg.BaseURL != "http://127.0.0.1:9/v1/" || cfg.Model != "llama3" {
		t.Errorf("ConfigFromEnv = %+v", cfg)
	}
	p := provider(t, cfg)
	if p.Endpoint() != "http://127.0.0.1:9/v1" || p.Model() != "llama3" {
		t.Errorf("provider endpoint %q, model %q", p.Endpoint(), p.Model())
	}

	p = provider(t, ai.ConfigFromEnv(func(string) string { return "" }))
	if p.Endpoint() != ai.DefaultBaseURL || p.Model() != ai.DefaultModel || ai.DefaultModel != "gpt-4o-mini" {
		t.Errorf("defaults: endpoint %q, model %q", p.Endpoint(), p.Model())
	}
	if got := ai.ConfigFromEnv(nil); got.APIKey != "" || got.BaseURL != "" || got.Model != "" {
		t.Errorf("ConfigFromEnv(nil) = %v, want an empty config", got)
	}
}

func TestNewOpenAIRejectsBadBaseURL(t *testing.T) {
	for _, base := range []string{"ftp://example.com/v1", "127.0.0.1:8080/v1", "http://", "http://user:pw@[::1/v1"} {
		_, err := ai.NewOpenAI(ai.Config{BaseURL: base})
		if err == nil || !strings.Contains(err.Error(), "OPENAI_BASE_URL") {
			t.Errorf("base URL %q: got %v, want an error naming OPENAI_BASE_URL", base, err)
		}
		if err != nil && strings.Contains(err.Error(), "pw") {
			t.Errorf("base URL %q: error shows the password: %v", base, err)
		}
	}
}
