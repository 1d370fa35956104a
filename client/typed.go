package client

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/mcp-sync/mcp-sync/schema"
	"github.com/mcp-sync/mcp-sync/wire"
)

// MutateResult is what a committed mutator call returns: the version it
// committed and the action runs it enqueued.
type MutateResult = wire.MutateOut

// Mutate calls the mutator d declares with in and returns the version it
// committed and the action runs it enqueued.
func Mutate[In any](ctx context.Context, c *Conn, d schema.MutatorDef[In], in In) (MutateResult, error) {
	var out MutateResult
	raw, err := c.Call(ctx, d.Name(), in)
	if err != nil {
		return out, err
	}
	if err := json.Unmarshal(raw, &out); err != nil {
		return out, fmt.Errorf("%s: decoding the result %s: %w", d.Name(), raw, err)
	}
	return out, nil
}

// CallOption adjusts a typed call.
type CallOption func(*callOpts)

type callOpts struct{ progress ProgressFunc }

// WithProgress asks for the action's progress reports.
func WithProgress(f ProgressFunc) CallOption { return func(o *callOpts) { o.progress = f } }

// Action calls the action d declares with in and returns its output.
func Action[In, Out any](ctx context.Context, c *Conn, d schema.ActionDef[In, Out], in In, opts ...CallOption) (Out, error) {
	var (
		o   callOpts
		out Out
	)
	for _, f := range opts {
		f(&o)
	}
	raw, _, err := c.call(ctx, d.Name(), in, o.progress)
	if err != nil {
		return out, err
	}
	if err := json.Unmarshal(raw, &out); err != nil {
		return out, fmt.Errorf("%s: decoding the output %s: %w", d.Name(), raw, err)
	}
	return out, nil
}
