package pgtest

import (
	"io"
	"net"
	"net/url"
	"strings"
	"sync"
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
			p.mu.Lock()
			p.conns = append(p.conns, c, s)
			p.mu.Unlock()
			go func() { _, _ = io.Copy(s, c); s.Close() }()
			go func() { _, _ = io.Copy(c, s); c.Close() }()
		}
	}()
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
	p.conns = nil
}
