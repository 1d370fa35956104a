package tools_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/client/transport"
	"github.com/mark3labs/mcp-go/mcp"

	"github.com/mcp-sync/mcp-sync/tools"
	"github.com/mcp-sync/mcp-sync/wire"
)

// BenchmarkNoticesToSubscribers: one row rewritten (growing 20 B a write,
// as a streamed answer does) and watched by 100 mcp-go clients over legacy
// streamable HTTP; an op is a commit until every subscriber has its
// notification. "plain" subscribers take bare notifications, "changes" ones
// declare wire.ChangesMetaKey and get the changes in each notification.
func BenchmarkNoticesToSubscribers(b *testing.B) {
	for _, mode := range []string{"plain", "changes"} {
		b.Run(mode, func(b *testing.B) {
			a := newApp(b)
			_, base := serveHTTP(b, a, tools.HTTPOptions{})
			const subscribers = 100
			got := make(chan struct{}, subscribers*4)
			uri := wire.RowURI("items", "row")
			legacy := era{"http-legacy", "http", true}
			var extra []client.ClientOption
			if mode == "changes" {
				extra = append(extra, wantsChanges())
			}
			var carried sync.Map // a subscriber's last notice carried changes
			for i := range subscribers {
				// As connect does, with a quiet transport: its log lines
				// would break up the benchmark's output.
				//lint:ignore SA1019 the legacy protocol era keeps sessions, which the registry serves
				tr, err := transport.NewStreamableHTTP(base+tools.PathStreamable, transport.WithContinuousListening(),
					transport.WithHTTPLogger(slog.New(slog.DiscardHandler)))
				if err != nil {
					b.Fatal(err)
				}
				c, _ := start(b, tr, legacy, extra...)
				c.OnNotification(func(n mcp.JSONRPCNotification) {
					if n.Method == string(mcp.MethodNotificationResourceUpdated) {
						_, ok := n.Params.Meta[wire.ChangesMetaKey]
						carried.Store(i, ok)
						got <- struct{}{}
					}
				})
				//lint:ignore SA1019 the legacy protocol era keeps sessions, which the registry serves
				if err := c.Subscribe(context.Background(), mcp.SubscribeRequest{Params: mcp.SubscribeParams{URI: uri}}); err != nil {
					b.Fatal(err)
				}
			}
			ctx := context.Background()
			lat := make([]time.Duration, 0, b.N)
			b.ResetTimer()
			for i := range b.N {
				in, _ := json.Marshal(PutIn{Key: "row", Name: strings.Repeat("x", 20*(1+i%200))})
				t0 := time.Now()
				if _, err := a.eng.Mutate(ctx, "putItem", in); err != nil {
					b.Fatal(err)
				}
				timeout := time.After(testWait)
				for range subscribers {
					select {
					case <-got:
					case <-timeout:
						b.Fatalf("write %d: not every subscriber was notified", i)
					}
				}
				lat = append(lat, time.Since(t0))
			}
			b.StopTimer()
			if v, _ := carried.Load(0); v != (mode == "changes") {
				b.Fatalf("%s: the notifications carried changes: %v", mode, v)
			}
			slices.Sort(lat)
			b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
			b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
		})
	}
}

// BenchmarkListRows1000: list_rows of 1,000 rows over streamable HTTP.
func BenchmarkListRows1000(b *testing.B) {
	a := newApp(b)
	_, base := serveHTTP(b, a, tools.HTTPOptions{})
	fill(b, a, 1000)
	c, _ := connect(b, base, era{"http-modern", "http", false}, nil)
	b.ResetTimer()
	for range b.N {
		res := call(b, c, wire.ToolListRows, map[string]any{"table": "items", "limit": 1000})
		if res.IsError || len(res.Content) == 0 {
			b.Fatalf("list_rows: %s", text(res))
		}
	}
}

// fill writes n rows of about 200 B to items, concurrently so that commits
// are grouped.
func fill(b *testing.B, a *app, n int) {
	b.Helper()
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for w := range 16 {
		wg.Go(func() {
			for i := w; i < n; i += 16 {
				in, _ := json.Marshal(PutIn{Key: fmt.Sprintf("k%05d", i), Name: strings.Repeat("n", 180), Count: i})
				if _, err := a.eng.Mutate(context.Background(), "putItem", in); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		b.Fatal(err)
	}
}

// BenchmarkNoticeForms: what carrying a streamed chunk's notice as a JSON
// string (as sent) costs beside carrying it as a raw JSON object in _meta:
// the server's encoding of one notification (mcp-go's, once per
// subscriber), and a Go client's decoding of it (mcp-go's transports decode
// _meta generically, so an object must be encoded again to be read as a
// wire.ChangeNotice, and its numbers pass through float64). Each reports
// the notification's size.
func BenchmarkNoticeForms(b *testing.B) {
	uri := wire.RowURI("rows", "live-1-1796585939770148350")
	notice := []byte(`{"a":26,"e":[[27,{"+":{"text":"0123456789abcdefghij"},"m":{"n":27,"t":1796585939898112464}}]]}`)
	forms := map[string]any{"string": string(notice), "raw": json.RawMessage(notice)}
	for _, name := range []string{"string", "raw"} {
		n := mcp.JSONRPCNotification{JSONRPC: mcp.JSONRPC_VERSION, Notification: mcp.Notification{
			Method: string(mcp.MethodNotificationResourceUpdated),
			Params: mcp.NotificationParams{Meta: map[string]any{wire.ChangesMetaKey: forms[name]},
				AdditionalFields: map[string]any{"uri": uri}},
		}}
		data, err := json.Marshal(n)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(name+"/server-encode", func(b *testing.B) {
			for range b.N {
				if _, err := json.Marshal(n); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(len(data)), "B/notification")
		})
		b.Run(name+"/client-decode", func(b *testing.B) {
			for range b.N {
				var got mcp.JSONRPCNotification
				if err := json.Unmarshal(data, &got); err != nil {
					b.Fatal(err)
				}
				raw, isString := got.Params.Meta[wire.ChangesMetaKey].(string)
				body := []byte(raw)
				if !isString {
					if body, err = json.Marshal(got.Params.Meta[wire.ChangesMetaKey]); err != nil {
						b.Fatal(err)
					}
				}
				if cn, err := wire.DecodeNotice(uri, body); err != nil || len(cn.Events) != 1 {
					b.Fatalf("%s: %v", body, err)
				}
			}
		})
	}
}
