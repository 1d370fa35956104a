package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strconv"
	"time"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcp-sync/mcp-sync/backend"
	"github.com/mcp-sync/mcp-sync/schema"
)

// seedRows fills a peer's table with n rows in one fill call; mcp-sync's
// file was filled before its server started (prepareListRows).
func seedRows(ctx context.Context, t *peerTarget, n int) error {
	if t.fillTool == "" {
		return nil
	}
	s, err := dialPeer(ctx, t.url, peerDialOptions{})
	if err != nil {
		return err
	}
	defer s.close()
	_, err = s.call(ctx, t.fillTool, peerFillIn{N: n})
	return err
}

// benchFillIn is the input of the seeding fill mutator.
type benchFillIn struct {
	From int `json:"from"`
	N    int `json:"n"`
}

// fillBatch is how many rows one fill mutation writes: the Go SDK peer's
// batch too.
const fillBatch = 10_000

// prepareListRows fills the bench app's data file at path with n rows, as
// its put mutator writes them (keys peerFillKey(i)), through the engine in
// mutations of fillBatch rows: a million puts over MCP would take the
// better part of an hour, and the table read is the same. The engine runs
// the bench app's schema plus a fill mutator; serve opens the file after.
func prepareListRows(ctx context.Context, path string, n int) error {
	fill := schema.Mutator[benchFillIn]("fill", "Write n rows from from on, as put does")
	cfg := backend.Config{
		Schema: schema.MustDefine(benchSchema.Version(), benchRows, fill),
		Mutators: []backend.MutatorImpl{backend.Mutator(fill, func(ctx *backend.MutatorCtx, in benchFillIn) error {
			rows := backend.TableOf(ctx, benchRows)
			for i := in.From; i < in.From+in.N; i++ {
				if err := rows.Set(peerFillKey(i), benchRow{Text: peerFillText, N: i}); err != nil {
					return err
				}
			}
			return nil
		})},
	}
	eng, err := backend.Open(cfg, backend.Options{Path: path, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		return fmt.Errorf("opening %s to fill it: %w", path, err)
	}
	for i := 0; i < n && err == nil; i += fillBatch {
		in, _ := json.Marshal(benchFillIn{From: i, N: min(fillBatch, n-i)})
		_, err = eng.Mutate(ctx, "fill", in)
	}
	if cerr := eng.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("filling %s with %d rows: %w", path, n, err)
	}
	return nil
}

// peerFillText is the text of every seeded row.
const peerFillText = "a todo of some thirty bytes"

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
			after := rand.IntN(max(1, cfg.rows-1000))
			res, err := s.call(ctx, "list_rows", map[string]any{"table": t.table, "after": peerFillKey(after), "limit": 1000})
			if err != nil {
				return err
			}
			if got, want := pageRows(res), min(1000, cfg.rows-after-1); got != want {
				return fmt.Errorf("list_rows after row %d of %d answered %d rows, want %d", after, cfg.rows, got, want)
			}
			return nil
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
	return []peerScenario{figures(fmt.Sprintf("list_rows of 1,000 rows at %s rows", thousands(cfg.rows)), "ms p50 / p99", ds, false)}, nil
}

// pageRows is how many rows a list_rows answer's structured content holds
// (-1 when it holds no rows array).
func pageRows(res *sdk.CallToolResult) int {
	m, _ := res.StructuredContent.(map[string]any)
	rows, ok := m["rows"].([]any)
	if !ok {
		return -1
	}
	return len(rows)
}

// thousands is n with commas between groups of three digits.
func thousands(n int) string {
	s := strconv.Itoa(n)
	for i := len(s) - 3; i > 0 && s[i-1] != '-'; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}
