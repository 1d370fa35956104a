package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	mgclient "github.com/mark3labs/mcp-go/client"
	mgtransport "github.com/mark3labs/mcp-go/client/transport"
	mg "github.com/mark3labs/mcp-go/mcp"
)

// connFlags say which server the client commands (tools, call, watch)
// talk to: a URL, or by default a `mcp-sync serve` this command starts over
// stdio on the data file.
type connFlags struct {
	url, token, data string
	legacy           bool
}

func addConnFlags(fs *flag.FlagSet) *connFlags {
	c := &connFlags{}
	fs.StringVar(&c.url, "url", "", "server URL: http://HOST:PORT/mcp (streamable HTTP) or …/sse (SSE); default: start `mcp-sync serve` on --data over stdio")
	fs.StringVar(&c.token, "token", "", "bearer token for --url (default $MCP_SYNC_TOKEN)")
	fs.StringVar(&c.data, "data", "", "data file of the server started over stdio (default $MCP_SYNC_DATA, else $XDG_DATA_HOME/mcp-sync/todo.db)")
	fs.BoolVar(&c.legacy, "legacy", false, "speak protocol 2025-11-25 instead of 2026-07-28")
	return c
}

// conn is an MCP client session with the notifications the CLI shows.
type conn struct {
	c      *mgclient.Client
	legacy bool

	mu         sync.Mutex
	onProgress func(progress, total float64, message string)
	updates    chan string // URIs from notifications/resources/updated
	listen     context.CancelFunc
	listenURIs []string
	stderr     *lockedBuffer // a spawned server's log, shown if it fails
}

// lockedBuffer is a bytes buffer safe for one writer and readers.
type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// dial connects to the server cf names and initializes the session.
func dial(ctx context.Context, env *environ, cf *connFlags) (*conn, error) {
	var (
		tr  mgtransport.Interface
		err error
		cn  = &conn{legacy: cf.legacy, updates: make(chan string, 256)}
	)
	token := cf.token
	if token == "" {
		token = env.getenv("MCP_SYNC_TOKEN")
	}
	headers := map[string]string{}
	if token != "" {
		headers["Authorization"] = "Bearer " + token
	}
	switch {
	case strings.HasSuffix(cf.url, "/sse"):
		cn.legacy = true // SSE predates 2026-07-28
		tr, err = mgtransport.NewSSE(cf.url, mgtransport.WithHeaders(headers))
	case cf.url != "":
		opts := []mgtransport.StreamableHTTPCOption{mgtransport.WithHTTPHeaders(headers)}
		if cf.legacy {
			//lint:ignore SA1019 the legacy era receives updates on the GET stream
			opts = append(opts, mgtransport.WithContinuousListening())
		}
		tr, err = mgtransport.NewStreamableHTTP(cf.url, opts...)
	default:
		self, err := os.Executable()
		if err != nil {
			return nil, fmt.Errorf("finding this program to start its server: %w", err)
		}
		path, err := dataPath(cf.data, env.getenv)
		if err != nil {
			return nil, err
		}
		st := mgtransport.NewStdioWithOptions(self, os.Environ(), []string{"serve", "--data", path})
		if err := st.Start(ctx); err != nil {
			return nil, fmt.Errorf("starting `mcp-sync serve --data %s`: %w", path, err)
		}
		cn.stderr = &lockedBuffer{}
		go func() { _, _ = io.Copy(cn.stderr, st.Stderr()) }()
		tr = st
	}
	if err != nil {
		return nil, fmt.Errorf("connecting to %s: %w", cf.url, err)
	}
	var copts []mgclient.ClientOption
	if cn.legacy {
		//lint:ignore SA1019 chosen by --legacy (or SSE)
		copts = append(copts, mgclient.WithLegacyProtocolOnly())
	}
	cn.c = mgclient.NewClient(tr, copts...)
	cn.c.OnNotification(cn.notified)
	if err := cn.c.Start(context.WithoutCancel(ctx)); err != nil { // lives as long as the session
		return nil, cn.failed("connecting", err)
	}
	ictx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	req := mg.InitializeRequest{}
	req.Params.ClientInfo = mg.Implementation{Name: "mcp-sync-cli", Version: "dev"}
	if cn.legacy {
		req.Params.ProtocolVersion = mg.ProtocolVersion20251125
	}
	if _, err := cn.c.Initialize(ictx, req); err != nil {
		cn.c.Close()
		return nil, cn.failed("initializing the MCP session", err)
	}
	return cn, nil
}

// failed words a connection failure, with a spawned server's log.
func (cn *conn) failed(what string, err error) error {
	if cn.stderr != nil {
		time.Sleep(100 * time.Millisecond) // let the log arrive
		if log := strings.TrimSpace(cn.stderr.String()); log != "" {
			return fmt.Errorf("%s: %w\nthe server said:\n%s", what, err, log)
		}
	}
	return fmt.Errorf("%s: %w", what, err)
}

func (cn *conn) notified(n mg.JSONRPCNotification) {
	switch n.Method {
	case "notifications/progress":
		cn.mu.Lock()
		f := cn.onProgress
		cn.mu.Unlock()
		if f != nil {
			p, _ := n.Params.AdditionalFields["progress"].(float64)
			total, _ := n.Params.AdditionalFields["total"].(float64)
			msg, _ := n.Params.AdditionalFields["message"].(string)
			f(p, total, msg)
		}
	case "notifications/resources/updated":
		if uri, ok := n.Params.AdditionalFields["uri"].(string); ok {
			select {
			case cn.updates <- uri:
			default: // the reader re-reads anyway: a dropped duplicate costs nothing
			}
		}
	}
}

// call calls a tool, reporting progress to onProgress when it is set.
func (cn *conn) call(ctx context.Context, name string, args json.RawMessage, onProgress func(progress, total float64, message string)) (*mg.CallToolResult, error) {
	req := mg.CallToolRequest{}
	req.Params.Name = name
	req.Params.Arguments = args
	if onProgress != nil {
		cn.mu.Lock()
		cn.onProgress = onProgress
		cn.mu.Unlock()
		req.Params.Meta = &mg.Meta{ProgressToken: "cli"}
	}
	return cn.c.CallTool(ctx, req)
}

// subscribe asks for notifications/resources/updated on uri.
func (cn *conn) subscribe(ctx context.Context, uri string) error {
	if cn.legacy {
		//lint:ignore SA1019 the legacy era subscribes with resources/subscribe
		return cn.c.Subscribe(ctx, mg.SubscribeRequest{Params: mg.SubscribeParams{URI: uri}})
	}
	cn.mu.Lock()
	defer cn.mu.Unlock()
	if cn.listen != nil {
		cn.listen()
	}
	cn.listenURIs = append(cn.listenURIs, uri)
	lctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	cn.listen = cancel
	uris := append([]string(nil), cn.listenURIs...)
	go func() { _ = cn.c.Listen(lctx, mg.SubscriptionFilter{ResourceSubscriptions: uris}) }()
	return nil
}

// read returns a resource's text.
func (cn *conn) read(ctx context.Context, uri string) (string, error) {
	res, err := cn.c.ReadResource(ctx, mg.ReadResourceRequest{Params: mg.ReadResourceParams{URI: uri}})
	if err != nil {
		return "", err
	}
	for _, c := range res.Contents {
		if t, ok := c.(mg.TextResourceContents); ok {
			return t.Text, nil
		}
	}
	return "", fmt.Errorf("resource %s has no text content", uri)
}

func (cn *conn) close() {
	cn.mu.Lock()
	if cn.listen != nil {
		cn.listen()
	}
	cn.mu.Unlock()
	cn.c.Close()
}

// resultText is a tool result's text content.
func resultText(res *mg.CallToolResult) string {
	var b strings.Builder
	for _, c := range res.Content {
		if t, ok := c.(mg.TextContent); ok {
			b.WriteString(t.Text)
		}
	}
	return b.String()
}
