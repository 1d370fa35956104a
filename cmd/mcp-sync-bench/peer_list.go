package main

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"time"

	"github.com/mcp-sync/mcp-sync/cli"
)

// seedRows fills t's table with n rows: one fill call on a peer, and
// mcp-sync's put mutator from 16 sessions (it has no bulk load).
func seedRows(ctx context.Context, t *peerTarget, n int) error {
	if t.fillTool != "" {
		s, err := dialPeer(ctx, t.url, peerDialOptions{})
		if err != nil {
			return err
		}
		defer s.close()
		_, err = s.call(ctx, t.fillTool, peerFillIn{N: n})
		return err
	}
	const workers = 16
	ss, err := openSessions(ctx, t, workers, peerDialOptions{})
	if err != nil {
		return err
	}
	defer closeSessions(ss)
	errs := make(chan error, workers)
	for w := range workers {
		go func() {
			for i := w; i < n; i += workers {
				tool, args := t.write(peerFillKey(i), "a todo of some thirty bytes", i, 0)
				if _, err := ss[w].call(ctx, tool, args); err != nil {
					errs <- err
					return
				}
			}
			errs <- nil
		}()
	}
	for range workers {
		if e := <-errs; e != nil && err == nil {
			err = e
		}
	}
	return err
}

// peerLists: list_rows of 1,000 rows from a random place in a table of
// cfg.rows rows, one session calling back to back, servers taking turns.
func peerLists(ctx context.Context, cfg peersConfig, ts []*peerTarget, _ string) ([]peerScenario, error) {
	var ds []*peerDriver
	for _, t := range ts {
		if err := seedRows(ctx, t, cfg.rows); err != nil {
			return nil, fmt.Errorf("%s: seeding %d rows: %w", t.name, cfg.rows, err)
		}
		s, err := dialPeer(ctx, t.url, peerDialOptions{})
		if err != nil {
			return nil, err
		}
		defer s.close()
		list := func(ctx context.Context, _, _ int) error {
			_, err := s.call(ctx, "list_rows", map[string]any{"table": t.table, "after": peerFillKey(rand.IntN(max(1, cfg.rows-1000))), "limit": 1000})
			return err
		}
		if err := list(ctx, 0, 0); err != nil {
			return nil, fmt.Errorf("%s: %w", t.name, err)
		}
		ds = append(ds, &peerDriver{name: t.name, turn: func(ctx context.Context, d time.Duration) (int, []time.Duration, error) {
			return concurrently(ctx, 1, d, list)
		}})
	}
	d := max(cfg.duration/time.Duration(cfg.rounds)/2, 20*time.Millisecond)
	if err := peerRounds(ctx, ds, cfg.rounds, d, false); err != nil {
		return nil, err
	}
	return []peerScenario{figures(fmt.Sprintf("list_rows of 1,000 rows at %d rows", cfg.rows), "ms p50 / p99", ds, false)}, nil
}

// printPeers prints the report as a table: per scenario, each server's
// figure and its ratio to mcp-sync's.
func printPeers(env *cli.Environ, rep peersReport) {
	w := env.Stdout
	fmt.Fprintf(w, "\nmcp-sync-bench peers: one load generator (the Go SDK client), servers taking turns in %d rounds; ratios are to mcp-sync, the median of the rounds'.\n", rep.Rounds)
	for name, why := range rep.Skipped {
		fmt.Fprintf(w, "Left out: %s (%s)\n", name, why)
	}
	for _, sc := range rep.Scenarios {
		printPeerScenario(w, sc)
	}
}

func printPeerScenario(w io.Writer, sc peerScenario) {
	fmt.Fprintf(w, "\n%s (%s)\n", sc.Name, sc.Unit)
	for _, f := range sc.Figures {
		v := fmt.Sprintf("%10.2f", f.Value)
		if f.P99 > 0 {
			v = fmt.Sprintf("%7.2f / %7.2f", f.Value, f.P99)
		}
		ratio := ""
		if f.Ratio > 0 {
			ratio = fmt.Sprintf("%6.2f×", f.Ratio)
		}
		fmt.Fprintf(w, "  %-44s %17s %8s  %s\n", f.Server, v, ratio, f.Note)
	}
}
