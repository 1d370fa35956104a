package main

import (
	"context"
	"strconv"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"
)

// addPGCommitTool adds pgcommit {key} to the bare server: the transaction
// shape of a mutator on PostgreSQL, written by hand with pgx, one
// transaction a call, pipelined in one round trip: take the counter row's
// lock, upsert one 100-byte row, insert a log row, bump the counter,
// notify, commit. It is the reference mcp-sync's PostgreSQL mutator is
// measured against.
func addPGCommitTool(ctx context.Context, s *server.MCPServer, pool *pgxpool.Pool, schema string) error {
	q := pgx.Identifier{schema}.Sanitize()
	for _, stmt := range []string{
		`CREATE SCHEMA IF NOT EXISTS ` + q,
		`CREATE TABLE IF NOT EXISTS ` + q + `.counter (id int PRIMARY KEY, v bigint NOT NULL)`,
		`INSERT INTO ` + q + `.counter VALUES (1, 0) ON CONFLICT DO NOTHING`,
		`CREATE TABLE IF NOT EXISTS ` + q + `.rows (k text PRIMARY KEY, v bytea NOT NULL)`,
		`CREATE TABLE IF NOT EXISTS ` + q + `.log (version bigint PRIMARY KEY, k text NOT NULL, v bytea NOT NULL)`,
	} {
		if _, err := pool.Exec(ctx, stmt); err != nil {
			return err
		}
	}
	row := make([]byte, 100)
	channel := "bare:" + schema
	tool := mcp.NewTool("pgcommit", mcp.WithDescription("Write one row in PostgreSQL with a change-log row and a version"), mcp.WithString("key"))
	s.AddTool(tool, func(ctx context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		key := req.GetString("key", "k")
		b := &pgx.Batch{}
		b.Queue(`BEGIN`)
		var v int64
		b.Queue(`UPDATE ` + q + `.counter SET v = v + 1 WHERE id = 1 RETURNING v`).QueryRow(func(r pgx.Row) error { return r.Scan(&v) })
		b.Queue(`INSERT INTO `+q+`.rows VALUES ($1, $2) ON CONFLICT (k) DO UPDATE SET v = excluded.v`, key, row)
		b.Queue(`INSERT INTO `+q+`.log SELECT v, $1, $2 FROM `+q+`.counter WHERE id = 1`, key, row)
		b.Queue(`SELECT pg_notify($1, (SELECT v FROM `+q+`.counter WHERE id = 1)::text)`, channel)
		b.Queue(`COMMIT`)
		if err := pool.SendBatch(ctx, b).Close(); err != nil {
			return mcp.NewToolResultError(err.Error()), nil
		}
		return mcp.NewToolResultText(strconv.FormatInt(v, 10)), nil
	})
	return nil
}
