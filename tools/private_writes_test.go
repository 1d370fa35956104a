package tools_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/client/transport"
	"github.com/mark3labs/mcp-go/mcp"

	"github.com/mcp-sync/mcp-sync/backend"
	"github.com/mcp-sync/mcp-sync/internal/drivertest"
	"github.com/mcp-sync/mcp-sync/internal/testissuer"
	"github.com/mcp-sync/mcp-sync/tools"
	"github.com/mcp-sync/mcp-sync/wire"
)

// TestPrivateRowsAcrossPostgresReplicas: the per-surface checks with the
// app on PostgreSQL served by two replicas: alice on the first, bob
// reading and subscribed on the second while writing through the first.
func TestPrivateRowsAcrossPostgresReplicas(t *testing.T) {
	st := newPrivStack(t, 2, drivertest.Postgres(t))
	alice, bob := st.user(t, "alice"), st.user(t, "bob")
	for i, e := range eras {
		t.Run(e.name, func(t *testing.T) {
			checkSurfaces(t, st, alice, bob, st.bases[0], st.bases[1], e, fmt.Sprint(i))
		})
	}
	alice.clean(t, bob)
	bob.clean(t, alice)
	auditNamesOwners(t, st.engs[1], userNotes.Name()) // the other replica reads the one audit
}

// TestPrivateWritesStayWithTheirOwner: bob's writes under alice's key
// (tools, _sync_push, an enqueued run) make and change bob's own row and
// leave alice's as it was; deleting and tagging it as bob do nothing to
// hers.
func TestPrivateWritesStayWithTheirOwner(t *testing.T) {
	st := newPrivStack(t, 1, nil)
	alice, bob := st.user(t, "alice"), st.user(t, "bob")
	for i, e := range eras {
		t.Run(e.name, func(t *testing.T) {
			key := fmt.Sprint("w", i)
			ac, _ := alice.connect(t, st.bases[0], e)
			bc, _ := bob.connect(t, st.bases[0], e)
			save(t, ac, key, "ALICE "+key, false)
			aliceIntact := func(when string) {
				t.Helper()
				if n, ok := getNote(t, ac, key); !ok || n.Text != "ALICE "+key || len(n.Tags) != 0 {
					t.Errorf("after %s, alice's %s is %+v (found %v), want her text untagged", when, key, n, ok)
				}
			}
			mustCall(t, bc, deleteNote.Name(), map[string]any{"key": key})
			aliceIntact("bob deleted " + key)
			if res := call(t, bc, tagNote.Name(), map[string]any{"key": key, "tag": "BOB tag"}); !res.IsError {
				t.Errorf("bob tagged a note he does not have: %s", text(res))
			}
			aliceIntact("bob tagged " + key)

			runs := save(t, bc, key, "BOB "+key, true)
			aliceIntact("bob saved " + key)
			if run := waitRun(t, bc, runs[0]); run.Status != "succeeded" {
				t.Errorf("bob's summarizeNote run: %+v", run)
			}
			aliceIntact("bob's run tagged his " + key)
			if n, ok := getNote(t, bc, key); !ok || n.Text != "BOB "+key || !slices.Equal(n.Tags, []string{"summary of BOB " + key}) {
				t.Errorf("bob's own %s: %+v (found %v), want his text tagged by his run", key, n, ok)
			}
			mustCall(t, bc, deleteNote.Name(), map[string]any{"key": key})
			aliceIntact("bob deleted his " + key)
			if _, ok := getNote(t, bc, key); ok {
				t.Errorf("bob's %s is still there after he deleted it", key)
			}

			client := fmt.Sprint("push-", i)
			push := func(seq int, mutator string, args map[string]any) wire.SyncPushOut {
				t.Helper()
				var out wire.SyncPushOut
				decodeOut(t, mustCall(t, bc, wire.ToolSyncPush, map[string]any{"client": client, "seq": seq, "mutator": mutator, "args": args}), &out)
				if !out.Applied {
					t.Errorf("bob's push %d of %s was not applied: %+v", seq, mutator, out)
				}
				return out
			}
			push(1, saveNote.Name(), map[string]any{"key": key, "text": "BOB pushed " + key})
			aliceIntact("bob pushed saveNote " + key)
			if n, ok := getNote(t, bc, key); !ok || n.Text != "BOB pushed "+key {
				t.Errorf("bob's pushed %s: %+v (found %v)", key, n, ok)
			}
			push(2, deleteNote.Name(), map[string]any{"key": key})
			aliceIntact("bob pushed deleteNote " + key)
			if _, ok := getNote(t, bc, key); ok {
				t.Errorf("bob's %s is still there after his pushed delete", key)
			}
		})
	}
	alice.clean(t, bob)
	bob.clean(t, alice)
}

// TestPrivateSyncPushClientIDsPerUser: _sync_push applies a push once per
// (client, seq); two users whose clients happen to share an id are two
// clients: alice's push is applied although bob's of the same id and seq
// was, and what she is told carries nothing of bob's.
func TestPrivateSyncPushClientIDsPerUser(t *testing.T) {
	st := newPrivStack(t, 1, nil)
	alice, bob := st.user(t, "alice"), st.user(t, "bob")
	ac, _ := alice.connect(t, st.bases[0], eras[0])
	bc, _ := bob.connect(t, st.bases[0], eras[0])
	args := func(who string) map[string]any {
		return map[string]any{"client": "same-id", "seq": 1, "mutator": saveNote.Name(), "args": map[string]any{"key": "p", "text": who}}
	}
	var out wire.SyncPushOut
	decodeOut(t, mustCall(t, bc, wire.ToolSyncPush, args("BOB p")), &out)
	if !out.Applied {
		t.Fatalf("bob's first push: %+v", out)
	}
	decodeOut(t, mustCall(t, ac, wire.ToolSyncPush, args("ALICE p")), &out)
	if !out.Applied {
		t.Errorf("alice's push with the client id and seq bob used was taken for his (applied false, version %d)", out.Version)
	}
	if n, ok := getNote(t, ac, "p"); !ok || n.Text != "ALICE p" {
		t.Errorf("alice's p after her push: %+v (found %v)", n, ok)
	}
	var state wire.SyncStateOut
	mustCall(t, bc, wire.ToolSyncPush, map[string]any{"client": "b-client-9", "seq": 5, "mutator": saveNote.Name(), "args": map[string]any{"key": "q", "text": "BOB q"}})
	decodeOut(t, mustCall(t, ac, wire.ToolSyncState, map[string]any{"client": "b-client-9"}), &state)
	if state.Seq != 0 || state.Version != 0 {
		t.Errorf("alice's _sync_state of bob's client id shows his pushes: %+v", state)
	}
	alice.clean(t, bob)
	bob.clean(t, alice)
}

// TestPrivateLimitErrorsNameTheCallersKey: the limits on keys and rows are
// the caller's (a key of backend.MaxKeyBytes is accepted: the owner's part
// of the stored key is not counted), and their errors, from a tool, a push
// or a run, name the key as the caller knows it and never its owner.
func TestPrivateLimitErrorsNameTheCallersKey(t *testing.T) {
	st := newPrivStack(t, 1, func(o *backend.Options) { o.MaxRowBytes = 4096 })
	alice, bob := st.user(t, "alice"), st.user(t, "bob")
	for _, e := range eras[:2] {
		t.Run(e.name, func(t *testing.T) {
			bc, _ := bob.connect(t, st.bases[0], e)
			ac, _ := alice.connect(t, st.bases[0], e)
			longest := strings.Repeat("k", backend.MaxKeyBytes)
			save(t, bc, longest, "BOB longest", false)
			if n, ok := getNote(t, bc, longest); !ok || n.Text != "BOB longest" {
				t.Errorf("bob's row under a key of %d bytes: %+v (found %v)", backend.MaxKeyBytes, n, ok)
			}
			if msg, got := readErr(bc, wire.RowURI("notes", longest)); msg != "" || !strings.Contains(got, "BOB longest") {
				t.Errorf("bob's resources/read of his row under a key of %d bytes: %q %s", backend.MaxKeyBytes, got, msg)
			}
			if _, ok := getNote(t, ac, longest); ok {
				t.Errorf("alice reads bob's row under the longest key")
			}
			tooLong := longest + "k"
			for _, res := range []*mcp.CallToolResult{
				call(t, bc, saveNote.Name(), map[string]any{"key": tooLong, "text": "BOB"}),
				call(t, bc, wire.ToolGetRow, map[string]any{"table": "notes", "key": tooLong}),
				call(t, bc, wire.ToolSyncPush, map[string]any{"client": "lim-" + e.name, "seq": 1, "mutator": saveNote.Name(),
					"args": map[string]any{"key": tooLong, "text": "BOB"}}),
			} {
				if !res.IsError || !strings.Contains(text(res), fmt.Sprint(backend.MaxKeyBytes)) {
					t.Errorf("bob's key of %d bytes: isError %v, %.300q; want an error naming the %d-byte limit",
						len(tooLong), res.IsError, text(res), backend.MaxKeyBytes)
				}
			}
			big := strings.Repeat("B", 5000)
			res := call(t, bc, saveNote.Name(), map[string]any{"key": "big", "text": big})
			if !res.IsError || !strings.Contains(text(res), `key "big" is`) {
				t.Errorf("bob's row of 5000 bytes: isError %v, %.300q; want the row limit's error naming the key big", res.IsError, text(res))
			}
			// A run's write over the limit: the summary tag makes the row too big.
			runs := save(t, bc, "grow", strings.Repeat("G", 3000), true)
			run := waitRun(t, bc, runs[0])
			if run.Status != "failed" || !strings.Contains(run.Error, "grow") {
				t.Errorf("bob's run tagging a row past the limit: %s %q; want it failed naming the key grow", run.Status, run.Error)
			}
		})
	}
	alice.clean(t, bob)
	bob.clean(t, alice)
}

// TestPrivateLocalUserBesideOAuthUsers: a relayed local session (a stdio
// host or the CLI beside `serve --http --auth-issuer`, which owns the
// file) is one more user: it has rows of its own, and alice's rows, runs
// and tasks (whose input and output are her notes) are to it as missing.
func TestPrivateLocalUserBesideOAuthUsers(t *testing.T) {
	st := newPrivStack(t, 1, nil)
	alice := st.user(t, "alice")
	ac, _ := alice.connect(t, st.bases[0], eras[1])
	save(t, ac, "s", "ALICE s", false)
	save(t, ac, "ka", "ALICE ka", false)
	runs := save(t, ac, "s", "ALICE s", true)
	waitRun(t, ac, runs[0])
	out := alice.rpc(t, st.bases[0], "tools/call", map[string]any{"name": summarizeNote.Name(), "arguments": map[string]any{"key": "ka"},
		"task": map[string]any{"ttl": 60000}}, rpcOpts{})
	task, _ := result(t, out)["task"].(map[string]any)
	taskID, _ := task["taskId"].(string)
	waitRun(t, ac, taskID)

	server, conn := net.Pipe()
	done := make(chan error, 1)
	go func() { done <- st.srvs[0].ServeConn(tools.WithLocalIdentity(context.Background()), server) }()
	t.Cleanup(func() { conn.Close(); <-done })
	lc, _ := start(t, transport.NewIO(conn, conn, nil), era{"conn-legacy", "conn", true})

	save(t, lc, "s", "LOCAL s", false)
	if n, ok := getNote(t, lc, "s"); !ok || n.Text != "LOCAL s" {
		t.Errorf("the local user's s: %+v (found %v)", n, ok)
	}
	if n, ok := getNote(t, ac, "s"); !ok || n.Text != "ALICE s" || len(n.Tags) != 1 {
		t.Errorf("alice's s after the local user wrote his: %+v (found %v)", n, ok)
	}
	if all := listNotes(t, lc); len(all) != 1 || all["s"].Text != "LOCAL s" {
		t.Errorf("the local user's list_rows: %v, want only his s", all)
	}
	for _, id := range []string{runs[0], taskID} {
		fake := fakeID(id)
		sameAsMissing(t, "the local user's get_run of alice's run", text(call(t, lc, wire.ToolGetRun, map[string]any{"id": id})), id,
			text(call(t, lc, wire.ToolGetRun, map[string]any{"id": fake})), fake)
		theirs, _ := readErr(lc, wire.RunURI(id))
		nobodys, _ := readErr(lc, wire.RunURI(fake))
		sameAsMissing(t, "the local user's read of alice's run resource", theirs, id, nobodys, fake)
		ctx, cancel := context.WithTimeout(context.Background(), testWait)
		_, errTheirs := lc.TaskResult(ctx, mcp.TaskResultRequest{Params: mcp.TaskResultParams{TaskId: id}})
		_, errNobodys := lc.TaskResult(ctx, mcp.TaskResultRequest{Params: mcp.TaskResultParams{TaskId: fake}})
		cancel()
		if errTheirs == nil {
			t.Errorf("the local user's tasks/result of alice's run %s: no error", id)
		} else {
			sameAsMissing(t, "the local user's tasks/result of alice's run", errText(errTheirs), id, errText(errNobodys), fake)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), testWait)
	defer cancel()
	tl, err := lc.ListTasks(ctx, mcp.ListTasksRequest{})
	if err != nil {
		t.Fatalf("the local user's tasks/list: %v", err)
	}
	for _, tk := range tl.Tasks {
		if tk.TaskId == taskID || tk.TaskId == runs[0] {
			t.Errorf("the local user's tasks/list shows alice's %s", tk.TaskId)
		}
	}
}

// TestPrivateSubscriptionsOutliveOthers: each user's subscriptions of the
// private table (one engine feed per owner behind them) end only with the
// user's own: when bob unsubscribes and leaves, and one of alice's two
// sessions leaves, her other session is still told of her writes, and bob,
// back in a new session, of his.
func TestPrivateSubscriptionsOutliveOthers(t *testing.T) {
	st := newPrivStack(t, 1, nil)
	alice, bob := st.user(t, "alice"), st.user(t, "bob")
	table := wire.TableURI("notes")
	for i, e := range eras {
		t.Run(e.name, func(t *testing.T) {
			row := wire.RowURI("notes", fmt.Sprint("o", i))
			key := fmt.Sprint("o", i)
			a1, n1 := alice.connect(t, st.bases[0], e, wantsChanges())
			a2, n2 := alice.connect(t, st.bases[0], e, wantsChanges())
			b1, nb := bob.connect(t, st.bases[0], e, wantsChanges())
			aw, _ := alice.connect(t, st.bases[0], e)
			bw, _ := bob.connect(t, st.bases[0], e)
			// Each subscription in its own context, so that one can end.
			sub := func(c *client.Client, uris ...string) (end func()) {
				ctx, cancel := context.WithCancel(context.Background())
				if e.legacy {
					for _, u := range uris {
						//lint:ignore SA1019 the legacy protocol era is tested on purpose
						if err := c.Subscribe(ctx, mcp.SubscribeRequest{Params: mcp.SubscribeParams{URI: u}}); err != nil {
							t.Fatalf("subscribe %s: %v", u, err)
						}
					}
					return func() {
						for _, u := range uris {
							//lint:ignore SA1019 the legacy protocol era is tested on purpose
							_ = c.Unsubscribe(context.Background(), mcp.UnsubscribeRequest{Params: mcp.UnsubscribeParams{URI: u}})
						}
						cancel()
					}
				}
				done := make(chan struct{})
				go func() { defer close(done); _ = c.Listen(ctx, mcp.SubscriptionFilter{ResourceSubscriptions: uris}) }()
				return func() { cancel(); <-done }
			}
			endA1, endA2, endB := sub(a1, table, row), sub(a2, table, row), sub(b1, table, row)
			defer endA2()
			heard := func(n *notes, v string) bool {
				for _, no := range carriedNotices(t, n) {
					if no.uri == row && strings.Contains(no.raw, v) {
						return true
					}
				}
				return false
			}
			until := func(w *client.Client, who *puser, ns ...*notes) {
				t.Helper()
				for j := 0; ; j++ {
					v := fmt.Sprintf("%s live %d", who.mark, j)
					save(t, w, key, v, false)
					if waitFor(500*time.Millisecond, func() bool {
						for _, n := range ns {
							if !heard(n, v) {
								return false
							}
						}
						return true
					}) {
						return
					}
					if j > 60 {
						t.Fatalf("%s's subscriptions never became live", who.name)
					}
				}
			}
			until(aw, alice, n1, n2)
			until(bw, bob, nb)

			endB()
			b1.Close()
			endA1()
			a1.Close()
			save(t, aw, key, alice.mark+" after the others left", false)
			if !waitFor(testWait, func() bool { return heard(n2, alice.mark+" after the others left") }) {
				t.Errorf("alice's remaining session was not told of her write after bob and her other session left")
			}
			b2, nb2 := bob.connect(t, st.bases[0], e, wantsChanges())
			defer sub(b2, table, row)()
			until(bw, bob, nb2)
			save(t, aw, key, alice.mark+" last", false)
			save(t, bw, key, bob.mark+" last", false)
			if !waitFor(testWait, func() bool { return heard(n2, alice.mark+" last") && heard(nb2, bob.mark+" last") }) {
				t.Errorf("after the others left, each user's session was not told of its own last write")
			}
		})
	}
	alice.clean(t, bob)
	bob.clean(t, alice)
}

// TestPrivateOverlongSubjectRefused: a caller whose subject is longer than
// an owner may be gets a clear error from the private table's surfaces,
// naming the limit and not the subject, and the server goes on serving.
func TestPrivateOverlongSubjectRefused(t *testing.T) {
	st := newPrivStack(t, 1, nil)
	long := strings.Repeat("x", backend.MaxOwnerBytes+1)
	tok, err := st.issuer.Sign(testissuer.Token{Audience: []string{privResource}, Subject: long, Scopes: []string{resourceScope}})
	if err != nil {
		t.Fatal(err)
	}
	alice := st.user(t, "alice")
	for _, e := range eras[:2] {
		t.Run(e.name, func(t *testing.T) {
			lu := &puser{name: long, token: tok, rec: &recorder{}}
			lu.hc = &http.Client{Transport: recTransport{rec: lu.rec, base: http.DefaultTransport}}
			c, _ := lu.connect(t, st.bases[0], e)
			for _, res := range []*mcp.CallToolResult{
				call(t, c, saveNote.Name(), map[string]any{"key": "k", "text": "LONG"}),
				call(t, c, wire.ToolGetRow, map[string]any{"table": "notes", "key": "k"}),
				call(t, c, wire.ToolListRows, map[string]any{"table": "notes"}),
				call(t, c, wire.ToolSyncChanges, map[string]any{"table": "notes", "after": 0}),
			} {
				if !res.IsError || !strings.Contains(text(res), fmt.Sprint(backend.MaxOwnerBytes)) {
					t.Errorf("a caller with a subject of %d bytes: isError %v, %.300q; want an error naming the %d-byte limit",
						len(long), res.IsError, text(res), backend.MaxOwnerBytes)
				}
			}
			if got := lu.rec.String(); strings.Contains(got, strings.Repeat("x", 64)) {
				t.Errorf("the answers to a caller with an overlong subject quote it: %.300s", got)
			}
			ac, _ := alice.connect(t, st.bases[0], e)
			save(t, ac, "k", "ALICE k", false)
		})
	}
}

// TestPrivateStaticTokenIsOneUser: behind the static HTTP token, every
// holder is the one user "token": two sessions share its rows, and a local
// session on the same server has rows of its own.
func TestPrivateStaticTokenIsOneUser(t *testing.T) {
	eng, err := backend.Open(privConfig(&gates{m: map[string]chan struct{}{}}), backend.Options{Path: t.TempDir() + "/notes.db", Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { eng.Close() })
	srv, base := serveOpts(t, eng, tools.Options{}, tools.HTTPOptions{Token: "t0ken"})
	h := map[string]string{"Authorization": "Bearer t0ken"}
	c1, _ := connect(t, base, eras[0], h)
	c2, _ := connect(t, base, eras[2], h)
	save(t, c1, "k", "TOKEN k", false)
	if n, ok := getNote(t, c2, "k"); !ok || n.Text != "TOKEN k" {
		t.Errorf("another holder of the static token reads k as %+v (found %v), want the token user's row", n, ok)
	}
	server, conn := net.Pipe()
	done := make(chan error, 1)
	go func() { done <- srv.ServeConn(tools.WithLocalIdentity(context.Background()), server) }()
	t.Cleanup(func() { conn.Close(); <-done })
	lc, _ := start(t, transport.NewIO(conn, conn, nil), era{"conn-legacy", "conn", true})
	if _, ok := getNote(t, lc, "k"); ok {
		t.Errorf("the local user reads the token user's row k")
	}
	save(t, lc, "k", "LOCAL k", false)
	if n, _ := getNote(t, c1, "k"); n.Text != "TOKEN k" {
		t.Errorf("the token user's k after the local user wrote his: %+v", n)
	}
}
