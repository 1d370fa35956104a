package tools_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/client/transport"
	"github.com/mark3labs/mcp-go/mcp"

	"github.com/mcp-sync/mcp-sync/backend"
	"github.com/mcp-sync/mcp-sync/schema"
	"github.com/mcp-sync/mcp-sync/storage"
	"github.com/mcp-sync/mcp-sync/storage/bolt"
	"github.com/mcp-sync/mcp-sync/tools"
	"github.com/mcp-sync/mcp-sync/wire"
)

// TestSessionCap: past MaxSessions a new session is refused (503 with the
// limit named, as real clients show it) on streamable HTTP and SSE; closing
// one makes room.
func TestSessionCap(t *testing.T) {
	a := newApp(t)
	srv, base := serveHTTP(t, a, tools.HTTPOptions{MaxSessions: 2})
	first, _ := connect(t, base, eras[1], nil) // legacy streamable HTTP
	connect(t, base, eras[2], nil)             // SSE
	if !waitFor(10*time.Second, func() bool { return srv.Stats().Sessions == 2 }) {
		t.Fatalf("sessions: %d, want 2", srv.Stats().Sessions)
	}

	resp := postJSON(t, base+tools.PathStreamable, "", initBody)
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
		t.Errorf("a third initialize: status %s, Retry-After %q; want 503 with Retry-After", resp.Status, resp.Header.Get("Retry-After"))
	}
	tr, err := transport.NewStreamableHTTP(base + tools.PathStreamable)
	if err != nil {
		t.Fatal(err)
	}
	//lint:ignore SA1019 the legacy protocol era is tested on purpose
	c := client.NewClient(tr, client.WithLegacyProtocolOnly())
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := c.Start(ctx); err != nil {
		t.Fatal(err)
	}
	req := mcp.InitializeRequest{}
	req.Params.ProtocolVersion = mcp.ProtocolVersion20251125
	_, err = c.Initialize(ctx, req)
	if err == nil || !strings.Contains(err.Error(), "maximum of 2 sessions") || !strings.Contains(err.Error(), "--max-sessions") {
		t.Errorf("mcp-go client's third initialize: want an error naming the limit, got %v", err)
	}
	c.Close()
	// mcp-go makes a session of a GET stream with an id it does not know.
	get, _ := http.NewRequest("GET", base+tools.PathStreamable, nil)
	get.Header.Set("Accept", "text/event-stream")
	get.Header.Set("Mcp-Session-Id", "made-up")
	get.Header.Set("MCP-Protocol-Version", "2025-11-25")
	if resp, err := http.DefaultClient.Do(get); err != nil {
		t.Fatal(err)
	} else {
		resp.Body.Close()
		if resp.StatusCode != http.StatusServiceUnavailable {
			t.Errorf("a GET stream with a made-up session id past the cap: %s, want 503", resp.Status)
		}
	}
	sse, err := http.Get(base + tools.PathSSE)
	if err != nil {
		t.Fatal(err)
	}
	sse.Body.Close()
	if sse.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("a third session on SSE: status %s, want 503", sse.Status)
	}
	// A modern client has no session: it is not counted and not refused.
	modern, _ := connect(t, base, eras[0], nil)
	if res := call(t, modern, "echo", map[string]any{"text": "hi"}); res.IsError {
		t.Errorf("a 2026-07-28 call with the sessions full: %s", text(res))
	}

	first.Close()
	if !waitFor(10*time.Second, func() bool { return srv.Stats().Sessions < 2 }) {
		t.Fatal("closing a session did not free its place")
	}
	connect(t, base, eras[1], nil)
}

// TestStreamsPerSession: a legacy session may hold MaxStreamsPerSession GET
// streams; one more gets 429 naming the limit, and closing one makes room.
func TestStreamsPerSession(t *testing.T) {
	a := newApp(t)
	_, base := serveHTTP(t, a, tools.HTTPOptions{MaxStreamsPerSession: 2})
	resp := postJSON(t, base+tools.PathStreamable, "", initBody)
	id := resp.Header.Get("Mcp-Session-Id")
	if id == "" {
		t.Fatal("initialize returned no session id")
	}
	open := func() (*http.Response, context.CancelFunc) {
		ctx, cancel := context.WithCancel(context.Background())
		req, _ := http.NewRequestWithContext(ctx, "GET", base+tools.PathStreamable, nil)
		req.Header.Set("Accept", "text/event-stream")
		req.Header.Set("Mcp-Session-Id", id)
		req.Header.Set("MCP-Protocol-Version", "2025-11-25")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		return resp, cancel
	}
	var cancels []context.CancelFunc
	defer func() {
		for _, c := range cancels {
			c()
		}
	}()
	for i := range 2 {
		r, cancel := open()
		cancels = append(cancels, cancel)
		if r.StatusCode != http.StatusOK {
			t.Fatalf("GET stream %d: %s", i+1, r.Status)
		}
	}
	r, cancel := open()
	cancel()
	if r.StatusCode != http.StatusTooManyRequests {
		t.Errorf("a third GET stream on one session: %s, want 429", r.Status)
	}
	cancels[0]()
	if !waitFor(10*time.Second, func() bool {
		r, cancel := open()
		cancels = append(cancels, cancel)
		return r.StatusCode == http.StatusOK
	}) {
		t.Error("closing a stream did not make room for another")
	}
}

// TestSubscriptionCap: a session's subscriptions stop at the limit with an
// error naming it; subscribing again to one it holds still works; a listen
// stream naming more URIs than the limit is refused.
func TestSubscriptionCap(t *testing.T) {
	a := newApp(t)
	srv, base := serveOpts(t, a.eng, tools.Options{MaxSubscriptionsPerSession: 3}, tools.HTTPOptions{})
	for _, e := range eras {
		if !e.legacy { // resources/subscribe is legacy; listen streams are checked below
			continue
		}
		c, _ := connect(t, base, e, nil)
		ctx := context.Background()
		for i := range 3 {
			subscribe(t, c, e, wire.RowURI("items", fmt.Sprint(i)))
		}
		//lint:ignore SA1019 the legacy protocol era is tested on purpose
		err := c.Subscribe(ctx, mcp.SubscribeRequest{Params: mcp.SubscribeParams{URI: wire.RowURI("items", "3")}})
		if err == nil || !strings.Contains(err.Error(), "maximum of 3 resource subscriptions") {
			t.Errorf("%s: a fourth subscription: want an error naming the limit, got %v", e.name, err)
		}
		subscribe(t, c, e, wire.RowURI("items", "0"))
	}
	if got := srv.Stats().Subscriptions; got != 6 {
		t.Errorf("subscriptions held: %d, want 6 (3 per session)", got)
	}

	c, _ := connect(t, base, eras[0], nil)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	uris := []string{}
	for i := range 4 {
		uris = append(uris, wire.RowURI("items", fmt.Sprint(i)))
	}
	err := c.Listen(ctx, mcp.SubscriptionFilter{ResourceSubscriptions: uris})
	if err == nil || !strings.Contains(err.Error(), "over the limit of 3") {
		t.Errorf("listen with 4 URIs over a limit of 3: want an error naming the limit, got %v", err)
	}
}

// TestResourceNotFound: resources/read of a missing row, run or table, or
// of a malformed URI, answers the not-found code of the request's protocol
// (-32002 before 2026-07-28, -32602 on it), on every transport, with a
// short message.
func TestResourceNotFound(t *testing.T) {
	a := newApp(t)
	_, base := serveHTTP(t, a, tools.HTTPOptions{})
	long := strings.Repeat("k", 1<<20)
	uris := []string{
		wire.RowURI("items", "missing"),
		wire.RowURI("nope", "x"),
		wire.RowURI("secrets", "x"),
		wire.TableURI("nope"),
		wire.RunURI("no-such-run"),
		wire.TablePrefix + "items/%zz",
		wire.RowURI("items", long),
	}
	for _, e := range eras {
		c, _ := connect(t, base, e, nil)
		want := mcp.ErrResourceNotFound
		if !e.legacy {
			want = mcp.ErrInvalidParams
		}
		for _, uri := range uris {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			_, err := c.ReadResource(ctx, mcp.ReadResourceRequest{Params: mcp.ReadResourceParams{URI: uri}})
			cancel()
			if !errors.Is(err, want) {
				t.Errorf("%s: read %.60s: want %v, got %v", e.name, uri, want, err)
			}
			if err != nil && len(err.Error()) > 400 {
				t.Errorf("%s: read of a 1 MiB URI: the error is %d bytes long; it quotes too much", e.name, len(err.Error()))
			}
		}
	}
	// A row that exists still reads.
	if _, err := a.eng.Mutate(context.Background(), "putItem", json.RawMessage(`{"key":"here","name":"x"}`)); err != nil {
		t.Fatal(err)
	}
	c, _ := connect(t, base, eras[1], nil)
	if _, err := c.ReadResource(context.Background(), mcp.ReadResourceRequest{Params: mcp.ReadResourceParams{URI: wire.RowURI("items", "here")}}); err != nil {
		t.Errorf("reading a row that exists: %v", err)
	}
}

// TestReadErrorsQuoteAPrefix: read tools given a 1 MiB key, table or run
// id answer with a short error.
func TestReadErrorsQuoteAPrefix(t *testing.T) {
	a := newApp(t)
	_, base := serveHTTP(t, a, tools.HTTPOptions{})
	c, _ := connect(t, base, eras[1], nil)
	long := strings.Repeat("k", 1<<20)
	for _, tc := range []struct {
		tool string
		args map[string]any
	}{
		{"get_row", map[string]any{"table": long, "key": "x"}},
		{"get_row", map[string]any{"table": "nope", "key": long}},
		{"list_rows", map[string]any{"table": long}},
		{"get_run", map[string]any{"id": long}},
	} {
		res := call(t, c, tc.tool, tc.args)
		if !res.IsError || len(text(res)) > 400 {
			t.Errorf("%s with a 1 MiB argument: isError %v, %d bytes of text: want a short error", tc.tool, res.IsError, len(text(res)))
		}
	}
}

// TestDamagedRowReported: a stored value that is not JSON is reported by
// name; it does not fail the page it is on.
func TestDamagedRowReported(t *testing.T) {
	path := filepath.Join(t.TempDir(), "d.db")
	tbl := schema.Table[Item]("items")
	put := schema.Mutator[PutIn]("putItem", "Put an item")
	sch := schema.MustDefine(1, tbl, put)
	cfg := backend.Config{Schema: sch, Mutators: []backend.MutatorImpl{
		backend.Mutator(put, func(ctx *backend.MutatorCtx, in PutIn) error {
			return backend.TableOf(ctx, tbl).Set(in.Key, Item{Name: in.Name})
		}),
	}}
	eng, err := backend.Open(cfg, backend.Options{Path: path, Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"a", "c"} {
		if _, err := eng.Mutate(context.Background(), "putItem", json.RawMessage(`{"key":"`+k+`","name":"ok"}`)); err != nil {
			t.Fatal(err)
		}
	}
	eng.Close()
	st, err := bolt.OpenStore(path, bolt.Options{SchemaVersion: 1, Tables: []string{"items"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Update(context.Background(), func(tx *storage.WriteTx) error { return tx.Put("items", "b", []byte(`{"name":`)) }); err != nil {
		t.Fatal(err)
	}
	st.Close()
	eng, err = backend.Open(cfg, backend.Options{Path: path, Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()

	_, base := serveOpts(t, eng, tools.Options{}, tools.HTTPOptions{})
	c, _ := connect(t, base, eras[1], nil)
	res := call(t, c, "list_rows", map[string]any{"table": "items"})
	if res.IsError {
		t.Fatalf("list_rows over a damaged row failed whole: %s", text(res))
	}
	var page struct {
		Rows []struct {
			Key     string          `json:"key"`
			Value   json.RawMessage `json:"value"`
			Damaged string          `json:"damaged"`
		} `json:"rows"`
	}
	if err := json.Unmarshal([]byte(text(res)), &page); err != nil {
		t.Fatal(err)
	}
	if len(page.Rows) != 3 || page.Rows[1].Key != "b" || !strings.Contains(page.Rows[1].Damaged, "damaged") || page.Rows[0].Damaged != "" {
		t.Errorf("list_rows: want a, c whole and b marked damaged, got %s", text(res))
	}
	res = call(t, c, "get_row", map[string]any{"table": "items", "key": "b"})
	if !res.IsError || !strings.Contains(text(res), `row "b" of table "items" is damaged`) {
		t.Errorf("get_row of the damaged row: %v %s", res.IsError, text(res))
	}
	if _, err := c.ReadResource(context.Background(), mcp.ReadResourceRequest{Params: mcp.ReadResourceParams{URI: wire.TableURI("items")}}); err != nil {
		t.Errorf("reading the table resource over a damaged row: %v", err)
	}
}

// TestResourceNotFoundStdio: over stdio too, a missing row reads as -32002.
func TestResourceNotFoundStdio(t *testing.T) {
	inW, out := serveStdio(t, newApp(t))
	lines := jsonLines(out)
	go func() {
		fmt.Fprintln(inW, initBody)
		fmt.Fprintln(inW, `{"jsonrpc":"2.0","method":"notifications/initialized"}`)
		fmt.Fprintln(inW, `{"jsonrpc":"2.0","id":2,"method":"resources/read","params":{"uri":"`+wire.RowURI("items", "missing")+`"}}`)
	}()
	for lines.Scan() {
		var msg struct {
			ID    int `json:"id"`
			Error *struct {
				Code    int    `json:"code"`
				Message string `json:"message"`
			} `json:"error"`
		}
		if json.Unmarshal(lines.Bytes(), &msg) != nil || msg.ID != 2 {
			continue
		}
		if msg.Error == nil || msg.Error.Code != -32002 || !strings.Contains(msg.Error.Message, `no row "missing"`) {
			t.Errorf("stdio read of a missing row: %s", lines.Bytes())
		}
		return
	}
	t.Fatal("no answer to resources/read over stdio")
}

// TestStdioOversizeMessageDropped: a stdio message past the 4 MiB message
// limit gets -32600 and is not kept; the session goes on serving.
func TestStdioOversizeMessageDropped(t *testing.T) {
	inW, out := serveStdio(t, newApp(t))
	lines := jsonLines(out)
	go func() {
		fmt.Fprintln(inW, initBody)
		fmt.Fprintln(inW, `{"jsonrpc":"2.0","method":"notifications/initialized"}`)
		fmt.Fprintln(inW, `{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"get_row","arguments":{"table":"items","key":"`+strings.Repeat("k", 5<<20)+`"}}}`)
		fmt.Fprintln(inW, `{"jsonrpc":"2.0","id":3,"method":"tools/list"}`)
	}()
	var tooLarge bool
	for lines.Scan() {
		var msg struct {
			ID    *int `json:"id"`
			Error *struct {
				Code    int    `json:"code"`
				Message string `json:"message"`
			} `json:"error"`
		}
		if json.Unmarshal(lines.Bytes(), &msg) != nil {
			continue
		}
		switch {
		case msg.ID == nil && msg.Error != nil:
			if msg.Error.Code != -32600 || !strings.Contains(msg.Error.Message, "limited to 4194304 bytes") {
				t.Errorf("oversize message: %s", lines.Bytes())
			}
			tooLarge = true
		case msg.ID != nil && *msg.ID == 2:
			t.Fatalf("the oversize message was read: %.200s", lines.Bytes())
		case msg.ID != nil && *msg.ID == 3:
			if !tooLarge || msg.Error != nil {
				t.Errorf("tools/list after the oversize message (error reply seen: %v): %.200s", tooLarge, lines.Bytes())
			}
			return
		}
	}
	t.Fatal("no answer to tools/list after an oversize message over stdio")
}
