package backend_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/mcp-sync/mcp-sync/backend"
	"github.com/mcp-sync/mcp-sync/schema"
)

// An app of its own for the streaming benchmarks: testApp's "rewrite" mode
// writes every stream to the same row ("row"), and these need one row per
// stream and a sequence number in each chunk to tell the chunks apart.

// streamRow is a streamed answer as stored: rewritten once per chunk.
type streamRow struct {
	ID   string `json:"id"`
	Seq  int    `json:"seq"`
	Text string `json:"text"`
}

type streamIn struct {
	ID     string `json:"id"`
	Chunks int    `json:"chunks"`
	Text   string `json:"text"`
}

type streamOut struct {
	Chunks int `json:"chunks"`
}

var (
	streamRows   = schema.Table[streamRow]("streams")
	putStreamRow = schema.Mutator[streamRow]("putStreamRow", "Rewrite a streamed answer's row")
	streamAnswer = schema.Action[streamIn, streamOut]("streamAnswer", "Stream an answer into its row, one mutation per chunk")
	streamSchema = schema.MustDefine(1, streamRows, putStreamRow, streamAnswer)
)

// streamApp's action rewrites row in.ID in.Chunks times through ctx.Mutate,
// each chunk carrying its sequence number.
type streamApp struct {
	tick      <-chan time.Time                          // when set, each chunk waits for a tick
	committed func(seq int, called, returned time.Time) // when set, told when each chunk's Mutate was called and returned
}

func (a *streamApp) config() backend.Config {
	return backend.Config{
		Schema: streamSchema,
		Mutators: []backend.MutatorImpl{
			backend.Mutator(putStreamRow, func(ctx *backend.MutatorCtx, in streamRow) error {
				return backend.TableOf(ctx, streamRows).Set(in.ID, in)
			}),
		},
		Actions: []backend.ActionImpl{
			backend.Action(streamAnswer, func(ctx *backend.ActionCtx, in streamIn) (streamOut, error) {
				for seq := range in.Chunks {
					if a.tick != nil {
						select {
						case <-a.tick:
						case <-ctx.Done():
							return streamOut{}, ctx.Err()
						}
					}
					called := time.Now()
					if err := ctx.Mutate("putStreamRow", streamRow{ID: in.ID, Seq: seq, Text: in.Text}); err != nil {
						return streamOut{}, err
					}
					if a.committed != nil {
						a.committed(seq, called, time.Now())
					}
				}
				return streamOut{Chunks: in.Chunks}, nil
			}),
		},
	}
}

func openStreamEngine(b *testing.B, app *streamApp) *backend.Engine {
	b.Helper()
	e, err := backend.Open(app.config(), backend.Options{Path: filepath.Join(b.TempDir(), "stream.db"), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { e.Close() })
	return e
}

// chunkText is a chunk's text: 100 bytes, as in BenchmarkMutatePerChunk.
var chunkText = strings.Repeat("x", 100)

// chunkInterval is a streamed answer's pace: 200 chunks a second.
const chunkInterval = 5 * time.Millisecond

// quantile returns the q-quantile (nearest rank) of xs, sorting xs.
func quantile(xs []float64, q float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	slices.Sort(xs)
	i := int(q*float64(len(xs))+0.5) - 1
	return xs[min(max(i, 0), len(xs)-1)]
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// BenchmarkChunkToSubscriber measures how long a streamed chunk takes to reach
// its subscribers: one action streams b.N chunks into one row at 200 chunks/s
// (a 5 ms ticker), one ctx.Mutate (fsync'd commit) per chunk, while S
// subscribers each watch that row with Engine.Subscribe. Run it with a count,
// -benchtime 400x: each op is one 5 ms chunk.
//
// Latency is per receipt (one chunk seen by one subscriber): the time the
// subscriber's Next returned the chunk minus the time ctx.Mutate returned
// for it in the writer. The store publishes to subscribers just before it
// releases the writer, so a receipt can precede Mutate's return: those
// latencies are negative and reported as they are ("early-%" is their share),
// not clamped. p50-ms and p99-ms are taken over every subscriber's receipts.
// call-p50-ms and call-p99-ms measure from when ctx.Mutate was called instead:
// they include the commit and its fsync, what a user watching the row waits
// after the chunk exists.
//
// The baseline, measured in the same run at the same pace and fan-out, is plain
// Go: the writer takes one timestamp per tick and sends it on S buffered
// channels, and latency is receipt minus that timestamp (bare-p50-ms,
// bare-p99-ms), and p99-ratio-vs-bare is p99-ms over bare-p99-ms. Targets
// with 100 subscribers: p50 ≤ 2 ms, p99 ≤ 10 ms.
func BenchmarkChunkToSubscriber(b *testing.B) {
	for _, subs := range []int{1, 10, 100} {
		b.Run(fmt.Sprintf("subs=%d", subs), func(b *testing.B) {
			bare := bareFanOut(b, subs)
			lat, call := engineFanOut(b, subs)
			b.StopTimer()
			early := 0
			for _, l := range lat {
				if l < 0 {
					early++
				}
			}
			p50, p99 := quantile(lat, 0.5), quantile(lat, 0.99)
			bare50, bare99 := quantile(bare, 0.5), quantile(bare, 0.99)
			b.ReportMetric(p50, "p50-ms")
			b.ReportMetric(p99, "p99-ms")
			b.ReportMetric(100*float64(early)/float64(len(lat)), "early-%")
			b.ReportMetric(quantile(call, 0.5), "call-p50-ms")
			b.ReportMetric(quantile(call, 0.99), "call-p99-ms")
			b.ReportMetric(bare50, "bare-p50-ms")
			b.ReportMetric(bare99, "bare-p99-ms")
			b.ReportMetric(p99/bare99, "p99-ratio-vs-bare")
			b.ReportMetric(0, "ns/op") // paced: the latencies above are the result
		})
	}
}

// bareFanOut sends b.N timestamps, one per tick, to subs buffered channels
// and returns every receipt's latency in ms.
func bareFanOut(b *testing.B, subs int) []float64 {
	chans := make([]chan time.Time, subs)
	got := make([][]time.Duration, subs)
	var wg sync.WaitGroup
	for i := range chans {
		chans[i] = make(chan time.Time, b.N)
		got[i] = make([]time.Duration, 0, b.N)
		wg.Go(func() {
			for sent := range chans[i] {
				got[i] = append(got[i], time.Since(sent))
			}
		})
	}
	tick := time.NewTicker(chunkInterval)
	defer tick.Stop()
	for range b.N {
		<-tick.C
		now := time.Now()
		for _, c := range chans {
			c <- now
		}
	}
	for _, c := range chans {
		close(c)
	}
	wg.Wait()
	lat := make([]float64, 0, subs*b.N)
	for _, g := range got {
		for _, d := range g {
			lat = append(lat, ms(d))
		}
	}
	return lat
}

// engineFanOut streams b.N chunks through the engine to subs subscribers and
// returns every receipt's latency in ms, from Mutate's return and from its
// call.
func engineFanOut(b *testing.B, subs int) (lat, call []float64) {
	called := make([]time.Time, b.N)
	returned := make([]time.Time, b.N)
	app := &streamApp{committed: func(seq int, c, r time.Time) {
		called[seq], returned[seq] = c, r
	}}
	e := openStreamEngine(b, app)
	// The row exists before the stream starts, as a generating answer's does.
	if _, err := e.Mutate(b.Context(), "putStreamRow", mustJSON(streamRow{ID: "answer", Seq: -1, Text: chunkText})); err != nil {
		b.Fatal(err)
	}

	// Bounded in time: the stream takes b.N ticks; a minute more is a failure.
	ctx, cancel := context.WithTimeout(b.Context(), time.Duration(b.N)*chunkInterval+time.Minute)
	defer cancel()
	received := make([][]time.Time, subs) // by subscriber, by seq
	errs := make(chan error, subs)
	var wg sync.WaitGroup
	for i := range subs {
		sub, err := e.Subscribe(b.Context(), backend.Filter{Table: "streams", Key: "answer"}, e.Version())
		if err != nil {
			b.Fatal(err)
		}
		received[i] = make([]time.Time, b.N)
		wg.Go(func() {
			defer sub.Close()
			for seen := 0; seen < b.N; {
				ev, err := sub.Next(ctx)
				if err != nil {
					errs <- fmt.Errorf("subscriber %d after %d chunks: %w", i, seen, err)
					return
				}
				now := time.Now()
				if ev.Resync {
					errs <- fmt.Errorf("subscriber %d fell behind the log", i)
					return
				}
				for _, c := range ev.Changes {
					var row streamRow
					if err := json.Unmarshal(c.Value, &row); err != nil {
						errs <- err
						return
					}
					if row.Seq >= 0 && row.Seq < b.N {
						received[i][row.Seq] = now
						seen++
					}
				}
			}
		})
	}

	tick := time.NewTicker(chunkInterval)
	defer tick.Stop()
	app.tick = tick.C
	b.ResetTimer()
	_, err := e.Act(ctx, "streamAnswer", mustJSON(streamIn{ID: "answer", Chunks: b.N, Text: chunkText}))
	if err != nil {
		cancel()
	}
	wg.Wait()
	b.StopTimer()
	if err != nil {
		b.Fatal(err)
	}
	close(errs)
	for err := range errs {
		b.Fatal(err)
	}
	lat = make([]float64, 0, subs*b.N)
	call = make([]float64, 0, subs*b.N)
	for _, r := range received {
		for seq, t := range r {
			lat = append(lat, ms(t.Sub(returned[seq])))
			call = append(call, ms(t.Sub(called[seq])))
		}
	}
	return lat, call
}

// concurrentStreams is how many answers BenchmarkConcurrentStreams streams at once.
const concurrentStreams = 50

// BenchmarkConcurrentStreams measures total chunk throughput with 50 answers
// streaming at once, each an action rewriting its own row with one ctx.Mutate
// (a durable, fsync'd commit) per chunk as fast as it can; b.N chunks in all,
// spread evenly over the streams. Reports chunks/s against a baseline measured
// in the same run: the same number of 100-byte single-row commits, 50
// goroutines each rewriting its own key with raw bbolt (db.Update, fsync on)
// on a fresh file (bare-chunks/s), and the ratio. Target: ≥ 5,000 chunks/s.
func BenchmarkConcurrentStreams(b *testing.B) {
	per := func(i int) int { // chunks of stream i
		n := b.N / concurrentStreams
		if i < b.N%concurrentStreams {
			n++
		}
		return n
	}
	value := mustJSON(streamRow{ID: "s00", Seq: 0, Text: chunkText})

	// Raw bbolt.
	db, err := bolt.Open(filepath.Join(b.TempDir(), "bare.db"), 0o600, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	put := func(key string) error {
		return db.Update(func(tx *bolt.Tx) error {
			bk, err := tx.CreateBucketIfNotExists([]byte("streams"))
			if err != nil {
				return err
			}
			return bk.Put([]byte(key), value)
		})
	}
	for i := range concurrentStreams { // warm up: bucket, pages
		if err := put(fmt.Sprintf("s%02d", i)); err != nil {
			b.Fatal(err)
		}
	}
	bare := runStreams(b, per, func(i, n int) error {
		key := fmt.Sprintf("s%02d", i)
		for range n {
			if err := put(key); err != nil {
				return err
			}
		}
		return nil
	})

	// The engine.
	e := openStreamEngine(b, &streamApp{})
	for i := range concurrentStreams { // warm up: each stream's row exists
		if _, err := e.Mutate(b.Context(), "putStreamRow", mustJSON(streamRow{ID: fmt.Sprintf("s%02d", i), Seq: -1, Text: chunkText})); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	eng := runStreams(b, per, func(i, n int) error {
		_, err := e.Act(b.Context(), "streamAnswer", mustJSON(streamIn{ID: fmt.Sprintf("s%02d", i), Chunks: n, Text: chunkText}))
		return err
	})
	b.StopTimer()

	engRate := float64(b.N) / eng.Seconds()
	bareRate := float64(b.N) / bare.Seconds()
	b.ReportMetric(engRate, "chunks/s")
	b.ReportMetric(bareRate, "bare-chunks/s")
	b.ReportMetric(engRate/bareRate, "ratio-vs-bare")
	b.ReportMetric(0, "ns/op") // the rates above are the result
}

// runStreams runs stream(i, per(i)) for each of the concurrent streams at once
// and returns how long they all took.
func runStreams(b *testing.B, per func(int) int, stream func(i, n int) error) time.Duration {
	errs := make(chan error, concurrentStreams)
	var wg sync.WaitGroup
	start := time.Now()
	for i := range concurrentStreams {
		wg.Go(func() {
			if err := stream(i, per(i)); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	d := time.Since(start)
	close(errs)
	for err := range errs {
		b.Fatal(err)
	}
	return d
}
