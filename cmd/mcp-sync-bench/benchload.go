package main

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mcp-sync/mcp-sync/client"
)

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
	return medianRatio(r.RoundsPerSec, base.RoundsPerSec)
}

func percentileMs(d []time.Duration, p float64) float64 {
	if len(d) == 0 {
		return 0
	}
	s := slices.Clone(d)
	slices.Sort(s)
	return float64(s[min(len(s)-1, int(float64(len(s))*p))].Nanoseconds()) / 1e6
}
