package main

import (
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// rawCommits makes fsync'd bbolt commits of one 100-byte row (a raw
// db.Update with default options) and keeps their latencies: back to back,
// and paced (each after a pause, as a server's commit follows its idle wait
// for the next request; on some machines an idle CPU makes the fsync slower
// to come back).
type rawCommits struct {
	db          *bolt.DB
	n           int
	back, paced []time.Duration
}

// openRawCommits opens (creating) the bbolt file at path with default
// options, as a bare server would.
func openRawCommits(path string) (*rawCommits, error) {
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		return nil, err
	}
	return &rawCommits{db: db}, nil
}

// commit makes n commits, each after pause (back to back when 0).
func (rc *rawCommits) commit(n int, pause time.Duration) error {
	val := make([]byte, 100)
	for range n {
		if pause > 0 {
			time.Sleep(pause)
		}
		rc.n++
		t0 := time.Now()
		err := rc.db.Update(func(tx *bolt.Tx) error {
			b, err := tx.CreateBucketIfNotExists([]byte("rows"))
			if err != nil {
				return err
			}
			return b.Put([]byte(fmt.Sprint("k", rc.n%10)), val)
		})
		if err != nil {
			return err
		}
		if pause > 0 {
			rc.paced = append(rc.paced, time.Since(t0))
		} else {
			rc.back = append(rc.back, time.Since(t0))
		}
	}
	return nil
}

// p50 is the median commit, back to back and paced (ms).
func (rc *rawCommits) p50() (back, paced float64) {
	return percentileMs(rc.back, 0.5), percentileMs(rc.paced, 0.5)
}

// close closes the bbolt file.
func (rc *rawCommits) close() error { return rc.db.Close() }
