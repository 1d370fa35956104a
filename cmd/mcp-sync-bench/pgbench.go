package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/mcp-sync/mcp-sync/cli"
	"github.com/mcp-sync/mcp-sync/client"
)

// pgReport is what one pgbench run measured.
type pgReport struct {
	Duration string        `json:"duration"`
	Rounds   int           `json:"rounds"`
	Results  []benchResult `json:"results"`
	Targets  []benchTarget `json:"targets"`
}

func pgCommitCall(ctx context.Context, c *client.Conn, i, _ int) error {
	_, err := c.Call(ctx, "pgcommit", map[string]any{"key": fmt.Sprint("s", i)})
	return err
}

// runPGBench measures the mutator on PostgreSQL against a bare mcp-go
// server doing the same transaction by hand with pgx.
func runPGBench(ctx context.Context, env *cli.Environ, args []string) int {
	fs := cli.NewFlags(env, "mcp-sync-bench", "pgbench", "pgbench [flags]",
		"Measures mutator calls/s on PostgreSQL, in one run: mcp-sync serve --postgres\n"+
			"beside a bare mcp-go server whose tool does the same transaction by hand with\n"+
			"pgx (lock a counter row, upsert a row, insert a log row, notify, commit: one\n"+
			"transaction a call, pipelined), over streamable HTTP (2026-07-28), with 1 and\n"+
			"more concurrent sessions. They take turns; the ratio is the median of the\n"+
			"rounds' ratios. Each server gets a schema of its own, dropped at the end.")
	dsn := fs.String("postgres", "", "the PostgreSQL `DSN` (default $MCP_SYNC_POSTGRES, else postgres://postgres@127.0.0.1:5432/test)")
	duration := fs.Duration("duration", 10*time.Second, "how long each session count runs, shared by the rounds and the two servers")
	rounds := fs.Int("rounds", 5, "the two servers take turns this many times")
	sessionList := fs.String("sessions", "1,16", "`COUNTS` of concurrent HTTP sessions, a comma-separated list")
	asJSON := fs.Bool("json", false, "print the report as JSON")
	if code, ok := cli.Parse(fs, args); !ok {
		return code
	}
	fail := func(format string, a ...any) int {
		fmt.Fprintf(env.Stderr, "mcp-sync-bench pgbench: "+format+"\n", a...)
		return cli.ExitFail
	}
	var counts []int
	for f := range strings.SplitSeq(*sessionList, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			return fail("--sessions %q: want positive numbers separated by commas", *sessionList)
		}
		counts = append(counts, n)
	}
	if *rounds < 1 || *duration/time.Duration(2**rounds) < 10*time.Millisecond {
		return fail("--rounds %d with --duration %s: want rounds of at least 10ms per server", *rounds, *duration)
	}
	if *dsn == "" {
		if *dsn = env.Getenv("MCP_SYNC_POSTGRES"); *dsn == "" {
			*dsn = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
		}
	}
	bin := benchBinary
	if bin == "" {
		var err error
		if bin, err = os.Executable(); err != nil {
			return fail("finding this program: %v", err)
		}
	}
	suffix := strconv.FormatInt(time.Now().UnixNano(), 36)
	bareSchema, appSchema := "bench_bare_"+suffix, "bench_app_"+suffix
	defer dropSchemas(*dsn, bareSchema, appSchema)
	bareSrv, err := cli.StartServerProc(ctx, bin, "bare-serve", "--http", "127.0.0.1:0", "--postgres", *dsn, "--postgres-schema", bareSchema)
	if err != nil {
		return fail("starting the bare mcp-go server: %v", err)
	}
	defer bareSrv.Stop()
	appSrv, err := cli.StartServerProc(ctx, bin, "serve", "--app", "bench", "--http", "127.0.0.1:0", "--postgres", *dsn, "--postgres-schema", appSchema)
	if err != nil {
		return fail("starting mcp-sync-bench serve --postgres: %v", err)
	}
	defer appSrv.Stop()
	dial := func(url string) func(context.Context) (*client.Conn, error) {
		return func(ctx context.Context) (*client.Conn, error) { return client.DialHTTP(ctx, url, client.Options{}) }
	}
	rep := pgReport{Duration: duration.String(), Rounds: *rounds}
	for _, n := range counts {
		loads, err := openLoads(ctx, "http", eraName(false), n, []loadSpec{
			{"bare pgx transaction", dial(bareSrv.URL), pgCommitCall},
			{"mutator put (postgres)", dial(appSrv.URL), putCall},
		})
		if err != nil {
			return fail("%v", err)
		}
		if !*asJSON {
			fmt.Fprintf(env.Stderr, "%d sessions: the bare server and the mutator take turns, %d rounds…\n", n, *rounds)
		}
		_ = takeTurns(ctx, loads, *rounds, *duration/time.Duration(2**rounds), nil)
		bare, put := loads[0].result(), loads[1].result()
		closeLoads(loads)
		put.Baseline, put.Ratio = bare.Scenario, perSecRatio(put, bare)
		rep.Results = append(rep.Results, bare, put)
		rep.Targets = append(rep.Targets, benchTarget{
			What: fmt.Sprintf("HTTP %s, %d sessions: mutator calls/s on PostgreSQL ÷ the bare pgx transaction's calls/s (median of %d rounds)", eraName(false), n, *rounds),
			Got:  put.Ratio, Want: "≥ 0.8", Met: put.Ratio >= 0.8})
	}
	if *asJSON {
		out, _ := json.MarshalIndent(rep, "", "  ")
		fmt.Fprintln(env.Stdout, string(out))
		return cli.ExitOK
	}
	w := env.Stdout
	for _, r := range rep.Results {
		fmt.Fprintf(w, "%-24s %3d sessions  %8.0f calls/s  p50 %7.3f ms  p99 %7.3f ms  errors %d\n", r.Scenario, r.Sessions, r.PerSec, r.P50Ms, r.P99Ms, r.Errors)
	}
	printChecks(w, "Targets (issue 20):", rep.Targets, "met", "MISSED", "want ")
	return cli.ExitOK
}

// dropSchemas removes the schemas a run made; a failure only leaves them.
func dropSchemas(dsn string, schemas ...string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return
	}
	defer conn.Close(ctx)
	for _, s := range schemas {
		_, _ = conn.Exec(ctx, "DROP SCHEMA IF EXISTS "+pgx.Identifier{s}.Sanitize()+" CASCADE")
	}
}
