package client

import (
	"context"
	"fmt"
	"time"

	mgclient "github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/mcp"
)

// Subscribe asks for updates of the resource at uri: the channel receives a
// value after each (coalesced: at most one pending), and is closed by stop
// or when the connection closes. It outlives reconnects.
func (cn *Conn) Subscribe(ctx context.Context, uri string) (updates <-chan struct{}, stop func(), err error) {
	b, stop, err := cn.watch(ctx, uri, false)
	if err != nil {
		return nil, nil, err
	}
	return b.wake, stop, nil
}

// subscribing is a URI's subscription by its first watch: later watches of
// the URI wait for it, so that none returns before the server has it.
type subscribing struct {
	done chan struct{}
	err  error // set before done closes
}

// watch subscribes to uri and returns the inbox its updates arrive in (keep:
// with the changes they carry), and a function that stops it.
func (cn *Conn) watch(ctx context.Context, uri string, keep bool) (*inbox, func(), error) {
	b := &inbox{wake: make(chan struct{}, 1), keep: keep}
	cn.mu.Lock()
	if cn.closed {
		cn.mu.Unlock()
		return nil, nil, fmt.Errorf("%w: the connection is closed", ErrTransport)
	}
	if cn.watches[uri] == nil {
		cn.watches[uri] = map[*inbox]bool{}
	}
	cn.watches[uri][b] = true
	cn.mu.Unlock()
	stop := func() {
		cn.mu.Lock()
		defer cn.mu.Unlock()
		if cn.watches != nil && cn.watches[uri][b] {
			delete(cn.watches[uri], b)
			if len(cn.watches[uri]) == 0 {
				delete(cn.watches, uri) // not subscribed again on a reconnect
				delete(cn.subscribed, uri)
				if cn.legacy && !cn.closed {
					go cn.unsubscribe(uri)
				}
			}
			close(b.wake)
		}
	}
	for {
		// The first watch of a URI subscribes; later ones wait for it, and
		// take over if it failed (its ctx may have ended, not theirs).
		cn.mu.Lock()
		sub := cn.subscribed[uri]
		mine := sub == nil
		if mine {
			sub = &subscribing{done: make(chan struct{})}
			cn.subscribed[uri] = sub
		}
		cn.mu.Unlock()
		if !mine {
			select {
			case <-sub.done:
			case <-ctx.Done():
				stop()
				return nil, nil, fmt.Errorf("%w: subscribing to %s: %v", ErrTransport, uri, ctx.Err())
			}
			if sub.err == nil {
				return b, stop, nil
			}
			continue
		}
		// Not under cn.mu: mcp-go's stdio and SSE transports deliver
		// notifications (which take cn.mu) on the goroutine that reads
		// this call's reply.
		err := cn.takeTurn(ctx)
		if err == nil {
			cn.mu.Lock()
			c := cn.c // read in turn: a Reconnect may have replaced it
			cn.mu.Unlock()
			err = cn.subscribeAll(ctx, c, []string{uri})
			cn.endTurn()
		}
		if err != nil {
			cn.mu.Lock()
			if cn.subscribed[uri] == sub {
				delete(cn.subscribed, uri) // the next watch tries again
			}
			cn.mu.Unlock()
		}
		sub.err = err
		close(sub.done)
		if err != nil {
			stop()
			return nil, nil, err
		}
		return b, stop, nil
	}
}

// watchedLocked lists the watched URIs. Callers hold cn.mu.
func (cn *Conn) watchedLocked() []string {
	uris := make([]string, 0, len(cn.watches))
	for uri := range cn.watches {
		uris = append(uris, uri)
	}
	return uris
}

// takeTurn waits, as long as ctx allows, for the turn to subscribe or
// unsubscribe; endTurn gives it back. A channel, not a mutex, so that a
// caller's ctx bounds the wait behind a slow server.
func (cn *Conn) takeTurn(ctx context.Context) error {
	select {
	case cn.subTurn <- struct{}{}:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("%w: waiting to subscribe: %v", ErrTransport, ctx.Err())
	}
}

func (cn *Conn) endTurn() { <-cn.subTurn }

// unsubscribe ends a 2025-11-25 subscription to uri once nothing watches it,
// so the server stops sending its notifications. In turn, so that it cannot
// overtake a new watch's subscribe to the same URI; skipped if one has come
// meanwhile. (From 2026-07-28 the stream keeps the URI until it is next
// replaced, and the client drops its notifications.)
func (cn *Conn) unsubscribe(uri string) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if cn.takeTurn(ctx) != nil {
		return // a server this slow: leave the subscription
	}
	defer cn.endTurn()
	cn.mu.Lock()
	c, watched := cn.c, len(cn.watches[uri]) > 0
	cn.mu.Unlock()
	if watched || c == nil {
		return
	}
	//lint:ignore SA1019 the legacy era unsubscribes with resources/unsubscribe
	_ = c.Unsubscribe(ctx, mcp.UnsubscribeRequest{Params: mcp.UnsubscribeParams{URI: uri}}) // a failed connection drops it anyway
}

// subscribeAll asks c for updates of uris: one resources/subscribe each
// before 2026-07-28; from it, one subscriptions/listen stream for all of
// them (the filter is the whole set, so it replaces the previous stream).
func (cn *Conn) subscribeAll(ctx context.Context, c *mgclient.Client, uris []string) error {
	if cn.legacy {
		for _, uri := range uris {
			//lint:ignore SA1019 the legacy era subscribes with resources/subscribe
			if err := c.Subscribe(ctx, mcp.SubscribeRequest{Params: mcp.SubscribeParams{URI: uri}}); err != nil {
				return fmt.Errorf("%w: subscribing to %s: %v", ErrTransport, uri, err)
			}
		}
		return nil
	}
	lctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	acked := make(chan struct{})
	cn.mu.Lock()
	if cn.closed || c != cn.c {
		cn.mu.Unlock()
		cancel()
		return fmt.Errorf("%w: the connection is closed or replaced", ErrTransport)
	}
	if cn.listen != nil {
		cn.listen()
	}
	cn.listen = cancel
	cn.acked = acked
	uris = cn.watchedLocked() // the set now: a concurrent watch may have grown it
	cn.mu.Unlock()
	ended := make(chan struct{})
	go func() {
		// The stream ends when lctx does (a new set, a reconnect, Close); if
		// it ends otherwise, open it again, so updates keep coming instead
		// of watchers falling back to polling.
		backoff := 50 * time.Millisecond
		for first := true; ; first = false {
			_ = c.Listen(lctx, mcp.SubscriptionFilter{ResourceSubscriptions: uris})
			if first {
				close(ended)
			}
			select {
			case <-lctx.Done():
				return
			case <-time.After(backoff):
			}
			backoff = min(2*backoff, 2*time.Second)
		}
	}()
	// Return once the server has the stream (it acknowledges it), so that
	// every change committed after a Watch starts is notified, instead of
	// waiting for the watcher's next poll.
	select {
	case <-acked:
	case <-ended: // refused or cut: the stream retries, watchers poll
	case <-ctx.Done():
	case <-time.After(listenAckWait):
	}
	cn.mu.Lock()
	closed := cn.closed
	cn.mu.Unlock()
	if closed { // the stream ended with the connection: no watch can go on
		return fmt.Errorf("%w: the connection is closed", ErrTransport)
	}
	return nil
}

// listenAckWait bounds how long a watch waits for the server to acknowledge
// its subscriptions/listen stream.
const listenAckWait = 5 * time.Second
