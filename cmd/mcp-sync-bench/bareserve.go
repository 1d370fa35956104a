package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"
	bolt "go.etcd.io/bbolt"

	"github.com/mcp-sync/mcp-sync/cli"
)

// runBareServe serves a bare mcp-go server: the baseline `mcp-sync-bench bench`
// measures mcp-sync against.
//
//   - noop: answers "ok" at once.
//   - commit {key}: with --data, writes one 100-byte row with bbolt's
//     db.Update (default options: fsync'd) and answers "ok": what a bare
//     server does for a durable write, the reference for mutators.
//   - append {key}: with --data, appends one 100-byte record to the file
//     named --data plus ".log" and answers once it is fsync'd, sharing each
//     fsync with the calls that arrived meanwhile: the cheapest durable write.
//   - broadcast {n, intervalMs}: sends n notifications/resources/updated
//     (uri bare://row, t = the wall clock in Unix ns) to every session,
//     intervalMs apart.
func runBareServe(ctx context.Context, env *cli.Environ, args []string) int {
	fs := cli.NewFlags(env, "mcp-sync-bench", "bare-serve", "bare-serve [--http ADDR] [--data FILE]", "A bare mcp-go server with a no-op tool: the baseline of `mcp-sync-bench bench`.")
	httpAddr := fs.String("http", "", "serve streamable HTTP at /mcp on this `ADDR` instead of stdio")
	data := fs.String("data", "", "bbolt `FILE` for the commit tool; the append tool writes this path plus .log")
	pgDSN := fs.String("postgres", "", "PostgreSQL `DSN` for the pgcommit tool (its tables in --postgres-schema)")
	pgSchema := fs.String("postgres-schema", "bare", "the PostgreSQL `SCHEMA` of the pgcommit tool")
	startProfile := cli.CPUProfileFlag(fs)
	if code, ok := cli.Parse(fs, args); !ok {
		return code
	}
	stopProfile, err := startProfile()
	if err != nil {
		fmt.Fprintf(env.Stderr, "mcp-sync-bench bare-serve: %v\n", err)
		return cli.ExitFail
	}
	defer stopProfile()
	logger := slog.New(slog.NewTextHandler(env.Stderr, nil))
	s := server.NewMCPServer("bare", "1", server.WithToolCapabilities(false))
	noop := mcp.NewTool("noop", mcp.WithDescription("Does nothing"))
	s.AddTool(noop, func(context.Context, mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		return mcp.NewToolResultText("ok"), nil
	})
	if *data != "" {
		db, err := bolt.Open(*data, 0o600, &bolt.Options{Timeout: 2 * time.Second})
		if err != nil {
			logger.Error("bare server", "err", err)
			return cli.ExitFail
		}
		defer db.Close()
		if err := addCommitTool(s, db); err != nil {
			logger.Error("bare server", "err", err)
			return cli.ExitFail
		}
		l, err := openFsyncLog(*data + ".log")
		if err != nil {
			logger.Error("bare server", "err", err)
			return cli.ExitFail
		}
		defer l.close()
		addAppendTool(s, l)
	}
	if *pgDSN != "" {
		cfg, err := pgxpool.ParseConfig(*pgDSN)
		var pool *pgxpool.Pool
		if err == nil {
			cfg.MaxConns = 16 // as mcp-sync's driver: no session waits for a connection
			pool, err = pgxpool.NewWithConfig(ctx, cfg)
		}
		if err == nil {
			err = addPGCommitTool(ctx, s, pool, *pgSchema)
		}
		if err != nil {
			logger.Error("bare server: PostgreSQL", "err", err)
			return cli.ExitFail
		}
		defer pool.Close()
	}
	bc := mcp.NewTool("broadcast", mcp.WithDescription("Notify every session n times"),
		mcp.WithNumber("n"), mcp.WithNumber("intervalMs"))
	s.AddTool(bc, func(ctx context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		n, every := req.GetInt("n", 1), time.Duration(req.GetInt("intervalMs", 0))*time.Millisecond
		for i := range n {
			if i > 0 && every > 0 {
				time.Sleep(every)
			}
			s.SendNotificationToAllClients("notifications/resources/updated", map[string]any{"uri": "bare://row", "n": i + 1, "t": time.Now().UnixNano()})
		}
		return mcp.NewToolResultText("ok"), nil
	})
	if *httpAddr == "" {
		if err := server.NewStdioServer(s).Listen(ctx, os.Stdin, env.Stdout); err != nil && ctx.Err() == nil {
			logger.Error("bare server", "err", err)
			return cli.ExitFail
		}
		return cli.ExitOK
	}
	ln, err := net.Listen("tcp", *httpAddr)
	if err != nil {
		logger.Error("bare server", "err", err)
		return cli.ExitFail
	}
	h := server.NewStreamableHTTPServer(s, server.WithEndpointPath("/mcp"), server.WithStateful(true))
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go func() { <-ctx.Done(); srv.Close() }()
	logger.Info("serving bare mcp-go over HTTP", "url", fmt.Sprintf("http://%s/mcp", ln.Addr()))
	if err := srv.Serve(ln); err != nil && ctx.Err() == nil {
		logger.Error("bare server", "err", err)
		return cli.ExitFail
	}
	return cli.ExitOK
}

// addCommitTool adds the bare server's commit tool to s: one 100-byte row
// written to db's rows bucket (created here) with db.Update.
func addCommitTool(s *server.MCPServer, db *bolt.DB) error {
	table := []byte("rows")
	if err := db.Update(func(tx *bolt.Tx) error { _, err := tx.CreateBucketIfNotExists(table); return err }); err != nil {
		return err
	}
	row := make([]byte, 100)
	commit := mcp.NewTool("commit", mcp.WithDescription("Write one row, fsync'd"), mcp.WithString("key"))
	s.AddTool(commit, func(_ context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		key := []byte(req.GetString("key", "k"))
		if err := db.Update(func(tx *bolt.Tx) error { return tx.Bucket(table).Put(key, row) }); err != nil {
			return mcp.NewToolResultError(err.Error()), nil
		}
		return mcp.NewToolResultText("ok"), nil
	})
	return nil
}
