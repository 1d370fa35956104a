package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/mcp-sync/mcp-sync/storage"
)

// formatVersion is the layout of the schema's tables, independent of the
// app's schema version.
const formatVersion = 1

// queries are the driver's statements, with its schema's name in them.
type queries struct {
	channel string // the notification channel: a wake-up after each commit

	lock, lockShared, waitCommit, get, exists, putRows, deleteRows, insertLog, setMeta, trimLog, notify, readLog, tail, logRow string
	insertAudit, trimAudit, readAudit, readAuditDesc                                                                           string
	schema                                                                                                                     string // quoted
}

func newQueries(schema string) queries {
	s := pgx.Identifier{schema}.Sanitize()
	return queries{
		schema:     s,
		channel:    "mcp_sync:" + schema,
		lock:       `SELECT version, log_floor FROM ` + s + `.meta WHERE id = 1 FOR UPDATE`,
		lockShared: `SELECT version, log_floor FROM ` + s + `.meta WHERE id = 1`,
		// Waits for a commit in progress (it holds the row FOR UPDATE).
		waitCommit: `SELECT version FROM ` + s + `.meta WHERE id = 1 FOR SHARE`,
		get:        `SELECT v, ck FROM ` + s + `.rows WHERE tbl = $1 AND kh = $2`,
		exists:     `SELECT EXISTS (SELECT 1 FROM ` + s + `.rows WHERE tbl = $1 AND kh = $2)`,
		putRows: `INSERT INTO ` + s + `.rows (tbl, k, kp, kh, v, ck)
			SELECT * FROM unnest($1::text[], $2::bytea[], $3::bytea[], $4::bytea[], $5::bytea[], $6::int4[])
			ON CONFLICT (tbl, kh) DO UPDATE SET k = excluded.k, kp = excluded.kp, v = excluded.v, ck = excluded.ck`,
		deleteRows: `DELETE FROM ` + s + `.rows WHERE (tbl, kh) IN (SELECT * FROM unnest($1::text[], $2::bytea[]))`,
		insertLog: `INSERT INTO ` + s + `.log (version, batch, changes, ck)
			SELECT * FROM unnest($1::int8[], $2::int8[], $3::bytea[], $4::int4[])`,
		setMeta: `UPDATE ` + s + `.meta SET version = $1, log_floor = $2 WHERE id = 1`,
		trimLog: `DELETE FROM ` + s + `.log WHERE version <= $1`,
		notify:  `SELECT pg_notify($1, $2)`,
		readLog: `SELECT version, changes, ck FROM ` + s + `.log WHERE version > $1 AND version <= $2 ORDER BY version LIMIT $3`,
		tail:    `SELECT version, changes, ck FROM ` + s + `.log WHERE version > $1 ORDER BY version LIMIT $2`,
		logRow:  `SELECT batch FROM ` + s + `.log WHERE version = $1`,
		insertAudit: `INSERT INTO ` + s + `.audit (version, rec, ck)
			SELECT * FROM unnest($1::int8[], $2::bytea[], $3::int4[])`,
		trimAudit:     `DELETE FROM ` + s + `.audit WHERE version <= $1`,
		readAudit:     `SELECT version, rec, ck FROM ` + s + `.audit WHERE version > $1 ORDER BY version LIMIT $2`,
		readAuditDesc: `SELECT version, rec, ck FROM ` + s + `.audit WHERE version < $1 ORDER BY version DESC LIMIT $2`,
	}
}

// ddl creates the schema's tables. The key's hash is the row's identity and
// (kp, k) its order: kp, the key's first orderPrefix bytes, keeps the order
// index's entries small.
func (q queries) ddl() []string {
	s := q.schema
	return []string{
		`CREATE SCHEMA IF NOT EXISTS ` + s,
		`CREATE TABLE IF NOT EXISTS ` + s + `.meta (
			id int PRIMARY KEY CHECK (id = 1),
			format int NOT NULL,
			schema_version bigint NOT NULL,
			version bigint NOT NULL,
			log_floor bigint NOT NULL)`,
		`CREATE TABLE IF NOT EXISTS ` + s + `.rows (
			tbl text NOT NULL,
			kh bytea NOT NULL,
			kp bytea NOT NULL,
			k bytea NOT NULL,
			v bytea NOT NULL,
			ck int4 NOT NULL,
			PRIMARY KEY (tbl, kh))`,
		`CREATE INDEX IF NOT EXISTS rows_order ON ` + s + `.rows (tbl, kp)`,
		`CREATE TABLE IF NOT EXISTS ` + s + `.log (
			version bigint PRIMARY KEY,
			batch bigint NOT NULL,
			changes bytea NOT NULL,
			ck int4 NOT NULL)`,
		`CREATE TABLE IF NOT EXISTS ` + s + `.audit (
			version bigint PRIMARY KEY,
			rec bytea NOT NULL,
			ck int4 NOT NULL)`,
		`INSERT INTO ` + s + `.meta (id, format, schema_version, version, log_floor) VALUES (1, 0, 0, 0, 0) ON CONFLICT DO NOTHING`,
	}
}

// initSchema creates what is missing, checks the format and schema
// versions, records the app's, and returns the committed version and the
// log's floor. Concurrent opens (replicas starting together) take turns on
// an advisory lock.
func (d *Driver) initSchema(ctx context.Context) (version, floor uint64, err error) {
	err = pgx.BeginFunc(ctx, d.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtext($1))`, "mcp_sync:"+d.opts.Schema); err != nil {
			return err
		}
		// Commits lock the meta row before they write rows; the DDL below
		// locks the rows table (CREATE INDEX IF NOT EXISTS takes a share
		// lock even when the index exists). Taking the meta row first keeps
		// that order, or a replica opening beside committing ones deadlocks.
		var exists bool
		if err := tx.QueryRow(ctx, `SELECT to_regclass($1) IS NOT NULL`, d.q.schema+".meta").Scan(&exists); err != nil {
			return err
		}
		if exists {
			if _, err := tx.Exec(ctx, d.q.lock); err != nil {
				return err
			}
		}
		for _, stmt := range d.q.ddl() {
			if _, err := tx.Exec(ctx, stmt); err != nil {
				return err
			}
		}
		var format int
		var sv, v, f int64
		if err := tx.QueryRow(ctx, `SELECT format, schema_version, version, log_floor FROM `+d.q.schema+`.meta WHERE id = 1`).Scan(&format, &sv, &v, &f); err != nil {
			return err
		}
		if format > formatVersion {
			return fmt.Errorf("storage: %s has format %d, this binary reads up to %d: upgrade mcp-sync: %w", d.path, format, formatVersion, storage.ErrSchemaTooNew)
		}
		if sv > int64(max(d.opts.SchemaVersion, 0)) {
			return fmt.Errorf("storage: %s was written by schema version %d, but this app declares version %d: run the newer build, or use another schema (--postgres-schema): %w", d.path, sv, d.opts.SchemaVersion, storage.ErrSchemaTooNew)
		}
		if v < 0 || f < 0 || f > v {
			return fmt.Errorf("storage: %s: meta row holds version %d and log floor %d: %w", d.path, v, f, storage.ErrCorrupt)
		}
		version, floor = uint64(v), uint64(f)
		_, err := tx.Exec(ctx, `UPDATE `+d.q.schema+`.meta SET format = $1, schema_version = $2 WHERE id = 1`, formatVersion, max(d.opts.SchemaVersion, 0))
		return err
	})
	if err != nil && !errors.Is(err, storage.ErrSchemaTooNew) && !errors.Is(err, storage.ErrCorrupt) {
		err = d.fail("open", err)
	}
	return version, floor, err
}
