package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/mcp-sync/mcp-sync/cli"
)

// peersConfig is what one `peers` run measures.
type peersConfig struct {
	rounds      int
	duration    time.Duration // per server per scenario, over all rounds
	sessions    int
	subscribers int
	chunks      int
	bytesChunks []int           // answer lengths for total bytes written
	rows        int             // table size for list_rows
	ts          bool            // measure the TypeScript + SQLite peer
	only        map[string]bool // scenarios to run; empty: all
	tsDir       string
	serveArgs   []string // more flags for mcp-sync's serve (MCP_SYNC_BENCH_SERVE_ARGS)
	variants    []string // more mcp-sync servers: environment and BIN= (--variant)
}

// peersReport is everything one `peers` run measured.
type peersReport struct {
	Rounds    int               `json:"rounds"`
	Servers   []string          `json:"servers"`
	Skipped   map[string]string `json:"skipped,omitempty"` // server → why it did not run
	Scenarios []peerScenario    `json:"scenarios"`
}

// peerScenario is one scenario's figure for every server, and each one's
// ratio to mcp-sync's (the median of the rounds' ratios where it ran in
// rounds).
type peerScenario struct {
	Name    string       `json:"name"`
	Unit    string       `json:"unit"`
	Figures []peerFigure `json:"figures"`
}

// peerFigure is one server's figure in a scenario.
type peerFigure struct {
	Server string  `json:"server"`
	Value  float64 `json:"value"`
	P99    float64 `json:"p99,omitempty"`
	Ratio  float64 `json:"ratioToMcpSync,omitempty"`
	Note   string  `json:"note,omitempty"`
}

func runPeers(ctx context.Context, env *cli.Environ, args []string) int {
	fs := cli.NewFlags(env, "mcp-sync-bench", "peers", "peers [flags]",
		"Measures mcp-sync beside servers a user would write by hand, in one run, one load\n"+
			"generator (the official Go SDK client) and servers taking turns in rounds: the Go SDK\n"+
			"+ bbolt (peer-gosdk), the TypeScript SDK + better-sqlite3 (testdata/peers/ts-sqlite,\n"+
			"WAL, synchronous=FULL; needs node and npm) and, for storage, a bare bbolt program\n"+
			"rewriting one row. Scenarios: durable writes over HTTP sessions; a row streamed to\n"+
			"subscribers; bytes written per committed chunk; list_rows of 1,000 rows; one stdio\n"+
			"session's writes and reads, one call at a time. MCP_SYNC_BENCH_SERVE_ARGS adds flags to\n"+
			"mcp-sync's serve (for tuning: --cpuprofile FILE); this command's --cpuprofile profiles\n"+
			"the load generator, which tunes its collector as serve does unless GOGC is set.")
	cfg := peersConfig{}
	fs.IntVar(&cfg.rounds, "rounds", 5, "rounds the servers take turns in; ratios are the median of the rounds'")
	fs.DurationVar(&cfg.duration, "duration", 5*time.Second, "durable writes: how long each server is driven, over all rounds")
	fs.IntVar(&cfg.sessions, "sessions", 16, "concurrent HTTP sessions for durable writes")
	fs.IntVar(&cfg.subscribers, "subscribers", 100, "subscribers of the streamed row")
	fs.IntVar(&cfg.chunks, "chunks", 200, "chunks of 20 B streamed into the row, 5 ms apart")
	answers := fs.String("answers", "500,1000,2000", "answer `LENGTHS` (chunks, comma-separated) whose total bytes written are measured")
	fs.IntVar(&cfg.rows, "rows", 1_000_000, "rows in the table list_rows reads")
	noTS := fs.Bool("no-ts", false, "leave out the TypeScript + SQLite peer")
	fs.StringVar(&cfg.tsDir, "ts-dir", "testdata/peers/ts-sqlite", "the TypeScript peer's `DIR` (npm ci runs there when node_modules is stale)")
	only := fs.String("only", "", "run only these `SCENARIOS`, comma-separated: writes, stream, bytes, list, stdio")
	fs.Func("variant", "also measure mcp-sync served with `SPEC`, comma-separated NAME=VALUE environment (GOGC=100) and BIN=another mcp-sync-bench binary (a build to compare); repeatable, each a column of its own", func(v string) error {
		if v == "" || strings.Contains(v, ";") {
			return fmt.Errorf("%q: want NAME=VALUE or BIN=PATH, comma-separated", v)
		}
		for kv := range strings.SplitSeq(v, ",") {
			if name, _, ok := strings.Cut(kv, "="); !ok || name == "" {
				return fmt.Errorf("%q: %q is not NAME=VALUE", v, kv)
			}
		}
		cfg.variants = append(cfg.variants, v)
		return nil
	})
	asJSON := fs.Bool("json", false, "print the report as JSON")
	asMarkdown := fs.Bool("markdown", false, "print the report as the README's table (a row a scenario, a column a server)")
	profile := cli.CPUProfileFlag(fs)
	if code, ok := cli.Parse(fs, args); !ok {
		return code
	}
	fail := func(format string, a ...any) int {
		fmt.Fprintf(env.Stderr, "mcp-sync-bench peers: "+format+"\n", a...)
		return cli.ExitFail
	}
	var err error
	if cfg.bytesChunks, err = parseInts(*answers); err != nil {
		return fail("--answers: %v", err)
	}
	if *only != "" {
		cfg.only = map[string]bool{}
		for name := range strings.SplitSeq(*only, ",") {
			if !slices.Contains(peerScenarioTags, name) {
				return fail("--only: no scenario %q; there are %s", name, strings.Join(peerScenarioTags, ", "))
			}
			cfg.only[name] = true
		}
	}
	if cfg.rounds < 1 || cfg.sessions < 1 || cfg.subscribers < 1 || cfg.chunks < 1 || cfg.rows < 1 {
		return fail("--rounds, --sessions, --subscribers, --chunks and --rows must be at least 1")
	}
	progress := func(format string, a ...any) {
		if !*asJSON {
			fmt.Fprintf(env.Stderr, format+"\n", a...)
		}
	}
	stopProfile, err := profile()
	if err != nil {
		return fail("--cpuprofile: %v", err)
	}
	defer stopProfile()
	if env.Getenv("GOGC") == "" {
		// The load generator shares the cores with the server it drives:
		// at Go's default target a durable write cost it 234-243 µs of CPU,
		// tuned 125-148 (every client decode allocates), and what it spends
		// is taken from every server it measures.
		defer cli.StartGCTuner()()
	}
	rep := peersReport{Rounds: cfg.rounds, Skipped: map[string]string{}}
	cfg.ts = !*noTS
	cfg.serveArgs = strings.Fields(env.Getenv("MCP_SYNC_BENCH_SERVE_ARGS"))
	if cfg.ts {
		if why, err := tsPeerReady(ctx, cfg.tsDir, env.Getenv("CI") == "true"); err != nil {
			return fail("%v", err)
		} else if why != "" {
			cfg.ts = false
			rep.Skipped[tsPeerName] = why
			progress("leaving out %s: %s", tsPeerName, why)
		}
	}
	if err := measurePeers(ctx, cfg, &rep, progress); err != nil {
		return fail("%v", err)
	}
	if *asJSON {
		out, _ := json.MarshalIndent(rep, "", "  ")
		fmt.Fprintln(env.Stdout, string(out))
		return cli.ExitOK
	}
	if *asMarkdown {
		printPeersMarkdown(env.Stdout, rep)
		return cli.ExitOK
	}
	printPeers(env, rep)
	return cli.ExitOK
}

// peerScenarioTags are the scenarios' names for --only, in the order they run.
var peerScenarioTags = []string{"writes", "stream", "bytes", "list", "stdio"}

const (
	tsPeerName   = "TS SDK + SQLite"
	goPeerName   = "Go SDK + bbolt"
	barePeerName = "bare bbolt"
)

// tsPeerReady makes sure dir's node_modules matches its package-lock.json,
// running npm ci when it does not. It returns why the peer cannot run when
// node or npm is missing (an error in CI: CI must measure it).
func tsPeerReady(ctx context.Context, dir string, ci bool) (skip string, err error) {
	for _, tool := range []string{"node", "npm"} {
		if _, err := exec.LookPath(tool); err != nil {
			if ci {
				return "", fmt.Errorf("the TypeScript peer needs %s on PATH (CI=true: not skipping)", tool)
			}
			return tool + " not found on PATH", nil
		}
	}
	lock, err := os.ReadFile(filepath.Join(dir, "package-lock.json"))
	if err != nil {
		return "", fmt.Errorf("the TypeScript peer: %w (run from the repository root, or pass --ts-dir)", err)
	}
	stamp := filepath.Join(dir, "node_modules", ".mcp-sync-lock")
	if have, err := os.ReadFile(stamp); err == nil && string(have) == string(lock) {
		return "", nil
	}
	cmd := exec.CommandContext(ctx, "npm", "ci", "--no-audit", "--no-fund")
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("npm ci in %s: %v\n%s", dir, err, out)
	}
	return "", os.WriteFile(stamp, lock, 0o644)
}

// startPeers starts every server as a child process on loopback, each on a
// fresh data file in dir.
func startPeers(ctx context.Context, cfg peersConfig, dir, tag string) ([]*peerTarget, error) {
	bin, err := benchSelf()
	if err != nil {
		return nil, err
	}
	var out []*peerTarget
	stopAll := func() {
		for _, t := range out {
			t.stop()
		}
	}
	args := append([]string{"serve", "--app", "bench", "--data", mcpSyncDataPath(dir, tag), "--http", "127.0.0.1:0"}, cfg.serveArgs...)
	app, err := cli.StartServerProc(ctx, bin, args...)
	if err != nil {
		return nil, fmt.Errorf("starting mcp-sync: %w", err)
	}
	out = append(out, mcpSyncTarget(app.URL, app.PID, app.Stop))
	for i, v := range cfg.variants {
		vbin, venv := bin, []string{}
		for kv := range strings.SplitSeq(v, ",") {
			if b, ok := strings.CutPrefix(kv, "BIN="); ok {
				vbin = b
			} else {
				venv = append(venv, kv)
			}
		}
		vargs := append([]string{"serve", "--app", "bench", "--data", mcpSyncDataPath(dir, fmt.Sprint(tag, "-variant", i)), "--http", "127.0.0.1:0"}, cfg.serveArgs...)
		vp, err := cli.StartServerProcEnv(ctx, venv, vbin, vargs...)
		if err != nil {
			stopAll()
			return nil, fmt.Errorf("starting mcp-sync %s: %w", v, err)
		}
		t := mcpSyncTarget(vp.URL, vp.PID, vp.Stop)
		t.name = "mcp-sync " + v
		out = append(out, t)
	}
	gp, err := cli.StartServerProc(ctx, bin, "peer-gosdk", "--data", filepath.Join(dir, tag+"-gosdk.bolt"), "--http", "127.0.0.1:0")
	if err != nil {
		stopAll()
		return nil, fmt.Errorf("starting the Go SDK peer: %w", err)
	}
	out = append(out, peerTargetOf(goPeerName, gp.URL, gp.PID, gp.Stop))
	if cfg.ts {
		script, err := filepath.Abs(filepath.Join(cfg.tsDir, "server.mjs"))
		if err != nil {
			stopAll()
			return nil, err
		}
		tp, err := cli.StartServerProc(ctx, "node", script, "--data", filepath.Join(dir, tag+"-ts.sqlite"), "--http", "127.0.0.1:0")
		if err != nil {
			stopAll()
			return nil, fmt.Errorf("starting the TypeScript peer: %w", err)
		}
		out = append(out, peerTargetOf(tsPeerName, tp.URL, tp.PID, tp.Stop))
	}
	return out, nil
}

// mcpSyncDataPath is mcp-sync's data file for scenario tag.
func mcpSyncDataPath(dir, tag string) string { return filepath.Join(dir, tag+"-mcp-sync.db") }

// benchSelf is the binary the servers start from (benchBinary in tests).
func benchSelf() (string, error) {
	if benchBinary != "" {
		return benchBinary, nil
	}
	bin, err := os.Executable()
	if err != nil {
		return "", fmt.Errorf("finding this program: %w", err)
	}
	return bin, nil
}

func stopPeers(ts []*peerTarget) {
	for _, t := range ts {
		t.stop()
	}
}

// measurePeers runs every scenario, each on fresh servers so that one
// scenario's data does not weigh on the next.
func measurePeers(ctx context.Context, cfg peersConfig, rep *peersReport, progress func(string, ...any)) error {
	dir, err := os.MkdirTemp("", "mcp-sync-peers-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	type scenario struct {
		tag string
		run func(context.Context, peersConfig, []*peerTarget, string) ([]peerScenario, error)
		// prepare, when set, runs before the servers start, given the path
		// of mcp-sync's data file.
		prepare func(ctx context.Context, cfg peersConfig, path string) error
		// start starts the servers (over HTTP when nil).
		start func(ctx context.Context, cfg peersConfig, dir, tag string) ([]*peerTarget, error)
	}
	listPrep := func(ctx context.Context, cfg peersConfig, path string) error {
		return prepareListRows(ctx, path, cfg.rows)
	}
	for _, sc := range []scenario{
		{tag: "writes", run: peerWrites}, {tag: "stream", run: peerStreams}, {tag: "bytes", run: peerBytes},
		{tag: "list", run: peerLists, prepare: listPrep}, {tag: "stdio", run: peerStdio, start: startStdioPeers},
	} {
		if cfg.only != nil && !cfg.only[sc.tag] {
			continue
		}
		if sc.prepare != nil {
			progress("%s: preparing…", sc.tag)
			if err := sc.prepare(ctx, cfg, mcpSyncDataPath(dir, sc.tag)); err != nil {
				return fmt.Errorf("%s: %w", sc.tag, err)
			}
		}
		start := startPeers
		if sc.start != nil {
			start = sc.start
		}
		ts, err := start(ctx, cfg, dir, sc.tag)
		if err != nil {
			return err
		}
		if rep.Servers == nil {
			for _, t := range ts {
				rep.Servers = append(rep.Servers, t.name)
			}
			rep.Servers = append(rep.Servers, barePeerName)
		}
		progress("%s…", sc.tag)
		got, err := sc.run(ctx, cfg, ts, filepath.Join(dir, sc.tag+"-bare.bolt"))
		stopPeers(ts)
		if err != nil {
			return fmt.Errorf("%s: %w", sc.tag, err)
		}
		rep.Scenarios = append(rep.Scenarios, got...)
	}
	return nil
}

func parseInts(s string) ([]int, error) {
	var out []int
	for f := range strings.SplitSeq(s, ",") {
		var n int
		if _, err := fmt.Sscan(f, &n); err != nil || n < 1 {
			return nil, errors.New("want positive whole numbers separated by commas, like 500,1000,2000")
		}
		out = append(out, n)
	}
	return out, nil
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

// printPeersMarkdown prints the report as the README's table: a row a
// scenario, a column a server, each figure with its ratio to mcp-sync's.
// A server's several figures in a scenario (mcp-sync's two kinds of
// notice; answers of several lengths) share its cell; labels every column
// shares move to the scenario's name.
func printPeersMarkdown(w io.Writer, rep peersReport) {
	fmt.Fprintf(w, "| scenario | %s |\n|---|%s\n", strings.Join(rep.Servers, " | "), strings.Repeat("---|", len(rep.Servers)))
	for _, sc := range rep.Scenarios {
		type fig struct {
			label string
			f     peerFigure
		}
		cols := make([][]fig, len(rep.Servers))
		for _, f := range sc.Figures {
			if c, label := peerColumn(rep.Servers, f.Server); c >= 0 {
				cols[c] = append(cols[c], fig{label, f})
			}
		}
		labelsOf := func(c []fig) string {
			var ls []string
			for _, x := range c {
				ls = append(ls, x.label)
			}
			return strings.Join(ls, " / ")
		}
		shared, name := labelsOf(cols[0]), sc.Name
		for _, c := range cols {
			if len(c) > 0 && labelsOf(c) != shared || len(cols[0]) < 2 {
				shared = ""
			}
		}
		if shared != "" {
			name += ", " + shared
		}
		cells := make([]string, len(cols))
		for i, c := range cols {
			var parts []string
			for j, x := range c {
				v := fmtFigure(x.f.Value)
				if x.f.P99 > 0 {
					v += " / " + fmtFigure(x.f.P99)
				}
				if x.label != "" && shared == "" {
					v = x.label + " " + v
				}
				if x.f.Ratio > 0 && (i > 0 || j > 0 && shared == "") {
					v += fmt.Sprintf(" (%.2f×)", x.f.Ratio)
				}
				if x.f.Note != "" {
					v += ", " + x.f.Note
				}
				parts = append(parts, v)
			}
			sep := "; "
			if shared != "" {
				sep = " / "
			}
			cells[i] = strings.Join(parts, sep)
		}
		fmt.Fprintf(w, "| %s (%s) | %s |\n", name, sc.Unit, strings.Join(cells, " | "))
	}
}

// peerColumn is the column of servers a figure's server name belongs to
// (its name, or its name then a label: "mcp-sync (plain notices)",
// "bare bbolt, 500 chunks"), and the label; -1 when none.
func peerColumn(servers []string, name string) (int, string) {
	best, label := -1, ""
	for i, s := range servers {
		rest, ok := strings.CutPrefix(name, s)
		if !ok || rest != "" && rest[0] != ' ' && rest[0] != ',' || best >= 0 && len(s) <= len(servers[best]) {
			continue
		}
		best, label = i, strings.Trim(rest, " ,()")
	}
	return best, label
}

// fmtFigure is v with the precision the README gives: whole numbers with
// commas from 100 up, three significant digits below.
func fmtFigure(v float64) string {
	switch {
	case v >= 100:
		return thousands(int(math.Round(v)))
	case v >= 10:
		return strconv.FormatFloat(v, 'f', 1, 64)
	default:
		return strconv.FormatFloat(v, 'f', 2, 64)
	}
}
