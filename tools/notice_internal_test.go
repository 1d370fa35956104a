package tools

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"unsafe"

	"github.com/mark3labs/mcp-go/server"

	"github.com/mcp-sync/mcp-sync/backend"
	"github.com/mcp-sync/mcp-sync/wire"
)

// TestNoticeKeepsEachVersionOnce: a version that wrote a row twice is one
// event of the row's notice, holding both changes; changes from before the
// subscription are left out; too many changes make the notice bare.
func TestNoticeKeepsEachVersionOnce(t *testing.T) {
	all := []wire.SyncChange{{Key: "a", Op: "put", Value: json.RawMessage(`1`)}, {Key: "b", Op: "delete"}, {Key: "a", Op: "put", Value: json.RawMessage(`2`)}}
	keys, byKey := byRow(all)
	if fmt.Sprint(keys) != "[a b]" || len(byKey["a"]) != 2 || len(byKey["b"]) != 1 {
		t.Fatalf("byRow: %v %v", keys, byKey)
	}
	n := &notice{after: 10}
	n.add(9, all)  // before the subscription
	n.add(11, all) // noted once per version…
	n.add(11, all) // …however often it is marked
	n.add(12, byKey["a"])
	uri := wire.TableURI("t")
	got, err := wire.DecodeNotice(uri, []byte(n.encode(uri)))
	if err != nil {
		t.Fatal(err)
	}
	if got.After != 10 || got.Version != 12 || len(got.Events) != 2 || got.Events[0].Version != 11 || len(got.Events[0].Changes) != 3 {
		t.Fatalf("notice: %+v", got)
	}
	big := []wire.SyncChange{{Key: "a", Op: "put", Value: json.RawMessage(`"` + strings.Repeat("x", maxNoticeBytes) + `"`)}}
	n.add(13, big)
	if n.encode(uri) != "" || n.version != 13 {
		t.Fatalf("a notice past %d bytes still carries its changes (version %d)", maxNoticeBytes, n.version)
	}
}

// TestNoticeEncodedOncePerRange: clients owing the same notice of a URI get
// the same bytes, encoded once; another range or URI is encoded apart.
func TestNoticeEncodedOncePerRange(t *testing.T) {
	changes := []wire.SyncChange{{Key: "a", Op: "put", Value: json.RawMessage(`{"n":1}`)}}
	owed := func() *notice {
		n := &notice{after: 4}
		n.add(5, changes)
		return n
	}
	var e encodings
	first, second := e.of("", "u", owed()), e.of("", "u", owed())
	if first == "" || unsafe.StringData(first) != unsafe.StringData(second) {
		t.Fatalf("two clients owing the same notice got separate encodings: %s, %s", first, second)
	}
	if other := e.of("", "v", owed()); unsafe.StringData(other) == unsafe.StringData(first) {
		t.Fatal("another URI's notice shared an encoding")
	}
	if other := e.of("bob", "u", owed()); unsafe.StringData(other) == unsafe.StringData(first) {
		t.Fatal("another owner's notice of the URI (a private table's row) shared an encoding")
	}
	later := owed()
	later.add(6, changes)
	if got := e.of("", "u", later); got == first {
		t.Fatalf("a longer range got the shorter one's encoding: %s", got)
	}
	if e.of("", "u", &notice{after: 4, version: 9, bare: true}) != "" {
		t.Fatal("a bare notice was encoded")
	}
	for i := range maxKeptEncodings + 10 {
		e.of("", fmt.Sprint("w", i), owed())
	}
	if len(e.byKey) > maxKeptEncodings || len(e.order) != len(e.byKey) {
		t.Fatalf("kept %d encodings (%d in order), at most %d", len(e.byKey), len(e.order), maxKeptEncodings)
	}
}

// TestOneEventEncodedAsNoted: clients noted the same version of a URI get
// the same bytes, encoded as the version was noted (their senders need not
// wait for one another), equal to what their own encoding would be; a
// client that subscribed later starts elsewhere and gets its own; a notice
// that coalesced a second version, went bare or was put back after a
// failed send is encoded by its sender.
func TestOneEventEncodedAsNoted(t *testing.T) {
	newClient := func(upTo uint64) *client {
		_, c := echoClient(true)
		c.upTo["u"] = upTo
		return c
	}
	a, b, late := newClient(5), newClient(5), newClient(6)
	changes := []wire.SyncChange{{Key: "k", Op: "put", Value: json.RawMessage(`{"n":7}`)}}
	one := &oneEvent{uri: "u"}
	for _, c := range []*client{a, b, late} {
		c.note("u", 7, changes, false, one)
	}
	na, nb, nl := a.dirty["u"], b.dirty["u"], late.dirty["u"]
	if !na.encoded || !nb.encoded || !nl.encoded {
		t.Fatalf("not encoded as noted: %v %v %v", na.encoded, nb.encoded, nl.encoded)
	}
	if na.enc != na.encode("u") || nl.enc != nl.encode("u") || na.enc == nl.enc {
		t.Fatalf("encodings %s / %s, want %s / %s", na.enc, nl.enc, na.encode("u"), nl.encode("u"))
	}
	if unsafe.StringData(na.enc) != unsafe.StringData(nb.enc) {
		t.Fatal("two clients owing the same notice got separate encodings")
	}
	// The next version joins a's pending notice: it is no longer one event.
	a.note("u", 8, changes, false, &oneEvent{uri: "u"})
	if na.encoded {
		t.Fatal("a notice of two versions kept the first one's encoding")
	}
	b.mu.Lock()
	b.dirty = map[string]*notice{}
	b.upTo["u"] = 7
	b.putBack("u", nb)
	b.mu.Unlock()
	if nb.encoded {
		t.Fatal("a notice put back after a failed send kept its encoding")
	}
	plain := newClient(5)
	plain.changes = false
	plain.note("u", 7, changes, false, one)
	if n := plain.dirty["u"]; n.encoded || !n.bare {
		t.Fatalf("a client taking no changes: %+v", n)
	}
	many := &oneEvent{uri: "u"}
	for i := range maxOneEventStarts + 1 {
		c := newClient(uint64(i))
		c.note("u", 9, changes, false, many)
		if got := c.dirty["u"].encoded; got != (i < maxOneEventStarts) {
			t.Fatalf("start %d: encoded %v", i, got)
		}
	}
}

// TestEncodedNoticeGoesBare: a notice encoded as it was noted that a bare
// note then joins (the table's watch restarted, or skipped changes) is sent
// bare, as its client must read the changes itself; its encoding of the
// first version alone would tell the client it had them all.
func TestEncodedNoticeGoesBare(t *testing.T) {
	r, c := echoClient(true)
	sent := make(chan string, 1)
	c.send = func(uri, changes string) error { sent <- changes; return nil }
	c.stop = make(chan struct{})
	changes := []wire.SyncChange{{Key: "k", Op: "put", Value: json.RawMessage(`{"n":7}`)}}
	c.note("u", 7, changes, false, &oneEvent{uri: "u"})
	if !c.dirty["u"].encoded {
		t.Fatal("a one-event notice was not encoded as noted")
	}
	c.note("u", 9, nil, true, nil)
	c.poke()
	go r.deliver(c)
	defer close(c.stop)
	if got := <-sent; got != "" {
		t.Fatalf("a notice gone bare was sent with changes: %s", got)
	}
}

// TestMarkSendsFromTheMarkingGoroutine: the goroutine that marks a change
// sends its clients' notices itself, before mark returns, instead of waking
// each client's sender: on a loaded machine a hundred woken senders may not
// all run before the next change, whose notice then coalesces with theirs.
// A client whose queue is full is left to its sender, poked to retry.
func TestMarkSendsFromTheMarkingGoroutine(t *testing.T) {
	r, c := echoClient(true)
	r.log = slog.New(slog.DiscardHandler)
	uri := wire.RowURI("items", "k")
	var sent []string
	full := false
	c.send = func(u, changes string) error {
		if full {
			return server.ErrNotificationChannelBlocked
		}
		sent = append(sent, changes)
		return nil
	}
	c.upTo = map[string]uint64{uri: 5}
	c.uris = map[string]bool{uri: true}
	r.byURI = map[string]map[*client]bool{uri: {c: true}}
	w := &watcher{table: "items"}
	ev := backend.Event{Version: 6, Changes: []backend.Change{{Table: "items", Key: "k", Op: backend.OpPut, Value: json.RawMessage(`{"n":6}`)}}}
	r.mark(w, ev)
	if len(sent) != 1 || !strings.Contains(sent[0], `"n":6`) {
		t.Fatalf("mark returned with %q sent, want the change's notice", sent)
	}
	if len(c.wake) != 0 || len(c.dirty) != 0 {
		t.Fatalf("the sender was woken (%d) or a notice left pending (%d)", len(c.wake), len(c.dirty))
	}
	full = true
	ev.Version, ev.Changes[0].Value = 7, json.RawMessage(`{"n":7}`)
	r.mark(w, ev)
	if len(c.wake) != 1 || c.dirty[uri] == nil {
		t.Fatalf("a full queue: sender poked %d, pending %v; want the sender poked to retry the notice", len(c.wake), c.dirty[uri])
	}
}
