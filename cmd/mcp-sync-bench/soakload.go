package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/mcp-sync/mcp-sync/backend"
	"github.com/mcp-sync/mcp-sync/backend/ai"
	"github.com/mcp-sync/mcp-sync/backend/ai/localai"
	"github.com/mcp-sync/mcp-sync/cli"
	"github.com/mcp-sync/mcp-sync/examples/todo"
	"github.com/mcp-sync/mcp-sync/tools"
)

func runSoakLoad(ctx context.Context, env *cli.Environ, cfg soakConfig, asJSON bool) int {
	fail := func(format string, a ...any) int {
		fmt.Fprintf(env.Stderr, "mcp-sync-bench soak: "+format+"\n", a...)
		return cli.ExitFail
	}
	dir, err := os.MkdirTemp("", "mcp-sync-soak-")
	if err != nil {
		return fail("%v", err)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "soak.db")

	aiSrv, err := localai.Start(localai.Options{Delay: cfg.aiDelay, Chunks: 8})
	if err != nil {
		return fail("starting the local AI stream: %v", err)
	}
	defer aiSrv.Close()
	provider, err := ai.NewOpenAI(ai.Config{BaseURL: aiSrv.URL(), Model: localai.DefaultModel})
	if err != nil {
		return fail("%v", err)
	}
	// Warnings and errors the server logs are counted and shown: a soak
	// should not make the server complain about anything but bad input.
	logs := &cli.LockedBuffer{}
	logger := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelWarn}))
	eng, err := backend.Open(todo.Config(provider, env.Getenv), backend.Options{Path: path, Logger: logger})
	if err != nil {
		return fail("%v", err)
	}
	engClosed := false
	defer func() {
		if !engClosed {
			eng.Close()
		}
	}()
	srv, err := tools.New(eng, tools.Options{Name: "mcp-sync-soak", Logger: logger})
	if err != nil {
		return fail("%v", err)
	}
	defer srv.Close()
	serveCtx, stopServe := context.WithCancel(context.WithoutCancel(ctx))
	defer stopServe()
	urlc, served := make(chan string, 1), make(chan error, 1)
	hopts := tools.HTTPOptions{SessionIdleTTL: cfg.idleTTL}
	if cfg.idleTTL > 0 {
		hopts.HeartbeatInterval = cfg.idleTTL / 3
	}
	go func() {
		served <- srv.ServeHTTP(serveCtx, "127.0.0.1:0", hopts, func(u string) { urlc <- u })
	}()
	serving := true
	stop := func() {
		if serving {
			stopServe()
			<-served
			serving = false
		}
	}
	defer stop()
	var base string
	select {
	case base = <-urlc:
	case err := <-served:
		serving = false
		return fail("%v", err)
	}

	// Baselines: the server is up, no client has connected.
	time.Sleep(100 * time.Millisecond)
	start := soakCountsNow(srv)

	st := &soakStats{lat: map[string][]time.Duration{}, errs: map[string]int{}, bad: map[string]*soakBad{}}
	rep := soakReport{Duration: cfg.duration.String(), Sessions: cfg.sessions, Transports: map[string]int{}, Start: start,
		SessionIdleTTL: "30m0s (server default)"}
	if cfg.idleTTL > 0 {
		rep.SessionIdleTTL = cfg.idleTTL.String()
	}
	began := time.Now()
	deadline := began.Add(cfg.duration)
	const grace = 20 * time.Second
	loadCtx, cancelLoad := context.WithDeadline(ctx, deadline.Add(grace))
	defer cancelLoad()
	var wg sync.WaitGroup
	for i := range cfg.sessions {
		w := &soakWorker{id: i, base: base, st: st, deadline: deadline, rng: rand.New(rand.NewPCG(uint64(i), uint64(began.UnixNano()))),
			model: map[string]string{}, watching: i%3 != 0}
		w.transport = w.pickTransport()
		rep.Transports[w.transport]++
		if w.watching {
			rep.Watchers++
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			w.run(loadCtx)
		}()
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(time.Until(deadline) + grace + 5*time.Second):
		rep.Problems = append(rep.Problems, "workers did not finish within the duration plus the grace period")
	}
	elapsed := time.Since(began)
	if ctx.Err() != nil {
		rep.Problems = append(rep.Problems, "interrupted")
	}

	// The clients are closed; idle keep-alive connections in this process's
	// pool (every mcp-go client and the AI provider use
	// http.DefaultTransport) would hold a goroutine pair here and one on the
	// server side each: close them, as a process exiting would.
	if t, ok := http.DefaultTransport.(*http.Transport); ok {
		t.CloseIdleConnections()
	}
	waitStart := time.Now()
	end := soakCountsNow(srv)
	for !end.returned(start) && time.Since(waitStart) < 10*time.Second {
		time.Sleep(100 * time.Millisecond)
		if t, ok := http.DefaultTransport.(*http.Transport); ok {
			t.CloseIdleConnections()
		}
		end = soakCountsNow(srv)
	}
	rep.End, rep.Returned, rep.ReturnWait = end, end.returned(start), time.Since(waitStart).Round(time.Millisecond).String()
	if !rep.Returned {
		rep.Problems = append(rep.Problems, fmt.Sprintf("counts did not return to the baseline within 10 s: start %+v, end %+v", start, end))
		if end.Goroutines > start.Goroutines+soakGoroutineSlack {
			buf := make([]byte, 1<<20)
			buf = buf[:runtime.Stack(buf, true)]
			fmt.Fprintf(env.Stderr, "goroutines after the soak:\n%s\n", buf)
		}
	}

	// Stop serving, close the engine, check the file.
	stop()
	srv.Close()
	rep.DataFileVersions = eng.Version()
	if err := eng.Close(); err != nil {
		rep.Problems = append(rep.Problems, fmt.Sprintf("closing the engine: %v", err))
	}
	engClosed = true
	if fi, err := os.Stat(path); err == nil {
		rep.DataFileBytes = fi.Size()
	}
	rep.Check, rep.CheckOK = soakBoltCheck(path)
	if !rep.CheckOK {
		rep.Problems = append(rep.Problems, "bbolt consistency check: "+rep.Check)
	}

	// Figures.
	st.mu.Lock()
	kinds := make([]string, 0, len(st.lat))
	for k := range st.lat {
		kinds = append(kinds, k)
	}
	for k := range st.errs {
		if _, ok := st.lat[k]; !ok {
			kinds = append(kinds, k)
		}
	}
	slices.Sort(kinds)
	for _, k := range kinds {
		d := st.lat[k]
		slices.Sort(d)
		kd := soakKind{Kind: k, Calls: len(d), PerSec: float64(len(d)) / elapsed.Seconds(), Errors: st.errs[k]}
		if len(d) > 0 {
			kd.P50Ms, kd.P99Ms, kd.MaxMs = percentileMs(d, 0.50), percentileMs(d, 0.99), percentileMs(d, 1)
		}
		rep.Kinds = append(rep.Kinds, kd)
		rep.Operations += len(d)
	}
	rep.OpsPerSec = float64(rep.Operations) / elapsed.Seconds()
	rep.Errors, rep.ErrorSamples = st.errN, st.samples
	rep.Reconnects, rep.SubUpdates, rep.ProgressSeen = st.reconnect, st.subSeen, int(st.progress.Load())
	badKinds := make([]string, 0, len(st.bad))
	for k := range st.bad {
		badKinds = append(badKinds, k)
	}
	slices.Sort(badKinds)
	for _, k := range badKinds {
		b := *st.bad[k]
		rep.BadInputs = append(rep.BadInputs, b)
		if b.AsExpect != b.Sent {
			rep.Problems = append(rep.Problems, fmt.Sprintf("bad input %s: %d of %d not answered with %s (first: %s)", k, b.Sent-b.AsExpect, b.Sent, b.Expected, b.Other))
		}
	}
	st.mu.Unlock()
	if rep.Errors > 0 {
		rep.Problems = append(rep.Problems, fmt.Sprintf("%d unexpected errors", rep.Errors))
	}
	if rep.Operations == 0 {
		rep.Problems = append(rep.Problems, "no operation completed")
	}
	for _, line := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
		if line == "" {
			continue
		}
		rep.ServerWarnings++
		if len(rep.WarningSamples) < 10 {
			rep.WarningSamples = append(rep.WarningSamples, line)
		}
	}

	if asJSON {
		enc := json.NewEncoder(env.Stdout)
		enc.SetIndent("", "  ")
		_ = enc.Encode(rep)
	} else {
		printSoak(env.Stdout, rep, elapsed)
	}
	if len(rep.Problems) > 0 {
		return cli.ExitFail
	}
	return cli.ExitOK
}

func printSoak(w io.Writer, r soakReport, elapsed time.Duration) {
	tr := make([]string, 0, len(r.Transports))
	for k, n := range r.Transports {
		tr = append(tr, fmt.Sprintf("%d %s", n, k))
	}
	slices.Sort(tr)
	fmt.Fprintf(w, "soak: %d sessions (%s; %d following their row with client.Watch, the rest with a bare subscription) for %s (ran %s); session idle TTL %s\n\n",
		r.Sessions, strings.Join(tr, ", "), r.Watchers, r.Duration, elapsed.Round(time.Millisecond), r.SessionIdleTTL)
	fmt.Fprintf(w, "%-22s %8s %9s %9s %9s %9s %7s\n", "operation", "count", "per s", "p50 ms", "p99 ms", "max ms", "errors")
	for _, k := range r.Kinds {
		fmt.Fprintf(w, "%-22s %8d %9.1f %9.2f %9.2f %9.2f %7d\n", k.Kind, k.Calls, k.PerSec, k.P50Ms, k.P99Ms, k.MaxMs, k.Errors)
	}
	fmt.Fprintf(w, "%-22s %8d %9.1f\n\n", "total", r.Operations, r.OpsPerSec)
	fmt.Fprintf(w, "reconnects: %d; subscription updates seen: %d; progress reports seen: %d\n", r.Reconnects, r.SubUpdates, r.ProgressSeen)
	fmt.Fprintf(w, "unexpected errors: %d\n", r.Errors)
	for _, s := range r.ErrorSamples {
		fmt.Fprintf(w, "  %s\n", s)
	}
	fmt.Fprintln(w, "deliberate bad inputs:")
	for _, b := range r.BadInputs {
		fmt.Fprintf(w, "  %-26s %4d sent, %4d answered %s\n", b.Kind, b.Sent, b.AsExpect, b.Expected)
		if b.Other != "" {
			fmt.Fprintf(w, "    unexpected answer: %s\n", b.Other)
		}
	}
	fmt.Fprintf(w, "server warnings logged: %d\n", r.ServerWarnings)
	for _, s := range r.WarningSamples {
		fmt.Fprintf(w, "  %s\n", s)
	}
	fmt.Fprintf(w, "counts       %10s %8s %11s %13s %13s %5s\n", "goroutines", "sessions", "subscribers", "subscriptions", "watchedTables", "calls")
	for _, c := range []struct {
		name string
		c    soakCounts
	}{{"start", r.Start}, {"end", r.End}} {
		fmt.Fprintf(w, "  %-10s %10d %8d %11d %13d %13d %5d\n", c.name, c.c.Goroutines, c.c.Sessions, c.c.Subscribers, c.c.Subscriptions, c.c.WatchedTables, c.c.Calls)
	}
	fmt.Fprintf(w, "returned to start: %v (waited %s; goroutines may be up to %d above)\n", r.Returned, r.ReturnWait, soakGoroutineSlack)
	fmt.Fprintf(w, "data file: %d bytes, version %d; bbolt check: %s\n", r.DataFileBytes, r.DataFileVersions, r.Check)
	if len(r.Problems) == 0 {
		fmt.Fprintln(w, "PASS")
		return
	}
	fmt.Fprintln(w, "FAIL:")
	for _, p := range r.Problems {
		fmt.Fprintf(w, "  %s\n", p)
	}
}

// soakBoltCheck opens the closed data file read-only and runs bbolt's
// consistency check over it.
func soakBoltCheck(path string) (string, bool) {
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: 5 * time.Second})
	if err != nil {
		return "opening the file: " + err.Error(), false
	}
	defer db.Close()
	var problems []string
	err = db.View(func(tx *bolt.Tx) error {
		for err := range tx.Check() {
			problems = append(problems, err.Error())
		}
		return nil
	})
	if err != nil {
		return err.Error(), false
	}
	if len(problems) > 0 {
		if len(problems) > 5 {
			problems = append(problems[:5], fmt.Sprintf("… %d more", len(problems)-5))
		}
		return strings.Join(problems, "; "), false
	}
	return "ok (tx.Check found no inconsistency)", true
}
