package backend_test

import (
	"context"
	"errors"
	"io"
	"net"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/mcp-sync/mcp-sync/backend"
	"github.com/mcp-sync/mcp-sync/internal/pgtest"
)

// TestUnavailableStoreIsRetryable: a call made while PostgreSQL cannot be
// reached fails as ErrUnavailable (retry), not as an internal error, and
// its message names no server address.
func TestUnavailableStoreIsRetryable(t *testing.T) {
	dsn := pgtest.DSN(t)
	u, err := url.Parse(dsn)
	if err != nil || u.Host == "" {
		t.Skip("the test server's DSN is not a URL with a host")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s, err := net.Dial("tcp", u.Host)
			if err != nil {
				c.Close()
				continue
			}
			mu.Lock()
			conns = append(conns, c, s)
			mu.Unlock()
			go func() { _, _ = io.Copy(s, c); s.Close() }()
			go func() { _, _ = io.Copy(c, s); c.Close() }()
		}
	}()
	sch := pgtest.Schema(t, dsn, t.Name())
	proxied := *u
	proxied.Host = ln.Addr().String()
	e := openReplica(t, proxied.String(), sch, "a")
	if _, err := e.Mutate(context.Background(), "putNote", mustJSON(RNote{ID: "before"})); err != nil {
		t.Fatal(err)
	}
	ln.Close() // the server goes away
	mu.Lock()
	for _, c := range conns {
		c.Close()
	}
	mu.Unlock()
	_, err = e.Mutate(context.Background(), "putNote", mustJSON(RNote{ID: "during"}))
	if backend.KindOf(err) != backend.ErrUnavailable || !errors.Is(err, backend.ErrUnavailable) {
		t.Fatalf("Mutate during the outage = %v (kind %v), want ErrUnavailable", err, backend.KindOf(err))
	}
	if strings.Contains(err.Error(), ln.Addr().String()) || strings.Contains(err.Error(), "internal error") || !strings.Contains(err.Error(), "retry") {
		t.Fatalf("message %q: want a retry hint, no address, no internal error", err)
	}
	if _, _, _, err := e.Get(context.Background(), "notes", "before"); backend.KindOf(err) != backend.ErrUnavailable {
		t.Fatalf("Get during the outage = %v, want ErrUnavailable", err)
	}
}
