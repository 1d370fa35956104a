//go:build linux || darwin

package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/mcp-sync/mcp-sync/cli"
	"github.com/mcp-sync/mcp-sync/client"
	"github.com/mcp-sync/mcp-sync/examples/todo"
	"github.com/mcp-sync/mcp-sync/internal/testissuer"
	"github.com/mcp-sync/mcp-sync/wire"
)

// runLog runs `mcp-sync log` with args and returns its stdout.
func runLog(t *testing.T, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, interopBinary(t), append([]string{"log"}, args...)...)
	cmd.Env = quietEnv
	var out, errb strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("log %s: %v\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), err, out.String(), errb.String())
	}
	return out.String()
}

// TestLogCommandOnADataFile: `mcp-sync log --data` beside a running serve
// (it asks that serve) and after it has gone (it opens the file) prints a
// line per version naming the local caller, the session and the tool;
// --json, --since and --limit do what they say.
func TestLogCommandOnADataFile(t *testing.T) {
	if testing.Short() {
		t.Skip("starts servers")
	}
	data := sharedFile(t, "log.db")
	h := startHost(t, data, true)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var versions []uint64
	for _, id := range []string{"log-1", "log-2"} {
		m, err := client.Mutate(ctx, h.c, todo.SetTodo, todo.Todo{ID: id, Text: "logged"})
		if err != nil {
			t.Fatal(err)
		}
		versions = append(versions, m.Version)
	}

	line := regexp.MustCompile(`(?m)^v(\d+) \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ \S+ session \S+ tool setTodo: todos/(log-\d) put$`)
	check := func(out string) {
		t.Helper()
		m := line.FindAllStringSubmatch(out, -1)
		if len(m) != 2 || m[0][1] != fmt.Sprint(versions[0]) || m[0][2] != "log-1" || m[1][1] != fmt.Sprint(versions[1]) || m[1][2] != "log-2" {
			t.Fatalf("log printed:\n%s\nwant a line for each setTodo (v%d, v%d) naming its caller, session and tool", out, versions[0], versions[1])
		}
	}
	check(runLog(t, "--data", data))

	out := runLog(t, "--data", data, "--json", "--since", fmt.Sprint(versions[0]))
	var e wire.HistoryEntry
	if lines := strings.Split(strings.TrimSpace(out), "\n"); len(lines) != 1 || json.Unmarshal([]byte(lines[0]), &e) != nil ||
		e.Version != versions[1] || e.Tool != "setTodo" || !e.Local || e.Session == "" || len(e.Changes) != 1 || e.Changes[0].Key != "log-2" {
		t.Fatalf("log --json --since %d printed:\n%s\nwant v%d's entry alone", versions[0], out, versions[1])
	}
	if out := runLog(t, "--data", data, "--limit", "1"); strings.Count(out, "\n") != 1 || !strings.HasPrefix(out, fmt.Sprintf("v%d ", versions[0])) {
		t.Fatalf("log --limit 1 printed:\n%s", out)
	}

	h.c.Close() // the serve exits: log opens the file itself
	time.Sleep(200 * time.Millisecond)
	check(runLog(t, "--data", data))
}

// TestLogCommandOverOAuth: `mcp-sync log --url` shows a caller with a
// token its own versions, its runs' included (an AI answer streamed by
// the run createAndGenerate enqueued), and a caller with the admin scope
// (serve --audit-admin-scope) everyone's.
func TestLogCommandOverOAuth(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a server")
	}
	is, err := testissuer.New()
	if err != nil {
		t.Fatal(err)
	}
	defer is.Close()
	port := freePort(t)
	resource := fmt.Sprintf("http://127.0.0.1:%d/mcp", port)
	u := startHTTPServer(t, "--http", fmt.Sprintf("127.0.0.1:%d", port), "--auth-issuer", is.URL, "--resource", resource,
		"--audit-admin-scope", "audit:all")
	token := func(sub string, scopes ...string) string {
		tok, err := is.Sign(testissuer.Token{Audience: []string{resource}, Subject: sub, ClientID: sub + "-app", Scopes: scopes})
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	alice, bob, admin := token("alice"), token("bob"), token("root", "audit:all")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	ca, err := client.DialHTTP(ctx, u, client.Options{Token: alice})
	if err != nil {
		t.Fatal(err)
	}
	defer ca.Close()
	cb, err := client.DialHTTP(ctx, u, client.Options{Token: bob})
	if err != nil {
		t.Fatal(err)
	}
	defer cb.Close()
	m, err := client.Mutate(ctx, ca, todo.CreateAndGenerate, todo.GenerateInput{ID: "gen", Prompt: "a haiku"})
	if err != nil || len(m.Runs) != 1 {
		t.Fatalf("createAndGenerate: %+v, %v", m, err)
	}
	if _, err := client.Mutate(ctx, cb, todo.SetTodo, todo.Todo{ID: "bobs", Text: "by bob"}); err != nil {
		t.Fatal(err)
	}
	run := m.Runs[0]
	if !waitUntil(30*time.Second, func() bool {
		return strings.Contains(runLog(t, "--url", u, "--token", alice), "todos/gen put") &&
			runDone(ctx, ca, run)
	}) {
		t.Fatalf("run %s did not finish", run)
	}

	out := runLog(t, "--url", u, "--token", alice)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) < 3 || !strings.Contains(lines[0], "alice (client alice-app)") || !strings.Contains(lines[0], "tool createAndGenerate: todos/gen put") {
		t.Fatalf("alice's log:\n%s\nwant her createAndGenerate first, then her run's writes", out)
	}
	for _, l := range lines[1:] {
		if !strings.Contains(l, "alice (client alice-app) run "+run+" (generateWithAI) setTodo: todos/gen put") {
			t.Fatalf("alice's log line %q: want her run %s's setTodo", l, run)
		}
	}
	if strings.Contains(out, "bob") || strings.Contains(out, ".runs") {
		t.Fatalf("alice's log shows another caller's write or an internal table:\n%s", out)
	}
	if out := runLog(t, "--url", u, "--token", token("eve", "mcp-sync:admin")); out != "" {
		t.Fatalf("a caller with the default admin scope, another one configured, read:\n%s", out)
	}
	if all := runLog(t, "--url", u, "--token", admin); !strings.Contains(all, "bob (client bob-app)") || !strings.Contains(all, "alice (client alice-app)") ||
		!strings.Contains(all, ".runs/"+run) {
		t.Fatalf("the admin's log:\n%s\nwant everyone's versions and every table", all)
	}
}

// runDone reports whether the run id has finished, read through get_run.
func runDone(ctx context.Context, c *client.Conn, id string) bool {
	raw, err := c.Call(ctx, wire.ToolGetRun, wire.GetRunIn{ID: id})
	var r wire.Run
	return err == nil && json.Unmarshal(raw, &r) == nil && (r.Status == "succeeded" || r.Status == "failed")
}

// TestServeAuditRetentionFlag: an audit retention under one version is a
// usage error naming the flag, not an audit silently cut to its last
// version (the README's flags take 0 for no limit; this one has none).
func TestServeAuditRetentionFlag(t *testing.T) {
	for _, v := range []string{"0", "-5"} {
		code, _, errOut := runCmd(t, nil, "serve", "--data", filepath.Join(t.TempDir(), "r.db"), "--audit-retention", v)
		if code != cli.ExitUsage || !strings.Contains(errOut, "--audit-retention") || !strings.Contains(errOut, "at least 1") {
			t.Errorf("serve --audit-retention %s: exit %d, %q", v, code, errOut)
		}
	}
}
