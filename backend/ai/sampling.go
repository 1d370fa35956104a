package ai

import (
	"context"
	"errors"
	"iter"
)

// Sampler runs one completion on the model of the client that called the
// action (MCP sampling/createMessage) and returns its text. The backend
// puts one in the context of every action call whose client can sample
// ([WithSampler]); its errors are the backend's (input still to ask for,
// a missing capability) and pass through [ClientModel] unchanged.
type Sampler func(ctx context.Context, req Request) (string, error)

type samplerKey struct{}

// WithSampler returns a context in which [ClientModel] samples with s.
func WithSampler(ctx context.Context, s Sampler) context.Context {
	return context.WithValue(ctx, samplerKey{}, s)
}

// ClientModel is a Provider backed by the model of the MCP client that
// called the action, through sampling: an app can run its AI actions with
// no API key of its own where the host supports sampling. The answer comes
// as one chunk (sampling does not stream). Calls whose client cannot
// sample (an enqueued run, a host without sampling) go to Fallback, or
// fail with KindBadRequest when it is nil.
type ClientModel struct {
	Fallback Provider
}

// Stream implements Provider.
func (m ClientModel) Stream(ctx context.Context, req Request) iter.Seq2[string, error] {
	return func(yield func(string, error) bool) {
		if err := req.validate(); err != nil {
			yield("", &Error{Kind: KindBadRequest, Model: req.Model, Message: err.Error()})
			return
		}
		s, _ := ctx.Value(samplerKey{}).(Sampler)
		if s == nil {
			if m.Fallback == nil {
				yield("", &Error{Kind: KindBadRequest, Model: req.Model, Err: errors.New("the calling client cannot sample (MCP sampling) and no fallback provider is configured"),
					hint: "call the action from a host that supports sampling, or set ClientModel.Fallback"})
				return
			}
			for chunk, err := range m.Fallback.Stream(ctx, req) {
				if !yield(chunk, err) {
					return
				}
			}
			return
		}
		text, err := s(ctx, req)
		if err != nil {
			if ctx.Err() != nil {
				err = &Error{Kind: KindCanceled, Model: req.Model, Err: err}
			}
			yield("", err)
			return
		}
		yield(text, nil)
	}
}
