package ai

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"testing/iotest"
	"time"
)

func TestRetryAfter(t *testing.T) {
	now := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
	cases := []struct {
		header map[string]string
		want   time.Duration
	}{
		{map[string]string{"Retry-After": "2"}, 2 * time.Second},
		{map[string]string{"Retry-After": "1.5"}, 1500 * time.Millisecond},
		{map[string]string{"Retry-After-Ms": "250", "Retry-After": "9"}, 250 * time.Millisecond},
		{map[string]string{"Retry-After": now.Add(30 * time.Second).Format(http.TimeFormat)}, 30 * time.Second},
		{map[string]string{"Retry-After": now.Add(-time.Minute).Format(http.TimeFormat)}, 0},
		{map[string]string{"Retry-After": "soon"}, 0},
		{map[string]string{"Retry-After": "-3"}, 0},
		{nil, 0},
	}
	for _, tc := range cases {
		h := http.Header{}
		for k, v := range tc.header {
			h.Set(k, v)
		}
		if got := retryAfter(h.Get, now); got != tc.want {
			t.Errorf("retryAfter(%v) = %v, want %v", tc.header, got, tc.want)
		}
	}
}

func TestWatchedBodySeesDone(t *testing.T) {
	long := "data: " + strings.Repeat("x", 100) + "\n\n"
	cases := map[string]bool{
		"data: {}\n\ndata: [DONE]\n\n":       true,
		"data:[DONE]\n":                      true,
		"  data:   [DONE]  \r\n":             true,
		long + "data: [DONE]":                true, // last line without newline
		long:                                 false,
		"data: {\"content\":\"[DONE]\"}\n\n": false,
		"data: [DONE] later\n":               false,
		": data: [DONE]\n":                   false,
		"event: done\ndata: {}\n\n":          false,
	}
	for body, want := range cases {
		// One byte per Read, so lines straddle reads.
		b := &watchedBody{ReadCloser: io.NopCloser(iotest.OneByteReader(strings.NewReader(body)))}
		if _, err := io.ReadAll(b); err != nil {
			t.Fatal(err)
		}
		if b.done != want {
			t.Errorf("body %q: done = %v, want %v", body, b.done, want)
		}
	}
}

func TestErrorWithoutContext(t *testing.T) {
	// A hand-made *Error still reads well.
	e := &Error{Kind: KindServer, Status: 500}
	if got := e.Error(); got != "ai: the AI endpoint failed (HTTP 500)" {
		t.Errorf("Error() = %q", got)
	}
}

func TestSummarize(t *testing.T) {
	got := summarize([]byte(strings.Repeat("é", 150)))
	if !strings.HasSuffix(got, "…") || len(got) > 204 || !strings.HasPrefix(got, "é") {
		t.Errorf("summarize cut badly: %q", got)
	}
}
