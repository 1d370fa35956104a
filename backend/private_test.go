package backend_test

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mcp-sync/mcp-sync/backend"
	"github.com/mcp-sync/mcp-sync/internal/drivertest"
	"github.com/mcp-sync/mcp-sync/schema"
)

type privNote struct {
	Text    string `json:"text"`
	Summary string `json:"summary,omitempty"`
}

type privKey struct {
	Key string `json:"key"`
}

type privSave struct {
	Key  string `json:"key"`
	Text string `json:"text"`
}

var (
	privNotes     = schema.Table[privNote]("notes", schema.Private())
	privSaveNote  = schema.Mutator[privSave]("saveNote", "save a note")
	privDelNote   = schema.Mutator[privKey]("deleteNote", "delete a note")
	privQueue     = schema.Mutator[privKey]("queueSummary", "enqueue summarizeNote")
	privSummarize = schema.Action[privKey, string]("summarizeNote", "summarize a note")
	privSetSum    = schema.Mutator[privSave]("setSummary", "store a summary", schema.Internal())
	privShare     = schema.Mutator[privSave]("shareNote", "copy a note to the user named in text")
	privApp       = schema.MustDefine(1, privNotes, privSaveNote, privDelNote, privQueue, privSummarize, privSetSum, privShare)
)

func openPrivate(t *testing.T, drv func(*backend.Options)) *backend.Engine {
	t.Helper()
	return openPrivateAt(t, filepath.Join(t.TempDir(), "priv.db"), drv)
}

func openPrivateAt(t *testing.T, path string, opts ...func(*backend.Options)) *backend.Engine {
	t.Helper()
	cfg := backend.Config{
		Schema: privApp,
		Mutators: []backend.MutatorImpl{
			backend.Mutator(privSaveNote, func(ctx *backend.MutatorCtx, in privSave) error {
				return backend.TableOf(ctx, privNotes).Set(in.Key, privNote{Text: in.Text})
			}),
			backend.Mutator(privDelNote, func(ctx *backend.MutatorCtx, in privKey) error {
				return backend.TableOf(ctx, privNotes).Delete(in.Key)
			}),
			backend.Mutator(privQueue, func(ctx *backend.MutatorCtx, in privKey) error {
				_, err := backend.Enqueue(ctx, privSummarize, in)
				return err
			}),
			backend.Mutator(privShare, func(ctx *backend.MutatorCtx, in privSave) error {
				notes := backend.TableOf(ctx, privNotes)
				n, ok, err := notes.Get(in.Key)
				if err != nil || !ok {
					return fmt.Errorf("no note %s: %v", in.Key, err)
				}
				return notes.Of(in.Text).Set(in.Key, n)
			}),
			backend.Mutator(privSetSum, func(ctx *backend.MutatorCtx, in privSave) error {
				notes := backend.TableOf(ctx, privNotes)
				n, ok, err := notes.Get(in.Key)
				if err != nil || !ok {
					return fmt.Errorf("no note %s: %v", in.Key, err)
				}
				n.Summary = in.Text
				return notes.Set(in.Key, n)
			}),
		},
		Actions: []backend.ActionImpl{
			backend.Action(privSummarize, func(ctx *backend.ActionCtx, in privKey) (string, error) {
				n, ok, err := backend.TableOf(ctx, privNotes).Get(in.Key)
				if err != nil || !ok {
					return "", fmt.Errorf("no note %s: %v", in.Key, err)
				}
				sum := "summary of " + n.Text
				return sum, backend.Mutate(ctx, privSetSum, privSave{Key: in.Key, Text: sum})
			}),
		},
	}
	return open(t, cfg, path, opts...)
}

func as(subject string) context.Context {
	return backend.WithIdentity(context.Background(), backend.Identity{Subject: subject})
}

func mustSave(t *testing.T, e *backend.Engine, ctx context.Context, key, text string) uint64 {
	t.Helper()
	m, err := e.Mutate(ctx, "saveNote", mustJSON(privSave{Key: key, Text: text}))
	if err != nil {
		t.Fatalf("saveNote %s: %v", key, err)
	}
	return m.Version
}

func rowKeys(rows []backend.Row) string {
	var ks []string
	for _, r := range rows {
		ks = append(ks, r.Key+"="+string(r.Value))
	}
	return strings.Join(ks, " ")
}

// TestPrivateRowsPerOwner: two users' rows of a private table under the
// same keys are different rows; each reads, scans (with prefixes and
// pages) and deletes only its own, under its plain keys; server code names
// the owner with WithOwner; a call with no owner is refused.
func TestPrivateRowsPerOwner(t *testing.T) {
	drivertest.Both(t, func(t *testing.T, drv func(*backend.Options)) {
		e := openPrivate(t, drv)
		alice, bob := as("alice"), as("bob")
		for _, k := range []string{"a", "b", "c"} {
			mustSave(t, e, alice, k, "alice "+k)
		}
		mustSave(t, e, bob, "a", "bob a")
		mustSave(t, e, bob, "b", "bob b")

		v, ok, _, err := e.Get(alice, "notes", "a")
		if err != nil || !ok || !strings.Contains(string(v), `"alice a"`) {
			t.Fatalf("alice's a = %s, %v, %v", v, ok, err)
		}
		v, ok, _, err = e.Get(bob, "notes", "a")
		if err != nil || !ok || !strings.Contains(string(v), `"bob a"`) {
			t.Fatalf("bob's a = %s, %v, %v", v, ok, err)
		}
		if _, ok, _, err := e.Get(bob, "notes", "c"); err != nil || ok {
			t.Fatalf("bob reads alice's c: %v, %v; want not found", ok, err)
		}
		rows, next, _, err := e.Scan(bob, "notes", backend.ScanOptions{})
		if err != nil || next != "" || rowKeys(rows) != `a={"text":"bob a"} b={"text":"bob b"}` {
			t.Fatalf("bob's scan = %s (next %q), %v", rowKeys(rows), next, err)
		}
		// Pages: the cursor is a plain key, and the last page ends.
		rows, next, _, err = e.Scan(alice, "notes", backend.ScanOptions{Limit: 2})
		if err != nil || next != "b" || len(rows) != 2 {
			t.Fatalf("alice's first page = %s (next %q), %v", rowKeys(rows), next, err)
		}
		rows, next, _, err = e.Scan(alice, "notes", backend.ScanOptions{Limit: 2, After: next})
		if err != nil || next != "" || rowKeys(rows) != `c={"text":"alice c"}` {
			t.Fatalf("alice's second page = %s (next %q), %v", rowKeys(rows), next, err)
		}
		rows, _, _, err = e.Scan(alice, "notes", backend.ScanOptions{Reverse: true, Prefix: "b"})
		if err != nil || rowKeys(rows) != `b={"text":"alice b"}` {
			t.Fatalf("alice's reverse scan of prefix b = %s, %v", rowKeys(rows), err)
		}
		rows, _, _, err = e.Scan(bob, "notes", backend.ScanOptions{Reverse: true})
		if err != nil || rowKeys(rows) != `b={"text":"bob b"} a={"text":"bob a"}` {
			t.Fatalf("bob's reverse scan = %s, %v", rowKeys(rows), err)
		}

		// Deleting is per owner too.
		if _, err := e.Mutate(bob, "deleteNote", mustJSON(privKey{Key: "a"})); err != nil {
			t.Fatal(err)
		}
		if _, ok, _, _ := e.Get(alice, "notes", "a"); !ok {
			t.Fatal("bob's delete of a removed alice's a")
		}

		// Server code names the owner; without one, nothing is read or written.
		v, ok, _, err = e.Get(backend.WithOwner(context.Background(), "alice"), "notes", "b")
		if err != nil || !ok || !strings.Contains(string(v), `"alice b"`) {
			t.Fatalf("WithOwner(alice) b = %s, %v, %v", v, ok, err)
		}
		_, _, _, err = e.Get(context.Background(), "notes", "a")
		if backend.KindOf(err) != backend.ErrForbidden || !strings.Contains(err.Error(), "backend.WithOwner") {
			t.Fatalf("Get with no owner: %v; want ErrForbidden naming WithOwner", err)
		}
		if _, err := e.Mutate(context.Background(), "saveNote", mustJSON(privSave{Key: "z", Text: "x"})); err == nil || !strings.Contains(err.Error(), "is private") {
			t.Fatalf("saveNote with no owner: %v; want a refusal", err)
		}
		if _, _, _, err := e.Scan(backend.WithOwner(context.Background(), ""), "notes", backend.ScanOptions{}); backend.KindOf(err) != backend.ErrForbidden {
			t.Fatalf("Scan with an empty owner: %v; want ErrForbidden", err)
		}
		if _, err := e.Owner(alice, "notes"); err != nil {
			t.Fatal(err)
		}
	})
}

// TestPrivateOwnersNeverCollide: owners and keys that a plain
// concatenation (or a separator) would run together name different rows.
func TestPrivateOwnersNeverCollide(t *testing.T) {
	e := openPrivate(t, func(*backend.Options) {})
	pairs := [][2]string{{"a", "bc"}, {"ab", "c"}, {"1:a", "x"}, {"1", ":ax"}, {"a/b", "c"}, {"a", "/bc"}, {"12", "3"}, {"1", "23"}}
	for i, p := range pairs {
		mustSave(t, e, as(p[0]), p[1], fmt.Sprint(i))
	}
	want := map[string][]string{}
	for i, p := range pairs {
		v, ok, _, err := e.Get(as(p[0]), "notes", p[1])
		if err != nil || !ok || string(v) != fmt.Sprintf(`{"text":"%d"}`, i) {
			t.Errorf("owner %q key %q = %s, %v, %v; want text %d", p[0], p[1], v, ok, err, i)
		}
		want[p[0]] = append(want[p[0]], p[1])
	}
	for owner, keys := range want {
		slices.Sort(keys)
		rows, _, _, err := e.Scan(as(owner), "notes", backend.ScanOptions{})
		var got []string
		for _, r := range rows {
			got = append(got, r.Key)
		}
		if err != nil || !slices.Equal(got, keys) {
			t.Errorf("owner %q's scan = %q, %v; want %q", owner, got, err, keys)
		}
	}
}

// TestPrivateFeedsPerOwner: a subscriber and ChangesSince see only their
// owner's changes of a private table, under plain keys.
func TestPrivateFeedsPerOwner(t *testing.T) {
	drivertest.Both(t, func(t *testing.T, drv func(*backend.Options)) {
		e := openPrivate(t, drv)
		alice, bob := as("alice"), as("bob")
		from := e.Version()
		all, err := e.Subscribe(alice, backend.Filter{Table: "notes"}, from)
		if err != nil {
			t.Fatal(err)
		}
		defer all.Close()
		one, err := e.Subscribe(bob, backend.Filter{Table: "notes", Key: "a"}, from)
		if err != nil {
			t.Fatal(err)
		}
		defer one.Close()
		mustSave(t, e, bob, "a", "bob a")
		mustSave(t, e, bob, "b", "bob b")
		va := mustSave(t, e, alice, "a", "alice a")
		if _, err := e.Subscribe(context.Background(), backend.Filter{Table: "notes"}, from); backend.KindOf(err) != backend.ErrForbidden {
			t.Fatalf("Subscribe with no owner: %v; want ErrForbidden", err)
		}

		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		ev, err := all.Next(ctx)
		if err != nil || ev.Version != va || len(ev.Changes) != 1 || ev.Changes[0].Key != "a" || string(ev.Changes[0].Value) != `{"text":"alice a"}` {
			t.Fatalf("alice's first event = %+v, %v; want only her a at %d", ev, err, va)
		}
		ev, err = one.Next(ctx)
		if err != nil || len(ev.Changes) != 1 || ev.Changes[0].Key != "a" || string(ev.Changes[0].Value) != `{"text":"bob a"}` {
			t.Fatalf("bob's event on a = %+v, %v; want his a", ev, err)
		}
		mustSave(t, e, bob, "a", "bob a2")
		ev, err = one.Next(ctx)
		if err != nil || len(ev.Changes) != 1 || string(ev.Changes[0].Value) != `{"text":"bob a2"}` {
			t.Fatalf("bob's next event on a = %+v, %v; want his a2 (not alice's a)", ev, err)
		}

		evs, err := e.ChangesSince(bob, backend.Filter{Table: "notes"}, from, 0)
		var got []string
		for _, ev := range evs {
			for _, c := range ev.Changes {
				got = append(got, c.Key+"="+string(c.Value))
			}
		}
		if err != nil || strings.Join(got, " ") != `a={"text":"bob a"} b={"text":"bob b"} a={"text":"bob a2"}` {
			t.Fatalf("bob's changes = %v, %v", got, err)
		}
		evs, err = e.ChangesSince(alice, backend.Filter{Table: "notes", Prefix: "a"}, from, 0)
		if err != nil || len(evs) != 1 || evs[0].Changes[0].Key != "a" || evs[0].Version != va {
			t.Fatalf("alice's changes of prefix a = %+v, %v", evs, err)
		}
	})
}

// TestPrivateActionsRunAsTheirCaller: an action enqueued by a caller's
// mutator reads and writes that caller's rows; a run feed shows a caller
// only its own runs.
func TestPrivateActionsRunAsTheirCaller(t *testing.T) {
	drivertest.Both(t, func(t *testing.T, drv func(*backend.Options)) {
		e := openPrivate(t, drv)
		alice, bob := as("alice"), as("bob")
		mustSave(t, e, alice, "n", "alice's text")
		mustSave(t, e, bob, "n", "bob's text")
		bobRuns, err := e.WatchRun(bob, "", e.Version())
		if err != nil {
			t.Fatal(err)
		}
		defer bobRuns.Close()
		m, err := e.Mutate(alice, "queueSummary", mustJSON(privKey{Key: "n"}))
		if err != nil || len(m.Runs) != 1 {
			t.Fatalf("queueSummary: %+v, %v", m, err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		run, ok, err := e.WaitRun(alice, m.Runs[0])
		if err != nil || !ok || run.Status != backend.RunSucceeded {
			t.Fatalf("alice's run = %+v, %v, %v", run, ok, err)
		}
		v, _, _, _ := e.Get(alice, "notes", "n")
		if !strings.Contains(string(v), `"summary":"summary of alice's text"`) {
			t.Fatalf("alice's note after the run = %s; want her text summarized", v)
		}
		if v, _, _, _ := e.Get(bob, "notes", "n"); strings.Contains(string(v), "summary") {
			t.Fatalf("bob's note after alice's run = %s; want it untouched", v)
		}
		// Bob's run feed shows his run, never alice's.
		mb, err := e.Mutate(bob, "queueSummary", mustJSON(privKey{Key: "n"}))
		if err != nil {
			t.Fatal(err)
		}
		for {
			ev, err := bobRuns.Next(ctx)
			if err != nil {
				t.Fatalf("bob's run feed: %v (waiting for his run %s)", err, mb.Runs[0])
			}
			for _, c := range ev.Changes {
				if c.Key != mb.Runs[0] {
					t.Fatalf("bob's run feed named run %s, not his", c.Key)
				}
			}
			if len(ev.Changes) > 0 {
				break
			}
		}
		if _, ok, _ := e.Run(bob, m.Runs[0]); ok {
			t.Fatal("bob reads alice's run")
		}
		// Server code enqueues for bob: the run works on bob's rows.
		ms, err := e.Mutate(backend.WithOwner(context.Background(), "bob"), "queueSummary", mustJSON(privKey{Key: "n"}))
		if err != nil {
			t.Fatal(err)
		}
		if run, ok, err := e.WaitRun(ctx, ms.Runs[0]); err != nil || !ok || run.Status != backend.RunSucceeded {
			t.Fatalf("the server's run for bob = %+v, %v, %v", run, ok, err)
		}
		if v, _, _, _ := e.Get(bob, "notes", "n"); !strings.Contains(string(v), `"summary":"summary of bob's text"`) {
			t.Fatalf("bob's note after the server's run for him = %s; want his text summarized", v)
		}
	})
}

// TestPrivatePushesPerCaller: a signed-in caller's push records are its
// own: another user pushing under the same client id neither sees its
// state nor makes its pushes duplicates.
func TestPrivatePushesPerCaller(t *testing.T) {
	e := openPrivate(t, func(*backend.Options) {})
	alice, bob := as("alice"), as("bob")
	if _, err := e.Mutate(alice, "saveNote", mustJSON(privSave{Key: "k", Text: "a"}), backend.Once("c1", 7)); err != nil {
		t.Fatal(err)
	}
	if st, err := e.ClientState(bob, "c1"); err != nil || st.Seq != 0 {
		t.Fatalf("bob's state of c1 = %+v, %v; want none", st, err)
	}
	m, err := e.Mutate(bob, "saveNote", mustJSON(privSave{Key: "k", Text: "b"}), backend.Once("c1", 1))
	if err != nil || m.Duplicate {
		t.Fatalf("bob's push 1 on c1 = %+v, %v; want applied", m, err)
	}
	if st, err := e.ClientState(alice, "c1"); err != nil || st.Seq != 7 {
		t.Fatalf("alice's state of c1 = %+v, %v; want seq 7", st, err)
	}
}

// TestPrivateDamagedRowNamesOnlyTheKey: a damaged row of a private table
// is named to its owner by the key the owner knows, never by the stored
// key that holds the owner's subject.
func TestPrivateDamagedRowNamesOnlyTheKey(t *testing.T) {
	path := filepath.Join(t.TempDir(), "priv.db")
	const marker = "victim-text-0123456789"
	e := openPrivateAt(t, path)
	mustSave(t, e, as("alice"), "victim", marker)
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	damageRow(t, path, marker)
	e = openPrivateAt(t, path, func(o *backend.Options) { o.AllowDamagedRows = true })
	_, _, _, err := e.Get(as("alice"), "notes", "victim")
	if backend.KindOf(err) != backend.ErrDamaged || !strings.Contains(err.Error(), `"victim"`) || strings.Contains(err.Error(), "alice") {
		t.Fatalf("Get of alice's damaged row: %v; want ErrDamaged naming \"victim\" and not alice", err)
	}
}

// TestPrivateTableOf: a mutator reaches another user's rows by naming the
// owner (Table.Of); an owner no row may have is refused.
func TestPrivateTableOf(t *testing.T) {
	e := openPrivate(t, func(*backend.Options) {})
	mustSave(t, e, as("alice"), "n", "for bob")
	if _, err := e.Mutate(as("alice"), "shareNote", mustJSON(privSave{Key: "n", Text: "bob"})); err != nil {
		t.Fatal(err)
	}
	if v, ok, _, err := e.Get(as("bob"), "notes", "n"); err != nil || !ok || !strings.Contains(string(v), "for bob") {
		t.Fatalf("bob's n after alice shared it = %s, %v, %v", v, ok, err)
	}
	if _, err := e.Mutate(as("alice"), "shareNote", mustJSON(privSave{Key: "n", Text: ""})); backend.KindOf(err) != backend.ErrHandler || !strings.Contains(err.Error(), "empty owner") {
		t.Fatalf("sharing with an empty owner: %v; want the handler's refusal naming the empty owner", err)
	}
}

// TestPrivateAcrossReplicas: on PostgreSQL, two engines sharing the data
// keep users apart: each owner's write through one replica reaches that
// owner's feed on the other, and only that owner's.
func TestPrivateAcrossReplicas(t *testing.T) {
	drv := drivertest.Postgres(t)
	one, two := openPrivate(t, drv), openPrivate(t, drv)
	from := two.Version()
	alice, err := two.Subscribe(as("alice"), backend.Filter{Table: "notes"}, from)
	if err != nil {
		t.Fatal(err)
	}
	defer alice.Close()
	mustSave(t, one, as("bob"), "k", "bob's")
	va := mustSave(t, one, as("alice"), "k", "alice's")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	ev, err := alice.Next(ctx)
	if err != nil || ev.Version != va || len(ev.Changes) != 1 || ev.Changes[0].Key != "k" || string(ev.Changes[0].Value) != `{"text":"alice's"}` {
		t.Fatalf("alice's feed on the other replica: %+v, %v; want only her write at %d", ev, err, va)
	}
	v, ok, _, err := two.Get(as("bob"), "notes", "k")
	if err != nil || !ok || string(v) != `{"text":"bob's"}` {
		t.Fatalf("bob's k on the other replica = %s, %v, %v", v, ok, err)
	}
}
