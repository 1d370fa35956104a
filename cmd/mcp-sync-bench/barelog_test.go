package main

import (
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// TestFsyncLogKeepsEveryRecord: concurrent appends all return, every record
// is in the file once, and a failed write says which file.
func TestFsyncLogKeepsEveryRecord(t *testing.T) {
	path := filepath.Join(t.TempDir(), "floor.log")
	l, err := openFsyncLog(path)
	if err != nil {
		t.Fatal(err)
	}
	const writers, each = 16, 50
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for range each {
				if err := l.append([]byte{byte('a' + w), '\n'}); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	if l.durable != writers*each {
		t.Errorf("%d records known durable, want %d", l.durable, writers*each)
	}
	if err := l.close(); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for w := range writers {
		if n := strings.Count(string(b), string([]byte{byte('a' + w), '\n'})); n != each {
			t.Errorf("writer %d: %d records in the file, want %d", w, n, each)
		}
	}
	if err := l.append([]byte("late\n")); err == nil || !strings.Contains(err.Error(), path) {
		t.Errorf("append to a closed log: %v, want an error naming %s", err, path)
	}
}
