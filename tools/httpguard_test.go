package tools_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/mcp-sync/mcp-sync/tools"
	"github.com/mcp-sync/mcp-sync/wire"
)

// rawConn dials the server behind base.
func rawConn(t *testing.T, base string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// readStatus reads one response's status line and headers from c within d.
func readStatus(t *testing.T, c net.Conn, d time.Duration) (*http.Response, error) {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(d))
	return http.ReadResponse(bufio.NewReader(c), nil)
}

const initBody = `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"raw","version":"1"}}}`

// TestBodyLimit: a body over MaxBodyBytes is refused with 413 whether its
// Content-Length says so (before a byte of it is sent) or it comes chunked;
// a real client's oversize call fails naming the limit and writes nothing.
func TestBodyLimit(t *testing.T) {
	a := newApp(t)
	_, base := serveHTTP(t, a, tools.HTTPOptions{MaxBodyBytes: 64 << 10})

	for _, path := range []string{tools.PathStreamable, tools.PathSSEMessage + "?sessionId=x"} {
		c := rawConn(t, base)
		fmt.Fprintf(c, "POST %s HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 100000000\r\n\r\n", path)
		resp, err := readStatus(t, c, 30*time.Second)
		if err != nil {
			t.Fatalf("%s, Content-Length 100 MB, no body sent: no answer (%v); the server waits to read the body", path, err)
		}
		if resp.StatusCode != http.StatusRequestEntityTooLarge {
			t.Errorf("%s, Content-Length 100 MB: status %d, want 413", path, resp.StatusCode)
		}
	}

	// Chunked: the server must stop reading at the limit and answer.
	c := rawConn(t, base)
	fmt.Fprintf(c, "POST %s HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n", tools.PathStreamable)
	go func() {
		chunk := strings.Repeat("x", 16<<10)
		for range 640 { // 10 MiB at most; stops when the server closes
			if _, err := fmt.Fprintf(c, "%x\r\n%s\r\n", len(chunk), chunk); err != nil {
				return
			}
		}
	}()
	resp, err := readStatus(t, c, 30*time.Second)
	if err != nil {
		t.Fatalf("chunked 10 MiB body: no answer (%v)", err)
	}
	if resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Errorf("chunked 10 MiB body: status %d, want 413", resp.StatusCode)
	}
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
	if !strings.Contains(string(msg), "--max-body") {
		t.Errorf("the 413 does not name the limit's flag: %q", msg)
	}

	// A real client: the call fails with the limit named; nothing is written.
	for _, e := range eras {
		cl, _ := connect(t, base, e, nil)
		req := mcp.CallToolRequest{}
		req.Params.Name = "putItem"
		req.Params.Arguments = map[string]any{"key": "big-" + e.name, "name": strings.Repeat("y", 100<<10)}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		_, err := cl.CallTool(ctx, req)
		cancel()
		if err == nil || !strings.Contains(err.Error(), "413") {
			t.Errorf("%s: a 100 KiB call over a 64 KiB limit: want an error with 413, got %v", e.name, err)
		}
		if _, ok, _, _ := a.eng.Get(t.Context(), "items", "big-"+e.name); ok {
			t.Errorf("%s: the refused call was committed", e.name)
		}
	}
}

// TestSlowBodyCut: a body trickling in slower than BodyReadTimeout is cut
// with 408 and its connection closed.
func TestSlowBodyCut(t *testing.T) {
	a := newApp(t)
	_, base := serveHTTP(t, a, tools.HTTPOptions{BodyReadTimeout: time.Second})
	c := rawConn(t, base)
	fmt.Fprintf(c, "POST %s HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{", tools.PathStreamable)
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		for {
			select {
			case <-stop:
				return
			case <-time.After(300 * time.Millisecond):
			}
			if _, err := c.Write([]byte(" ")); err != nil {
				return
			}
		}
	}()
	resp, err := readStatus(t, c, 30*time.Second)
	if err != nil {
		t.Fatalf("a body sent 1 byte per 300 ms was still being read after 30 s (%v); want it cut after 1 s", err)
	}
	if resp.StatusCode != http.StatusRequestTimeout {
		t.Errorf("slow body: status %d, want 408", resp.StatusCode)
	}
}

// TestIdleKeepAliveClosed: a keep-alive connection idle past IdleTimeout is
// closed by the server.
func TestIdleKeepAliveClosed(t *testing.T) {
	a := newApp(t)
	_, base := serveHTTP(t, a, tools.HTTPOptions{IdleTimeout: time.Second})
	c := rawConn(t, base)
	fmt.Fprintf(c, "GET /nothing HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
	br := bufio.NewReader(c)
	_ = c.SetReadDeadline(time.Now().Add(30 * time.Second))
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	if _, err := br.ReadByte(); err != io.EOF {
		t.Errorf("an idle keep-alive connection was not closed within 30 s with a 1 s idle timeout: %v", err)
	}
}

// TestStreamsOutliveTimeouts: a GET stream is not cut by the body or idle
// timeouts: after three seconds of quiet (both timeouts are 1 s) an update
// still arrives on the same stream. The stream is read raw, since a client
// that reconnects would hide a cut.
func TestStreamsOutliveTimeouts(t *testing.T) {
	a := newApp(t)
	_, base := serveHTTP(t, a, tools.HTTPOptions{BodyReadTimeout: time.Second, IdleTimeout: time.Second,
		HeartbeatInterval: 500 * time.Millisecond})
	url := base + tools.PathStreamable
	id := postJSON(t, url, "", initBody).Header.Get("Mcp-Session-Id")
	if id == "" {
		t.Fatal("initialize returned no session id")
	}
	postJSON(t, url, id, `{"jsonrpc":"2.0","method":"notifications/initialized"}`)
	uri := wire.RowURI("items", "quiet")
	postJSON(t, url, id, `{"jsonrpc":"2.0","id":2,"method":"resources/subscribe","params":{"uri":"`+uri+`"}}`)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", url, nil)
	req.Header.Set("Accept", "text/event-stream")
	req.Header.Set("Mcp-Session-Id", id)
	req.Header.Set("MCP-Protocol-Version", "2025-11-25")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET stream: %s", resp.Status)
	}
	updated := make(chan error, 1)
	go func() {
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			if strings.Contains(sc.Text(), "notifications/resources/updated") && strings.Contains(sc.Text(), uri) {
				updated <- nil
				return
			}
		}
		updated <- fmt.Errorf("the stream ended (%v) before the update arrived: it was cut", sc.Err())
	}()
	time.Sleep(3 * time.Second)
	if _, err := a.eng.Mutate(context.Background(), "putItem", json.RawMessage(`{"key":"quiet","name":"after quiet"}`)); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-updated:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("after 3 s of quiet no update arrived on the stream within 30 s")
	}
}

// TestOriginChecked: a non-local Origin is refused with 403 on every
// endpoint; local origins, allowed ones and requests without Origin pass.
func TestOriginChecked(t *testing.T) {
	a := newApp(t)
	_, base := serveHTTP(t, a, tools.HTTPOptions{AllowedOrigins: []string{"https://app.example"}})
	status := func(method, path, origin string) (int, string) {
		req, _ := http.NewRequest(method, base+path, strings.NewReader(initBody))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "application/json, text/event-stream")
		if origin != "" {
			req.Header.Set("Origin", origin)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		resp, err := http.DefaultClient.Do(req.WithContext(ctx))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if resp.StatusCode == http.StatusForbidden {
			b, _ := io.ReadAll(resp.Body)
			return resp.StatusCode, string(b)
		}
		return resp.StatusCode, ""
	}
	for _, ep := range []struct{ method, path string }{{"POST", tools.PathStreamable}, {"GET", tools.PathSSE}, {"POST", tools.PathSSEMessage}} {
		for _, origin := range []string{"http://evil.example", "null", "http://localhost.evil.example", "http://127.0.0.1.evil.example:80"} {
			if code, msg := status(ep.method, ep.path, origin); code != http.StatusForbidden || !strings.Contains(msg, "--allow-origin") {
				t.Errorf("%s %s, Origin %s: status %d %q, want 403 naming --allow-origin", ep.method, ep.path, origin, code, msg)
			}
		}
	}
	for _, origin := range []string{"", "http://localhost:3000", "https://127.0.0.1", "http://[::1]:8080", "https://app.example"} {
		if code, _ := status("POST", tools.PathStreamable, origin); code == http.StatusForbidden {
			t.Errorf("Origin %q was refused", origin)
		}
	}
}

// TestOpenAddressNeedsToken: serving an address other machines can reach
// without a token is refused, with the reason; a token or InsecureNoToken
// lets it start.
func TestOpenAddressNeedsToken(t *testing.T) {
	a := newApp(t)
	srv, err := tools.New(a.eng, tools.Options{Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	for _, addr := range []string{"0.0.0.0:0", "192.0.2.10:0", ":0", "[::]:0", "example.com:0"} {
		// Should it start after all, it stops after a while instead of hanging.
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		err := srv.ServeHTTP(ctx, addr, tools.HTTPOptions{}, nil)
		cancel()
		if err == nil || !strings.Contains(err.Error(), "read and change all data") || !strings.Contains(err.Error(), "--token") {
			t.Errorf("serving %s without a token: want a refusal saying why, got %v", addr, err)
		}
	}
	for _, o := range []tools.HTTPOptions{{Token: "t"}, {InsecureNoToken: true}} {
		ctx, cancel := context.WithCancel(context.Background())
		started := false
		err := srv.ServeHTTP(ctx, "0.0.0.0:0", o, func(string) { started = true; cancel() })
		if err != nil || !started {
			t.Errorf("0.0.0.0 with %+v: did not start: %v", o, err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	if err := srv.ServeHTTP(ctx, "127.0.0.1:0", tools.HTTPOptions{}, func(string) { cancel() }); err != nil {
		t.Errorf("127.0.0.1 without a token refused: %v", err)
	}
}

// TestBodyLimitDefault: without options the limit is 4 MiB.
func TestBodyLimitDefault(t *testing.T) {
	a := newApp(t)
	_, base := serveHTTP(t, a, tools.HTTPOptions{})
	for size, want := range map[int]int{tools.DefaultMaxBodyBytes + 1: http.StatusRequestEntityTooLarge, tools.DefaultMaxBodyBytes: http.StatusBadRequest} {
		c := rawConn(t, base)
		fmt.Fprintf(c, "POST %s HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nMCP-Protocol-Version: 2025-11-25\r\nContent-Length: %d\r\n\r\n", tools.PathStreamable, size)
		go func() { _, _ = c.Write([]byte(strings.Repeat(" ", size))) }()
		resp, err := readStatus(t, c, 60*time.Second)
		if err != nil {
			t.Fatalf("a %d-byte body: no answer (%v)", size, err)
		}
		if resp.StatusCode != want {
			t.Errorf("a %d-byte body (of spaces) with the default limit: status %d, want %d", size, resp.StatusCode, want)
		}
	}
}

// TestBodyLimitOff: a negative MaxBodyBytes means no limit.
func TestBodyLimitOff(t *testing.T) {
	a := newApp(t)
	_, base := serveHTTP(t, a, tools.HTTPOptions{MaxBodyBytes: -1})
	size := tools.DefaultMaxBodyBytes + 1<<20
	c := rawConn(t, base)
	fmt.Fprintf(c, "POST %s HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nMCP-Protocol-Version: 2025-11-25\r\nContent-Length: %d\r\n\r\n", tools.PathStreamable, size)
	go func() { _, _ = c.Write([]byte(strings.Repeat(" ", size))) }()
	resp, err := readStatus(t, c, 60*time.Second)
	if err != nil {
		t.Fatalf("a %d-byte body: no answer (%v)", size, err)
	}
	if resp.StatusCode == http.StatusRequestEntityTooLarge {
		t.Errorf("a 5 MiB body with the limit off: 413")
	}
}

// TestTokenRequiredOrInvalid: a request with no token is told a token is
// required (a bare Bearer challenge); one with a wrong token gets RFC 6750's
// error="invalid_token"; the right one gets through.
func TestTokenRequiredOrInvalid(t *testing.T) {
	a := newApp(t)
	_, base := serveHTTP(t, a, tools.HTTPOptions{Token: "right"})
	try := func(auth string) (int, string, string) {
		req, _ := http.NewRequest("POST", base+tools.PathStreamable, strings.NewReader(initBody))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "application/json, text/event-stream")
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		resp, err := http.DefaultClient.Do(req.WithContext(ctx))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, resp.Header.Get("WWW-Authenticate"), string(b)
	}
	if code, h, body := try(""); code != http.StatusUnauthorized || !strings.HasPrefix(h, "Bearer ") || strings.Contains(h, "error=") || !strings.Contains(body, "token required") {
		t.Errorf("no token: %d, WWW-Authenticate %q, body %q", code, h, body)
	}
	if code, h, body := try("Bearer wrong"); code != http.StatusUnauthorized || !strings.Contains(h, `error="invalid_token"`) || !strings.Contains(body, "invalid token") {
		t.Errorf("wrong token: %d, WWW-Authenticate %q, body %q", code, h, body)
	}
	if code, h, _ := try("Bearer right"); code != http.StatusOK || h != "" {
		t.Errorf("right token: %d, WWW-Authenticate %q", code, h)
	}
}
