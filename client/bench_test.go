package client_test

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/mcp-sync/mcp-sync/backend"
	"github.com/mcp-sync/mcp-sync/client"
)

func pct(d []time.Duration, p float64) float64 {
	if len(d) == 0 {
		return 0
	}
	s := slices.Clone(d)
	slices.Sort(s)
	return float64(s[min(len(s)-1, int(float64(len(s))*p))].Microseconds()) / 1000
}

// BenchmarkReplicaLocalApply: a replica's optimistic write, until a local
// read sees it, beside the same mutator run on a bare replica-mode engine
// (no replica bookkeeping) in the same run.
func BenchmarkReplicaLocalApply(b *testing.B) {
	s := newServer(b)
	c, err := client.DialHTTP(context.Background(), s.url, client.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	r, err := client.NewReplica(context.Background(), c, config(), client.ReplicaOptions{Logger: quiet()})
	if err != nil {
		b.Fatal(err)
	}
	defer r.Close()
	bare, err := backend.Open(config(), backend.Options{Path: filepath.Join(b.TempDir(), "bare.db"), Replica: true, Logger: quiet()})
	if err != nil {
		b.Fatal(err)
	}
	defer bare.Close()
	ctx := context.Background()
	local := make([]time.Duration, 0, b.N)
	base := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := range b.N {
		key := fmt.Sprint("k", i%50)
		t0 := time.Now()
		if _, err := client.MutateLocal(ctx, r, put, PutIn{Key: key, Name: fmt.Sprint("v", i)}); err != nil {
			b.Fatal(err)
		}
		if _, ok, _ := client.Get(r, items, key); !ok {
			b.Fatal("not visible")
		}
		local = append(local, time.Since(t0))
		in, _ := json.Marshal(PutIn{Key: key, Name: fmt.Sprint("v", i)})
		t0 = time.Now()
		if _, err := bare.Mutate(ctx, "put", in); err != nil {
			b.Fatal(err)
		}
		base = append(base, time.Since(t0))
	}
	b.StopTimer()
	_ = r.Settled(ctx)
	b.ReportMetric(pct(local, 0.5), "p50-ms")
	b.ReportMetric(pct(base, 0.5), "bare-p50-ms")
	b.ReportMetric(pct(local, 0.5)/pct(base, 0.5), "ratio-vs-bare")
	b.ReportMetric(0, "ns/op")
}

// BenchmarkCommitToReplica: from a server commit (eng.Mutate returning) to
// the replica's local copy having it, over streamable HTTP on loopback,
// beside one bare tool call round trip (get_row) on the same connection.
func BenchmarkCommitToReplica(b *testing.B) {
	s := newServer(b)
	c, err := client.DialHTTP(context.Background(), s.url, client.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	seen := make(chan uint64, 1024)
	r, err := client.NewReplica(context.Background(), c, config(), client.ReplicaOptions{Logger: quiet(),
		OnChange: func(_ string, v uint64) { seen <- v }})
	if err != nil {
		b.Fatal(err)
	}
	defer r.Close()
	ctx := context.Background()
	lat := make([]time.Duration, 0, b.N)
	rtt := make([]time.Duration, 0, b.N)
	drain := func() {
		for {
			select {
			case <-seen:
			default:
				return
			}
		}
	}
	drain()
	b.ResetTimer()
	for i := range b.N {
		in, _ := json.Marshal(PutIn{Key: "row", Name: fmt.Sprint("v", i)})
		v, err := s.eng.Mutate(ctx, "put", in)
		if err != nil {
			b.Fatal(err)
		}
		t0 := time.Now()
		timeout := time.After(10 * time.Second)
	wait:
		for {
			select {
			case got := <-seen:
				if got >= v.Version {
					break wait
				}
			case <-timeout:
				b.Fatalf("the replica did not reach version %d", v.Version)
			}
		}
		lat = append(lat, time.Since(t0))
		t0 = time.Now()
		if _, err := c.Call(ctx, "get_row", map[string]any{"table": "items", "key": "row"}); err != nil {
			b.Fatal(err)
		}
		rtt = append(rtt, time.Since(t0))
	}
	b.StopTimer()
	b.ReportMetric(pct(lat, 0.5), "p50-ms")
	b.ReportMetric(pct(lat, 0.99), "p99-ms")
	b.ReportMetric(pct(rtt, 0.5), "bare-call-p50-ms")
	b.ReportMetric(pct(lat, 0.5)/pct(rtt, 0.5), "ratio-vs-bare")
	b.ReportMetric(0, "ns/op")
}
