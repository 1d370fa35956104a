package backend_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mcp-sync/mcp-sync/backend"
)

// writeBytes is what this process has caused to be written to storage so far
// (Linux /proc/self/io), or -1 where that is not available.
func writeBytes() int64 {
	f, err := os.Open("/proc/self/io")
	if err != nil {
		return -1
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "write_bytes: "); ok {
			n, _ := strconv.ParseInt(v, 10, 64)
			return n
		}
	}
	return -1
}

// BenchmarkMutatePerChunk measures one ctx.Mutate from inside an action, as a
// streamed answer makes per chunk: the same row rewritten with an 8 KB text
// (the end of a long answer) against a 100-byte one, measured in the same
// run. Reports the latency and bytes written per chunk of each, and the
// ratio (target ≤ 2).
func BenchmarkMutatePerChunk(b *testing.B) {
	app := &testApp{}
	e, err := backend.Open(app.config(), backend.Options{Path: filepath.Join(b.TempDir(), "bench.db"), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		b.Fatal(err)
	}
	defer e.Close()
	measure := func(size int) (nsPerChunk, bytesPerChunk float64) {
		in, _ := json.Marshal(EchoIn{Text: string(bytes.Repeat([]byte("x"), size)), Mode: "rewrite", Times: b.N})
		w0 := writeBytes()
		start := time.Now()
		if _, err := e.Act(b.Context(), "echo", in); err != nil {
			b.Fatal(err)
		}
		elapsed := time.Since(start)
		return float64(elapsed.Nanoseconds()) / float64(b.N), float64(writeBytes()-w0) / float64(b.N)
	}
	measure(100) // warm the file up: page allocation, freelist
	b.ResetTimer()
	smallNs, smallBytes := measure(100)
	largeNs, largeBytes := measure(8 << 10)
	b.StopTimer()
	b.ReportMetric(smallNs, "ns/chunk-100B")
	b.ReportMetric(largeNs, "ns/chunk-8KB")
	b.ReportMetric(largeNs/smallNs, "latency-ratio")
	if writeBytes() >= 0 {
		b.ReportMetric(smallBytes, "B-written/chunk-100B")
		b.ReportMetric(largeBytes, "B-written/chunk-8KB")
	}
	b.ReportMetric(0, "ns/op") // the per-chunk figures above are the result
}
