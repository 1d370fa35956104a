//go:build linux || darwin

package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
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
	data := filepath.Join(t.TempDir(), "shared.db")
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
	sock, err := relay.SocketPath(data, os.Getenv)
	if err != nil {
		t.Fatal(err)
	}
	return sock
}

// TestRelayOwnerKilled SIGKILLs the data file's owner ten times, each while
// an AI stream it runs is being written: no acknowledged write is lost, the
// surviving hosts are served again soon after, their watchers end with every
// committed change, and every interrupted run finishes.
func TestRelayOwnerKilled(t *testing.T) {
	if testing.Short() {
		t.Skip("starts and kills servers")
	}
	data := filepath.Join(t.TempDir(), "shared.db")
	sock := socketOf(t, data)
	var mu sync.Mutex // guards hosts and watches
	hosts := []*host{startHost(t, data, false), startHost(t, data, true), startHost(t, data, false)}
	watches := []*todoWatch{watchTodos(t, hosts[0]), watchTodos(t, hosts[1]), watchTodos(t, hosts[2])}
	pick := func(i int) *host { mu.Lock(); defer mu.Unlock(); return hosts[i%len(hosts)] }

	// A writer beside the streams, through whichever host: what it was
	// told committed must be there at the end.
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	acked := map[string]string{}
	var ackMu sync.Mutex
	var retried int
	stopWriter := make(chan struct{})
	writerDone := make(chan struct{})
	go func() {
		defer close(writerDone)
		for i := 0; ; i++ {
			select {
			case <-stopWriter:
				return
			default:
			}
			key, text := fmt.Sprintf("k%d", i), fmt.Sprintf("write %d", i)
			wctx, wcancel := context.WithTimeout(ctx, 5*time.Second) // a killed host's calls never end
			_, err := client.Mutate(wctx, pick(i).c, todo.SetTodo, todo.Todo{ID: key, Text: text})
			wcancel()
			ackMu.Lock()
			if err == nil {
				acked[key] = text
			} else {
				retried++
			}
			ackMu.Unlock()
			time.Sleep(5 * time.Millisecond)
		}
	}()

	var resumed []time.Duration
	for round := range 10 {
		id := fmt.Sprintf("g%d", round)
		if _, err := callRetrying(ctx, func() error {
			_, err := client.Mutate(ctx, pick(round+1).c, todo.CreateAndGenerate, todo.GenerateInput{ID: id, Prompt: "a long list"})
			return err
		}); err != nil {
			t.Fatalf("round %d: createAndGenerate: %v", round, err)
		}
		// Mid-stream: some text written, the run not finished.
		if !waitUntil(30*time.Second, func() bool {
			mu.Lock()
			defer mu.Unlock()
			for _, w := range watches {
				if tt := w.textsOf(id); len(tt) > 1 {
					return true
				}
			}
			return false
		}) {
			t.Fatalf("round %d: the stream of %s never started", round, id)
		}
		pid, victim := 0, -1
		waitUntil(10*time.Second, func() bool { // a server's log reaches us a moment after it is written
			pid = relay.PeerPID(sock)
			mu.Lock()
			defer mu.Unlock()
			victim = slices.IndexFunc(hosts, func(h *host) bool {
				for _, m := range ownerPIDPattern.FindAllStringSubmatch(h.log.String(), -1) {
					if m[1] == fmt.Sprint(pid) {
						return true
					}
				}
				return false
			})
			return pid != 0 && victim >= 0
		})
		if pid == 0 || victim < 0 {
			t.Fatalf("round %d: no host's serve says it owns the file (socket pid %d)", round, pid)
		}
		if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		killed := time.Now()
		// Served again: a read through a surviving host answers.
		survivor := pick(victim + 1)
		if _, err := callRetrying(ctx, func() error {
			_, _, _, err := client.GetRow(ctx, survivor.c, todo.Todos, id)
			return err
		}); err != nil {
			t.Fatalf("round %d: no service after the owner was killed: %v\n%s", round, err, survivor.log.String())
		}
		resumed = append(resumed, time.Since(killed))
		// The interrupted run finishes (run again by the new owner) before
		// the next kill: the engine gives a run a bounded number of attempts.
		var row todo.Todo
		if !waitUntil(60*time.Second, func() bool {
			r, ok, _, err := client.GetRow(ctx, survivor.c, todo.Todos, id)
			row = r
			return err == nil && ok && r.Status == todo.StatusReady // "error" too, while a retry waits
		}) {
			t.Fatalf("round %d: the interrupted run of %s did not finish: %+v\nlogs:\n%s", round, id, row, allLogs(&mu, hosts))
		}
		// The killed one's host starts a new serve, as a host would.
		nh := startHost(t, data, round%2 == 0)
		nw := watchTodos(t, nh)
		mu.Lock()
		hosts[victim].c.Close()
		hosts[victim], watches[victim] = nh, nw
		mu.Unlock()
	}
	close(stopWriter)
	<-writerDone
	slices.Sort(resumed)
	t.Logf("owner SIGKILLed 10 times: service again after p50 %v, max %v (issue: within 2 s); %d writes acknowledged, %d failed retryably",
		resumed[len(resumed)/2], resumed[len(resumed)-1], len(acked), retried)
	if resumed[len(resumed)-1] > 15*time.Second {
		t.Errorf("service took %v to resume after a kill", resumed[len(resumed)-1])
	}

	// Every interrupted run finishes; every acknowledged write is there;
	// every watcher ends with what the file holds.
	h := pick(0)
	want := map[string]string{}
	for k, v := range acked {
		want[k] = v
	}
	for round := range 10 {
		id := fmt.Sprintf("g%d", round)
		var row todo.Todo
		if !waitUntil(60*time.Second, func() bool {
			r, ok, _, err := client.GetRow(ctx, h.c, todo.Todos, id)
			row = r
			return err == nil && ok && r.Status == "ready"
		}) {
			t.Fatalf("the run of %s never finished: %+v", id, row)
		}
		want[id] = row.Text
	}
	for k, text := range acked {
		r, ok, _, err := client.GetRow(ctx, h.c, todo.Todos, k)
		if err != nil || !ok || r.Text != text {
			t.Errorf("acknowledged write %s = %q lost: found %v %+v (%v)", k, text, ok, r, err)
		}
	}
	mu.Lock()
	ws := slices.Clone(watches)
	mu.Unlock()
	for i, w := range ws {
		var missing []string
		if !waitUntil(30*time.Second, func() bool {
			got, err := w.state()
			if err != nil {
				return true
			}
			missing = missing[:0]
			for k, text := range want {
				if got[k].Text != text {
					missing = append(missing, k)
				}
			}
			return len(missing) == 0
		}) || len(missing) > 0 {
			slices.Sort(missing)
			t.Errorf("host %d's watcher lacks %d committed changes: %v", i, len(missing), missing)
		}
		if _, err := w.state(); err != nil {
			t.Errorf("host %d's watcher: %v", i, err)
		}
	}
}

// callRetrying calls f until it succeeds, retrying the errors a relay gives
// while the owner changes (transport and unavailable), for up to 30 s.
func callRetrying(ctx context.Context, f func() error) (int, error) {
	deadline := time.Now().Add(30 * time.Second)
	for n := 1; ; n++ {
		err := f()
		if err == nil || !errors.Is(err, client.ErrTransport) || time.Now().After(deadline) || ctx.Err() != nil {
			return n, err
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// allLogs is every host's server log, for a failure's message.
func allLogs(mu *sync.Mutex, hosts []*host) string {
	mu.Lock()
	defer mu.Unlock()
	var b strings.Builder
	for i, h := range hosts {
		fmt.Fprintf(&b, "--- host %d:\n%s", i, h.log.String())
	}
	return b.String()
}

// TestRelayCLIBesideServe: `watch todos` and `call` in a terminal, without
// --url, beside a host's running serve on the same file: the watch shows
// the host's writes and the call's, and the call is answered by the host's
// serve (the file's owner) through a relay.
func TestRelayCLIBesideServe(t *testing.T) {
	if testing.Short() {
		t.Skip("starts servers")
	}
	data := filepath.Join(t.TempDir(), "shared.db")
	h := startHost(t, data, false)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	watch := exec.CommandContext(ctx, interopBinary(t), "watch", "--data", data, "todos")
	watch.Env = quietEnv
	out, errOut := &syncBuffer{}, &syncBuffer{}
	watch.Stdout, watch.Stderr = out, errOut
	if err := watch.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { _ = watch.Wait(); close(exited) }()
	defer func() { cancel(); <-exited }()

	if _, err := client.Mutate(ctx, h.c, todo.SetTodo, todo.Todo{ID: "from-host", Text: "written by the host"}); err != nil {
		t.Fatal(err)
	}
	code, callOut, callErr := runBin(t, 60*time.Second, "call", "--data", data, "setTodo", `{"id":"from-cli","text":"written by call","completed":false}`)
	if code != 0 {
		t.Fatalf("call beside a running serve: exit %d\n%s\n%s", code, callOut, callErr)
	}
	if !waitUntil(30*time.Second, func() bool {
		return strings.Contains(out.String(), "written by the host") && strings.Contains(out.String(), "written by call")
	}) {
		t.Fatalf("watch todos beside the host's serve printed:\n%s\nstderr:\n%s", out.String(), errOut.String())
	}
	if _, ok, _, err := client.GetRow(ctx, h.c, todo.Todos, "from-cli"); err != nil || !ok {
		t.Errorf("the host does not see the call's write: %v %v", ok, err)
	}
	if !waitUntil(10*time.Second, func() bool { return strings.Contains(h.log.String(), "role=owner") }) {
		t.Errorf("the host's serve is not the owner:\n%s", h.log.String())
	}
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

// TestRelayOwnerExits: the owner's host leaves (its serve exits cleanly);
// the relaying serve takes the file over and its host carries on, its watch
// included. A serve on another file owns that one: two files never meet.
func TestRelayOwnerExits(t *testing.T) {
	if testing.Short() {
		t.Skip("starts servers")
	}
	dir := t.TempDir()
	data := filepath.Join(dir, "shared.db")
	first, second := startHost(t, data, false), startHost(t, data, true)
	other := startHost(t, filepath.Join(dir, "other.db"), false)
	if !waitUntil(10*time.Second, func() bool { return strings.Contains(other.log.String(), "role=owner") }) {
		t.Errorf("a serve on another file relays instead of owning it:\n%s", other.log.String())
	}
	w := watchTodos(t, second)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := client.Mutate(ctx, first.c, todo.SetTodo, todo.Todo{ID: "before", Text: "by the owner"}); err != nil {
		t.Fatal(err)
	}
	first.c.Close() // the host quits: its serve's stdin ends
	if _, err := callRetrying(ctx, func() error {
		_, err := client.Mutate(ctx, second.c, todo.SetTodo, todo.Todo{ID: "after", Text: "by the new owner"})
		return err
	}); err != nil {
		t.Fatalf("no service after the owner left: %v\n%s", err, second.log.String())
	}
	if !waitUntil(30*time.Second, func() bool {
		return !w.arrived("before", "by the owner").IsZero() && !w.arrived("after", "by the new owner").IsZero()
	}) {
		st, err := w.state()
		t.Fatalf("the watch through the relay has %v (%v)", st, err)
	}
	if !waitUntil(10*time.Second, func() bool { return strings.Contains(second.log.String(), "took the data file over") }) {
		t.Errorf("the relay did not take over:\n%s", second.log.String())
	}
	if _, ok, _, err := client.GetRow(ctx, other.c, todo.Todos, "before"); err != nil || ok {
		t.Errorf("the other file has the shared file's row: %v %v", ok, err)
	}
}
