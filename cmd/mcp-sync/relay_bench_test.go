//go:build linux || darwin

package main

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/mcp-sync/mcp-sync/client"
	"github.com/mcp-sync/mcp-sync/examples/todo"
)

// BenchmarkRelayedStdioCall measures what a relay adds: the same get_row
// call, alternately through the data file's owner's own stdio (direct) and
// through a second serve on the file that relays to it, in one run. It
// reports both medians, their ratio, and the budget for the
// relayed one (1.3 × the direct p50 + 0.2 ms):
//
//	go test ./cmd/mcp-sync -run '^$' -bench RelayedStdioCall -benchtime 2000x
func BenchmarkRelayedStdioCall(b *testing.B) {
	data := sharedFile(b, "bench.db")
	direct := startBenchHost(b, data)
	relayed := startBenchHost(b, data)
	ctx := context.Background()
	if _, err := client.Mutate(ctx, direct, todo.SetTodo, todo.Todo{ID: "r", Text: "a row to read"}); err != nil {
		b.Fatal(err)
	}
	for _, c := range []*client.Conn{direct, relayed} { // warm both paths
		for range 50 {
			if _, _, _, err := client.GetRow(ctx, c, todo.Todos, "r"); err != nil {
				b.Fatal(err)
			}
		}
	}
	d, r := make([]time.Duration, 0, b.N), make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for range b.N {
		for _, x := range []struct {
			c   *client.Conn
			out *[]time.Duration
		}{{direct, &d}, {relayed, &r}} {
			start := time.Now()
			if _, _, _, err := client.GetRow(ctx, x.c, todo.Todos, "r"); err != nil {
				b.Fatal(err)
			}
			*x.out = append(*x.out, time.Since(start))
		}
	}
	b.StopTimer()
	slices.Sort(d)
	slices.Sort(r)
	pd, pr := d[len(d)/2], r[len(r)/2]
	budget := time.Duration(1.3*float64(pd)) + 200*time.Microsecond
	b.ReportMetric(float64(pd.Microseconds()), "direct-p50-µs")
	b.ReportMetric(float64(pr.Microseconds()), "relayed-p50-µs")
	b.ReportMetric(float64(pr)/float64(pd), "relayed/direct")
	b.ReportMetric(float64(budget.Microseconds()), "budget-µs")
	b.Logf("get_row over stdio, %d calls each: direct p50 %v, relayed p50 %v (%.2f×); budget 1.3×direct+0.2 ms = %v: within: %v",
		len(d), pd, pr, float64(pr)/float64(pd), budget, pr <= budget)
}

// startBenchHost is startHost for a benchmark.
func startBenchHost(b *testing.B, data string) *client.Conn {
	b.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	bin, err := benchBinary()
	if err != nil {
		b.Fatal(err)
	}
	c, err := client.DialCommand(ctx, bin, []string{"serve", "--data", data}, client.Options{Env: quietEnv})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { c.Close() })
	return c
}

// benchBinary is the mcp-sync binary the interop tests build.
func benchBinary() (string, error) {
	binOnce.Do(func() { binPath, binErr = buildBinary("mcp-sync", ".") })
	return binPath, binErr
}
