package client_test

import (
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/mcp-sync/mcp-sync/backend"
	"github.com/mcp-sync/mcp-sync/client"
	"github.com/mcp-sync/mcp-sync/internal/testissuer"
	"github.com/mcp-sync/mcp-sync/schema"
	"github.com/mcp-sync/mcp-sync/tools"
	"github.com/mcp-sync/mcp-sync/tools/auth"
)

type privNote struct {
	Text string `json:"text"`
}

type privSave struct {
	Key  string `json:"key"`
	Text string `json:"text"`
}

var (
	privNotes = schema.Table[privNote]("notes", schema.Private())
	privSet   = schema.Mutator[privSave]("saveNote", "save a note")
	privApp   = schema.MustDefine(1, privNotes, privSet)
)

func privConfig() backend.Config {
	return backend.Config{Schema: privApp, Mutators: []backend.MutatorImpl{
		backend.Mutator(privSet, func(ctx *backend.MutatorCtx, in privSave) error {
			return backend.TableOf(ctx, privNotes).Set(in.Key, privNote{Text: in.Text})
		}),
	}}
}

// TestReplicaOfAPrivateTable: two users' replicas of a private table each
// hold their own rows only, under the same keys: their optimistic writes
// are confirmed as their own, and a server write for one reaches that
// user's replica and not the other's.
func TestReplicaOfAPrivateTable(t *testing.T) {
	eng, err := backend.Open(privConfig(), backend.Options{Path: filepath.Join(t.TempDir(), "srv.db"), Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { eng.Close() })
	is, err := testissuer.New()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(is.Close)
	// The resource URL names the server's address, which the handler
	// needs first: start it unstarted.
	hs := httptest.NewUnstartedServer(nil)
	resource := "http://" + hs.Listener.Addr().String() + tools.PathStreamable
	v, err := auth.New(auth.Config{Issuer: is.URL, Resource: resource})
	if err != nil {
		t.Fatal(err)
	}
	ts, err := tools.New(eng, tools.Options{Logger: quiet(), Auth: v})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ts.Close)
	hs.Config.Handler = ts.HTTPHandler(tools.HTTPOptions{})
	hs.Start()
	t.Cleanup(hs.Close)

	ctx := testCtx(t)
	open := func(sub string) *client.Replica {
		tok, err := is.Sign(testissuer.Token{Audience: []string{resource}, Subject: sub})
		if err != nil {
			t.Fatal(err)
		}
		c, err := client.DialHTTP(ctx, resource, client.Options{Token: tok})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		r, err := client.NewReplica(ctx, c, privConfig(), client.ReplicaOptions{Logger: quiet()})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(r.Close)
		return r
	}
	// A row alice has before her replica starts is in its first snapshot.
	if _, err := eng.Mutate(backend.WithOwner(ctx, "alice"), "saveNote", []byte(`{"key":"old","text":"alice's old"}`)); err != nil {
		t.Fatal(err)
	}
	alice, bob := open("alice"), open("bob")
	for _, w := range []struct {
		r    *client.Replica
		text string
	}{{alice, "alice's"}, {bob, "bob's"}} {
		p, err := client.MutateLocal(ctx, w.r, privSet, privSave{Key: "a", Text: w.text})
		if err != nil {
			t.Fatal(err)
		}
		if err := p.Wait(ctx); err != nil {
			t.Fatalf("%s's write not confirmed: %v", w.text, err)
		}
	}
	// Server code writes for bob.
	if _, err := eng.Mutate(backend.WithOwner(ctx, "bob"), "saveNote", []byte(`{"key":"b","text":"bob's b"}`)); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(testWait)
	for {
		b, ok, _ := client.Get(bob, privNotes, "b")
		if ok && b.Text == "bob's b" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("bob's replica never got the server's write for him (has %+v, %v)", b, ok)
		}
		time.Sleep(10 * time.Millisecond)
	}
	settle(t, ctx, alice, "alice")
	settle(t, ctx, bob, "bob")
	want := map[*client.Replica]map[string]string{
		alice: {"a": "alice's", "old": "alice's old"},
		bob:   {"a": "bob's", "b": "bob's b"},
	}
	for r, rows := range want {
		got, err := r.Scan("notes", "")
		if err != nil {
			t.Fatal(err)
		}
		have := map[string]string{}
		for _, row := range got {
			have[row.Key] = string(row.Value)
		}
		if len(have) != len(rows) {
			t.Errorf("a replica holds %v; want %v", have, rows)
		}
		for k, text := range rows {
			if n, ok, _ := client.Get(r, privNotes, k); !ok || n.Text != text {
				t.Errorf("replica row %s = %+v (%v); want %q (all: %v)", k, n, ok, text, have)
			}
		}
	}
}
