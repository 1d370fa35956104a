package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"
)

// rowWriter rewrites one row durably and says how many bytes its process
// has written so far.
type rowWriter struct {
	name    string
	write   func(ctx context.Context, key, text string, n int) error
	written func() (procIO, error)
}

// procIO is what /proc/PID/io says a process has written: write_bytes,
// what it made dirty in the page cache, counted a whole folio at a time
// (so a 4 KB write into a page cached as part of a large folio counts the
// folio: see folioProbe), and wchar, the bytes it handed to write calls
// (for a server, its answers on the socket too, a few hundred bytes a
// call).
type procIO struct{ writeBytes, wchar uint64 }

func (a procIO) sub(b procIO) procIO {
	return procIO{a.writeBytes - b.writeBytes, a.wchar - b.wchar}
}

// readProcIO reads process pid's procIO, while it is idle.
func readProcIO(pid int) (procIO, error) {
	wb, err := procWriteBytes(pid)
	if err != nil {
		return procIO{}, err
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/io", pid))
	if err != nil {
		return procIO{}, fmt.Errorf("reading the write counts of process %d: %w", pid, err)
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "wchar: "); ok {
			wchar, err := strconv.ParseUint(strings.TrimSpace(v), 10, 64)
			return procIO{writeBytes: wb, wchar: wchar}, err
		}
	}
	return procIO{}, fmt.Errorf("process %d: no wchar in /proc/%d/io", pid, pid)
}

// growRow writes key at size bytes, then rewrites it chunks times, each 20
// B longer, and returns what the rewrites wrote.
func growRow(ctx context.Context, w rowWriter, key string, size, chunks int) (procIO, error) {
	text := strings.Repeat("x", size)
	if err := w.write(ctx, key, text, 0); err != nil {
		return procIO{}, err
	}
	settle()
	before, err := w.written()
	if err != nil {
		return procIO{}, err
	}
	for n := 1; n <= chunks; n++ {
		text += "0123456789abcdefghij"
		if err := w.write(ctx, key, text, n); err != nil {
			return procIO{}, err
		}
	}
	settle()
	after, err := w.written()
	return after.sub(before), err
}

// folioProbe measures, in this run, what write_bytes counts for one 4 KB
// page rewritten (and fdatasync'd) in a file whose pages the kernel cached
// by a 2 MB write: the folio, not the page, where the kernel caches files
// in large folios. bbolt writes a node of many pages (a row of 40 KB) in
// one call, so its pages are later rewritten one by one inside such
// folios, and which pages a commit's allocator picks then weighs on
// write_bytes beyond the bytes written.
func folioProbe(dir string) (uint64, error) {
	f, err := os.CreateTemp(dir, "folio-probe-")
	if err != nil {
		return 0, err
	}
	defer os.Remove(f.Name())
	defer f.Close()
	if _, err := f.Write(make([]byte, 2<<20)); err != nil {
		return 0, err
	}
	if err := f.Sync(); err != nil {
		return 0, err
	}
	self := os.Getpid()
	before, err := readProcIO(self)
	if err != nil {
		return 0, err
	}
	if _, err := f.WriteAt(make([]byte, 4096), 8192); err != nil {
		return 0, err
	}
	if err := f.Sync(); err != nil {
		return 0, err
	}
	after, err := readProcIO(self)
	return after.sub(before).writeBytes, err
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
			written: func() (procIO, error) { return readProcIO(pid) }})
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
		written: func() (procIO, error) { return readProcIO(self) }})

	probe, err := folioProbe(filepath.Dir(barePath))
	if err != nil {
		return nil, fmt.Errorf("the page cache probe: %w", err)
	}
	var out []peerScenario
	for _, size := range []int{100, 8192} {
		sc := peerScenario{Name: fmt.Sprintf("bytes written per chunk: row of %d B growing 20 B a chunk, %d chunks", size, cfg.chunks), Unit: "KB/chunk"}
		// Rounds: each writer grows a fresh row per round, in turn.
		per := make([][]float64, len(ws))
		handed := make([][]float64, len(ws))
		for r := range cfg.rounds {
			for i := range ws {
				j := (r + i) % len(ws)
				b, err := growRow(ctx, ws[j], fmt.Sprintf("grow-%d-%d-%d", size, r, rand.Int()), size, cfg.chunks)
				if err != nil {
					return nil, fmt.Errorf("%s: %w", ws[j].name, err)
				}
				per[j] = append(per[j], float64(b.writeBytes)/float64(cfg.chunks)/1024)
				handed[j] = append(handed[j], float64(b.wchar)/float64(cfg.chunks)/1024)
			}
		}
		bare := len(ws) - 1
		for i, w := range ws {
			note := fmt.Sprintf("%.2f× bare bbolt; %.1f KB/chunk handed to write calls (wchar)", medianRatio(per[i], per[bare]), median(handed[i]))
			if i == bare && size == 100 {
				note += fmt.Sprintf("; a 4 KB page rewritten in a 2 MB folio counts %d KB of write_bytes here", probe/1024)
			}
			sc.Figures = append(sc.Figures, peerFigure{Server: w.name, Value: median(per[i]), Ratio: medianRatio(per[i], per[0]), Note: note})
		}
		out = append(out, sc)
	}
	sc := peerScenario{Name: "bytes written by a whole answer: row of 100 B growing 20 B a chunk", Unit: "MB"}
	prev := make([]float64, len(ws)) // each writer's previous answer, MB
	for k, chunks := range cfg.bytesChunks {
		var mine float64
		figs := make([]peerFigure, len(ws))
		for i, w := range ws {
			b, err := growRow(ctx, w, fmt.Sprintf("answer-%d-%d", chunks, rand.Int()), 100, chunks)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", w.name, err)
			}
			f := peerFigure{Server: fmt.Sprintf("%s, %d chunks", w.name, chunks), Value: float64(b.writeBytes) / 1e6}
			f.Note = fmt.Sprintf("%.1f KB/chunk", f.Value*1e3/float64(chunks))
			if k > 0 && prev[i] > 0 {
				f.Note += fmt.Sprintf(", %.2f× the %d-chunk answer's", f.Value/prev[i], cfg.bytesChunks[k-1])
			}
			f.Note += fmt.Sprintf("; wchar %.1f MB", float64(b.wchar)/1e6)
			prev[i] = f.Value
			if i == 0 {
				mine = f.Value
			}
			if mine > 0 {
				f.Ratio = f.Value / mine
			}
			figs[i] = f
		}
		if bare := figs[len(figs)-1].Value; bare > 0 {
			figs[0].Note = fmt.Sprintf("%.2f× bare bbolt; ", figs[0].Value/bare) + figs[0].Note
		}
		sc.Figures = append(sc.Figures, figs...)
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
