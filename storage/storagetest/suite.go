// Package storagetest is the test suite every storage driver must pass: run
// it from the driver's own tests with [Run]. It holds a driver to the
// contract written on [storage.Driver], through a [storage.Store]: reads and
// writes, versions, failed and partial writes, the change log, retention,
// subscriptions, concurrent writers, Close, (for a durable driver) a
// restart, values read back from the log after appends, rewrites,
// deletes and trims, and long values across any size a driver stores
// differently.
package storagetest

import (
	"strings"
	"testing"

	"github.com/mcp-sync/mcp-sync/storage"
)

// Options say what store a test needs.
type Options struct {
	// Tables the store declares (the suite uses "a" and "b").
	Tables []string
	// LogRetention, if not 0, is how many versions the change log keeps:
	// the last LogRetention versions are served, anything older is
	// ErrResync.
	LogRetention uint64
	// AuditRetention, if not 0, is how many versions the audit keeps
	// records of: the last AuditRetention versions' at least.
	AuditRetention uint64
	// SubscriberBuffer is passed to storage.New (0: its default).
	SubscriberBuffer int
	// Fast: the test commits many versions and does not look at
	// durability, so the driver may skip what makes a commit survive a
	// crash (bbolt: fsync).
	Fast bool
}

// Driver is what Run needs to know of a driver.
type Driver struct {
	// Open returns a store over the data called name, made with
	// storage.New. The suite gives each test its own names: the first Open
	// of a name must find no data; another Open of the same name, made
	// after the store was closed, must find what that store held if the
	// driver is Durable. Open registers the store's Close with t.Cleanup;
	// the suite may close it first.
	Open func(t testing.TB, name string, o Options) *storage.Store
	// Durable: what a closed store committed is there when it is opened
	// again. The restart tests run only for a durable driver.
	Durable bool
}

// Run runs the suite against d, each test a subtest of t.
func Run(t *testing.T, d Driver) {
	tests := []suiteTest{
		{"PutGetDelete", testPutGetDelete, false},
		{"UpdateErrorLeavesNothing", testUpdateErrorLeavesNothing, false},
		{"UpdatePanicLeavesNothing", testUpdatePanicLeavesNothing, false},
		{"GroupCommitFailuresIsolated", testGroupCommitFailuresIsolated, false},
		{"VersionsStrictlyIncrease", testVersionsStrictlyIncrease, false},
		{"ConcurrentWritersSeenOnce", testConcurrentWritersSeenOnce, false},
		{"CancelledContext", testCancelledContext, false},
		{"BadKeys", testBadKeys, false},
		{"UnknownTable", testUnknownTable, false},
		{"TrySteps", testTrySteps, false},
		{"ScanPaging", testScanPaging, false},
		{"ScanPrefixAndCursorEdges", testScanPrefixAndCursorEdges, false},
		{"ScanLimits", testScanLimits, false},
		{"LongValues", testLongValues, false},
		{"LongValueUndo", testLongValueUndo, false},
		{"ReopenKeepsRowsVersionAndLog", testReopenKeepsRowsVersionAndLog, true},
		{"ClosedStore", testClosedStore, false},
		{"ViewRacingClose", testViewRacingClose, false},
		{"SubscribeFromVersion", testSubscribeFromVersion, false},
		{"SlowSubscriberDoesNotBlockWriters", testSlowSubscriberDoesNotBlockWriters, false},
		{"RetentionResync", testRetentionResync, false},
		{"SubscribeFromFutureVersion", testSubscribeFromFutureVersion, false},
		{"ChangesSinceFutureVersion", testChangesSinceFutureVersion, false},
		{"SubscriptionCloseThenNext", testSubscriptionCloseThenNext, false},
		{"SnapshotThenSubscribeUnderWrites", testSnapshotThenSubscribeUnderWrites, false},
		{"LogRebuildsAppends", testLogRebuildsAppends, false},
		{"LogRebuildsRewrites", testLogRebuildsRewrites, false},
		{"LogRebuildsUnderConcurrentWriters", testLogRebuildsUnderConcurrentWriters, false},
		{"LogRebuildsAcrossTrims", testLogRebuildsAcrossTrims, false},
	}
	tests = append(tests, auditTests()...)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.durable && !d.Durable {
				t.Skip("the driver keeps nothing across Close")
			}
			tc.fn(t, harness{d})
		})
	}
}

// suiteTest is one test of the suite; durable ones run only for a durable
// driver.
type suiteTest struct {
	name    string
	fn      func(*testing.T, harness)
	durable bool
}

// testTables are the tables a test's store declares unless it says.
var testTables = []string{"a", "b"}

// harness opens stores for one test.
type harness struct{ d Driver }

// open opens the test's store "data".
func (h harness) open(t testing.TB, o Options) *storage.Store {
	t.Helper()
	return h.openNamed(t, "data", o)
}

// openNamed opens the test's store name, declaring testTables unless o
// names tables.
func (h harness) openNamed(t testing.TB, name string, o Options) *storage.Store {
	t.Helper()
	if o.Tables == nil {
		o.Tables = testTables
	}
	safe := strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' {
			return r
		}
		return '_'
	}, t.Name()+"."+name)
	return h.d.Open(t, safe, o)
}

// match reports whether f selects c, as the Store's filter does.
func match(f storage.Filter, c *storage.Change) bool {
	if c.Table != f.Table {
		return false
	}
	if f.Key != "" {
		return c.Key == f.Key
	}
	return strings.HasPrefix(c.Key, f.Prefix)
}
