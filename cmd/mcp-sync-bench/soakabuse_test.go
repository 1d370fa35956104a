package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mcp-sync/mcp-sync/cli"
	"github.com/mcp-sync/mcp-sync/client"
	"github.com/mcp-sync/mcp-sync/examples/todo"
	"github.com/mcp-sync/mcp-sync/wire"
)

// TestAbuseSmoke runs the abuse phase with small numbers against a real
// child server and checks the report's shape: every probe answered for
// every request it sent, the normal client wrote, and every acknowledged
// write was read back live and after a restart.
func TestAbuseSmoke(t *testing.T) {
	soakServerBinary = labBinary(t)
	t.Cleanup(func() { soakServerBinary = "" })
	code, out, errOut := runSoakCmd(t, 3*time.Minute, "--abuse", "--json", "--abuse-bodies", "2", "--abuse-body-mb", "1",
		"--abuse-sessions", "50", "--abuse-subs", "20", "--abuse-slow", "5", "--abuse-idle", "5", "--abuse-actions", "10",
		"--abuse-hold", "3s", "--abuse-settle", "20s")
	t.Logf("abuse report:\n%s\nprogress:\n%s", out, errOut)
	var rep abuseReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("the report is not JSON: %v", err)
	}
	if code != cli.ExitOK || !rep.Pass {
		t.Errorf("soak --abuse exited %d (pass %v), want %d: problems %q", code, rep.Pass, cli.ExitOK, rep.Problems)
	}
	want := map[string]int{"oversize bodies to /mcp": 2, "oversize bodies to /message (an SSE session)": 2,
		"sessions (legacy initialize, never closed)": 50, "subscriptions on one session": 20, "slow bodies (1 byte / 2 s)": 5,
		"idle keep-alive connections": 5, "concurrent generateWithAI calls": 10}
	for _, p := range rep.Probes {
		n, ok := want[p.Name]
		if !ok {
			t.Errorf("unexpected probe %q", p.Name)
			continue
		}
		delete(want, p.Name)
		got := 0
		for _, o := range p.Outcomes {
			got += o.Count
		}
		if p.Sent != n || got != n || p.Expected == "" || p.Seen == "" {
			t.Errorf("probe %q: sent %d, outcomes for %d, want %d of each and an expectation and a summary: %+v", p.Name, p.Sent, got, n, p)
		}
	}
	for name := range want {
		t.Errorf("probe %q missing from the report", name)
	}
	for _, p := range rep.Probes {
		if p.Name == "sessions (legacy initialize, never closed)" || p.Name == "subscriptions on one session" {
			if len(p.Outcomes) != 1 || p.Outcomes[0].Kind != "ok" || !p.Met {
				t.Errorf("probe %q under every cap: outcomes %+v, met %v; want all ok", p.Name, p.Outcomes, p.Met)
			}
		}
		if p.Name == "concurrent generateWithAI calls" && (rep.UpstreamAIPeak < 1 || !strings.Contains(p.Seen, "upstream AI requests at once")) {
			t.Errorf("the action probe saw no request reach the AI (peak %d): %s", rep.UpstreamAIPeak, p.Seen)
		}
	}
	if rep.Normal.OK == 0 || rep.Normal.Failed != 0 {
		t.Errorf("normal client: %+v; want writes, none failed", rep.Normal)
	}
	if len(rep.Verify) != 2 {
		t.Fatalf("verify: %+v; want a live check and one after the restart", rep.Verify)
	}
	for _, v := range rep.Verify {
		if v.Error != "" || v.Acked != rep.Normal.OK || v.Present != v.Acked || v.Missing != 0 {
			t.Errorf("verify %s: %+v; want all %d acknowledged writes present", v.When, v, rep.Normal.OK)
		}
	}
	if rep.FDsStart <= 0 || rep.FDsPeak < rep.FDsStart || rep.MaxRSSMB <= 0 || rep.EndRSSMB <= 0 {
		t.Errorf("server figures: fds %d/%d/%d, RSS max %.1f end %.1f; want them read", rep.FDsStart, rep.FDsPeak, rep.FDsEnd, rep.MaxRSSMB, rep.EndRSSMB)
	}
	for _, phase := range []string{"abuse: probes started", "abuse: verifying", "abuse: restarting"} {
		if !strings.Contains(errOut, phase) {
			t.Errorf("no progress line %q on stderr", phase)
		}
	}
}

// TestAbuseVerifyFindsLoss: the acknowledged-writes check reports a write
// that is missing and one that reads another value, and counts the rest.
func TestAbuseVerifyFindsLoss(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	srv, err := cli.StartServerProc(ctx, labBinary(t), "serve", "--http", "127.0.0.1:0", "--data", t.TempDir()+"/v.db")
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Stop()
	cn, err := client.DialHTTP(ctx, srv.URL, client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer cn.Close()
	acked := map[string]abuseAck{}
	for _, k := range []string{"a", "b"} {
		key := abuseNormalPrefix + k
		res, err := client.Mutate(ctx, cn, todo.SetTodo, todo.Todo{ID: key, Text: "text " + k, Status: todo.StatusReady})
		if err != nil {
			t.Fatal(err)
		}
		acked[key] = abuseAck{text: "text " + k, version: res.Version}
	}
	acked[abuseNormalPrefix+"b"] = abuseAck{text: "another text", version: 2}
	acked[abuseNormalPrefix+"c"] = abuseAck{text: "never written", version: 3}
	v := verifyAcked(ctx, srv.URL, "test", acked)
	if v.Error != "" || v.Acked != 3 || v.Present != 1 || v.Missing != 2 || len(v.Samples) != 2 {
		t.Fatalf("verify: %+v; want 1 of 3 present, b changed and c missing", v)
	}
	if !strings.Contains(v.Samples[0], "reads \"text b\"") || !strings.Contains(v.Samples[1], "is missing") {
		t.Errorf("samples %q: want b's value and c's absence named", v.Samples)
	}
}

// TestAbuseJudge: each exit condition of the phase fails it on its own, and
// unmet expectations fail it only with --abuse-strict.
func TestAbuseJudge(t *testing.T) {
	good := func() abuseReport {
		return abuseReport{Config: abuseConfig{MaxRSSMB: 300}, MaxRSSMB: 100, FDsStart: 10, FDsEnd: 10,
			Normal: abuseNormal{Calls: 5, OK: 5},
			Verify: []abuseVerify{{When: "live", Acked: 5, Present: 5}, {When: "after a restart", Acked: 5, Present: 5}},
			Probes: []abuseProbe{{Name: "p", Met: true}}}
	}
	cases := []struct {
		name   string
		change func(*abuseReport)
		pass   bool
	}{
		{"clean", func(*abuseReport) {}, true},
		{"max RSS over the limit", func(r *abuseReport) { r.MaxRSSMB = 301 }, false},
		{"open files not back", func(r *abuseReport) { r.FDsEnd = r.FDsStart + abuseFDSlack + 1 }, false},
		{"open files within the slack", func(r *abuseReport) { r.FDsEnd = r.FDsStart + abuseFDSlack }, true},
		{"a normal call failed", func(r *abuseReport) { r.Normal.Failed = 1 }, false},
		{"no normal write", func(r *abuseReport) { r.Normal.OK = 0 }, false},
		{"a write lost after the restart", func(r *abuseReport) { r.Verify[1].Present, r.Verify[1].Missing = 4, 1 }, false},
		{"the check failed", func(r *abuseReport) { r.Verify[0].Error = "list_rows: boom" }, false},
		{"no restart check", func(r *abuseReport) { r.Verify = r.Verify[:1] }, false},
		{"the server panicked", func(r *abuseReport) { r.ServerLog.Panicked = true }, false},
		{"an unmet expectation", func(r *abuseReport) { r.Probes[0].Met = false }, true},
		{"an unmet expectation, strict", func(r *abuseReport) { r.Probes[0].Met = false; r.Config.Strict = true }, false},
	}
	for _, c := range cases {
		r := good()
		c.change(&r)
		judgeAbuse(&r, false)
		if r.Pass != c.pass {
			t.Errorf("%s: pass %v, want %v (problems %q)", c.name, r.Pass, c.pass, r.Problems)
		}
	}
}

// TestAbuseServerLog: warnings, errors and a panic in the child's stderr
// are counted and sampled.
func TestAbuseServerLog(t *testing.T) {
	l := scanServerLog("time=x level=INFO msg=up\ntime=x level=WARN msg=slow\ntime=x level=WARN msg=slow\n" +
		"time=x level=ERROR msg=boom\npanic: runtime error: index out of range\n\ngoroutine 1 [running]:\n")
	if l.Warnings != 2 || l.Errors != 1 || !l.Panicked || len(l.Samples) != 3 {
		t.Errorf("scanServerLog: %+v; want 2 warnings, 1 error, a panic and 3 samples", l)
	}
}

func TestAbuseUsage(t *testing.T) {
	for _, args := range [][]string{{"--abuse", "--abuse-sessions", "-1"}, {"--abuse", "--abuse-hold", "0s"}} {
		if code, _, _ := runSoakCmd(t, 10*time.Second, args...); code != cli.ExitUsage {
			t.Errorf("%q exited %d, want %d", args, code, cli.ExitUsage)
		}
	}
}

// TestAbuseProbesSeeLimits: against an HTTP server that has the limits the
// issue asks for (a body limit answered 413 without reading the rest, a
// body read deadline, an idle timeout, caps on sessions and subscriptions),
// the probes report their expectations met, so a server that gains them
// will pass.
func TestAbuseProbesSeeLimits(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("/mcp", func(w http.ResponseWriter, r *http.Request) {
		_ = http.NewResponseController(w).SetReadDeadline(time.Now().Add(time.Second))
		if _, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 4096)); err != nil {
			var mbe *http.MaxBytesError
			if errors.As(err, &mbe) {
				http.Error(w, "body over the limit", http.StatusRequestEntityTooLarge)
				return
			}
			http.Error(w, "body too slow", http.StatusRequestTimeout)
			return
		}
		w.WriteHeader(http.StatusAccepted)
	})
	// A JSON-RPC endpoint with a cap of 20 sessions and 5 subscriptions, on
	// a server of its own without the idle timeout (a POST on a keep-alive
	// connection the server just closed is not retried).
	var mu sync.Mutex
	sessions, subs := 0, 0
	rpcMux := http.NewServeMux()
	rpcMux.HandleFunc("/rpc", func(w http.ResponseWriter, r *http.Request) {
		var msg struct {
			ID     int    `json:"id"`
			Method string `json:"method"`
		}
		_ = json.NewDecoder(r.Body).Decode(&msg)
		mu.Lock()
		defer mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		switch msg.Method {
		case "initialize":
			if sessions++; sessions > 20 {
				http.Error(w, "too many sessions", http.StatusServiceUnavailable)
				return
			}
			w.Header().Set(headerSessionID, fmt.Sprint(sessions))
		case "resources/subscribe":
			if subs++; subs > 5 {
				fmt.Fprintf(w, `{"jsonrpc":"2.0","id":%d,"error":{"code":-32000,"message":"too many subscriptions"}}`, msg.ID)
				return
			}
		}
		fmt.Fprintf(w, `{"jsonrpc":"2.0","id":%d,"result":{}}`, msg.ID)
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second, IdleTimeout: time.Second}
	go func() { _ = hs.Serve(ln) }()
	defer hs.Close()
	addr := ln.Addr().String()
	rpcLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	rpcSrv := &http.Server{Handler: rpcMux, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = rpcSrv.Serve(rpcLn) }()
	defer rpcSrv.Close()
	cfg := abuseConfig{Bodies: 4, BodyBytes: 64 << 20, Slow: 3, Idle: 3, Hold: 30 * time.Second, Sessions: 30, Subs: 8, Conns: 2,
		expectSessions: 20, expectSubs: 5}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	rpc := newAbuseRPC("http://"+rpcLn.Addr().String()+"/rpc", cfg.Conns)
	defer rpc.close()
	for _, p := range []abuseProbe{probeBodies(ctx, cfg, addr, "/mcp", "bodies"), probeSlowBodies(ctx, cfg, addr), probeIdleConns(ctx, cfg, addr),
		probeSessions(ctx, cfg, rpc), probeSubscriptions(ctx, cfg, rpc, "1")} {
		t.Logf("%s: %s %+v", p.Name, p.Seen, p.Outcomes)
		if !p.Met {
			t.Errorf("probe %s against a server with the limit: not met; seen %s, outcomes %+v", p.Name, p.Seen, p.Outcomes)
		}
		if p.Name == "bodies" && strings.HasPrefix(p.Seen, "at most 64.0 of") {
			t.Errorf("the body probe wrote whole bodies before the 413: %s", p.Seen)
		}
	}
}

// TestAbuseRPCKind: answers are classified by HTTP status, JSON-RPC code
// (in JSON or an SSE stream) and the tool error kind in the result's _meta.
func TestAbuseRPCKind(t *testing.T) {
	cases := []struct {
		status int
		ct     string
		body   string
		want   string
	}{
		{503, "text/plain", "too many sessions", "HTTP 503"},
		{200, "application/json", `{"jsonrpc":"2.0","id":1,"result":{}}`, "ok"},
		{202, "", "", "ok (HTTP 202)"},
		{200, "application/json", `{"jsonrpc":"2.0","id":1,"error":{"code":-32000,"message":"limit"}}`, "JSON-RPC -32000"},
		{200, "text/event-stream", "event: message\ndata: {\"jsonrpc\":\"2.0\",\"method\":\"notifications/progress\"}\n\nevent: message\ndata: {\"jsonrpc\":\"2.0\",\"id\":3,\"error\":{\"code\":-32602,\"message\":\"x\"}}\n\n", "JSON-RPC -32602"},
		{200, "application/json", `{"jsonrpc":"2.0","id":1,"result":{"isError":true,"content":[{"type":"text","text":"busy"}],"_meta":{"` + wire.ErrorMetaKey + `":{"kind":"busy"}}}}`, "tool error: busy"},
		{200, "application/json", `not json`, "HTTP 200, not a JSON-RPC response"},
	}
	for _, c := range cases {
		if got, _ := rpcKind(c.status, c.ct, []byte(c.body)); got != c.want {
			t.Errorf("rpcKind(%d, %q, %q) = %q, want %q", c.status, c.ct, c.body, got, c.want)
		}
	}
}
