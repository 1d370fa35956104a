package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mcp-sync/mcp-sync/client"
	"github.com/mcp-sync/mcp-sync/examples/todo"
	"github.com/mcp-sync/mcp-sync/wire"
)

// abuseProbe is one probe's figures.
type abuseProbe struct {
	Name     string         `json:"name"`
	Sent     int            `json:"sent"`
	Expected string         `json:"expected"`
	Met      bool           `json:"met"`
	Seen     string         `json:"seen"`
	Seconds  float64        `json:"seconds"`
	Outcomes []abuseOutcome `json:"outcomes"`
	// ServerRSSMB is the server's RSS when the probe ended (the probes run
	// at once: a hint of which one holds memory, not a measure of it).
	ServerRSSMB float64 `json:"serverRSSMBAtEnd"`
}

// abuseBodyParallel is how many oversize bodies are in flight at once: a
// server without a body limit holds each whole in memory.
const abuseBodyParallel = 4

// probeBodies posts cfg.Bodies oversize bodies to path (half announcing
// their length, half chunked).
func probeBodies(ctx context.Context, cfg abuseConfig, addr, path, name string) abuseProbe {
	t0 := time.Now()
	tally := newAbuseTally()
	var (
		mu      sync.Mutex
		maxSent float64
		wg      sync.WaitGroup
		sem     = make(chan struct{}, abuseBodyParallel)
	)
	for i := range cfg.Bodies {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			if ctx.Err() != nil {
				tally.add("not sent: the probe's time ran out", "")
				return
			}
			announce := i%2 == 0
			mode := "chunked"
			if announce {
				mode = "Content-Length"
			}
			pctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
			defer cancel()
			r := rawPost(pctx, addr, path, cfg.BodyBytes, announce)
			tally.add(mode+" → "+r.kind, r.sample)
			mu.Lock()
			maxSent = max(maxSent, r.sentMB)
			mu.Unlock()
		}()
	}
	wg.Wait()
	p := abuseProbe{Name: name, Sent: cfg.Bodies, Outcomes: tally.outcomes(), Seconds: time.Since(t0).Seconds(),
		Expected: fmt.Sprintf("HTTP 413 for each %.0f MB body, before the server reads it whole", float64(cfg.BodyBytes)/(1<<20))}
	p.Met = tally.count("Content-Length → HTTP 413")+tally.count("chunked → HTTP 413") == cfg.Bodies
	p.Seen = fmt.Sprintf("at most %.1f of %.1f MB sent before the answer (or the failure)", maxSent, float64(cfg.BodyBytes)/(1<<20))
	return p
}

// abuseOwnSessions bounds the sessions the phase opens besides the probe's
// (the normal client, the action callers, the subscribing session, the SSE
// stream).
const abuseOwnSessions = 16

// probeSessions opens cfg.Sessions legacy sessions (initialize, never
// closed) over cfg.Conns keep-alive connections.
func probeSessions(ctx context.Context, cfg abuseConfig, rpc *abuseRPC) abuseProbe {
	t0 := time.Now()
	tally := newAbuseTally()
	var next atomic.Int64
	var wg sync.WaitGroup
	for range cfg.Conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1))
				if i > cfg.Sessions {
					return
				}
				if ctx.Err() != nil {
					tally.add("not sent: the probe's time ran out", "")
					continue
				}
				rctx, cancel := context.WithTimeout(ctx, 30*time.Second)
				kind, sample, session := rpc.post(rctx, "", initializeMsg(i))
				cancel()
				if kind == "ok" && session == "" {
					kind = "ok without a session id"
				}
				tally.add(kind, sample)
			}
		}()
	}
	wg.Wait()
	ok := tally.count("ok")
	p := abuseProbe{Name: "sessions (legacy initialize, never closed)", Sent: cfg.Sessions, Outcomes: tally.outcomes(),
		Seconds:  time.Since(t0).Seconds(),
		Expected: fmt.Sprintf("at most %d accepted (the sessions cap), the rest refused with a clear error (HTTP status or JSON-RPC error)", cfg.expectSessions)}
	// The phase's own clients hold a few sessions already: the probe gets
	// the cap less those, give or take.
	p.Met = ok <= cfg.expectSessions && ok >= min(cfg.Sessions, cfg.expectSessions-abuseOwnSessions) &&
		ok+clearRefusals(tally) == cfg.Sessions
	p.Seen = fmt.Sprintf("%d accepted, %d refused", ok, cfg.Sessions-ok)
	return p
}

// clearRefusals counts the answers that are an HTTP error status or a
// JSON-RPC error: a refusal a client can read, not a dropped connection.
func clearRefusals(t *abuseTally) int {
	n := 0
	for _, o := range t.outcomes() {
		if strings.HasPrefix(o.Kind, "HTTP 4") || strings.HasPrefix(o.Kind, "HTTP 5") || strings.HasPrefix(o.Kind, "JSON-RPC ") {
			n += o.Count
		}
	}
	return n
}

// probeSubscriptions subscribes one legacy session to cfg.Subs distinct rows.
func probeSubscriptions(ctx context.Context, cfg abuseConfig, rpc *abuseRPC, session string) abuseProbe {
	t0 := time.Now()
	tally := newAbuseTally()
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(cfg.Conns, 4) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1))
				if i > cfg.Subs {
					return
				}
				if ctx.Err() != nil {
					tally.add("not sent: the probe's time ran out", "")
					continue
				}
				uri := wire.RowURI(todo.Todos.Name(), fmt.Sprintf("abuse-sub-%05d", i))
				rctx, cancel := context.WithTimeout(ctx, 30*time.Second)
				kind, sample, _ := rpc.post(rctx, session, map[string]any{"jsonrpc": "2.0", "id": i, "method": "resources/subscribe",
					"params": map[string]any{"uri": uri}})
				cancel()
				tally.add(kind, sample)
			}
		}()
	}
	wg.Wait()
	ok := tally.count("ok")
	p := abuseProbe{Name: "subscriptions on one session", Sent: cfg.Subs, Outcomes: tally.outcomes(), Seconds: time.Since(t0).Seconds(),
		Expected: fmt.Sprintf("%d acknowledged (the per-session cap), the rest a JSON-RPC error naming the limit", min(cfg.Subs, cfg.expectSubs))}
	jsonrpc := 0
	for _, o := range p.Outcomes {
		if strings.HasPrefix(o.Kind, "JSON-RPC ") {
			jsonrpc += o.Count
		}
	}
	// The session is fresh: exactly the cap's worth is acknowledged.
	p.Met = ok == min(cfg.Subs, cfg.expectSubs) && ok+jsonrpc == cfg.Subs
	p.Seen = fmt.Sprintf("%d acknowledged, %d refused", ok, cfg.Subs-ok)
	return p
}

// heldConn is a probe connection waiting to be cut by the server.
type heldConn struct {
	conn net.Conn
	cut  chan struct{} // closed when the server answered or closed it
	why  string        // how it ended; read after cut is closed
	at   time.Duration // how long after it was opened
}

// watchCut reads the connection until the server answers or closes it;
// t0 is when the connection was opened.
func (h *heldConn) watchCut(r *bufio.Reader, t0 time.Time) {
	defer close(h.cut)
	resp, err := http.ReadResponse(r, nil)
	h.at = time.Since(t0)
	if err == nil {
		resp.Body.Close()
		h.why = fmt.Sprintf("cut by the server (HTTP %d)", resp.StatusCode)
		return
	}
	how := strings.TrimPrefix(transportKind(err), "transport: ")
	if how == "closed by the server" {
		how = "connection closed"
	}
	h.why = "cut by the server (" + how + ")"
}

// probeSlowBodies opens cfg.Slow connections that each send a POST's
// headers, then its body at 1 byte every 2 s, and waits up to cfg.Hold for
// the server to cut them.
func probeSlowBodies(ctx context.Context, cfg abuseConfig, addr string) abuseProbe {
	head := fmt.Sprintf("POST %s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nAccept: application/json, text/event-stream\r\nContent-Length: 4096\r\n\r\n{",
		"/mcp", addr)
	return holdConns(ctx, cfg, addr, cfg.Slow, "slow bodies (1 byte / 2 s)", "cut by the server's body read timeout within the hold",
		func(c net.Conn, r *bufio.Reader) error {
			_, err := io.WriteString(c, head)
			return err
		},
		func(c net.Conn) error { _, err := c.Write([]byte(" ")); return err })
}

// probeIdleConns opens cfg.Idle connections that each make one request
// (GET /, answered 404), then stay open and idle, and waits up to cfg.Hold
// for the server to close them.
func probeIdleConns(ctx context.Context, cfg abuseConfig, addr string) abuseProbe {
	return holdConns(ctx, cfg, addr, cfg.Idle, "idle keep-alive connections", "closed by the server's idle timeout within the hold",
		func(c net.Conn, r *bufio.Reader) error {
			if _, err := fmt.Fprintf(c, "GET / HTTP/1.1\r\nHost: %s\r\n\r\n", addr); err != nil {
				return err
			}
			resp, err := http.ReadResponse(r, nil)
			if err != nil {
				return err
			}
			_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
			resp.Body.Close()
			return nil
		}, nil)
}

// holdConns opens n connections, starts each with open, then (every 2 s)
// trickles on them with tick, until the server has cut every one or
// cfg.Hold has passed; then closes what is left.
func holdConns(ctx context.Context, cfg abuseConfig, addr string, n int, name, expected string,
	open func(net.Conn, *bufio.Reader) error, tick func(net.Conn) error) abuseProbe {
	t0 := time.Now()
	tally := newAbuseTally()
	var (
		held []*heldConn
		mu   sync.Mutex
		wg   sync.WaitGroup
		sem  = make(chan struct{}, 32)
		d    net.Dialer
	)
	// Opening is bounded by the hold too: a server that stops accepting
	// must not stretch the probe to n times a dial's timeout.
	octx, cancel := context.WithTimeout(ctx, cfg.Hold)
	defer cancel()
	for range n {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			if octx.Err() != nil {
				tally.add("not opened: the probe's time ran out", "")
				return
			}
			dctx, cancel := context.WithTimeout(octx, 10*time.Second)
			c, err := d.DialContext(dctx, "tcp", addr)
			cancel()
			if err != nil {
				tally.add("could not connect: "+transportKind(err), err.Error())
				return
			}
			opened := time.Now()
			r := bufio.NewReader(c)
			_ = c.SetDeadline(time.Now().Add(10 * time.Second))
			if err := open(c, r); err != nil {
				tally.add("failed to start: "+transportKind(err), err.Error())
				c.Close()
				return
			}
			_ = c.SetDeadline(time.Time{})
			h := &heldConn{conn: c, cut: make(chan struct{})}
			go h.watchCut(r, opened)
			mu.Lock()
			held = append(held, h)
			mu.Unlock()
		}()
	}
	wg.Wait()
	deadline := time.NewTimer(cfg.Hold)
	defer deadline.Stop()
	ticker := time.NewTicker(2 * time.Second)
	defer ticker.Stop()
	for open := len(held); open > 0; {
		select {
		case <-deadline.C:
			open = 0
		case <-ctx.Done():
			open = 0
		case <-ticker.C:
			open = 0
			for _, h := range held {
				select {
				case <-h.cut:
				default:
					open++
					if tick != nil {
						_ = h.conn.SetWriteDeadline(time.Now().Add(time.Second))
						_ = tick(h.conn)
					}
				}
			}
		}
	}
	var times []time.Duration
	for _, h := range held {
		select {
		case <-h.cut:
			tally.add(h.why, "")
			times = append(times, h.at)
		default:
			tally.add(fmt.Sprintf("still open after the hold (%s)", cfg.Hold), "")
		}
		h.conn.Close()
	}
	p := abuseProbe{Name: name, Sent: n, Expected: expected, Outcomes: tally.outcomes(), Seconds: time.Since(t0).Seconds()}
	p.Met = len(times) == n
	p.Seen = fmt.Sprintf("%d of %d cut", len(times), n)
	if len(times) > 0 {
		slices.Sort(times)
		p.Seen += fmt.Sprintf(", %.1f s (first) / %.1f s (median) / %.1f s (last) after they opened",
			times[0].Seconds(), times[len(times)/2].Seconds(), times[len(times)-1].Seconds())
	}
	return p
}

// aiGauge counts the chat requests in flight at the AI endpoint.
type aiGauge struct{ now, peak, total atomic.Int64 }

func (g *aiGauge) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/chat/completions") {
			g.total.Add(1)
			n := g.now.Add(1)
			for {
				if p := g.peak.Load(); n <= p || g.peak.CompareAndSwap(p, n) {
					break
				}
			}
			defer g.now.Add(-1)
		}
		h.ServeHTTP(w, r)
	})
}

// probeActions calls generateWithAI cfg.Actions times at once, spread over
// conns.
func probeActions(ctx context.Context, cfg abuseConfig, conns []*client.Conn, gauge *aiGauge) abuseProbe {
	t0 := time.Now()
	tally := newAbuseTally()
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		lat      []time.Duration
		progress atomic.Int64
		messages []string
	)
	digits := regexp.MustCompile(`[0-9]+`)
	start := make(chan struct{})
	for i := range cfg.Actions {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cn := conns[i%len(conns)]
			<-start
			cctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
			defer cancel()
			c0 := time.Now()
			id := fmt.Sprintf("abuse-ai-%04d", i)
			out, err := client.Action(cctx, cn, todo.Generate, todo.GenerateInput{ID: id, Prompt: "abuse " + id},
				client.WithProgress(func(_, _ float64, msg string) {
					progress.Add(1)
					mu.Lock()
					// One of each shape: "setTodo committed version N" differ only by N.
					if shape := digits.ReplaceAllString(msg, "N"); msg != "" && len(messages) < 5 && !slices.Contains(messages, shape) {
						messages = append(messages, shape)
					}
					mu.Unlock()
				}))
			d := time.Since(c0)
			var ce *client.CallError
			switch {
			case err == nil && out.Text != "":
				tally.add("ok", "")
				mu.Lock()
				lat = append(lat, d)
				mu.Unlock()
			case err == nil:
				tally.add("ok but an empty text", "")
			case errors.As(err, &ce):
				tally.add("tool error: "+string(ce.Kind), ce.Message)
			default:
				tally.add(transportKind(err), err.Error())
			}
		}()
	}
	close(start)
	wg.Wait()
	ok := tally.count("ok")
	p := abuseProbe{Name: "concurrent generateWithAI calls", Sent: cfg.Actions, Outcomes: tally.outcomes(), Seconds: time.Since(t0).Seconds(),
		Expected: fmt.Sprintf("some run, at most %d upstream AI requests at once; the rest wait or fail with a clear busy error", cfg.expectActions)}
	answered := ok
	for _, o := range p.Outcomes {
		if strings.HasPrefix(o.Kind, "tool error: ") && o.Kind != "tool error: handler" {
			answered += o.Count
		}
	}
	p.Met = ok > 0 && answered == cfg.Actions && gauge.peak.Load() <= int64(cfg.expectActions)
	p.Seen = fmt.Sprintf("%d ran; at most %d upstream AI requests at once; %d progress reports", ok, gauge.peak.Load(), progress.Load())
	if len(lat) > 0 {
		slices.Sort(lat)
		p.Seen += fmt.Sprintf("; ok calls took %.1f s (median) / %.1f s (max)", lat[len(lat)/2].Seconds(), lat[len(lat)-1].Seconds())
	}
	if len(messages) > 0 {
		p.Seen += fmt.Sprintf("; progress messages: %q", messages)
	}
	return p
}
