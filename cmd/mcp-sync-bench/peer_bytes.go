package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"
)

// rowWriter rewrites one row durably and says how many bytes its process
// has written so far.
type rowWriter struct {
	name    string
	write   func(ctx context.Context, key, text string, n int) error
	written func() (uint64, error)
}

// growRow writes key at size bytes, then rewrites it chunks times, each 20
// B longer, and returns the bytes written by the rewrites.
func growRow(ctx context.Context, w rowWriter, key string, size, chunks int) (uint64, error) {
	text := strings.Repeat("x", size)
	if err := w.write(ctx, key, text, 0); err != nil {
		return 0, err
	}
	settle()
	before, err := w.written()
	if err != nil {
		return 0, err
	}
	for n := 1; n <= chunks; n++ {
		text += "0123456789abcdefghij"
		if err := w.write(ctx, key, text, n); err != nil {
			return 0, err
		}
	}
	settle()
	after, err := w.written()
	return after - before, err
}

// peerBytes: bytes each server's process writes per committed chunk, for a
// row of ~100 B and of ~8 KB growing 20 B a chunk, and in all for answers
// of cfg.bytesChunks chunks; the bare bbolt program (this process) rewrites
// the same row as the storage floor.
func peerBytes(ctx context.Context, cfg peersConfig, ts []*peerTarget, barePath string) ([]peerScenario, error) {
	var ws []rowWriter
	for _, t := range ts {
		s, err := dialPeer(ctx, t.url, peerDialOptions{})
		if err != nil {
			return nil, fmt.Errorf("%s: %w", t.name, err)
		}
		defer s.close()
		pid := t.pid
		ws = append(ws, rowWriter{name: t.name,
			write: func(ctx context.Context, key, text string, n int) error {
				tool, args := t.write(key, text, n, time.Now().UnixNano())
				_, err := s.call(ctx, tool, args)
				return err
			},
			written: func() (uint64, error) { return procWriteBytes(pid) }})
	}
	db, err := bolt.Open(barePath, 0o600, nil)
	if err != nil {
		return nil, fmt.Errorf("the bare bbolt program: %w", err)
	}
	defer db.Close()
	self := os.Getpid()
	ws = append(ws, rowWriter{name: barePeerName,
		write: func(_ context.Context, key, text string, _ int) error {
			return db.Update(func(tx *bolt.Tx) error {
				b, err := tx.CreateBucketIfNotExists(peerBucket)
				if err != nil {
					return err
				}
				return b.Put([]byte(key), []byte(text))
			})
		},
		written: func() (uint64, error) { return procWriteBytes(self) }})

	var out []peerScenario
	for _, size := range []int{100, 8192} {
		sc := peerScenario{Name: fmt.Sprintf("bytes written per chunk: row of %d B growing 20 B a chunk, %d chunks", size, cfg.chunks), Unit: "KB/chunk"}
		// Rounds: each writer grows a fresh row per round, in turn.
		per := make([][]float64, len(ws))
		for r := range cfg.rounds {
			for i := range ws {
				j := (r + i) % len(ws)
				b, err := growRow(ctx, ws[j], fmt.Sprintf("grow-%d-%d-%d", size, r, rand.Int()), size, cfg.chunks)
				if err != nil {
					return nil, fmt.Errorf("%s: %w", ws[j].name, err)
				}
				per[j] = append(per[j], float64(b)/float64(cfg.chunks)/1024)
			}
		}
		for i, w := range ws {
			sc.Figures = append(sc.Figures, peerFigure{Server: w.name, Value: median(per[i]), Ratio: medianRatio(per[i], per[0])})
		}
		out = append(out, sc)
	}
	sc := peerScenario{Name: "bytes written by a whole answer: row of 100 B growing 20 B a chunk", Unit: "MB"}
	for _, chunks := range cfg.bytesChunks {
		var mine float64
		for i, w := range ws {
			b, err := growRow(ctx, w, fmt.Sprintf("answer-%d-%d", chunks, rand.Int()), 100, chunks)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", w.name, err)
			}
			f := peerFigure{Server: fmt.Sprintf("%s, %d chunks", w.name, chunks), Value: float64(b) / 1e6}
			if i == 0 {
				mine = f.Value
			}
			if mine > 0 {
				f.Ratio = f.Value / mine
			}
			sc.Figures = append(sc.Figures, f)
		}
	}
	return append(out, sc), nil
}

// median is the middle of vs (the mean of the two middles when even).
func median(vs []float64) float64 {
	if len(vs) == 0 {
		return 0
	}
	ones := make([]float64, len(vs))
	for i := range ones {
		ones[i] = 1
	}
	return medianRatio(vs, ones)
}
