package tools_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/client/transport"
	"github.com/mark3labs/mcp-go/mcp"

	"github.com/mcp-sync/mcp-sync/backend"
	"github.com/mcp-sync/mcp-sync/internal/testissuer"
	"github.com/mcp-sync/mcp-sync/schema"
	"github.com/mcp-sync/mcp-sync/tools"
	"github.com/mcp-sync/mcp-sync/tools/auth"
	"github.com/mcp-sync/mcp-sync/wire"
)

// The app of the OAuth tests: a note table, a mutator that needs a scope,
// and an action that says who called it.
type Note struct {
	Text string `json:"text"`
	By   string `json:"by"`
}

type NoteIn struct {
	ID   string `json:"id" jsonschema:"minLength=1"`
	Text string `json:"text"`
}

type WhoOut struct {
	Subject  string   `json:"subject"`
	ClientID string   `json:"clientId"`
	Scopes   []string `json:"scopes"`
	Local    bool     `json:"local"`
}

var (
	notesTable = schema.Table[Note]("notes")
	addNote    = schema.Mutator[NoteIn]("addNote", "Add a note; needs notes:write", schema.Scopes("notes:write"))
	whoAmI     = schema.Action[struct{}, WhoOut]("whoami", "Say who is calling")
	oauthApp   = schema.MustDefine(1, notesTable, addNote, whoAmI)
)

// resourceScope is the scope every token of these tests must carry.
const resourceScope = "mcp"

func newOAuthApp(t testing.TB) *backend.Engine {
	t.Helper()
	cfg := backend.Config{
		Schema: oauthApp,
		Mutators: []backend.MutatorImpl{
			backend.Mutator(addNote, func(ctx *backend.MutatorCtx, in NoteIn) error {
				id, _ := backend.IdentityFrom(ctx)
				return backend.TableOf(ctx, notesTable).Set(in.ID, Note{Text: in.Text, By: id.Subject})
			}),
		},
		Actions: []backend.ActionImpl{
			backend.Action(whoAmI, func(ctx *backend.ActionCtx, _ struct{}) (WhoOut, error) {
				id, ok := backend.IdentityFrom(ctx)
				if !ok {
					return WhoOut{}, errors.New("no identity reached the action")
				}
				return WhoOut{Subject: id.Subject, ClientID: id.ClientID, Scopes: id.Scopes, Local: id.Local}, nil
			}),
		},
	}
	eng, err := backend.Open(cfg, backend.Options{Path: filepath.Join(t.TempDir(), "oauth.db"), Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { eng.Close() })
	return eng
}

// oauthServer is an app served behind a test issuer.
type oauthServer struct {
	base     string // http://127.0.0.1:port
	resource string // base + /mcp
	issuer   *testissuer.Issuer
	eng      *backend.Engine
}

// serveOAuth starts a test issuer and the OAuth app behind it.
func serveOAuth(t testing.TB) *oauthServer {
	t.Helper()
	return serveBehindIssuer(t, newOAuthApp)
}

// serveBehindIssuer starts a test issuer and the app newApp opens behind
// it. The resource URL names the port, so the listener comes first.
func serveBehindIssuer(t testing.TB, newApp func(testing.TB) *backend.Engine) *oauthServer {
	t.Helper()
	is, err := testissuer.New()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(is.Close)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	o := &oauthServer{base: "http://" + ln.Addr().String(), issuer: is, eng: newApp(t)}
	o.resource = o.base + tools.PathStreamable
	v, err := auth.New(auth.Config{Issuer: is.URL, Resource: o.resource, Scopes: []string{resourceScope}})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := tools.New(o.eng, tools.Options{Logger: quietLogger(), Auth: v})
	if err != nil {
		t.Fatal(err)
	}
	serveOn(t, srv, ln)
	return o
}

// good returns a token this server accepts, with extra scopes.
func (o *oauthServer) good(t testing.TB, sub string, scopes ...string) string {
	t.Helper()
	tok, err := o.issuer.Sign(testissuer.Token{Audience: []string{o.resource}, Subject: sub, ClientID: "app-" + sub,
		Scopes: append([]string{resourceScope}, scopes...)})
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// post sends an initialize with the Authorization header auth ("" for
// none) and returns the status and the WWW-Authenticate header.
func (o *oauthServer) post(t testing.TB, auth string) (int, string, string) {
	t.Helper()
	req, _ := http.NewRequest("POST", o.base+tools.PathStreamable, strings.NewReader(initBody))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	ctx, cancel := context.WithTimeout(context.Background(), testWait)
	defer cancel()
	resp, err := http.DefaultClient.Do(req.WithContext(ctx))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header.Get("WWW-Authenticate"), string(body)
}

func TestOAuthTokensCheckedWithTheRightAnswer(t *testing.T) {
	o := serveOAuth(t)
	is := o.issuer
	aud := []string{o.resource}
	sign := func(tk testissuer.Token) string {
		t.Helper()
		tok, err := is.Sign(tk)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	scopes := []string{resourceScope}
	hour := time.Hour
	unknownKey, err := is.SignWithUnknownKey(testissuer.Token{Audience: aud, Scopes: scopes}, "key-forged")
	if err != nil {
		t.Fatal(err)
	}
	knownKidForged, err := is.SignWithUnknownKey(testissuer.Token{Audience: aud, Scopes: scopes}, "key-1")
	if err != nil {
		t.Fatal(err)
	}
	hmac, err := is.SignHMACWithPublicKey(testissuer.Token{Audience: aud, Scopes: scopes})
	if err != nil {
		t.Fatal(err)
	}
	good := sign(testissuer.Token{Audience: aud, Scopes: scopes})
	parts := strings.Split(good, ".")
	badSig := parts[0] + "." + parts[1] + "." + strings.Map(func(r rune) rune {
		if r == 'A' {
			return 'B'
		}
		return 'A'
	}, parts[2])

	metadata := `resource_metadata="` + o.base + auth.MetadataPath + tools.PathStreamable + `"`
	for _, c := range []struct {
		name   string
		auth   string
		status int
		want   []string // in WWW-Authenticate
		body   string   // in the body
	}{
		{"valid", "Bearer " + good, http.StatusOK, nil, ""},
		{"no token", "", 401, []string{metadata, `scope="mcp"`}, "requires an OAuth access token"},
		{"not bearer", "Basic dXNlcjpwYXNz", 401, []string{`error="invalid_request"`, metadata}, "Bearer"},
		{"wrong audience", "Bearer " + sign(testissuer.Token{Audience: []string{"http://127.0.0.1:1/mcp"}, Scopes: scopes}), 401,
			[]string{`error="invalid_token"`, metadata}, "aud"},
		{"no audience", "Bearer " + sign(testissuer.Token{Scopes: scopes}), 401, []string{`error="invalid_token"`}, "aud"},
		{"wrong issuer", "Bearer " + sign(testissuer.Token{Issuer: "http://127.0.0.1:2", Audience: aud, Scopes: scopes}), 401,
			[]string{`error="invalid_token"`, metadata}, "iss"},
		{"expired", "Bearer " + sign(testissuer.Token{Audience: aud, Scopes: scopes, Expiry: time.Now().Add(-hour)}), 401,
			[]string{`error="invalid_token"`, metadata}, "expired"},
		{"not yet valid", "Bearer " + sign(testissuer.Token{Audience: aud, Scopes: scopes, NotBefore: time.Now().Add(hour)}), 401,
			[]string{`error="invalid_token"`, metadata}, "not valid before"},
		{"bad signature", "Bearer " + badSig, 401, []string{`error="invalid_token"`, metadata}, "signature"},
		{"forged with a known kid", "Bearer " + knownKidForged, 401, []string{`error="invalid_token"`}, "signature"},
		{"alg none", "Bearer " + is.SignNone(testissuer.Token{Audience: aud, Scopes: scopes}), 401,
			[]string{`error="invalid_token"`, metadata}, "algorithm"},
		{"HMAC with the public key", "Bearer " + hmac, 401, []string{`error="invalid_token"`, metadata}, "algorithm"},
		{"unknown key", "Bearer " + unknownKey, 401, []string{`error="invalid_token"`, metadata}, "signature"},
		{"garbage", "Bearer not.a.jwt", 401, []string{`error="invalid_token"`}, "JWT"},
		{"a local user's subject", "Bearer " + sign(testissuer.Token{Subject: backend.LocalOwnerPrefix + "root", Audience: aud, Scopes: scopes}), 401,
			[]string{`error="invalid_token"`, metadata}, "reserves for its local users"},
		{"missing scope", "Bearer " + sign(testissuer.Token{Audience: aud, Scopes: []string{"other"}}), 403,
			[]string{`error="insufficient_scope"`, `scope="mcp"`, metadata, `error_description="the token lacks the scope 'mcp'`}, `"mcp"`},
	} {
		status, challenge, body := o.post(t, c.auth)
		if status != c.status {
			t.Errorf("%s: status %d, want %d (body %q)", c.name, status, c.status, body)
			continue
		}
		if c.status == http.StatusOK {
			if challenge != "" {
				t.Errorf("%s: a challenge on success: %s", c.name, challenge)
			}
			continue
		}
		if !strings.HasPrefix(challenge, "Bearer ") {
			t.Errorf("%s: WWW-Authenticate %q is not a Bearer challenge", c.name, challenge)
		}
		for _, w := range c.want {
			if !strings.Contains(challenge, w) {
				t.Errorf("%s: WWW-Authenticate %q lacks %s", c.name, challenge, w)
			}
		}
		if c.name == "no token" && strings.Contains(challenge, "error=") {
			t.Errorf("no token: the challenge names an error, which RFC 6750 keeps for requests that sent one: %s", challenge)
		}
		if !strings.Contains(body, c.body) {
			t.Errorf("%s: body %q does not say %q", c.name, body, c.body)
		}
	}
}

// TestOAuthToolScopeChallenge: a tools/call of a tool whose scope the
// token lacks is answered 403 insufficient_scope naming every scope the
// call needs, before mcp-go sees it (the MCP profile's step-up); the same
// call with a token holding them goes through.
func TestOAuthToolScopeChallenge(t *testing.T) {
	o := serveOAuth(t)
	const callBody = `{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"addNote","arguments":{"id":"n","text":"x"}}}`
	post := func(tok string) *http.Response {
		t.Helper()
		req, _ := http.NewRequest("POST", o.base+tools.PathStreamable, strings.NewReader(callBody))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "application/json, text/event-stream")
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	resp := post(o.good(t, "bob"))
	challenge := resp.Header.Get("WWW-Authenticate")
	for _, want := range []string{`error="insufficient_scope"`, `scope="mcp notes:write"`, `resource_metadata="` + o.base + auth.MetadataPath + tools.PathStreamable + `"`} {
		if resp.StatusCode != http.StatusForbidden || !strings.Contains(challenge, want) {
			t.Errorf("tools/call addNote without notes:write: %d, WWW-Authenticate %q; want 403 with %s", resp.StatusCode, challenge, want)
		}
	}
	if resp := post(o.good(t, "bob", "notes:write")); resp.StatusCode == http.StatusForbidden || resp.StatusCode == http.StatusUnauthorized {
		t.Errorf("tools/call addNote with notes:write: %d %s", resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
	}
}

func TestOAuthMetadataServed(t *testing.T) {
	o := serveOAuth(t)
	for _, path := range []string{auth.MetadataPath + tools.PathStreamable, auth.MetadataPath} {
		resp, err := http.Get(o.base + path)
		if err != nil {
			t.Fatal(err)
		}
		var m auth.Metadata
		err = json.NewDecoder(resp.Body).Decode(&m)
		resp.Body.Close()
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("GET %s: %d, %v", path, resp.StatusCode, err)
		}
		if m.Resource != o.resource || !slices.Equal(m.AuthorizationServers, []string{o.issuer.URL}) ||
			!slices.Equal(m.ScopesSupported, []string{resourceScope, "notes:write"}) {
			t.Errorf("GET %s: %+v, want resource %s, issuer %s, scopes [mcp notes:write] (required, then the tools')", path, m, o.resource, o.issuer.URL)
		}
	}
	resp, err := http.Post(o.base+auth.MetadataPath, "application/json", strings.NewReader("{}"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST of the metadata: %d, want 405", resp.StatusCode)
	}
}

func TestOAuthRotatedKeyPickedUp(t *testing.T) {
	o := serveOAuth(t)
	old := o.good(t, "alice")
	if status, _, body := o.post(t, "Bearer "+old); status != 200 {
		t.Fatalf("before rotation: %d %s", status, body)
	}
	if err := o.issuer.Rotate(true); err != nil { // the old key is withdrawn
		t.Fatal(err)
	}
	if status, _, body := o.post(t, "Bearer "+o.good(t, "alice")); status != 200 {
		t.Fatalf("a token signed with the new key was refused (the key set was not refetched): %d %s", status, body)
	}
	// The refetched set is the cache before any request checks against
	// it, so the withdrawn key is refused at once.
	status, challenge, _ := o.post(t, "Bearer "+old)
	if status != 401 || !strings.Contains(challenge, "invalid_token") {
		t.Errorf("a token of the withdrawn key: %d %q, want 401 invalid_token", status, challenge)
	}
}

func TestOAuthIdentityReachesHandlersOnEveryTransport(t *testing.T) {
	o := serveOAuth(t)
	for _, e := range eras {
		t.Run(e.name, func(t *testing.T) {
			writer := o.good(t, "alice", "notes:write")
			c, _ := connect(t, o.base, e, map[string]string{"Authorization": "Bearer " + writer})
			who := whoami(t, c)
			if who.Subject != "alice" || who.ClientID != "app-alice" || !slices.Contains(who.Scopes, "notes:write") || who.Local {
				t.Errorf("the action saw %+v, want subject alice, client app-alice, scope notes:write", who)
			}
			if res := call(t, c, "addNote", map[string]any{"id": e.name, "text": "hi"}); res.IsError {
				t.Fatalf("addNote with notes:write: %s", text(res))
			}
			row, _, _, err := o.eng.Get(context.Background(), "notes", e.name)
			if err != nil || !strings.Contains(string(row), `"by":"alice"`) {
				t.Errorf("the mutator did not see alice: row %s, %v", row, err)
			}
			if !listed(t, c, "addNote") {
				t.Error("addNote is not listed to a caller holding its scope")
			}

			reader := o.good(t, "bob")
			c2, _ := connect(t, o.base, e, map[string]string{"Authorization": "Bearer " + reader})
			if listed(t, c2, "addNote") {
				t.Error("addNote is listed to a caller without notes:write")
			}
			if !listed(t, c2, "whoami") {
				t.Error("whoami, which needs no scope, is not listed")
			}
			ctx, cancel := context.WithTimeout(context.Background(), testWait)
			defer cancel()
			req := mcp.CallToolRequest{}
			req.Params.Name, req.Params.Arguments = "addNote", map[string]any{"id": e.name + "-bob", "text": "hi"}
			if res, err := c2.CallTool(ctx, req); err == nil || !strings.Contains(err.Error(), "403") {
				t.Errorf("addNote without its scope: %+v, %v; want the HTTP 403 of a scope challenge", res, err)
			}
			// A push of it reaches the engine, which refuses it by name.
			push := call(t, c2, wire.ToolSyncPush, map[string]any{"client": "bob-" + e.name, "seq": 1, "mutator": "addNote",
				"args": map[string]any{"id": e.name + "-bob", "text": "hi"}})
			if !push.IsError || errorKind(push) != "forbidden" || !strings.Contains(text(push), `"notes:write"`) {
				t.Errorf("_sync_push of addNote without its scope: isError %v, kind %s, %q; want a forbidden error naming notes:write",
					push.IsError, errorKind(push), text(push))
			}
			if _, ok, _, _ := o.eng.Get(context.Background(), "notes", e.name+"-bob"); ok {
				t.Error("the refused addNote wrote its row")
			}
		})
	}
	auditNamesCallers(t, o.eng)
}

// listed reports whether tools/list shows c the tool name.
func listed(t testing.TB, c interface {
	ListTools(context.Context, mcp.ListToolsRequest) (*mcp.ListToolsResult, error)
}, name string) bool {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testWait)
	defer cancel()
	res, err := c.ListTools(ctx, mcp.ListToolsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	return slices.ContainsFunc(res.Tools, func(tl mcp.Tool) bool { return tl.Name == name })
}

// TestStdioCallerIsTheLocalUser: stdio served with WithLocalIdentity (as
// serve does) shows handlers the local user, trusted with every scope;
// an HTTP server with the static token shows its holder.
func TestStdioCallerIsTheLocalUser(t *testing.T) {
	eng := newOAuthApp(t)
	srv, err := tools.New(eng, tools.Options{Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	inR, inW := io.Pipe()
	outR, outW := io.Pipe()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.ServeStdio(tools.WithLocalIdentity(ctx), inR, outW) }()
	t.Cleanup(func() { cancel(); inW.Close(); outR.Close(); <-done; srv.Close() })
	c, _ := start(t, transport.NewIO(outR, inW, io.NopCloser(strings.NewReader(""))), era{"stdio", "stdio", false})

	who := whoami(t, c)
	if want := tools.LocalIdentity(); who.Subject != want.Subject || !who.Local || who.Subject == "" {
		t.Errorf("stdio: the action saw %+v, want the local user %q", who, want.Subject)
	}
	if res := call(t, c, "addNote", map[string]any{"id": "local", "text": "x"}); res.IsError {
		t.Errorf("the local user was refused a scoped mutator: %s", text(res))
	}

	_, base := serveOpts(t, eng, tools.Options{}, tools.HTTPOptions{Token: "tok"})
	c2, _ := connect(t, base, eras[0], map[string]string{"Authorization": "Bearer tok"})
	if who := whoami(t, c2); who.Subject != "token" || !who.Local {
		t.Errorf("static token: the action saw %+v, want the token holder", who)
	}
}

func whoami(t *testing.T, c *client.Client) WhoOut {
	t.Helper()
	res := call(t, c, "whoami", map[string]any{})
	if res.IsError {
		t.Fatalf("whoami: %s", text(res))
	}
	var who WhoOut
	b, _ := json.Marshal(res.StructuredContent)
	if err := json.Unmarshal(b, &who); err != nil {
		t.Fatal(err)
	}
	return who
}
