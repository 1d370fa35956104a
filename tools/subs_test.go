package tools_test

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/mcp"

	"github.com/mcp-sync/mcp-sync/backend"
	"github.com/mcp-sync/mcp-sync/internal/drivertest"
	"github.com/mcp-sync/mcp-sync/tools"
	"github.com/mcp-sync/mcp-sync/wire"
)

// subscribe watches uris the way the client's era does it: resources/subscribe
// before 2026-07-28, a subscriptions/listen stream from it.
func subscribe(t *testing.T, c *client.Client, e era, uris ...string) {
	t.Helper()
	ctx := context.Background()
	if e.legacy {
		for _, uri := range uris {
			//lint:ignore SA1019 the legacy protocol era is tested on purpose
			if err := c.Subscribe(ctx, mcp.SubscribeRequest{Params: mcp.SubscribeParams{URI: uri}}); err != nil {
				t.Fatalf("subscribe %s: %v", uri, err)
			}
		}
		return
	}
	lctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = c.Listen(lctx, mcp.SubscriptionFilter{ResourceSubscriptions: uris})
	}()
	t.Cleanup(func() { cancel(); <-done })
}

func updatedURIs(n *notes) []string {
	var out []string
	for _, x := range n.byMethod("notifications/resources/updated") {
		if uri, ok := x.Params.AdditionalFields["uri"].(string); ok {
			out = append(out, uri)
		}
	}
	return out
}

// quiet waits until n has taken no update notification for d (testWait at
// most).
func quiet(n *notes, d time.Duration) {
	deadline := time.Now().Add(testWait)
	for last := len(updatedURIs(n)); time.Now().Before(deadline); {
		time.Sleep(d)
		now := len(updatedURIs(n))
		if now == last {
			return
		}
		last = now
	}
}

func count(uris []string, uri string) int {
	k := 0
	for _, u := range uris {
		if u == uri {
			k++
		}
	}
	return k
}

// mutateUntilNotified writes key until a notification for uri arrives: a
// modern subscription is live only once the server has its listen request.
func mutateUntilNotified(t *testing.T, c *client.Client, n *notes, key, uri string) {
	t.Helper()
	i := 0
	for deadline := time.Now().Add(testWait); time.Now().Before(deadline); i++ {
		if res := call(t, c, "putItem", map[string]any{"key": key, "name": fmt.Sprint("v", i)}); res.IsError {
			t.Fatal(text(res))
		}
		if waitFor(250*time.Millisecond, func() bool { return count(updatedURIs(n), uri) > 0 }) {
			return
		}
	}
	t.Fatalf("no notifications/resources/updated for %s after %d writes in %v", uri, i, testWait)
}

func TestSubscriptions(t *testing.T) {
	a := newApp(t)
	_, base := serveHTTP(t, a, tools.HTTPOptions{})
	for _, e := range eras {
		t.Run(e.name, func(t *testing.T) {
			c, n := connect(t, base, e, nil)
			key := "sub-" + e.name
			row, other, secret := wire.RowURI("items", key), wire.RowURI("items", key+"-other"), wire.RowURI("secrets", "api")
			subscribe(t, c, e, row, wire.TableURI("items"), secret, "mcp-sync://table/nosuch/x")
			mutateUntilNotified(t, c, n, key, row)
			if !waitFor(testWait, func() bool { return count(updatedURIs(n), wire.TableURI("items")) > 0 }) {
				t.Errorf("no update for the table URI within %v", testWait)
			}

			// A write to another row notifies the table, not this row; a
			// write to the server-only table notifies nothing. Counted once
			// the last write's notifications are in: on 2025-11-25 HTTP an
			// echo of the row follows the call that wrote it; a loaded
			// machine can leave a gap of over 100 ms before it.
			quiet(n, 500*time.Millisecond)
			before := count(updatedURIs(n), row)
			if res := call(t, c, "putItem", map[string]any{"key": key + "-other", "name": "x"}); res.IsError {
				t.Fatal(text(res))
			}
			if res := call(t, c, "putSecret", map[string]any{"key": "api", "name": "sk"}); res.IsError {
				t.Fatal(text(res))
			}
			time.Sleep(200 * time.Millisecond)
			got := updatedURIs(n)
			if count(got, row) != before || count(got, other) != 0 || count(got, secret) != 0 {
				t.Errorf("unexpected updates: %v", got)
			}

			// A burst of 300 commits to the row: updates may be coalesced, but a
			// client that re-reads on each update ends on the final value.
			var latest atomic.Int64
			reread := make(chan struct{}, 1)
			stop := make(chan struct{})
			var wg sync.WaitGroup
			wg.Add(1)
			go func() {
				defer wg.Done()
				seen := len(updatedURIs(n))
				for {
					select {
					case <-stop:
						return
					case <-n.wake:
					case <-reread:
					case <-time.After(20 * time.Millisecond):
					}
					all := updatedURIs(n)
					if count(all[seen:], row) == 0 {
						continue
					}
					seen = len(all)
					res, err := c.ReadResource(context.Background(), mcp.ReadResourceRequest{Params: mcp.ReadResourceParams{URI: row}})
					if err != nil {
						continue
					}
					var it Item
					_ = json.Unmarshal([]byte(res.Contents[0].(mcp.TextResourceContents).Text), &it)
					latest.Store(int64(it.Count))
				}
			}()
			start := len(updatedURIs(n))
			res := call(t, c, "stream", map[string]any{"key": key, "n": 300})
			if res.IsError {
				t.Fatal(text(res))
			}
			ok := waitFor(testWait, func() bool { return latest.Load() == 300 })
			close(stop)
			wg.Wait()
			if !ok {
				t.Errorf("after 300 commits the re-reading client last saw count %d %v later, want 300", latest.Load(), testWait)
			}
			t.Logf("%s: 300 commits to one row gave %d updates for it", e.name, count(updatedURIs(n)[start:], row))
		})
	}
}

func TestSubscriptionsEndWithSession(t *testing.T) {
	a := newApp(t)
	srv, base := serveHTTP(t, a, tools.HTTPOptions{})
	for _, e := range eras {
		c, n := connect(t, base, e, nil)
		key := "end-" + e.name
		subscribe(t, c, e, wire.RowURI("items", key))
		mutateUntilNotified(t, c, n, key, wire.RowURI("items", key))
		c.Close()
	}
	// Modern streams end with their request, legacy SSE with its connection;
	// legacy streamable HTTP sessions end on DELETE (Close sends it).
	if !waitFor(testWait, func() bool { return tools.Subscribers(srv) == 0 }) {
		t.Errorf("%d subscribers remain %v after every client closed", tools.Subscribers(srv), testWait)
	}
}

// wantsChanges is the client option that declares wire.ChangesMetaKey.
func wantsChanges() client.ClientOption {
	return client.WithClientCapabilities(mcp.ClientCapabilities{Experimental: map[string]any{wire.ChangesMetaKey: map[string]any{}}})
}

// carried is an update notification as a client that takes changes sees
// it: its URI, and the wire.ChangeNotice in its _meta unless it is bare.
type carried struct {
	uri string
	wire.ChangeNotice
	bare bool
	raw  string // the notice as sent
}

// carriedNotices decodes every update notification n took.
func carriedNotices(t *testing.T, n *notes) []carried {
	t.Helper()
	var out []carried
	var err error
	for _, x := range n.byMethod("notifications/resources/updated") {
		uri, _ := x.Params.AdditionalFields["uri"].(string)
		raw, ok := x.Params.Meta[wire.ChangesMetaKey].(string)
		no := carried{uri: uri, raw: raw}
		if !ok {
			no.bare = true
		} else if no.ChangeNotice, err = wire.DecodeNotice(uri, []byte(raw)); err != nil {
			t.Fatalf("notice for %s: %v in %s", uri, err, raw)
		}
		out = append(out, no)
	}
	return out
}

// reached reports whether a notice of uri that n took reached version v.
func reached(t *testing.T, n *notes, uri string, v uint64) bool {
	for _, no := range carriedNotices(t, n) {
		if no.uri == uri && no.Version >= v {
			return true
		}
	}
	return false
}

// TestOwnWritesAreAnnounced: a subscriber that makes the writes itself
// hears of the last one. On 2025-11-25 streamable HTTP, mcp-go v1.2.1's
// forwarder for a call's response drops a notification it took from the
// session's queue as the call ends, and a notice of the call's own write is
// queued just then; the server announces such URIs again when the call ends
// (registry.callEnded). Before that, 1 run in 20 of a test like this one lost
// the last notice under load.
func TestOwnWritesAreAnnounced(t *testing.T) {
	a := newApp(t)
	_, base := serveHTTP(t, a, tools.HTTPOptions{})
	wants := wantsChanges()
	for _, e := range eras {
		t.Run(e.name, func(t *testing.T) {
			c, n := connect(t, base, e, nil, wants)
			key := "own-" + e.name
			row := wire.RowURI("items", key)
			subscribe(t, c, e, row)
			mutateUntilNotified(t, c, n, key, row) // the subscription is in place
			for i := range 60 {
				if res := call(t, c, "putItem", map[string]any{"key": key, "name": fmt.Sprint("v", i)}); res.IsError {
					t.Fatal(text(res))
				}
				final := a.eng.Version()
				if !waitFor(testWait, func() bool { return reached(t, n, row, final) }) {
					t.Fatalf("write %d: no notice of %s reached version %d within %v", i, row, final, testWait)
				}
			}
			echoes := 0
			for _, no := range carriedNotices(t, n) {
				if !no.bare && no.After == no.Version && len(no.Events) == 0 {
					echoes++
				}
			}
			// Only 2025-11-25 streamable HTTP echoes, after calls during
			// which a notice went out (most of these 60).
			t.Logf("%s: %d echoes", e.name, echoes)
			if (echoes > 0) != (e.name == "http-legacy") {
				t.Errorf("%s: %d echoes", e.name, echoes)
			}
		})
	}
}

// TestUpdateNotificationsCarryChanges: for a client that declares the
// experimental capability wire.ChangesMetaKey, a row or table URI's
// notifications/resources/updated carries its changes in _meta, each
// notification going on from the version the previous one reached, so the
// client holds every change without asking _sync_changes. Changes to other
// rows stay out of a row's notices. A client that does not declare it gets
// the plain notifications.
func TestUpdateNotificationsCarryChanges(t *testing.T) {
	drivertest.Both(t, func(t *testing.T, drv func(*backend.Options)) {
		a := newApp(t, drv)
		_, base := serveHTTP(t, a, tools.HTTPOptions{})
		wants := wantsChanges()
		for _, e := range eras {
			t.Run(e.name, func(t *testing.T) {
				c, n := connect(t, base, e, nil, wants)
				plain, pn := connect(t, base, e, nil)
				// The writes come from a session of their own: on 2025-11-25
				// streamable HTTP, mcp-go v1.2.1 drops a notification that a
				// call's response stream takes from the session's queue as the
				// call ends (README, "Resources"), which would break the chain
				// this test checks in ~5% of runs.
				writer, _ := connect(t, base, e, nil)
				key := "carry-" + e.name
				row, table := wire.RowURI("items", key), wire.TableURI("items")
				subscribe(t, c, e, row, table)
				subscribe(t, plain, e, row)
				mutateUntilNotified(t, writer, n, key, row)
				mutateUntilNotified(t, writer, pn, key, row)
				if res := call(t, writer, "putItem", map[string]any{"key": key + "-other", "name": "x"}); res.IsError {
					t.Fatal(text(res))
				}
				if res := call(t, writer, "stream", map[string]any{"key": key, "n": 100}); res.IsError {
					t.Fatal(text(res))
				}
				final := a.eng.Version()
				// A patch of a value no notice carried (one written before the
				// subscription was in place, which a loaded machine can delay
				// past the first writes) is read as a client reads it: the
				// row's change at the patch's base, from _sync_changes.
				readBase := func(key string, version uint64) (json.RawMessage, bool) {
					res := call(t, writer, wire.ToolSyncChanges, map[string]any{"table": "items", "key": key, "after": version - 1, "limit": 1})
					var out wire.SyncChangesOut
					if res.IsError || json.Unmarshal([]byte(text(res)), &out) != nil || len(out.Events) == 0 ||
						out.Events[0].Version != version || len(out.Events[0].Changes) == 0 {
						return nil, false
					}
					return out.Events[0].Changes[len(out.Events[0].Changes)-1].Value, true
				}
				if !waitFor(testWait, func() bool { return reached(t, n, row, final) && reached(t, n, table, final) }) {
					t.Fatalf("no notice reached version %d for both URIs within %v", final, testWait)
				}
				for _, uri := range []string{row, table} {
					var mine []carried
					for _, no := range carriedNotices(t, n) {
						if no.uri == uri {
							mine = append(mine, no)
						}
					}
					// Legacy streamable HTTP may deliver a session's notifications
					// on a call's response stream as well as on its GET stream, so
					// they can arrive out of order: the client sorts that out with
					// After, and so does this test.
					slices.SortStableFunc(mine, func(x, y carried) int { return cmp.Compare(x.Version, y.Version) })
					var last uint64
					counts := 0
					carried := 0
					patches := 0
					held := map[string]heldRow{} // what the notices carried, as a client holds it
					for _, no := range mine {
						if no.bare {
							last = 0 // the next carries on from wherever the client read to
							clear(held)
							continue
						}
						carried++
						if last != 0 && no.After != last {
							t.Fatalf("%s: a notice goes on from %d, the previous reached %d", uri, no.After, last)
						}
						prev := no.After
						for _, ev := range no.Events {
							if ev.Version <= prev || ev.Version > no.Version {
								t.Fatalf("%s: event %d outside (%d, %d] or out of order", uri, ev.Version, prev, no.Version)
							}
							prev = ev.Version
							for _, ch := range ev.Changes {
								if uri == row && ch.Key != key {
									t.Fatalf("row %s's notice carries a change to %s", key, ch.Key)
								}
								value, ok := applyChange(t, held, ev.Version, ch, readBase)
								if !ok {
									continue // deleted
								}
								if ch.Op == wire.OpPatch {
									patches++
									compact(t, no, ch)
								}
								var it Item
								if err := json.Unmarshal(value, &it); err != nil {
									t.Fatalf("%s: change %s: %v", uri, value, err)
								}
								if ch.Key == key && it.Count > 0 {
									if it.Count != counts+1 {
										t.Fatalf("%s: count %d after %d: a change is missing or repeated", uri, it.Count, counts)
									}
									counts = it.Count
								}
							}
						}
						last = no.Version
					}
					if carried == 0 || counts != 100 {
						t.Errorf("%s: %d notices carried changes, ending at count %d (want 100)", uri, carried, counts)
					}
					// The streamed row grows by a few bytes a write: after its
					// first, its changes travel as patches.
					if patches < 90 {
						t.Errorf("%s: %d of the 100 streamed writes came as patches", uri, patches)
					}
				}
				for _, x := range pn.byMethod("notifications/resources/updated") {
					if _, ok := x.Params.Meta[wire.ChangesMetaKey]; ok {
						t.Fatalf("a client that did not ask for changes got them: %+v", x.Params.Meta)
					}
				}
			})
		}
	})
}

// compact fails unless a notice of one patch says no more than the patch:
// on the row's own URI, the key is left out, and so is the base when it is
// where the notice goes on from, as it is after the first.
func compact(t *testing.T, no carried, ch wire.SyncChange) {
	t.Helper()
	if len(no.Events) != 1 || len(no.Events[0].Changes) != 1 || ch.Base != no.After || !strings.HasPrefix(no.uri, wire.TableURI("items")+"/") {
		return
	}
	// {"a":after,"e":[[version,{"+":append,"m":merge}]]}
	limit := len(ch.Append) + len(ch.Merge) + 2*20 + len(`{"a":,"e":[[,{"+":,"m":}]]}`)
	if strings.Contains(no.raw, `"k":`) || strings.Contains(no.raw, `"b":`) || len(no.raw) > limit {
		t.Errorf("%s: a notice of one patch is %d B, over %d, or names the row's key or the base it goes on from: %s", no.uri, len(no.raw), limit, no.raw)
	}
}

// heldRow is a row's JSON as of the version that wrote it.
type heldRow struct {
	version uint64
	value   json.RawMessage
}

// applyChange applies a notice's change to held, as a client does, and
// returns the row's value after it; ok is false for a delete. A patch of a
// row held at no version is applied to its base as read (the test missed
// it); one of a row held at another version than its base is a broken
// chain: the test fails.
func applyChange(t *testing.T, held map[string]heldRow, version uint64, ch wire.SyncChange,
	read func(key string, version uint64) (json.RawMessage, bool)) (json.RawMessage, bool) {
	t.Helper()
	switch ch.Op {
	case wire.OpDelete:
		delete(held, ch.Key)
		return nil, false
	case wire.OpPatch:
		h, ok := held[ch.Key]
		if !ok {
			value, found := read(ch.Key, ch.Base)
			if !found {
				t.Fatalf("row %s: a patch of its value at version %d, which _sync_changes does not have", ch.Key, ch.Base)
			}
			h = heldRow{ch.Base, value}
		}
		if h.version != ch.Base {
			t.Fatalf("row %s at version %d: a patch of version %d", ch.Key, h.version, ch.Base)
		}
		v, err := wire.ApplyPatch(h.value, ch.Append, ch.Merge)
		if err != nil {
			t.Fatalf("row %s: applying %s / %s to %s: %v", ch.Key, ch.Append, ch.Merge, h.value, err)
		}
		held[ch.Key] = heldRow{version, v}
		return v, true
	}
	held[ch.Key] = heldRow{version, ch.Value}
	return ch.Value, true
}
