package main

import (
	"context"
	"fmt"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"
)

// peerDriver is one server's side of a scenario run in rounds: turn drives
// it for d and returns what it counted (calls, or latencies).
type peerDriver struct {
	name   string
	turn   func(ctx context.Context, d time.Duration) (calls int, lats []time.Duration, err error)
	rounds []float64 // per round: calls/s or p50 ms
	lats   []time.Duration
	calls  int
	spent  time.Duration
	// pid is the server's process (0: none, or in this one); cpu is the
	// CPU time it spent in the turns, user and system.
	pid int
	cpu time.Duration
	// gen is the CPU time this process (the load generator) spent in the
	// driver's turns.
	gen time.Duration
}

// cpuNow is the CPU time spent so far by the driver's server (0 without a
// process of its own) and by this process, the load generator.
func (dr *peerDriver) cpuNow() (server, gen time.Duration, err error) {
	if gen, err = procCPU(os.Getpid()); err != nil || dr.pid == 0 {
		return 0, gen, err
	}
	server, err = procCPU(dr.pid)
	return server, gen, err
}

// peerRounds has the drivers take turns, rounds times, each round starting
// one further on so that none always runs first; perSec picks whether a
// round's figure is calls/s (else p50 ms).
func peerRounds(ctx context.Context, ds []*peerDriver, rounds int, d time.Duration, perSec bool) error {
	for r := range rounds {
		for i := range ds {
			dr := ds[(r+i)%len(ds)]
			t0 := time.Now()
			cpu0, gen0, err := dr.cpuNow()
			if err != nil {
				return err
			}
			calls, lats, err := dr.turn(ctx, d)
			if err != nil {
				return fmt.Errorf("%s: %w", dr.name, err)
			}
			el := time.Since(t0)
			cpu1, gen1, err := dr.cpuNow()
			if err != nil {
				return err
			}
			dr.cpu, dr.gen = dr.cpu+cpu1-cpu0, dr.gen+gen1-gen0
			dr.calls, dr.spent, dr.lats = dr.calls+calls, dr.spent+el, append(dr.lats, lats...)
			if perSec {
				dr.rounds = append(dr.rounds, float64(calls)/el.Seconds())
			} else {
				dr.rounds = append(dr.rounds, percentileMs(lats, 0.5))
			}
		}
	}
	return nil
}

// figures is the drivers' scenario: ds[0] is mcp-sync, and each ratio is
// the median over rounds of the driver's figure over mcp-sync's.
func figures(name, unit string, ds []*peerDriver, perSec bool) peerScenario {
	sc := peerScenario{Name: name, Unit: unit}
	for _, dr := range ds {
		f := peerFigure{Server: dr.name}
		if perSec {
			f.Value = float64(dr.calls) / dr.spent.Seconds()
		} else {
			f.Value, f.P99 = percentileMs(dr.lats, 0.5), percentileMs(dr.lats, 0.99)
		}
		f.Ratio = medianRatio(dr.rounds, ds[0].rounds)
		sc.Figures = append(sc.Figures, f)
	}
	return sc
}

// medianRatio is the median of a[i]/b[i].
func medianRatio(a, b []float64) float64 {
	var rs []float64
	for i := range min(len(a), len(b)) {
		if b[i] > 0 {
			rs = append(rs, a[i]/b[i])
		}
	}
	if len(rs) == 0 {
		return 0
	}
	slices.Sort(rs)
	if n := len(rs); n%2 == 0 {
		return (rs[n/2-1] + rs[n/2]) / 2
	}
	return rs[len(rs)/2]
}

// concurrently runs f on n goroutines for d, and returns the calls made
// and their latencies; the first error stops it.
func concurrently(ctx context.Context, n int, d time.Duration, f func(ctx context.Context, i, seq int) error) (int, []time.Duration, error) {
	var (
		mu    sync.Mutex
		lats  []time.Duration
		first atomic.Pointer[error]
		wg    sync.WaitGroup
	)
	deadline := time.Now().Add(d)
	for i := range n {
		wg.Go(func() {
			own := make([]time.Duration, 0, 256)
			for seq := 0; time.Now().Before(deadline) && first.Load() == nil && ctx.Err() == nil; seq++ {
				t0 := time.Now()
				if err := f(ctx, i, seq); err != nil {
					first.CompareAndSwap(nil, &err)
					break
				}
				own = append(own, time.Since(t0))
			}
			mu.Lock()
			lats = append(lats, own...)
			mu.Unlock()
		})
	}
	wg.Wait()
	if e := first.Load(); e != nil {
		return 0, nil, *e
	}
	return len(lats), lats, ctx.Err()
}

// openSessions dials n sessions of t.
func openSessions(ctx context.Context, t *peerTarget, n int, o peerDialOptions) ([]*peerSession, error) {
	var out []*peerSession
	for range n {
		s, err := dialPeer(ctx, t.url, o)
		if err != nil {
			closeSessions(out)
			return nil, fmt.Errorf("%s: %w", t.name, err)
		}
		out = append(out, s)
	}
	return out, nil
}

func closeSessions(ss []*peerSession) {
	for _, s := range ss {
		s.close()
	}
}

// peerWrites: every server's durable writes over cfg.sessions HTTP
// sessions (each rewriting its own row), and the bare bbolt program's
// db.Update calls from as many goroutines.
func peerWrites(ctx context.Context, cfg peersConfig, ts []*peerTarget, barePath string) ([]peerScenario, error) {
	var ds []*peerDriver
	for _, t := range ts {
		ss, err := openSessions(ctx, t, cfg.sessions, peerDialOptions{})
		if err != nil {
			return nil, err
		}
		defer closeSessions(ss)
		write := func(ctx context.Context, i, seq int) error {
			tool, args := t.write(fmt.Sprint("s", i), "some text of a row", seq, 0)
			_, err := ss[i].call(ctx, tool, args)
			return err
		}
		for i := range ss { // warm-up: first-call costs are not the steady state
			if err := write(ctx, i, 0); err != nil {
				return nil, fmt.Errorf("%s: %w", t.name, err)
			}
		}
		ds = append(ds, &peerDriver{name: t.name, pid: t.pid, turn: func(ctx context.Context, d time.Duration) (int, []time.Duration, error) {
			return concurrently(ctx, cfg.sessions, d, write)
		}})
	}
	db, err := bolt.Open(barePath, 0o600, nil)
	if err != nil {
		return nil, fmt.Errorf("the bare bbolt program: %w", err)
	}
	defer db.Close()
	row := make([]byte, 100)
	ds = append(ds, &peerDriver{name: barePeerName, turn: func(ctx context.Context, d time.Duration) (int, []time.Duration, error) {
		return concurrently(ctx, cfg.sessions, d, func(_ context.Context, i, _ int) error {
			return db.Update(func(tx *bolt.Tx) error {
				b, err := tx.CreateBucketIfNotExists(peerBucket)
				if err != nil {
					return err
				}
				return b.Put(fmt.Append(nil, "s", i), row)
			})
		})
	}})
	if err := peerRounds(ctx, ds, cfg.rounds, cfg.duration/time.Duration(cfg.rounds), true); err != nil {
		return nil, err
	}
	sc := figures(fmt.Sprintf("durable writes, %d HTTP sessions", cfg.sessions), "calls/s", ds, true)
	for i, dr := range ds {
		if dr.pid != 0 && dr.calls > 0 {
			sc.Figures[i].Note = fmt.Sprintf("server CPU %.0f µs/call, load generator %.0f", perCall(dr.cpu, dr.calls), perCall(dr.gen, dr.calls))
			if p, err := soakProcStatus(dr.pid); err == nil {
				sc.Figures[i].Note += fmt.Sprintf("; server peak RSS %.0f MB", p.hwmMB)
			}
		}
	}
	return []peerScenario{sc}, nil
}

// perCall is d per call, in µs.
func perCall(d time.Duration, calls int) float64 { return float64(d.Microseconds()) / float64(calls) }
