package client_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mcp-sync/mcp-sync/backend"
	"github.com/mcp-sync/mcp-sync/client"
	"github.com/mcp-sync/mcp-sync/internal/testissuer"
	"github.com/mcp-sync/mcp-sync/schema"
	"github.com/mcp-sync/mcp-sync/tools"
	"github.com/mcp-sync/mcp-sync/tools/auth"
)

// The private-notes app of the client's per-user test.
type UserNote struct {
	Text string `json:"text"`
}

type UserNoteIn struct {
	Key  string `json:"key" jsonschema:"minLength=1"`
	Text string `json:"text"`
}

var (
	usersNotes  = schema.Table[UserNote]("notes", schema.Private())
	usersSave   = schema.Mutator[UserNoteIn]("saveNote", "Save a note")
	usersDelete = schema.Mutator[UserNoteIn]("deleteNote", "Delete a note")
	usersSchema = schema.MustDefine(1, usersNotes, usersSave, usersDelete)
)

func usersConfig() backend.Config {
	return backend.Config{Schema: usersSchema, Mutators: []backend.MutatorImpl{
		backend.Mutator(usersSave, func(ctx *backend.MutatorCtx, in UserNoteIn) error {
			return backend.TableOf(ctx, usersNotes).Set(in.Key, UserNote{Text: in.Text})
		}),
		backend.Mutator(usersDelete, func(ctx *backend.MutatorCtx, in UserNoteIn) error {
			return backend.TableOf(ctx, usersNotes).Delete(in.Key)
		}),
	}}
}

// TestPrivateReplicaPerUser: alice's replica (streamable HTTP) and bob's
// (SSE) of the private notes each hold only their own user's rows (both
// have a row "a"; they are different rows), their optimistic mutations are
// confirmed under their own user, and bob's watches of the table and of
// row a show him none of alice's writes.
func TestPrivateReplicaPerUser(t *testing.T) {
	is, err := testissuer.New()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(is.Close)
	const resource = "https://notes.example/mcp"
	eng, err := backend.Open(usersConfig(), backend.Options{Path: t.TempDir() + "/notes.db", Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { eng.Close() })
	v, err := auth.New(auth.Config{Issuer: is.URL, Resource: resource, Scopes: []string{"mcp"}})
	if err != nil {
		t.Fatal(err)
	}
	ts, err := tools.New(eng, tools.Options{Logger: quiet(), Auth: v})
	if err != nil {
		t.Fatal(err)
	}
	url, stop := serveTools(t, ts)
	t.Cleanup(func() { stop(); ts.Close() })
	ctx := testCtx(t)
	dialAs := func(sub string, url string, legacy bool) *client.Conn {
		tok, err := is.Sign(testissuer.Token{Audience: []string{resource}, Subject: sub, Scopes: []string{"mcp"}})
		if err != nil {
			t.Fatal(err)
		}
		c, err := client.DialHTTP(ctx, url, client.Options{Token: tok, Legacy: legacy})
		if err != nil {
			t.Fatalf("dialling as %s: %v", sub, err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	sse := strings.TrimSuffix(url, tools.PathStreamable) + tools.PathSSE
	ac, bc := dialAs("alice", url, false), dialAs("bob", sse, true)
	newReplica := func(c *client.Conn) *client.Replica {
		r, err := client.NewReplica(ctx, c, usersConfig(), client.ReplicaOptions{Logger: quiet()})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(r.Close)
		return r
	}
	ra, rb := newReplica(ac), newReplica(bc)
	bw, err := client.Watch(ctx, dialAs("bob", url, false), usersNotes, client.Selector{}, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer bw.Close()
	if ev, err := bw.Next(ctx); err != nil || !ev.Resync || len(ev.Changes) != 0 {
		t.Fatalf("bob's watch: first event %+v, %v; want an empty snapshot", ev, err)
	}
	brw, err := client.Watch(ctx, dialAs("bob", url, true), usersNotes, client.Selector{Key: "a"}, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer brw.Close()
	if ev, err := brw.Next(ctx); err != nil || !ev.Resync || len(ev.Changes) != 0 {
		t.Fatalf("bob's watch of row a: first event %+v, %v; want an empty snapshot", ev, err)
	}

	mutate := func(r *client.Replica, who string, d schema.MutatorDef[UserNoteIn], in UserNoteIn) {
		t.Helper()
		p, err := client.MutateLocal(ctx, r, d, in)
		if err != nil {
			t.Fatalf("%s's %s %+v: %v", who, d.Name(), in, err)
		}
		if err := p.Wait(ctx); err != nil {
			t.Fatalf("%s's %s %+v was not confirmed: %v", who, d.Name(), in, err)
		}
	}
	mutate(ra, "alice", usersSave, UserNoteIn{Key: "a", Text: "ALICE a"})
	mutate(ra, "alice", usersSave, UserNoteIn{Key: "a-only", Text: "ALICE a-only"})
	mutate(rb, "bob", usersSave, UserNoteIn{Key: "a", Text: "BOB a"})
	mutate(rb, "bob", usersSave, UserNoteIn{Key: "b-only", Text: "BOB b-only"})
	mutate(ra, "alice", usersSave, UserNoteIn{Key: "a", Text: "ALICE a again"})
	mutate(ra, "alice", usersDelete, UserNoteIn{Key: "a-only"})
	mutate(ra, "alice", usersSave, UserNoteIn{Key: "a-only", Text: "ALICE a-only again"})

	want := map[*client.Replica]map[string]string{
		ra: {"a": "ALICE a again", "a-only": "ALICE a-only again"},
		rb: {"a": "BOB a", "b-only": "BOB b-only"},
	}
	for r, w := range want {
		name := map[*client.Replica]string{ra: "alice", rb: "bob"}[r]
		var got map[string]string
		if !waitUntil(testWait, func() bool {
			rows, err := r.Scan("notes", "")
			if err != nil {
				t.Fatal(err)
			}
			got = map[string]string{}
			for _, row := range rows {
				got[row.Key] = string(row.Value)
			}
			return len(got) == len(w) && func() bool {
				for k, txt := range w {
					if !strings.Contains(got[k], `"`+txt+`"`) {
						return false
					}
				}
				return true
			}()
		}) {
			t.Errorf("%s's replica holds %v, want its own rows %v", name, got, w)
		}
		n, ok, err := client.Get(r, usersNotes, "a")
		if err != nil || !ok || n.Text != w["a"] {
			t.Errorf("%s's replica: Get a = %+v %v %v, want %q", name, n, ok, err, w["a"])
		}
	}
	// readUntil reads w's events, as "key=text", until want is among them.
	readUntil := func(w *client.Watcher[UserNote], what string, seen []string, want func([]string) bool) []string {
		t.Helper()
		for !want(seen) {
			wctx, cancel := context.WithTimeout(context.Background(), testWait)
			ev, err := w.Next(wctx)
			cancel()
			if err != nil {
				t.Fatalf("%s after %v: %v", what, seen, err)
			}
			for _, ch := range ev.Changes {
				seen = append(seen, fmt.Sprintf("%s=%s", ch.Key, ch.Value.Text))
			}
		}
		return seen
	}
	has := func(s string) func([]string) bool {
		return func(seen []string) bool { return slices.Contains(seen, s) }
	}
	// Bob's watch saw only his two writes, and nothing of alice's.
	seen := readUntil(bw, "bob's watch", nil, func(seen []string) bool { return len(seen) >= 2 })
	mutate(rb, "bob", usersSave, UserNoteIn{Key: "b-last", Text: "BOB b-last"})
	seen = readUntil(bw, "bob's watch", seen, has("b-last=BOB b-last"))
	if w := []string{"a=BOB a", "b-only=BOB b-only", "b-last=BOB b-last"}; !slices.Equal(seen, w) {
		t.Errorf("bob's watch saw %v, want only his own writes %v", seen, w)
	}
	// His watch of row a: his one write to it, then (after alice's writes
	// of her a) his next.
	mutate(rb, "bob", usersSave, UserNoteIn{Key: "a", Text: "BOB a last"})
	rowSeen := readUntil(brw, "bob's watch of row a", nil, has("a=BOB a last"))
	if w := []string{"a=BOB a", "a=BOB a last"}; !slices.Equal(rowSeen, w) {
		t.Errorf("bob's watch of row a saw %v, want only his own writes %v", rowSeen, w)
	}
}

// waitUntil polls cond until it holds or d passes.
func waitUntil(d time.Duration, cond func() bool) bool {
	for deadline := time.Now().Add(d); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if cond() {
			return true
		}
	}
	return cond()
}
