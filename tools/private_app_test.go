package tools_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/client/transport"
	"github.com/mark3labs/mcp-go/mcp"

	"github.com/mcp-sync/mcp-sync/backend"
	"github.com/mcp-sync/mcp-sync/internal/testissuer"
	"github.com/mcp-sync/mcp-sync/schema"
	"github.com/mcp-sync/mcp-sync/tools"
	"github.com/mcp-sync/mcp-sync/tools/auth"
)

// The app of the private-table tests (issue 21): notes private to their
// user, a mutator that keeps a note's tags when it rewrites its text (so it
// reads the caller's row), and an action enqueued by it that reads the note
// and tags it through another mutator (so it runs as the caller).
type PNote struct {
	Text string   `json:"text"`
	Tags []string `json:"tags,omitempty"`
}

type SaveNoteIn struct {
	Key       string `json:"key" jsonschema:"minLength=1"`
	Text      string `json:"text"`
	Summarize bool   `json:"summarize,omitempty"`
}

type NoteKeyIn struct {
	Key string `json:"key" jsonschema:"minLength=1"`
}

type TagNoteIn struct {
	Key string `json:"key" jsonschema:"minLength=1"`
	Tag string `json:"tag"`
}

type SummaryOut struct {
	Summary string `json:"summary"`
}

var (
	userNotes     = schema.Table[PNote]("notes", schema.Private())
	saveNote      = schema.Mutator[SaveNoteIn]("saveNote", "Save a note's text, keeping its tags; summarize enqueues summarizeNote")
	deleteNote    = schema.Mutator[NoteKeyIn]("deleteNote", "Delete a note")
	tagNote       = schema.Mutator[TagNoteIn]("tagNote", "Add a tag to a note (the last three are kept)")
	summarizeNote = schema.Action[NoteKeyIn, SummaryOut]("summarizeNote", "Summarize a note and tag it with the summary")
	privSchema    = schema.MustDefine(1, userNotes, saveNote, deleteNote, tagNote, summarizeNote)
)

// gates hold summarizeNote runs of chosen keys until released, so that a
// test can watch a run that is still going.
type gates struct {
	mu sync.Mutex
	m  map[string]chan struct{}
}

// hold makes runs of key wait until the returned func is called.
func (g *gates) hold(key string) (release func()) {
	ch := make(chan struct{})
	g.mu.Lock()
	g.m[key] = ch
	g.mu.Unlock()
	var once sync.Once
	return func() { once.Do(func() { close(ch) }) }
}

func (g *gates) wait(ctx context.Context, key string) error {
	g.mu.Lock()
	ch := g.m[key]
	g.mu.Unlock()
	if ch == nil {
		return nil
	}
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// privConfig is the private-notes app; g holds its runs.
func privConfig(g *gates) backend.Config {
	return backend.Config{
		Schema: privSchema,
		Mutators: []backend.MutatorImpl{
			backend.Mutator(saveNote, func(ctx *backend.MutatorCtx, in SaveNoteIn) error {
				notes := backend.TableOf(ctx, userNotes)
				old, _, err := notes.Get(in.Key)
				if err != nil {
					return err
				}
				if err := notes.Set(in.Key, PNote{Text: in.Text, Tags: old.Tags}); err != nil {
					return err
				}
				if in.Summarize {
					_, err = ctx.EnqueueAction(summarizeNote.Name(), NoteKeyIn{Key: in.Key})
				}
				return err
			}),
			backend.Mutator(deleteNote, func(ctx *backend.MutatorCtx, in NoteKeyIn) error {
				return backend.TableOf(ctx, userNotes).Delete(in.Key)
			}),
			backend.Mutator(tagNote, func(ctx *backend.MutatorCtx, in TagNoteIn) error {
				notes := backend.TableOf(ctx, userNotes)
				n, ok, err := notes.Get(in.Key)
				if err != nil {
					return err
				}
				if !ok {
					return fmt.Errorf("no note %q to tag", in.Key)
				}
				n.Tags = append(n.Tags, in.Tag)
				if len(n.Tags) > 3 {
					n.Tags = n.Tags[len(n.Tags)-3:]
				}
				return notes.Set(in.Key, n)
			}),
		},
		Actions: []backend.ActionImpl{
			backend.Action(summarizeNote, func(ctx *backend.ActionCtx, in NoteKeyIn) (SummaryOut, error) {
				if err := g.wait(ctx, in.Key); err != nil {
					return SummaryOut{}, err
				}
				var n PNote
				ok, err := ctx.Table(userNotes.Name()).Get(in.Key, &n)
				if err != nil {
					return SummaryOut{}, err
				}
				if !ok {
					return SummaryOut{}, fmt.Errorf("no note %q to summarize", in.Key)
				}
				sum := "summary of " + n.Text
				if err := ctx.Mutate(tagNote.Name(), TagNoteIn{Key: in.Key, Tag: sum}); err != nil {
					return SummaryOut{}, err
				}
				return SummaryOut{Summary: sum}, nil
			}),
		},
	}
}

// privResource is the resource URL of every replica of the app: one
// service behind a balancer, so one audience.
const privResource = "https://notes.example/mcp"

// privStack is the private-notes app served behind a test issuer by one
// or more replicas (engines over one store), each on its own port.
type privStack struct {
	issuer *testissuer.Issuer
	bases  []string // http://127.0.0.1:port of each replica
	engs   []*backend.Engine
	srvs   []*tools.Server
	gates  *gates
}

// newPrivStack serves the app from n engines opened with opts (bbolt in a
// temporary directory when opts is nil: then n must be 1).
func newPrivStack(t testing.TB, n int, opts func(*backend.Options)) *privStack {
	t.Helper()
	is, err := testissuer.New()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(is.Close)
	st := &privStack{issuer: is, gates: &gates{m: map[string]chan struct{}{}}}
	dir := t.TempDir()
	for i := range n {
		o := backend.Options{Path: fmt.Sprintf("%s/notes-%d.db", dir, i), Logger: quietLogger()}
		if opts != nil {
			opts(&o)
		}
		eng, err := backend.Open(privConfig(st.gates), o)
		if err != nil {
			t.Fatalf("opening replica %d: %v", i, err)
		}
		t.Cleanup(func() { eng.Close() })
		v, err := auth.New(auth.Config{Issuer: is.URL, Resource: privResource, Scopes: []string{resourceScope}})
		if err != nil {
			t.Fatal(err)
		}
		srv, err := tools.New(eng, tools.Options{Logger: quietLogger(), Auth: v})
		if err != nil {
			t.Fatal(err)
		}
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		serveOn(t, srv, ln)
		st.bases, st.engs, st.srvs = append(st.bases, "http://"+ln.Addr().String()), append(st.engs, eng), append(st.srvs, srv)
	}
	return st
}

// puser is one of the two users: its subject, the marker in every value it
// writes (its name in capitals, so that a scan for the lower-case subject
// also finds a leaked value), its token, and everything the server sent
// any of its clients.
type puser struct {
	name  string
	mark  string
	token string
	rec   *recorder
	hc    *http.Client
}

func (st *privStack) user(t testing.TB, name string) *puser {
	t.Helper()
	tok, err := st.issuer.Sign(testissuer.Token{Audience: []string{privResource}, Subject: name, ClientID: "app-" + name,
		Scopes: []string{resourceScope}})
	if err != nil {
		t.Fatal(err)
	}
	rec := &recorder{}
	return &puser{name: name, mark: strings.ToUpper(name), token: tok, rec: rec,
		hc: &http.Client{Transport: recTransport{rec: rec, base: http.DefaultTransport}}}
}

// connect starts an initialized client of era e for u against base, whose
// every answer and stream u's recorder keeps.
func (u *puser) connect(t testing.TB, base string, e era, extra ...client.ClientOption) (*client.Client, *notes) {
	t.Helper()
	headers := map[string]string{"Authorization": "Bearer " + u.token}
	var (
		tr  transport.Interface
		err error
	)
	switch e.transport {
	case "http":
		opts := []transport.StreamableHTTPCOption{transport.WithHTTPHeaders(headers), transport.WithHTTPBasicClient(u.hc)}
		if e.legacy {
			//lint:ignore SA1019 the legacy protocol era is tested on purpose
			opts = append(opts, transport.WithContinuousListening())
		}
		tr, err = transport.NewStreamableHTTP(base+tools.PathStreamable, opts...)
	case "sse":
		tr, err = transport.NewSSE(base+tools.PathSSE, transport.WithHeaders(headers), transport.WithHTTPClient(u.hc))
	}
	if err != nil {
		t.Fatal(err)
	}
	return start(t, tr, e, extra...)
}

// rpc posts one JSON-RPC request as u (taskRPC with u's token, recorded).
func (u *puser) rpc(t testing.TB, base, method string, params map[string]any, o rpcOpts) map[string]any {
	t.Helper()
	if params == nil {
		params = map[string]any{}
	}
	h := map[string]string{"Content-Type": "application/json", "Accept": "application/json, text/event-stream",
		"Authorization": "Bearer " + u.token}
	if o.modern {
		caps := map[string]any{}
		if o.declared {
			caps["extensions"] = map[string]any{tools.TasksExtension: map[string]any{}}
		}
		params["_meta"] = map[string]any{mcp.MetaKeyProtocolVersion: "2026-07-28", mcp.MetaKeyClientCapabilities: caps}
		h[mcp.HeaderProtocolVersion] = "2026-07-28"
		h[mcp.HeaderMethod] = method
		if o.name != "" {
			h[mcp.HeaderName] = o.name
		}
	}
	body, _ := json.Marshal(map[string]any{"jsonrpc": "2.0", "id": 7, "method": method, "params": params})
	ctx, cancel := context.WithTimeout(context.Background(), testWait)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+tools.PathStreamable, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range h {
		req.Header.Set(k, v)
	}
	resp, err := u.hc.Do(req)
	if err != nil {
		t.Fatalf("%s as %s: %v", method, u.name, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	// An SSE-framed answer: its data line.
	if i := bytes.Index(data, []byte("data: ")); i >= 0 && !bytes.HasPrefix(bytes.TrimSpace(data), []byte("{")) {
		data, _, _ = bytes.Cut(data[i+len("data: "):], []byte("\n"))
	}
	var out map[string]any
	if err := json.Unmarshal(data, &out); err != nil {
		t.Fatalf("%s as %s: HTTP %d, the answer is not JSON (%v): %s", method, u.name, resp.StatusCode, err, data)
	}
	return out
}

// clean fails t if u's clients ever received other's subject or values
// (other's name in any case) or u's own subject: the owner of a row never
// appears in what a client sees.
func (u *puser) clean(t testing.TB, other *puser) {
	t.Helper()
	got := u.rec.String()
	if i := strings.Index(strings.ToLower(got), other.name); i >= 0 {
		t.Errorf("%s's clients received %q (the other user's subject or values): …%s…", u.name, other.name, excerpt(got, i))
	}
	if i := strings.Index(got, u.name); i >= 0 {
		t.Errorf("%s's clients received its own subject %q, which no surface shows: …%s…", u.name, u.name, excerpt(got, i))
	}
}

func excerpt(s string, i int) string {
	return s[max(0, i-200):min(len(s), i+200)]
}

// recorder keeps every byte a user's clients received.
type recorder struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (r *recorder) Write(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.buf.Write(p)
}

func (r *recorder) String() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.buf.String()
}

// recTransport tees every response body into a recorder.
type recTransport struct {
	rec  *recorder
	base http.RoundTripper
}

func (rt recTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := rt.base.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	resp.Body = teeBody{Reader: io.TeeReader(resp.Body, rt.rec), Closer: resp.Body}
	return resp, nil
}

type teeBody struct {
	io.Reader
	io.Closer
}
