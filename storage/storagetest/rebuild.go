package storagetest

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"

	"github.com/mcp-sync/mcp-sync/storage"
)

// A driver may log what changed rather than copies of values, and rebuild
// values when the log is read: these tests read the log back from every
// version and compare every value with what was written.

// checkLogFrom reads the log of table from every version in [from, upto]
// and compares it with log, in one read and in pages of 1 and 3 events.
func checkLogFrom(t *testing.T, s *storage.Store, log []committed, table string, from uint64) {
	t.Helper()
	f := storage.Filter{Table: table}
	upto := s.Version()
	for after := from; after <= upto; after++ {
		want := expected(log, f, after)
		got, err := s.ChangesSince(after, f, 0)
		if err != nil {
			t.Fatalf("ChangesSince(%d): %v", after, err)
		}
		eventsEqual(t, fmt.Sprintf("ChangesSince(%d)", after), got, want)
		if after%7 != 0 {
			continue
		}
		for _, limit := range []int{1, 3} {
			var paged []storage.Event
			for at := after; ; {
				page, err := s.ChangesSince(at, f, limit)
				if err != nil {
					t.Fatalf("ChangesSince(%d, limit %d): %v", at, limit, err)
				}
				if len(page) == 0 {
					break
				}
				paged = append(paged, page...)
				at = page[len(page)-1].Version
			}
			eventsEqual(t, fmt.Sprintf("ChangesSince(%d) in pages of %d", after, limit), paged, want)
		}
	}
}

func eventsEqual(t *testing.T, what string, got, want []storage.Event) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d events, want %d", what, len(got), len(want))
	}
	for i := range got {
		if got[i].Version != want[i].Version || !changesEqual(got[i].Changes, want[i].Changes) {
			t.Fatalf("%s: event %d = version %d %s, want version %d %s", what, i,
				got[i].Version, showChanges(got[i].Changes), want[i].Version, showChanges(want[i].Changes))
		}
	}
}

func showChanges(cs []storage.Change) string {
	var b strings.Builder
	for _, c := range cs {
		fmt.Fprintf(&b, "[%s %s/%s %.60q]", c.Op, c.Table, c.Key, c.Value)
	}
	return b.String()
}

// testLogRebuildsAppends: a row streamed into (a string field growing at
// its end, a counter beside it), beside other rows, read back from every
// version, also after a reopen.
func testLogRebuildsAppends(t *testing.T, h harness) {
	s := h.openNamed(t, "data", Options{Fast: true})
	var log []committed
	text := strings.Repeat("x", 100)
	for n := 1; n <= 120; n++ {
		text += "0123456789abcdefghij"
		changes := []storage.Change{pc("a", "answer", fmt.Sprintf(`{"text":%q,"n":%d}`, text, n))}
		if n%5 == 0 {
			changes = append(changes, pc("a", fmt.Sprint("other", n%3), fmt.Sprint(`{"n":`, n, `}`)))
		}
		if n%17 == 0 { // two chunks in one version
			text += "!"
			changes = append(changes, pc("a", "answer", fmt.Sprintf(`{"text":%q,"n":%d}`, text, n)))
		}
		apply(t, s, &log, changes...)
	}
	checkLogFrom(t, s, log, "a", 0)
	if !h.d.Durable {
		return
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = h.openNamed(t, "data", Options{Fast: true})
	checkLogFrom(t, s, log, "a", 100)
}

// testLogRebuildsRewrites: rows rewritten in part and in whole, deleted
// and made again, several times within one version, by a random walk,
// read back from every version within a small retention.
func testLogRebuildsRewrites(t *testing.T, h harness) {
	const retention = 60
	s := h.open(t, Options{Fast: true, LogRetention: retention})
	rng := rand.New(rand.NewPCG(17, 4))
	rows := map[string]string{}
	var log []committed
	keys := []string{"k1", "k2", "k3", "a long key whose rows are large"}
	for range 240 {
		var changes []storage.Change
		for range 1 + rng.IntN(3) {
			k := keys[rng.IntN(len(keys))]
			old, ok := rows[k]
			var v string
			switch op := rng.IntN(6); {
			case op == 0 && ok:
				changes = append(changes, dc("a", k))
				delete(rows, k)
				continue
			case op == 1 || !ok: // a new value
				v = strings.Repeat(string(rune('a'+rng.IntN(26))), rng.IntN(3000))
			case op == 2: // appended to
				v = old + strings.Repeat("+", 1+rng.IntN(40))
			case op == 3 && len(old) > 2: // cut short
				v = old[:rng.IntN(len(old))]
			case op == 4 && len(old) > 10: // a middle byte changed
				i := rng.IntN(len(old))
				v = old[:i] + "#" + old[i+1:]
			default: // the same value again
				v = old
			}
			rows[k] = v
			changes = append(changes, pc("a", k, v))
		}
		apply(t, s, &log, changes...)
	}
	checkLogFrom(t, s, log, "a", s.Version()-retention)
	got := Rows(t, s, "a")
	EqualRows(t, got, rows)
}

// testLogRebuildsUnderConcurrentWriters: functions sharing commits, some
// failing after rewriting the row (their writes undone), some with a failed
// Try step, while a subscriber with a one-event buffer keeps falling back
// to reading the log (whose reads then see versions past the ones they
// serve): every value it receives is one that committed, in order.
func testLogRebuildsUnderConcurrentWriters(t *testing.T, h harness) {
	s := h.open(t, Options{Fast: true, SubscriberBuffer: 1})
	sub := subscribe(t, s, storage.Filter{Table: "a", Key: "row"}, 0)
	var mu sync.Mutex
	committedAt := map[uint64][]string{} // version → the row's values it put
	errFail := errors.New("fails on purpose")
	var wg sync.WaitGroup
	const writers, each = 4, 40
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				var vals []string
				v, err := s.Update(context.Background(), func(tx *storage.WriteTx) error {
					old, _, err := tx.Get("a", "row")
					if err != nil {
						return err
					}
					val := string(old) + fmt.Sprintf("w%d.%d;", w, i)
					vals = []string{val}
					if err := tx.Put("a", "row", []byte(val)); err != nil {
						return err
					}
					_ = tx.Try(func(step *storage.WriteTx) error {
						if err := step.Put("a", "row", []byte(val+"a failed step")); err != nil {
							return err
						}
						return errFail
					})
					if i%3 == 2 { // rewritten whole
						vals = append(vals, "whole")
						return tx.Put("a", "row", []byte("whole"))
					}
					if i%4 == 3 {
						if err := tx.Put("a", "row", []byte("failing")); err != nil {
							return err
						}
						return errFail
					}
					return nil
				})
				switch {
				case errors.Is(err, errFail) && i%4 == 3:
				case err != nil:
					t.Errorf("writer %d, write %d: %v", w, i, err)
					return
				default:
					mu.Lock()
					committedAt[v] = vals
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	last := s.Version()
	for seen := uint64(0); seen < last; {
		ev := next(t, sub)
		if ev.Resync {
			t.Fatalf("resync at version %d: the log holds every version", ev.Version)
		}
		want := committedAt[ev.Version]
		if len(ev.Changes) != len(want) {
			t.Fatalf("version %d: %d changes of the row, want %d", ev.Version, len(ev.Changes), len(want))
		}
		for i, c := range ev.Changes {
			if string(c.Value) != want[i] {
				t.Fatalf("version %d: the row is %.80q, want %.80q", ev.Version, c.Value, want[i])
			}
		}
		seen = ev.Version
	}
}

// testLogRebuildsAcrossTrims: a row streamed into for longer than the log
// keeps, read back from every version still kept while older records are
// trimmed, and from the trimmed ones as ErrResync.
func testLogRebuildsAcrossTrims(t *testing.T, h harness) {
	const retention = 25
	s := h.open(t, Options{Fast: true, LogRetention: retention})
	var log []committed
	text := ""
	for n := 1; n <= 400; n++ {
		text += fmt.Sprint(n, ",")
		changes := []storage.Change{pc("a", "answer", text)}
		if n%50 == 0 {
			changes = append(changes, dc("a", "answer"))
			text = ""
		}
		apply(t, s, &log, changes...)
		if n%45 == 0 {
			checkLogFrom(t, s, log, "a", s.Version()-retention)
			if _, err := s.ChangesSince(s.Version()-retention-1, storage.Filter{Table: "a"}, 0); !errors.Is(err, storage.ErrResync) {
				t.Fatalf("ChangesSince past the retention: %v, want ErrResync", err)
			}
		}
	}
}
