package main

import (
	"cmp"
	"context"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mcp-sync/mcp-sync/cli"
	"github.com/mcp-sync/mcp-sync/tools"
)

// soakServerBinary is the binary the idle-session measurement
// serves with; empty means this program. Tests set it (a test binary cannot
// serve).
var soakServerBinary string

// soakGoroutineSlack is how many goroutines above the baseline still count
// as "returned": the runtime and net/http park a few short-lived ones
// (a connection's closing reader, a timer's callback) that end on their own.
const soakGoroutineSlack = 5

func runSoak(ctx context.Context, env *cli.Environ, args []string) int {
	fs := cli.NewFlags(env, "mcp-sync-bench", "soak", "soak [flags]",
		"Runs the todo app in-process on a temp data file and drives it over HTTP with\n"+
			"--sessions clients for --duration: mutators, actions with progress, reads,\n"+
			"subscriptions, clients reconnecting every few seconds, and ~5% deliberately bad\n"+
			"inputs. Then checks that goroutines, sessions and subscriptions return to their\n"+
			"starting counts and that the bbolt file passes a consistency check. Exit 1 on\n"+
			"any unexpected error.\n\n"+
			"With --idle-sessions N it instead starts `serve --http` as a child\n"+
			"process, opens N idle HTTP sessions each subscribed to one row, and reports the\n"+
			"server's resident memory with 0 and with N sessions."+abuseHelp)
	duration := fs.Duration("duration", 60*time.Second, "how long the load runs")
	sessions := fs.Int("sessions", 16, "concurrent client sessions under load")
	idle := fs.Int("idle-sessions", 0, "measure the server's memory with this many idle subscribed sessions instead of running the load")
	idleEra := fs.String("idle-era", "legacy", "protocol `ERA` of the idle sessions: legacy (2025-11-25: a server session, resources/subscribe, a GET stream) or modern (2026-07-28: a subscriptions/listen stream)")
	maxRSS := fs.Float64("max-rss-mb", 0, "fail when the server's RSS exceeds this many MB: with --idle-sessions, with the sessions open (0: 200); with --abuse, its max (0: 300)")
	aiDelay := fs.Duration("ai-delay", 2*time.Millisecond, "pause between chunks of the local AI stream (with --abuse, unless given: 30ms)")
	idleTTL := fs.Duration("session-idle-ttl", 0, "the soak server's streamable HTTP session idle TTL (0: the server default, 30 min)")
	asJSON := fs.Bool("json", false, "print the report as JSON")
	bin := fs.String("server-binary", "", "with --idle-sessions or --abuse: the mcp-sync or mcp-sync-bench `BINARY` whose serve to start (default: this program)")
	abuse := addAbuseFlags(fs)
	if code, ok := cli.Parse(fs, args); !ok {
		return code
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(env.Stderr, "mcp-sync-bench soak: unexpected argument %q\n", fs.Arg(0))
		return cli.ExitUsage
	}
	if *idle < 0 || *sessions < 1 || *duration <= 0 {
		fmt.Fprintln(env.Stderr, "mcp-sync-bench soak: --sessions and --duration must be positive, --idle-sessions not negative")
		return cli.ExitUsage
	}
	if *idleEra != "legacy" && *idleEra != "modern" {
		fmt.Fprintf(env.Stderr, "mcp-sync-bench soak: --idle-era %q: want legacy or modern\n", *idleEra)
		return cli.ExitUsage
	}
	binary := cmp.Or(*bin, soakServerBinary)
	if *abuse.on {
		return abuse.run(ctx, env, fs, binary, *maxRSS, *aiDelay, *asJSON)
	}
	if *idle > 0 {
		return runIdleSessions(ctx, env, *idle, *idleEra == "legacy", binary, cmp.Or(*maxRSS, 200), *asJSON)
	}
	return runSoakLoad(ctx, env, soakConfig{duration: *duration, sessions: *sessions, aiDelay: *aiDelay, idleTTL: *idleTTL}, *asJSON)
}

type soakConfig struct {
	duration time.Duration
	sessions int
	aiDelay  time.Duration
	idleTTL  time.Duration
}

// soakCounts are the counts that must come back after the load.
type soakCounts struct {
	Goroutines    int   `json:"goroutines"`
	Sessions      int64 `json:"sessions"`
	Subscribers   int   `json:"subscribers"`
	Subscriptions int   `json:"subscriptions"`
	WatchedTables int   `json:"watchedTables"`
	Calls         int   `json:"calls"`
}

func soakCountsNow(srv *tools.Server) soakCounts {
	st := srv.Stats()
	return soakCounts{Goroutines: runtime.NumGoroutine(), Sessions: st.Sessions, Subscribers: st.Subscribers,
		Subscriptions: st.Subscriptions, WatchedTables: st.WatchedTables, Calls: st.Calls}
}

// returned says whether now is back at base (goroutines within the slack).
func (now soakCounts) returned(base soakCounts) bool {
	return now.Goroutines <= base.Goroutines+soakGoroutineSlack && now.Sessions == base.Sessions &&
		now.Subscribers == base.Subscribers && now.Subscriptions == base.Subscriptions && now.Calls == base.Calls
}

// soakKind is one kind of operation's figures.
type soakKind struct {
	Kind   string  `json:"kind"`
	Calls  int     `json:"calls"`
	PerSec float64 `json:"perSec"`
	P50Ms  float64 `json:"p50Ms"`
	P99Ms  float64 `json:"p99Ms"`
	MaxMs  float64 `json:"maxMs"`
	Errors int     `json:"errors"`
}

// soakBad is one kind of deliberately bad input.
type soakBad struct {
	Kind     string `json:"kind"`
	Expected string `json:"expected"`
	Sent     int    `json:"sent"`
	AsExpect int    `json:"asExpected"`
	Other    string `json:"other,omitempty"` // the first answer that was not the expected kind
}

type soakReport struct {
	Duration         string         `json:"duration"`
	Sessions         int            `json:"sessions"`
	Transports       map[string]int `json:"transports"` // workers by transport
	Watchers         int            `json:"watchers"`   // workers following their row with client.Watch
	Operations       int            `json:"operations"`
	OpsPerSec        float64        `json:"opsPerSec"`
	Kinds            []soakKind     `json:"kinds"`
	Reconnects       int            `json:"reconnects"`
	SubUpdates       int            `json:"subscriptionUpdatesSeen"`
	ProgressSeen     int            `json:"progressReportsSeen"`
	Errors           int            `json:"errors"`
	ErrorSamples     []string       `json:"errorSamples,omitempty"`
	BadInputs        []soakBad      `json:"badInputs"`
	Start            soakCounts     `json:"start"`
	End              soakCounts     `json:"end"`
	Returned         bool           `json:"returned"`
	ReturnWait       string         `json:"returnWait"`
	ServerWarnings   int            `json:"serverWarnings"`
	WarningSamples   []string       `json:"serverWarningSamples,omitempty"`
	Check            string         `json:"boltCheck"`
	CheckOK          bool           `json:"boltCheckOK"`
	SessionIdleTTL   string         `json:"sessionIdleTTL"`
	Problems         []string       `json:"problems,omitempty"`
	DataFileBytes    int64          `json:"dataFileBytes"`
	DataFileVersions uint64         `json:"dataFileVersion"`
}

// soakStats collects what the workers see.
type soakStats struct {
	mu        sync.Mutex
	lat       map[string][]time.Duration
	errs      map[string]int
	errN      int
	samples   []string
	bad       map[string]*soakBad
	reconnect int
	subSeen   int
	progress  atomic.Int64
}

// sawWrite counts a check that a subscriber saw its worker's write.
func (s *soakStats) sawWrite() {
	s.mu.Lock()
	s.subSeen++
	s.mu.Unlock()
}

func (s *soakStats) ok(kind string, d time.Duration) {
	s.mu.Lock()
	s.lat[kind] = append(s.lat[kind], d)
	s.mu.Unlock()
}

func (s *soakStats) fail(kind string, d time.Duration, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if d > 0 {
		s.lat[kind] = append(s.lat[kind], d)
	}
	s.errs[kind]++
	s.errN++
	if len(s.samples) < 20 {
		s.samples = append(s.samples, fmt.Sprintf("%s: %v", kind, err))
	}
}

func (s *soakStats) badInput(kind, expected string, asExpected bool, got string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b := s.bad[kind]
	if b == nil {
		b = &soakBad{Kind: kind, Expected: expected}
		s.bad[kind] = b
	}
	b.Sent++
	if asExpected {
		b.AsExpect++
	} else if b.Other == "" {
		b.Other = got
	}
}
