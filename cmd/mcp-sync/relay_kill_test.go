//go:build linux || darwin

package main

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/mcp-sync/mcp-sync/client"
	"github.com/mcp-sync/mcp-sync/examples/todo"
	"github.com/mcp-sync/mcp-sync/internal/relay"
)

// TestRelayOwnerKilled SIGKILLs the data file's owner ten times, each while
// an AI stream it runs is being written: no acknowledged write is lost, the
// surviving hosts are served again soon after, their watchers end with every
// committed change, and every interrupted run finishes.
func TestRelayOwnerKilled(t *testing.T) {
	if testing.Short() {
		t.Skip("starts and kills servers")
	}
	data := sharedFile(t, "shared.db")
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
