package storagetest

import (
	"context"
	"fmt"
	"math"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mcp-sync/mcp-sync/storage"
)

// auditTests are the suite's tests of the audit (storage.Store.Audit).
func auditTests() []suiteTest {
	return []suiteTest{
		{"AuditRecordsEachVersion", testAuditRecordsEachVersion, false},
		{"AuditPages", testAuditPages, false},
		{"AuditGroupCommitCausePerVersion", testAuditGroupCommitCausePerVersion, false},
		{"AuditMixedBatch", testAuditMixedBatch, false},
		{"AuditRetention", testAuditRetention, false},
		{"AuditRetentionUnbounded", testAuditRetentionUnbounded, false},
		{"AuditSurvivesReopen", testAuditSurvivesReopen, true},
	}
}

// caused runs fn in an Update whose context carries cause.
func caused(t testing.TB, s *storage.Store, cause string, fn func(*storage.WriteTx) error) uint64 {
	t.Helper()
	v, err := s.Update(storage.WithCause(context.Background(), []byte(cause)), fn)
	if err != nil {
		t.Fatalf("Update with cause %q: %v", cause, err)
	}
	return v
}

// allAudit reads every audit entry, forward, a page of limit at a time.
func allAudit(t testing.TB, s *storage.Store, limit int) []storage.AuditEntry {
	t.Helper()
	var out []storage.AuditEntry
	from := uint64(0)
	for range 100000 {
		page, next, err := s.Audit(storage.AuditQuery{From: from, Limit: limit})
		if err != nil {
			t.Fatalf("Audit from %d: %v", from, err)
		}
		out = append(out, page...)
		if next == 0 {
			return out
		}
		from = next
	}
	t.Fatal("Audit never returned a last page")
	return nil
}

// testAuditRecordsEachVersion: each version written with a cause has a
// record naming it, the time and the changed rows; a version without one,
// and a function that failed, have none.
func testAuditRecordsEachVersion(t *testing.T, h harness) {
	s := h.open(t, Options{})
	before := time.Now().Add(-time.Second)
	v1 := caused(t, s, "alice", func(w *storage.WriteTx) error {
		if err := w.Put("a", "k1", []byte("1")); err != nil {
			return err
		}
		return w.Put("b", "k2", []byte("2"))
	})
	v2 := Put(t, s, "a", "plain", "no cause")
	if _, err := s.Update(storage.WithCause(context.Background(), []byte("failed")), func(w *storage.WriteTx) error {
		_ = w.Put("a", "x", []byte("x"))
		return fmt.Errorf("refused")
	}); err == nil {
		t.Fatal("a failing function committed")
	}
	long := strings.Repeat("k", storage.MaxAuditKey+10)
	v3 := caused(t, s, "bob", func(w *storage.WriteTx) error {
		if err := w.Delete("a", "k1"); err != nil {
			return err
		}
		if err := w.Put("a", long, []byte("l")); err != nil {
			return err
		}
		for i := range storage.MaxAuditChanges + 5 {
			if err := w.Put("b", fmt.Sprintf("m%03d", i), []byte("m")); err != nil {
				return err
			}
		}
		return nil
	})
	v4 := caused(t, s, "carol", func(*storage.WriteTx) error { return nil }) // changes nothing
	got := allAudit(t, s, 0)
	if len(got) != 3 {
		t.Fatalf("audit holds %d entries, want 3 (v%d, v%d, v%d; none for v%d without a cause): %+v", len(got), v1, v3, v4, v2, got)
	}
	e := got[0]
	if e.Version != v1 || string(e.Cause) != "alice" || e.More != 0 || len(e.Changes) != 2 ||
		e.Changes[0] != (storage.AuditChange{Table: "a", Key: "k1", Op: storage.OpPut}) ||
		e.Changes[1] != (storage.AuditChange{Table: "b", Key: "k2", Op: storage.OpPut}) {
		t.Fatalf("entry of v%d = %+v", v1, e)
	}
	if e.Time.Before(before) || e.Time.After(time.Now().Add(time.Second)) {
		t.Fatalf("entry of v%d has time %v, want about now", v1, e.Time)
	}
	e = got[1]
	if e.Version != v3 || string(e.Cause) != "bob" || len(e.Changes) != storage.MaxAuditChanges ||
		e.More != 2+storage.MaxAuditChanges+5-storage.MaxAuditChanges {
		t.Fatalf("entry of v%d: version %d cause %q, %d changes listed and %d more", v3, e.Version, e.Cause, len(e.Changes), e.More)
	}
	if c := e.Changes[0]; c != (storage.AuditChange{Table: "a", Key: "k1", Op: storage.OpDelete}) {
		t.Fatalf("v%d's first change = %+v, want the delete of a/k1", v3, c)
	}
	if c := e.Changes[1]; !c.Cut || c.Key != long[:storage.MaxAuditKey] || c.Op != storage.OpPut {
		t.Fatalf("v%d's long key: cut %v, %d bytes, op %v", v3, c.Cut, len(c.Key), c.Op)
	}
	if e := got[2]; e.Version != v4 || string(e.Cause) != "carol" || len(e.Changes) != 0 || e.More != 0 {
		t.Fatalf("entry of v%d = %+v, want carol's with no changes", v4, e)
	}
	if _, err := s.Update(storage.WithCause(context.Background(), make([]byte, storage.MaxCauseSize+1)), func(w *storage.WriteTx) error {
		return w.Put("a", "big", []byte("1"))
	}); err == nil || !strings.Contains(err.Error(), fmt.Sprint(storage.MaxCauseSize)) {
		t.Fatalf("a cause over the limit: err %v, want one naming the limit", err)
	}
}

// testAuditPages: pages forward and backward, with cursors, and Keep.
func testAuditPages(t *testing.T, h harness) {
	s := h.open(t, Options{Fast: true})
	var vs []uint64
	for i := range 25 {
		who := []string{"alice", "bob"}[i%2]
		vs = append(vs, caused(t, s, who, func(w *storage.WriteTx) error {
			return w.Put("a", fmt.Sprint(i), []byte("v"))
		}))
	}
	if got := allAudit(t, s, 7); len(got) != 25 || got[0].Version != vs[0] || got[24].Version != vs[24] {
		t.Fatalf("forward pages of 7 read %d entries", len(got))
	}
	var rev []uint64
	from := uint64(0)
	for {
		page, next, err := s.Audit(storage.AuditQuery{From: from, Reverse: true, Limit: 10})
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range page {
			rev = append(rev, e.Version)
		}
		if next == 0 {
			break
		}
		from = next
	}
	if len(rev) != 25 || rev[0] != vs[24] || rev[24] != vs[0] {
		t.Fatalf("reverse pages read %v, want %v reversed", rev, vs)
	}
	bobs, next, err := s.Audit(storage.AuditQuery{Keep: func(e *storage.AuditEntry) bool { return string(e.Cause) == "bob" }})
	if err != nil || next != 0 || len(bobs) != 12 {
		t.Fatalf("Keep bob: %d entries, next %d, err %v; want 12, 0", len(bobs), next, err)
	}
	for _, from := range []uint64{math.MaxInt64, math.MaxUint64} { // past any version: nothing, not the start again
		if page, next, err := s.Audit(storage.AuditQuery{From: from}); err != nil || len(page) != 0 || next != 0 {
			t.Fatalf("after v%d: %d entries, next %d, err %v; want none", from, len(page), next, err)
		}
	}
	page, next, err := s.Audit(storage.AuditQuery{From: vs[20]})
	if err != nil || len(page) != 4 || page[0].Version != vs[21] || next != 0 {
		t.Fatalf("after v%d: %d entries, next %d, err %v; want the last 4 and no next", vs[20], len(page), next, err)
	}
	// A cursor past every version (a client's, any uint64) reads nothing.
	for _, from := range []uint64{vs[24] + 1, 1 << 63, math.MaxUint64} {
		page, next, err := s.Audit(storage.AuditQuery{From: from})
		if err != nil || len(page) != 0 || next != 0 {
			t.Fatalf("after %d: %d entries, next %d, err %v; want none", from, len(page), next, err)
		}
	}
}

// testAuditGroupCommitCausePerVersion: writers sharing commits each get
// their own version's record, with their own cause.
func testAuditGroupCommitCausePerVersion(t *testing.T, h harness) {
	s := h.open(t, Options{})
	const writers, each = 12, 15
	var mu sync.Mutex
	want := map[uint64]string{}
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				cause := fmt.Sprintf("w%d-%d", w, i)
				key := fmt.Sprintf("%d/%d", w, i)
				v, err := s.Update(storage.WithCause(context.Background(), []byte(cause)), func(tx *storage.WriteTx) error {
					return tx.Put("a", key, []byte(cause))
				})
				if err != nil {
					t.Errorf("writer %d: %v", w, err)
					return
				}
				mu.Lock()
				want[v] = cause
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	got := allAudit(t, s, storage.MaxAuditLimit)
	if len(got) != writers*each {
		t.Fatalf("audit holds %d entries, want %d", len(got), writers*each)
	}
	for _, e := range got {
		cause := want[e.Version]
		if string(e.Cause) != cause || len(e.Changes) != 1 || e.Changes[0].Key != strings.TrimPrefix(strings.ReplaceAll(cause, "-", "/"), "w") {
			t.Fatalf("v%d: cause %q changes %+v, want %q's own write", e.Version, e.Cause, e.Changes, cause)
		}
	}
}

// testAuditRetention: records older than the retention go, in chunks; the
// newest stay.
func testAuditRetention(t *testing.T, h harness) {
	const keep = 10
	s := h.open(t, Options{Fast: true, AuditRetention: keep})
	var last uint64
	for i := range keep + 600 {
		last = caused(t, s, "x", func(w *storage.WriteTx) error { return w.Put("a", "k", []byte(fmt.Sprint(i))) })
	}
	got := allAudit(t, s, storage.MaxAuditLimit)
	if len(got) < keep || len(got) > keep+300 {
		t.Fatalf("audit holds %d entries after %d versions with a retention of %d; want between %d and %d", len(got), last, keep, keep, keep+300)
	}
	if got[len(got)-1].Version != last || got[len(got)-keep].Version != last-keep+1 {
		t.Fatalf("the newest entries are v%d…v%d, want v%d…v%d", got[len(got)-keep].Version, got[len(got)-1].Version, last-keep+1, last)
	}
}

// testAuditRetentionUnbounded: the largest retention (a caller's "keep
// them all") keeps every record; it must not wrap around to a small one.
func testAuditRetentionUnbounded(t *testing.T, h harness) {
	s := h.open(t, Options{Fast: true, AuditRetention: math.MaxUint64})
	const n = 300
	for i := range n {
		caused(t, s, "x", func(w *storage.WriteTx) error { return w.Put("a", "k", []byte(fmt.Sprint(i))) })
	}
	if got := allAudit(t, s, storage.MaxAuditLimit); len(got) != n {
		t.Fatalf("audit holds %d entries after %d versions with the largest retention; want all", len(got), n)
	}
}

// testAuditSurvivesReopen: records are durable.
func testAuditSurvivesReopen(t *testing.T, h harness) {
	s := h.open(t, Options{})
	v := caused(t, s, "alice", func(w *storage.WriteTx) error { return w.Put("a", "k", []byte("1")) })
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = h.open(t, Options{})
	got := allAudit(t, s, 0)
	if len(got) != 1 || got[0].Version != v || string(got[0].Cause) != "alice" {
		t.Fatalf("after reopen the audit holds %+v, want alice's v%d", got, v)
	}
}

// testAuditMixedBatch: in one shared commit, a function without a cause
// after one with gets no record, nor does one that fails; each other gets
// its own.
func testAuditMixedBatch(t *testing.T, h harness) {
	s := h.open(t, Options{})
	release := BlockLoop(t, s)
	const n = 9
	vs, errs := make([]uint64, n), make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			ctx, key := context.Background(), fmt.Sprintf("k%d", i)
			if i%3 != 0 {
				ctx = storage.WithCause(ctx, []byte(key))
			}
			vs[i], errs[i] = s.Update(ctx, func(w *storage.WriteTx) error {
				if err := w.Put("a", key, []byte("v")); err != nil {
					return err
				}
				if i%3 == 2 {
					return fmt.Errorf("refused")
				}
				return nil
			})
		})
	}
	time.Sleep(200 * time.Millisecond) // let them queue behind the blocker: sharing a commit is what is tested
	release()
	wg.Wait()
	want := map[uint64]string{}
	for i, err := range errs {
		if (err == nil) != (i%3 != 2) {
			t.Fatalf("writer %d: %v", i, err)
		}
		if i%3 == 1 {
			want[vs[i]] = fmt.Sprintf("k%d", i)
		}
	}
	got := allAudit(t, s, 0)
	if len(got) != len(want) {
		t.Fatalf("the audit holds %d records, want %d (the writers with a cause that committed): %+v", len(got), len(want), got)
	}
	for _, e := range got {
		if string(e.Cause) != want[e.Version] || len(e.Changes) != 1 || e.Changes[0].Key != want[e.Version] {
			t.Fatalf("the record of v%d: cause %q, changes %+v; want %q's own", e.Version, e.Cause, e.Changes, want[e.Version])
		}
	}
}
