package main

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	mgclient "github.com/mark3labs/mcp-go/client"
	mgtransport "github.com/mark3labs/mcp-go/client/transport"
	mg "github.com/mark3labs/mcp-go/mcp"

	"github.com/mcp-sync/mcp-sync/client"
)

const streamScenario = "1 row → subscribers"

// streamToSubscribers: subscribers watch one row (client.Watch: each change
// arrives in its notification) while an action rewrites it chunks times, 5 ms apart;
// latency is from the ctx.Mutate call to the subscriber holding the change.
func streamToSubscribers(ctx context.Context, url string, subscribers, chunks int) benchResult {
	r := benchResult{Scenario: streamScenario, Transport: "http", Era: "legacy", Sessions: subscribers}
	ctx, cancel := context.WithTimeout(ctx, time.Duration(chunks)*5*time.Millisecond+30*time.Second)
	defer cancel()
	key := fmt.Sprint("live-", time.Now().UnixNano())
	var (
		mu   sync.Mutex
		lats []time.Duration
		wg   sync.WaitGroup
	)
	ready := make(chan struct{}, subscribers)
	for range subscribers {
		c, err := client.DialHTTP(ctx, url, client.Options{Legacy: true})
		if err != nil {
			r.Errors++
			continue
		}
		defer c.Close()
		w, err := client.Watch(ctx, c, benchRows, client.Selector{Key: key}, 0)
		if err != nil {
			r.Errors++
			continue
		}
		defer w.Close()
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := w.Next(ctx); err != nil { // the snapshot
				return
			}
			ready <- struct{}{}
			for {
				ev, err := w.Next(ctx)
				if err != nil {
					return
				}
				now := time.Now().UnixNano()
				for _, ch := range ev.Changes {
					mu.Lock()
					lats = append(lats, time.Duration(now-ch.Value.T))
					mu.Unlock()
					if ch.Value.N >= chunks {
						return
					}
				}
			}
		}()
	}
	for range subscribers - r.Errors {
		<-ready
	}
	trigger, err := client.DialHTTP(ctx, url, client.Options{})
	if err != nil {
		r.Errors++
		return r
	}
	defer trigger.Close()
	start := time.Now()
	if _, err := trigger.Call(ctx, "stream", benchStreamIn{Key: key, N: chunks, IntervalMs: 5}); err != nil {
		r.Errors++
	}
	wg.Wait()
	r.Calls = len(lats)
	r.PerSec = float64(len(lats)) / time.Since(start).Seconds()
	r.P50Ms, r.P99Ms = percentileMs(lats, 0.50), percentileMs(lats, 0.99)
	return r
}

// bareBroadcast is streamToSubscribers's baseline: the bare mcp-go server
// sends chunks notifications, 5 ms apart, to subscribers sessions; latency is
// from the send to the receipt.
func bareBroadcast(ctx context.Context, url string, subscribers, chunks int) benchResult {
	r := benchResult{Scenario: "broadcast (bare mcp-go)", Transport: "http", Era: "legacy", Sessions: subscribers}
	ctx, cancel := context.WithTimeout(ctx, time.Duration(chunks)*5*time.Millisecond+30*time.Second)
	defer cancel()
	var (
		mu   sync.Mutex
		lats []time.Duration
		got  atomic.Int64
	)
	for range subscribers {
		//lint:ignore SA1019 the legacy era's GET stream is where broadcasts arrive
		tr, err := mgtransport.NewStreamableHTTP(url, mgtransport.WithContinuousListening(), mgtransport.WithHTTPLogger(slog.New(slog.DiscardHandler)))
		if err != nil {
			r.Errors++
			continue
		}
		//lint:ignore SA1019 the baseline runs on the legacy era, like the scenario it is the baseline of
		c := mgclient.NewClient(tr, mgclient.WithLegacyProtocolOnly())
		c.OnNotification(func(n mg.JSONRPCNotification) {
			t, ok := n.Params.AdditionalFields["t"].(float64)
			if n.Method != "notifications/resources/updated" || !ok {
				return
			}
			now := time.Now().UnixNano()
			mu.Lock()
			lats = append(lats, time.Duration(now-int64(t)))
			mu.Unlock()
			got.Add(1)
		})
		if err := c.Start(context.WithoutCancel(ctx)); err != nil {
			r.Errors++
			continue
		}
		defer c.Close()
		req := mg.InitializeRequest{}
		req.Params.ProtocolVersion = mg.ProtocolVersion20251125
		req.Params.ClientInfo = mg.Implementation{Name: "bench", Version: "1"}
		if _, err := c.Initialize(ctx, req); err != nil {
			r.Errors++
			continue
		}
	}
	time.Sleep(200 * time.Millisecond) // GET streams open
	trigger, err := client.DialHTTP(ctx, url, client.Options{Legacy: true})
	if err != nil {
		r.Errors++
		return r
	}
	defer trigger.Close()
	start := time.Now()
	if _, err := trigger.Call(ctx, "broadcast", map[string]any{"n": chunks, "intervalMs": 5}); err != nil {
		r.Errors++
	}
	want := int64((subscribers - r.Errors) * chunks)
	for got.Load() < want && ctx.Err() == nil && time.Since(start) < time.Duration(chunks)*5*time.Millisecond+5*time.Second {
		time.Sleep(10 * time.Millisecond)
	}
	mu.Lock()
	defer mu.Unlock()
	r.Calls = len(lats)
	r.PerSec = float64(len(lats)) / time.Since(start).Seconds()
	r.P50Ms, r.P99Ms = percentileMs(lats, 0.50), percentileMs(lats, 0.99)
	return r
}
