package bolt

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mcp-sync/mcp-sync/storage"
	bbolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// formatVersion is the layout of the file itself (buckets, log encoding),
// independent of the app's schema version. Version 2 keeps the newest log
// records in the meta bucket (keyLogTail), which a version-1 reader would
// miss, so it must refuse such files. Version 3 stores every table value and
// log record with a checksum (value.go); older files are upgraded on open
// (upgrade.go). Version 4 logs each change as its undo rather than a copy of
// the value (logcodec.go); records written before the upgrade to it, below
// keyDeltaSince, keep their full values and are read as they are. Version 5
// stores values longer than segThreshold in segments (segment.go), which a
// version-4 reader would take for damage; a version-4 file holds none, so
// it is upgraded by writing the new format number, and its long rows are
// segmented at their next write (readers take both forms anyway, and a
// pass rewriting every long row at open would delay the start for nothing
// until the row is written again).
const formatVersion = 5

// deltaFormat is the first format whose log records hold undos.
const deltaFormat = 4

// sealedFormat is the first format whose values and records carry
// checksums.
const sealedFormat = 3

var (
	metaBucket = []byte("meta")
	logBucket  = []byte("log")

	keyFormat        = []byte("format")
	keySchemaVersion = []byte("schemaVersion")
	keyVersion       = []byte("version")
	keyLogFloor      = []byte("logFloor")
	keyLogTail       = []byte("logTail")
	keyDeltaSince    = []byte("deltaSince")
)

// tablePrefix keeps table buckets apart from the store's own.
const tablePrefix = "t/"

// Driver is an open data file: a [storage.Driver]. Wrap it with
// [storage.New] (or open it with [OpenStore]). It is safe for concurrent use.
type Driver struct {
	db      *bbolt.DB
	path    string
	opts    Options
	tables  map[string][]byte // table → bucket name
	publish func(version uint64, events []storage.Event)

	commits   *storage.CommitQueue
	closing   chan struct{}  // closed when Close begins: reads and the fast-open walk stop
	walked    sync.WaitGroup // walkAfterFastOpen has returned
	closeOnce sync.Once
	closeErr  error

	version  atomic.Uint64 // last committed version
	logFloor atomic.Uint64 // the log holds every version > logFloor

	logTrimmed uint64 // records ≤ this were deleted; owned by the leading writer
	deltaSince uint64 // records below this version hold full values (format 3); set by Open

	damaged atomic.Pointer[error] // set when bbolt met a damaged page: writes stop
}

// OpenStore opens the data file at path (see [Open]) as a [storage.Store]
// with the default storage.Options.
func OpenStore(path string, opts Options) (*storage.Store, error) {
	d, err := Open(path, opts)
	if err != nil {
		return nil, err
	}
	return storage.New(d, storage.Options{}), nil
}

// Open opens (or creates) the data file at path. It fails with
// storage.ErrLocked after opts.LockTimeout when another process holds the
// file, with storage.ErrSchemaTooNew when the file was written by a newer
// schema, and with storage.ErrCorrupt, naming the file and what is wrong,
// when the file is damaged: before bbolt touches it, Open checks its
// structure. A file that was not closed cleanly (a crash, a kill) gets the
// full check — both meta pages, every page in use and every table value's
// checksum — which costs one read of the file, like the walk bbolt makes at
// open to rebuild its free list. A file closed cleanly by [Driver.Close]
// and not written since opens fast: its free list was saved, so bbolt
// reads only the meta pages and the free list, and Open checks those (the
// free list's page ids in range and listed once). The tree it leaves
// unread is walked after the open, beside the first writes (until the walk
// is done, commits also write the free list, so a failed commit never has
// bbolt walk the file itself, which panics where nothing can recover on
// damage): damage there (bit rot after the close) is met by that walk or
// by a read that reaches it first, as storage.ErrCorrupt, never a panic,
// after which the driver refuses writes. Row checksums are checked as rows
// are read, and a free-list id that names a page in use is not caught at
// all until [Check] runs. Run [Check] (`mcp-sync check`), which
// always reads everything, to look for such damage.
// An existing empty file is refused as damaged rather than made a new
// store: it was meant to hold data. A file of an older format is upgraded
// in place, in transactions of bounded size; an upgrade cut off resumes at
// the next Open.
func Open(path string, opts Options) (*Driver, error) {
	opts.defaults()
	if dir := filepath.Dir(path); dir != "" {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, fmt.Errorf("storage: create directory for %s: %w", path, err)
		}
	}
	db, fast, err := openBolt(path, opts)
	if err != nil {
		return nil, err
	}
	s := &Driver{db: db, path: path, opts: opts, tables: make(map[string][]byte), closing: make(chan struct{})}
	s.commits = storage.NewCommitQueue(opts.MaxBatch, opts.Linger, s.commit)
	for _, t := range opts.Tables {
		s.tables[t] = []byte(tablePrefix + t)
	}
	if err := guard("open", s.init); err != nil {
		_ = db.Close()
		if errors.Is(err, storage.ErrCorrupt) {
			return nil, fmt.Errorf("storage: %s: %w", path, err)
		}
		return nil, err
	}
	if fast {
		s.walked.Add(1)
		go s.walkAfterFastOpen()
	}
	return s, nil
}

// openBolt locks the file at path, checks its structure, and opens it with
// bbolt; fast tells that the file was closed cleanly and only its metas and
// free list were checked.
func openBolt(path string, opts Options) (_ *bbolt.DB, fast bool, _ error) {
	_, statErr := os.Stat(path)
	existed := statErr == nil
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, false, fmt.Errorf("storage: open %s: %w", path, err)
	}
	if err := lockFile(f, true, opts.LockTimeout); err != nil {
		f.Close()
		if errors.Is(err, errLockTimeout) {
			return nil, false, lockedError(path, opts.LockTimeout)
		}
		return nil, false, fmt.Errorf("storage: lock %s: %w", path, err)
	}
	fast, err = verifyOpen(f, path, existed, opts)
	if err != nil {
		f.Close()
		return nil, false, err
	}
	// The free list is not written by every commit (one page less per
	// commit, bbolt's advice for write-heavy use): Close saves it in a last
	// commit, so a clean reopen reads it instead of walking the file, and
	// the first commit after opening clears it again, so a crash leaves a
	// file whose free list bbolt rebuilds by walking it. After a fast open,
	// commits keep writing it until walkAfterFastOpen has read the tree.
	var db *bbolt.DB
	err = guard("open", func() error {
		var err error
		db, err = bbolt.Open(path, 0o600, &bbolt.Options{Timeout: opts.LockTimeout, NoSync: opts.NoSync,
			NoFreelistSync: !fast, FreelistType: bbolt.FreelistMapType,
			OpenFile: func(string, int, os.FileMode) (*os.File, error) { return f, nil }})
		return err
	})
	if errors.Is(err, berrors.ErrTimeout) {
		return nil, false, lockedError(path, opts.LockTimeout)
	}
	if err != nil {
		f.Close()
		if errors.Is(err, storage.ErrCorrupt) {
			return nil, false, fmt.Errorf("storage: %s: %w", path, err)
		}
		return nil, false, fmt.Errorf("storage: open %s: %w", path, err)
	}
	return db, fast, nil
}

func lockedError(path string, waited time.Duration) error {
	return fmt.Errorf("storage: %s is in use by another process (waited %s for its lock): stop the other mcp-sync using it, or choose another data file with --data or MCP_SYNC_DATA: %w", path, waited, storage.ErrLocked)
}

// verifyOpen checks the structure of the locked file f before bbolt opens
// it, and refuses an existing empty one.
func verifyOpen(f *os.File, path string, existed bool, opts Options) (fast bool, _ error) {
	fi, err := f.Stat()
	if err != nil {
		return false, fmt.Errorf("storage: stat %s: %w", path, err)
	}
	if fi.Size() == 0 {
		if !existed {
			return false, nil // new: bbolt writes its meta pages
		}
		return false, fmt.Errorf("storage: %s is empty (0 bytes): a data file that lost its contents, so it is not made a new, empty store; restore it from a backup, or delete it to start afresh: %w", path, storage.ErrCorrupt)
	}
	var problems []Problem
	var lay layout
	if err := guard("check its structure", func() error { lay, problems = verify(f, fi.Size(), cleanFast); return nil }); err != nil {
		return false, fmt.Errorf("storage: %s: %w", path, err)
	}
	if len(problems) == 0 {
		return lay.fast, nil
	}
	if opts.AllowDamagedRows && !slices.ContainsFunc(problems, func(p Problem) bool { return p.Key == "" }) {
		for _, p := range problems {
			if opts.Logger != nil {
				opts.Logger.Warn("damaged row: reads of it fail until it is rewritten or deleted", "file", path, "table", p.Table, "key", storage.ShortKey(p.Key), "problem", p.What)
			}
		}
		return lay.fast, nil
	}
	hint := "restore it from a backup or move it aside to start afresh"
	if problems[0].Key != "" {
		hint = "restore it from a backup, or open it with damaged rows allowed (serve --allow-damaged-rows) and rewrite or delete them"
	}
	more := ""
	if len(problems) > 1 {
		more = fmt.Sprintf(" (and %d more)", len(problems)-1)
	}
	return false, fmt.Errorf("storage: %s is damaged: %s%s; run `mcp-sync check --data %s` for the full list, then %s: %w",
		path, problems[0], more, path, hint, storage.ErrCorrupt)
}

// init creates missing buckets, checks the format and schema versions,
// upgrades an older format, and loads the committed version. A file that
// needs none of it is not written: a clean reopen keeps its saved free list
// until the first real write.
func (s *Driver) init() error {
	if err := s.upgrade(); err != nil {
		return err
	}
	var ready bool
	err := s.db.View(func(tx *bbolt.Tx) error {
		meta := tx.Bucket(metaBucket)
		if ready = s.ready(tx); ready {
			s.load(meta)
		}
		return nil
	})
	if err != nil || ready {
		return err
	}
	return s.db.Update(func(tx *bbolt.Tx) error {
		meta, err := tx.CreateBucketIfNotExists(metaBucket)
		if err != nil {
			return fmt.Errorf("storage: %s: create meta bucket: %w", s.path, err)
		}
		if _, err := tx.CreateBucketIfNotExists(logBucket); err != nil {
			return fmt.Errorf("storage: %s: create log bucket: %w", s.path, err)
		}
		for _, name := range []string{auditName, auditTailName} {
			if _, err := tx.CreateBucketIfNotExists([]byte(name)); err != nil {
				return fmt.Errorf("storage: %s: create audit bucket: %w", s.path, err)
			}
		}
		if err := s.checkVersions(meta); err != nil {
			return err
		}
		if err := putUint(meta, keyFormat, formatVersion); err != nil {
			return err
		}
		if err := putUint(meta, keySchemaVersion, uint64(max(s.opts.SchemaVersion, 0))); err != nil {
			return err
		}
		for t, b := range s.tables {
			if t == "" {
				return fmt.Errorf("storage: empty table name")
			}
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return fmt.Errorf("storage: %s: create table %q: %w", s.path, t, err)
			}
		}
		s.load(meta)
		return nil
	})
}

// ready reports whether the file in tx needs nothing from init: every
// bucket exists and both versions are the ones init would write.
func (s *Driver) ready(tx *bbolt.Tx) bool {
	meta := tx.Bucket(metaBucket)
	if meta == nil || tx.Bucket(logBucket) == nil || tx.Bucket([]byte(auditName)) == nil || tx.Bucket([]byte(auditTailName)) == nil || getUint(meta, keyFormat) != formatVersion ||
		getUint(meta, keySchemaVersion) != uint64(max(s.opts.SchemaVersion, 0)) {
		return false
	}
	for t, b := range s.tables {
		if t == "" || tx.Bucket(b) == nil {
			return false
		}
	}
	return true
}

// load reads the committed version and the log's floor from meta.
func (s *Driver) load(meta *bbolt.Bucket) {
	s.version.Store(getUint(meta, keyVersion))
	s.logFloor.Store(getUint(meta, keyLogFloor))
	s.logTrimmed = s.logFloor.Load()
	s.deltaSince = getUint(meta, keyDeltaSince)
}

// checkVersions refuses a file of a newer format or schema.
func (s *Driver) checkVersions(meta *bbolt.Bucket) error {
	if f := getUint(meta, keyFormat); f > formatVersion {
		return fmt.Errorf("storage: %s has file format %d, this binary reads up to %d: upgrade mcp-sync: %w", s.path, f, formatVersion, storage.ErrSchemaTooNew)
	}
	if sv := getUint(meta, keySchemaVersion); sv > uint64(max(s.opts.SchemaVersion, 0)) {
		return fmt.Errorf("storage: %s was written by schema version %d, but this app declares version %d: run the newer build, or use another data file: %w", s.path, sv, s.opts.SchemaVersion, storage.ErrSchemaTooNew)
	}
	return nil
}

// Path returns the data file's path.
func (s *Driver) Path() string { return s.path }

// Tables returns the tables the file was opened with.
func (s *Driver) Tables() []string { return slices.Clone(s.opts.Tables) }

// Version returns the last committed version (0 for a new file).
func (s *Driver) Version() uint64 { return s.version.Load() }

// OnCommit sets the function told of every commit (see storage.Driver).
func (s *Driver) OnCommit(publish func(version uint64, events []storage.Event)) {
	s.publish = publish
}

// Close commits the writes already queued and closes the file.
func (s *Driver) Close() error {
	s.closeOnce.Do(func() {
		close(s.closing)
		s.commits.Close() // writes queued before Close commit first
		s.walked.Wait()
		s.saveFreelist()
		s.closeErr = s.db.Close()
	})
	return s.closeErr
}

// saveFreelist commits a last, empty transaction that writes the free list,
// so that the next Open reads it instead of walking the whole file. A file
// found damaged is left as it is, for the next Open's full check; a failure
// costs only that walk, so it is logged, not returned.
func (s *Driver) saveFreelist() {
	if s.damaged.Load() != nil {
		return
	}
	err := guard("save the free list", func() error {
		return s.db.Update(func(*bbolt.Tx) error {
			// Read by Commit, under the writer lock this function holds.
			s.db.NoFreelistSync = false
			return nil
		})
	})
	if err != nil && s.opts.Logger != nil {
		s.opts.Logger.Warn("could not save the free list: the next open reads the whole file", "file", s.path, "error", err)
	}
}

// View runs fn in a read transaction. A panic of fn's own passes through
// View unchanged.
func (s *Driver) View(fn func(tx storage.DriverReadTx) error) error {
	select {
	case <-s.closing:
		return storage.ErrClosed
	default:
	}
	var up *userPanic
	err := guard("read", func() error {
		return s.db.View(func(btx *bbolt.Tx) error {
			tx := &readTx{s: s, tx: btx, version: getUint(btx.Bucket(metaBucket), keyVersion)}
			return callUser(&up, func() error { return fn(tx) })
		})
	})
	if up != nil {
		panic(up.v)
	}
	if errors.Is(err, storage.ErrCorrupt) && s.damaged.Load() == nil && !isRowDamage(err) {
		s.markDamaged(err)
	}
	if errors.Is(err, berrors.ErrDatabaseNotOpen) { // Close won the race with the check above
		return storage.ErrClosed
	}
	return err
}

// Update queues fn for the next commit and waits for it (see
// storage.Driver): the first writer to find nobody committing leads (see
// storage.CommitQueue). Once queued it waits whatever ctx says, since the
// caller must learn whether fn committed; the Store's fn checks ctx before
// it writes.
func (s *Driver) Update(_ context.Context, fn func(tx storage.DriverWriteTx) ([]storage.Change, error)) (uint64, error) {
	return s.commits.Update(fn)
}
