package tools_test

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mark3labs/mcp-go/client"

	"github.com/mcp-sync/mcp-sync/backend"
	"github.com/mcp-sync/mcp-sync/schema"
	"github.com/mcp-sync/mcp-sync/wire"
)

// The audit tests' app: a client table, a server-only one every write
// also touches, a mutator, one that enqueues a run, and the run's action.
type Doc struct {
	Text string `json:"text"`
}

type DocIn struct {
	ID   string `json:"id" jsonschema:"minLength=1"`
	Text string `json:"text"`
}

var (
	docsTable  = schema.Table[Doc]("docs")
	stampTable = schema.Table[Doc]("stamps", schema.ServerOnly())
	putDoc     = schema.Mutator[DocIn]("putDoc", "Put a doc")
	queueDoc   = schema.Mutator[DocIn]("queueDoc", "Have a run put a doc")
	writeDoc   = schema.Action[DocIn, Doc]("writeDoc", "Put a doc from a run")
	auditApp   = schema.MustDefine(1, docsTable, stampTable, putDoc, queueDoc, writeDoc)
)

func newAuditApp(t testing.TB) *backend.Engine {
	t.Helper()
	cfg := backend.Config{
		Schema: auditApp,
		Mutators: []backend.MutatorImpl{
			backend.Mutator(putDoc, func(ctx *backend.MutatorCtx, in DocIn) error {
				if err := backend.TableOf(ctx, docsTable).Set(in.ID, Doc{Text: in.Text}); err != nil {
					return err
				}
				return backend.TableOf(ctx, stampTable).Set("last", Doc{Text: in.ID})
			}),
			backend.Mutator(queueDoc, func(ctx *backend.MutatorCtx, in DocIn) error {
				_, err := backend.Enqueue(ctx, writeDoc, in)
				return err
			}),
		},
		Actions: []backend.ActionImpl{
			backend.Action(writeDoc, func(ctx *backend.ActionCtx, in DocIn) (Doc, error) {
				return Doc{Text: in.Text}, backend.Mutate(ctx, putDoc, in)
			}),
		},
	}
	eng, err := backend.Open(cfg, backend.Options{Path: filepath.Join(t.TempDir(), "audit.db"), Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { eng.Close() })
	return eng
}

// serveAudit serves the audit app behind a test issuer, as serveOAuth does
// the OAuth app.
func serveAudit(t testing.TB) *oauthServer {
	t.Helper()
	return serveBehindIssuer(t, newAuditApp)
}

// listHistory reads c's whole history through list_history, a page of 3
// at a time.
func listHistory(t *testing.T, c *client.Client) ([]wire.HistoryEntry, string) {
	t.Helper()
	var all []wire.HistoryEntry
	var texts strings.Builder
	after := uint64(0)
	for range 1000 {
		res := call(t, c, wire.ToolListHistory, map[string]any{"after": after, "limit": 3})
		if res.IsError {
			t.Fatalf("list_history: %s", text(res))
		}
		texts.WriteString(text(res))
		var out wire.ListHistoryOut
		if err := json.Unmarshal([]byte(text(res)), &out); err != nil {
			t.Fatal(err)
		}
		all = append(all, out.Entries...)
		if out.Next == 0 {
			return all, texts.String()
		}
		after = out.Next
	}
	t.Fatal("list_history never returned its last page")
	return nil, ""
}

// TestAuditOverHTTPNamesEachCaller: two users with tokens from the test
// issuer write through tools, one directly, one through an enqueued run;
// list_history shows each only its own versions, naming its subject, OAuth
// client, session and tool (the run's: the run, its action and its
// caller), never the server-only table; a caller with the admin scope sees
// every version and every table. On each transport and protocol era.
func TestAuditOverHTTPNamesEachCaller(t *testing.T) {
	o := serveAudit(t)
	for _, e := range eras {
		t.Run(e.name, func(t *testing.T) {
			alice, _ := connect(t, o.base, e, map[string]string{"Authorization": "Bearer " + o.good(t, "alice-"+e.name)})
			bob, _ := connect(t, o.base, e, map[string]string{"Authorization": "Bearer " + o.good(t, "bob-"+e.name)})
			admin, _ := connect(t, o.base, e, map[string]string{"Authorization": "Bearer " + o.good(t, "root", backend.DefaultAuditAdminScope)})

			if res := call(t, alice, "putDoc", map[string]any{"id": "a-" + e.name, "text": "by alice"}); res.IsError {
				t.Fatalf("alice's putDoc: %s", text(res))
			}
			res := call(t, bob, "queueDoc", map[string]any{"id": "b-" + e.name, "text": "by bob's run"})
			var m wire.MutateOut
			if res.IsError || json.Unmarshal([]byte(text(res)), &m) != nil || len(m.Runs) != 1 {
				t.Fatalf("bob's queueDoc: %s", text(res))
			}
			if !waitFor(testWait, func() bool {
				run, ok, err := o.eng.Run(context.Background(), m.Runs[0])
				return err == nil && ok && run.Done()
			}) {
				t.Fatalf("run %s did not finish", m.Runs[0])
			}

			mine, raw := listHistory(t, alice)
			if len(mine) != 1 {
				t.Fatalf("alice's history holds %d entries, want her one write: %s", len(mine), raw)
			}
			h := mine[0]
			if h.Subject != "alice-"+e.name || h.ClientID != "app-alice-"+e.name || h.Tool != "putDoc" || h.Mutator != "putDoc" ||
				len(h.Changes) != 1 || h.Changes[0] != (wire.HistoryChange{Table: "docs", Key: "a-" + e.name, Op: "put"}) || h.Hidden != 1 {
				t.Fatalf("alice's entry: %+v", h)
			}
			if sid := alice.GetSessionId(); sid != "" && h.Session != sid {
				t.Errorf("alice's entry names session %q, her session is %q", h.Session, sid)
			} else if e.legacy && h.Session == "" {
				t.Errorf("alice's entry on a %s session names none", e.name)
			}
			if strings.Contains(raw, "stamps") {
				t.Errorf("alice's history names the server-only table: %s", raw)
			}

			bobs, raw := listHistory(t, bob)
			if len(bobs) != 2 || bobs[0].Tool != "queueDoc" || bobs[0].Subject != "bob-"+e.name || len(bobs[0].Changes) != 0 || bobs[0].Hidden != 2 {
				t.Fatalf("bob's history: %s; want his queueDoc (its run records hidden) and his run's write", raw)
			}
			if r := bobs[1]; r.Run != m.Runs[0] || r.Action != "writeDoc" || r.Mutator != "putDoc" || r.Subject != "bob-"+e.name ||
				r.ClientID != "app-bob-"+e.name || len(r.Changes) != 1 || r.Changes[0].Key != "b-"+e.name {
				t.Fatalf("bob's run's write: %+v, want run %s of writeDoc as bob", r, m.Runs[0])
			}
			if strings.Contains(raw, "stamps") || strings.Contains(raw, backend.RunsTable) {
				t.Errorf("bob's history names a table clients cannot read: %s", raw)
			}

			all, raw := listHistory(t, admin)
			if len(all) == 0 || all[len(all)-1].Version != o.eng.Version() || !strings.Contains(raw, "stamps") || !strings.Contains(raw, backend.RunsTable) {
				t.Fatalf("the admin's history ends at v%d of %d entries, want every version to v%d, every table named: %s",
					all[len(all)-1].Version, len(all), o.eng.Version(), raw)
			}
			for i := 1; i < len(all); i++ {
				if all[i].Version != all[i-1].Version+1 {
					t.Fatalf("the admin's history skips from v%d to v%d", all[i-1].Version, all[i].Version)
				}
			}
		})
	}
	auditNamesCallers(t, o.eng)
}

// auditNamesCallers fails t unless every version of eng that changed an
// app table names the caller that caused it (directly, or through the run
// it enqueued), read as server code does (the whole audit).
func auditNamesCallers(t testing.TB, eng *backend.Engine) {
	t.Helper()
	n := 0
	eachHistory(t, eng, func(h backend.HistoryEntry) {
		for _, c := range h.Changes {
			if !strings.HasPrefix(c.Table, ".") && h.Cause.Subject == "" {
				t.Errorf("v%d changed %s/%s and its audit entry names no caller: %+v", h.Version, c.Table, c.Key, h.Cause)
			}
		}
		n++
	})
	if n == 0 {
		t.Error("the audit holds no entry")
	}
}

// eachHistory calls fn with every entry of eng's audit, as server code
// (an admin) reads it, oldest first.
func eachHistory(t testing.TB, eng *backend.Engine, fn func(backend.HistoryEntry)) {
	t.Helper()
	after := uint64(0)
	for {
		page, next, err := eng.History(context.Background(), backend.HistoryOptions{After: after, Limit: 1000})
		if err != nil {
			t.Fatalf("reading the audit: %v", err)
		}
		for _, h := range page {
			fn(h)
		}
		if next == 0 {
			return
		}
		after = next
	}
}
