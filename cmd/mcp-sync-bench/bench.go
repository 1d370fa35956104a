package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	mgclient "github.com/mark3labs/mcp-go/client"
	mgtransport "github.com/mark3labs/mcp-go/client/transport"
	mg "github.com/mark3labs/mcp-go/mcp"
	bolt "go.etcd.io/bbolt"

	"github.com/mcp-sync/mcp-sync/client"
	"github.com/mcp-sync/mcp-sync/internal/cli"
)

// benchBinary is the mcp-sync binary bench starts its servers from; empty
// means this program. Tests set it (a test binary cannot serve).
var benchBinary string

// benchResult is one measured scenario.
type benchResult struct {
	Scenario  string  `json:"scenario"`
	Transport string  `json:"transport"`
	Era       string  `json:"era"`
	Sessions  int     `json:"sessions"`
	Calls     int     `json:"calls"`
	PerSec    float64 `json:"perSec"`
	P50Ms     float64 `json:"p50Ms"`
	P99Ms     float64 `json:"p99Ms"`
	Errors    int     `json:"errors"`
	// RoundsPerSec is calls/s in each round, for scenarios run in rounds.
	RoundsPerSec []float64 `json:"roundsPerSec,omitempty"`
	Baseline     string    `json:"baseline,omitempty"`
	// Ratio is calls/s over the baseline's calls/s: for scenarios that ran
	// in rounds beside their baseline, the median of the rounds' ratios
	// (so not PerSec over the baseline's PerSec); for the subscriber
	// scenario, p50 latency over the baseline's p50 latency.
	Ratio float64 `json:"ratio,omitempty"`
	// DurableRatio, for a mutator, is calls/s over the bare server's
	// durable no-op (one bbolt db.Update per call) in the same rounds: the
	// median of the rounds' ratios.
	DurableRatio float64 `json:"durableRatio,omitempty"`
	// FloorRatio, for an HTTP mutator, is calls/s over the bare server's
	// fsync floor (a group-committed, fsync'd append to a file) in the same
	// rounds: the median of the rounds' ratios.
	FloorRatio float64 `json:"floorRatio,omitempty"`
}

// benchReport is everything one run measured.
type benchReport struct {
	Duration string `json:"duration"`
	// BoltCommitP50 is a raw bbolt commit's p50 (ms), measured next to each
	// era's stdio scenarios.
	BoltCommitP50 map[string]float64 `json:"boltCommitP50Ms"`
	// BoltPacedP50 is the same commit's p50 when each follows a pause as
	// long as the stdio no-op's p50, as a server's commits follow its idle
	// wait for the next request.
	BoltPacedP50 map[string]float64 `json:"boltPacedP50Ms"`
	Rounds       int                `json:"rounds"`
	Results      []benchResult      `json:"results"`
	Targets      []benchTarget      `json:"targets"`
	// References are comparisons the issue did not set targets for.
	References []benchTarget `json:"references"`
}

// benchTarget is one of the targets, checked against the run.
type benchTarget struct {
	What string  `json:"what"`
	Got  float64 `json:"got"`
	Want string  `json:"want"`
	Met  bool    `json:"met"`
}

func runBench(ctx context.Context, env *cli.Environ, args []string) int {
	fs := cli.NewFlags(env, "mcp-sync-bench", "bench", "bench [flags]",
		"Measures mcp-sync against a bare mcp-go server with a no-op tool, in one run: calls/s\n"+
			"and p50/p99 latency for the no-op tool, a mutator call (durable: fsync'd before the\n"+
			"reply), an action making 10 ctx.Mutate calls, and one row streamed to many\n"+
			"subscribers; over streamable HTTP (both protocol eras, concurrent sessions) and\n"+
			"stdio (one session). Beside the mutator, two durable references on the bare server:\n"+
			"one bbolt db.Update a call, and the fsync floor (an fsync'd append to a file, the\n"+
			"least any durable call can do). Servers run as child processes on loopback and\n"+
			"temp files.")
	duration := fs.Duration("duration", 5*time.Second, "how long each scenario runs")
	rounds := fs.Int("rounds", 5, "the baselines and the mutator take turns this many times, sharing each scenario's duration: the machine drifts, so ratios are the median of the rounds' ratios")
	sessions := fs.Int("sessions", 16, "concurrent HTTP sessions")
	subscribers := fs.Int("subscribers", 10, "subscribers of the streamed row")
	chunks := fs.Int("chunks", 200, "updates streamed to the subscribers, 5 ms apart")
	asJSON := fs.Bool("json", false, "print the report as JSON")
	if code, ok := cli.Parse(fs, args); !ok {
		return code
	}
	fail := func(format string, a ...any) int {
		fmt.Fprintf(env.Stderr, "mcp-sync bench: "+format+"\n", a...)
		return cli.ExitFail
	}
	if *rounds < 1 || *duration/time.Duration(*rounds) < 10*time.Millisecond {
		return fail("--rounds %d with --duration %s: want at least one round of at least 10ms", *rounds, *duration)
	}
	bin := benchBinary
	if bin == "" {
		var err error
		if bin, err = os.Executable(); err != nil {
			return fail("finding this program: %v", err)
		}
	}
	dir, err := os.MkdirTemp("", "mcp-sync-bench-")
	if err != nil {
		return fail("%v", err)
	}
	defer os.RemoveAll(dir)
	progress := func(format string, a ...any) {
		if !*asJSON {
			fmt.Fprintf(env.Stderr, format+"\n", a...)
		}
	}

	rep := benchReport{Duration: duration.String(), Rounds: *rounds, BoltCommitP50: map[string]float64{}, BoltPacedP50: map[string]float64{}}

	bareSrv, err := cli.StartServerProc(ctx, bin, "bare-serve", "--http", "127.0.0.1:0", "--data", filepath.Join(dir, "bare-http.bolt"))
	if err != nil {
		return fail("starting the bare mcp-go server: %v", err)
	}
	defer bareSrv.Stop()
	appSrv, err := cli.StartServerProc(ctx, bin, "serve", "--app", "bench", "--data", filepath.Join(dir, "http.db"), "--http", "127.0.0.1:0")
	if err != nil {
		return fail("starting mcp-sync serve: %v", err)
	}
	defer appSrv.Stop()
	bareURL, appURL := bareSrv.URL, appSrv.URL

	add := func(r benchResult, base *benchResult) benchResult {
		if base != nil && base.PerSec > 0 {
			r.Baseline, r.Ratio = base.Scenario, perSecRatio(r, *base)
		}
		rep.Results = append(rep.Results, r)
		progress("%-28s %-5s %-6s %3d sessions  %8.0f calls/s  p50 %7.3f ms  p99 %7.3f ms  errors %d", r.Scenario, r.Transport, r.Era, r.Sessions, r.PerSec, r.P50Ms, r.P99Ms, r.Errors)
		return r
	}
	for _, legacy := range []bool{false, true} {
		era := eraName(legacy)
		httpDial := func(url string) func(context.Context) (*client.Conn, error) {
			return func(ctx context.Context) (*client.Conn, error) {
				return client.DialHTTP(ctx, url, client.Options{Legacy: legacy})
			}
		}
		httpLoads, err := openLoads(ctx, "http", era, *sessions, []loadSpec{
			{"noop (bare mcp-go)", httpDial(bareURL), noopCall},
			{durableScenario, httpDial(bareURL), commitCall},
			{floorScenario, httpDial(bareURL), appendCall},
			{"mutator put", httpDial(appURL), putCall},
		})
		if err != nil {
			return fail("%v", err)
		}
		progress("HTTP %s: the no-op, the durable no-op, the fsync floor and the mutator take turns, %d rounds of %s each…", era, *rounds, *duration/time.Duration(*rounds))
		_ = takeTurns(ctx, httpLoads, *rounds, *duration/time.Duration(*rounds), nil) // without an after it cannot fail
		noop := add(httpLoads[0].result(), nil)
		durable := add(httpLoads[1].result(), &noop)
		floor := add(httpLoads[2].result(), &noop)
		put := add(httpLoads[3].result(), &noop)
		closeLoads(httpLoads)
		rep.setDurable(durable)
		floorRatio := perSecRatio(put, floor)
		rep.Results[len(rep.Results)-1].FloorRatio = floorRatio
		rep.References = append(rep.References,
			benchTarget{
				What: fmt.Sprintf("HTTP %s: the fsync floor's calls/s ÷ bare no-op calls/s, the most any fsync'd call reaches on this machine (median of %d rounds)", era, *rounds),
				Got:  floor.Ratio, Want: "≥ 0.7", Met: floor.Ratio >= 0.7},
			benchTarget{
				What: fmt.Sprintf("HTTP %s: mutator calls/s ÷ the fsync floor's calls/s (median of %d rounds)", era, *rounds),
				Got:  floorRatio, Want: "≥ 1", Met: floorRatio >= 1})
		add(loadCalls(ctx, "action: 10 ctx.Mutate", "http", era, *sessions, *duration, httpDial(appURL), streamCall(10)), &noop)
		rep.Targets = append(rep.Targets, benchTarget{
			What: fmt.Sprintf("HTTP %s, %d sessions: mutator calls/s ÷ bare no-op calls/s (median of %d rounds)", era, *sessions, *rounds),
			Got:  put.Ratio, Want: "≥ 0.7", Met: put.Ratio >= 0.7})

		stdioDial := func(args ...string) func(context.Context) (*client.Conn, error) {
			return func(ctx context.Context) (*client.Conn, error) {
				errOut := &cli.LockedBuffer{}
				c, err := client.DialCommand(ctx, bin, args, client.Options{Legacy: legacy, Stderr: errOut})
				if err != nil {
					return nil, fmt.Errorf("%w; it wrote on stderr: %s", err, strings.TrimSpace(errOut.String()))
				}
				return c, nil
			}
		}
		appDB := filepath.Join(dir, "stdio-"+era+".db")
		progress("stdio %s: the same, with raw bbolt commits in every round, %d rounds…", era, *rounds)
		res, commitP50, pacedP50, err := stdioRounds(ctx, []loadSpec{
			{"noop (bare mcp-go)", stdioDial("bare-serve"), noopCall},
			{durableScenario, stdioDial("bare-serve", "--data", filepath.Join(dir, "bare-stdio-"+era+".bolt")), commitCall},
			{"mutator put", stdioDial("serve", "--app", "bench", "--data", appDB), putCall},
		}, era, filepath.Join(dir, "bare-"+era+".bolt"), *rounds, *duration/time.Duration(*rounds))
		if err != nil {
			return fail("%v", err)
		}
		progress("raw bbolt commit p50: %.3f ms back to back, %.3f ms each after a pause as long as the no-op's p50", commitP50, pacedP50)
		rep.BoltCommitP50[era], rep.BoltPacedP50[era] = commitP50, pacedP50
		noop = add(res[0], nil)
		durable = add(res[1], &noop)
		put = add(res[2], &noop)
		rep.setDurable(durable)
		add(loadCalls(ctx, "action: 10 ctx.Mutate", "stdio", era, 1, *duration,
			stdioDial("serve", "--app", "bench", "--data", appDB), streamCall(10)), &noop)
		limit := (noop.P50Ms + commitP50) * 1.2
		rep.Targets = append(rep.Targets, benchTarget{
			What: fmt.Sprintf("stdio %s: mutator p50 (ms) ≤ (no-op p50 %.3f + bbolt commit p50 %.3f) × 1.2 = %.3f", era, noop.P50Ms, commitP50, limit),
			Got:  put.P50Ms, Want: fmt.Sprintf("≤ %.3f", limit), Met: put.P50Ms <= limit})
		rep.References = append(rep.References, benchTarget{
			What: fmt.Sprintf("stdio %s: the bare durable no-op's p50 (ms) against the same limit", era),
			Got:  durable.P50Ms, Want: fmt.Sprintf("≤ %.3f", limit), Met: durable.P50Ms <= limit})
		paced := (noop.P50Ms + pacedP50) * 1.2
		rep.References = append(rep.References, benchTarget{
			What: fmt.Sprintf("stdio %s: mutator p50 (ms) ≤ (no-op p50 %.3f + paced bbolt commit p50 %.3f) × 1.2 = %.3f", era, noop.P50Ms, pacedP50, paced),
			Got:  put.P50Ms, Want: fmt.Sprintf("≤ %.3f", paced), Met: put.P50Ms <= paced})
	}
	bare := add(bareBroadcast(ctx, bareURL, *subscribers, *chunks), nil)
	ours := add(streamToSubscribers(ctx, appURL, *subscribers, *chunks), nil)
	if bare.P50Ms > 0 {
		rep.Results[len(rep.Results)-1].Baseline = bare.Scenario
		rep.Results[len(rep.Results)-1].Ratio = ours.P50Ms / bare.P50Ms
	}

	for _, r := range rep.Results {
		if r.DurableRatio > 0 {
			rep.References = append(rep.References, benchTarget{
				What: fmt.Sprintf("%s %s: mutator calls/s ÷ the bare durable no-op's calls/s (median of %d rounds)", r.Transport, r.Era, rep.Rounds),
				Got:  r.DurableRatio, Want: "≥ 1", Met: r.DurableRatio >= 1})
		}
	}
	if *asJSON {
		out, _ := json.MarshalIndent(rep, "", "  ")
		fmt.Fprintln(env.Stdout, string(out))
		return cli.ExitOK
	}
	printBench(env, rep)
	return cli.ExitOK
}

// durableScenario is the bare server's commit tool: the mutator's reference.
const durableScenario = "durable noop (bare + bbolt)"

// floorScenario is the bare server's append tool: the least work any
// fsync'd call can do, so the most calls/s any durable tool reaches.
const floorScenario = "fsync floor (bare + log)"

// setDurable records the mutator result just added (the last one) against
// the durable no-op's calls/s.
func (rep *benchReport) setDurable(durable benchResult) {
	if last := &rep.Results[len(rep.Results)-1]; durable.PerSec > 0 {
		last.DurableRatio = perSecRatio(*last, durable)
	}
}

func eraName(legacy bool) string {
	if legacy {
		return "legacy"
	}
	return "modern"
}

func printBench(env *cli.Environ, rep benchReport) {
	w := env.Stdout
	fmt.Fprintf(w, "\nmcp-sync bench: %s per scenario; the no-ops and the mutator take turns in %d rounds.\n", rep.Duration, rep.Rounds)
	fmt.Fprintf(w, "Raw bbolt commit p50: %.3f ms back to back, %.3f ms paced (modern run); %.3f and %.3f ms (legacy run)\n\n",
		rep.BoltCommitP50["modern"], rep.BoltPacedP50["modern"], rep.BoltCommitP50["legacy"], rep.BoltPacedP50["legacy"])
	fmt.Fprintf(w, "%-30s %-5s %-6s %8s %10s %9s %9s %7s %s\n", "scenario", "via", "era", "sessions", "per sec", "p50 ms", "p99 ms", "errors", "vs baseline")
	for _, r := range rep.Results {
		ratio := ""
		if r.Ratio > 0 {
			unit := "calls/s"
			if r.Scenario == streamScenario {
				unit = "p50 latency"
			}
			ratio = fmt.Sprintf("%.2f× %s of %s", r.Ratio, unit, r.Baseline)
			if len(r.RoundsPerSec) > 0 {
				ratio += fmt.Sprintf(" (median of %d rounds)", len(r.RoundsPerSec))
			}
		}
		fmt.Fprintf(w, "%-30s %-5s %-6s %8d %10.0f %9.3f %9.3f %7d %s\n", r.Scenario, r.Transport, r.Era, r.Sessions, r.PerSec, r.P50Ms, r.P99Ms, r.Errors, ratio)
	}
	printChecks(w, "Targets:", rep.Targets, "met", "MISSED", "want ")
	printChecks(w, "References (no target: the bare server doing the same durable write; the fsync floor; the limit with a paced commit):", rep.References, "yes", "no", "")
}

// printChecks prints one list of targets or references, marked met or not.
func printChecks(w io.Writer, title string, checks []benchTarget, met, missed, want string) {
	fmt.Fprintln(w, "\n"+title)
	for _, t := range checks {
		mark := met
		if !t.Met {
			mark = missed
		}
		fmt.Fprintf(w, "  %-6s %s: %.3f (%s%s)\n", mark, t.What, t.Got, want, t.Want)
	}
}

// callFunc makes one call as session i.
type callFunc func(ctx context.Context, c *client.Conn, i, n int) error

func noopCall(ctx context.Context, c *client.Conn, _, _ int) error {
	_, err := c.Call(ctx, "noop", map[string]any{})
	return err
}

func commitCall(ctx context.Context, c *client.Conn, i, _ int) error {
	_, err := c.Call(ctx, "commit", map[string]any{"key": fmt.Sprint("s", i)})
	return err
}

func appendCall(ctx context.Context, c *client.Conn, i, _ int) error {
	_, err := c.Call(ctx, "append", map[string]any{"key": fmt.Sprint("s", i)})
	return err
}

func putCall(ctx context.Context, c *client.Conn, i, n int) error {
	_, err := c.Call(ctx, "put", benchPut{Key: fmt.Sprint("s", i), Text: "some text of a row", N: n})
	return err
}

func streamCall(mutates int) callFunc {
	return func(ctx context.Context, c *client.Conn, i, _ int) error {
		_, err := c.Call(ctx, "stream", benchStreamIn{Key: fmt.Sprint("a", i), N: mutates})
		return err
	}
}

// loadSpec names a scenario, how its sessions connect and what they call.
type loadSpec struct {
	scenario string
	dial     func(context.Context) (*client.Conn, error)
	call     callFunc
}

// load is a scenario's open sessions; run drives them, and may be called
// once per round so that scenarios take turns on a drifting machine.
type load struct {
	r         benchResult
	call      callFunc
	conns     []*client.Conn
	lats      []time.Duration
	lastRound int // how many of lats the last run added
	elapsed   time.Duration
	n         int   // calls made, for the call's counter
	firstErr  error // the first dial or warm-up failure, for the report
}

// openLoad connects the sessions and makes one warm-up call on each:
// first-call costs are not the steady state.
func openLoad(ctx context.Context, transport, era string, sessions int, spec loadSpec) *load {
	l := &load{r: benchResult{Scenario: spec.scenario, Transport: transport, Era: era, Sessions: sessions}, call: spec.call}
	for i := range sessions {
		c, err := spec.dial(ctx)
		if err == nil {
			l.conns = append(l.conns, c)
			err = spec.call(ctx, c, i, 0)
		}
		if err != nil {
			l.r.Errors++
			if l.firstErr == nil {
				l.firstErr = err
			}
		}
	}
	return l
}

// openLoads opens every spec's sessions; it fails if a scenario could open
// none (its server is not answering).
func openLoads(ctx context.Context, transport, era string, sessions int, specs []loadSpec) ([]*load, error) {
	var loads []*load
	for _, spec := range specs {
		l := openLoad(ctx, transport, era, sessions, spec)
		loads = append(loads, l)
		if len(l.conns) == 0 {
			closeLoads(loads)
			return nil, fmt.Errorf("%s over %s (%s): no session could connect: %w", spec.scenario, transport, era, l.firstErr)
		}
	}
	return loads, nil
}

// closeLoads closes every session of loads.
func closeLoads(loads []*load) {
	for _, l := range loads {
		for _, c := range l.conns {
			c.Close()
		}
	}
}

// takeTurns runs the loads in turn for d each, rounds times; each round
// starts one scenario further on, so none always runs first. after, when
// set, runs at the end of every round.
func takeTurns(ctx context.Context, loads []*load, rounds int, d time.Duration, after func() error) error {
	for r := range rounds {
		for i := range loads {
			loads[(r+i)%len(loads)].run(ctx, d)
		}
		if after != nil {
			if err := after(); err != nil {
				return err
			}
		}
	}
	return nil
}

// stdioRounds runs the stdio scenarios of specs (the no-op first) in turns,
// with raw bbolt commits on rawPath at the end of every round, back to back
// and paced by that round's no-op p50. It returns the scenarios' results and
// the raw commits' p50s (ms); every session is closed when it returns.
func stdioRounds(ctx context.Context, specs []loadSpec, era, rawPath string, rounds int, d time.Duration) (res []benchResult, commitP50, pacedP50 float64, err error) {
	loads, err := openLoads(ctx, "stdio", era, 1, specs)
	if err != nil {
		return nil, 0, 0, err
	}
	defer closeLoads(loads)
	raw, err := openRawCommits(rawPath)
	if err != nil {
		return nil, 0, 0, fmt.Errorf("raw bbolt commits on %s: %w", rawPath, err)
	}
	defer func() {
		if cerr := raw.close(); cerr != nil && err == nil {
			err = fmt.Errorf("raw bbolt commits on %s: closing: %w", rawPath, cerr)
		}
	}()
	perRound := max(1, 300/rounds)
	noop := loads[0]
	err = takeTurns(ctx, loads, rounds, d, func() error {
		lats := noop.lats[len(noop.lats)-noop.lastRound:]
		pause := max(50*time.Microsecond, time.Duration(percentileMs(lats, 0.5)*float64(time.Millisecond)))
		if err := raw.commit(perRound, 0); err != nil {
			return fmt.Errorf("raw bbolt commits on %s: %w", rawPath, err)
		}
		if err := raw.commit(perRound, pause); err != nil {
			return fmt.Errorf("raw bbolt commits on %s: %w", rawPath, err)
		}
		return nil
	})
	if err != nil {
		return nil, 0, 0, err
	}
	for _, l := range loads {
		res = append(res, l.result())
	}
	commitP50, pacedP50 = raw.p50()
	return res, commitP50, pacedP50, nil
}

// run has every session call as fast as it can for d.
func (l *load) run(ctx context.Context, d time.Duration) {
	var (
		mu   sync.Mutex
		wg   sync.WaitGroup
		errs atomic.Int64
		lats []time.Duration
	)
	start := time.Now()
	deadline := start.Add(d)
	for i, c := range l.conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			own := make([]time.Duration, 0, 1024)
			for n := l.n + 1; time.Now().Before(deadline) && ctx.Err() == nil; n++ {
				t0 := time.Now()
				if err := l.call(ctx, c, i, n); err != nil {
					errs.Add(1)
					continue
				}
				own = append(own, time.Since(t0))
			}
			mu.Lock()
			lats = append(lats, own...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	l.r.Errors += int(errs.Load())
	l.n += len(lats) + int(errs.Load())
	l.lats, l.lastRound, l.elapsed = append(l.lats, lats...), len(lats), l.elapsed+elapsed
	l.r.RoundsPerSec = append(l.r.RoundsPerSec, float64(len(lats))/elapsed.Seconds())
}

// result is the scenario over all its rounds.
func (l *load) result() benchResult {
	r := l.r
	r.Calls = len(l.lats)
	if l.elapsed > 0 {
		r.PerSec = float64(len(l.lats)) / l.elapsed.Seconds()
	}
	r.P50Ms, r.P99Ms = percentileMs(l.lats, 0.50), percentileMs(l.lats, 0.99)
	if len(r.RoundsPerSec) < 2 {
		r.RoundsPerSec = nil // one round says nothing PerSec does not
	}
	return r
}

// loadCalls runs sessions workers, each on its own connection, calling as
// fast as it can for d, and reports calls/s and latency.
func loadCalls(ctx context.Context, scenario, transport, era string, sessions int, d time.Duration, dial func(context.Context) (*client.Conn, error), call callFunc) benchResult {
	l := openLoad(ctx, transport, era, sessions, loadSpec{scenario, dial, call})
	defer closeLoads([]*load{l})
	l.run(ctx, d)
	return l.result()
}

// perSecRatio is r's calls/s over base's: the median of the rounds' ratios
// when both ran in the same rounds, which a drift in the machine's speed
// over the run does not skew.
func perSecRatio(r, base benchResult) float64 {
	if len(r.RoundsPerSec) == 0 || len(r.RoundsPerSec) != len(base.RoundsPerSec) {
		return r.PerSec / base.PerSec
	}
	ratios := make([]float64, 0, len(r.RoundsPerSec))
	for i, v := range r.RoundsPerSec {
		if base.RoundsPerSec[i] > 0 {
			ratios = append(ratios, v/base.RoundsPerSec[i])
		}
	}
	if len(ratios) == 0 {
		return 0
	}
	slices.Sort(ratios)
	if n := len(ratios); n%2 == 0 {
		return (ratios[n/2-1] + ratios[n/2]) / 2
	}
	return ratios[len(ratios)/2]
}

func percentileMs(d []time.Duration, p float64) float64 {
	if len(d) == 0 {
		return 0
	}
	s := slices.Clone(d)
	slices.Sort(s)
	return float64(s[min(len(s)-1, int(float64(len(s))*p))].Nanoseconds()) / 1e6
}

const streamScenario = "1 row → subscribers"

// streamToSubscribers: subscribers watch one row (client.Watch: each change
// arrives in its notification) while an action rewrites it chunks times, 5 ms apart;
// latency is from the ctx.Mutate call to the subscriber holding the change.
func streamToSubscribers(ctx context.Context, url string, subscribers, chunks int) benchResult {
	r := benchResult{Scenario: streamScenario, Transport: "http", Era: "legacy", Sessions: subscribers}
	ctx, cancel := context.WithTimeout(ctx, time.Duration(chunks)*5*time.Millisecond+30*time.Second)
	defer cancel()
	key := fmt.Sprint("live-", time.Now().UnixNano())
	var (
		mu   sync.Mutex
		lats []time.Duration
		wg   sync.WaitGroup
	)
	ready := make(chan struct{}, subscribers)
	for range subscribers {
		c, err := client.DialHTTP(ctx, url, client.Options{Legacy: true})
		if err != nil {
			r.Errors++
			continue
		}
		defer c.Close()
		w, err := client.Watch(ctx, c, benchRows, client.Selector{Key: key}, 0)
		if err != nil {
			r.Errors++
			continue
		}
		defer w.Close()
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := w.Next(ctx); err != nil { // the snapshot
				return
			}
			ready <- struct{}{}
			for {
				ev, err := w.Next(ctx)
				if err != nil {
					return
				}
				now := time.Now().UnixNano()
				for _, ch := range ev.Changes {
					mu.Lock()
					lats = append(lats, time.Duration(now-ch.Value.T))
					mu.Unlock()
					if ch.Value.N >= chunks {
						return
					}
				}
			}
		}()
	}
	for range subscribers - r.Errors {
		<-ready
	}
	trigger, err := client.DialHTTP(ctx, url, client.Options{})
	if err != nil {
		r.Errors++
		return r
	}
	defer trigger.Close()
	start := time.Now()
	if _, err := trigger.Call(ctx, "stream", benchStreamIn{Key: key, N: chunks, IntervalMs: 5}); err != nil {
		r.Errors++
	}
	wg.Wait()
	r.Calls = len(lats)
	r.PerSec = float64(len(lats)) / time.Since(start).Seconds()
	r.P50Ms, r.P99Ms = percentileMs(lats, 0.50), percentileMs(lats, 0.99)
	return r
}

// bareBroadcast is streamToSubscribers's baseline: the bare mcp-go server
// sends chunks notifications, 5 ms apart, to subscribers sessions; latency is
// from the send to the receipt.
func bareBroadcast(ctx context.Context, url string, subscribers, chunks int) benchResult {
	r := benchResult{Scenario: "broadcast (bare mcp-go)", Transport: "http", Era: "legacy", Sessions: subscribers}
	ctx, cancel := context.WithTimeout(ctx, time.Duration(chunks)*5*time.Millisecond+30*time.Second)
	defer cancel()
	var (
		mu   sync.Mutex
		lats []time.Duration
		got  atomic.Int64
	)
	for range subscribers {
		//lint:ignore SA1019 the legacy era's GET stream is where broadcasts arrive
		tr, err := mgtransport.NewStreamableHTTP(url, mgtransport.WithContinuousListening(), mgtransport.WithHTTPLogger(slog.New(slog.DiscardHandler)))
		if err != nil {
			r.Errors++
			continue
		}
		//lint:ignore SA1019 the baseline runs on the legacy era, like the scenario it is the baseline of
		c := mgclient.NewClient(tr, mgclient.WithLegacyProtocolOnly())
		c.OnNotification(func(n mg.JSONRPCNotification) {
			t, ok := n.Params.AdditionalFields["t"].(float64)
			if n.Method != "notifications/resources/updated" || !ok {
				return
			}
			now := time.Now().UnixNano()
			mu.Lock()
			lats = append(lats, time.Duration(now-int64(t)))
			mu.Unlock()
			got.Add(1)
		})
		if err := c.Start(context.WithoutCancel(ctx)); err != nil {
			r.Errors++
			continue
		}
		defer c.Close()
		req := mg.InitializeRequest{}
		req.Params.ProtocolVersion = mg.ProtocolVersion20251125
		req.Params.ClientInfo = mg.Implementation{Name: "bench", Version: "1"}
		if _, err := c.Initialize(ctx, req); err != nil {
			r.Errors++
			continue
		}
	}
	time.Sleep(200 * time.Millisecond) // GET streams open
	trigger, err := client.DialHTTP(ctx, url, client.Options{Legacy: true})
	if err != nil {
		r.Errors++
		return r
	}
	defer trigger.Close()
	start := time.Now()
	if _, err := trigger.Call(ctx, "broadcast", map[string]any{"n": chunks, "intervalMs": 5}); err != nil {
		r.Errors++
	}
	want := int64((subscribers - r.Errors) * chunks)
	for got.Load() < want && ctx.Err() == nil && time.Since(start) < time.Duration(chunks)*5*time.Millisecond+5*time.Second {
		time.Sleep(10 * time.Millisecond)
	}
	mu.Lock()
	defer mu.Unlock()
	r.Calls = len(lats)
	r.PerSec = float64(len(lats)) / time.Since(start).Seconds()
	r.P50Ms, r.P99Ms = percentileMs(lats, 0.50), percentileMs(lats, 0.99)
	return r
}

// rawCommits makes fsync'd bbolt commits of one 100-byte row (a raw
// db.Update with default options) and keeps their latencies: back to back,
// and paced (each after a pause, as a server's commit follows its idle wait
// for the next request; on some machines an idle CPU makes the fsync slower
// to come back).
type rawCommits struct {
	db          *bolt.DB
	n           int
	back, paced []time.Duration
}

// openRawCommits opens (creating) the bbolt file at path with default
// options, as a bare server would.
func openRawCommits(path string) (*rawCommits, error) {
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		return nil, err
	}
	return &rawCommits{db: db}, nil
}

// commit makes n commits, each after pause (back to back when 0).
func (rc *rawCommits) commit(n int, pause time.Duration) error {
	val := make([]byte, 100)
	for range n {
		if pause > 0 {
			time.Sleep(pause)
		}
		rc.n++
		t0 := time.Now()
		err := rc.db.Update(func(tx *bolt.Tx) error {
			b, err := tx.CreateBucketIfNotExists([]byte("rows"))
			if err != nil {
				return err
			}
			return b.Put([]byte(fmt.Sprint("k", rc.n%10)), val)
		})
		if err != nil {
			return err
		}
		if pause > 0 {
			rc.paced = append(rc.paced, time.Since(t0))
		} else {
			rc.back = append(rc.back, time.Since(t0))
		}
	}
	return nil
}

// p50 is the median commit, back to back and paced (ms).
func (rc *rawCommits) p50() (back, paced float64) {
	return percentileMs(rc.back, 0.5), percentileMs(rc.paced, 0.5)
}

// close closes the bbolt file.
func (rc *rawCommits) close() error { return rc.db.Close() }
