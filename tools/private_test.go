package tools_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/mcp"

	"github.com/mcp-sync/mcp-sync/backend"
	"github.com/mcp-sync/mcp-sync/internal/testissuer"
	"github.com/mcp-sync/mcp-sync/schema"
	"github.com/mcp-sync/mcp-sync/tools"
	"github.com/mcp-sync/mcp-sync/tools/auth"
	"github.com/mcp-sync/mcp-sync/wire"
)

// The private-table app of these tests: each user's notes are their own.
type PrivNote struct {
	Text    string `json:"text"`
	Summary string `json:"summary,omitempty"`
}

type PrivSave struct {
	Key  string `json:"key" jsonschema:"minLength=1"`
	Text string `json:"text"`
}

type PrivKey struct {
	Key string `json:"key" jsonschema:"minLength=1"`
}

var (
	privNotes     = schema.Table[PrivNote]("notes", schema.Private())
	privSaveNote  = schema.Mutator[PrivSave]("saveNote", "Save a note")
	privDelete    = schema.Mutator[PrivKey]("deleteNote", "Delete a note")
	privSummarize = schema.Mutator[PrivKey]("summarizeLater", "Enqueue summarizeNote")
	privAction    = schema.Action[PrivKey, string]("summarizeNote", "Summarize a note")
	privApp       = schema.MustDefine(1, privNotes, privSaveNote, privDelete, privSummarize, privAction)
)

// servePrivate serves the private-table app behind a test issuer and
// returns the base URL, the engine and a function giving a user's token.
func servePrivate(t *testing.T) (string, *backend.Engine, func(sub string) string) {
	t.Helper()
	return servePrivateGated(t, nil)
}

// servePrivateGated is servePrivate whose summarizeNote of a key starting
// with "slow" waits until gate is closed.
func servePrivateGated(t *testing.T, gate chan struct{}) (string, *backend.Engine, func(sub string) string) {
	t.Helper()
	cfg := backend.Config{
		Schema: privApp,
		Mutators: []backend.MutatorImpl{
			backend.Mutator(privSaveNote, func(ctx *backend.MutatorCtx, in PrivSave) error {
				return backend.TableOf(ctx, privNotes).Set(in.Key, PrivNote{Text: in.Text})
			}),
			backend.Mutator(privDelete, func(ctx *backend.MutatorCtx, in PrivKey) error {
				return backend.TableOf(ctx, privNotes).Delete(in.Key)
			}),
			backend.Mutator(privSummarize, func(ctx *backend.MutatorCtx, in PrivKey) error {
				_, err := backend.Enqueue(ctx, privAction, in)
				return err
			}),
		},
		Actions: []backend.ActionImpl{
			backend.Action(privAction, func(ctx *backend.ActionCtx, in PrivKey) (string, error) {
				if strings.HasPrefix(in.Key, "slow") && gate != nil {
					select {
					case <-gate:
					case <-ctx.Done():
						return "", ctx.Err()
					}
				}
				n, ok, err := backend.TableOf(ctx, privNotes).Get(in.Key)
				if err != nil || !ok {
					return "", fmt.Errorf("no note %s", in.Key)
				}
				return "summary of " + n.Text, nil
			}),
		},
	}
	eng, err := backend.Open(cfg, backend.Options{Path: filepath.Join(t.TempDir(), "priv.db"), Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { eng.Close() })
	is, err := testissuer.New()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(is.Close)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + ln.Addr().String()
	resource := base + tools.PathStreamable
	v, err := auth.New(auth.Config{Issuer: is.URL, Resource: resource})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := tools.New(eng, tools.Options{Logger: quietLogger(), Auth: v})
	if err != nil {
		t.Fatal(err)
	}
	serveOn(t, srv, ln)
	token := func(sub string) string {
		tok, err := is.Sign(testissuer.Token{Audience: []string{resource}, Subject: sub, ClientID: "app-" + sub})
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	return base, eng, token
}

// structuredAs decodes a tool result's structured content into v.
func structuredAs(t *testing.T, res *mcp.CallToolResult, v any) {
	t.Helper()
	if res.IsError {
		t.Fatalf("tool error: %s", text(res))
	}
	if err := json.Unmarshal([]byte(text(res)), v); err != nil {
		t.Fatalf("decode %s: %v", text(res), err)
	}
}

// TestPrivateTableSurfaces: over every transport and era, two users of a
// private table see only their own rows through the mutators, the read
// tools, resources/read, completions, _sync_changes, run records and
// notifications (with the changes they carry); another user's row reads
// exactly like a missing one.
func TestPrivateTableSurfaces(t *testing.T) {
	base, _, token := servePrivate(t)
	for _, e := range eras {
		t.Run(e.name, func(t *testing.T) {
			key := func(s string) string { return e.name + "-" + s }
			alice, an := connect(t, base, e, map[string]string{"Authorization": "Bearer " + token("alice")}, wantsChanges())
			bob, bn := connect(t, base, e, map[string]string{"Authorization": "Bearer " + token("bob")}, wantsChanges())
			shared, onlyAlice := key("shared"), key("alice")
			subscribe(t, alice, e, wire.TableURI("notes"), wire.RowURI("notes", shared))
			subscribe(t, bob, e, wire.TableURI("notes"), wire.RowURI("notes", shared))
			time.Sleep(100 * time.Millisecond) // a listen stream's subscriptions start with its request

			for _, w := range []struct {
				c        *client.Client
				key, txt string
			}{{alice, shared, "alice's"}, {bob, shared, "bob's"}, {alice, onlyAlice, "alice only"}} {
				if res := call(t, w.c, "saveNote", map[string]any{"key": w.key, "text": w.txt}); res.IsError {
					t.Fatalf("saveNote: %s", text(res))
				}
			}

			// get_row: each its own; alice's key reads to bob as missing.
			var row wire.GetRowOut
			structuredAs(t, call(t, bob, wire.ToolGetRow, map[string]any{"table": "notes", "key": shared}), &row)
			if !row.Found || !strings.Contains(string(row.Value), `"bob's"`) {
				t.Fatalf("bob's %s = %+v", shared, row)
			}
			var other wire.GetRowOut
			structuredAs(t, call(t, bob, wire.ToolGetRow, map[string]any{"table": "notes", "key": onlyAlice}), &other)
			if other.Found || other.Value != nil {
				t.Fatalf("bob reads alice's %s: %+v", onlyAlice, other)
			}
			// list_rows: only bob's, under plain keys.
			var page wire.ListRowsOut
			structuredAs(t, call(t, bob, wire.ToolListRows, map[string]any{"table": "notes", "prefix": e.name}), &page)
			if len(page.Rows) != 1 || page.Rows[0].Key != shared || !strings.Contains(string(page.Rows[0].Value), "bob's") {
				t.Fatalf("bob's list_rows = %+v", page)
			}
			// resources/read: alice's row's error for bob is a missing row's.
			read := func(c *client.Client, uri string) (string, error) {
				res, err := c.ReadResource(context.Background(), mcp.ReadResourceRequest{Params: mcp.ReadResourceParams{URI: uri}})
				if err != nil {
					return "", err
				}
				return res.Contents[0].(mcp.TextResourceContents).Text, nil
			}
			if body, err := read(alice, wire.RowURI("notes", onlyAlice)); err != nil || !strings.Contains(body, "alice only") {
				t.Fatalf("alice reads her row: %s, %v", body, err)
			}
			_, hidden := read(bob, wire.RowURI("notes", onlyAlice))
			if body, err := read(bob, wire.TableURI("notes")); err != nil || strings.Contains(body, "alice") {
				t.Fatalf("bob reads the table resource: %s, %v", body, err)
			}
			// resources/list says the table is private.
			rl, err := bob.ListResources(context.Background(), mcp.ListResourcesRequest{})
			if err != nil || len(rl.Resources) != 1 || !strings.Contains(rl.Resources[0].Description, "private") {
				t.Fatalf("resources/list = %+v, %v; want the notes table, described as private", rl, err)
			}
			// Completions of {key}: only bob's keys.
			cr, err := bob.Complete(context.Background(), mcp.CompleteRequest{Params: mcp.CompleteParams{
				Ref:      mcp.ResourceReference{Type: "ref/resource", URI: "mcp-sync://table/{table}/{key}"},
				Argument: mcp.CompleteArgument{Name: "key", Value: e.name}, Context: mcp.CompleteContext{Arguments: map[string]string{"table": "notes"}}}})
			if err != nil || len(cr.Completion.Values) != 1 || cr.Completion.Values[0] != shared {
				t.Fatalf("bob's completions of %s: %+v, %v", e.name, cr, err)
			}
			// _sync_changes: only bob's write.
			var ch wire.SyncChangesOut
			structuredAs(t, call(t, bob, wire.ToolSyncChanges, map[string]any{"table": "notes", "prefix": e.name, "after": 0}), &ch)
			if len(ch.Events) != 1 || ch.Events[0].Changes[0].Key != shared || !strings.Contains(string(ch.Events[0].Changes[0].Value), "bob's") {
				t.Fatalf("bob's _sync_changes = %+v", ch)
			}

			// Notifications: each hears of its own writes only, with its values.
			for _, tc := range []struct {
				n    *notes
				who  string
				want string
			}{{an, "alice", "alice only"}, {bn, "bob", "bob's"}} {
				if !waitFor(testWait, func() bool {
					for _, no := range carriedNotices(t, tc.n) {
						if strings.Contains(no.raw, tc.want) {
							return true
						}
					}
					return false
				}) {
					t.Fatalf("%s never heard of its own write %q", tc.who, tc.want)
				}
			}
			quiet(an, 200*time.Millisecond)
			quiet(bn, 200*time.Millisecond)
			for _, no := range carriedNotices(t, an) {
				if strings.Contains(no.raw, "bob") {
					t.Fatalf("alice was told of bob's write: %s %s", no.uri, no.raw)
				}
			}
			for _, no := range carriedNotices(t, bn) {
				if strings.Contains(no.raw, "alice") || strings.Contains(no.uri, onlyAlice) {
					t.Fatalf("bob was told of alice's write: %s %s", no.uri, no.raw)
				}
			}

			// Runs: alice's run reads to bob as one that does not exist.
			var out struct{ Runs []string }
			structuredAs(t, call(t, alice, "summarizeLater", map[string]any{"key": shared}), &out)
			if len(out.Runs) != 1 {
				t.Fatalf("summarizeLater enqueued %v", out.Runs)
			}
			var run wire.Run
			if !waitFor(testWait, func() bool {
				structuredAs(t, call(t, alice, wire.ToolGetRun, map[string]any{"id": out.Runs[0]}), &run)
				return run.Status == wire.RunStatus(backend.RunSucceeded)
			}) {
				t.Fatalf("alice's run did not succeed: %+v", run)
			}
			if !strings.Contains(string(run.Output), "summary of alice's") {
				t.Fatalf("alice's run summarized %s; want her own note", run.Output)
			}
			theirs := call(t, bob, wire.ToolGetRun, map[string]any{"id": out.Runs[0]})
			if !theirs.IsError || text(theirs) != "no action run with id "+backend.Short(out.Runs[0]) {
				t.Fatalf("bob's get_run of alice's run: %s", text(theirs))
			}

			// Deleting her row makes it missing for real: bob's error is unchanged.
			if res := call(t, alice, "deleteNote", map[string]any{"key": onlyAlice}); res.IsError {
				t.Fatal(text(res))
			}
			_, missing := read(bob, wire.RowURI("notes", onlyAlice))
			if hidden == nil || missing == nil || hidden.Error() != missing.Error() {
				t.Fatalf("bob reading alice's row: %v; reading a missing one: %v; want the same error", hidden, missing)
			}
		})
	}
}

// TestPrivateRunNotificationsPerCaller: a run's notifications reach its
// caller's subscription and never another signed-in user's, even one who
// subscribed to the run's URI.
func TestPrivateRunNotificationsPerCaller(t *testing.T) {
	for _, e := range eras[:2] {
		t.Run(e.name, func(t *testing.T) {
			gate := make(chan struct{})
			base, _, token := servePrivateGated(t, gate)
			alice, an := connect(t, base, e, map[string]string{"Authorization": "Bearer " + token("alice")})
			bob, bn := connect(t, base, e, map[string]string{"Authorization": "Bearer " + token("bob")})
			if res := call(t, alice, "saveNote", map[string]any{"key": "slow-" + e.name, "text": "t"}); res.IsError {
				t.Fatal(text(res))
			}
			var out struct{ Runs []string }
			structuredAs(t, call(t, alice, "summarizeLater", map[string]any{"key": "slow-" + e.name}), &out)
			uri := wire.RunURI(out.Runs[0])
			subscribe(t, alice, e, uri)
			subscribe(t, bob, e, uri)
			time.Sleep(200 * time.Millisecond) // a listen stream's subscriptions start with its request
			close(gate)
			if !waitFor(testWait, func() bool { return count(updatedURIs(an), uri) > 0 }) {
				t.Fatalf("alice was never told of her run %s", uri)
			}
			quiet(bn, 200*time.Millisecond)
			if n := count(updatedURIs(bn), uri); n > 0 {
				t.Fatalf("bob was told %d times of alice's run", n)
			}
		})
	}
}
