package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"
	bolt "go.etcd.io/bbolt"

	"github.com/mcp-sync/mcp-sync/cli"
)

// startStdioPeers starts every server as a child process spoken to over
// its stdin and stdout, as an MCP host starts a local server: one session
// each, on a fresh data file in dir. Each target's session is that one.
func startStdioPeers(ctx context.Context, cfg peersConfig, dir, tag string) ([]*peerTarget, error) {
	bin, err := benchSelf()
	if err != nil {
		return nil, err
	}
	cmds := []struct {
		t    *peerTarget
		name string
		args []string
	}{
		{mcpSyncTarget("", 0, nil), bin, []string{"serve", "--app", "bench", "--data", mcpSyncDataPath(dir, tag)}},
		{peerTargetOf(goPeerName, "", 0, nil), bin, []string{"peer-gosdk", "--data", filepath.Join(dir, tag+"-gosdk.bolt")}},
	}
	if cfg.ts {
		script, err := filepath.Abs(filepath.Join(cfg.tsDir, "server.mjs"))
		if err != nil {
			return nil, err
		}
		cmds = append(cmds, struct {
			t    *peerTarget
			name string
			args []string
		}{peerTargetOf(tsPeerName, "", 0, nil), "node", []string{script, "--data", filepath.Join(dir, tag+"-ts.sqlite")}})
	}
	var out []*peerTarget
	for _, c := range cmds {
		cmd := exec.Command(c.name, c.args...)
		cmd.Env = append(os.Environ(), "OPENAI_API_KEY=", "OPENAI_BASE_URL=", "MCP_SYNC_TOKEN=") // as over HTTP
		logs := &cli.LockedBuffer{}
		cmd.Stderr = logs
		s, err := dialStdio(ctx, cmd)
		if err != nil {
			stopPeers(out)
			return nil, fmt.Errorf("starting %s over stdio: %w\n%s", c.t.name, err, logs.String())
		}
		c.t.session, c.t.pid, c.t.stop = s, cmd.Process.Pid, s.close
		out = append(out, c.t)
	}
	return out, nil
}

// dialStdio starts cmd and opens the load generator's session over its
// stdio; closing the session ends the process (stdin closed, then a
// signal if it lingers).
func dialStdio(ctx context.Context, cmd *exec.Cmd) (*peerSession, error) {
	c := sdk.NewClient(&sdk.Implementation{Name: "mcp-sync-bench-peers", Version: "1"}, nil)
	tr := &sdk.CommandTransport{Command: cmd, TerminateDuration: 5 * time.Second}
	s, err := c.Connect(context.WithoutCancel(ctx), tr, &sdk.ClientSessionOptions{ProtocolVersion: "2025-11-25"})
	if err != nil {
		return nil, err
	}
	return &peerSession{s: s}, nil
}

// peerStdio: one stdio session per server making calls one at a time, as
// a single host does: durable writes of one row (calls/s; the bare bbolt
// program's db.Update from one goroutine beside them), and get_row of that
// row (ms).
func peerStdio(ctx context.Context, cfg peersConfig, ts []*peerTarget, barePath string) ([]peerScenario, error) {
	var writers, readers []*peerDriver
	for _, t := range ts {
		s := t.session
		write := func(ctx context.Context, _, seq int) error {
			tool, args := t.write("stdio", "some text of a row", seq+1, 0)
			_, err := s.call(ctx, tool, args)
			return err
		}
		read := func(ctx context.Context, _, _ int) error {
			res, err := s.call(ctx, "get_row", peerGetIn{Table: t.table, Key: "stdio"})
			if err == nil && res.StructuredContent == nil {
				err = fmt.Errorf("get_row of %s answered no structured content", t.name)
			}
			return err
		}
		// Warm-up, and the row get_row reads.
		if err := write(ctx, 0, 0); err != nil {
			return nil, fmt.Errorf("%s: %w", t.name, err)
		}
		if err := read(ctx, 0, 0); err != nil {
			return nil, fmt.Errorf("%s: %w", t.name, err)
		}
		writers = append(writers, &peerDriver{name: t.name, turn: func(ctx context.Context, d time.Duration) (int, []time.Duration, error) {
			return concurrently(ctx, 1, d, write)
		}})
		readers = append(readers, &peerDriver{name: t.name, turn: func(ctx context.Context, d time.Duration) (int, []time.Duration, error) {
			return concurrently(ctx, 1, d, read)
		}})
	}
	db, err := bolt.Open(barePath, 0o600, nil)
	if err != nil {
		return nil, fmt.Errorf("the bare bbolt program: %w", err)
	}
	defer db.Close()
	row := make([]byte, 100)
	writers = append(writers, &peerDriver{name: barePeerName, turn: func(ctx context.Context, d time.Duration) (int, []time.Duration, error) {
		return concurrently(ctx, 1, d, func(context.Context, int, int) error {
			return db.Update(func(tx *bolt.Tx) error {
				b, err := tx.CreateBucketIfNotExists(peerBucket)
				if err != nil {
					return err
				}
				return b.Put([]byte("stdio"), row)
			})
		})
	}})
	d := max(cfg.duration/time.Duration(cfg.rounds)/2, 20*time.Millisecond)
	if err := peerRounds(ctx, writers, cfg.rounds, d, true); err != nil {
		return nil, err
	}
	if err := peerRounds(ctx, readers, cfg.rounds, d, false); err != nil {
		return nil, err
	}
	ws := figures("durable writes, one stdio session, one call at a time", "calls/s", writers, true)
	for i, dr := range writers {
		ws.Figures[i].Note = fmt.Sprintf("p50 %.2f ms", percentileMs(dr.lats, 0.5))
	}
	return []peerScenario{
		ws,
		figures("get_row, one stdio session, one call at a time", "ms p50 / p99", readers, false),
	}, nil
}
