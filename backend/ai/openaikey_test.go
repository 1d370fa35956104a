package ai_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/mcp-sync/mcp-sync/backend/ai"
	"github.com/mcp-sync/mcp-sync/backend/ai/localai"
)

func TestKeyNeverPrinted(t *testing.T) {
	cfg := ai.Config{APIKey: testKey, BaseURL: "https://user:hunter2@example.com/v1"}
	p := provider(t, cfg)
	for _, s := range []string{fmt.Sprint(cfg), fmt.Sprintf("%+v", cfg), fmt.Sprintf("%#v", cfg), fmt.Sprint(p), fmt.Sprintf("%+v", p), p.Endpoint()} {
		if strings.Contains(s, testKey) || strings.Contains(s, "hunter2") {
			t.Errorf("printed secret: %s", s)
		}
	}
}

func TestKeyFunc(t *testing.T) {
	s := start(t, localai.Options{})
	var calls atomic.Int32
	p := provider(t, ai.Config{
		APIKey:  "static-key",
		BaseURL: s.URL(),
		KeyFunc: func(ctx context.Context) (string, error) {
			switch n := calls.Add(1); n {
			case 3:
				return "", nil // falls back to APIKey
			default:
				return fmt.Sprintf("key-%d", n), nil
			}
		},
	})
	for range 3 {
		if _, err := ai.Complete(t.Context(), p, ai.Request{Prompt: "hi"}); err != nil {
			t.Fatal(err)
		}
	}
	var got []string
	for _, ex := range s.Exchanges() {
		got = append(got, ex.APIKey)
	}
	if want := []string{"key-1", "key-2", "static-key"}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("server saw keys %q, want %q", got, want)
	}
}

func TestKeyFuncFailure(t *testing.T) {
	s := start(t, localai.Options{RequireKey: "right"})
	errNoKey := errors.New("secret table has no openai key")
	p := provider(t, ai.Config{BaseURL: s.URL(), KeyFunc: func(context.Context) (string, error) { return "", errNoKey }})
	_, err := ai.Complete(t.Context(), p, ai.Request{Prompt: "hi"})
	if ai.KindOf(err) != ai.KindAuth || !errors.Is(err, errNoKey) || !strings.Contains(err.Error(), "Config.KeyFunc") {
		t.Errorf("got %v, want KindAuth wrapping the key function's error", err)
	}
	if n := s.Requests(); n != 0 {
		t.Errorf("server received %d requests, want none", n)
	}

	// A wrong key from the function: the hint points at the function.
	p = provider(t, ai.Config{BaseURL: s.URL(), KeyFunc: func(context.Context) (string, error) { return testKey, nil }})
	_, err = ai.Complete(t.Context(), p, ai.Request{Prompt: "hi"})
	if ai.KindOf(err) != ai.KindAuth || !strings.Contains(err.Error(), "returned by the key function") || strings.Contains(err.Error(), testKey) {
		t.Errorf("got %v, want an auth error pointing at the key function", err)
	}
}

func TestKindString(t *testing.T) {
	if got := ai.KindRateLimit.String(); got != "rate limit" {
		t.Errorf("KindRateLimit.String() = %q", got)
	}
	if got := ai.Kind(99).String(); got != "Kind(99)" {
		t.Errorf("Kind(99).String() = %q", got)
	}
	if ai.KindOf(errors.New("x")) != ai.KindUnknown || ai.KindOf(nil) != ai.KindUnknown {
		t.Error("KindOf of a foreign error is not KindUnknown")
	}
}
