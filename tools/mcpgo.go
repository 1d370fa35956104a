package tools

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"
)

// This file holds the workarounds for how mcp-go v1.2.1
// (github.com/mark3labs/mcp-go) delivers notifications and checks POST
// bodies, so that they can be deleted together once mcp-go is fixed. Each
// of the three sections below says which behaviour it covers.
//
// Adaptations to mcp-go that are part of a feature stay with the feature,
// each saying what of mcp-go it covers: answerNotFound and claimNotFound
// (notfound.go: a handler's error is always -32603, with no data.uri);
// inflight (calls.go) and registry.endListens (registry.go: SSE requests
// run on a context that outlives the connection); sessionGate's session
// count (httpguard.go: a GET or legacy initialize mints a session of any
// id); the task methods (tasks.go, tasksio.go: mcp-go keeps tasks in
// memory).
//
// Deleting a section here also means deleting its hooks outside this file:
//   - the echo: registry.echoDelay, notice.echo, the client fields legacy,
//     sends and sentAt, and the pureEcho test in notice.carries;
//   - the settle marker: the rep.settle() call in Server.callAction and
//     reporter.sent;
//   - withReplyWatch (which serves both the echo and the settle marker) and
//     withNotificationMeta: their place in Server.HTTPHandler.

// The forwarder-drop echo.
//
// mcp-go behaviour: on legacy (2025-11-25) streamable HTTP a session's
// notifications share one queue with everything else sent to it, and the
// forwarder mcp-go runs for each POST's response (StreamableHTTPServer's
// handlePost) takes notifications off that queue and drops the one it holds
// when the call ends. A resources/updated notification taken so is lost. So
// notices are counted, and the URIs a notice went for while a call ran are
// announced again (echoed) after it ends.

// pureEcho reports whether n only repeats what was sent before.
func (n *notice) pureEcho() bool { return n.echo && n.version == n.after }

// sent counts a legacy session's notice of uri, unless it was a pure echo.
func (c *client) sent(uri string, n *notice) {
	if !c.legacy || n.pureEcho() {
		return
	}
	c.mu.Lock()
	c.sends++
	if _, subscribed := c.upTo[uri]; subscribed {
		c.sentAt[uri] = c.sends
	}
	c.mu.Unlock()
}

// callStarted is told that a call of legacy session id begins whose
// response may carry notifications. It returns the session's subscriber (or
// nil) and a mark for callEnded: notices sent after it went while the call
// ran. A notice still queued when the call began could be taken by its
// forwarder too; it is not counted, since it would have to stay queued
// until the call's very end, and counting it re-announced URIs to sessions
// making calls back to back (each call's echo still queued when the next
// began).
func (r *registry) callStarted(id string) (*client, uint64) {
	r.mu.Lock()
	c := r.clients[id]
	r.mu.Unlock()
	if c == nil || !c.legacy {
		return nil, 0
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c, c.sends
}

// callEnded is told that the call callStarted returned started and mark for
// has ended: its forwarder may have dropped one notice sent after mark, so
// each URI such a notice went for is announced again, by an echo that
// continues from where its notices reached (a bare notification to a client
// that takes no changes). It looks echoDelay after the end: mcp-go does not
// wait for the forwarder to exit, and one that was busy may take, and drop,
// one more notification on its way out, so notices sent just after the call
// are at risk too, and an echo sent at once would be. An echo's own loss goes
// unrepaired: it only mattered if the notice before it was lost too.
func (r *registry) callEnded(id string, started *client, mark uint64) {
	r.mu.Lock()
	c := r.clients[id]
	r.mu.Unlock()
	if c == nil || !c.legacy {
		return
	}
	if c != started {
		mark = 0 // subscribed during the call: any of its notices
	}
	if r.echoDelay <= 0 {
		c.echoAfter(mark)
		return
	}
	time.AfterFunc(r.echoDelay, func() { c.echoAfter(mark) })
}

// echoAfter queues an echo for every URI a notice went for after mark.
func (c *client) echoAfter(mark uint64) {
	echoed := false
	c.mu.Lock()
	for uri, at := range c.sentAt {
		upTo, subscribed := c.upTo[uri]
		if at <= mark || !subscribed || c.dirty[uri] != nil {
			continue // not at risk, gone, or a newer notice is on its way
		}
		c.dirty[uri] = &notice{after: upTo, version: upTo, bare: !c.changes, echo: true}
		echoed = true
	}
	c.mu.Unlock()
	if echoed {
		select {
		case c.wake <- struct{}{}:
		default:
		}
	}
}

// The settle marker.
//
// mcp-go behaviour: notifications are written from the session's queue on
// another goroutine, so a reply written when the handler returns can
// overtake them (stdio, SSE), and on streamable HTTP the POST's forwarder
// may still hold the last one and drop it (measured: about 70% of 50 calls
// lost their last progress message). settle holds the reply until a marker
// queued after the notifications has been written.

// flushMethod is the notification settle uses as a marker. Clients ignore
// notifications they do not know (JSON-RPC), so it may arrive or not.
const flushMethod = "notifications/mcp-sync/flush"

// settle makes the notifications an action sent reach the client before its
// reply. mcp-go writes notifications from a queue on another goroutine, so a
// reply written when the handler returns can overtake them (stdio, SSE), or
// be written while the streamable HTTP forwarder still holds one it then
// drops (measured: most calls lost their last progress message).
//
// It first sends a progress report still pending, waits for the queue to
// empty, then queues a marker and waits until the writer has taken it: the
// writer takes messages one at a time and writes each before taking the
// next, so by then everything before the marker has been written. Bounded:
// a client that does not read costs at most 250 ms.
//
// Legacy streamable HTTP is the exception: with a GET stream open, mcp-go
// feeds the session's queue to both streams, so a marker taken proves
// nothing about this call's forwarder, which may still hold a report it
// then drops (a 2 ms pause was all that covered it, and under load a call
// lost one). There settle queues a marker whenever the queue is empty until
// one is written on this call's own response (withReplyWatch sees it): by
// then the forwarder has written all it took. A report the GET stream took
// may still go out after the reply (clients see reports out of order there
// too); a short pause makes that rarer.
func (r *reporter) settle() {
	deadline := time.Now().Add(250 * time.Millisecond)
	r.mu.Lock()
	for !r.flushLocked() && time.Now().Before(deadline) {
		r.mu.Unlock()
		time.Sleep(time.Millisecond)
		r.mu.Lock()
	}
	sent := r.sent
	r.mu.Unlock()
	if !sent {
		return
	}
	sess := server.ClientSessionFromContext(r.ctx)
	if sess == nil {
		return
	}
	ch := sess.NotificationChannel()
	drained := func() bool {
		for len(ch) > 0 {
			if time.Now().After(deadline) {
				return false
			}
			time.Sleep(100 * time.Microsecond)
		}
		return true
	}
	if !drained() {
		return
	}
	marker := mcp.JSONRPCNotification{JSONRPC: mcp.JSONRPC_VERSION, Notification: mcp.Notification{Method: flushMethod}}
	reply := replyWatchFrom(r.ctx)
	if reply == nil {
		select {
		case ch <- marker:
			drained()
		default:
		}
		return
	}
	// A token of this call's own, so that a marker another call of the
	// session queued earlier does not count.
	token := rand.Text()
	marker.Params.AdditionalFields = map[string]any{"token": token}
	wrote := reply.expect(token)
	for time.Now().Before(deadline) {
		if len(ch) == 0 {
			select {
			case ch <- marker:
			default:
			}
		}
		select {
		case <-wrote:
			// Best effort, not needed for delivery: let the GET stream, if
			// open, write what it took before the reply goes.
			time.Sleep(2 * time.Millisecond)
			return
		case <-time.After(time.Millisecond): // the GET stream may have taken it: queue another
		}
	}
}

// withReplyWatch gives each legacy streamable HTTP POST a replyWatch in its
// context, so that reporter.settle can see when one of its markers has been
// written on this response (see settle for why only legacy ones), and tells
// subs when the call starts and ends (see registry.callEnded). A response
// that cannot stream (no http.Flusher; net/http's always can) is passed
// through as is: mcp-go drops every notification it takes for such a call,
// which no marker or echo can help.
func withReplyWatch(next http.Handler, subs *registry) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f, ok := w.(http.Flusher)
		if r.Method != http.MethodPost || mcp.IsModernProtocol(r.Header.Get(mcp.HeaderProtocolVersion)) || !ok {
			next.ServeHTTP(w, r)
			return
		}
		if id := r.Header.Get(server.HeaderKeySessionID); id != "" {
			started, mark := subs.callStarted(id)
			defer subs.callEnded(id, started, mark)
		}
		watch := &replyWatch{}
		next.ServeHTTP(watchedWriter{w, f, watch}, r.WithContext(context.WithValue(r.Context(), replyWatchKey{}, watch)))
	})
}

// replyWatch tells when a settle marker carrying a given token is written
// on one POST response.
type replyWatch struct {
	mu    sync.Mutex
	token []byte        // the awaited marker's token, JSON-quoted; nil: none
	wrote chan struct{} // closed once a write carries token
}

type replyWatchKey struct{}

func replyWatchFrom(ctx context.Context) *replyWatch {
	w, _ := ctx.Value(replyWatchKey{}).(*replyWatch)
	return w
}

// expect makes token the awaited one and returns the channel closed when a
// marker carrying it has been written.
func (w *replyWatch) expect(token string) <-chan struct{} {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.token, _ = json.Marshal(token)
	w.wrote = make(chan struct{})
	return w.wrote
}

// written notes p written: mcp-go writes each SSE event in one Write.
func (w *replyWatch) written(p []byte) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.token != nil && bytes.Contains(p, []byte(flushMethod)) && bytes.Contains(p, w.token) {
		close(w.wrote)
		w.token = nil
	}
}

// watchedWriter is a streaming response that reports its writes to watch.
type watchedWriter struct {
	http.ResponseWriter
	flusher http.Flusher
	watch   *replyWatch
}

func (w watchedWriter) Write(p []byte) (int, error) {
	n, err := w.ResponseWriter.Write(p)
	if err == nil {
		w.watch.written(p)
	}
	return n, err
}

func (w watchedWriter) Flush() { w.flusher.Flush() }

// Unwrap lets http.NewResponseController (mcp-go's write deadlines) reach
// the connection's own writer.
func (w watchedWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// The notification _meta copying.
//
// mcp-go behaviour: on 2026-07-28 it refuses with 400 a POST whose body's
// _meta lacks the protocol version, even when the Mcp-Protocol-Version
// header carries it; the official Go SDK sends notifications with the
// header only. The version is copied from the header into the body.

// withNotificationMeta bridges an interop gap between mcp-go and the
// official Go SDK on protocol 2026-07-28: mcp-go requires every POST to carry
// the protocol version in its body's _meta as well as in the
// Mcp-Protocol-Version header, while the SDK sends notifications (such as
// notifications/cancelled) with the header only. mcp-go answers those with
// 400, and the SDK's session breaks. For a notification that names a modern
// version in the header but not in _meta, the version is copied in.
func withNotificationMeta(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		version := r.Header.Get(mcp.HeaderProtocolVersion)
		if r.Method != http.MethodPost || !mcp.IsModernProtocol(version) || r.ContentLength > maxPatchedBody {
			next.ServeHTTP(w, r)
			return
		}
		body, err := io.ReadAll(io.LimitReader(r.Body, maxPatchedBody+1))
		if err != nil {
			http.Error(w, "reading the request body: "+err.Error(), http.StatusBadRequest)
			return
		}
		rest := io.Reader(bytes.NewReader(nil))
		if len(body) > maxPatchedBody {
			rest = r.Body // a large chunked body: pass it through whole
		} else if bytes.Contains(body, []byte(`"notifications/`)) {
			body = addNotificationMeta(body, version)
			r.ContentLength = int64(len(body))
		}
		r.Body = readCloser{io.MultiReader(bytes.NewReader(body), rest), r.Body}
		next.ServeHTTP(w, r)
	})
}

// readCloser reads from one reader and closes another.
type readCloser struct {
	io.Reader
	io.Closer
}

// maxPatchedBody bounds the bodies withNotificationMeta looks into:
// notifications are small.
const maxPatchedBody = 64 << 10

func addNotificationMeta(body []byte, version string) []byte {
	var msg map[string]any
	if json.Unmarshal(body, &msg) != nil {
		return body
	}
	method, _ := msg["method"].(string)
	if _, isRequest := msg["id"]; isRequest || !strings.HasPrefix(method, "notifications/") {
		return body
	}
	params, _ := msg["params"].(map[string]any)
	if params == nil {
		params = map[string]any{}
	}
	meta, _ := params["_meta"].(map[string]any)
	if meta == nil {
		meta = map[string]any{}
	}
	if _, ok := meta[mcp.MetaKeyProtocolVersion]; ok {
		return body
	}
	meta[mcp.MetaKeyProtocolVersion] = version
	params["_meta"] = meta
	msg["params"] = params
	out, err := json.Marshal(msg)
	if err != nil {
		return body
	}
	return out
}
