package tools_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/mcp"

	"github.com/mcp-sync/mcp-sync/wire"
)

// checkTasks: a summarizeNote task alice starts (2026-07-28's extension or
// 2025-11-25's params.task, by e) is hers: bob's tasks/get, tasks/result,
// tasks/cancel and tasks/list treat it as a task that does not exist.
func checkTasks(t *testing.T, st *privStack, alice, bob *puser, base1, base2 string, e era, k surfaceKeys, p string) {
	args := map[string]any{"key": k.ka}
	release := st.gates.hold(k.ka) // the task runs until bob has tried it
	defer release()
	var id string
	if e.legacy {
		out := alice.rpc(t, base1, "tools/call", map[string]any{"name": summarizeNote.Name(), "arguments": args,
			"task": map[string]any{"ttl": 60000}}, rpcOpts{})
		task, _ := result(t, out)["task"].(map[string]any)
		id, _ = task["taskId"].(string)
	} else {
		out := alice.rpc(t, base1, "tools/call", map[string]any{"name": summarizeNote.Name(), "arguments": args},
			rpcOpts{modern: true, declared: true, name: summarizeNote.Name()})
		id, _ = result(t, out)["taskId"].(string)
	}
	if id == "" {
		t.Fatalf("alice's summarizeNote as a task gave no task id")
	}
	o := func(id string) rpcOpts { return rpcOpts{modern: !e.legacy, declared: !e.legacy, name: id} }
	fake := fakeID(id)
	methods := []string{"tasks/get", "tasks/cancel"}
	if e.legacy {
		methods = append(methods, "tasks/result")
	}
	// To bob it does not exist, running or done, and his tasks/cancel
	// does not stop it.
	bobsView := func(when string) {
		t.Helper()
		for _, m := range methods {
			theirs := bob.rpc(t, base2, m, map[string]any{"taskId": id}, o(id))
			nobodys := bob.rpc(t, base2, m, map[string]any{"taskId": fake}, o(fake))
			if theirs["error"] == nil {
				t.Errorf("bob's %s of alice's %s task: %v", m, when, theirs)
			}
			tb, _ := json.Marshal(theirs)
			nb, _ := json.Marshal(nobodys)
			sameAsMissing(t, "bob's "+m+" of a "+when+" task", string(tb), id, string(nb), fake)
		}
	}
	bobsView("running")
	release()

	// Alice's task finishes with her note's summary.
	var done map[string]any
	for deadline := time.Now().Add(testWait); ; time.Sleep(20 * time.Millisecond) {
		done = result(t, alice.rpc(t, base1, "tasks/get", map[string]any{"taskId": id}, o(id)))
		if done["status"] != "working" || time.Now().After(deadline) {
			break
		}
	}
	if done["status"] != "completed" {
		t.Fatalf("alice's task %s (bob tried to cancel it): %v", id, done)
	}
	if e.legacy {
		done = result(t, alice.rpc(t, base1, "tasks/result", map[string]any{"taskId": id}, o(id)))
	}
	if b, _ := json.Marshal(done); !strings.Contains(string(b), "summary of "+alice.mark+" ka"+p) {
		t.Errorf("alice's task result does not summarize her note: %s", b)
	}

	bobsView("finished")
	if e.legacy {
		list := func(u *puser, base string) string {
			b, _ := json.Marshal(result(t, u.rpc(t, base, "tasks/list", nil, rpcOpts{}))["tasks"])
			return string(b)
		}
		if l := list(bob, base2); strings.Contains(l, id) {
			t.Errorf("bob's tasks/list shows alice's task %s: %s", id, l)
		}
		if l := list(alice, base1); !strings.Contains(l, id) {
			t.Errorf("alice's tasks/list lacks her task %s: %s", id, l)
		}
	}
}

// checkRunSubscriptions: bob, subscribed to alice's run (and his own), is
// never notified of hers as it runs; subscribing to it answers as for a run
// nobody has.
func checkRunSubscriptions(t *testing.T, st *privStack, alice, bob *puser, base1, base2 string, e era, p string) {
	ga, gb := "ga"+p, "gb"+p
	releaseA, releaseB := st.gates.hold(ga), st.gates.hold(gb)
	defer releaseA()
	defer releaseB()
	ac, _ := alice.connect(t, base1, e)
	bc, _ := bob.connect(t, base1, e)
	ra := save(t, ac, ga, alice.mark+" "+ga, true)[0]
	rb := save(t, bc, gb, bob.mark+" "+gb, true)[0]
	as, an := alice.connect(t, base2, e, wantsChanges())
	bs, bn := bob.connect(t, base2, e, wantsChanges())
	table := wire.TableURI("notes")
	if e.legacy {
		fake := fakeID(ra)
		try := func(uri string) string {
			ctx, cancel := context.WithTimeout(context.Background(), testWait)
			defer cancel()
			//lint:ignore SA1019 the legacy protocol era is tested on purpose
			return errText(bs.Subscribe(ctx, mcp.SubscribeRequest{Params: mcp.SubscribeParams{URI: uri}}))
		}
		theirs, nobodys := try(wire.RunURI(ra)), try(wire.RunURI(fake))
		if strings.ReplaceAll(theirs, ra, fake) != nobodys {
			t.Errorf("bob's resources/subscribe of alice's run: %q; of a run nobody has: %q", theirs, nobodys)
		}
		subscribe(t, bs, e, wire.RunURI(rb), table)
	} else {
		subscribe(t, bs, e, wire.RunURI(ra), wire.RunURI(rb), table)
	}
	subscribe(t, as, e, wire.RunURI(ra), table)
	live := func(c *client.Client, n *notes, key, txt string) {
		t.Helper()
		for i := 0; !waitFor(500*time.Millisecond, func() bool { return count(updatedURIs(n), table) > 0 }); i++ {
			if i > 60 {
				t.Fatalf("the subscription of %s never became live", key)
			}
			save(t, c, key, txt, false)
		}
	}
	live(ac, an, ga, alice.mark+" "+ga)
	live(bc, bn, gb, bob.mark+" "+gb)
	releaseA()
	releaseB()
	if run := waitRun(t, ac, ra); run.Status != "succeeded" {
		t.Errorf("alice's gated run: %+v", run)
	}
	if run := waitRun(t, bc, rb); run.Status != "succeeded" {
		t.Errorf("bob's gated run: %+v", run)
	}
	for _, c := range []struct {
		who *puser
		n   *notes
		run string
	}{{alice, an, ra}, {bob, bn, rb}} {
		if !waitFor(testWait, func() bool { return count(updatedURIs(c.n), wire.RunURI(c.run)) > 0 }) {
			t.Errorf("%s was not notified of its own run %s", c.who.name, c.run)
		}
	}
	quiet(bn, 300*time.Millisecond)
	if n := count(updatedURIs(bn), wire.RunURI(ra)); n > 0 {
		t.Errorf("bob was notified %d times of alice's run %s", n, ra)
	}
}
