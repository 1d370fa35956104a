package ai

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"iter"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"

	openai "github.com/sashabaranov/go-openai"
)

// Defaults used when Config leaves a field empty.
const (
	DefaultBaseURL = "https://api.openai.com/v1"
	DefaultModel   = "gpt-4o-mini"
)

// Environment variables read by ConfigFromEnv.
const (
	EnvAPIKey  = "OPENAI_API_KEY"
	EnvBaseURL = "OPENAI_BASE_URL"
	EnvModel   = "OPENAI_MODEL"
)

// Config configures an OpenAI provider. Printing a Config never shows the key.
type Config struct {
	// APIKey is sent as "Authorization: Bearer <APIKey>". It may be empty for
	// local servers that need no key.
	APIKey string

	// KeyFunc, when set, is called before every request, so a key can be
	// fetched (for example through a platform call) or rotated at request
	// time. Its result, when not empty, is used instead of APIKey; an empty
	// result falls back to APIKey. An error fails the request with KindAuth
	// (KindCanceled if ctx ended), before anything is sent.
	KeyFunc func(ctx context.Context) (string, error)

	// BaseURL is the API root, including /v1. Empty means DefaultBaseURL.
	BaseURL string

	// Model is used when a Request names none. Empty means DefaultModel.
	Model string

	// HTTPClient sends the requests. Nil means a client on
	// http.DefaultTransport without a timeout: a stream lasts as long as its
	// context allows, so bound it with a context deadline rather than
	// http.Client.Timeout, which would cut long answers. The client is not
	// modified: its Transport is wrapped in a copy.
	HTTPClient *http.Client
}

// ConfigFromEnv reads OPENAI_API_KEY, OPENAI_BASE_URL and OPENAI_MODEL through
// getenv, usually os.Getenv (nil reads nothing). Unset variables leave the
// defaults: DefaultBaseURL and DefaultModel (gpt-4o-mini).
func ConfigFromEnv(getenv func(string) string) Config {
	if getenv == nil {
		return Config{}
	}
	return Config{
		APIKey:  strings.TrimSpace(getenv(EnvAPIKey)),
		BaseURL: strings.TrimSpace(getenv(EnvBaseURL)),
		Model:   strings.TrimSpace(getenv(EnvModel)),
	}
}

// String shows the configuration with the API key hidden.
func (c Config) String() string {
	key := "none"
	if c.APIKey != "" {
		key = "[redacted]"
	}
	if c.KeyFunc != nil {
		key += " (+KeyFunc)"
	}
	return fmt.Sprintf("ai.Config{BaseURL: %q, Model: %q, APIKey: %s}", redactURL(c.BaseURL), c.Model, key)
}

// GoString is String, so %#v does not show the key either.
func (c Config) GoString() string { return c.String() }

// OpenAI is a Provider for any OpenAI-compatible chat completions endpoint
// (OpenAI, Azure-style proxies, vLLM, Ollama, llama.cpp, localai …), built on
// github.com/sashabaranov/go-openai. It is safe for concurrent use.
type OpenAI struct {
	baseURL  string // normalized, given to go-openai
	endpoint string // baseURL without credentials, for messages
	model    string
	apiKey   string
	keyFunc  func(context.Context) (string, error)
	client   *http.Client
}

var _ Provider = (*OpenAI)(nil)

// NewOpenAI returns a provider for cfg, or an error naming the setting to fix.
func NewOpenAI(cfg Config) (*OpenAI, error) {
	base := strings.TrimRight(cmp.Or(strings.TrimSpace(cfg.BaseURL), DefaultBaseURL), "/")
	u, err := url.Parse(base)
	if err != nil {
		// url.Parse's error repeats the URL, which may hold credentials.
		return nil, fmt.Errorf("ai: the base URL (%s) cannot be parsed: %v; use a URL like %s", EnvBaseURL, errors.Unwrap(err), DefaultBaseURL)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("ai: the base URL %q (%s) is not an http(s) URL with a host; use a URL like %s", u.Redacted(), EnvBaseURL, DefaultBaseURL)
	}
	hc := &http.Client{}
	if cfg.HTTPClient != nil {
		c := *cfg.HTTPClient
		hc = &c
	}
	hc.Transport = observer{base: cmp.Or[http.RoundTripper](hc.Transport, http.DefaultTransport)}
	return &OpenAI{
		baseURL:  base,
		endpoint: u.Redacted(),
		model:    cmp.Or(strings.TrimSpace(cfg.Model), DefaultModel),
		apiKey:   cfg.APIKey,
		keyFunc:  cfg.KeyFunc,
		client:   hc,
	}, nil
}

// Model returns the model used when a Request names none.
func (p *OpenAI) Model() string { return p.model }

// Endpoint returns the base URL requests go to, without credentials.
func (p *OpenAI) Endpoint() string { return p.endpoint }

// String describes the provider without its key.
func (p *OpenAI) String() string {
	return fmt.Sprintf("ai.OpenAI{Endpoint: %q, Model: %q}", p.endpoint, p.model)
}

// Stream implements Provider with go-openai's CreateChatCompletionStream.
//
// The stream counts as finished when "data: [DONE]" or a finish_reason has
// arrived; a body that ends without either is reported as KindStreamCut,
// although go-openai reports it as a normal end.
func (p *OpenAI) Stream(ctx context.Context, req Request) iter.Seq2[string, error] {
	return func(yield func(string, error) bool) {
		c := &call{endpoint: p.endpoint, model: cmp.Or(req.Model, p.model)}
		if err := req.validate(); err != nil {
			yield("", c.fail(KindBadRequest, 0, "", err, ""))
			return
		}
		if err := c.key(ctx, p); err != nil {
			yield("", err)
			return
		}

		cc := openai.DefaultConfig(c.apiKey)
		cc.BaseURL, cc.HTTPClient = p.baseURL, p.client
		x := &exchange{}
		stream, err := openai.NewClientWithConfig(cc).CreateChatCompletionStream(withExchange(ctx, x), chatRequest(req, c.model))
		if err != nil {
			yield("", c.classify(ctx, x, err))
			return
		}
		defer stream.Close() // on every return, including the consumer breaking out

		finished := false
		done := ctx.Done()
		for {
			select {
			case <-done:
				// Data already buffered would otherwise keep flowing after a cancel.
				yield("", c.classify(ctx, x, ctx.Err()))
				return
			default:
			}
			resp, err := stream.Recv()
			if err != nil {
				if errors.Is(err, io.EOF) && (finished || (x.body != nil && x.body.done)) {
					return
				}
				yield("", c.classify(ctx, x, err))
				return
			}
			for _, ch := range resp.Choices {
				if ch.Index != 0 {
					continue // only one choice is requested
				}
				if ch.FinishReason != "" {
					finished = true
				}
				if ch.Delta.Content != "" {
					c.chunks++
					if !yield(ch.Delta.Content, nil) {
						return
					}
				}
			}
		}
	}
}

func chatRequest(req Request, model string) openai.ChatCompletionRequest {
	msgs := make([]openai.ChatCompletionMessage, 0, 2)
	if req.System != "" {
		msgs = append(msgs, openai.ChatCompletionMessage{Role: openai.ChatMessageRoleSystem, Content: req.System})
	}
	msgs = append(msgs, openai.ChatCompletionMessage{Role: openai.ChatMessageRoleUser, Content: req.Prompt})
	r := openai.ChatCompletionRequest{Model: model, Messages: msgs}
	setMaxTokens(&r, req.MaxTokens)
	return r
}

// setMaxTokens limits the answer to n tokens (n > 0). Reasoning models (o1…,
// gpt-5…) refuse max_tokens and go-openai rejects it for them before sending,
// while many OpenAI-compatible servers know only max_tokens: go-openai's own
// validator says which field a model takes.
func setMaxTokens(r *openai.ChatCompletionRequest, n int) {
	if n <= 0 {
		return
	}
	withMax := *r
	//lint:ignore SA1019 deprecated by OpenAI for reasoning models only, and the field other servers understand.
	withMax.MaxTokens = n
	if errors.Is(openai.NewReasoningValidator().Validate(withMax), openai.ErrReasoningModelMaxTokensDeprecated) {
		r.MaxCompletionTokens = n
		return
	}
	*r = withMax
}

// call holds what one Stream knows for its error messages.
type call struct {
	endpoint    string
	model       string
	apiKey      string // only to send and to redact; never formatted
	keyFromFunc bool
	chunks      int
}

// key picks the API key: KeyFunc's non-empty result, else Config.APIKey.
func (c *call) key(ctx context.Context, p *OpenAI) *Error {
	c.apiKey = p.apiKey
	if p.keyFunc == nil {
		return nil
	}
	k, err := p.keyFunc(ctx)
	if err != nil {
		if ctx.Err() != nil {
			return c.fail(KindCanceled, 0, "", ctx.Err(), "")
		}
		return c.fail(KindAuth, 0, "", fmt.Errorf("the key function (Config.KeyFunc) failed: %w", err),
			"make the API key available to the key function, or set "+EnvAPIKey)
	}
	if k != "" {
		c.apiKey, c.keyFromFunc = k, true
	}
	return nil
}

func (c *call) fail(kind Kind, status int, msg string, cause error, hint string) *Error {
	return &Error{
		Kind: kind, Endpoint: c.endpoint, Model: c.model, Status: status, Chunks: c.chunks,
		Message: redact(msg, c.apiKey), Err: redactErr(cause, c.apiKey), hint: redact(hint, c.apiKey),
	}
}

// classify turns what go-openai returned into an *Error.
func (c *call) classify(ctx context.Context, x *exchange, err error) *Error {
	if ctx.Err() != nil {
		cause := ctx.Err()
		if cc := context.Cause(ctx); cc != nil && cc != cause {
			cause = fmt.Errorf("%w (%v)", cause, cc)
		}
		return c.fail(KindCanceled, 0, "", cause, "")
	}

	var apiErr *openai.APIError
	var reqErr *openai.RequestError
	switch {
	case errors.As(err, &reqErr):
		// A failure status whose body is not an OpenAI error: an HTML page from
		// a proxy, plain text, or nothing. Checked first: it may wrap an
		// *APIError that lacks the status.
		msg := summarize(reqErr.Body)
		if errors.As(reqErr.Err, &apiErr) && apiErr.Message != "" {
			msg = apiErr.Message
		}
		return c.status(x, reqErr.HTTPStatusCode, msg, "")
	case errors.As(err, &apiErr) && apiErr.HTTPStatusCode == 0:
		// An error event inside a 200 stream: data: {"error": {...}}.
		return c.midStream(apiErr)
	case errors.As(err, &apiErr):
		return c.status(x, apiErr.HTTPStatusCode, apiErr.Message, fmt.Sprint(apiErr.Code))
	}

	if x.status == 0 {
		var uerr *url.Error
		if errors.As(err, &uerr) {
			return c.fail(KindUnavailable, 0, "", err,
				"check "+EnvBaseURL+" and that the server is running, then retry")
		}
		// go-openai validates some requests before sending them.
		return c.fail(KindBadRequest, 0, "", err, "the OpenAI client library refused the request: check the model and request options")
	}

	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	notSSE := !isEventStream(x.header)
	switch {
	case errors.As(err, &syn), errors.As(err, &typ):
		return c.fail(KindMalformed, 0, "", fmt.Errorf("a chunk is not valid chat.completion.chunk JSON: %w", err),
			"the answer is incomplete; check that "+EnvBaseURL+" points at an OpenAI-compatible API")
	case errors.Is(err, openai.ErrTooManyEmptyStreamMessages):
		return c.fail(KindMalformed, 0, "", errors.New("too many lines without data in a row (over 300)"),
			"check that "+EnvBaseURL+" points at an OpenAI-compatible API")
	case notSSE:
		return c.fail(KindMalformed, 0, "", fmt.Errorf("answered with Content-Type %q, not text/event-stream (%w)", x.header.Get("Content-Type"), err),
			"the endpoint does not stream chat completions; check "+EnvBaseURL)
	case errors.Is(err, io.EOF):
		return c.fail(KindStreamCut, 0, "", errors.New("the response ended without a finish_reason or [DONE]"),
			"the answer is incomplete; retry the request")
	default:
		return c.fail(KindStreamCut, 0, "", fmt.Errorf("the connection failed: %w", err),
			"the answer is incomplete; retry the request")
	}
}

// status classifies a failure status received before any stream.
func (c *call) status(x *exchange, status int, msg, code string) *Error {
	var wait time.Duration
	if x.header != nil {
		wait = retryAfter(x.header.Get, time.Now())
	}
	var e *Error
	switch {
	case status == http.StatusUnauthorized:
		e = c.fail(KindAuth, status, msg, nil, c.authHint())
	case status == http.StatusForbidden:
		e = c.fail(KindAuth, status, msg, nil, fmt.Sprintf(
			"the API key is not allowed to use model %q at this endpoint: check the key's project and permissions, or choose another model (%s)", c.model, EnvModel))
	case status == http.StatusTooManyRequests:
		hint := "retry later"
		switch {
		case code == "insufficient_quota" || strings.Contains(strings.ToLower(msg), "quota"):
			hint = "the account's quota is used up: check its plan and billing; retrying will not help"
		case wait > 0:
			hint = "retry after " + formatWait(wait)
		}
		e = c.fail(KindRateLimit, status, msg, nil, "rate limited: "+hint)
	case status >= 500:
		hint := "the provider had a problem: retry later"
		if wait > 0 {
			hint = "the provider had a problem: retry after " + formatWait(wait)
		}
		e = c.fail(KindServer, status, msg, nil, hint)
	case status == http.StatusNotFound:
		e = c.fail(KindBadRequest, status, msg, nil, fmt.Sprintf(
			"check %s (it usually ends in /v1) and that model %q exists there (%s)", EnvBaseURL, c.model, EnvModel))
	default:
		e = c.fail(KindBadRequest, status, msg, nil, fmt.Sprintf(
			"the request was not accepted: check the model (%s) and the request's prompt and limits", EnvModel))
	}
	e.RetryAfter = wait
	return e
}

func (c *call) authHint() string {
	switch {
	case c.keyFromFunc:
		return "check the API key returned by the key function (Config.KeyFunc)"
	case c.apiKey == "":
		return "no API key was sent: set " + EnvAPIKey
	default:
		return "check " + EnvAPIKey
	}
}

// midStream classifies an error event received after a 200 response.
func (c *call) midStream(apiErr *openai.APIError) *Error {
	code := strings.ToLower(fmt.Sprint(apiErr.Code) + " " + apiErr.Type)
	switch {
	case strings.Contains(code, "rate_limit") || strings.Contains(code, "quota"):
		return c.fail(KindRateLimit, 0, apiErr.Message, nil, "rate limited mid-stream: the answer is incomplete; retry later")
	case strings.Contains(code, "api_key") || strings.Contains(code, "authentication"):
		return c.fail(KindAuth, 0, apiErr.Message, nil, c.authHint())
	case strings.Contains(code, "invalid_request"):
		return c.fail(KindBadRequest, 0, apiErr.Message, nil, "the answer is incomplete; check the request")
	default:
		return c.fail(KindServer, 0, apiErr.Message, nil, "the answer is incomplete; retry the request")
	}
}

func isEventStream(h http.Header) bool {
	mt, _, err := mime.ParseMediaType(h.Get("Content-Type"))
	return err == nil && mt == "text/event-stream"
}

// summarize shortens a non-JSON error body (often an HTML page) to one line.
func summarize(body []byte) string {
	s := strings.Join(strings.Fields(string(body)), " ")
	const limit = 200
	if len(s) > limit {
		cut := limit
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut] + "…"
	}
	return s
}

// redactURL hides credentials in a URL for display.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable URL)"
	}
	return u.Redacted()
}
