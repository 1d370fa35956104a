package ai_test

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/mcp-sync/mcp-sync/backend/ai"
	"github.com/mcp-sync/mcp-sync/backend/ai/localai"
)

// BenchmarkStream measures text chunks per second through go-openai (this
// package's OpenAI provider) from localai without delay, beside a bare
// baseline in the same run: net/http reading the same SSE stream line by line
// without decoding. Both share http.DefaultTransport and alternate per
// iteration, so machine noise hits both; "x-baseline" is their ratio.
func BenchmarkStream(b *testing.B) {
	const chunks = 1000
	s, err := localai.Start(localai.Options{Chunks: chunks, Text: words(chunks)})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	p, err := ai.NewOpenAI(ai.Config{BaseURL: s.URL(), APIKey: testKey})
	if err != nil {
		b.Fatal(err)
	}
	ctx := b.Context()
	body := `{"model":"` + ai.DefaultModel + `","stream":true,"messages":[{"role":"user","content":"hi"}]}`

	var viaOpenAI, viaRaw time.Duration
	iters := 0
	for b.Loop() {
		t0 := time.Now()
		n := 0
		for _, err := range p.Stream(ctx, ai.Request{Prompt: "hi"}) {
			if err != nil {
				b.Fatal(err)
			}
			n++
		}
		t1 := time.Now()
		m, err := rawStream(ctx, s.URL(), body)
		if err != nil {
			b.Fatal(err)
		}
		viaOpenAI += t1.Sub(t0)
		viaRaw += time.Since(t1)
		if n != chunks || m != chunks {
			b.Fatalf("got %d chunks through go-openai and %d raw, want %d", n, m, chunks)
		}
		iters++
	}
	total := float64(iters * chunks)
	b.ReportMetric(total/viaOpenAI.Seconds(), "chunks/s")
	b.ReportMetric(total/viaRaw.Seconds(), "baseline-chunks/s")
	b.ReportMetric(viaRaw.Seconds()/viaOpenAI.Seconds(), "x-baseline")
}

// rawStream posts body and counts the content chunks of the SSE answer,
// reading lines without decoding them.
func rawStream(ctx context.Context, baseURL, body string) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, baseURL+"/chat/completions", strings.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+testKey)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	r := bufio.NewReader(resp.Body)
	n := 0
	for {
		line, err := r.ReadSlice('\n')
		// Content chunks are the data lines with a "content" that is not the
		// role chunk's empty one.
		if bytes.HasPrefix(line, []byte("data: {")) && bytes.Contains(line, []byte(`"content":"`)) && !bytes.Contains(line, []byte(`"content":""`)) {
			n++
		}
		if err == io.EOF {
			return n, nil
		}
		if err != nil {
			return n, err
		}
	}
}
