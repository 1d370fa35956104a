package main

import (
	"cmp"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/mcp-sync/mcp-sync/backend/ai"
	"github.com/mcp-sync/mcp-sync/backend/ai/localai"
	"github.com/mcp-sync/mcp-sync/cli"
	"github.com/mcp-sync/mcp-sync/client"
)

// The abuse phase of `mcp-sync-bench soak` (--abuse): a child `serve
// --http` is attacked the ways issue 14 lists while a well-behaved client
// keeps writing, then the server's memory and open files are read and every
// acknowledged write is looked for, live and after a restart.

// abuseFDSlack is how many open files above the start the server may keep
// after the settle wait (a timer's or the runtime's descriptors).
const abuseFDSlack = 3

// abuseProbeLimit (plus the hold) is the most time a probe may take; what
// it had not sent by then is reported as not sent.
const abuseProbeLimit = 5 * time.Minute

// abuseConfig is the phase's sizes and expectations.
type abuseConfig struct {
	Bodies         int           `json:"bodies"` // per endpoint
	BodyBytes      int64         `json:"bodyBytes"`
	Sessions       int           `json:"sessions"`
	Subs           int           `json:"subscriptions"`
	Slow           int           `json:"slowBodyConns"`
	Idle           int           `json:"idleConns"`
	Actions        int           `json:"actions"`
	Conns          int           `json:"keepAliveConns"`
	Hold           time.Duration `json:"holdNs"`
	Settle         time.Duration `json:"settleNs"`
	AIDelay        time.Duration `json:"aiDelayNs"`
	MaxRSSMB       float64       `json:"maxRSSMB"`
	Strict         bool          `json:"strict"`
	ServerArgs     []string      `json:"serverArgs,omitempty"`
	expectSessions int
	expectSubs     int
	expectActions  int
	binary         string
}

// abuseFlags are soak's --abuse flags.
type abuseFlags struct {
	on                                               *bool
	bodies, bodyMB, sessions, subs, slow, idle, acts *int
	conns, expSessions, expSubs, expActions          *int
	hold, settle                                     *time.Duration
	strict                                           *bool
	serverArgs                                       *string
}

func addAbuseFlags(fs *flag.FlagSet) *abuseFlags {
	return &abuseFlags{
		on:          fs.Bool("abuse", false, "run the abuse phase against a child serve --http instead of the load (see above)"),
		bodies:      fs.Int("abuse-bodies", 20, "with --abuse: oversize POST bodies sent to /mcp and again to /message"),
		bodyMB:      fs.Int("abuse-body-mb", 100, "with --abuse: size of each oversize body, MB"),
		sessions:    fs.Int("abuse-sessions", 20000, "with --abuse: legacy sessions opened (initialize) and never closed"),
		subs:        fs.Int("abuse-subs", 5000, "with --abuse: resources/subscribe calls on one session, each to its own row"),
		slow:        fs.Int("abuse-slow", 200, "with --abuse: connections sending a POST body at 1 byte every 2 s"),
		idle:        fs.Int("abuse-idle", 500, "with --abuse: idle keep-alive connections"),
		acts:        fs.Int("abuse-actions", 200, "with --abuse: concurrent generateWithAI calls"),
		conns:       fs.Int("abuse-conns", 8, "with --abuse: keep-alive connections the session and subscription probes share"),
		expSessions: fs.Int("abuse-expect-sessions", 10000, "with --abuse: the sessions cap the server should enforce"),
		expSubs:     fs.Int("abuse-expect-subs", 1000, "with --abuse: the subscriptions-per-session cap the server should enforce"),
		expActions:  fs.Int("abuse-expect-actions", 32, "with --abuse: the most generateWithAI calls that should reach the AI at once"),
		hold:        fs.Duration("abuse-hold", 150*time.Second, "with --abuse: how long slow and idle connections wait to be cut by the server"),
		settle:      fs.Duration("abuse-settle", 30*time.Second, "with --abuse: how long the server may take to return to its starting open files"),
		strict:      fs.Bool("abuse-strict", false, "with --abuse: also exit 1 when a probe's expectation is not met"),
		serverArgs:  fs.String("abuse-server-args", "", "with --abuse: extra `FLAGS` for the child serve, space-separated (e.g. its limit flags)"),
	}
}

// abuseHelp is the --abuse paragraph of soak's --help.
const abuseHelp = "\n\n" +
	"With --abuse it instead starts `serve --http` as a child process and,\n" +
	"while one client keeps writing, attacks it: oversize bodies to /mcp and\n" +
	"/message, --abuse-sessions sessions never closed, --abuse-subs subscriptions on\n" +
	"one session, slow-body and idle keep-alive connections, --abuse-actions\n" +
	"concurrent generateWithAI calls. It reports each probe's answers by kind and\n" +
	"whether it met its expectation, the server's max RSS and open files, and reads\n" +
	"every acknowledged write back (live and after a restart). Exit 1 when the max\n" +
	"RSS exceeds --max-rss-mb, the open files do not return to their start, a write\n" +
	"is lost or one of the writing client's calls failed (with --abuse-strict also\n" +
	"when a probe's expectation is not met)."

// run runs the abuse phase with the parsed flags; maxRSS 0 means 300 MB,
// and aiDelay applies only when given (else 30 ms, serve's default).
func (a *abuseFlags) run(ctx context.Context, env *cli.Environ, fs *flag.FlagSet, binary string, maxRSS float64, aiDelay time.Duration, asJSON bool) int {
	if !flagSet(fs, "ai-delay") {
		aiDelay = 30 * time.Millisecond
	}
	cfg, err := a.config(binary, cmp.Or(maxRSS, 300), aiDelay)
	if err != nil {
		fmt.Fprintf(env.Stderr, "mcp-sync-bench soak: %v\n", err)
		return cli.ExitUsage
	}
	return runAbuse(ctx, env, cfg, asJSON)
}

// flagSet says whether name was given on the command line.
func flagSet(fs *flag.FlagSet, name string) bool {
	set := false
	fs.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}

// config checks the flags and returns the phase's configuration.
func (a *abuseFlags) config(binary string, maxRSS float64, aiDelay time.Duration) (abuseConfig, error) {
	c := abuseConfig{Bodies: *a.bodies, BodyBytes: int64(*a.bodyMB) << 20, Sessions: *a.sessions, Subs: *a.subs, Slow: *a.slow,
		Idle: *a.idle, Actions: *a.acts, Conns: *a.conns, Hold: *a.hold, Settle: *a.settle, AIDelay: aiDelay, MaxRSSMB: maxRSS,
		Strict: *a.strict, ServerArgs: strings.Fields(*a.serverArgs), expectSessions: *a.expSessions, expectSubs: *a.expSubs,
		expectActions: *a.expActions, binary: binary}
	for _, v := range []struct {
		name string
		n    int
	}{{"--abuse-bodies", c.Bodies}, {"--abuse-body-mb", *a.bodyMB}, {"--abuse-sessions", c.Sessions}, {"--abuse-subs", c.Subs},
		{"--abuse-slow", c.Slow}, {"--abuse-idle", c.Idle}, {"--abuse-actions", c.Actions}} {
		if v.n < 0 {
			return c, fmt.Errorf("%s must not be negative", v.name)
		}
	}
	if c.Conns < 1 || c.Hold <= 0 || c.Settle <= 0 || c.expectActions < 1 {
		return c, fmt.Errorf("--abuse-conns, --abuse-hold, --abuse-settle and --abuse-expect-actions must be positive")
	}
	return c, nil
}

// abuseReport is the phase's report.
type abuseReport struct {
	Config         abuseConfig   `json:"config"`
	ServerPID      int           `json:"serverPID"`
	StartRSSMB     float64       `json:"startRSSMB"`
	MaxRSSMB       float64       `json:"maxRSSMB"` // VmHWM: the peak resident set
	EndRSSMB       float64       `json:"endRSSMB"`
	FDsStart       int           `json:"fdsStart"`
	FDsPeak        int           `json:"fdsPeak"`
	FDsEnd         int           `json:"fdsEnd"`
	SettleWait     string        `json:"settleWait"`
	UpstreamAIPeak int64         `json:"upstreamAIPeak"`
	ClientMaxRSSMB float64       `json:"clientMaxRSSMB"` // this process's VmHWM: the probes stream, not buffer
	Probes         []abuseProbe  `json:"probes"`
	Normal         abuseNormal   `json:"normalClient"`
	Verify         []abuseVerify `json:"verify"`
	ServerLog      abuseLog      `json:"serverLog"`
	Unmet          []string      `json:"unmetExpectations,omitempty"`
	Problems       []string      `json:"problems,omitempty"`
	Pass           bool          `json:"pass"`
}

// runAbuse runs the phase and prints its report.
func runAbuse(ctx context.Context, env *cli.Environ, cfg abuseConfig, asJSON bool) int {
	fail := func(format string, a ...any) int {
		fmt.Fprintf(env.Stderr, "mcp-sync-bench soak --abuse: "+format+"\n", a...)
		return cli.ExitFail
	}
	var progressMu sync.Mutex // probes report as they end
	progress := func(format string, a ...any) {
		progressMu.Lock()
		defer progressMu.Unlock()
		fmt.Fprintf(env.Stderr, "abuse: "+format+"\n", a...)
	}
	if cfg.binary == "" {
		self, err := os.Executable()
		if err != nil {
			return fail("finding this program to start its server: %v", err)
		}
		cfg.binary = self
	}
	if err := raiseFileLimit(uint64(cfg.Slow + cfg.Idle + 2*cfg.Actions + cfg.Conns + 4*abuseBodyParallel + 256)); err != nil {
		return fail("%v", err)
	}
	dir, err := os.MkdirTemp("", "mcp-sync-abuse-")
	if err != nil {
		return fail("%v", err)
	}
	defer os.RemoveAll(dir)
	data := filepath.Join(dir, "abuse.db")

	// The AI endpoint runs here, so the phase can count the requests that
	// reach it at once (the child reaches it through OPENAI_BASE_URL).
	gauge := &aiGauge{}
	aiURL, stopAI, err := startAbuseAI(cfg.AIDelay, gauge)
	if err != nil {
		return fail("%v", err)
	}
	defer stopAI()
	serverEnv := []string{ai.EnvBaseURL + "=" + aiURL, ai.EnvModel + "=" + localai.DefaultModel}
	startServer := func() (cli.ServerProc, error) {
		sctx, cancel := context.WithTimeout(ctx, time.Minute)
		defer cancel()
		args := append([]string{"serve", "--http", "127.0.0.1:0", "--data", data}, cfg.ServerArgs...)
		return cli.StartServerProcEnv(sctx, serverEnv, cfg.binary, args...)
	}
	srv, err := startServer()
	if err != nil {
		return fail("%v", err)
	}
	stopped := false
	defer func() {
		if !stopped {
			srv.Stop()
		}
	}()
	base := strings.TrimSuffix(srv.URL, "/mcp")
	addr := strings.TrimPrefix(base, "http://")
	rep := abuseReport{Config: cfg, ServerPID: srv.PID}
	progress("server %d up at %s (data %s)", srv.PID, srv.URL, data)

	// The baseline: the server up, no client connected.
	time.Sleep(time.Second)
	if p, err := soakProcStatus(srv.PID); err == nil {
		rep.StartRSSMB = p.rssMB
	}
	if rep.FDsStart, err = procFDs(srv.PID); err != nil {
		return fail("%v", err)
	}

	// What the probes need is set up before any of them can fill a cap.
	setupCtx, cancelSetup := context.WithTimeout(ctx, time.Minute)
	defer cancelSetup()
	normalConn, err := client.DialHTTP(setupCtx, srv.URL, client.Options{Legacy: true})
	if err != nil {
		return fail("the normal client could not connect: %v", err)
	}
	defer normalConn.Close()
	var actionConns []*client.Conn
	defer func() {
		for _, c := range actionConns {
			c.Close()
		}
	}()
	for i := range min(8, max(1, cfg.Actions)) {
		c, err := client.DialHTTP(setupCtx, srv.URL, client.Options{Legacy: i%2 == 1})
		if err != nil {
			return fail("connecting the action callers: %v", err)
		}
		actionConns = append(actionConns, c)
	}
	rpc := newAbuseRPC(srv.URL, cfg.Conns)
	defer rpc.close()
	subSession, err := rpc.openLegacySession(setupCtx)
	if err != nil {
		return fail("opening the subscribing session: %v", err)
	}
	msgPath, closeSSE, err := openSSESession(ctx, base) // lives past the set-up: the session is the stream
	if err != nil {
		return fail("%v", err)
	}
	defer closeSSE()
	cancelSetup()

	// Watch the server's memory and open files throughout.
	monCtx, stopMon := context.WithCancel(ctx)
	var monWG sync.WaitGroup
	monWG.Add(1)
	go func() {
		defer monWG.Done()
		for monCtx.Err() == nil {
			if n, err := procFDs(srv.PID); err == nil {
				rep.FDsPeak = max(rep.FDsPeak, n)
			}
			select {
			case <-monCtx.Done():
			case <-time.After(250 * time.Millisecond):
			}
		}
	}()

	writer := &abuseWriter{cn: normalConn, acked: map[string]abuseAck{}}
	writeCtx, stopWrites := context.WithCancel(ctx)
	var writeWG sync.WaitGroup
	writeWG.Add(1)
	go func() { defer writeWG.Done(); writer.run(writeCtx, 1_000_000, 20*time.Millisecond) }()

	progress("probes started while the normal client writes: %d+%d oversize bodies of %d MB, %d sessions, %d subscriptions, %d slow and %d idle connections (held up to %s), %d action calls",
		cfg.Bodies, cfg.Bodies, cfg.BodyBytes>>20, cfg.Sessions, cfg.Subs, cfg.Slow, cfg.Idle, cfg.Hold, cfg.Actions)
	// Each probe is bounded in time as well as count.
	pctx, cancelProbes := context.WithTimeout(ctx, cfg.Hold+abuseProbeLimit)
	defer cancelProbes()
	probes := []func() abuseProbe{
		func() abuseProbe { return probeBodies(pctx, cfg, addr, "/mcp", "oversize bodies to /mcp") },
		func() abuseProbe {
			return probeBodies(pctx, cfg, addr, msgPath, "oversize bodies to /message (an SSE session)")
		},
		func() abuseProbe { return probeSessions(pctx, cfg, rpc) },
		func() abuseProbe { return probeSubscriptions(pctx, cfg, rpc, subSession) },
		func() abuseProbe { return probeSlowBodies(pctx, cfg, addr) },
		func() abuseProbe { return probeIdleConns(pctx, cfg, addr) },
		func() abuseProbe { return probeActions(pctx, cfg, actionConns, gauge) },
	}
	rep.Probes = make([]abuseProbe, len(probes))
	var wg sync.WaitGroup
	for i, run := range probes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p := run()
			if st, err := soakProcStatus(srv.PID); err == nil {
				p.ServerRSSMB = st.rssMB
			}
			rep.Probes[i] = p
			progress("probe done: %s: %s (%.1f s; server RSS now %.1f MB)", p.Name, p.Seen, p.Seconds, p.ServerRSSMB)
		}()
	}
	wg.Wait()
	stopWrites()
	writeWG.Wait()
	rep.Normal = writer.report("legacy (2025-11-25)")
	rep.UpstreamAIPeak = gauge.peak.Load()
	if self, err := soakProcStatus(os.Getpid()); err == nil {
		rep.ClientMaxRSSMB = self.hwmMB
	}
	progress("probes done; the normal client made %d calls (%d failed)", rep.Normal.Calls, rep.Normal.Failed)

	// Everything of the probes is closed; then the writes are read back.
	for _, c := range actionConns {
		c.Close()
	}
	actionConns = nil
	closeSSE()
	rpc.close()
	stopAI() // the child's idle connections to the AI end with it
	writer.mu.Lock()
	acked := writer.acked
	writer.mu.Unlock()
	progress("verifying %d acknowledged writes on the running server", len(acked))
	vctx, cancelV := context.WithTimeout(ctx, 3*time.Minute)
	defer cancelV()
	rep.Verify = append(rep.Verify, verifyAcked(vctx, srv.URL, "live", acked))
	normalConn.Close()

	progress("waiting up to %s for the server's open files to return to %d", cfg.Settle, rep.FDsStart)
	settled := time.Now()
	for {
		if t, ok := http.DefaultTransport.(*http.Transport); ok {
			t.CloseIdleConnections()
		}
		if rep.FDsEnd, err = procFDs(srv.PID); err != nil || rep.FDsEnd <= rep.FDsStart+abuseFDSlack || time.Since(settled) > cfg.Settle {
			break
		}
		time.Sleep(250 * time.Millisecond)
	}
	rep.SettleWait = time.Since(settled).Round(time.Millisecond).String()
	stopMon()
	monWG.Wait()
	if p, err := soakProcStatus(srv.PID); err == nil {
		rep.MaxRSSMB, rep.EndRSSMB = p.hwmMB, p.rssMB
	} else {
		rep.Problems = append(rep.Problems, err.Error())
	}

	progress("restarting the server on the same file")
	srv.Stop()
	stopped = true
	rep.ServerLog = scanServerLog(srv.Logs())
	if srv2, err := startServer(); err != nil {
		rep.Problems = append(rep.Problems, fmt.Sprintf("restarting the server on the same file: %v", err))
	} else {
		rep.Verify = append(rep.Verify, verifyAcked(vctx, srv2.URL, "after a restart", acked))
		srv2.Stop()
	}
	judgeAbuse(&rep, ctx.Err() != nil)

	if asJSON {
		enc := json.NewEncoder(env.Stdout)
		enc.SetIndent("", "  ")
		_ = enc.Encode(rep)
	} else {
		printAbuse(env.Stdout, rep)
	}
	if !rep.Pass {
		return cli.ExitFail
	}
	return cli.ExitOK
}

// startAbuseAI serves the local AI stream on 127.0.0.1, counted by gauge,
// and returns its base URL (…/v1) and a stop that ends its connections.
func startAbuseAI(delay time.Duration, gauge *aiGauge) (string, func(), error) {
	h, err := localai.New(localai.Options{Delay: delay})
	if err != nil {
		return "", nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, fmt.Errorf("listening for the local AI stream: %w", err)
	}
	hs := &http.Server{Handler: gauge.wrap(h), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = hs.Serve(ln) }()
	var once sync.Once
	return "http://" + ln.Addr().String() + "/v1", func() { once.Do(func() { hs.Close() }) }, nil
}

// raiseFileLimit raises the soft open-file limit to the hard one and fails
// when that is below need.
func raiseFileLimit(need uint64) error {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return nil // not knowable here: try anyway
	}
	if lim.Cur < lim.Max {
		lim.Cur = lim.Max
		_ = syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim)
		_ = syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim)
	}
	if lim.Cur < need {
		return fmt.Errorf("the probes need about %d open files; the limit is %d (raise ulimit -n or scale the probes down)", need, lim.Cur)
	}
	return nil
}
