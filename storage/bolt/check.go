package bolt

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/mcp-sync/mcp-sync/storage"
	bbolt "go.etcd.io/bbolt"
)

// CheckOptions configure [Check]. Zero values take the defaults shown.
type CheckOptions struct {
	// LockTimeout bounds the wait for a file another process holds (2s).
	// Check reads under a shared lock, so it fails with storage.ErrLocked while a
	// server has the file open.
	LockTimeout time.Duration
	// Row, if set, is called with every table row whose checksum holds (the
	// caller's bytes); an error it returns is reported as a problem of that
	// row. The caller checks what storage cannot: JSON, schemas.
	Row func(table, key string, value []byte) error
}

// Report is what [Check] found in a data file.
type Report struct {
	Path          string        // the file checked
	Size          int64         // bytes
	PageSize      uint64        // bytes
	Pages         uint64        // pages in use
	Format        uint64        // the store's file format (formatVersion when current)
	SchemaVersion uint64        // the app schema version that last opened it
	Version       uint64        // the last committed version
	Tables        []TableReport // every table in the file, the engine's own included
	LogRecords    int           // change-log records checked
	Problems      []Problem     // empty when the file is intact
}

// TableReport counts one table's rows.
type TableReport struct {
	Name    string // the table's name as declared (internal ones start with '.')
	Rows    int    // rows read
	Damaged int    // rows with a problem
}

// OK reports whether the check found nothing wrong.
func (r *Report) OK() bool { return len(r.Problems) == 0 }

// Check runs a full check of the data file at path, without changing it:
// its structure (both meta pages and every page in use, then bbolt's own
// Tx.Check), every table value's and change-log record's checksum, and
// opts.Row on every row. Damage is reported in the Report's Problems (at
// most 200); the error is for a check that could not run: no such file, or
// storage.ErrLocked while another process holds it. Errors name the file.
func Check(path string, opts CheckOptions) (*Report, error) {
	if opts.LockTimeout <= 0 {
		opts.LockTimeout = 2 * time.Second
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("storage: check %s: %w", path, err)
	}
	closeF := true
	defer func() {
		if closeF {
			f.Close()
		}
	}()
	if err := lockFile(f, false, opts.LockTimeout); err != nil {
		if errors.Is(err, errLockTimeout) {
			return nil, fmt.Errorf("storage: %s is in use by another process (waited %s for its lock): stop the server using it, or check a copy of the file: %w", path, opts.LockTimeout, storage.ErrLocked)
		}
		return nil, fmt.Errorf("storage: lock %s: %w", path, err)
	}
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("storage: check %s: %w", path, err)
	}
	rep := &Report{Path: path, Size: fi.Size()}
	if fi.Size() == 0 {
		rep.Problems = append(rep.Problems, Problem{What: "the file is empty (0 bytes): it lost its contents, or was never a data file"})
		return rep, nil
	}
	var lay layout
	var problems []Problem
	if err := guard("check its structure", func() error { lay, problems = verify(f, fi.Size(), walkPages); return nil }); err != nil {
		problems = append(problems, Problem{What: err.Error()})
	}
	rep.PageSize, rep.Pages, rep.Problems = lay.pageSize, lay.pages, problems
	if len(problems) > 0 {
		return rep, nil // bbolt must not read a file whose structure is damaged
	}
	var db *bbolt.DB
	err = guard("open", func() error {
		var err error
		db, err = bbolt.Open(path, 0o400, &bbolt.Options{ReadOnly: true, Timeout: opts.LockTimeout,
			OpenFile: func(string, int, os.FileMode) (*os.File, error) { return f, nil }})
		return err
	})
	if err != nil {
		rep.Problems = append(rep.Problems, Problem{What: "bbolt cannot open it: " + err.Error()})
		return rep, nil
	}
	closeF = false
	defer db.Close()
	err = guard("check", func() error { return db.View(func(tx *bbolt.Tx) error { return rep.check(tx, opts) }) })
	if err != nil {
		rep.addProblem(Problem{What: err.Error()})
	}
	return rep, nil
}

func (r *Report) addProblem(p Problem) {
	if len(r.Problems) < maxProblems {
		r.Problems = append(r.Problems, p)
	}
}

// check runs bbolt's page check, then reads every bucket.
func (r *Report) check(tx *bbolt.Tx, opts CheckOptions) error {
	for err := range tx.Check() {
		r.addProblem(Problem{What: "bbolt: " + err.Error()})
	}
	meta := tx.Bucket(metaBucket)
	if meta == nil {
		r.addProblem(Problem{What: "no meta bucket: not an mcp-sync data file"})
		return nil
	}
	r.Format, r.SchemaVersion, r.Version = getUint(meta, keyFormat), getUint(meta, keySchemaVersion), getUint(meta, keyVersion)
	sealed := r.Format >= sealedFormat // older files carry no checksums until upgraded
	if meta.Get(keyUpgrade) != nil {
		sealed = false
		r.addProblem(Problem{Table: "[meta]", What: "a format upgrade was cut off: the next open of the file finishes it"})
	}
	return tx.ForEach(func(name []byte, b *bbolt.Bucket) error {
		switch {
		case bytes.HasPrefix(name, []byte(tablePrefix)):
			r.checkTable(tx, name, b, sealed, opts)
		case bytes.HasPrefix(name, []byte(segPrefix)):
			r.checkSegments(tx, name, b)
		case bytes.Equal(name, logBucket):
			r.checkLog(b, meta.Get(keyLogTail), sealed, r.Format < deltaFormat, getUint(meta, keyDeltaSince))
		case string(name) == auditName, string(name) == auditTailName:
			r.checkAudit(b)
		}
		return nil
	})
}

func (r *Report) checkTable(tx *bbolt.Tx, name []byte, b *bbolt.Bucket, sealed bool, opts CheckOptions) {
	t := TableReport{Name: string(name[len(tablePrefix):])}
	_ = b.ForEach(func(k, v []byte) error {
		t.Rows++
		val, why := v, ""
		switch {
		case sealed && isHead(v):
			val, why = readValue(tx, name, k, v)
		case sealed:
			val, why = openValue(name, k, v)
		}
		if why == "" && opts.Row != nil {
			if err := opts.Row(t.Name, string(k), bytes.Clone(val)); err != nil {
				why = err.Error()
			}
		}
		if why != "" {
			t.Damaged++
			r.addProblem(Problem{Table: t.Name, Key: string(k), What: why})
		}
		return nil
	})
	r.Tables = append(r.Tables, t)
}

// checkSegments reports segments no row's head counts: left by a write
// that was not all undone, or a head that lost them.
func (r *Report) checkSegments(tx *bbolt.Tx, name []byte, b *bbolt.Bucket) {
	table := string(name[len(segPrefix):])
	tb := tx.Bucket([]byte(tablePrefix + table))
	_ = b.ForEach(func(sk, _ []byte) error {
		key, i, ok := parseSegKey(sk)
		if !ok {
			r.addProblem(Problem{Table: table, What: "a segment key that names no row"})
			return nil
		}
		var head []byte
		if tb != nil {
			head = tb.Get(key)
		}
		if n, why := openHead([]byte(tablePrefix+table), key, head); !isHead(head) || (why == "" && int(i) >= n) {
			r.addProblem(Problem{Table: table, Key: string(key), What: fmt.Sprintf("segment %d is not part of the row's value", i+1)})
		}
		return nil
	})
}

// checkLog decodes every log record: the ones below deltaSince, or all of a
// file not yet upgraded to format 4 (full), hold full values.
func (r *Report) checkLog(b *bbolt.Bucket, tail []byte, sealed, full bool, deltaSince uint64) {
	check := func(ver uint64, rec []byte) {
		r.LogRecords++
		var err error
		if sealed {
			_, err = decodeRecord(ver, rec, full || ver < deltaSince)
		} else {
			_, _, err = storage.DecodeChanges(rec)
		}
		var ce *storage.CorruptError
		switch {
		case errors.As(err, &ce):
			r.addProblem(Problem{Table: "[change log]", Key: fmt.Sprintf("version %d", ver), What: ce.Problem})
		case err != nil:
			r.addProblem(Problem{Table: "[change log]", Key: fmt.Sprintf("version %d", ver), What: "undecodable record"})
		}
	}
	_ = b.ForEach(func(k, v []byte) error {
		if len(k) != 8 {
			r.addProblem(Problem{Table: "[change log]", What: fmt.Sprintf("a key of %d bytes, want 8", len(k))})
			return nil
		}
		check(binary.BigEndian.Uint64(k), v)
		return nil
	})
	recs, err := decodeTail(tail, false)
	if err != nil {
		r.addProblem(Problem{Table: "[change log]", Key: "tail", What: err.Error()})
		return
	}
	for _, rec := range recs {
		check(rec.version, rec.data)
	}
}
