package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/mcp-sync/mcp-sync/cli"
	"github.com/mcp-sync/mcp-sync/client"
	"github.com/mcp-sync/mcp-sync/examples/todo"
	"github.com/mcp-sync/mcp-sync/wire"
)

// Idle sessions.

type idleReport struct {
	Sessions        int     `json:"sessions"`
	Era             string  `json:"era"`
	Why             string  `json:"why"`
	SetupSeconds    float64 `json:"setupSeconds"`
	Established     int     `json:"established"`
	BaselineRSSMB   float64 `json:"baselineRSSMB"`
	RSSMB           float64 `json:"rssMB"`
	DiffMB          float64 `json:"diffMB"`
	PerSessionKB    float64 `json:"perSessionKB"`
	PeakRSSMB       float64 `json:"peakRSSMB"`
	MaxRSSMB        float64 `json:"maxRSSMB"`
	Met             bool    `json:"met"`
	FileLimit       uint64  `json:"fileLimit"`
	ServerThreads   int     `json:"serverThreads"`
	ServerFDs       int     `json:"serverFDs"`
	ClientProcessMB float64 `json:"clientProcessRSSMB"`
}

func runIdleSessions(ctx context.Context, env *cli.Environ, n int, legacy bool, binary string, maxRSS float64, asJSON bool) int {
	fail := func(format string, a ...any) int {
		fmt.Fprintf(env.Stderr, "mcp-sync-bench soak: "+format+"\n", a...)
		return cli.ExitFail
	}
	if binary == "" {
		self, err := os.Executable()
		if err != nil {
			return fail("finding this program to start its server: %v", err)
		}
		binary = self
	}
	// Each session holds a few sockets here and one or two in the server
	// (which inherits the limit): raise the soft limit to the hard one.
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err == nil {
		if lim.Cur < lim.Max {
			lim.Cur = lim.Max
			_ = syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim)
			_ = syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim)
		}
		if need := uint64(4*n + 256); lim.Cur < need {
			return fail("%d sessions need about %d open files; the limit is %d (raise ulimit -n)", n, need, lim.Cur)
		}
	}
	dir, err := os.MkdirTemp("", "mcp-sync-idle-")
	if err != nil {
		return fail("%v", err)
	}
	defer os.RemoveAll(dir)

	rep := idleReport{Sessions: n, Era: "legacy (2025-11-25)", MaxRSSMB: maxRSS, FileLimit: lim.Cur,
		Why: "each legacy session is a real server session: mcp-go session state with its 100-entry notification buffer, " +
			"a resources/subscribe registration, and a long-lived GET stream (SSE) that delivers the updates: the most a subscribed idle client costs"}
	if !legacy {
		rep.Era = "modern (2026-07-28)"
		rep.Why = "modern HTTP has no server sessions: an idle subscriber is one long-lived subscriptions/listen stream"
	}

	setupCtx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	srv, err := cli.StartServerProc(setupCtx, binary, "serve", "--http", "127.0.0.1:0", "--data", filepath.Join(dir, "idle.db"))
	if err != nil {
		return fail("%v", err)
	}
	defer srv.Stop()
	url, pid := srv.URL, srv.PID

	// Seed one row per session with one client, then measure the baseline:
	// the server up, its rows written, no session open.
	keys := make([]string, n)
	seed, err := client.DialHTTP(setupCtx, url, client.Options{})
	if err != nil {
		return fail("%v", err)
	}
	for i := range keys {
		keys[i] = fmt.Sprintf("idle-%05d", i)
		if _, err := client.Mutate(setupCtx, seed, todo.SetTodo, todo.Todo{ID: keys[i], Text: "idle", Status: todo.StatusReady}); err != nil {
			seed.Close()
			return fail("seeding row %s: %v", keys[i], err)
		}
	}
	seed.Close()
	if t, ok := http.DefaultTransport.(*http.Transport); ok {
		t.CloseIdleConnections()
	}
	time.Sleep(2 * time.Second)
	base, err := soakProcStatus(pid)
	if err != nil {
		return fail("%v", err)
	}
	rep.BaselineRSSMB = base.rssMB

	// Open the sessions, 32 at a time, each subscribed to its row.
	began := time.Now()
	conns := make([]*client.Conn, n)
	updates := make([]<-chan struct{}, n)
	var (
		wg    sync.WaitGroup
		sem   = make(chan struct{}, 32)
		errMu sync.Mutex
		first error
	)
	defer func() {
		var cw sync.WaitGroup
		for _, c := range conns {
			if c != nil {
				cw.Add(1)
				sem <- struct{}{}
				go func() { defer cw.Done(); defer func() { <-sem }(); c.Close() }()
			}
		}
		cw.Wait()
	}()
	for i := range n {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			c, err := client.DialHTTP(setupCtx, url, client.Options{Legacy: legacy})
			if err == nil {
				conns[i] = c
				updates[i], _, err = c.Subscribe(setupCtx, wire.RowURI(todo.Todos.Name(), keys[i]))
			}
			if err != nil {
				errMu.Lock()
				if first == nil {
					first = fmt.Errorf("session %d: %w", i, err)
				}
				errMu.Unlock()
			}
		}()
	}
	wg.Wait()
	if first != nil {
		return fail("opening %d sessions: %v", n, first)
	}

	// Established means delivering: write every row until each session has
	// seen an update on it (the streams open in the background).
	writer, err := client.DialHTTP(setupCtx, url, client.Options{})
	if err != nil {
		return fail("%v", err)
	}
	defer writer.Close()
	seen := make([]bool, n)
	for round := 0; rep.Established < n; round++ {
		if round == 10 || setupCtx.Err() != nil {
			return fail("only %d of %d sessions received an update after 10 rounds of writes", rep.Established, n)
		}
		for i, k := range keys {
			if seen[i] {
				continue
			}
			if _, err := client.Mutate(setupCtx, writer, todo.SetTodo, todo.Todo{ID: k, Text: fmt.Sprintf("idle round %d", round), Status: todo.StatusReady}); err != nil {
				return fail("writing row %s: %v", k, err)
			}
		}
		wait := time.After(3 * time.Second)
		for pending := true; pending; {
			pending = false
			for i := range updates {
				if seen[i] {
					continue
				}
				select {
				case <-updates[i]:
					seen[i] = true
					rep.Established++
				default:
					pending = true
				}
			}
			if !pending {
				break
			}
			select {
			case <-wait:
				pending = false
			case <-time.After(50 * time.Millisecond):
			}
		}
	}
	writer.Close()
	rep.SetupSeconds = time.Since(began).Seconds()

	// Idle for a moment, then read the server's memory.
	time.Sleep(3 * time.Second)
	now, err := soakProcStatus(pid)
	if err != nil {
		return fail("%v", err)
	}
	rep.RSSMB, rep.PeakRSSMB, rep.ServerThreads = now.rssMB, now.hwmMB, now.threads
	rep.DiffMB = rep.RSSMB - rep.BaselineRSSMB
	rep.PerSessionKB = rep.DiffMB * 1024 / float64(n)
	if fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid)); err == nil {
		rep.ServerFDs = len(fds)
	}
	if self, err := soakProcStatus(os.Getpid()); err == nil {
		rep.ClientProcessMB = self.rssMB
	}
	rep.Met = rep.RSSMB <= maxRSS

	if asJSON {
		enc := json.NewEncoder(env.Stdout)
		enc.SetIndent("", "  ")
		_ = enc.Encode(rep)
	} else {
		fmt.Fprintf(env.Stdout, "idle sessions: %d, %s, each subscribed to its own row (all %d received an update)\n", n, rep.Era, rep.Established)
		fmt.Fprintf(env.Stdout, "  why this era: %s\n", rep.Why)
		fmt.Fprintf(env.Stdout, "  set-up: %.1f s (32 at a time); open-file limit %d\n", rep.SetupSeconds, rep.FileLimit)
		fmt.Fprintf(env.Stdout, "server RSS (child process %d, /proc VmRSS):\n", pid)
		fmt.Fprintf(env.Stdout, "  0 sessions:   %7.1f MB\n", rep.BaselineRSSMB)
		fmt.Fprintf(env.Stdout, "  %d sessions: %7.1f MB (peak %.1f MB; %d threads, %d open files)\n", n, rep.RSSMB, rep.PeakRSSMB, rep.ServerThreads, rep.ServerFDs)
		fmt.Fprintf(env.Stdout, "  difference:   %7.1f MB, %.1f KB a session\n", rep.DiffMB, rep.PerSessionKB)
		fmt.Fprintf(env.Stdout, "  (this client process: %.1f MB)\n", rep.ClientProcessMB)
		verdict := "PASS"
		if !rep.Met {
			verdict = "FAIL"
		}
		fmt.Fprintf(env.Stdout, "target ≤ %.0f MB with the sessions open: %s\n", maxRSS, verdict)
	}
	if !rep.Met {
		return cli.ExitFail
	}
	return cli.ExitOK
}

type soakProc struct {
	rssMB, hwmMB float64
	threads      int
}

// soakProcStatus reads a process's resident memory from /proc/PID/status.
func soakProcStatus(pid int) (soakProc, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return soakProc{}, fmt.Errorf("reading the server's memory: %w", err)
	}
	var p soakProc
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		v, _ := strconv.ParseFloat(f[1], 64)
		switch f[0] {
		case "VmRSS:":
			p.rssMB = v / 1024
		case "VmHWM:":
			p.hwmMB = v / 1024
		case "Threads:":
			p.threads = int(v)
		}
	}
	if p.rssMB == 0 {
		return p, fmt.Errorf("no VmRSS in /proc/%d/status", pid)
	}
	return p, nil
}
