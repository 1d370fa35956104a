package postgres

import (
	"bytes"
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/mcp-sync/mcp-sync/storage"
)

// CheckOptions configure [Check].
type CheckOptions struct {
	// Schema is the PostgreSQL schema to check (DefaultSchema).
	Schema string
	// Row, if set, is called with every row whose checksum holds; an error
	// it returns is reported as a problem of that row. The caller checks
	// what storage cannot: JSON, schemas.
	Row func(table, key string, value []byte) error
}

// Problem is one thing wrong with the data, as [Check] reports it.
type Problem struct {
	// Table is the table concerned, or "[change log]" / "[meta]" /
	// storage.AuditLabel.
	Table string
	// Key is the row concerned, if one is.
	Key string
	// What is wrong.
	What string
}

// String names where the problem is and what it is.
func (p Problem) String() string { return storage.DescribeProblem(p.Table, p.Key, p.What) }

// Report is what [Check] found.
type Report struct {
	Path          string        // the database and schema checked
	Format        int           // the layout's version
	SchemaVersion int64         // the app schema version that last opened it
	Version       uint64        // the last committed version
	LogFloor      uint64        // the log holds every version after it
	Tables        []TableReport // every table with rows, the engine's own included
	LogRecords    int           // change-log rows checked
	Problems      []Problem     // empty when the data is intact
}

// TableReport counts one table's rows.
type TableReport struct {
	Name    string
	Rows    int
	Damaged int
}

// OK reports whether the check found nothing wrong.
func (r *Report) OK() bool { return len(r.Problems) == 0 }

// maxProblems bounds a report.
const maxProblems = 200

// Check reads the whole schema in one snapshot, without changing it: every
// row's identity, order key and checksum (and opts.Row on it), every log
// record's checksum and encoding, that the log holds exactly one record
// for each version from its floor to the committed version, and every
// audit record's checksum and encoding. The error is
// for a check that could not run (no server, no such schema).
func Check(ctx context.Context, dsn string, opts CheckOptions) (*Report, error) {
	if opts.Schema == "" {
		opts.Schema = DefaultSchema
	}
	if err := checkSchemaName(opts.Schema); err != nil {
		return nil, err
	}
	cfg, err := parseDSN(dsn)
	if err != nil {
		return nil, err
	}
	d := &Driver{opts: Options{Schema: opts.Schema}, q: newQueries(opts.Schema), path: pathOf(cfg.ConnConfig, opts.Schema)}
	conn, err := pgx.ConnectConfig(ctx, cfg.ConnConfig)
	if err != nil {
		return nil, d.fail("check", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	var meta *string
	if err := conn.QueryRow(ctx, `SELECT to_regclass($1)::text`, d.q.schema+".meta").Scan(&meta); err != nil {
		return nil, d.fail("check", err)
	}
	if meta == nil {
		return nil, fmt.Errorf("storage: %s holds no mcp-sync data (no meta table): check the DSN and --postgres-schema", d.path)
	}
	rep := &Report{Path: d.Path()}
	err = pgx.BeginTxFunc(ctx, conn, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		var v, f int64
		if err := tx.QueryRow(ctx, `SELECT format, schema_version, version, log_floor FROM `+d.q.schema+`.meta WHERE id = 1`).Scan(&rep.Format, &rep.SchemaVersion, &v, &f); err != nil {
			return err
		}
		if v < 0 || f < 0 || f > v {
			rep.add(Problem{Table: "[meta]", What: fmt.Sprintf("version %d and log floor %d are impossible", v, f)})
		}
		rep.Version, rep.LogFloor = uint64(max(v, 0)), uint64(max(f, 0))
		if err := rep.checkRows(ctx, tx, d.q.schema, opts.Row); err != nil {
			return err
		}
		if err := rep.checkLog(ctx, tx, d.q.schema); err != nil {
			return err
		}
		return rep.checkAudit(ctx, tx, d.q.schema)
	})
	if err != nil {
		return nil, d.fail("check", err)
	}
	return rep, nil
}

func (r *Report) add(p Problem) {
	if len(r.Problems) < maxProblems {
		r.Problems = append(r.Problems, p)
	}
}

func (r *Report) checkRows(ctx context.Context, tx pgx.Tx, schema string, row func(table, key string, value []byte) error) error {
	rows, err := tx.Query(ctx, `SELECT tbl, kh, kp, k, v, ck FROM `+schema+`.rows ORDER BY tbl, kp, k`)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var table string
		var kh, kp, k, v []byte
		var sum int32
		if err := rows.Scan(&table, &kh, &kp, &k, &v, &sum); err != nil {
			return err
		}
		key := string(k)
		if len(r.Tables) == 0 || r.Tables[len(r.Tables)-1].Name != table {
			r.Tables = append(r.Tables, TableReport{Name: table})
		}
		t := &r.Tables[len(r.Tables)-1]
		t.Rows++
		why := ""
		switch {
		case !bytes.Equal(kh, keyHash(key)) || !bytes.Equal(kp, keyOrder(key)):
			why = "its key does not match its stored identity (edited by hand?)"
		case checkValue(table, key, v, sum) != nil:
			why = "stored value is damaged (checksum mismatch)"
		case row != nil:
			if err := row(table, key, v); err != nil {
				why = err.Error()
			}
		}
		if why != "" {
			t.Damaged++
			r.add(Problem{Table: table, Key: key, What: why})
		}
	}
	return rows.Err()
}

func (r *Report) checkLog(ctx context.Context, tx pgx.Tx, schema string) error {
	rows, err := tx.Query(ctx, `SELECT version, changes, ck FROM `+schema+`.log WHERE version > $1 ORDER BY version`, int64(r.LogFloor))
	if err != nil {
		return err
	}
	recs, err := collectLog(rows)
	if err != nil {
		return err
	}
	want := r.LogFloor + 1
	for _, rec := range recs {
		r.LogRecords++
		switch {
		case rec.version > r.Version:
			r.add(Problem{Table: "[change log]", Key: fmt.Sprint(rec.version), What: fmt.Sprintf("a record past the committed version %d", r.Version)})
			continue
		case rec.version != want:
			r.add(Problem{Table: "[change log]", What: fmt.Sprintf("versions %d to %d are missing", want, rec.version-1)})
		}
		want = rec.version + 1
		if _, err := decodeRecord(rec.version, rec.data, rec.sum); err != nil {
			r.add(Problem{Table: "[change log]", Key: fmt.Sprint(rec.version), What: err.Error()})
		}
	}
	if want <= r.Version {
		r.add(Problem{Table: "[change log]", What: fmt.Sprintf("versions %d to %d are missing", want, r.Version)})
	}
	return nil
}

// checkAudit checks every audit record's checksum and encoding, and that
// none is past the committed version, a row at a time. A schema made
// before the audit existed has no audit table until its next Open.
func (r *Report) checkAudit(ctx context.Context, tx pgx.Tx, schema string) error {
	var table *string
	if err := tx.QueryRow(ctx, `SELECT to_regclass($1)::text`, schema+".audit").Scan(&table); err != nil {
		return err
	}
	if table == nil {
		return nil
	}
	rows, err := tx.Query(ctx, `SELECT version, rec, ck FROM `+schema+`.audit ORDER BY version`)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var v int64
		var data []byte
		var sum int32
		if err := rows.Scan(&v, &data, &sum); err != nil {
			return err
		}
		ver := uint64(max(v, 0))
		why := ""
		switch {
		case v <= 0:
			why = "a record of no version"
		case ver > r.Version:
			why = fmt.Sprintf("a record past the committed version %d", r.Version)
		case sumAudit(ver, data) != sum:
			why = "checksum mismatch"
		default:
			if _, err := storage.DecodeAudit(ver, data); err != nil {
				why = "does not decode"
			}
		}
		if why != "" {
			r.add(Problem{Table: storage.AuditLabel, Key: fmt.Sprint(v), What: why})
		}
	}
	return rows.Err()
}
