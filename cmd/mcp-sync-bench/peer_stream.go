package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcp-sync/mcp-sync/wire"
)

// streamRun is one streamed answer's bookkeeping: when each chunk's write
// started, and what the subscribers received.
type streamRun struct {
	uri    string
	starts []atomic.Int64 // chunk n (1-based) → write start, Unix ns

	mu    sync.Mutex
	lats  []time.Duration // every notice, credited as a plain one
	exact []time.Duration // changes-carrying notices, credited to the chunks they name
	// received counts chunks noticed, by all subscribers: while the round
	// runs, plain notices' chunks and those a scan finds in changes-carrying
	// ones (to know when to stop waiting); after settle, from the decoded
	// notices.
	received int
	notices  int                  // resources/updated of uri received, by all subscribers
	covered  map[*peerSession]int // per subscriber: the last chunk a notice covered
	// carried are the changes-carrying notices as received, decoded (as the
	// Go client decodes them) only after the round: decoding a hundred
	// subscribers' notices as they come would load the machine the server
	// shares, and slow the very receipts being timed.
	carried []carriedNotice
}

// carriedNotice is a changes-carrying notice, and when it was received.
type carriedNotice struct {
	at  int64 // Unix ns
	raw string
}

// noticed takes one resources/updated for sub. A plain notice says only
// that the row changed: it is taken to cover every chunk whose write had
// started by its receipt and that no earlier notice of sub covered, which
// holds whether the server coalesces notices or sends extra ones (a notice
// late by more than the 5 ms between chunks is credited to the next chunk
// too, so plain figures lean low). Every notice is credited so, so that
// plain and changes-carrying ones compare by one method; a
// changes-carrying one also names its chunks, which gives exact figures
// (see settle).
func (r *streamRun) noticed(sub *peerSession, p *sdk.ResourceUpdatedNotificationParams) {
	now := time.Now().UnixNano()
	if p.URI != r.uri {
		return
	}
	raw, carries := p.Meta[wire.ChangesMetaKey].(string)
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.covered == nil {
		return
	}
	r.notices++
	if carries {
		r.carried = append(r.carried, carriedNotice{at: now, raw: raw})
		// Counted by a scan for the chunks' numbers, only to know when
		// every chunk is in; settle counts them again from the decoded
		// notices.
		r.received += strings.Count(raw, `"n":`)
	}
	n := r.covered[sub] + 1
	for ; n < len(r.starts) && r.starts[n].Load() > 0 && r.starts[n].Load() <= now; n++ {
		r.lats = append(r.lats, time.Duration(now-r.starts[n].Load()))
		if !carries {
			r.received++
		}
	}
	r.covered[sub] = n - 1
}

// settle decodes the round's changes-carrying notices, as the Go client
// does, and credits each to the chunks it names (exact, received). It
// fails on a notice that does not decode. Callers hold r.mu.
func (r *streamRun) settle() error {
	if len(r.carried) == 0 {
		return nil
	}
	r.received = 0
	for _, cn := range r.carried {
		chunks, ok := noticeChunks(r.uri, sdk.Meta{wire.ChangesMetaKey: cn.raw})
		if !ok {
			return fmt.Errorf("a notice of %s carried changes that do not decode: %.200s", r.uri, cn.raw)
		}
		for _, n := range chunks {
			if n < 1 || n >= len(r.starts) {
				continue
			}
			if s := r.starts[n].Load(); s > 0 && s <= cn.at {
				r.exact = append(r.exact, time.Duration(cn.at-s))
				r.received++
			}
		}
	}
	r.carried = nil
	return nil
}

// streamer is one server's subscribers and trigger, kept over the rounds.
type streamer struct {
	t       *peerTarget
	subs    []*peerSession
	trigger *peerSession
	run     atomic.Pointer[streamRun]
	got     int             // chunks noticed over all rounds, by all subscribers
	want    int             // chunks to notice over all rounds, one per chunk and subscriber
	notices int             // notices received over all rounds
	exact   []time.Duration // over all rounds: see streamRun
	// received counts the bytes every subscriber read; bytes is how many
	// of them came while chunks were streamed, over all rounds.
	received atomic.Int64
	bytes    int64
	// cpu is the server's CPU time while chunks were streamed and noticed,
	// over all rounds (0 where /proc does not say).
	cpu time.Duration
}

func openStreamer(ctx context.Context, t *peerTarget, subscribers int, changes bool) (*streamer, error) {
	st := &streamer{t: t}
	for range subscribers {
		var self *peerSession
		var ready sync.WaitGroup
		ready.Add(1)
		s, err := dialPeer(ctx, t.url, peerDialOptions{changes: changes, received: &st.received, onUpdate: func(p *sdk.ResourceUpdatedNotificationParams) {
			ready.Wait()
			if r := st.run.Load(); r != nil {
				r.noticed(self, p)
			}
		}})
		if err != nil {
			st.close()
			return nil, fmt.Errorf("%s: %w", t.name, err)
		}
		self = s
		ready.Done()
		st.subs = append(st.subs, s)
	}
	var err error
	if st.trigger, err = dialPeer(ctx, t.url, peerDialOptions{}); err != nil {
		st.close()
		return nil, fmt.Errorf("%s: %w", t.name, err)
	}
	return st, nil
}

func (st *streamer) close() {
	closeSessions(st.subs)
	if st.trigger != nil {
		st.trigger.close()
	}
}

// stream writes a fresh row of 100 B, has every subscriber subscribe to
// it, then rewrites it chunks times 5 ms apart, each 20 B longer, and
// waits (boundedly) for the notices.
func (st *streamer) stream(ctx context.Context, round, chunks int) ([]time.Duration, error) {
	key := fmt.Sprintf("live-%d-%d", round, time.Now().UnixNano())
	text := strings.Repeat("x", 100)
	tool, args := st.t.write(key, text, 0, 0)
	if _, err := st.trigger.call(ctx, tool, args); err != nil {
		return nil, err
	}
	r := &streamRun{uri: st.t.uri(key), starts: make([]atomic.Int64, chunks+1), covered: map[*peerSession]int{}}
	for _, s := range st.subs {
		if err := s.s.Subscribe(ctx, &sdk.SubscribeParams{URI: r.uri}); err != nil {
			return nil, fmt.Errorf("subscribing to %s: %w", r.uri, err)
		}
	}
	st.run.Store(r)
	bytes0 := st.received.Load()
	cpu0, cpuErr := procCPU(st.t.pid)
	t0 := time.Now()
	for n := 1; n <= chunks; n++ {
		if wait := time.Until(t0.Add(time.Duration(n-1) * 5 * time.Millisecond)); wait > 0 {
			time.Sleep(wait)
		}
		text += "0123456789abcdefghij"
		now := time.Now().UnixNano()
		r.starts[n].Store(now)
		// n names the chunk; t (the write's time) would only add bytes: the
		// latency is taken from starts.
		tool, args := st.t.write(key, text, n, 0)
		if _, err := st.trigger.call(ctx, tool, args); err != nil {
			return nil, err
		}
	}
	want := chunks * len(st.subs)
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline) && ctx.Err() == nil; time.Sleep(10 * time.Millisecond) {
		r.mu.Lock()
		done := r.received >= want
		r.mu.Unlock()
		if done {
			break
		}
	}
	st.run.Store(nil)
	st.bytes += st.received.Load() - bytes0
	if cpu1, err := procCPU(st.t.pid); err == nil && cpuErr == nil {
		st.cpu += cpu1 - cpu0
	}
	for _, s := range st.subs {
		_ = s.s.Unsubscribe(ctx, &sdk.UnsubscribeParams{URI: r.uri})
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.settle(); err != nil {
		return nil, err
	}
	st.got, st.want, st.notices = st.got+r.received, st.want+want, st.notices+r.notices
	st.exact = append(st.exact, r.exact...)
	return r.lats, nil
}

// countingTransport counts the bytes of the response bodies it reads.
type countingTransport struct {
	rt http.RoundTripper
	n  *atomic.Int64
}

func (c countingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := c.rt.RoundTrip(req)
	if err == nil {
		resp.Body = &countingBody{resp.Body, c.n}
	}
	return resp, err
}

type countingBody struct {
	io.ReadCloser
	n *atomic.Int64
}

func (b *countingBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	b.n.Add(int64(n))
	return n, err
}

// peerStreams: a row watched by cfg.subscribers sessions of each server is
// rewritten cfg.chunks times, 5 ms apart; latency runs from a chunk's
// write call to a subscriber's receipt of its notice. mcp-sync runs twice:
// plain notices, and notices carrying the changes (wire.ChangesMetaKey).
func peerStreams(ctx context.Context, cfg peersConfig, ts []*peerTarget, _ string) ([]peerScenario, error) {
	var ds []*peerDriver
	var sts []*streamer
	defer func() {
		for _, st := range sts {
			st.close()
		}
	}()
	add := func(name string, t *peerTarget, changes bool) error {
		st, err := openStreamer(ctx, t, cfg.subscribers, changes)
		if err != nil {
			return err
		}
		sts = append(sts, st)
		round := 0
		ds = append(ds, &peerDriver{name: name, turn: func(ctx context.Context, _ time.Duration) (int, []time.Duration, error) {
			round++
			lats, err := st.stream(ctx, round, cfg.chunks)
			return len(lats), lats, err
		}})
		return nil
	}
	for i, t := range ts {
		name := t.name
		if i == 0 {
			name += " (plain notices)"
		}
		if err := add(name, t, false); err != nil {
			return nil, err
		}
		if i == 0 {
			if err := add(t.name+" (changes in notices)", t, true); err != nil {
				return nil, err
			}
		}
	}
	if err := peerRounds(ctx, ds, cfg.rounds, 0, false); err != nil {
		return nil, err
	}
	sc := figures(fmt.Sprintf("stream: %d chunks of 20 B, 5 ms apart, to %d subscribers (write start → receipt)", cfg.chunks, cfg.subscribers), "ms p50 / p99", ds, false)
	for i, st := range sts {
		var notes []string
		if st.got < st.want {
			notes = append(notes, fmt.Sprintf("%d of %d chunks not noticed (lost, or coalesced into a plain notice)", st.want-st.got, st.want))
		}
		if st.notices < st.want {
			notes = append(notes, fmt.Sprintf("%d of %d notices coalesced", st.want-st.notices, st.want))
		}
		if st.want > 0 {
			notes = append(notes, fmt.Sprintf("%.0f B received a chunk a subscriber", float64(st.bytes)/float64(st.want)))
		}
		if st.cpu > 0 && st.notices > 0 {
			notes = append(notes, fmt.Sprintf("server CPU %.1f µs a notice", float64(st.cpu.Microseconds())/float64(st.notices)))
		}
		if len(st.exact) > 0 {
			notes = append(notes, fmt.Sprintf("exact (the chunks the notices name) %.2f / %.2f ms", percentileMs(st.exact, 0.5), percentileMs(st.exact, 0.99)))
		}
		sc.Figures[i].Note = strings.Join(notes, "; ")
	}
	return []peerScenario{sc}, nil
}

// noticeChunks is the chunk numbers (the rows' n) a changes-carrying
// notice of mcp-sync's for uri holds (none for an echo); ok is false for a
// plain notice, or one whose changes do not decode. It reads the notice as
// the Go client does (wire.DecodeNotice), then only the n of each change (a
// put's value's, a patch's merge's, which each chunk sets).
func noticeChunks(uri string, meta sdk.Meta) (chunks []int, ok bool) {
	raw, ok := meta[wire.ChangesMetaKey].(string)
	if !ok {
		return nil, false
	}
	n, err := wire.DecodeNotice(uri, []byte(raw))
	if err != nil {
		return nil, false
	}
	for _, ev := range n.Events {
		for _, ch := range ev.Changes {
			for _, v := range []json.RawMessage{ch.Value, ch.Merge} {
				var c struct {
					N int `json:"n"`
				}
				if len(v) > 0 && json.Unmarshal(v, &c) == nil && c.N > 0 {
					chunks = append(chunks, c.N)
				}
			}
		}
	}
	return chunks, true
}

// procCPU is the CPU time process pid has used so far (user and system,
// from /proc/PID/stat, in clock ticks of 10 ms).
func procCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, fmt.Errorf("reading the CPU time of process %d: %w", pid, err)
	}
	// The command name may hold spaces: fields count from after it.
	i := bytes.LastIndexByte(b, ')')
	fields := strings.Fields(string(b[i+1:]))
	if i < 0 || len(fields) < 13 {
		return 0, fmt.Errorf("process %d: no CPU times in /proc/%d/stat", pid, pid)
	}
	var ticks int64
	for _, f := range fields[11:13] { // utime, stime
		n, err := strconv.ParseInt(f, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("process %d: CPU time %q: %w", pid, f, err)
		}
		ticks += n
	}
	return time.Duration(ticks) * 10 * time.Millisecond, nil
}
