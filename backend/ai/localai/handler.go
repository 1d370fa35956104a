package localai

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// maxBody bounds a request body; chat prompts are far smaller.
const maxBody = 4 << 20

// ServeHTTP implements http.Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	path := strings.TrimSuffix(r.URL.Path, "/")
	switch {
	case path == "/v1/chat/completions":
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", http.MethodPost)
			writeError(w, http.StatusMethodNotAllowed, "invalid_request_error", "method_not_allowed",
				"use POST for /v1/chat/completions")
			return
		}
		h.chat(w, r)
	case path == "/v1/models" || strings.HasPrefix(path, "/v1/models/"):
		if r.Method != http.MethodGet {
			w.Header().Set("Allow", http.MethodGet)
			writeError(w, http.StatusMethodNotAllowed, "invalid_request_error", "method_not_allowed",
				"use GET for /v1/models")
			return
		}
		h.models(w, path)
	default:
		writeError(w, http.StatusNotFound, "invalid_request_error", "unknown_url",
			fmt.Sprintf("Unknown request URL: %s %s. This server serves POST /v1/chat/completions and GET /v1/models.", r.Method, r.URL.Path))
	}
}

type model struct {
	ID      string `json:"id"`
	Object  string `json:"object"`
	Created int64  `json:"created"`
	OwnedBy string `json:"owned_by"`
}

func (h *Handler) models(w http.ResponseWriter, path string) {
	m := model{ID: h.opts.Model, Object: "model", Created: 0, OwnedBy: "mcp-sync"}
	if id, ok := strings.CutPrefix(path, "/v1/models/"); ok {
		if id != h.opts.Model {
			writeError(w, http.StatusNotFound, "invalid_request_error", "model_not_found",
				fmt.Sprintf("The model '%s' does not exist; this server lists '%s' (and answers chat requests for any model).", id, h.opts.Model))
			return
		}
		writeJSON(w, http.StatusOK, m)
		return
	}
	writeJSON(w, http.StatusOK, struct {
		Object string  `json:"object"`
		Data   []model `json:"data"`
	}{"list", []model{m}})
}

// chatRequest is the part of an OpenAI chat request the server reads.
type chatRequest struct {
	Model    string `json:"model"`
	Messages []struct {
		Role    string          `json:"role"`
		Content json.RawMessage `json:"content"`
	} `json:"messages"`
	Stream              bool `json:"stream"`
	MaxTokens           int  `json:"max_tokens"`
	MaxCompletionTokens int  `json:"max_completion_tokens"`
	StreamOptions       *struct {
		IncludeUsage bool `json:"include_usage"`
	} `json:"stream_options"`
}

// content reads a message's content: a string, null, or an array of parts of
// which the text parts are joined.
func content(raw json.RawMessage) (string, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
		return "", nil
	}
	if raw[0] == '"' {
		var s string
		err := json.Unmarshal(raw, &s)
		return s, err
	}
	var parts []struct {
		Type string `json:"type"`
		Text string `json:"text"`
	}
	if err := json.Unmarshal(raw, &parts); err != nil {
		return "", errors.New("content must be a string or an array of content parts")
	}
	var b strings.Builder
	for _, p := range parts {
		if p.Type == "text" {
			b.WriteString(p.Text)
		}
	}
	return b.String(), nil
}

func (h *Handler) chat(w http.ResponseWriter, r *http.Request) {
	ex := &Exchange{APIKey: bearer(r.Header.Get("Authorization"))}
	var req chatRequest
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBody))
	if err := dec.Decode(&req); err != nil {
		h.record(ex)
		h.end(ex, OutcomeRejected)
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			writeError(w, http.StatusRequestEntityTooLarge, "invalid_request_error", "request_too_large",
				fmt.Sprintf("The request body is larger than %d bytes.", maxBody))
			return
		}
		writeError(w, http.StatusBadRequest, "invalid_request_error", "invalid_json",
			"We could not parse the JSON body of your request: "+err.Error())
		return
	}
	ex.Model, ex.Stream = req.Model, req.Stream
	ex.MaxTokens, ex.MaxCompletionTokens = req.MaxTokens, req.MaxCompletionTokens
	var badContent error
	for i, m := range req.Messages {
		c, err := content(m.Content)
		if err != nil && badContent == nil {
			badContent = fmt.Errorf("messages[%d].content: %v", i, err)
		}
		ex.Messages = append(ex.Messages, Message{Role: m.Role, Content: c})
	}
	// Record only once filled in: other goroutines read exchanges under h.mu,
	// and from here on only Chunks and Outcome change, under h.mu.
	h.record(ex)

	switch {
	case h.opts.RequireKey != "" && ex.APIKey != h.opts.RequireKey:
		h.end(ex, OutcomeRejected)
		msg := "Incorrect API key provided."
		if ex.APIKey == "" {
			msg = "You didn't provide an API key. Send it as an Authorization: Bearer header."
		}
		writeError(w, http.StatusUnauthorized, "invalid_request_error", "invalid_api_key", msg)
		return
	case badContent != nil:
		h.end(ex, OutcomeRejected)
		writeError(w, http.StatusBadRequest, "invalid_request_error", "invalid_value", badContent.Error()+".")
		return
	case h.opts.FailStatus != 0:
		h.end(ex, OutcomeRejected)
		if h.opts.RetryAfter > 0 {
			secs := (h.opts.RetryAfter + time.Second - 1) / time.Second
			w.Header().Set("Retry-After", strconv.FormatInt(int64(secs), 10))
		}
		typ, code, msg := failure(h.opts.FailStatus)
		if h.opts.FailMessage != "" {
			msg = h.opts.FailMessage
		}
		writeError(w, h.opts.FailStatus, typ, code, msg)
		return
	case req.Model == "":
		h.end(ex, OutcomeRejected)
		writeError(w, http.StatusBadRequest, "invalid_request_error", "missing_required_parameter",
			"You must provide a model parameter.")
		return
	case len(req.Messages) == 0:
		h.end(ex, OutcomeRejected)
		writeError(w, http.StatusBadRequest, "invalid_request_error", "invalid_value",
			"'messages' must contain at least one message.")
		return
	}

	text := h.opts.Text
	if text == "" {
		text = Reply(ex.Prompt())
	}
	pieces := split(text, h.opts.Chunks)
	finish := "stop"
	limit := ex.MaxCompletionTokens
	if limit <= 0 || (ex.MaxTokens > 0 && ex.MaxTokens < limit) {
		limit = ex.MaxTokens
	}
	if limit > 0 && len(pieces) > limit {
		// One piece stands for one token, so the limit truncates like a model would.
		pieces, finish = pieces[:limit], "length"
	}
	usage := &usage{PromptTokens: promptTokens(ex.Messages), CompletionTokens: len(pieces)}
	usage.TotalTokens = usage.PromptTokens + usage.CompletionTokens
	c := completion{
		ID:      "chatcmpl-local-" + strconv.Itoa(ex.Seq),
		Created: time.Now().Unix(),
		Model:   req.Model,
	}
	if req.Stream {
		includeUsage := req.StreamOptions != nil && req.StreamOptions.IncludeUsage
		h.end(ex, h.stream(w, r, ex, c, pieces, finish, usage, includeUsage))
		return
	}
	for range pieces {
		if !h.pause(r) {
			h.end(ex, OutcomeGone)
			return
		}
		h.sent(ex)
	}
	text = strings.Join(pieces, "")
	c.Object = "chat.completion"
	c.Choices = []choice{{Message: &delta{Role: "assistant", Content: &text}, FinishReason: &finish}}
	c.Usage = usage
	writeJSON(w, http.StatusOK, c)
	h.end(ex, OutcomeCompleted)
}

type completion struct {
	ID      string   `json:"id"`
	Object  string   `json:"object"`
	Created int64    `json:"created"`
	Model   string   `json:"model"`
	Choices []choice `json:"choices"`
	Usage   *usage   `json:"usage,omitempty"`
}

type choice struct {
	Index        int     `json:"index"`
	Delta        *delta  `json:"delta,omitempty"`
	Message      *delta  `json:"message,omitempty"`
	FinishReason *string `json:"finish_reason"`
}

type delta struct {
	Role    string  `json:"role,omitempty"`
	Content *string `json:"content,omitempty"`
}

type usage struct {
	PromptTokens     int `json:"prompt_tokens"`
	CompletionTokens int `json:"completion_tokens"`
	TotalTokens      int `json:"total_tokens"`
}

// promptTokens estimates prompt tokens as words, matching how answers are
// counted; real tokenizers differ, and nothing depends on the exact figure.
func promptTokens(msgs []Message) int {
	n := 0
	for _, m := range msgs {
		n += len(strings.Fields(m.Content))
	}
	return n
}

// stream writes the answer as server-sent events and returns how it ended.
func (h *Handler) stream(w http.ResponseWriter, r *http.Request, ex *Exchange, c completion,
	pieces []string, finish string, u *usage, includeUsage bool) Outcome {
	rc := http.NewResponseController(w)
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.Header().Set("X-Accel-Buffering", "no") // ask reverse proxies not to buffer the stream
	w.WriteHeader(http.StatusOK)

	c.Object = "chat.completion.chunk"
	var buf bytes.Buffer
	send := func(v any) bool {
		buf.Reset()
		buf.WriteString("data: ")
		if err := json.NewEncoder(&buf).Encode(v); err != nil { // Encode ends the line
			return false
		}
		buf.WriteByte('\n')
		return h.write(w, rc, r, buf.Bytes())
	}
	empty := ""
	first := c
	first.Choices = []choice{{Delta: &delta{Role: "assistant", Content: &empty}}}
	if !send(first) {
		return OutcomeGone
	}
	for i, p := range pieces {
		if !h.pause(r) {
			return OutcomeGone
		}
		chunk := c
		chunk.Choices = []choice{{Delta: &delta{Content: &p}}}
		if !send(chunk) {
			return OutcomeGone
		}
		h.sent(ex)
		n := i + 1
		switch {
		case n == h.opts.CutAfter:
			return h.cut(w, rc)
		case n == h.opts.MalformedAfter:
			// Truncated JSON, as from a buggy proxy or a server that lost state.
			h.write(w, rc, r, []byte(`data: {"id":"`+c.ID+`","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":`+"\n\n"))
			return OutcomeMalformed
		case n == h.opts.ErrorAfter:
			msg := h.opts.FailMessage
			if msg == "" {
				msg = "The server had an error while processing your request. Sorry about that!"
			}
			send(errorBody{errorDetail{Message: msg, Type: "server_error", Code: "server_error"}})
			return OutcomeError
		}
	}
	if !h.opts.OmitFinishReason {
		last := c
		last.Choices = []choice{{Delta: &delta{}, FinishReason: &finish}}
		if !send(last) {
			return OutcomeGone
		}
	}
	if includeUsage {
		last := c
		last.Choices = []choice{}
		last.Usage = u
		if !send(last) {
			return OutcomeGone
		}
	}
	if !h.opts.OmitDone && !h.write(w, rc, r, []byte("data: [DONE]\n\n")) {
		return OutcomeGone
	}
	return OutcomeCompleted
}

// write sends b and flushes it, reporting false once the client is gone.
func (h *Handler) write(w http.ResponseWriter, rc *http.ResponseController, r *http.Request, b []byte) bool {
	if r.Context().Err() != nil {
		return false
	}
	if _, err := w.Write(b); err != nil {
		return false
	}
	return rc.Flush() == nil
}

// pause waits Options.Delay, reporting false if the client went away first.
func (h *Handler) pause(r *http.Request) bool {
	if h.opts.Delay <= 0 {
		return r.Context().Err() == nil
	}
	t := time.NewTimer(h.opts.Delay)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-r.Context().Done():
		return false
	}
}

// cut ends the stream without [DONE]: by closing the TCP connection, or,
// with CutGracefully, by ending the HTTP response normally.
func (h *Handler) cut(w http.ResponseWriter, rc *http.ResponseController) Outcome {
	if h.opts.CutGracefully {
		return OutcomeCut
	}
	conn, _, err := rc.Hijack()
	if err != nil {
		// HTTP/2 and some wrappers cannot hijack; ErrAbortHandler is net/http's
		// documented way to abort a response without a clean end.
		panic(http.ErrAbortHandler)
	}
	_ = conn.Close()
	return OutcomeCut
}

func bearer(auth string) string {
	scheme, token, ok := strings.Cut(auth, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return ""
	}
	return strings.TrimSpace(token)
}

type errorBody struct {
	Error errorDetail `json:"error"`
}

type errorDetail struct {
	Message string  `json:"message"`
	Type    string  `json:"type"`
	Param   *string `json:"param"`
	Code    string  `json:"code"`
}

// failure returns the error type, code and message OpenAI sends with status.
func failure(status int) (typ, code, msg string) {
	switch {
	case status == http.StatusUnauthorized:
		return "invalid_request_error", "invalid_api_key", "Incorrect API key provided."
	case status == http.StatusForbidden:
		return "invalid_request_error", "unsupported_country_region_territory", "You are not allowed to use this model."
	case status == http.StatusNotFound:
		return "invalid_request_error", "model_not_found", "The model does not exist or you do not have access to it."
	case status == http.StatusTooManyRequests:
		return "requests", "rate_limit_exceeded", "Rate limit reached for requests. Please try again later."
	case status >= 500:
		return "server_error", "server_error", "The server had an error while processing your request. Sorry about that!"
	default:
		return "invalid_request_error", "invalid_request", http.StatusText(status) + "."
	}
}

func writeError(w http.ResponseWriter, status int, typ, code, msg string) {
	writeJSON(w, status, errorBody{errorDetail{Message: msg, Type: typ, Code: code}})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, "localai: encoding the response: "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}
