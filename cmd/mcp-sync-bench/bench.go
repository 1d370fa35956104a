package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/mcp-sync/mcp-sync/cli"
	"github.com/mcp-sync/mcp-sync/client"
)

// benchBinary is the mcp-sync-bench binary bench starts its servers from; empty
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
		fmt.Fprintf(env.Stderr, "mcp-sync-bench bench: "+format+"\n", a...)
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
		return fail("starting mcp-sync-bench serve: %v", err)
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
	fmt.Fprintf(w, "\nmcp-sync-bench bench: %s per scenario; the no-ops and the mutator take turns in %d rounds.\n", rep.Duration, rep.Rounds)
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
