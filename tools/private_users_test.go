package tools_test

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/mcp"

	"github.com/mcp-sync/mcp-sync/wire"
)

// TestPrivateRowsPerUserOnEverySurface: alice and bob each hold a row "s"
// of the private table notes, and a row of their own; over streamable HTTP
// on both protocol eras and SSE on both, each sees only its own rows on
// every surface, and the other's row reads exactly like a missing one.
func TestPrivateRowsPerUserOnEverySurface(t *testing.T) {
	st := newPrivStack(t, 1, nil)
	alice, bob := st.user(t, "alice"), st.user(t, "bob")
	for i, e := range eras {
		t.Run(e.name, func(t *testing.T) {
			checkSurfaces(t, st, alice, bob, st.bases[0], st.bases[0], e, fmt.Sprint(i))
		})
	}
	alice.clean(t, bob)
	bob.clean(t, alice)
	auditNamesOwners(t, st.engs[0], userNotes.Name())
}

// surfaceKeys are the keys of one run of checkSurfaces: s both users hold,
// ka alice's only, kb bob's only, kz nobody's, sent bob's sentinel.
type surfaceKeys struct{ s, ka, kb, kz, sent string }

// aliceOwns and bobOwns say whether a key is one of the user's in any
// run of checkSurfaces.
// userView is one of the two callers as a surface's checks walk them: its
// client, which keys are its own, its own row and the other's.
type userView struct {
	who       *puser
	c         *client.Client
	owns      func(string) bool
	own, them string
}

func aliceOwns(k string) bool {
	return strings.HasPrefix(k, "s") || strings.HasPrefix(k, "ka") || strings.HasPrefix(k, "ga")
}
func bobOwns(k string) bool {
	return strings.HasPrefix(k, "s") || strings.HasPrefix(k, "kb") || strings.HasPrefix(k, "gb") || strings.HasPrefix(k, "bsent")
}

// checkSurfaces runs the per-surface checks for era e with keys suffixed
// by p: alice on base1; bob writing on base1 and reading and subscribed on
// base2 (two replicas, or one server twice).
func checkSurfaces(t *testing.T, st *privStack, alice, bob *puser, base1, base2 string, e era, p string) {
	k := surfaceKeys{s: "s" + p, ka: "ka" + p, kb: "kb" + p, kz: "kz" + p, sent: "bsent" + p}
	ac, _ := alice.connect(t, base1, e)
	bw, _ := bob.connect(t, base1, e)
	bc, _ := bob.connect(t, base2, e)
	bs, bn := bob.connect(t, base2, e, wantsChanges())
	subscribe(t, bs, e, wire.RowURI("notes", k.ka), wire.RowURI("notes", k.s), wire.TableURI("notes"))

	// Writes, each with a summarizeNote run for s.
	ra := save(t, ac, k.s, "ALICE s"+p, true)
	save(t, ac, k.ka, "ALICE ka"+p, false)
	rb := save(t, bw, k.s, "BOB s"+p, true)
	save(t, bw, k.kb, "BOB kb"+p, false)
	if len(ra) != 1 || len(rb) != 1 {
		t.Fatalf("saveNote with summarize: runs %v and %v, want one each", ra, rb)
	}
	users := []userView{{alice, ac, aliceOwns, k.ka, k.kb}, {bob, bc, bobOwns, k.kb, k.ka}}
	for _, c := range []struct {
		who *puser
		c   *client.Client
		id  string
	}{{alice, ac, ra[0]}, {bob, bc, rb[0]}} {
		run := waitRun(t, c.c, c.id)
		var out SummaryOut
		_ = json.Unmarshal(run.Output, &out)
		if run.Status != "succeeded" || out.Summary != "summary of "+c.who.mark+" s"+p {
			t.Errorf("%s's summarizeNote run: %s %q (error %q), want it to succeed on its own note %q",
				c.who.name, run.Status, out.Summary, run.Error, c.who.mark+" s"+p)
		}
	}

	t.Run("get_row", func(t *testing.T) {
		for _, c := range users {
			n, ok := getNote(t, c.c, k.s)
			if want := c.who.mark + " s" + p; !ok || n.Text != want || !slices.Equal(n.Tags, []string{"summary of " + want}) {
				t.Errorf("%s's get_row notes/%s: %+v found=%v, want its own text %q tagged by its own run", c.who.name, k.s, n, ok, want)
			}
			if _, ok := getNote(t, c.c, c.own); !ok {
				t.Errorf("%s's get_row of its own %s: not found", c.who.name, c.own)
			}
			theirs := text(mustCall(t, c.c, wire.ToolGetRow, map[string]any{"table": "notes", "key": c.them}))
			nobodys := text(mustCall(t, c.c, wire.ToolGetRow, map[string]any{"table": "notes", "key": k.kz}))
			sameAsMissing(t, c.who.name+"'s get_row", theirs, c.them, nobodys, k.kz)
		}
	})

	t.Run("list_rows", func(t *testing.T) {
		for _, c := range users {
			all := listNotes(t, c.c)
			ownKeys(t, c.who.name+"'s list_rows", slices.Collect(maps.Keys(all)), c.owns)
			if _, ok := all[c.own]; !ok {
				t.Errorf("%s's list_rows lacks its own %s: %v", c.who.name, c.own, all)
			}
			if n := all[k.s]; !strings.HasPrefix(n.Text, c.who.mark) {
				t.Errorf("%s's list_rows shows notes/%s as %+v", c.who.name, k.s, n)
			}
			for key, n := range all {
				if !strings.Contains(n.Text, c.who.mark) {
					t.Errorf("%s's list_rows: row %s is %+v, not one it wrote", c.who.name, key, n)
				}
			}
			// One row a page, forwards and backwards: the pages walk
			// exactly its own rows.
			for _, rev := range []bool{false, true} {
				want := slices.Sorted(maps.Keys(all))
				if rev {
					slices.Reverse(want)
				}
				var keys []string
				for after := ""; len(keys) <= len(want); {
					var page wire.ListRowsOut
					decodeOut(t, mustCall(t, c.c, wire.ToolListRows, map[string]any{"table": "notes", "after": after, "limit": 1, "reverse": rev}), &page)
					for _, r := range page.Rows {
						keys = append(keys, r.Key)
					}
					if after = page.Next; after == "" {
						break
					}
				}
				if !slices.Equal(keys, want) {
					t.Errorf("%s's list_rows one row a page (reverse %v): %v, want %v", c.who.name, rev, keys, want)
				}
			}
			var page wire.ListRowsOut
			decodeOut(t, mustCall(t, c.c, wire.ToolListRows, map[string]any{"table": "notes", "prefix": c.them}), &page)
			if len(page.Rows) != 0 {
				t.Errorf("%s's list_rows with prefix %s (the other's key): %+v", c.who.name, c.them, page.Rows)
			}
		}
	})

	t.Run("resources", func(t *testing.T) {
		ctx := context.Background()
		for _, c := range users {
			rl, err := c.c.ListResources(ctx, mcp.ListResourcesRequest{})
			if err != nil {
				t.Fatal(err)
			}
			rt, err := c.c.ListResourceTemplates(ctx, mcp.ListResourceTemplatesRequest{})
			if err != nil {
				t.Fatal(err)
			}
			listed, _ := json.Marshal([]any{rl, rt})
			if strings.Contains(string(listed), wire.RowURI("notes", c.them)) {
				t.Errorf("%s's resources/list names the other's row %s: %s", c.who.name, c.them, listed)
			}
			if msg, got := readErr(c.c, wire.RowURI("notes", k.s)); msg != "" || !strings.Contains(got, `"`+c.who.mark+" s"+p+`"`) {
				t.Errorf("%s's resources/read notes/%s: %q %s", c.who.name, k.s, got, msg)
			}
			msg, got := readErr(c.c, wire.TableURI("notes"))
			var page wire.ListRowsOut
			if err := json.Unmarshal([]byte(got), &page); msg != "" || err != nil {
				t.Fatalf("%s's resources/read of the table: %s %v %q", c.who.name, msg, err, got)
			}
			var keys []string
			for _, r := range page.Rows {
				keys = append(keys, r.Key)
			}
			ownKeys(t, c.who.name+"'s table resource", keys, c.owns)
			if !slices.Contains(keys, c.own) {
				t.Errorf("%s's table resource lacks its own %s: %v", c.who.name, c.own, keys)
			}
			theirs, _ := readErr(c.c, wire.RowURI("notes", c.them))
			nobodys, _ := readErr(c.c, wire.RowURI("notes", k.kz))
			sameAsMissing(t, c.who.name+"'s resources/read", theirs, c.them, nobodys, k.kz)
		}
	})

	t.Run("completion", func(t *testing.T) {
		rowT := mcp.ResourceReference{Type: "ref/resource", URI: wire.TablePrefix + "{table}/{key}"}
		for _, c := range users {
			for _, prefix := range []string{"", "k", c.them} {
				ctx, cancel := context.WithTimeout(context.Background(), testWait)
				res, err := c.c.Complete(ctx, mcp.CompleteRequest{Params: mcp.CompleteParams{Ref: rowT,
					Argument: mcp.CompleteArgument{Name: "key", Value: prefix}, Context: mcp.CompleteContext{Arguments: map[string]string{"table": "notes"}}}})
				cancel()
				if err != nil {
					t.Fatalf("%s completing {key} from %q: %v", c.who.name, prefix, err)
				}
				ownKeys(t, fmt.Sprintf("%s completing {key} from %q", c.who.name, prefix), res.Completion.Values, c.owns)
				if prefix == "k" && !slices.Contains(res.Completion.Values, c.own) {
					t.Errorf("%s completing {key} from k: %v lacks its own %s", c.who.name, res.Completion.Values, c.own)
				}
			}
		}
	})

	t.Run("_sync_changes", func(t *testing.T) {
		for _, c := range users {
			var keys []string
			for after, more := uint64(0), true; more; {
				var out wire.SyncChangesOut
				decodeOut(t, mustCall(t, c.c, wire.ToolSyncChanges, map[string]any{"table": "notes", "after": after}), &out)
				for _, ev := range out.Events {
					for _, ch := range ev.Changes {
						keys = append(keys, ch.Key)
						if ch.Op == wire.OpPut && !strings.Contains(string(ch.Value), c.who.mark) {
							t.Errorf("%s's _sync_changes: %s = %s, not a value it wrote", c.who.name, ch.Key, ch.Value)
						}
					}
					after = ev.Version
				}
				more = out.More
			}
			ownKeys(t, c.who.name+"'s _sync_changes", keys, c.owns)
			if !slices.Contains(keys, c.own) {
				t.Errorf("%s's _sync_changes lack its own %s: %v", c.who.name, c.own, keys)
			}
			theirs := text(mustCall(t, c.c, wire.ToolSyncChanges, map[string]any{"table": "notes", "key": c.them, "after": 0}))
			nobodys := text(mustCall(t, c.c, wire.ToolSyncChanges, map[string]any{"table": "notes", "key": k.kz, "after": 0}))
			sameAsMissing(t, c.who.name+"'s _sync_changes of one key", theirs, c.them, nobodys, k.kz)
		}
	})

	t.Run("subscriptions", func(t *testing.T) {
		checkNotNotified(t, alice, bob, ac, bw, bn, k, p)
	})

	t.Run("runs", func(t *testing.T) {
		for _, c := range []struct {
			who *puser
			c   *client.Client
			id  string // the other's run
		}{{alice, ac, rb[0]}, {bob, bc, ra[0]}} {
			fake := fakeID(c.id)
			theirs := call(t, c.c, wire.ToolGetRun, map[string]any{"id": c.id})
			nobodys := call(t, c.c, wire.ToolGetRun, map[string]any{"id": fake})
			if !theirs.IsError {
				t.Errorf("%s's get_run of the other's run: %s", c.who.name, text(theirs))
			}
			sameAsMissing(t, c.who.name+"'s get_run", text(theirs), c.id, text(nobodys), fake)
			msgTheirs, got := readErr(c.c, wire.RunURI(c.id))
			msgNobodys, _ := readErr(c.c, wire.RunURI(fake))
			if msgTheirs == "" {
				t.Errorf("%s read the other's run resource: %s", c.who.name, got)
			}
			sameAsMissing(t, c.who.name+"'s run resource", msgTheirs, c.id, msgNobodys, fake)
		}
	})

	t.Run("run subscriptions", func(t *testing.T) { checkRunSubscriptions(t, st, alice, bob, base1, base2, e, p) })

	if e.transport == "http" {
		t.Run("tasks", func(t *testing.T) { checkTasks(t, st, alice, bob, base1, base2, e, k, p) })
	}

	t.Run("errors", func(t *testing.T) {
		for _, c := range users {
			for _, tool := range []string{summarizeNote.Name(), tagNote.Name()} {
				args := func(key string) map[string]any { return map[string]any{"key": key, "tag": "x"} }
				theirs, nobodys := call(t, c.c, tool, args(c.them)), call(t, c.c, tool, args(k.kz))
				if !theirs.IsError || !nobodys.IsError {
					t.Errorf("%s's %s of the other's %s: isError %v (%s)", c.who.name, tool, c.them, theirs.IsError, text(theirs))
				}
				sameAsMissing(t, c.who.name+"'s "+tool, text(theirs), c.them, text(nobodys), k.kz)
			}
			// The same through _sync_push.
			push := func(key string, seq int) string {
				return text(call(t, c.c, wire.ToolSyncPush, map[string]any{"client": "errs-" + p, "seq": seq, "mutator": tagNote.Name(),
					"args": map[string]any{"key": key, "tag": "x"}}))
			}
			sameAsMissing(t, c.who.name+"'s _sync_push of tagNote", push(c.them, 1), c.them, push(k.kz, 2), k.kz)
			var out SummaryOut
			decodeOut(t, mustCall(t, c.c, summarizeNote.Name(), map[string]any{"key": c.own}), &out)
			if !strings.HasPrefix(out.Summary, "summary of "+c.who.mark) {
				t.Errorf("%s's summarizeNote of its own %s: %q", c.who.name, c.own, out.Summary)
			}
		}
	})
}

// checkNotNotified: bob, subscribed to alice's key, to the key both hold
// and to the table, is never notified of alice's writes; what his notices
// carry is his own.
func checkNotNotified(t *testing.T, alice, bob *puser, ac, bw *client.Client, bn *notes, k surfaceKeys, p string) {
	table, rowS, rowA := wire.TableURI("notes"), wire.RowURI("notes", k.s), wire.RowURI("notes", k.ka)
	sentinel := func(v string) int {
		t.Helper()
		// Written by bob on another session: nothing echoes it to the
		// subscriber's own calls, and alice's writes before it are
		// announced (if ever) before it is.
		save(t, bw, k.sent, v, false)
		i := 0
		if !waitFor(testWait, func() bool {
			for j, no := range carriedNotices(t, bn) {
				if no.uri == table && strings.Contains(no.raw, v) {
					i = j
					return true
				}
			}
			return false
		}) {
			t.Fatalf("bob's subscriber was not notified of his own write %q to the table within %v", v, testWait)
		}
		return i
	}
	// Live: a modern subscription is in place once the server has the
	// listen request.
	for i := 0; ; i++ {
		v := fmt.Sprintf("BOB live %s %d", p, i)
		save(t, bw, k.sent, v, false)
		if waitFor(500*time.Millisecond, func() bool { return count(updatedURIs(bn), table) > 0 }) {
			break
		}
		if i > 60 {
			t.Fatalf("bob's subscription never became live")
		}
	}
	quiet(bn, 300*time.Millisecond)
	from := len(carriedNotices(t, bn))
	for i := range 5 {
		save(t, ac, k.ka, fmt.Sprintf("ALICE ka%s again %d", p, i), false)
		save(t, ac, k.s, fmt.Sprintf("ALICE s%s again %d", p, i), false)
	}
	last := sentinel("BOB sentinel " + p)
	quiet(bn, 300*time.Millisecond)
	for _, no := range carriedNotices(t, bn)[from : last+1] {
		if no.uri != table && no.uri != wire.RowURI("notes", k.sent) {
			t.Errorf("bob was notified of %s while only alice wrote it: %s", no.uri, no.raw)
		}
		for _, ev := range no.Events {
			for _, ch := range ev.Changes {
				if ch.Key != k.sent {
					t.Errorf("bob's notice of %s carries %s while only alice wrote it: %s", no.uri, ch.Key, no.raw)
				}
			}
		}
		if len(no.Events) == 0 {
			t.Errorf("bob's notice of %s carries no change of his (alice's write?): %s", no.uri, no.raw)
		}
	}
	// His own row s is watched: his write to it is announced.
	save(t, bw, k.s, "BOB s"+p+" again", false)
	if !waitFor(testWait, func() bool { return count(updatedURIs(bn), rowS) > 0 }) {
		t.Errorf("bob's write to his own notes/%s was not announced to his subscription of it", k.s)
	}
	quiet(bn, 300*time.Millisecond)
	if n := count(updatedURIs(bn), rowA); n > 0 {
		t.Errorf("bob was notified %d times of %s, which only alice holds", n, rowA)
	}
	own := ownVersions(t, bw)
	for _, no := range carriedNotices(t, bn) {
		for _, ev := range no.Events {
			if !own[ev.Version] {
				t.Errorf("bob's notice of %s has an event at version %d, none of his changes: %s", no.uri, ev.Version, no.raw)
			}
			for _, ch := range ev.Changes {
				if ch.Op == wire.OpPatch && !own[ch.Base] {
					t.Errorf("bob's notice patches %s as of version %d, none of his changes: %s", ch.Key, ch.Base, no.raw)
				}
				key := ch.Key
				if !bobOwns(key) {
					t.Errorf("bob's notice of %s carries key %q: %s", no.uri, key, no.raw)
				}
				if strings.Contains(strings.ToLower(no.raw), alice.name) {
					t.Errorf("bob's notice of %s carries alice's text: %s", no.uri, no.raw)
				}
			}
		}
	}
	// Put back alice's text for the checks after this one.
	save(t, ac, k.s, alice.mark+" s"+p, false)
	_ = bob
}

// fakeID is an id shaped like id that no run has.
func fakeID(id string) string {
	if strings.HasSuffix(id, "deadbeef") {
		return id[:len(id)-8] + "feedface"
	}
	return id[:max(0, len(id)-8)] + "deadbeef"
}
