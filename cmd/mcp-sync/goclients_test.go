package main

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	mgclient "github.com/mark3labs/mcp-go/client"
	mgtransport "github.com/mark3labs/mcp-go/client/transport"
	mg "github.com/mark3labs/mcp-go/mcp"
	sdk "github.com/modelcontextprotocol/go-sdk/mcp"
)

// goClient is what these tests need of an MCP client; it is implemented by
// mcp-go's client and by the official Go SDK's, so every check runs against
// both real clients.
type goClient interface {
	call(ctx context.Context, name string, args any, progressToken any) (result, error)
	subscribe(ctx context.Context, uri string) error
	read(ctx context.Context, uri string) (string, error)
	listings(ctx context.Context) (string, error) // tools, resources and templates, as JSON
	close()
}

type result struct {
	isError    bool
	text       string
	structured json.RawMessage
}

// events collects what a client was told: updated URIs and progress.
type events struct {
	mu       sync.Mutex
	updated  []string
	progress map[string][]float64
	wake     chan struct{}
}

func newEvents() *events {
	return &events{progress: map[string][]float64{}, wake: make(chan struct{}, 1)}
}

func (e *events) addUpdate(uri string) {
	e.mu.Lock()
	e.updated = append(e.updated, uri)
	e.mu.Unlock()
	select {
	case e.wake <- struct{}{}:
	default:
	}
}

func (e *events) addProgress(token any, p float64) {
	e.mu.Lock()
	k := fmt.Sprint(token)
	e.progress[k] = append(e.progress[k], p)
	e.mu.Unlock()
}

func (e *events) progressOf(token string) []float64 {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]float64(nil), e.progress[token]...)
}

func (e *events) updates(uri string) int {
	e.mu.Lock()
	defer e.mu.Unlock()
	n := 0
	for _, u := range e.updated {
		if u == uri {
			n++
		}
	}
	return n
}

// --- mcp-go ---

type mgClient struct {
	c      *mgclient.Client
	legacy bool
	listen context.CancelFunc
	subs   []string
	mu     sync.Mutex
}

func newMG(t *testing.T, tr mgtransport.Interface, legacy bool, ev *events) goClient {
	t.Helper()
	var opts []mgclient.ClientOption
	if legacy {
		//lint:ignore SA1019 the legacy protocol era is tested on purpose
		opts = append(opts, mgclient.WithLegacyProtocolOnly())
	}
	c := mgclient.NewClient(tr, opts...)
	c.OnNotification(func(n mg.JSONRPCNotification) {
		switch n.Method {
		case "notifications/resources/updated":
			uri, _ := n.Params.AdditionalFields["uri"].(string)
			ev.addUpdate(uri)
		case "notifications/progress":
			p, _ := n.Params.AdditionalFields["progress"].(float64)
			ev.addProgress(n.Params.AdditionalFields["progressToken"], p)
		}
	})
	if err := c.Start(context.Background()); err != nil {
		t.Fatalf("mcp-go start: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req := mg.InitializeRequest{}
	req.Params.ClientInfo = mg.Implementation{Name: "mcp-go-test", Version: "1"}
	if legacy {
		req.Params.ProtocolVersion = mg.ProtocolVersion20251125
	}
	if _, err := c.Initialize(ctx, req); err != nil {
		t.Fatalf("mcp-go initialize: %v", err)
	}
	return &mgClient{c: c, legacy: legacy}
}

func (m *mgClient) call(ctx context.Context, name string, args any, token any) (result, error) {
	req := mg.CallToolRequest{}
	req.Params.Name = name
	req.Params.Arguments = args
	if token != nil {
		req.Params.Meta = &mg.Meta{ProgressToken: token}
	}
	res, err := m.c.CallTool(ctx, req)
	if err != nil {
		return result{}, err
	}
	r := result{isError: res.IsError}
	for _, c := range res.Content {
		if tc, ok := c.(mg.TextContent); ok {
			r.text += tc.Text
		}
	}
	if res.StructuredContent != nil {
		r.structured, _ = json.Marshal(res.StructuredContent)
	}
	return r, nil
}

func (m *mgClient) subscribe(ctx context.Context, uri string) error {
	if m.legacy {
		//lint:ignore SA1019 the legacy protocol era is tested on purpose
		return m.c.Subscribe(ctx, mg.SubscribeRequest{Params: mg.SubscribeParams{URI: uri}})
	}
	// 2026-07-28: one subscriptions/listen stream with every URI so far.
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.listen != nil {
		m.listen()
	}
	m.subs = append(m.subs, uri)
	lctx, cancel := context.WithCancel(context.Background())
	m.listen = cancel
	go func(uris []string) { _ = m.c.Listen(lctx, mg.SubscriptionFilter{ResourceSubscriptions: uris}) }(append([]string(nil), m.subs...))
	return nil
}

func (m *mgClient) read(ctx context.Context, uri string) (string, error) {
	res, err := m.c.ReadResource(ctx, mg.ReadResourceRequest{Params: mg.ReadResourceParams{URI: uri}})
	if err != nil {
		return "", err
	}
	return res.Contents[0].(mg.TextResourceContents).Text, nil
}

func (m *mgClient) listings(ctx context.Context) (string, error) {
	tl, err := m.c.ListTools(ctx, mg.ListToolsRequest{})
	if err != nil {
		return "", err
	}
	rl, err := m.c.ListResources(ctx, mg.ListResourcesRequest{})
	if err != nil {
		return "", err
	}
	rt, err := m.c.ListResourceTemplates(ctx, mg.ListResourceTemplatesRequest{})
	if err != nil {
		return "", err
	}
	b, err := json.Marshal([]any{tl, rl, rt})
	return string(b), err
}

func (m *mgClient) close() {
	m.mu.Lock()
	if m.listen != nil {
		m.listen()
	}
	m.mu.Unlock()
	m.c.Close()
}

// --- the official Go SDK ---

type sdkClient struct{ s *sdk.ClientSession }

func newSDK(t *testing.T, tr sdk.Transport, version string, ev *events) goClient {
	t.Helper()
	c := sdk.NewClient(&sdk.Implementation{Name: "go-sdk-test", Version: "1"}, &sdk.ClientOptions{
		ResourceUpdatedHandler: func(_ context.Context, r *sdk.ResourceUpdatedNotificationRequest) {
			ev.addUpdate(r.Params.URI)
		},
		ProgressNotificationHandler: func(_ context.Context, r *sdk.ProgressNotificationClientRequest) {
			ev.addProgress(r.Params.ProgressToken, r.Params.Progress)
		},
	})
	// Connect's context lives as long as the session (the SSE stream).
	s, err := c.Connect(context.Background(), tr, &sdk.ClientSessionOptions{ProtocolVersion: version})
	if err != nil {
		t.Fatalf("go-sdk connect: %v", err)
	}
	return &sdkClient{s: s}
}

func (c *sdkClient) call(ctx context.Context, name string, args any, token any) (result, error) {
	p := &sdk.CallToolParams{Name: name, Arguments: args}
	if token != nil {
		p.SetProgressToken(token)
	}
	res, err := c.s.CallTool(ctx, p)
	if err != nil {
		return result{}, err
	}
	r := result{isError: res.IsError}
	for _, ct := range res.Content {
		if tc, ok := ct.(*sdk.TextContent); ok {
			r.text += tc.Text
		}
	}
	if res.StructuredContent != nil {
		r.structured, _ = json.Marshal(res.StructuredContent)
	}
	return r, nil
}

func (c *sdkClient) subscribe(ctx context.Context, uri string) error {
	return c.s.Subscribe(ctx, &sdk.SubscribeParams{URI: uri})
}

func (c *sdkClient) read(ctx context.Context, uri string) (string, error) {
	res, err := c.s.ReadResource(ctx, &sdk.ReadResourceParams{URI: uri})
	if err != nil {
		return "", err
	}
	return res.Contents[0].Text, nil
}

func (c *sdkClient) listings(ctx context.Context) (string, error) {
	tl, err := c.s.ListTools(ctx, nil)
	if err != nil {
		return "", err
	}
	rl, err := c.s.ListResources(ctx, nil)
	if err != nil {
		return "", err
	}
	rt, err := c.s.ListResourceTemplates(ctx, nil)
	if err != nil {
		return "", err
	}
	b, err := json.Marshal([]any{tl, rl, rt})
	return string(b), err
}

func (c *sdkClient) close() { c.s.Close() }
