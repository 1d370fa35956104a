package bolt

import (
	"log/slog"
	"time"
)

// Options configure [Open]. Zero values take the defaults shown.
type Options struct {
	// SchemaVersion of the app. Opening a file stored by a higher version
	// fails with storage.ErrSchemaTooNew; a lower one is upgraded in place.
	SchemaVersion int
	// Tables the app declares; a bucket is created for each missing one.
	// Reads and writes of any other table fail with storage.ErrNoTable.
	Tables []string
	// LockTimeout bounds the wait for a file another process holds (2s).
	LockTimeout time.Duration
	// LogRetention is how many versions the change log keeps (10000).
	LogRetention uint64
	// AuditRetention is how many versions the audit keeps records of
	// (100000): the newest ones; older records are deleted as commits go.
	AuditRetention uint64
	// MaxBatch caps how many write functions share one commit (256).
	MaxBatch int
	// Linger is how long a commit waits for more writers after one that
	// several shared (default 300 µs; negative: never). A lone writer never
	// waits.
	Linger time.Duration
	// NoSync skips fsync: for benchmarks that measure everything but the disk.
	NoSync bool
	// Logger, if set, hears the progress of a format upgrade on open, and
	// the damaged rows AllowDamagedRows let through.
	Logger *slog.Logger
	// AllowDamagedRows opens a file whose structure is intact though some
	// table values fail their checksum (each is logged): reads of those
	// rows fail with storage.ErrCorrupt until they are rewritten or
	// deleted. Without it Open refuses such a file, naming the first
	// damaged row, when it checks values: after a crash, not after a clean
	// Close (see Open).
	AllowDamagedRows bool

	// upgradeBatch is how many rows one upgrade transaction rewrites (0:
	// 2000); afterUpgradeBatch, if set, runs after each one commits and
	// stops the upgrade with its error (tests cut an upgrade off with it).
	upgradeBatch      int
	afterUpgradeBatch func() error
	// logWindow is how many changes a ReadLog window holds (0: 2048);
	// tests make it small to cross windows.
	logWindow int
}

func (o *Options) defaults() {
	if o.LockTimeout <= 0 {
		o.LockTimeout = 2 * time.Second
	}
	if o.LogRetention == 0 {
		o.LogRetention = 10000
	}
	if o.AuditRetention == 0 {
		o.AuditRetention = 100000
	}
	if o.Linger == 0 {
		o.Linger = 300 * time.Microsecond
	}
	if o.MaxBatch <= 0 {
		o.MaxBatch = 256
	}
	if o.upgradeBatch <= 0 {
		o.upgradeBatch = 2000
	}
	if o.logWindow <= 0 {
		o.logWindow = windowChanges
	}
}
