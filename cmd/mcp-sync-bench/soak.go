package main

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/mcp-sync/mcp-sync/backend"
	"github.com/mcp-sync/mcp-sync/backend/ai"
	"github.com/mcp-sync/mcp-sync/backend/ai/localai"
	"github.com/mcp-sync/mcp-sync/client"
	"github.com/mcp-sync/mcp-sync/examples/todo"
	"github.com/mcp-sync/mcp-sync/internal/cli"
	"github.com/mcp-sync/mcp-sync/tools"
	"github.com/mcp-sync/mcp-sync/tools/wire"
)

// soakServerBinary is the mcp-sync binary the idle-session measurement
// serves with; empty means this program. Tests set it (a test binary cannot
// serve).
var soakServerBinary string

// soakGoroutineSlack is how many goroutines above the baseline still count
// as "returned": the runtime and net/http park a few short-lived ones
// (a connection's closing reader, a timer's callback) that end on their own.
const soakGoroutineSlack = 5

func runSoak(ctx context.Context, env *cli.Environ, args []string) int {
	fs := cli.NewFlags(env, "mcp-sync-bench", "soak", "soak [flags]",
		"Runs the todo app in-process on a temp data file and drives it over HTTP with\n"+
			"--sessions clients for --duration: mutators, actions with progress, reads,\n"+
			"subscriptions, clients reconnecting every few seconds, and ~5% deliberately bad\n"+
			"inputs. Then checks that goroutines, sessions and subscriptions return to their\n"+
			"starting counts and that the bbolt file passes a consistency check. Exit 1 on\n"+
			"any unexpected error.\n\n"+
			"With --idle-sessions N it instead starts `mcp-sync serve --http` as a child\n"+
			"process, opens N idle HTTP sessions each subscribed to one row, and reports the\n"+
			"server's resident memory with 0 and with N sessions."+abuseHelp)
	duration := fs.Duration("duration", 60*time.Second, "how long the load runs")
	sessions := fs.Int("sessions", 16, "concurrent client sessions under load")
	idle := fs.Int("idle-sessions", 0, "measure the server's memory with this many idle subscribed sessions instead of running the load")
	idleEra := fs.String("idle-era", "legacy", "protocol era of the idle sessions: legacy (2025-11-25: a server session, resources/subscribe, a GET stream) or modern (2026-07-28: a subscriptions/listen stream)")
	maxRSS := fs.Float64("max-rss-mb", 0, "fail when the server's RSS exceeds this many MB: with --idle-sessions, with the sessions open (0: 200); with --abuse, its max (0: 300)")
	aiDelay := fs.Duration("ai-delay", 2*time.Millisecond, "pause between chunks of the local AI stream (with --abuse, unless given: 30ms)")
	idleTTL := fs.Duration("session-idle-ttl", 0, "the soak server's streamable HTTP session idle TTL (0: the server default, 30 min)")
	asJSON := fs.Bool("json", false, "print the report as JSON")
	bin := fs.String("server-binary", "", "with --idle-sessions or --abuse: the mcp-sync binary to serve with (default: this program)")
	abuse := addAbuseFlags(fs)
	if code, ok := cli.Parse(fs, args); !ok {
		return code
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(env.Stderr, "mcp-sync soak: unexpected argument %q\n", fs.Arg(0))
		return cli.ExitUsage
	}
	if *idle < 0 || *sessions < 1 || *duration <= 0 {
		fmt.Fprintln(env.Stderr, "mcp-sync soak: --sessions and --duration must be positive, --idle-sessions not negative")
		return cli.ExitUsage
	}
	if *idleEra != "legacy" && *idleEra != "modern" {
		fmt.Fprintf(env.Stderr, "mcp-sync soak: --idle-era %q: want legacy or modern\n", *idleEra)
		return cli.ExitUsage
	}
	binary := cmp.Or(*bin, soakServerBinary)
	if *abuse.on {
		return abuse.run(ctx, env, fs, binary, *maxRSS, *aiDelay, *asJSON)
	}
	if *idle > 0 {
		return runIdleSessions(ctx, env, *idle, *idleEra == "legacy", binary, cmp.Or(*maxRSS, 200), *asJSON)
	}
	return runSoakLoad(ctx, env, soakConfig{duration: *duration, sessions: *sessions, aiDelay: *aiDelay, idleTTL: *idleTTL}, *asJSON)
}

type soakConfig struct {
	duration time.Duration
	sessions int
	aiDelay  time.Duration
	idleTTL  time.Duration
}

// soakCounts are the counts that must come back after the load.
type soakCounts struct {
	Goroutines    int   `json:"goroutines"`
	Sessions      int64 `json:"sessions"`
	Subscribers   int   `json:"subscribers"`
	Subscriptions int   `json:"subscriptions"`
	WatchedTables int   `json:"watchedTables"`
	Calls         int   `json:"calls"`
}

func soakCountsNow(srv *tools.Server) soakCounts {
	st := srv.Stats()
	return soakCounts{Goroutines: runtime.NumGoroutine(), Sessions: st.Sessions, Subscribers: st.Subscribers,
		Subscriptions: st.Subscriptions, WatchedTables: st.WatchedTables, Calls: st.Calls}
}

// returned says whether now is back at base (goroutines within the slack).
func (now soakCounts) returned(base soakCounts) bool {
	return now.Goroutines <= base.Goroutines+soakGoroutineSlack && now.Sessions == base.Sessions &&
		now.Subscribers == base.Subscribers && now.Subscriptions == base.Subscriptions && now.Calls == base.Calls
}

// soakKind is one kind of operation's figures.
type soakKind struct {
	Kind   string  `json:"kind"`
	Calls  int     `json:"calls"`
	PerSec float64 `json:"perSec"`
	P50Ms  float64 `json:"p50Ms"`
	P99Ms  float64 `json:"p99Ms"`
	MaxMs  float64 `json:"maxMs"`
	Errors int     `json:"errors"`
}

// soakBad is one kind of deliberately bad input.
type soakBad struct {
	Kind     string `json:"kind"`
	Expected string `json:"expected"`
	Sent     int    `json:"sent"`
	AsExpect int    `json:"asExpected"`
	Other    string `json:"other,omitempty"` // the first answer that was not the expected kind
}

type soakReport struct {
	Duration         string         `json:"duration"`
	Sessions         int            `json:"sessions"`
	Transports       map[string]int `json:"transports"` // workers by transport
	Watchers         int            `json:"watchers"`   // workers following their row with client.Watch
	Operations       int            `json:"operations"`
	OpsPerSec        float64        `json:"opsPerSec"`
	Kinds            []soakKind     `json:"kinds"`
	Reconnects       int            `json:"reconnects"`
	SubUpdates       int            `json:"subscriptionUpdatesSeen"`
	ProgressSeen     int            `json:"progressReportsSeen"`
	Errors           int            `json:"errors"`
	ErrorSamples     []string       `json:"errorSamples,omitempty"`
	BadInputs        []soakBad      `json:"badInputs"`
	Start            soakCounts     `json:"start"`
	End              soakCounts     `json:"end"`
	Returned         bool           `json:"returned"`
	ReturnWait       string         `json:"returnWait"`
	ServerWarnings   int            `json:"serverWarnings"`
	WarningSamples   []string       `json:"serverWarningSamples,omitempty"`
	Check            string         `json:"boltCheck"`
	CheckOK          bool           `json:"boltCheckOK"`
	SessionIdleTTL   string         `json:"sessionIdleTTL"`
	Problems         []string       `json:"problems,omitempty"`
	DataFileBytes    int64          `json:"dataFileBytes"`
	DataFileVersions uint64         `json:"dataFileVersion"`
}

// soakStats collects what the workers see.
type soakStats struct {
	mu        sync.Mutex
	lat       map[string][]time.Duration
	errs      map[string]int
	errN      int
	samples   []string
	bad       map[string]*soakBad
	reconnect int
	subSeen   int
	progress  atomic.Int64
}

// sawWrite counts a check that a subscriber saw its worker's write.
func (s *soakStats) sawWrite() {
	s.mu.Lock()
	s.subSeen++
	s.mu.Unlock()
}

func (s *soakStats) ok(kind string, d time.Duration) {
	s.mu.Lock()
	s.lat[kind] = append(s.lat[kind], d)
	s.mu.Unlock()
}

func (s *soakStats) fail(kind string, d time.Duration, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if d > 0 {
		s.lat[kind] = append(s.lat[kind], d)
	}
	s.errs[kind]++
	s.errN++
	if len(s.samples) < 20 {
		s.samples = append(s.samples, fmt.Sprintf("%s: %v", kind, err))
	}
}

func (s *soakStats) badInput(kind, expected string, asExpected bool, got string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b := s.bad[kind]
	if b == nil {
		b = &soakBad{Kind: kind, Expected: expected}
		s.bad[kind] = b
	}
	b.Sent++
	if asExpected {
		b.AsExpect++
	} else if b.Other == "" {
		b.Other = got
	}
}

func runSoakLoad(ctx context.Context, env *cli.Environ, cfg soakConfig, asJSON bool) int {
	fail := func(format string, a ...any) int {
		fmt.Fprintf(env.Stderr, "mcp-sync soak: "+format+"\n", a...)
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

// soakWorker is one client session's loop.
type soakWorker struct {
	id        int
	base      string
	transport string // "modern", "legacy" or "sse"
	st        *soakStats
	deadline  time.Time
	rng       *rand.Rand
	n         int

	cn      *client.Conn
	subURI  string
	updates <-chan struct{}
	stopSub func()
	// Two of every three workers follow their row with a client.Watch
	// (changes carried in notifications) instead of a bare subscription
	// and resource reads: each write must come out of the watch, in order,
	// once.
	watching  bool
	events    <-chan client.Event[todo.Todo]
	stopWatch func()
	expect    []soakWrite       // writes to the row, not yet out of the watch
	maybe     []string          // texts whose write failed: committed or not
	model     map[string]string // key → text this worker last wrote (its own keys); absent: deleted
	runs      []string
}

// pickTransport mixes the eras: every 8th worker (from the 4th) over SSE,
// the rest alternating modern and legacy streamable HTTP.
func (w *soakWorker) pickTransport() string {
	switch {
	case w.id%8 == 3:
		return "sse"
	case w.id%2 == 0:
		return "modern"
	}
	return "legacy"
}

func (w *soakWorker) connect(ctx context.Context) error {
	url, o := w.base+tools.PathStreamable, client.Options{Legacy: w.transport == "legacy"}
	if w.transport == "sse" {
		url = w.base + tools.PathSSE
	}
	t0 := time.Now()
	dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	cn, err := client.DialHTTP(dctx, url, o)
	if err != nil {
		w.st.fail("connect", time.Since(t0), err)
		return err
	}
	w.st.ok("connect", time.Since(t0))
	w.cn = cn
	// Subscribe to the worker's watched row and wait until an update
	// arrives, so later checks measure delivery, not stream set-up.
	w.subURI = wire.RowURI(todo.Todos.Name(), w.key("sub"))
	t0 = time.Now()
	sctx, cancel2 := context.WithTimeout(ctx, 10*time.Second)
	defer cancel2()
	if w.watching {
		if err := w.startWatch(ctx, sctx); err != nil {
			w.st.fail("subscribe", time.Since(t0), err)
			return err
		}
	} else {
		updates, stopSub, err := cn.Subscribe(sctx, w.subURI)
		if err != nil {
			w.st.fail("subscribe", time.Since(t0), err)
			return err
		}
		w.updates, w.stopSub = updates, stopSub
	}
	for attempt := 0; ; attempt++ {
		ok, err := w.writeAndAwait(sctx, 300*time.Millisecond)
		if err != nil {
			w.st.fail("subscribe", time.Since(t0), err)
			return err
		}
		if ok {
			break
		}
		if attempt == 20 {
			err := fmt.Errorf("no update on %s within 6 s of subscribing (%s)", w.subURI, w.transport)
			w.st.fail("subscribe", time.Since(t0), err)
			return err
		}
	}
	w.st.ok("subscribe", time.Since(t0))
	return nil
}

// startWatch follows the worker's row with a client.Watch from a snapshot;
// its events arrive on w.events until the watch stops.
func (w *soakWorker) startWatch(ctx, sctx context.Context) error {
	wt, err := client.Watch(sctx, w.cn, todo.Todos, client.Selector{Key: w.key("sub")}, 0)
	if err != nil {
		return err
	}
	if ev, err := wt.Next(sctx); err != nil || !ev.Resync {
		wt.Close()
		return fmt.Errorf("watch of %s: first event %+v, %v; want the snapshot", w.subURI, ev, err)
	}
	wctx, cancel := context.WithCancel(ctx)
	events := make(chan client.Event[todo.Todo], 64)
	go func() {
		defer close(events)
		for {
			ev, err := wt.Next(wctx)
			if err != nil {
				return
			}
			select {
			case events <- ev:
			case <-wctx.Done():
				return
			}
		}
	}()
	w.events, w.expect, w.maybe = events, nil, nil
	w.stopWatch = func() { cancel(); wt.Close() }
	return nil
}

func (w *soakWorker) disconnect() {
	if w.cn == nil {
		return
	}
	if w.stopSub != nil {
		w.stopSub()
	}
	if w.stopWatch != nil {
		// What the watch delivered since the last check must hold too (a
		// change repeated after it, say).
		for drained := false; !drained; {
			select {
			case ev, open := <-w.events:
				if !open {
					drained = true
				} else if err := w.checkEvent(ev); err != nil {
					w.st.fail("subscription_update", 0, err)
					drained = true
				}
			default:
				drained = true
			}
		}
		w.stopWatch()
	}
	_ = w.cn.Close()
	w.cn, w.updates, w.stopSub, w.events, w.stopWatch, w.expect, w.maybe = nil, nil, nil, nil, nil, nil, nil
}

func (w *soakWorker) key(s string) string { return fmt.Sprintf("soak-w%02d-%s", w.id, s) }

func (w *soakWorker) run(ctx context.Context) {
	defer w.disconnect()
	// Each worker reconnects every 3–5 s, staggered so that some client is
	// always in the middle of one.
	every := 3*time.Second + time.Duration(w.id%5)*500*time.Millisecond
	next := time.Now().Add(time.Duration(w.id) * 250 * time.Millisecond % every)
	for time.Now().Before(w.deadline) && ctx.Err() == nil {
		if w.cn == nil || time.Now().After(next) {
			if w.cn != nil {
				w.disconnect()
				w.st.mu.Lock()
				w.st.reconnect++
				w.st.mu.Unlock()
			}
			next = time.Now().Add(every)
			if err := w.connect(ctx); err != nil {
				w.disconnect()
				time.Sleep(200 * time.Millisecond)
			}
			continue
		}
		w.step(ctx)
	}
}

// step runs one randomly chosen operation.
func (w *soakWorker) step(ctx context.Context) {
	w.n++
	cctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	k := w.key("k" + strconv.Itoa(w.rng.IntN(8)))
	p := w.rng.IntN(1000)
	switch {
	case p < 250:
		text := fmt.Sprintf("todo %d of worker %d", w.n, w.id)
		w.timed("setTodo", func() error {
			_, err := client.Mutate(cctx, w.cn, todo.SetTodo, todo.Todo{ID: k, Text: text, Status: todo.StatusReady})
			if err == nil {
				w.model[k] = text
			}
			return err
		})
	case p < 350:
		w.timed("deleteTodo", func() error {
			_, err := client.Mutate(cctx, w.cn, todo.DeleteTodo, todo.DeleteInput{ID: k})
			if err == nil {
				delete(w.model, k)
			}
			return err
		})
	case p < 550:
		w.timed("get_row", func() error { return w.checkRow(cctx, k) })
	case p < 650:
		w.timed("list_rows", func() error { return w.checkList(cctx) })
	case p < 720:
		w.timed("read_resource", func() error {
			text, err := w.cn.ReadResource(cctx, wire.RowURI(todo.Todos.Name(), k))
			want, exists := w.model[k]
			switch {
			case err != nil && !exists && errors.Is(err, client.ErrUnknown):
				return nil // a deleted row reads as unknown
			case err != nil:
				return err
			case !exists:
				return fmt.Errorf("resource %s read %s, but the row was deleted", k, text)
			}
			var got todo.Todo
			if err := json.Unmarshal([]byte(text), &got); err != nil || got.Text != want {
				return fmt.Errorf("resource %s read %s, want text %q (err %v)", k, text, want, err)
			}
			return nil
		})
	case p < 820:
		w.timed("subscription_update", func() error {
			ok, err := w.writeAndAwait(cctx, 3*time.Second)
			if err == nil && !ok {
				err = fmt.Errorf("no update on %s (%s) within 3 s of a committed write", w.subURI, w.transport)
			}
			return err
		})
	case p < 860:
		gk := w.key("g" + strconv.Itoa(w.n))
		w.timed("generateWithAI", func() error {
			out, err := client.Action(cctx, w.cn, todo.Generate, todo.GenerateInput{ID: gk, Prompt: "soak " + gk},
				client.WithProgress(func(float64, float64, string) { w.st.progress.Add(1) }))
			if err == nil && out.Text == "" {
				err = errors.New("generateWithAI answered an empty text")
			}
			return err
		})
	case p < 890:
		ck := w.key("c" + strconv.Itoa(w.n))
		w.timed("createAndGenerate", func() error {
			res, err := client.Mutate(cctx, w.cn, todo.CreateAndGenerate, todo.GenerateInput{ID: ck, Prompt: "soak " + ck})
			if err == nil {
				if len(res.Runs) == 0 {
					return errors.New("createAndGenerate enqueued no run")
				}
				w.runs = append(w.runs, res.Runs...)
			}
			return err
		})
	case p < 950:
		if len(w.runs) == 0 {
			return
		}
		id := w.runs[w.rng.IntN(len(w.runs))]
		w.timed("get_run", func() error {
			raw, err := w.cn.Call(cctx, "get_run", map[string]string{"id": id})
			if err == nil && !strings.Contains(string(raw), id) {
				err = fmt.Errorf("get_run %s answered %s", id, raw)
			}
			return err
		})
	default:
		w.badInput(cctx)
	}
}

func (w *soakWorker) timed(kind string, f func() error) {
	t0 := time.Now()
	err := f()
	if err != nil {
		w.st.fail(kind, time.Since(t0), err)
		return
	}
	w.st.ok(kind, time.Since(t0))
}

// writeSub writes a new text to the worker's subscribed row.
func (w *soakWorker) writeSub(ctx context.Context) (string, client.MutateResult, error) {
	text := fmt.Sprintf("watched %d of worker %d at %d", w.n, w.id, time.Now().UnixNano())
	w.n++
	res, err := client.Mutate(ctx, w.cn, todo.SetTodo, todo.Todo{ID: w.key("sub"), Text: text, Status: todo.StatusReady})
	return text, res, err
}

// writeAndAwait writes the subscribed row and waits up to wait for an
// update after which the row reads back what was written.
func (w *soakWorker) writeAndAwait(ctx context.Context, wait time.Duration) (bool, error) {
	if w.watching {
		return w.writeAndWatch(ctx, wait)
	}
	for drained := false; !drained; { // a wake-up from an earlier write
		select {
		case <-w.updates:
		default:
			drained = true
		}
	}
	text, _, err := w.writeSub(ctx)
	if err != nil {
		return false, err
	}
	timeout := time.After(wait)
	for {
		select {
		case _, open := <-w.updates:
			if !open {
				return false, errors.New("the subscription channel closed while connected")
			}
			raw, err := w.cn.ReadResource(ctx, w.subURI)
			if err != nil {
				return false, err
			}
			var got todo.Todo
			if json.Unmarshal([]byte(raw), &got) == nil && got.Text == text {
				w.st.sawWrite()
				return true, nil
			}
		case <-timeout:
			return false, nil
		case <-ctx.Done():
			return false, ctx.Err()
		}
	}
}

// writeAndWatch writes the worker's row and waits up to wait for the watch
// to deliver the write: every text written must come out once, in order.
func (w *soakWorker) writeAndWatch(ctx context.Context, wait time.Duration) (bool, error) {
	text, res, err := w.writeSub(ctx)
	if err != nil {
		// Committed or not: if it comes out of the watch, skip it.
		w.maybe = append(w.maybe, text)
		return false, err
	}
	w.expect = append(w.expect, soakWrite{text: text, version: res.Version})
	timeout := time.After(wait)
	for {
		select {
		case ev, open := <-w.events:
			if !open {
				return false, errors.New("the watch ended while connected")
			}
			if err := w.checkEvent(ev); err != nil {
				return false, err
			}
			if len(w.expect) == 0 {
				w.st.sawWrite()
				return true, nil
			}
		case <-timeout:
			return false, nil
		case <-ctx.Done():
			return false, ctx.Err()
		}
	}
}

// soakWrite is a write to a watched row and the version it committed.
type soakWrite struct {
	text    string
	version uint64
}

// checkEvent matches an event of the worker's watch against the writes it
// is owed, in order.
func (w *soakWorker) checkEvent(ev client.Event[todo.Todo]) error {
	if ev.Resync { // the log no longer reached back (allowed): the snapshot holds what came before
		for len(w.expect) > 0 && w.expect[0].version <= ev.Version {
			w.expect = w.expect[1:]
		}
		return nil
	}
	for _, ch := range ev.Changes {
		if i := slices.Index(w.maybe, ch.Value.Text); i >= 0 && !ch.Deleted {
			w.maybe = slices.Delete(w.maybe, i, i+1)
			continue
		}
		if len(w.expect) == 0 || ch.Deleted || ch.Value.Text != w.expect[0].text {
			want := "nothing"
			if len(w.expect) > 0 {
				want = fmt.Sprintf("%q", w.expect[0].text)
			}
			err := fmt.Errorf("watch of %s (%s) delivered %q at version %d, want %s: a change missed, repeated or out of order",
				w.subURI, w.transport, ch.Value.Text, ev.Version, want)
			// Report it once: go on from what was delivered.
			i := slices.IndexFunc(w.expect, func(x soakWrite) bool { return x.text == ch.Value.Text })
			w.expect = w.expect[i+1:] // i == -1: none owed any more
			return err
		}
		w.expect = w.expect[1:]
	}
	return nil
}

// checkRow reads one of the worker's keys with get_row and compares it
// with what the worker last wrote there.
func (w *soakWorker) checkRow(ctx context.Context, k string) error {
	raw, err := w.cn.Call(ctx, "get_row", map[string]string{"table": todo.Todos.Name(), "key": k})
	if err != nil {
		return err
	}
	var got struct {
		Found bool      `json:"found"`
		Value todo.Todo `json:"value"`
	}
	if err := json.Unmarshal(raw, &got); err != nil {
		return fmt.Errorf("get_row answered %s: %v", raw, err)
	}
	want, exists := w.model[k]
	if got.Found != exists || (exists && got.Value.Text != want) {
		return fmt.Errorf("get_row %s: found=%v text %q, want found=%v text %q", k, got.Found, got.Value.Text, exists, want)
	}
	return nil
}

// checkList lists the worker's keys and compares them with its model.
func (w *soakWorker) checkList(ctx context.Context) error {
	raw, err := w.cn.Call(ctx, "list_rows", map[string]any{"table": todo.Todos.Name(), "prefix": w.key("k")})
	if err != nil {
		return err
	}
	var got struct {
		Rows []struct {
			Key   string    `json:"key"`
			Value todo.Todo `json:"value"`
		} `json:"rows"`
	}
	if err := json.Unmarshal(raw, &got); err != nil {
		return fmt.Errorf("list_rows answered %s: %v", raw, err)
	}
	if len(got.Rows) != len(w.model) {
		return fmt.Errorf("list_rows %s*: %d rows, want %d", w.key("k"), len(got.Rows), len(w.model))
	}
	for _, r := range got.Rows {
		if want, ok := w.model[r.Key]; !ok || r.Value.Text != want {
			return fmt.Errorf("list_rows: row %s text %q, want %q (present %v)", r.Key, r.Value.Text, want, ok)
		}
	}
	return nil
}

// badInput sends one deliberately wrong request and checks that it failed
// the way it should: invalid input or unknown, and nothing else.
func (w *soakWorker) badInput(ctx context.Context) {
	kinds := []struct {
		kind, expected string
		want           error
		call           func() error
	}{
		{"setTodo wrong types", "invalid input", client.ErrInvalidInput, func() error {
			_, err := w.cn.Call(ctx, "setTodo", map[string]any{"id": 5, "text": true})
			return err
		}},
		{"setTodo missing id", "invalid input", client.ErrInvalidInput, func() error {
			_, err := w.cn.Call(ctx, "setTodo", map[string]any{"text": "no id"})
			return err
		}},
		{"deleteTodo empty id", "invalid input", client.ErrInvalidInput, func() error {
			_, err := w.cn.Call(ctx, "deleteTodo", map[string]any{"id": ""})
			return err
		}},
		{"generateWithAI no prompt", "invalid input", client.ErrInvalidInput, func() error {
			_, err := w.cn.Call(ctx, "generateWithAI", map[string]any{"id": w.key("x")})
			return err
		}},
		{"setTodo array arguments", "invalid input", client.ErrInvalidInput, func() error {
			_, err := w.cn.Call(ctx, "setTodo", []int{1, 2})
			return err
		}},
		{"get_row unknown table", "unknown", client.ErrUnknown, func() error {
			_, err := w.cn.Call(ctx, "get_row", map[string]string{"table": "nope", "key": "x"})
			return err
		}},
		{"get_row wrong types", "invalid input", client.ErrInvalidInput, func() error {
			_, err := w.cn.Call(ctx, "get_row", map[string]any{"table": 7, "key": []int{1}})
			return err
		}},
		{"unknown tool", "unknown", client.ErrUnknown, func() error {
			_, err := w.cn.Call(ctx, "noSuchTool", map[string]any{})
			return err
		}},
		{"malformed JSON body", "HTTP 400 or JSON-RPC parse error", nil, func() error { return w.malformed(ctx) }},
	}
	b := kinds[w.rng.IntN(len(kinds))]
	t0 := time.Now()
	err := b.call()
	w.st.ok("bad_input", time.Since(t0))
	switch {
	case b.want == nil: // the malformed body: the call reports its own verdict
		w.st.badInput(b.kind, b.expected, err == nil, fmt.Sprint(err))
	case err == nil:
		w.st.badInput(b.kind, b.expected, false, "the call succeeded")
	case errors.Is(err, client.ErrTransport):
		// The connection failed: not the server rejecting the input.
		w.st.fail("bad_input", 0, fmt.Errorf("%s: %w", b.kind, err))
	default:
		w.st.badInput(b.kind, b.expected, errors.Is(err, b.want), soakErrKind(err))
	}
}

func soakErrKind(err error) string {
	kind := "other"
	for _, k := range []struct {
		name string
		err  error
	}{{"invalid input", client.ErrInvalidInput}, {"unknown", client.ErrUnknown}, {"handler", client.ErrHandler}, {"transport", client.ErrTransport}} {
		if errors.Is(err, k.err) {
			kind = k.name
			break
		}
	}
	msg := err.Error()
	if len(msg) > 200 {
		msg = msg[:200] + "…"
	}
	return kind + ": " + msg
}

// malformed posts a body that is not JSON to the streamable HTTP endpoint
// (the Go client cannot send one) and returns nil when the server rejects
// it as it should: HTTP 400, or a JSON-RPC parse error.
func (w *soakWorker) malformed(ctx context.Context) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.base+tools.PathStreamable,
		strings.NewReader(`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"setTodo","arguments":{"id":`))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("transport: %v", err)
	}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	resp.Body.Close()
	if resp.StatusCode == http.StatusBadRequest || strings.Contains(string(body), "-32700") {
		return nil
	}
	return fmt.Errorf("HTTP %s: %s", resp.Status, body)
}
