//go:build linux || darwin

package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mcp-sync/mcp-sync/cli"
	"github.com/mcp-sync/mcp-sync/client"
	"github.com/mcp-sync/mcp-sync/examples/todo"
	"github.com/mcp-sync/mcp-sync/internal/relay"
)

// host is one MCP host's `serve` on a shared data file, reached with the Go
// client; log is what its server wrote to stderr.
type host struct {
	c   *client.Conn
	log *cli.LockedBuffer
}

// sharedFile is a data file for servers to share, in a directory of the
// test's; its socket, which a SIGKILLed owner leaves in the user's socket
// directory, is removed once everything else is cleaned up.
func sharedFile(tb testing.TB, name string) string {
	data := filepath.Join(tb.TempDir(), name)
	sock, err := relay.SocketPath(data, "")
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { os.Remove(sock) })
	return data
}

// startHost starts `serve --data data` over stdio, as a host does.
func startHost(t *testing.T, data string, legacy bool) *host {
	t.Helper()
	log := &cli.LockedBuffer{}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	c, err := client.DialCommand(ctx, interopBinary(t), []string{"serve", "--data", data, "--ai-delay", "20ms"},
		client.Options{Env: quietEnv, Stderr: log, Legacy: legacy})
	if err != nil {
		t.Fatalf("starting a host's serve: %v\n%s", err, log.String())
	}
	h := &host{c: c, log: log}
	t.Cleanup(func() { h.c.Close() })
	return h
}

// watchTodos follows the todos table from a host, recording when each
// version of each todo arrived.
type todoWatch struct {
	mu      sync.Mutex
	seen    map[string]time.Time // key@text → arrival
	texts   map[string][]string  // key → the texts seen, in order
	last    map[string]todo.Todo // key → the newest value
	version uint64
	err     error
}

func watchTodos(t *testing.T, h *host) *todoWatch {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	w, err := client.Watch(ctx, h.c, todo.Todos, client.Selector{}, 0)
	if err != nil {
		cancel()
		t.Fatalf("watch: %v", err)
	}
	tw := &todoWatch{seen: map[string]time.Time{}, texts: map[string][]string{}, last: map[string]todo.Todo{}}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			ev, err := w.Next(ctx)
			now := time.Now()
			tw.mu.Lock()
			if err != nil {
				if ctx.Err() == nil {
					tw.err = err
				}
				tw.mu.Unlock()
				return
			}
			if ev.Version <= tw.version && !ev.Resync {
				tw.err = fmt.Errorf("version %d after %d", ev.Version, tw.version)
			}
			tw.version = ev.Version
			for _, ch := range ev.Changes {
				if ch.Deleted {
					delete(tw.last, ch.Key)
					continue
				}
				tw.seen[ch.Key+"@"+ch.Value.Text] = now
				if txt := tw.texts[ch.Key]; len(txt) == 0 || txt[len(txt)-1] != ch.Value.Text {
					tw.texts[ch.Key] = append(txt, ch.Value.Text)
				}
				tw.last[ch.Key] = ch.Value
			}
			tw.mu.Unlock()
		}
	}()
	t.Cleanup(func() { cancel(); w.Close(); <-done })
	return tw
}

// arrived says when the watch saw key with text (zero: not yet).
func (tw *todoWatch) arrived(key, text string) time.Time {
	tw.mu.Lock()
	defer tw.mu.Unlock()
	return tw.seen[key+"@"+text]
}

func (tw *todoWatch) state() (map[string]todo.Todo, error) {
	tw.mu.Lock()
	defer tw.mu.Unlock()
	out := make(map[string]todo.Todo, len(tw.last))
	for k, v := range tw.last {
		out[k] = v
	}
	return out, tw.err
}

func (tw *todoWatch) textsOf(key string) []string {
	tw.mu.Lock()
	defer tw.mu.Unlock()
	return slices.Clone(tw.texts[key])
}

// TestRelayManyHosts: three hosts' `serve` on one data file (the first owns
// it, the others relay to it) and the TypeScript SDK's scripted session on a
// fourth; each host sees the others' writes, and an AI stream started from
// one is watched growing from the other two.
func TestRelayManyHosts(t *testing.T) {
	if testing.Short() {
		t.Skip("starts servers")
	}
	data := sharedFile(t, "shared.db")
	hosts := []*host{startHost(t, data, false), startHost(t, data, true), startHost(t, data, false)}
	if !waitUntil(10*time.Second, func() bool { return strings.Contains(hosts[0].log.String(), "role=owner") }) {
		t.Fatalf("the first serve is not the owner:\n%s", hosts[0].log.String())
	}
	for i, h := range hosts[1:] {
		if !waitUntil(10*time.Second, func() bool { return strings.Contains(h.log.String(), "role=relay") }) {
			t.Fatalf("serve %d does not relay:\n%s", i+2, h.log.String())
		}
	}
	watches := make([]*todoWatch, len(hosts))
	for i, h := range hosts {
		watches[i] = watchTodos(t, h)
	}

	// The TypeScript SDK's whole scenario (tools, subscriptions, progress,
	// cancellation) through a relay, beside the Go hosts.
	ts := make(chan error, 1)
	if nodeOK(t) {
		go func() {
			stdout, stderr, err := runNode(t, 120*time.Second, "node", "client.mjs", "stdio", interopBinary(t), "serve", "--data", data, "--ai-delay", "1ms")
			if err != nil {
				err = fmt.Errorf("%v\nstdout:\n%s\nstderr:\n%s", err, stdout, stderr)
			}
			ts <- err
		}()
	} else {
		ts <- nil
	}

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	const writes = 90
	var lat []time.Duration
	for i := range writes {
		from := i % len(hosts)
		key, text := fmt.Sprintf("w%d", i), fmt.Sprintf("from host %d", from)
		sent := time.Now() // before the commit: an upper bound of commit → notification
		if _, err := client.Mutate(ctx, hosts[from].c, todo.SetTodo, todo.Todo{ID: key, Text: text}); err != nil {
			t.Fatalf("write %d from host %d: %v", i, from, err)
		}
		for j, w := range watches {
			if j == from {
				continue
			}
			if !waitUntil(30*time.Second, func() bool { return !w.arrived(key, text).IsZero() }) {
				_, err := w.state()
				t.Fatalf("host %d never saw host %d's write %s (watch error: %v)", j, from, key, err)
			}
			lat = append(lat, max(w.arrived(key, text).Sub(sent), 0))
		}
	}
	slices.Sort(lat)
	p50, p99 := lat[len(lat)/2], lat[len(lat)*99/100]
	t.Logf("call sent → another host's watcher has the change, %d deliveries: p50 %v, p99 %v (issue: p99 ≤ 50 ms)", len(lat), p50, p99)
	if p99 > 2*time.Second {
		t.Errorf("p99 call → notification %v: far beyond the 50 ms asked", p99)
	}

	// An AI stream started from host 0, watched growing from 1 and 2.
	if _, err := client.Mutate(ctx, hosts[0].c, todo.SetTodo, todo.Todo{ID: "ai"}); err != nil {
		t.Fatal(err)
	}
	out, err := client.Action(ctx, hosts[0].c, todo.Generate, todo.GenerateInput{ID: "ai", Prompt: "plan a picnic"})
	if err != nil {
		t.Fatalf("generateWithAI from host 0: %v", err)
	}
	for _, j := range []int{1, 2} {
		w := watches[j]
		if !waitUntil(30*time.Second, func() bool { tt := w.textsOf("ai"); return len(tt) > 0 && tt[len(tt)-1] == out.Text }) {
			t.Fatalf("host %d never saw the stream's last text; it saw %q", j, w.textsOf("ai"))
		}
		if tt := w.textsOf("ai"); len(tt) < 4 {
			t.Errorf("host %d saw the stream in %d steps, want it watched growing: %q", j, len(tt), tt)
		}
	}
	if err := <-ts; err != nil {
		t.Errorf("the TypeScript SDK's session through a relay: %v", err)
	}
	if nodeOK(t) {
		tsHostSeesGoHosts(t, data, hosts, watches)
	}
	for i, w := range watches {
		if _, err := w.state(); err != nil {
			t.Errorf("host %d's watch: %v", i, err)
		}
	}
}

// nodeOK says whether the TypeScript SDK harness can run (skipping the
// part of a test that needs it otherwise, failing in CI).
func nodeOK(t *testing.T) bool {
	t.Helper()
	ok := false
	t.Run("harness", func(t *testing.T) { interopHarness(t); ok = true })
	return ok
}

var ownerPIDPattern = regexp.MustCompile(`role=owner socket=\S+ pid=(\d+)`)

// socketOf is the owner's socket of data.
func socketOf(t *testing.T, data string) string {
	t.Helper()
	sock, err := relay.SocketPath(data, "")
	if err != nil {
		t.Fatal(err)
	}
	return sock
}

// tsHostSeesGoHosts adds the TypeScript SDK as one more host on data
// (testdata/interop/watchrow.mjs, a relay's session): the Go hosts see its
// write, and it sees each Go host's.
func tsHostSeesGoHosts(t *testing.T, data string, hosts []*host, watches []*todoWatch) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", "watchrow.mjs", "tsw", interopBinary(t), "serve", "--data", data)
	cmd.Dir = interopDir
	cmd.Env = quietEnv
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, errOut := &syncBuffer{}, &syncBuffer{}
	cmd.Stdout, cmd.Stderr = out, errOut
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { stdin.Close(); _ = cmd.Wait() }()
	if !waitUntil(60*time.Second, func() bool { return strings.Contains(out.String(), "ready") }) {
		t.Fatalf("watchrow.mjs never subscribed:\n%s\n%s", out.String(), errOut.String())
	}
	for i, w := range watches {
		if !waitUntil(30*time.Second, func() bool { return !w.arrived("ts-tsw", "from the TypeScript host").IsZero() }) {
			t.Errorf("Go host %d never saw the TypeScript host's write", i)
		}
	}
	for i, h := range hosts {
		text := fmt.Sprintf("host %d for the TypeScript host", i)
		sent := time.Now()
		if _, err := client.Mutate(ctx, h.c, todo.SetTodo, todo.Todo{ID: "tsw", Text: text}); err != nil {
			t.Fatal(err)
		}
		if !waitUntil(30*time.Second, func() bool { return strings.Contains(out.String(), text) }) {
			t.Fatalf("the TypeScript host never saw Go host %d's write:\n%s\n%s", i, out.String(), errOut.String())
		}
		t.Logf("Go host %d's write reached the TypeScript host (notification, then its read) in %v", i, time.Since(sent))
	}
}
