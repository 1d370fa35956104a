package pgtest

import (
	"net"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Proxy forwards a loopback port to a PostgreSQL server, so that a test can
// cut the server off from its clients and bring it back on the same address
// (an outage) without touching the server, which other tests share.
type Proxy struct {
	// Addr is the loopback address the proxy listens on (host:port).
	Addr string
	// DSN is the server's DSN with Addr in place of its host and port:
	// what the code under test connects with.
	DSN string

	t      testing.TB
	target string
	mu     sync.Mutex
	ln     net.Listener
	conns  []net.Conn
	mute   []*atomic.Bool // each open connection's: Stall sets it
}

// NewProxy starts a proxy to the server dsn names (a URL with a host; t is
// skipped otherwise). It is taken down when t ends.
func NewProxy(t testing.TB, dsn string) *Proxy {
	t.Helper()
	u, err := url.Parse(dsn)
	if err != nil || u.Host == "" {
		t.Skipf("the test server's DSN is not a URL with a host: %v", err)
	}
	p := &Proxy{t: t, target: u.Host}
	if !strings.Contains(p.target, ":") {
		p.target += ":5432"
	}
	p.Up()
	p.Addr = p.ln.Addr().String()
	u.Host = p.Addr
	p.DSN = u.String()
	t.Cleanup(p.Down)
	return p
}

// Up accepts connections again (on Addr, once it is known), each forwarded
// to the server.
func (p *Proxy) Up() {
	p.t.Helper()
	addr := "127.0.0.1:0"
	if p.Addr != "" {
		addr = p.Addr
	}
	var ln net.Listener
	var err error
	for range 100 { // the old socket may linger a moment
		if ln, err = net.Listen("tcp", addr); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		p.t.Fatalf("pgtest: proxy listen %s: %v", addr, err)
	}
	p.mu.Lock()
	p.ln = ln
	p.mu.Unlock()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s, err := net.Dial("tcp", p.target)
			if err != nil {
				c.Close()
				continue
			}
			mute := &atomic.Bool{}
			p.mu.Lock()
			p.conns, p.mute = append(p.conns, c, s), append(p.mute, mute)
			p.mu.Unlock()
			go pump(s, c, mute)
			go pump(c, s, mute)
		}
	}()
}

// pump copies src to dst until either fails, dropping what it reads while
// mute is set, then closes dst.
func pump(dst, src net.Conn, mute *atomic.Bool) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 && !mute.Load() {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				break
			}
		}
		if err != nil {
			break
		}
	}
	dst.Close()
}

// Stall silences the connections open now, both ways, leaving them open:
// a network path that died without a reset, on which a query waits for its
// timeout. New connections are served as before.
func (p *Proxy) Stall() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, m := range p.mute {
		m.Store(true)
	}
}

// Refuse refuses new connections, leaving those open as they are.
func (p *Proxy) Refuse() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln != nil {
		p.ln.Close()
		p.ln = nil
	}
}

// Down cuts every connection and refuses new ones until Up: to its clients
// the server is gone.
func (p *Proxy) Down() {
	p.Refuse()
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.conns {
		c.Close()
	}
	p.conns, p.mute = nil, nil
}
