// Package ai is the backend's AI provider layer: a small streaming interface
// (Provider) that actions call, and OpenAI, its implementation for any
// OpenAI-compatible chat completions endpoint.
//
// Failures are *Error values with a Kind a caller can switch on (auth, rate
// limit, server, bad request, unreachable, stream cut, malformed stream,
// canceled), and messages that name the endpoint and say what to do. API keys
// never appear in errors.
//
// Tests and the product's demo run OpenAI against the real HTTP server in
// package localai.
package ai

import (
	"context"
	"errors"
	"iter"
	"strings"
)

// Provider streams a model's answer.
type Provider interface {
	// Stream sends req when the returned sequence is ranged over and yields
	// the answer's text chunks in order, each with a nil error. A failure is
	// yielded once, as ("", err) with err an *Error, and ends the sequence;
	// chunks yielded before it are the text received so far. Stopping the
	// range early, or cancelling ctx, closes the connection. Each range is a
	// new request.
	Stream(ctx context.Context, req Request) iter.Seq2[string, error]
}

// Request is one prompt to a model.
type Request struct {
	Prompt    string // the user's message; must not be empty
	System    string // optional system message, sent before Prompt
	Model     string // "" means the provider's default model
	MaxTokens int    // upper bound on the answer's tokens; 0 means the provider's default
}

// validate rejects a request before it costs a round trip.
func (r Request) validate() error {
	switch {
	case strings.TrimSpace(r.Prompt) == "":
		return errors.New("the prompt is empty: pass the text the model should answer in Request.Prompt")
	case r.MaxTokens < 0:
		return errors.New("the maximum token count (Request.MaxTokens) is negative: use 0 for the provider's default or a positive limit")
	}
	return nil
}

// Complete runs req on p and returns the joined answer. On failure it returns
// the text received before the failure along with the error.
func Complete(ctx context.Context, p Provider, req Request) (string, error) {
	var b strings.Builder
	for chunk, err := range p.Stream(ctx, req) {
		if err != nil {
			return b.String(), err
		}
		b.WriteString(chunk)
	}
	return b.String(), nil
}
