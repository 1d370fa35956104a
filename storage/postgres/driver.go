package postgres

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/mcp-sync/mcp-sync/storage"
)

// DefaultSchema is the PostgreSQL schema the driver keeps its tables in
// unless Options.Schema names another.
const DefaultSchema = "mcp_sync"

// Options configure [Open]. Zero values take the defaults shown.
type Options struct {
	// Tables the app declares. Reads and writes of any other table fail
	// with storage.ErrNoTable.
	Tables []string
	// SchemaVersion of the app. A database written by a higher version is
	// refused with storage.ErrSchemaTooNew; a lower one is taken over.
	SchemaVersion int
	// LogRetention is how many versions the change log keeps (10000).
	LogRetention uint64
	// AuditRetention is how many versions the audit keeps records of
	// (100000): the newest ones; older records are deleted as commits go.
	AuditRetention uint64
	// Schema is the PostgreSQL schema holding the driver's tables
	// (DefaultSchema): apps sharing a database each need their own.
	Schema string
	// Logger, if set, hears of lost connections and of the listener's
	// reconnects.
	Logger *slog.Logger
	// MaxBatch caps how many write functions share one transaction (256).
	MaxBatch int
	// Poll is how often the driver reads the change log for other
	// processes' commits when no notification came (1s): notifications are
	// lost while the listener reconnects.
	Poll time.Duration
	// Timeout bounds each round of work with the server: a commit, a read
	// transaction's start (30s).
	Timeout time.Duration
}

func (o *Options) defaults() {
	if o.LogRetention == 0 {
		o.LogRetention = 10000
	}
	if o.AuditRetention == 0 {
		o.AuditRetention = 100000
	}
	if o.Schema == "" {
		o.Schema = DefaultSchema
	}
	if o.MaxBatch <= 0 {
		o.MaxBatch = 256
	}
	if o.Poll <= 0 {
		o.Poll = time.Second
	}
	if o.Timeout <= 0 {
		o.Timeout = 30 * time.Second
	}
}

// Driver is an open PostgreSQL store: a [storage.Driver]. Wrap it with
// [storage.New] (or open it with [OpenStore]). It is safe for concurrent use.
type Driver struct {
	pool   *pgxpool.Pool
	listen *pgx.ConnConfig // the listener's own connection
	path   string
	opts   Options
	q      queries
	tables map[string]struct{}

	publish func(version uint64, events []storage.Event)

	commits *storage.CommitQueue

	pubMu     sync.Mutex    // orders publishing: one call at a time, in version order
	published atomic.Uint64 // the last version published (Version)
	committed atomic.Uint64 // the last version this process committed

	poke      chan struct{} // asks the listener to read the log now
	closing   chan struct{}
	tailOnce  sync.Once          // starts the listener (OnCommit), or marks it never started (Close)
	stopTail  context.CancelFunc // set by the tailOnce that started it
	tailDone  chan struct{}
	closeOnce sync.Once
}

// OpenStore opens the database at dsn (see [Open]) as a [storage.Store]
// with the default storage.Options.
func OpenStore(ctx context.Context, dsn string, opts Options) (*storage.Store, error) {
	d, err := Open(ctx, dsn, opts)
	if err != nil {
		return nil, err
	}
	return storage.New(d, storage.Options{}), nil
}

// Open connects to the PostgreSQL database at dsn (a URL or key=value
// connection string, as libpq takes) and makes, in opts.Schema, whatever of
// the driver's tables is missing. It fails with storage.ErrSchemaTooNew when
// the data was written by a newer schema, and with an error wrapping
// storage.ErrUnavailable when the server cannot be reached. ctx bounds the
// opening only.
func Open(ctx context.Context, dsn string, opts Options) (*Driver, error) {
	opts.defaults()
	if err := checkSchemaName(opts.Schema); err != nil {
		return nil, err
	}
	for _, t := range opts.Tables {
		if t == "" || !utf8.ValidString(t) || strings.ContainsRune(t, 0) {
			return nil, fmt.Errorf("storage: table name %q: want non-empty UTF-8 without NUL (PostgreSQL stores it as text)", t)
		}
	}
	cfg, err := parseDSN(dsn)
	if err != nil {
		return nil, err
	}
	if !strings.Contains(dsn, "pool_max_conns") {
		// pgxpool's default is one a CPU (at least 4); reads of many
		// sessions each hold one for a moment, a commit one per batch.
		cfg.MaxConns = 16
	}
	d := &Driver{
		listen: cfg.ConnConfig.Copy(),
		path:   pathOf(cfg.ConnConfig, opts.Schema),
		opts:   opts, q: newQueries(opts.Schema), tables: make(map[string]struct{}),
		poke: make(chan struct{}, 1), closing: make(chan struct{}), tailDone: make(chan struct{}),
	}
	d.commits = storage.NewCommitQueue(opts.MaxBatch, 0, func(batch []*storage.Request) { d.commit(batch, true) })
	for _, t := range opts.Tables {
		d.tables[t] = struct{}{}
	}
	if d.pool, err = pgxpool.NewWithConfig(ctx, cfg); err != nil {
		return nil, d.fail("connect", err)
	}
	v, _, err := d.initSchema(ctx)
	if err != nil {
		d.pool.Close()
		return nil, err
	}
	d.published.Store(v)
	d.committed.Store(v)
	return d, nil
}

// parseDSN parses a connection string, its error free of the string (which
// may hold a password).
func parseDSN(dsn string) (*pgxpool.Config, error) {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		var pe *pgconn.ParseConfigError
		if errors.As(err, &pe) && pe.Unwrap() != nil {
			err = pe.Unwrap()
		}
		return nil, fmt.Errorf("storage: the PostgreSQL connection string does not parse (want postgres://user@host:port/database or host=… dbname=…): %s", firstLine(err))
	}
	if cfg.ConnConfig.ConnectTimeout == 0 {
		cfg.ConnConfig.ConnectTimeout = 5 * time.Second
	}
	if _, ok := cfg.ConnConfig.RuntimeParams["idle_in_transaction_session_timeout"]; !ok {
		// A process stopped while it holds the version row's lock (a
		// SIGSTOP, a debugger) would stall every other; one that dies
		// drops its connection and the lock at once.
		cfg.ConnConfig.RuntimeParams["idle_in_transaction_session_timeout"] = "60000"
	}
	return cfg, nil
}

// pathOf names a database and schema for messages: no user, no password.
func pathOf(cfg *pgx.ConnConfig, schema string) string {
	return fmt.Sprintf("postgres://%s:%d/%s (schema %s)", cfg.Host, cfg.Port, cfg.Database, schema)
}

func checkSchemaName(s string) error {
	if len(s) > 50 {
		return fmt.Errorf("storage: PostgreSQL schema name %q is longer than 50 bytes", storage.ShortKey(s))
	}
	if slices.Contains([]byte(s), 0) {
		return errors.New("storage: PostgreSQL schema name holds a NUL byte")
	}
	return nil
}

// Path names the database and schema (host, port, database; never the
// user or password).
func (d *Driver) Path() string { return d.path }

// Shared reports true: any number of processes may use one schema at once
// (see storage.Shared).
func (d *Driver) Shared() bool { return true }

// Tables returns the tables the driver was opened with.
func (d *Driver) Tables() []string { return slices.Clone(d.opts.Tables) }

// Version returns the last version published: every commit of this
// process, and those of others once the listener has read them.
func (d *Driver) Version() uint64 { return d.published.Load() }

// OnCommit sets the function told of every commit, this process's and
// other processes' (see storage.Driver), and starts listening for the
// others': none is published before it is set.
func (d *Driver) OnCommit(publish func(version uint64, events []storage.Event)) {
	d.pubMu.Lock()
	d.publish = publish
	d.pubMu.Unlock()
	d.tailOnce.Do(func() {
		ctx, cancel := context.WithCancel(context.Background())
		d.stopTail = cancel
		go d.tail(ctx)
	})
}

// Close commits the writes already queued, stops the listener and closes
// the connections, waiting for reads in progress.
func (d *Driver) Close() error {
	d.closeOnce.Do(func() {
		close(d.closing)
		d.commits.Close()                           // writes queued before Close commit first
		d.tailOnce.Do(func() { close(d.tailDone) }) // never started
		if d.stopTail != nil {
			d.stopTail()
		}
		<-d.tailDone
		d.pool.Close()
	})
	return nil
}

func (d *Driver) isClosing() bool {
	select {
	case <-d.closing:
		return true
	default:
		return false
	}
}

// View runs fn in a read-only REPEATABLE READ transaction: one snapshot of
// rows, version and log. A panic of fn's own passes through View unchanged.
func (d *Driver) View(fn func(tx storage.DriverReadTx) error) error {
	if d.isClosing() {
		return storage.ErrClosed
	}
	ctx := context.Background()
	start, cancel := context.WithTimeout(ctx, d.opts.Timeout)
	conn, version, floor, err := d.begin(start, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", d.q.lockShared)
	cancel()
	if err != nil {
		if d.isClosing() {
			return storage.ErrClosed
		}
		return d.fail("read", err)
	}
	defer conn.Release()
	ended := false
	defer func() {
		if !ended { // fn panicked: leave the connection idle, or let the pool drop it
			rollback(conn)
		}
	}()
	rt := &readTx{d: d, conn: conn.Conn(), version: version, floor: floor}
	rt.top = rt.version
	if rt.version > d.published.Load() {
		d.wakeTail() // a commit of another process this one has not published
	}
	err = fn(rt)
	ended = true
	end, cancel := context.WithTimeout(ctx, d.opts.Timeout)
	defer cancel()
	if _, cerr := conn.Exec(end, "COMMIT"); cerr != nil && err == nil {
		err = d.fail("read", cerr)
	}
	return err
}

// begin acquires a connection and opens a transaction on it with begin
// then query, which reads the meta row's version and log floor. A
// connection found dead (the server restarted, the network dropped) means
// its idle siblings are dead too: the pool drops them all, and the
// opening, which wrote nothing, is tried once more on a fresh one.
func (d *Driver) begin(ctx context.Context, begin, query string) (_ *pgxpool.Conn, version, floor uint64, _ error) {
	for try := 0; ; try++ {
		conn, err := d.pool.Acquire(ctx)
		if err != nil {
			return nil, 0, 0, err
		}
		b := &pgx.Batch{}
		b.Queue(begin)
		b.Queue(query)
		err = readMeta(conn.Conn().SendBatch(ctx, b), &version, &floor)
		if err == nil {
			return conn, version, floor, nil
		}
		rollback(conn)
		conn.Release()
		if try > 0 || !unavailable(err) || ctx.Err() != nil {
			return nil, 0, 0, err
		}
		d.pool.Reset()
	}
}

// readMeta reads the results of a batch of BEGIN then a meta select.
func readMeta(br pgx.BatchResults, version, floor *uint64) error {
	if _, err := br.Exec(); err != nil {
		br.Close()
		return err
	}
	var v, f int64
	if err := br.QueryRow().Scan(&v, &f); err != nil {
		br.Close()
		return err
	}
	*version, *floor = uint64(v), uint64(f)
	return br.Close()
}

func (d *Driver) wakeTail() {
	select {
	case d.poke <- struct{}{}:
	default:
	}
}
