// Package damage makes damaged data files for tests: the kinds of damage
// (truncation, random bytes in each kind of bbolt page, a flipped byte in a
// value, a file emptied) that mcp-sync must report, naming the file, and
// never answer with a panic.
package damage

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"

	bbolt "go.etcd.io/bbolt"
)

// Variant is one kind of damage.
type Variant struct {
	// Name says what the damage is, for subtest names.
	Name string
	// RowDamage: only one value is damaged; the file's structure is intact.
	RowDamage bool
	// Apply damages the file at path in place. The file must be a healthy
	// data file, closed, with at least one branch page.
	Apply func(path string) error
}

// Variants returns the eleven kinds of damage. marker must occur in exactly
// one row's value (and perhaps in change-log copies of it): the flipped-byte
// variant changes a byte of it wherever it occurs. A long value is stored in
// segments of under 2 KB (storage/bolt), so a marker wholly inside one is
// flipped in that segment, damaging the row the segment belongs to; a marker
// cut by a segment boundary is not found.
func Variants(marker []byte) []Variant {
	return []Variant{
		{Name: "truncated-to-100B", Apply: func(p string) error { return os.Truncate(p, 100) }},
		{Name: "truncated-to-half-a-page", Apply: func(p string) error {
			l, err := read(p)
			if err != nil {
				return err
			}
			return os.Truncate(p, int64(l.pageSize/2))
		}},
		{Name: "truncated-after-the-meta-pages", Apply: func(p string) error {
			l, err := read(p)
			if err != nil {
				return err
			}
			return os.Truncate(p, int64(2*l.pageSize))
		}},
		{Name: "truncated-mid-data", Apply: func(p string) error {
			l, err := read(p)
			if err != nil {
				return err
			}
			// Inside the last page in use: free pages past it could be cut
			// with no harm done, and which pages are free varies from run
			// to run (bbolt's free list is a map).
			return os.Truncate(p, int64(l.lastInUse*l.pageSize+l.pageSize/3))
		}},
		{Name: "random-bytes-in-meta-page-0", Apply: func(p string) error { return scribble(p, 0, 16, 1) }},
		{Name: "random-bytes-in-meta-page-1", Apply: func(p string) error { return scribble(p, 1, 16, 2) }},
		{Name: "random-bytes-in-a-branch-page", Apply: func(p string) error { return scribbleType(p, "branch", 3, 16) }},
		{Name: "random-bytes-in-a-leaf-page", Apply: func(p string) error { return scribbleType(p, "leaf", 4, 16) }},
		{Name: "random-bytes-in-the-freelist-page", Apply: func(p string) error {
			// mcp-sync saves its free list only on a clean close; this
			// saves it whatever the file's history (another bbolt program
			// does the same), so that the open reads it.
			db, err := bbolt.Open(p, 0o600, &bbolt.Options{NoFreelistSync: false})
			if err != nil {
				return err
			}
			if err := db.Close(); err != nil {
				return err
			}
			return scribbleType(p, "freelist", 5, 10) // its count, overflow and first ids
		}},
		{Name: "flipped-byte-in-a-value", RowDamage: true, Apply: func(p string) error {
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			n := 0
			for i := 0; ; {
				j := bytes.Index(data[i:], marker)
				if j < 0 {
					break
				}
				data[i+j+len(marker)/2] ^= 0x01
				i += j + len(marker)
				n++
			}
			if n == 0 {
				return fmt.Errorf("damage: marker %q not found in %s", marker, p)
			}
			return os.WriteFile(p, data, 0o600)
		}},
		{Name: "zero-length", Apply: func(p string) error { return os.Truncate(p, 0) }},
	}
}

type layout struct {
	pageSize  uint64
	lastInUse uint64              // the highest id of a page in use
	types     map[string][]uint64 // page type → ids in use
}

// read opens the healthy file at path read-only and lists its pages.
func read(path string) (layout, error) {
	db, err := bbolt.Open(path, 0o400, &bbolt.Options{ReadOnly: true, PreLoadFreelist: true})
	if err != nil {
		return layout{}, err
	}
	defer db.Close()
	l := layout{pageSize: uint64(db.Info().PageSize), types: make(map[string][]uint64)}
	err = db.View(func(tx *bbolt.Tx) error {
		for id := 0; ; id++ {
			info, err := tx.Page(id)
			if err != nil {
				return err
			}
			if info == nil {
				return nil
			}
			l.types[info.Type] = append(l.types[info.Type], uint64(info.ID))
			if info.Type == "free" {
				// A free page's header is stale (it may be the middle of a
				// freed overflow run): its overflow count means nothing.
				continue
			}
			l.lastInUse = uint64(info.ID + info.OverflowCount)
			id += info.OverflowCount
		}
	})
	return l, err
}

// scribble writes 32 pseudo-random bytes (from seed) at offset off of page id.
func scribble(path string, id, off uint64, seed uint64) error {
	l, err := read(path)
	if err != nil {
		return err
	}
	return writeRandom(path, id*l.pageSize+off, seed)
}

// scribbleType writes 32 pseudo-random bytes at offset off (16: over the
// element headers) of a page of type typ in use (the middle one by id).
func scribbleType(path, typ string, seed, off uint64) error {
	l, err := read(path)
	if err != nil {
		return err
	}
	ids := l.types[typ]
	if len(ids) == 0 {
		return fmt.Errorf("damage: %s has no %s page in use", path, typ)
	}
	return writeRandom(path, ids[len(ids)/2]*l.pageSize+off, seed)
}

func writeRandom(path string, at, seed uint64) error {
	r := rand.New(rand.NewPCG(seed, 14))
	junk := make([]byte, 32)
	for i := range junk {
		junk[i] = byte(r.UintN(256))
	}
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	if _, err := f.WriteAt(junk, int64(at)); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
