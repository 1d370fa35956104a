package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
	bolt "go.etcd.io/bbolt"

	"github.com/mcp-sync/mcp-sync/cli"
)

// peerTodo is a row of the peers' todos table.
type peerTodo struct {
	ID     string `json:"id" jsonschema:"the todo's id"`
	Text   string `json:"text" jsonschema:"what to do"`
	Status string `json:"status,omitempty" jsonschema:"open or done"`
}

// peerGetIn and peerListIn mirror mcp-sync's get_row and list_rows inputs,
// so one load generator reads every server alike.
type peerGetIn struct {
	Table string `json:"table"`
	Key   string `json:"key"`
}

type peerListIn struct {
	Table string `json:"table"`
	After string `json:"after,omitempty"`
	Limit int    `json:"limit,omitempty"`
}

type peerListOut struct {
	Rows []peerTodo `json:"rows"`
	Next string     `json:"next,omitempty"`
}

type peerFillIn struct {
	N int `json:"n" jsonschema:"rows to write, todo-0000000 on"`
}

type peerOK struct {
	OK bool `json:"ok"`
}

// peerURIPrefix is the peers' row resource URI: todo://todos/ID.
const peerURIPrefix = "todo://todos/"

var peerBucket = []byte("todos")

// runPeerGoSDK serves the todo app as a user would write it by hand with the
// official Go SDK and bbolt: the peer `mcp-sync-bench peers` measures.
func runPeerGoSDK(ctx context.Context, env *cli.Environ, args []string) int {
	fs := cli.NewFlags(env, "mcp-sync-bench", "peer-gosdk", "peer-gosdk --data FILE [--http ADDR]",
		"A todo server written by hand with the official Go SDK and bbolt (one fsync'd db.Update a\n"+
			"write, resource subscriptions): a peer of `mcp-sync-bench peers`.")
	httpAddr := fs.String("http", "", "serve streamable HTTP at /mcp on this `ADDR` instead of stdio")
	data := fs.String("data", "", "bbolt `FILE` holding the todos")
	if code, ok := cli.Parse(fs, args); !ok {
		return code
	}
	logger := slog.New(slog.NewTextHandler(env.Stderr, nil))
	if *data == "" {
		logger.Error("peer-gosdk: --data is required")
		return cli.ExitUsage
	}
	db, err := bolt.Open(*data, 0o600, &bolt.Options{Timeout: 2 * time.Second})
	if err != nil {
		logger.Error("peer-gosdk: opening the data file", "err", err)
		return cli.ExitFail
	}
	defer db.Close()
	if err := db.Update(func(tx *bolt.Tx) error { _, err := tx.CreateBucketIfNotExists(peerBucket); return err }); err != nil {
		logger.Error("peer-gosdk: creating the todos bucket", "err", err)
		return cli.ExitFail
	}
	s := newPeerGoSDK(db)
	if *httpAddr == "" {
		if err := s.Run(ctx, &mcp.StdioTransport{}); err != nil && ctx.Err() == nil {
			logger.Error("peer-gosdk", "err", err)
			return cli.ExitFail
		}
		return cli.ExitOK
	}
	ln, err := net.Listen("tcp", *httpAddr)
	if err != nil {
		logger.Error("peer-gosdk", "err", err)
		return cli.ExitFail
	}
	h := mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return s }, nil)
	mux := http.NewServeMux()
	mux.Handle("/mcp", h)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { <-ctx.Done(); srv.Close() }()
	logger.Info("serving the Go SDK peer over HTTP", "url", fmt.Sprintf("http://%s/mcp", ln.Addr()))
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		logger.Error("peer-gosdk", "err", err)
		return cli.ExitFail
	}
	return cli.ExitOK
}

// newPeerGoSDK is the peer's MCP server over db.
func newPeerGoSDK(db *bolt.DB) *mcp.Server {
	s := mcp.NewServer(&mcp.Implementation{Name: "peer-gosdk", Version: "1"}, &mcp.ServerOptions{
		// The SDK keeps the subscriptions; these only accept them.
		SubscribeHandler:   func(context.Context, *mcp.SubscribeRequest) error { return nil },
		UnsubscribeHandler: func(context.Context, *mcp.UnsubscribeRequest) error { return nil },
	})
	mcp.AddTool(s, &mcp.Tool{Name: "setTodo", Description: "Write a todo (durable: fsync'd before the answer)"},
		func(ctx context.Context, _ *mcp.CallToolRequest, in peerTodo) (*mcp.CallToolResult, peerOK, error) {
			if in.ID == "" {
				return nil, peerOK{}, errors.New("setTodo: id is empty; give the todo an id")
			}
			if in.Status == "" {
				in.Status = "open" // as the TypeScript peer does
			}
			v, _ := json.Marshal(in)
			if err := db.Update(func(tx *bolt.Tx) error { return tx.Bucket(peerBucket).Put([]byte(in.ID), v) }); err != nil {
				return nil, peerOK{}, fmt.Errorf("setTodo: writing the todo: %w", err)
			}
			_ = s.ResourceUpdated(ctx, &mcp.ResourceUpdatedNotificationParams{URI: peerURIPrefix + in.ID})
			return nil, peerOK{OK: true}, nil
		})
	mcp.AddTool(s, &mcp.Tool{Name: "fill", Description: "Write n todos in batches (seeding for reads)"},
		func(_ context.Context, _ *mcp.CallToolRequest, in peerFillIn) (*mcp.CallToolResult, peerOK, error) {
			for i := 0; i < in.N; i += 10000 {
				err := db.Update(func(tx *bolt.Tx) error {
					b := tx.Bucket(peerBucket)
					for j := i; j < min(in.N, i+10000); j++ {
						t := peerTodo{ID: peerFillKey(j), Text: peerFillText, Status: "open"}
						v, _ := json.Marshal(t)
						if err := b.Put([]byte(t.ID), v); err != nil {
							return err
						}
					}
					return nil
				})
				if err != nil {
					return nil, peerOK{}, fmt.Errorf("fill: %w", err)
				}
			}
			return nil, peerOK{OK: true}, nil
		})
	mcp.AddTool(s, &mcp.Tool{Name: "get_row", Description: "Read one todo"},
		func(_ context.Context, _ *mcp.CallToolRequest, in peerGetIn) (*mcp.CallToolResult, peerTodo, error) {
			var t peerTodo
			err := db.View(func(tx *bolt.Tx) error {
				if v := tx.Bucket(peerBucket).Get([]byte(in.Key)); v != nil {
					return json.Unmarshal(v, &t)
				}
				return nil
			})
			return nil, t, err
		})
	mcp.AddTool(s, &mcp.Tool{Name: "list_rows", Description: "List todos in id order, limit at a time after a cursor"},
		func(_ context.Context, _ *mcp.CallToolRequest, in peerListIn) (*mcp.CallToolResult, peerListOut, error) {
			return nil, peerList(db, in), nil
		})
	s.AddResourceTemplate(&mcp.ResourceTemplate{Name: "todo", URITemplate: peerURIPrefix + "{id}", MIMEType: "application/json"},
		func(_ context.Context, req *mcp.ReadResourceRequest) (*mcp.ReadResourceResult, error) {
			var v []byte
			_ = db.View(func(tx *bolt.Tx) error {
				v = append(v, tx.Bucket(peerBucket).Get([]byte(strings.TrimPrefix(req.Params.URI, peerURIPrefix)))...)
				return nil
			})
			if v == nil {
				return nil, mcp.ResourceNotFoundError(req.Params.URI)
			}
			return &mcp.ReadResourceResult{Contents: []*mcp.ResourceContents{{URI: req.Params.URI, MIMEType: "application/json", Text: string(v)}}}, nil
		})
	return s
}

// peerList is a page of up to in.Limit (1..1000, default 100) todos after in.After.
func peerList(db *bolt.DB, in peerListIn) peerListOut {
	limit := in.Limit
	if limit <= 0 || limit > 1000 {
		limit = 100
	}
	out := peerListOut{Rows: make([]peerTodo, 0, limit)}
	_ = db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(peerBucket).Cursor()
		k, v := c.Seek([]byte(in.After))
		if k != nil && string(k) == in.After {
			k, v = c.Next()
		}
		for ; k != nil && len(out.Rows) < limit; k, v = c.Next() {
			var t peerTodo
			if json.Unmarshal(v, &t) == nil {
				out.Rows = append(out.Rows, t)
			}
		}
		if k != nil && len(out.Rows) > 0 {
			out.Next = out.Rows[len(out.Rows)-1].ID
		}
		return nil
	})
	return out
}

// peerFillKey is the key of the i-th seeded row: keys sort as numbers.
func peerFillKey(i int) string { return fmt.Sprintf("todo-%07d", i) }
