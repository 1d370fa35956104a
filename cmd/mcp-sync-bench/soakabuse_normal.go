package main

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/mcp-sync/mcp-sync/client"
	"github.com/mcp-sync/mcp-sync/examples/todo"
)

// abuseNormalPrefix starts every key the normal client writes.
const abuseNormalPrefix = "abuse-normal-"

// abuseAck is a write the server acknowledged.
type abuseAck struct {
	text    string
	version uint64
}

// abuseWriter is the well-behaved client that keeps writing while the
// probes run: setTodo on a new key of its own each time, every
// acknowledged write recorded.
type abuseWriter struct {
	cn *client.Conn

	mu       sync.Mutex
	acked    map[string]abuseAck
	calls    int
	failures []string // the first few
	failed   int
	lat      []time.Duration // of the acknowledged writes
}

// abuseNormal is the normal client's figures.
type abuseNormal struct {
	Era      string   `json:"era"`
	Calls    int      `json:"calls"`
	OK       int      `json:"ok"`
	Failed   int      `json:"failed"`
	P50Ms    float64  `json:"p50Ms"` // of the acknowledged writes
	P99Ms    float64  `json:"p99Ms"`
	MaxMs    float64  `json:"maxMs"`
	Failures []string `json:"failures,omitempty"`
}

// run writes until ctx ends or it has written limit keys, pausing pause
// between writes.
func (w *abuseWriter) run(ctx context.Context, limit int, pause time.Duration) {
	for i := range limit {
		if ctx.Err() != nil {
			return
		}
		key := fmt.Sprintf("%s%06d", abuseNormalPrefix, i)
		text := fmt.Sprintf("normal write %d at %s", i, time.Now().Format(time.RFC3339Nano))
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		t0 := time.Now()
		res, err := client.Mutate(cctx, w.cn, todo.SetTodo, todo.Todo{ID: key, Text: text, Status: todo.StatusReady})
		cancel()
		w.mu.Lock()
		w.calls++
		if err != nil {
			w.failed++
			if len(w.failures) < 20 {
				w.failures = append(w.failures, fmt.Sprintf("setTodo %s after %s: %s", key, time.Since(t0).Round(time.Millisecond), abuseShort(err.Error(), 300)))
			}
		} else {
			w.acked[key] = abuseAck{text: text, version: res.Version}
			w.lat = append(w.lat, time.Since(t0))
		}
		w.mu.Unlock()
		select {
		case <-ctx.Done():
			return
		case <-time.After(pause):
		}
	}
}

func (w *abuseWriter) report(era string) abuseNormal {
	w.mu.Lock()
	defer w.mu.Unlock()
	return abuseNormal{Era: era, Calls: w.calls, OK: len(w.acked), Failed: w.failed, Failures: slices.Clone(w.failures),
		P50Ms: percentileMs(w.lat, 0.5), P99Ms: percentileMs(w.lat, 0.99), MaxMs: percentileMs(w.lat, 1)}
}

// abuseVerify is a check that every acknowledged write is present.
type abuseVerify struct {
	When    string   `json:"when"`
	Acked   int      `json:"acked"`
	Present int      `json:"present"`
	Missing int      `json:"missing"` // absent or with another text
	Samples []string `json:"samples,omitempty"`
	Error   string   `json:"error,omitempty"` // the check itself failed
}

// verifyAcked reads every row under abuseNormalPrefix at url (list_rows,
// page by page) and compares it with the acknowledged writes.
func verifyAcked(ctx context.Context, url, when string, acked map[string]abuseAck) abuseVerify {
	v := abuseVerify{When: when, Acked: len(acked)}
	cn, err := client.DialHTTP(ctx, url, client.Options{})
	if err != nil {
		v.Error = fmt.Sprintf("connecting to read the writes back: %v", err)
		return v
	}
	defer cn.Close()
	got := map[string]string{}
	for after := ""; ; {
		args := map[string]any{"table": todo.Todos.Name(), "prefix": abuseNormalPrefix, "limit": 1000}
		if after != "" {
			args["after"] = after
		}
		cctx, cancel := context.WithTimeout(ctx, time.Minute)
		raw, err := cn.Call(cctx, "list_rows", args)
		cancel()
		if err != nil {
			v.Error = fmt.Sprintf("list_rows after %q: %v", after, err)
			return v
		}
		var page struct {
			Rows []struct {
				Key   string    `json:"key"`
				Value todo.Todo `json:"value"`
			} `json:"rows"`
			Next string `json:"next"`
		}
		if err := json.Unmarshal(raw, &page); err != nil {
			v.Error = fmt.Sprintf("list_rows answered %s: %v", abuseShort(string(raw), 200), err)
			return v
		}
		for _, r := range page.Rows {
			got[r.Key] = r.Value.Text
		}
		if page.Next == "" || len(page.Rows) == 0 {
			break
		}
		after = page.Next
	}
	keys := make([]string, 0, len(acked))
	for k := range acked {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		text, ok := got[k]
		switch {
		case ok && text == acked[k].text:
			v.Present++
			continue
		case ok:
			v.Samples = appendSample(v.Samples, fmt.Sprintf("%s (version %d) reads %q, want %q", k, acked[k].version, abuseShort(text, 80), acked[k].text))
		default:
			v.Samples = appendSample(v.Samples, fmt.Sprintf("%s (acknowledged at version %d) is missing", k, acked[k].version))
		}
		v.Missing++
	}
	return v
}

func appendSample(s []string, x string) []string {
	if len(s) < 10 {
		return append(s, x)
	}
	return s
}
