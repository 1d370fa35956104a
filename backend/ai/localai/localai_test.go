package localai

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

func TestSplit(t *testing.T) {
	if got := split("Hello  big world", 0); strings.Join(got, "|") != "Hello  |big |world" {
		t.Errorf("word split = %q", got)
	}
	text := "héllo wörld, ünïcode"
	for _, n := range []int{1, 3, 7, 20, 100} {
		got := split(text, n)
		if strings.Join(got, "") != text {
			t.Fatalf("split(%d) loses text: %q", n, got)
		}
		want := min(n, utf8.RuneCountInString(text))
		if len(got) != want {
			t.Errorf("split(%d) gave %d pieces, want %d", n, len(got), want)
		}
		lo, hi := 1<<30, 0
		for _, p := range got {
			if !utf8.ValidString(p) {
				t.Errorf("split(%d): piece %q is not valid UTF-8", n, p)
			}
			lo, hi = min(lo, utf8.RuneCountInString(p)), max(hi, utf8.RuneCountInString(p))
		}
		if hi-lo > 1 {
			t.Errorf("split(%d): piece lengths range %d..%d, want within one", n, lo, hi)
		}
	}
	if split("", 3) != nil {
		t.Error("split of empty text is not empty")
	}
}

func TestOptionsRejected(t *testing.T) {
	for _, o := range []Options{{Chunks: -1}, {Delay: -time.Second}, {FailStatus: 200}, {FailStatus: 600}, {CutAfter: -1}, {RetryAfter: -1}} {
		if _, err := Start(o); err == nil || !strings.HasPrefix(err.Error(), "localai: ") {
			t.Errorf("Start(%+v) = %v, want an error", o, err)
		}
	}
}

func serve(t *testing.T, o Options) *Server {
	t.Helper()
	s, err := Start(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

type response struct {
	status int
	header http.Header
	body   string
}

func do(t *testing.T, method, url, body string, header ...string) response {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return response{resp.StatusCode, resp.Header, string(b)}
}

// errorOf decodes an OpenAI-style error body.
func errorOf(t *testing.T, r response) errorDetail {
	t.Helper()
	var e errorBody
	if err := json.Unmarshal([]byte(r.body), &e); err != nil || e.Error.Message == "" {
		t.Fatalf("body %q is not an OpenAI error (%v)", r.body, err)
	}
	return e.Error
}

func TestRejections(t *testing.T) {
	s := serve(t, Options{})
	chat := s.URL() + "/chat/completions"
	cases := []struct {
		name, method, url, body string
		status                  int
		message                 string
	}{
		{"unknown path", "GET", s.URL() + "/embeddings", "", 404, "serves POST /v1/chat/completions"},
		{"wrong method", "GET", chat, "", 405, "use POST"},
		{"bad JSON", "POST", chat, "{", 400, "could not parse the JSON body"},
		{"no model", "POST", chat, `{"messages":[{"role":"user","content":"hi"}]}`, 400, "must provide a model"},
		{"no messages", "POST", chat, `{"model":"m","messages":[]}`, 400, "at least one message"},
		{"bad content", "POST", chat, `{"model":"m","messages":[{"role":"user","content":7}]}`, 400, "messages[0].content"},
		{"too large", "POST", chat, `{"model":"` + strings.Repeat("m", maxBody) + `"}`, 413, "larger than"},
		{"unknown model", "GET", s.URL() + "/models/gpt-9", "", 404, "does not exist"},
	}
	for _, tc := range cases {
		r := do(t, tc.method, tc.url, tc.body)
		if r.status != tc.status || !strings.Contains(errorOf(t, r).Message, tc.message) {
			t.Errorf("%s: got %d %s, want %d mentioning %q", tc.name, r.status, r.body, tc.status, tc.message)
		}
	}
	exs := s.Exchanges()
	if s.Requests() != 5 || len(exs) != 5 {
		t.Fatalf("recorded %d requests (%d kept), want the 5 POSTs to chat completions", s.Requests(), len(exs))
	}
	for _, ex := range exs {
		if ex.Outcome != OutcomeRejected {
			t.Errorf("request %d: outcome %q, want rejected", ex.Seq, ex.Outcome)
		}
	}
}

func TestModels(t *testing.T) {
	s := serve(t, Options{})
	var list struct {
		Object string  `json:"object"`
		Data   []model `json:"data"`
	}
	r := do(t, "GET", s.URL()+"/models", "")
	if err := json.Unmarshal([]byte(r.body), &list); err != nil || r.status != 200 || list.Object != "list" ||
		len(list.Data) != 1 || list.Data[0].ID != DefaultModel {
		t.Errorf("GET /v1/models = %d %s", r.status, r.body)
	}
	if r := do(t, "GET", s.URL()+"/models/"+DefaultModel, ""); r.status != 200 || !strings.Contains(r.body, `"id":"`+DefaultModel+`"`) {
		t.Errorf("GET /v1/models/%s = %d %s", DefaultModel, r.status, r.body)
	}
}

func TestRequireKey(t *testing.T) {
	s := serve(t, Options{RequireKey: "sk-right"})
	chat := s.URL() + "/chat/completions"
	body := `{"model":"m","messages":[{"role":"user","content":"hi"}]}`
	if r := do(t, "POST", chat, body); r.status != 401 || !strings.Contains(errorOf(t, r).Message, "didn't provide an API key") {
		t.Errorf("no key: %d %s", r.status, r.body)
	}
	if r := do(t, "POST", chat, body, "Authorization", "Bearer sk-wrong"); r.status != 401 || errorOf(t, r).Code != "invalid_api_key" {
		t.Errorf("wrong key: %d %s", r.status, r.body)
	}
	if r := do(t, "POST", chat, body, "Authorization", "Bearer sk-right"); r.status != 200 {
		t.Errorf("right key: %d %s", r.status, r.body)
	}
	var keys []string
	for _, ex := range s.Exchanges() {
		keys = append(keys, ex.APIKey)
	}
	if strings.Join(keys, ",") != ",sk-wrong,sk-right" {
		t.Errorf("recorded keys %q", keys)
	}
}

func TestFailStatus(t *testing.T) {
	s := serve(t, Options{FailStatus: 429, RetryAfter: 1200 * time.Millisecond})
	r := do(t, "POST", s.URL()+"/chat/completions", `{"model":"m","stream":true,"messages":[{"role":"user","content":"hi"}]}`)
	if r.status != 429 || r.header.Get("Retry-After") != "2" || errorOf(t, r).Code != "rate_limit_exceeded" {
		t.Errorf("got %d, Retry-After %q, body %s", r.status, r.header.Get("Retry-After"), r.body)
	}
}

func TestNonStreaming(t *testing.T) {
	s := serve(t, Options{Chunks: 4})
	body := `{"model":"m","max_tokens":100,"messages":[{"role":"system","content":"sys"},
		{"role":"user","content":[{"type":"text","text":"two "},{"type":"image_url","image_url":{"url":"x"}},{"type":"text","text":"parts"}]}]}`
	r := do(t, "POST", s.URL()+"/chat/completions", body)
	var c struct {
		Object  string `json:"object"`
		Model   string `json:"model"`
		Choices []struct {
			Message      struct{ Role, Content string } `json:"message"`
			FinishReason string                         `json:"finish_reason"`
		} `json:"choices"`
		Usage usage `json:"usage"`
	}
	if err := json.Unmarshal([]byte(r.body), &c); err != nil || r.status != 200 {
		t.Fatalf("got %d %s (%v)", r.status, r.body, err)
	}
	if c.Object != "chat.completion" || c.Model != "m" || len(c.Choices) != 1 ||
		c.Choices[0].Message.Content != Reply("two parts") || c.Choices[0].FinishReason != "stop" ||
		c.Usage.CompletionTokens != 4 || c.Usage.TotalTokens != c.Usage.PromptTokens+4 {
		t.Errorf("unexpected completion %s", r.body)
	}
	if ex, _ := s.Last(); ex.Stream || ex.Prompt() != "two parts" || ex.MaxTokens != 100 || ex.Chunks != 4 || ex.Outcome != OutcomeCompleted {
		t.Errorf("recorded %+v", ex)
	}
}

// events posts a streaming request and returns the data payloads.
func events(t *testing.T, url, body string) []string {
	t.Helper()
	r := do(t, "POST", url, body)
	if r.status != 200 || r.header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("got %d %q: %s", r.status, r.header.Get("Content-Type"), r.body)
	}
	var out []string
	sc := bufio.NewScanner(strings.NewReader(r.body))
	for sc.Scan() {
		if data, ok := strings.CutPrefix(sc.Text(), "data: "); ok {
			out = append(out, data)
		} else if sc.Text() != "" {
			t.Errorf("unexpected line %q", sc.Text())
		}
	}
	return out
}

func TestStreamShape(t *testing.T) {
	s := serve(t, Options{Text: "a b c"})
	evs := events(t, s.URL()+"/chat/completions",
		`{"model":"m","stream":true,"max_tokens":2,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"hi"}]}`)
	// role, "a ", "b ", finish (length: max_tokens 2), usage, [DONE]
	if len(evs) != 6 || evs[5] != "[DONE]" {
		t.Fatalf("events %q", evs)
	}
	type chunk struct {
		Object  string `json:"object"`
		Choices []struct {
			Delta        struct{ Role, Content string } `json:"delta"`
			FinishReason *string                        `json:"finish_reason"`
		} `json:"choices"`
		Usage *usage `json:"usage"`
	}
	var cs []chunk
	for _, e := range evs[:5] {
		var c chunk
		if err := json.Unmarshal([]byte(e), &c); err != nil || c.Object != "chat.completion.chunk" {
			t.Fatalf("event %s: %v", e, err)
		}
		cs = append(cs, c)
	}
	if cs[0].Choices[0].Delta.Role != "assistant" || cs[1].Choices[0].Delta.Content != "a " || cs[2].Choices[0].Delta.Content != "b " {
		t.Errorf("unexpected content events %q", evs[:3])
	}
	if f := cs[3].Choices[0].FinishReason; f == nil || *f != "length" || cs[1].Choices[0].FinishReason != nil {
		t.Errorf("finish_reason: %q", evs[1:4])
	}
	if len(cs[4].Choices) != 0 || cs[4].Usage == nil || cs[4].Usage.CompletionTokens != 2 {
		t.Errorf("usage event %s", evs[4])
	}
}

func TestStreamFaults(t *testing.T) {
	body := `{"model":"m","stream":true,"messages":[{"role":"user","content":"hi"}]}`
	for name, tc := range map[string]struct {
		opts    Options
		last    string
		outcome Outcome
	}{
		"error event": {Options{Text: "a b c", ErrorAfter: 1}, `{"error":{"message":"The server had an error`, OutcomeError},
		"malformed":   {Options{Text: "a b c", MalformedAfter: 2}, `{"id":"chatcmpl-local-1","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":`, OutcomeMalformed},
		"graceful":    {Options{Text: "a b c", CutAfter: 2, CutGracefully: true}, `"content":"b "`, OutcomeCut},
		"no [DONE]":   {Options{Text: "a b c", OmitDone: true}, `"finish_reason":"stop"`, OutcomeCompleted},
	} {
		t.Run(name, func(t *testing.T) {
			s := serve(t, tc.opts)
			evs := events(t, s.URL()+"/chat/completions", body)
			if last := evs[len(evs)-1]; !strings.Contains(last, tc.last) {
				t.Errorf("last event %s, want it to contain %s", last, tc.last)
			}
			if ex, _ := s.Last(); ex.Outcome != tc.outcome {
				t.Errorf("outcome %q, want %q", ex.Outcome, tc.outcome)
			}
		})
	}
}

func TestHardCut(t *testing.T) {
	s := serve(t, Options{Text: "a b c", CutAfter: 1})
	req, _ := http.NewRequestWithContext(t.Context(), "POST", s.URL()+"/chat/completions",
		strings.NewReader(`{"model":"m","stream":true,"messages":[{"role":"user","content":"hi"}]}`))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != io.ErrUnexpectedEOF || !strings.Contains(string(b), `"content":"a "`) || strings.Contains(string(b), `"b "`) {
		t.Errorf("read %q, %v; want the first chunk then io.ErrUnexpectedEOF", b, err)
	}
}

func TestRecordingBounded(t *testing.T) {
	s := serve(t, Options{})
	for range keep + 6 {
		do(t, "POST", s.URL()+"/chat/completions", `{}`)
	}
	exs := s.Exchanges()
	if s.Requests() != keep+6 || len(exs) != keep || exs[0].Seq != 7 {
		t.Errorf("requests %d, kept %d starting at %d", s.Requests(), len(exs), exs[0].Seq)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Millisecond)
	defer cancel()
	if _, err := s.WaitEnded(ctx, keep+7); err == nil || !strings.Contains(err.Error(), "70 of 71 responses ended") {
		t.Errorf("WaitEnded past the count = %v, want a timeout naming the counts", err)
	}
}

func TestEmbeddedHandler(t *testing.T) {
	h, err := New(Options{Text: "embedded"})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/ai/", http.StripPrefix("/ai", h))
	srv := &http.Server{Handler: mux}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()
	r := do(t, "POST", "http://"+ln.Addr().String()+"/ai/v1/chat/completions", `{"model":"m","messages":[{"role":"user","content":"hi"}]}`)
	if r.status != 200 || !strings.Contains(r.body, `"content":"embedded"`) || h.Requests() != 1 {
		t.Errorf("embedded handler: %d %s", r.status, r.body)
	}
}
