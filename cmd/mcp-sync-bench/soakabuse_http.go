package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/mcp-sync/mcp-sync/wire"
)

// The abuse phase's raw HTTP: the probes speak JSON-RPC over HTTP by hand,
// since they must do what no well-behaved client does (never close a
// session, stream a 100 MB body, send a byte every 2 s) and see exactly how
// the server answered.

// headerSessionID is streamable HTTP's session header (2025-11-25).
const headerSessionID = "Mcp-Session-Id"

// abuseOutcome is how many of a probe's requests ended one way, and what the
// first of them said.
type abuseOutcome struct {
	Kind   string `json:"kind"`
	Count  int    `json:"count"`
	Sample string `json:"sample,omitempty"`
}

// abuseTally counts outcomes by kind; it is safe for concurrent use.
type abuseTally struct {
	mu      sync.Mutex
	counts  map[string]int
	samples map[string]string
}

func newAbuseTally() *abuseTally {
	return &abuseTally{counts: map[string]int{}, samples: map[string]string{}}
}

func (t *abuseTally) add(kind, sample string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.counts[kind]++
	if _, ok := t.samples[kind]; !ok {
		t.samples[kind] = abuseShort(sample, 200)
	}
}

func (t *abuseTally) count(kind string) int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.counts[kind]
}

// outcomes lists the kinds, most frequent first.
func (t *abuseTally) outcomes() []abuseOutcome {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make([]abuseOutcome, 0, len(t.counts))
	for k, n := range t.counts {
		out = append(out, abuseOutcome{Kind: k, Count: n, Sample: t.samples[k]})
	}
	slices.SortFunc(out, func(a, b abuseOutcome) int {
		if a.Count != b.Count {
			return b.Count - a.Count
		}
		return strings.Compare(a.Kind, b.Kind)
	})
	return out
}

// abuseShort cuts s to n bytes (on a rune boundary) and one line.
func abuseShort(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) <= n {
		return s
	}
	for n > 0 && !isRuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

func isRuneStart(b byte) bool { return b&0xC0 != 0x80 }

// transportKind names a failure to get an answer coarsely enough to count.
func transportKind(err error) string {
	var ne net.Error
	switch {
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return "transport: timed out"
	case errors.Is(err, syscall.ECONNRESET):
		return "transport: connection reset"
	case errors.Is(err, syscall.EPIPE):
		return "transport: broken pipe"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "transport: connection refused"
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, net.ErrClosed):
		return "transport: closed by the server"
	case errors.Is(err, context.Canceled):
		return "transport: cancelled"
	case errors.Is(err, syscall.EMFILE), errors.Is(err, syscall.ENFILE):
		return "transport: out of file descriptors (client side)"
	}
	return "transport: other"
}

// rpcKind classifies an HTTP answer to a JSON-RPC POST: "HTTP <status>"
// when it is not 200/202, else the JSON-RPC error code, the tool error kind
// from the result's _meta, or "ok". The body may be JSON or an SSE stream
// whose first message with an id is the response.
func rpcKind(status int, contentType string, body []byte) (kind, sample string) {
	if status != http.StatusOK && status != http.StatusAccepted {
		return fmt.Sprintf("HTTP %d", status), string(body)
	}
	if status == http.StatusAccepted {
		return "ok (HTTP 202)", ""
	}
	msg := body
	if strings.HasPrefix(contentType, "text/event-stream") {
		msg = nil
		for line := range bytes.Lines(body) {
			data, ok := bytes.CutPrefix(bytes.TrimSpace(line), []byte("data:"))
			if ok && bytes.Contains(data, []byte(`"id"`)) {
				msg = bytes.TrimSpace(data)
				break
			}
		}
	}
	var resp struct {
		Error *struct {
			Code    int    `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
		Result *struct {
			IsError bool                       `json:"isError"`
			Meta    map[string]json.RawMessage `json:"_meta"`
			Content []struct {
				Text string `json:"text"`
			} `json:"content"`
		} `json:"result"`
	}
	if err := json.Unmarshal(msg, &resp); err != nil {
		return "HTTP 200, not a JSON-RPC response", string(body)
	}
	switch {
	case resp.Error != nil:
		return fmt.Sprintf("JSON-RPC %d", resp.Error.Code), resp.Error.Message
	case resp.Result != nil && resp.Result.IsError:
		var meta struct {
			Kind string `json:"kind"`
		}
		_ = json.Unmarshal(resp.Result.Meta[wire.ErrorMetaKey], &meta)
		text := ""
		if len(resp.Result.Content) > 0 {
			text = resp.Result.Content[0].Text
		}
		if meta.Kind == "" {
			meta.Kind = "(no kind)"
		}
		return "tool error: " + meta.Kind, text
	}
	return "ok", ""
}

// abuseRPC posts JSON-RPC messages over a handful of reused keep-alive
// connections.
type abuseRPC struct {
	url string
	hc  *http.Client
}

func newAbuseRPC(url string, conns int) *abuseRPC {
	tr := &http.Transport{MaxConnsPerHost: conns, MaxIdleConnsPerHost: conns, IdleConnTimeout: time.Minute,
		DisableCompression: true, ResponseHeaderTimeout: time.Minute}
	return &abuseRPC{url: url, hc: &http.Client{Transport: tr}}
}

func (c *abuseRPC) close() { c.hc.CloseIdleConnections() }

// post sends one legacy-era (2025-11-25) message and classifies the answer;
// session is the Mcp-Session-Id to send ("" for none) and the one answered.
func (c *abuseRPC) post(ctx context.Context, session string, msg any) (kind, sample, newSession string) {
	body, err := json.Marshal(msg)
	if err != nil {
		return "client: encoding", err.Error(), ""
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.url, bytes.NewReader(body))
	if err != nil {
		return "client: request", err.Error(), ""
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	req.Header.Set(mcp.HeaderProtocolVersion, mcp.ProtocolVersion20251125)
	if session != "" {
		req.Header.Set(headerSessionID, session)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return transportKind(err), err.Error(), ""
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return transportKind(err), err.Error(), ""
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20)) // let the connection be reused
	kind, sample = rpcKind(resp.StatusCode, resp.Header.Get("Content-Type"), b)
	return kind, sample, resp.Header.Get(headerSessionID)
}

// initializeMsg is a legacy initialize request.
func initializeMsg(id int) map[string]any {
	return map[string]any{"jsonrpc": "2.0", "id": id, "method": "initialize", "params": map[string]any{
		"protocolVersion": mcp.ProtocolVersion20251125, "capabilities": map[string]any{},
		"clientInfo": map[string]any{"name": "mcp-sync-soak-abuse", "version": "0"}}}
}

// openLegacySession initializes a legacy session and confirms it.
func (c *abuseRPC) openLegacySession(ctx context.Context) (string, error) {
	kind, sample, session := c.post(ctx, "", initializeMsg(0))
	if kind != "ok" || session == "" {
		return "", fmt.Errorf("initialize answered %s %s (session %q)", kind, sample, session)
	}
	if kind, sample, _ := c.post(ctx, session, map[string]any{"jsonrpc": "2.0", "method": "notifications/initialized"}); !strings.HasPrefix(kind, "ok") {
		return "", fmt.Errorf("notifications/initialized answered %s %s", kind, sample)
	}
	return session, nil
}

// abuseBody is a request body of n bytes made as it is read: a setTodo call
// whose text runs on to the end and never closes (invalid JSON). A server
// without a body limit reads it whole, fails to parse it and commits
// nothing; one with a limit refuses it early.
type abuseBody struct {
	head []byte
	n    int64
	off  int64
	sent *atomic.Int64 // bytes read from it so far
}

func newAbuseBody(n int64, sent *atomic.Int64) *abuseBody {
	head := []byte(`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"setTodo","arguments":{"id":"abuse-oversize","text":"`)
	return &abuseBody{head: head, n: n, sent: sent}
}

func (b *abuseBody) Read(p []byte) (int, error) {
	if b.off >= b.n {
		return 0, io.EOF
	}
	if int64(len(p)) > b.n-b.off {
		p = p[:b.n-b.off]
	}
	k := 0
	if b.off < int64(len(b.head)) {
		k = copy(p, b.head[b.off:])
	}
	for i := k; i < len(p); i++ {
		p[i] = 'x'
	}
	b.off += int64(len(p))
	b.sent.Add(int64(len(p)))
	return len(p), nil
}

// rawPostResult is what a raw POST saw.
type rawPostResult struct {
	status   int    // 0: no answer
	kind     string // outcome kind
	sample   string
	sentMB   float64 // body bytes written when the answer came (or the connection failed)
	duration time.Duration
}

// rawPost sends a POST of a generated body of size bytes over its own
// connection, announcing the length or (chunked) not, and reads the answer
// while the body is still going out, as a server that refuses early
// expects. It is bounded by ctx.
func rawPost(ctx context.Context, addr, target string, size int64, announce bool) rawPostResult {
	t0 := time.Now()
	var sent atomic.Int64
	res := func(kind, sample string, status int) rawPostResult {
		return rawPostResult{status: status, kind: kind, sample: sample, sentMB: float64(sent.Load()) / (1 << 20), duration: time.Since(t0)}
	}
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return res(transportKind(err), err.Error(), 0)
	}
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	head := fmt.Sprintf("POST %s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nAccept: application/json, text/event-stream\r\n"+
		"%s: %s\r\nConnection: close\r\n", target, addr, mcp.HeaderProtocolVersion, mcp.ProtocolVersion20251125)
	if announce {
		head += fmt.Sprintf("Content-Length: %d\r\n\r\n", size)
	} else {
		head += "Transfer-Encoding: chunked\r\n\r\n"
	}
	go func() {
		if _, err := io.WriteString(conn, head); err != nil {
			return
		}
		body := newAbuseBody(size, &sent)
		if announce {
			_, _ = io.CopyBuffer(conn, body, make([]byte, 64<<10))
			return
		}
		cw := httputil.NewChunkedWriter(conn)
		if _, err := io.CopyBuffer(cw, body, make([]byte, 64<<10)); err == nil {
			_ = cw.Close()
			_, _ = io.WriteString(conn, "\r\n")
		}
	}()
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		if ctx.Err() != nil {
			return res("no answer within the probe's time", "", 0)
		}
		return res(transportKind(err), err.Error(), 0)
	}
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	resp.Body.Close()
	kind, sample := rpcKind(resp.StatusCode, resp.Header.Get("Content-Type"), b)
	return res(kind, sample, resp.StatusCode)
}

// openSSESession opens an SSE stream (GET /sse) and returns the path of its
// message endpoint (/message?sessionId=…); the stream is drained until close
// is called.
func openSSESession(ctx context.Context, base string) (endpoint string, closeFn func(), err error) {
	sctx, cancel := context.WithCancel(ctx)
	req, err := http.NewRequestWithContext(sctx, http.MethodGet, base+"/sse", nil)
	if err != nil {
		cancel()
		return "", nil, err
	}
	req.Header.Set("Accept", "text/event-stream")
	tr := &http.Transport{DisableKeepAlives: true}
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		cancel()
		return "", nil, fmt.Errorf("opening an SSE stream: %w", err)
	}
	closeFn = func() { cancel(); resp.Body.Close(); tr.CloseIdleConnections() }
	if resp.StatusCode != http.StatusOK {
		closeFn()
		return "", nil, fmt.Errorf("opening an SSE stream: HTTP %s", resp.Status)
	}
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(resp.Body)
		event := ""
		for sc.Scan() {
			line := sc.Text()
			if e, ok := strings.CutPrefix(line, "event:"); ok {
				event = strings.TrimSpace(e)
			} else if d, ok := strings.CutPrefix(line, "data:"); ok && event == "endpoint" {
				select {
				case found <- strings.TrimSpace(d):
				default:
				}
			}
		}
	}()
	select {
	case endpoint = <-found:
	case <-time.After(30 * time.Second):
		closeFn()
		return "", nil, errors.New("the SSE stream sent no endpoint event within 30 s")
	}
	if i := strings.Index(endpoint, "://"); i >= 0 { // an absolute URL: keep the path
		if j := strings.Index(endpoint[i+3:], "/"); j >= 0 {
			endpoint = endpoint[i+3+j:]
		}
	}
	return endpoint, closeFn, nil
}

// procFDs counts a process's open file descriptors.
func procFDs(pid int) (int, error) {
	fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		return 0, fmt.Errorf("counting the server's open files: %w", err)
	}
	return len(fds), nil
}
