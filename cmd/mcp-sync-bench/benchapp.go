package main

import (
	"time"

	"github.com/mcp-sync/mcp-sync/backend"
	"github.com/mcp-sync/mcp-sync/schema"
)

// The app `mcp-sync-bench bench` measures (`serve --app bench`): one table, a
// mutator that writes a row, and an action that writes a row n times
// through ctx.Mutate, as a streamed answer does.

// benchRow is a row of the bench table. T is the wall-clock time (Unix ns)
// its writer called ctx.Mutate, so a subscriber can tell how long the change
// took to reach it.
type benchRow struct {
	Text string `json:"text"`
	N    int    `json:"n"`
	T    int64  `json:"t,omitempty"`
}

// benchPut is the input of the put mutator.
type benchPut struct {
	Key  string `json:"key" jsonschema:"minLength=1"`
	Text string `json:"text"`
	N    int    `json:"n"`
	T    int64  `json:"t,omitempty"`
}

// benchStreamIn is the input of the stream action.
type benchStreamIn struct {
	Key        string `json:"key" jsonschema:"minLength=1"`
	N          int    `json:"n" jsonschema:"minimum=1,maximum=100000"`
	IntervalMs int    `json:"intervalMs,omitempty" jsonschema:"minimum=0,maximum=10000"`
}

// benchStreamOut is what the stream action returns.
type benchStreamOut struct {
	N int `json:"n"`
}

var (
	benchRows   = schema.Table[benchRow]("rows", schema.Description("rows written by the benchmark"))
	benchPutM   = schema.Mutator[benchPut]("put", "Write one row", schema.Idempotent())
	benchStream = schema.Action[benchStreamIn, benchStreamOut]("stream", "Write one row n times through ctx.Mutate, intervalMs apart")
	benchSchema = schema.MustDefine(1, benchRows, benchPutM, benchStream)
)

func benchConfig() backend.Config {
	return backend.Config{
		Schema: benchSchema,
		Mutators: []backend.MutatorImpl{
			backend.Mutator(benchPutM, func(ctx *backend.MutatorCtx, in benchPut) error {
				return backend.TableOf(ctx, benchRows).Set(in.Key, benchRow{Text: in.Text, N: in.N, T: in.T})
			}),
		},
		Actions: []backend.ActionImpl{
			backend.Action(benchStream, func(ctx *backend.ActionCtx, in benchStreamIn) (benchStreamOut, error) {
				tick := time.Duration(in.IntervalMs) * time.Millisecond
				for i := range in.N {
					if i > 0 && tick > 0 {
						select {
						case <-time.After(tick):
						case <-ctx.Done():
							return benchStreamOut{N: i}, ctx.Err()
						}
					}
					if err := ctx.Mutate("put", benchPut{Key: in.Key, Text: "chunk", N: i + 1, T: time.Now().UnixNano()}); err != nil {
						return benchStreamOut{N: i}, err
					}
				}
				return benchStreamOut{N: in.N}, nil
			}),
		},
	}
}
