//go:build linux || darwin

package main

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	mgtransport "github.com/mark3labs/mcp-go/client/transport"

	"github.com/mcp-sync/mcp-sync/backend"
	"github.com/mcp-sync/mcp-sync/backend/ai"
	"github.com/mcp-sync/mcp-sync/backend/ai/localai"
	"github.com/mcp-sync/mcp-sync/cli"
	"github.com/mcp-sync/mcp-sync/client"
	"github.com/mcp-sync/mcp-sync/examples/todo"
	"github.com/mcp-sync/mcp-sync/internal/pgtest"
	"github.com/mcp-sync/mcp-sync/wire"
)

// replicaRuns is the figure: enqueued actions run through a kill.
const replicaRuns = 1000

// startPGReplica starts `serve --http --postgres` on the test's schema,
// its AI stream the test's (aiURL); its log is shown if the test fails.
func startPGReplica(t *testing.T, dsn, sch, aiURL string) cli.ServerProc {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	env := []string{ai.EnvBaseURL + "=" + aiURL, ai.EnvModel + "=" + localai.DefaultModel, "MCP_SYNC_POSTGRES=", "MCP_SYNC_POSTGRES_SCHEMA="}
	// A 6 s lease: a dead replica's runs are taken over within seconds,
	// and a renewal (every 2 s) survives a loaded machine's stalls.
	srv, err := cli.StartServerProcEnv(ctx, env, interopBinary(t), "serve", "--http", "127.0.0.1:0",
		"--postgres", dsn, "--postgres-schema", sch, "--run-lease", "6s")
	if err != nil {
		t.Fatalf("starting a replica: %v", err)
	}
	t.Cleanup(func() {
		srv.Stop()
		if t.Failed() {
			logs := srv.Logs()
			t.Logf("replica pid %d log (its end):\n%s", srv.PID, logs[max(0, len(logs)-4000):])
		}
	})
	return srv
}

// ack is a write a replica acknowledged.
type ack struct {
	version   uint64
	key, text string
}

// TestReplicasOverHTTP is issue 20's three-replica test through the
// product: three `mcp-sync serve --http --postgres` processes of the todo
// app on one PostgreSQL schema, driven over HTTP by our Go client (both
// protocol eras: 2026-07-28 sessionless, 2025-11-25 sessions) and mcp-go's.
// Writers on every replica write shared keys concurrently; a subscriber on
// every replica receives exactly the change log's todos changes, each
// version once, in order, none missing; 1,000 enqueued generate runs each
// succeed exactly once while one replica is SIGKILLed midway, and a run is
// claimed again only when its holder was the replica killed; an AI stream
// started on one replica is watched growing from another.
func TestReplicasOverHTTP(t *testing.T) {
	if testing.Short() {
		t.Skip("three servers on PostgreSQL and 1,000 runs")
	}
	began := time.Now()
	dsn := pgtest.DSN(t)
	sch := pgtest.Schema(t, dsn, t.Name())
	// Four chunks an answer, 40 ms apart: a run lasts long enough for the
	// victim to hold some when it dies, and the whole test stays short.
	aiSrv, err := localai.Start(localai.Options{Chunks: 4, Delay: 40 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { aiSrv.Close() })
	var reps [3]cli.ServerProc
	for i := range reps {
		reps[i] = startPGReplica(t, dsn, sch, aiSrv.URL())
	}
	const victim = 2
	audit := followLog(t, dsn, sch)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	dial := func(i int, legacy bool) *client.Conn {
		c, err := client.DialHTTP(ctx, reps[i].URL, client.Options{Legacy: legacy})
		if err != nil {
			t.Fatalf("dialing replica %d (legacy %v): %v", i, legacy, err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	var subs [3]*subscriber
	var conns [3]*client.Conn // writers' and enqueuers' Go clients
	var mgs [3]goClient       // mcp-go's, a writer of its own
	for i := range reps {
		subs[i] = subscribe(t, dial(i, i == 1))
		conns[i] = dial(i, i != 1)
		tr, err := mgtransport.NewStreamableHTTP(reps[i].URL)
		if err != nil {
			t.Fatal(err)
		}
		mgs[i] = newMG(t, tr, i == 0, newEvents())
		t.Cleanup(mgs[i].close)
	}

	// Writers: two on each replica (ours and mcp-go's), on 16 shared keys.
	var killed atomic.Bool
	var ackMu sync.Mutex
	var acks []ack
	stopWriters := make(chan struct{})
	var writers sync.WaitGroup
	writer := func(rep int, name string, write func(ctx context.Context, key, text string) (uint64, error)) {
		defer writers.Done()
		for n := range 150 {
			select {
			case <-stopWriters:
				return
			case <-time.After(15 * time.Millisecond):
			}
			key, text := fmt.Sprintf("w%02d", n%16), fmt.Sprintf("%s #%d", name, n)
			wctx, wcancel := context.WithTimeout(ctx, 30*time.Second)
			v, err := write(wctx, key, text)
			wcancel()
			if err != nil {
				if rep != victim || !killed.Load() {
					t.Errorf("writer %s: setTodo %s: %v", name, key, err)
				}
				return
			}
			ackMu.Lock()
			acks = append(acks, ack{v, key, text})
			ackMu.Unlock()
		}
	}
	for i := range reps {
		writers.Add(2)
		go writer(i, fmt.Sprintf("go@%d", i), func(ctx context.Context, key, text string) (uint64, error) {
			out, err := client.Mutate(ctx, conns[i], todo.SetTodo, todo.Todo{ID: key, Text: text})
			return out.Version, err
		})
		go writer(i, fmt.Sprintf("mcp-go@%d", i), func(ctx context.Context, key, text string) (uint64, error) {
			r, err := mgs[i].call(ctx, "setTodo", todo.Todo{ID: key, Text: text}, nil)
			if err == nil && r.isError {
				err = fmt.Errorf("%s", r.text)
			}
			var out wire.MutateOut
			if err == nil {
				err = json.Unmarshal(r.structured, &out)
			}
			return out.Version, err
		})
	}
	stopWriting := sync.OnceFunc(func() { close(stopWriters); writers.Wait() })
	defer stopWriting()

	// A stream started on replica 0, watched from replica 1's subscriber.
	const streamPrompt = "watched from another replica"
	streamed := make(chan error, 1)
	go func() {
		_, err := client.Action(ctx, conns[0], todo.Generate, todo.GenerateInput{ID: "stream", Prompt: streamPrompt})
		streamed <- err
	}()

	// 1,000 runs enqueued, a third through each replica.
	runIDs := make([]string, replicaRuns)
	var enq sync.WaitGroup
	var next atomic.Int64
	for range 4 * len(reps) {
		enq.Go(func() {
			for {
				n := int(next.Add(1)) - 1
				if n >= replicaRuns {
					return
				}
				out, err := client.Mutate(ctx, conns[n%len(reps)], todo.CreateAndGenerate, todo.GenerateInput{ID: fmt.Sprintf("g%04d", n), Prompt: fmt.Sprint("item ", n)})
				if err != nil || len(out.Runs) != 1 {
					t.Errorf("createAndGenerate g%04d through replica %d: %+v, %v", n, n%len(reps), out, err)
					return
				}
				runIDs[n] = out.Runs[0]
			}
		})
	}
	enq.Wait()
	if t.Failed() {
		t.FailNow()
	}
	enqueued := time.Since(began)

	// SIGKILL the victim midway, while it holds runs.
	mark := fmt.Sprintf("/%d/", reps[victim].PID)
	holding := func() bool {
		_, q, _ := audit.state()
		for _, owner := range q {
			if strings.Contains(owner, mark) {
				return true
			}
		}
		return false
	}
	if !waitUntil(2*time.Minute, func() bool { return audit.succeeded() >= 200 && holding() }) {
		t.Fatalf("%d runs succeeded, and the victim held none unfinished, within 2 minutes", audit.succeeded())
	}
	doneAtKill := audit.succeeded()
	killed.Store(true)
	if err := syscall.Kill(reps[victim].PID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	killedAt := time.Since(began)

	// Every run succeeds; the work list empties.
	if !waitUntil(3*time.Minute, func() bool {
		_, q, err := audit.state()
		return err != nil || len(q) == 0 && audit.succeeded() == replicaRuns
	}) {
		_, q, _ := audit.state()
		t.Fatalf("3 minutes after the kill: %d of %d runs succeeded, %d still in the work list", audit.succeeded(), replicaRuns, len(q))
	}
	ranAll := time.Since(began)
	if err := <-streamed; err != nil {
		t.Fatalf("the streamed generateWithAI on replica 0: %v", err)
	}
	stopWriting()

	// A last write marks the end: everything before it is in the log.
	end, err := client.Mutate(ctx, conns[0], todo.SetTodo, todo.Todo{ID: "zz-end", Text: "end"})
	if err != nil {
		t.Fatal(err)
	}
	if !waitUntil(time.Minute, func() bool {
		evs, _, err := audit.state()
		return err != nil || len(evs) > 0 && evs[len(evs)-1].version >= end.Version
	}) {
		t.Fatalf("the audit did not read the log through version %d", end.Version)
	}
	log, _, err := audit.state()
	if err != nil {
		t.Fatal(err)
	}
	checkRuns(ctx, t, audit, runIDs, mark, []goClient{mgs[0], mgs[1]})
	for i, s := range subs {
		if i != victim && !waitUntil(time.Minute, func() bool { return s.reached(end.Version) }) {
			t.Errorf("replica %d's subscriber did not reach version %d within a minute", i, end.Version)
		}
		if err := s.check(log, i != victim); err != nil {
			t.Errorf("replica %d's subscriber: %v", i, err)
		}
	}
	checkAcks(t, log, acks)
	checkTodos(t, log)
	texts := subs[1].textsOf("stream")
	if len(texts) < 3 || texts[len(texts)-1] != localai.Reply(streamPrompt) {
		t.Errorf("replica 1's subscriber saw the stream on replica 0 as %q; want ≥ 3 texts, the last %q", texts, localai.Reply(streamPrompt))
	}
	for j := 1; j < len(texts); j++ {
		if !strings.HasPrefix(texts[j], texts[j-1]) || texts[j] == texts[j-1] {
			t.Errorf("the stream's text did not grow from %q to %q", texts[j-1], texts[j])
		}
	}
	t.Logf("3 replicas: %d runs enqueued by %v; SIGKILL at %v with %d succeeded; all succeeded by %v; %d acknowledged writes; "+
		"%d todos versions checked on each subscriber; the stream seen in %d growing texts", replicaRuns, enqueued.Round(time.Millisecond),
		killedAt.Round(time.Millisecond), doneAtKill, ranAll.Round(time.Millisecond), len(acks), len(log), len(texts))
}

// checkRuns: every run succeeded exactly once (the log of .runs), get_run
// through a surviving replica says so with as many attempts as claims, and
// every claim but the last was the killed replica's (mark: "/pid/").
func checkRuns(ctx context.Context, t *testing.T, a *auditLog, ids []string, mark string, readers []goClient) {
	t.Helper()
	a.mu.Lock()
	claims, wins := maps.Clone(a.claims), maps.Clone(a.wins)
	a.mu.Unlock()
	takenOver, wrong := 0, 0
	var mu sync.Mutex
	var wg sync.WaitGroup
	var next atomic.Int64
	for w := range 4 {
		wg.Go(func() {
			for {
				n := int(next.Add(1)) - 1
				if n >= len(ids) {
					return
				}
				id := ids[n]
				r, err := readers[w%len(readers)].call(ctx, wire.ToolGetRun, wire.GetRunIn{ID: id}, nil)
				var run wire.Run
				if err == nil && !r.isError {
					err = json.Unmarshal(r.structured, &run)
				}
				if err == nil && r.isError {
					err = fmt.Errorf("%s", r.text)
				}
				problem, again := runProblem(run, wins[id], claims[id], mark)
				if err != nil {
					problem = fmt.Sprintf("get_run: %v", err)
				}
				mu.Lock()
				takenOver += again
				if problem != "" {
					wrong++
					t.Errorf("run %s: %s", id, problem)
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if takenOver == 0 {
		t.Error("no run was held by the killed replica: the kill tested nothing")
	}
	if wrong == 0 {
		t.Logf("%d runs succeeded once each (get_run and the log agree); %d taken over from the killed replica", len(ids), takenOver)
	}
}

// runProblem says what is wrong with a finished run: run is what get_run
// said, wins how many times the log recorded it succeeded, claims its
// holders in order; mark ("/pid/") names the replica killed, the only one
// whose claim may be followed by another's. again is how many times the
// run was taken over.
func runProblem(run wire.Run, wins int, claims []string, mark string) (problem string, again int) {
	switch {
	case run.Status != wire.RunStatus(backend.RunSucceeded) || wins != 1:
		return fmt.Sprintf("status %s, recorded succeeded %d times; want succeeded exactly once", run.Status, wins), 0
	case len(claims) != run.Attempts:
		return fmt.Sprintf("%d attempts but claimed by %v", run.Attempts, claims), 0
	}
	for _, owner := range claims[:max(len(claims)-1, 0)] {
		if !strings.Contains(owner, mark) {
			return fmt.Sprintf("claimed again after %s, which was not killed (killed: %s; claims %v)", owner, mark, claims), again
		}
		again++
	}
	return "", again
}

// checkAcks: every acknowledged write is in the log at the version it was
// told, with its text.
func checkAcks(t *testing.T, log []todoEvent, acks []ack) {
	t.Helper()
	at := make(map[uint64]todoEvent, len(log))
	for _, ev := range log {
		at[ev.version] = ev
	}
	for _, a := range acks {
		found := false
		for _, c := range at[a.version].changes {
			found = found || c.Key == a.key && c.Value.Text == a.text
		}
		if !found {
			t.Errorf("the write of %s = %q acknowledged at version %d is not in the log there: %+v", a.key, a.text, a.version, at[a.version].changes)
		}
	}
}

// checkTodos: each generated todo ends ready with its own prompt's text.
func checkTodos(t *testing.T, log []todoEvent) {
	t.Helper()
	last := map[string]todo.Todo{}
	for _, ev := range log {
		for _, c := range ev.changes {
			last[c.Key] = c.Value
		}
	}
	for n := range replicaRuns {
		id := fmt.Sprintf("g%04d", n)
		if r := last[id]; r.Status != todo.StatusReady || r.Text != localai.Reply(fmt.Sprint("item ", n)) {
			t.Errorf("todo %s ended %+v; want ready with its prompt's text", id, r)
		}
	}
}

// TestServeRunLeaseFlag: a run lease under a second is a usage error
// naming the flag.
func TestServeRunLeaseFlag(t *testing.T) {
	for _, v := range []string{"10ms", "0s", "-5s"} {
		code, _, errOut := runCmd(t, nil, "serve", "--run-lease", v)
		if code != cli.ExitUsage || !strings.Contains(errOut, "--run-lease") || !strings.Contains(errOut, "at least 1s") {
			t.Errorf("serve --run-lease %s: exit %d, %q", v, code, errOut)
		}
	}
}
