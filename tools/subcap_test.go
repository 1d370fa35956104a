package tools_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/mcp-sync/mcp-sync/tools"
	"github.com/mcp-sync/mcp-sync/wire"
)

// TestServerWideSubscriptionCap: Options.MaxSubscriptions bounds the
// subscriptions of all sessions together, and it is what bounds 2026-07-28
// listen streams, which have no session: once the server is full, another
// session's subscribe and a listen are refused naming the limit, and a
// subscription given up makes room again.
func TestServerWideSubscriptionCap(t *testing.T) {
	a := newApp(t)
	srv, base := serveOpts(t, a.eng, tools.Options{MaxSubscriptions: 3}, tools.HTTPOptions{})
	ctx := context.Background()
	legacy := eras[1]
	first, _ := connect(t, base, legacy, nil)
	second, _ := connect(t, base, legacy, nil)
	subscribe(t, first, legacy, wire.RowURI("items", "0"))
	subscribe(t, first, legacy, wire.RowURI("items", "1"))
	subscribe(t, second, legacy, wire.RowURI("items", "2"))
	//lint:ignore SA1019 the legacy protocol era is tested on purpose
	err := second.Subscribe(ctx, mcp.SubscribeRequest{Params: mcp.SubscribeParams{URI: wire.RowURI("items", "3")}})
	if err == nil || !strings.Contains(err.Error(), "maximum of 3 resource subscriptions across all sessions") {
		t.Errorf("a fourth subscription on the server: want an error naming the server-wide limit, got %v", err)
	}

	modern, _ := connect(t, base, eras[0], nil)
	lctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	err = modern.Listen(lctx, mcp.SubscriptionFilter{ResourceSubscriptions: []string{wire.RowURI("items", "4")}})
	if err == nil || !strings.Contains(err.Error(), "across all sessions") {
		t.Errorf("a listen while the server is full: want an error naming the server-wide limit, got %v", err)
	}

	//lint:ignore SA1019 the legacy protocol era is tested on purpose
	if err := first.Unsubscribe(ctx, mcp.UnsubscribeRequest{Params: mcp.UnsubscribeParams{URI: wire.RowURI("items", "0")}}); err != nil {
		t.Fatal(err)
	}
	subscribe(t, second, legacy, wire.RowURI("items", "3"))
	if got := srv.Stats().Subscriptions; got != 3 {
		t.Errorf("subscriptions held: %d, want 3", got)
	}
}
