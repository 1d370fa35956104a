package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/mcp-sync/mcp-sync/backend"
	"github.com/mcp-sync/mcp-sync/cli"
	"github.com/mcp-sync/mcp-sync/storage"
	"github.com/mcp-sync/mcp-sync/storage/postgres"
)

// runReplicasBench measures commit → subscriber latency across replicas on
// PostgreSQL, with 1, 2 and 3 replicas.
func runReplicasBench(ctx context.Context, env *cli.Environ, args []string) int {
	fs := cli.NewFlags(env, "mcp-sync-bench", "replicas", "replicas [flags]",
		"Measures commit → subscriber latency across replicas on PostgreSQL: N engines\n"+
			"(each with its own connections and change listener, in this process) on one\n"+
			"schema; one writes rows one after another, a subscriber on every replica\n"+
			"times each row from the moment its write was called. The baseline, in the same\n"+
			"run, is the write's own commit (the call's return). Each N gets a schema of its\n"+
			"own, dropped at the end.")
	dsn := fs.String("postgres", "", "the PostgreSQL `DSN` (default $MCP_SYNC_POSTGRES, else postgres://postgres@127.0.0.1:5432/test)")
	writes := fs.Int("writes", 2000, "rows written per replica count")
	list := fs.String("replicas", "1,2,3", "replica `COUNTS`, a comma-separated list")
	if code, ok := cli.Parse(fs, args); !ok {
		return code
	}
	fail := func(format string, a ...any) int {
		fmt.Fprintf(env.Stderr, "mcp-sync-bench replicas: "+format+"\n", a...)
		return cli.ExitFail
	}
	if *dsn == "" {
		*dsn = env.Getenv("MCP_SYNC_POSTGRES")
	}
	if *dsn == "" {
		*dsn = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
	}
	if *writes < 10 {
		return fail("--writes %d: want at least 10", *writes)
	}
	fmt.Fprintf(env.Stdout, "%-9s %12s %12s %14s %14s\n", "replicas", "commit p50", "commit p99", "subscriber p50", "subscriber p99")
	for f := range strings.SplitSeq(*list, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 || n > 16 {
			return fail("--replicas %q: want counts from 1 to 16 separated by commas", *list)
		}
		commit, deliver, err := replicaRound(ctx, *dsn, n, *writes)
		if err != nil {
			return fail("%d replicas: %v", n, err)
		}
		fmt.Fprintf(env.Stdout, "%-9d %10.2fms %10.2fms %12.2fms %12.2fms\n", n,
			percentileMs(commit, 0.5), percentileMs(commit, 0.99), percentileMs(deliver, 0.5), percentileMs(deliver, 0.99))
	}
	fmt.Fprintln(env.Stdout, "subscriber: from the write's call to its arrival on the other replicas (on the writer's own with 1)")
	return cli.ExitOK
}

// replicaRound runs n engines on a new schema and returns the writes'
// commit times and their delivery times to the subscribers of the replicas
// other than the writer's (its own when n is 1).
func replicaRound(ctx context.Context, dsn string, n, writes int) (commit, deliver []time.Duration, err error) {
	var b [6]byte
	_, _ = rand.Read(b[:])
	sch := "bench_replicas_" + hex.EncodeToString(b[:])
	defer dropSchema(dsn, sch)
	var engines []*backend.Engine
	defer func() {
		for _, e := range engines {
			e.Close()
		}
	}()
	for range n {
		e, err := backend.Open(benchConfig(), backend.Options{Logger: slog.New(slog.DiscardHandler),
			Storage: func(tables []string, v int) (storage.Driver, error) {
				return postgres.Open(ctx, dsn, postgres.Options{Tables: tables, SchemaVersion: v, Schema: sch})
			}})
		if err != nil {
			return nil, nil, err
		}
		engines = append(engines, e)
	}
	watchers := engines[1:]
	if n == 1 {
		watchers = engines
	}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, e := range watchers {
		feed, err := e.Subscribe(ctx, backend.Filter{Table: "rows"}, e.Version())
		if err != nil {
			return nil, nil, err
		}
		wg.Go(func() {
			defer feed.Close()
			for got := 0; got < writes; {
				wctx, cancel := context.WithTimeout(ctx, time.Minute)
				ev, err := feed.Next(wctx)
				cancel()
				if err != nil {
					return
				}
				now := time.Now().UnixNano()
				for _, c := range ev.Changes {
					var r benchRow
					if json.Unmarshal(c.Value, &r) == nil && r.T > 0 {
						mu.Lock()
						deliver = append(deliver, time.Duration(now-r.T))
						mu.Unlock()
						got++
					}
				}
			}
		})
	}
	for i := range writes {
		t0 := time.Now()
		in, _ := json.Marshal(benchPut{Key: fmt.Sprint("k", i%100), Text: "x", N: i, T: t0.UnixNano()})
		if _, err := engines[0].Mutate(ctx, "put", in); err != nil {
			return nil, nil, err
		}
		commit = append(commit, time.Since(t0))
		time.Sleep(2 * time.Millisecond) // paced: latency, not a saturated queue
	}
	wg.Wait()
	if len(deliver) < writes*len(watchers) {
		return nil, nil, fmt.Errorf("subscribers received %d of %d rows", len(deliver), writes*len(watchers))
	}
	return commit, deliver, nil
}

func dropSchema(dsn, sch string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		fmt.Fprintf(os.Stderr, "mcp-sync-bench replicas: drop schema %s: %v\n", sch, err)
		return
	}
	defer conn.Close(ctx)
	_, _ = conn.Exec(ctx, "DROP SCHEMA IF EXISTS "+pgx.Identifier{sch}.Sanitize()+" CASCADE")
}
