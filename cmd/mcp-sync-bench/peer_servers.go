package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcp-sync/mcp-sync/wire"
)

// peerTarget is one server `peers` measures: how to write a row of it,
// where the row's updates are announced and how to seed its table.
type peerTarget struct {
	name  string
	url   string
	pid   int
	table string
	uri   func(key string) string
	// write is the tool and arguments that durably write text into row key;
	// n and t (Unix ns) let a changes-carrying notice name its chunk.
	write func(key, text string, n int, t int64) (string, any)
	// fillTool seeds n rows in one call; empty: its file is filled before
	// it starts (prepareListRows).
	fillTool string
	// session, for a server started over stdio, is its one session.
	session *peerSession
	stop    func()
}

func mcpSyncTarget(url string, pid int, stop func()) *peerTarget {
	return &peerTarget{name: "mcp-sync", url: url, pid: pid, table: "rows", stop: stop,
		uri: func(key string) string { return wire.RowURI("rows", key) },
		write: func(key, text string, n int, t int64) (string, any) {
			return "put", benchPut{Key: key, Text: text, N: n, T: t}
		}}
}

func peerTargetOf(name, url string, pid int, stop func()) *peerTarget {
	return &peerTarget{name: name, url: url, pid: pid, table: "todos", stop: stop, fillTool: "fill",
		uri: func(key string) string { return peerURIPrefix + key },
		write: func(key, text string, _ int, _ int64) (string, any) {
			return "setTodo", peerTodo{ID: key, Text: text, Status: "open"}
		}}
}

// peerSession is one go-sdk client session: the one load generator every
// server is driven by, so their figures differ only by the server.
type peerSession struct{ s *sdk.ClientSession }

// peerDialOptions: changes asks mcp-sync for notices carrying the changes
// (wire.ChangesMetaKey); onUpdate receives every resources/updated.
type peerDialOptions struct {
	changes  bool
	onUpdate func(*sdk.ResourceUpdatedNotificationParams)
	// received, if set, counts the bytes of the responses the session
	// reads (its event stream included).
	received *atomic.Int64
}

func dialPeer(ctx context.Context, url string, o peerDialOptions) (*peerSession, error) {
	opts := &sdk.ClientOptions{}
	if o.changes {
		opts.Capabilities = &sdk.ClientCapabilities{Experimental: map[string]any{wire.ChangesMetaKey: map[string]any{}}}
	}
	if o.onUpdate != nil {
		opts.ResourceUpdatedHandler = func(_ context.Context, r *sdk.ResourceUpdatedNotificationRequest) { o.onUpdate(r.Params) }
	}
	c := sdk.NewClient(&sdk.Implementation{Name: "mcp-sync-bench-peers", Version: "1"}, opts)
	var rt http.RoundTripper = &http.Transport{MaxIdleConnsPerHost: 4}
	if o.received != nil {
		rt = countingTransport{rt, o.received}
	}
	tr := &sdk.StreamableClientTransport{Endpoint: url, HTTPClient: &http.Client{Transport: rt}}
	// The session's context is the stream's: it lives until Close.
	s, err := c.Connect(context.WithoutCancel(ctx), tr, &sdk.ClientSessionOptions{ProtocolVersion: "2025-11-25"})
	if err != nil {
		return nil, fmt.Errorf("connecting to %s: %w", url, err)
	}
	return &peerSession{s: s}, nil
}

// call calls tool and fails on a tool error as on a transport one.
func (p *peerSession) call(ctx context.Context, tool string, args any) (*sdk.CallToolResult, error) {
	res, err := p.s.CallTool(ctx, &sdk.CallToolParams{Name: tool, Arguments: args})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", tool, err)
	}
	if res.IsError {
		var msg strings.Builder
		for _, c := range res.Content {
			if t, ok := c.(*sdk.TextContent); ok {
				msg.WriteString(t.Text)
			}
		}
		return nil, fmt.Errorf("%s answered an error: %s", tool, msg.String())
	}
	return res, nil
}

func (p *peerSession) close() { _ = p.s.Close() }

// procWriteBytes is what process pid has caused to be written to storage
// so far (/proc/PID/io write_bytes); 0 where the kernel does not say.
func procWriteBytes(pid int) (uint64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/io", pid))
	if err != nil {
		return 0, fmt.Errorf("reading the write count of process %d: %w", pid, err)
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "write_bytes: "); ok {
			return strconv.ParseUint(strings.TrimSpace(v), 10, 64)
		}
	}
	return 0, fmt.Errorf("process %d: no write_bytes in /proc/%d/io", pid, pid)
}

// settle waits for write-back to reach the counters: write_bytes counts
// pages when they are dirtied, and fsync'd commits have all reached it by
// their answer; a short pause covers the last answer's tail.
func settle() { time.Sleep(50 * time.Millisecond) }
