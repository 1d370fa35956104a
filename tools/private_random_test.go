package tools_test

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/mcp"

	"github.com/mcp-sync/mcp-sync/internal/drivertest"
	"github.com/mcp-sync/mcp-sync/wire"
)

// privSeedEnv names the variable that replays a randomized run.
const privSeedEnv = "MCP_SYNC_PRIVATE_SEED"

// TestPrivateRandomized: alice and bob interleave writes (saves and deletes
// of keys both use and keys of their own), reads of every kind, runs and
// probes of each other's keys and runs, tasks, and subscribing clients
// that join and leave, on clients of every transport and era. Each answer is checked against the
// user's own model as it comes; at the end, no notice, row, run or error
// text of one ever reached the other.
func TestPrivateRandomized(t *testing.T) {
	st := newPrivStack(t, 1, nil)
	randomized(t, st, 400)
	auditNamesOwners(t, st.engs[0], userNotes.Name())
}

// TestPrivateRandomizedPostgresReplicas: the same over two PostgreSQL
// replicas, each client on a replica chosen at random.
func TestPrivateRandomizedPostgresReplicas(t *testing.T) {
	st := newPrivStack(t, 2, drivertest.Postgres(t))
	randomized(t, st, 200)
	auditNamesOwners(t, st.engs[1], userNotes.Name())
}

// rclient is one of a user's clients.
type rclient struct {
	e    era
	base string
	c    *client.Client
	n    *notes
	late bool // joined during the ops: owed no notice of writes before it
}

// ruser is a user of the randomized test: its clients, its key pool and
// the model of its rows.
type ruser struct {
	*puser
	clients   []rclient
	gone      []rclient // late clients that left: what they were sent is still checked
	bases     []string
	keys      []string          // keys it writes: shared ones and its own
	probes    []string          // the other user's own keys, which it only reads
	model     map[string]string // key → text
	ever      map[string]bool   // keys it ever wrote
	runs      []string
	lastWrite uint64
}

// runBoard shares each user's run ids, for the other's probes.
type runBoard struct {
	mu  sync.Mutex
	ids map[string][]string
}

func (b *runBoard) add(who, id string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.ids[who] = append(b.ids[who], id)
}

func (b *runBoard) pick(who string, rng *rand.Rand) string {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.ids[who]) == 0 {
		return ""
	}
	return b.ids[who][rng.IntN(len(b.ids[who]))]
}

func randomized(t *testing.T, st *privStack, ops int) {
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv(privSeedEnv); s != "" {
		v, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("%s=%q is not a seed: %v", privSeedEnv, s, err)
		}
		seed = v
	}
	t.Logf("seed %d", seed)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("failed with seed %d: replay with %s=%d", seed, privSeedEnv, seed)
		}
	})
	rng := rand.New(rand.NewPCG(seed, 0))
	shared := []string{"s0", "s1", "s2", "s3"}
	pool := func(c string) []string { return []string{c + "0", c + "1", c + "2", c + "3"} }
	alice := &ruser{puser: st.user(t, "alice"), keys: append(pool("a"), shared...), probes: pool("b")}
	bob := &ruser{puser: st.user(t, "bob"), keys: append(pool("b"), shared...), probes: pool("a")}
	for _, u := range []*ruser{alice, bob} {
		u.model, u.ever = map[string]string{}, map[string]bool{}
		uris := []string{wire.TableURI("notes")}
		for _, k := range append(slices.Clone(u.keys), u.probes...) {
			uris = append(uris, wire.RowURI("notes", k))
		}
		u.bases = st.bases
		for _, e := range eras {
			base := st.bases[rng.IntN(len(st.bases))]
			c, n := u.connect(t, base, e, wantsChanges())
			subscribe(t, c, e, uris...)
			u.clients = append(u.clients, rclient{e: e, base: base, c: c, n: n})
		}
	}
	board := &runBoard{ids: map[string][]string{}}
	t.Run("ops", func(t *testing.T) {
		for i, u := range []*ruser{alice, bob} {
			other := []*ruser{bob, alice}[i]
			urng := rand.New(rand.NewPCG(seed, uint64(i+1)))
			t.Run(u.name, func(t *testing.T) {
				t.Parallel()
				for op := range ops / 2 {
					u.step(t, urng, op, board, other)
				}
			})
		}
	})
	for _, u := range []*ruser{alice, bob} {
		u.finish(t)
	}
	alice.clean(t, bob.puser)
	bob.clean(t, alice.puser)
}

// step does one random operation as u and checks its answer.
func (u *ruser) step(t *testing.T, rng *rand.Rand, op int, board *runBoard, other *ruser) {
	cl := u.clients[rng.IntN(len(u.clients))]
	c := cl.c
	at := fmt.Sprintf("%s op %d via %s", u.name, op, cl.e.name)
	anyKey := func() string {
		all := append(slices.Clone(u.keys), u.probes...)
		return all[rng.IntN(len(all))]
	}
	switch r := rng.IntN(100); {
	case r < 3: // a client joins, subscribed to the table and some keys
		e := eras[rng.IntN(len(eras))]
		base := u.bases[rng.IntN(len(u.bases))]
		uris := []string{wire.TableURI("notes")}
		for _, k := range append(slices.Clone(u.keys), u.probes...) {
			if rng.IntN(2) == 0 {
				uris = append(uris, wire.RowURI("notes", k))
			}
		}
		nc, n := u.connect(t, base, e, wantsChanges())
		subscribe(t, nc, e, uris...)
		u.clients = append(u.clients, rclient{e: e, base: base, c: nc, n: n, late: true})
	case r < 5: // a late client leaves
		if i := slices.IndexFunc(u.clients, func(c rclient) bool { return c.late }); i >= 0 {
			u.clients[i].c.Close()
			u.gone = append(u.gone, u.clients[i])
			u.clients = slices.Delete(u.clients, i, i+1)
		}
	case r < 30: // save, now and then with a run
		key := u.keys[rng.IntN(len(u.keys))]
		txt := fmt.Sprintf("%s %s #%d", u.mark, key, op)
		var out wire.MutateOut
		decodeOut(t, mustCall(t, c, saveNote.Name(), map[string]any{"key": key, "text": txt, "summarize": rng.IntN(4) == 0}), &out)
		u.model[key], u.ever[key], u.lastWrite = txt, true, out.Version
		for _, id := range out.Runs {
			u.runs = append(u.runs, id)
			board.add(u.name, id)
		}
	case r < 40:
		key := anyKey() // a delete of the other's key deletes nothing of theirs
		mustCall(t, c, deleteNote.Name(), map[string]any{"key": key})
		delete(u.model, key)
	case r < 55:
		key := anyKey()
		n, ok := getNote(t, c, key)
		u.checkNote(t, at+": get_row "+key, key, n, ok)
	case r < 63:
		u.checkAll(t, at+": list_rows", listNotes(t, c))
	case r < 68:
		key := anyKey()
		msg, got := readErr(c, wire.RowURI("notes", key))
		var n PNote
		if msg == "" {
			if err := json.Unmarshal([]byte(got), &n); err != nil {
				t.Fatalf("%s: resources/read %s: %v in %q", at, key, err, got)
			}
		}
		u.checkNote(t, at+": resources/read "+key, key, n, msg == "")
	case r < 72:
		msg, got := readErr(c, wire.TableURI("notes"))
		var page wire.ListRowsOut
		if err := json.Unmarshal([]byte(got), &page); msg != "" || err != nil {
			t.Fatalf("%s: resources/read of the table: %s %v", at, msg, err)
		}
		all := map[string]PNote{}
		for _, row := range page.Rows {
			var n PNote
			_ = json.Unmarshal(row.Value, &n)
			all[row.Key] = n
		}
		u.checkAll(t, at+": the table resource", all)
	case r < 77:
		prefix := []string{"", "s", "a", "b", "z"}[rng.IntN(5)]
		ctx, cancel := context.WithTimeout(context.Background(), testWait)
		res, err := c.Complete(ctx, mcp.CompleteRequest{Params: mcp.CompleteParams{
			Ref:      mcp.ResourceReference{Type: "ref/resource", URI: wire.TablePrefix + "{table}/{key}"},
			Argument: mcp.CompleteArgument{Name: "key", Value: prefix}, Context: mcp.CompleteContext{Arguments: map[string]string{"table": "notes"}}}})
		cancel()
		if err != nil {
			t.Fatalf("%s: completing {key} from %q: %v", at, prefix, err)
		}
		var want []string
		for k := range u.model {
			if strings.HasPrefix(k, prefix) {
				want = append(want, k)
			}
		}
		slices.Sort(want)
		if got := slices.Sorted(slices.Values(res.Completion.Values)); !slices.Equal(got, want) {
			t.Errorf("%s: completing {key} from %q gave %v, want its own keys %v", at, prefix, got, want)
		}
	case r < 82:
		var out wire.SyncChangesOut
		decodeOut(t, mustCall(t, c, wire.ToolSyncChanges, map[string]any{"table": "notes", "after": 0, "limit": 1000}), &out)
		for _, ev := range out.Events {
			for _, ch := range ev.Changes {
				if !u.ever[ch.Key] || (ch.Op == wire.OpPut && !strings.Contains(string(ch.Value), u.mark)) {
					t.Errorf("%s: _sync_changes carry %s %s %s, not a change of its own", at, ch.Op, ch.Key, ch.Value)
				}
			}
		}
	case r < 90: // the other's run, as a run, a resource and a task
		id := board.pick(other.name, rng)
		if id == "" {
			return
		}
		fake := fakeID(id)
		sameAsMissing(t, at+": get_run", text(call(t, c, wire.ToolGetRun, map[string]any{"id": id})), id,
			text(call(t, c, wire.ToolGetRun, map[string]any{"id": fake})), fake)
		theirs, _ := readErr(c, wire.RunURI(id))
		nobodys, _ := readErr(c, wire.RunURI(fake))
		sameAsMissing(t, at+": the run resource", theirs, id, nobodys, fake)
		if cl.e.transport == "http" {
			o := func(id string) rpcOpts { return rpcOpts{modern: !cl.e.legacy, declared: !cl.e.legacy, name: id} }
			tb, _ := json.Marshal(u.rpc(t, cl.base, "tasks/get", map[string]any{"taskId": id}, o(id)))
			nb, _ := json.Marshal(u.rpc(t, cl.base, "tasks/get", map[string]any{"taskId": fake}, o(fake)))
			sameAsMissing(t, at+": tasks/get", string(tb), id, string(nb), fake)
		}
	case r < 92 && cl.e.transport == "http": // a task of its own, which the other probes as a run
		key := anyKey()
		params := map[string]any{"name": summarizeNote.Name(), "arguments": map[string]any{"key": key}}
		o := rpcOpts{modern: true, declared: true, name: summarizeNote.Name()}
		if cl.e.legacy {
			params["task"], o = map[string]any{"ttl": 60000}, rpcOpts{}
		}
		res := result(t, u.rpc(t, cl.base, "tools/call", params, o))
		id, _ := res["taskId"].(string)
		if task, ok := res["task"].(map[string]any); ok {
			id, _ = task["taskId"].(string)
		}
		if id == "" {
			t.Fatalf("%s: summarizeNote as a task: no task id in %v", at, res)
		}
		u.runs = append(u.runs, id)
		board.add(u.name, id)
	case r < 95:
		if len(u.runs) == 0 {
			return
		}
		id := u.runs[rng.IntN(len(u.runs))]
		var run wire.Run
		decodeOut(t, mustCall(t, c, wire.ToolGetRun, map[string]any{"id": id}), &run)
		if run.ID != id || run.Action != summarizeNote.Name() {
			t.Errorf("%s: get_run of its own run %s: %+v", at, id, run)
		}
		if run.Status == "succeeded" && !strings.Contains(string(run.Output), "summary of "+u.mark) {
			t.Errorf("%s: its run %s summarized something not its own: %s", at, id, run.Output)
		}
	default: // a direct call of the action
		key := anyKey()
		res := call(t, c, summarizeNote.Name(), map[string]any{"key": key})
		txt, ok := u.model[key]
		var out SummaryOut
		if !res.IsError {
			decodeOut(t, res, &out)
		}
		if res.IsError == ok || (ok && out.Summary != "summary of "+txt) {
			t.Errorf("%s: summarizeNote %s: isError %v, %q; want its own note %q (held: %v)", at, key, res.IsError, text(res), txt, ok)
		}
	}
}

// checkNote checks a read of key against u's model.
func (u *ruser) checkNote(t *testing.T, what, key string, n PNote, found bool) {
	t.Helper()
	want, held := u.model[key]
	if found != held || n.Text != want {
		t.Errorf("%s: %+v (found %v), want %q (held %v)", what, n, found, want, held)
	}
	for _, tag := range n.Tags {
		if !strings.HasPrefix(tag, "summary of "+u.mark) {
			t.Errorf("%s: tag %q is not of its own runs", what, tag)
		}
	}
}

// checkAll checks a listing against u's model.
func (u *ruser) checkAll(t *testing.T, what string, all map[string]PNote) {
	t.Helper()
	if got, want := slices.Sorted(maps.Keys(all)), slices.Sorted(maps.Keys(u.model)); !slices.Equal(got, want) {
		t.Errorf("%s: keys %v, want its own %v", what, got, want)
	}
	for k, n := range all {
		u.checkNote(t, what+" row "+k, k, n, true)
	}
}

// finish waits for u's runs and its clients' notices, then checks what
// every client of u was told.
func (u *ruser) finish(t *testing.T) {
	t.Helper()
	c := u.clients[0].c
	for _, id := range u.runs {
		waitRun(t, c, id)
	}
	u.checkAll(t, u.name+" at the end: list_rows", listNotes(t, c))
	table := wire.TableURI("notes")
	own := ownVersions(t, c)
	for _, cl := range append(slices.Clone(u.clients), u.gone...) {
		if !cl.late && u.lastWrite > 0 && !waitFor(testWait, func() bool {
			return reached(t, cl.n, table, u.lastWrite) || slices.ContainsFunc(carriedNotices(t, cl.n), func(no carried) bool { return no.bare })
		}) {
			t.Errorf("%s's %s subscriber never heard of its last write (version %d)", u.name, cl.e.name, u.lastWrite)
		}
		quiet(cl.n, 200*time.Millisecond)
		// No notification of any kind names one of the other's keys.
		cl.n.mu.Lock()
		all := slices.Clone(cl.n.all)
		cl.n.mu.Unlock()
		for _, x := range all {
			b, _ := json.Marshal(x)
			for _, k := range u.probes {
				if strings.Contains(string(b), `"`+k+`"`) || strings.Contains(string(b), `\"`+k+`\"`) {
					t.Errorf("%s's %s client was sent a %s naming the other user's key %s: %s", u.name, cl.e.name, x.Method, k, b)
				}
			}
		}
		for _, k := range u.probes {
			if n := count(updatedURIs(cl.n), wire.RowURI("notes", k)); n > 0 {
				t.Errorf("%s's %s subscriber was notified %d times of %s, which only the other user writes", u.name, cl.e.name, n, k)
			}
		}
		for _, no := range carriedNotices(t, cl.n) {
			for _, ev := range no.Events {
				if !own[ev.Version] {
					t.Errorf("%s's %s subscriber: a notice of %s has an event at version %d, none of its own changes: %s", u.name, cl.e.name, no.uri, ev.Version, no.raw)
				}
				for _, ch := range ev.Changes {
					if !u.ever[ch.Key] || (ch.Op == wire.OpPut && !strings.Contains(string(ch.Value), u.mark)) {
						t.Errorf("%s's %s subscriber: a notice of %s carries %s %s: %s", u.name, cl.e.name, no.uri, ch.Op, ch.Key, no.raw)
					}
					if ch.Op == wire.OpPatch && !own[ch.Base] {
						t.Errorf("%s's %s subscriber: a patch of %s edits its value at version %d, which is none of its own changes: %s", u.name, cl.e.name, ch.Key, ch.Base, no.raw)
					}
				}
			}
		}
	}
}

// ownVersions returns the versions of every change of c's user to notes,
// read with _sync_changes.
func ownVersions(t testing.TB, c *client.Client) map[uint64]bool {
	t.Helper()
	own := map[uint64]bool{}
	for after, more := uint64(0), true; more; {
		var out wire.SyncChangesOut
		decodeOut(t, mustCall(t, c, wire.ToolSyncChanges, map[string]any{"table": "notes", "after": after}), &out)
		for _, ev := range out.Events {
			own[ev.Version], after = true, ev.Version
		}
		more = out.More && len(out.Events) > 0
	}
	return own
}
