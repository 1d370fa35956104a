package bolt

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/fnv"
	"io"
	"os"
	"strings"

	"github.com/mcp-sync/mcp-sync/storage"
)

// bbolt v1.4's on-disk layout (go.etcd.io/bbolt/internal/common). verify
// reads it with bounds checks (from its own read-only map of the file, or
// plain reads where there is no mmap), never through bbolt, so that a
// damaged file gives a problem to report instead of a panic, a fault, or a
// goroutine bbolt starts at open (to rebuild the free list) that panics
// beyond anyone's recover.
const (
	pageHeaderSize   = 16 // id u64, flags u16, count u16, overflow u32
	elemSize         = 16 // branch: pos, ksize u32, pgid u64; leaf: flags, pos, ksize, vsize u32
	bucketHeaderSize = 16 // root pgid u64, sequence u64
	metaChecksumAt   = 56 // the meta's FNV-64a covers its first 56 bytes
	boltMagic        = 0xED0CDAED
	boltVersion      = 2
	noFreelist       = ^uint64(0)

	flagBranch   = 0x01
	flagLeaf     = 0x02
	flagMeta     = 0x04
	flagFreelist = 0x10
	leafIsBucket = 0x01

	// maxProblems bounds what one check collects: a file damaged all over
	// would otherwise report every page.
	maxProblems = 200
)

// meta is one of the file's two meta pages.
type meta struct {
	ok       bool
	why      string // why it is not ok
	pageSize uint64
	root     uint64
	freelist uint64
	hwm      uint64 // pages in use: every page id is below it
	txid     uint64
}

func parseMeta(page []byte) meta {
	if len(page) < pageHeaderSize+64 {
		return meta{why: "cut short"}
	}
	ne := binary.NativeEndian // bbolt writes its structs in the machine's byte order
	m := page[pageHeaderSize:]
	if ne.Uint32(m[0:]) != boltMagic {
		return meta{why: "not a bbolt meta page (bad magic number)"}
	}
	if v := ne.Uint32(m[4:]); v != boltVersion {
		return meta{why: fmt.Sprintf("bbolt format version %d, want %d", v, boltVersion)}
	}
	h := fnv.New64a()
	h.Write(m[:metaChecksumAt])
	if h.Sum64() != ne.Uint64(m[metaChecksumAt:]) {
		return meta{why: "checksum mismatch"}
	}
	return meta{ok: true, pageSize: uint64(ne.Uint32(m[8:])), root: ne.Uint64(m[16:]),
		freelist: ne.Uint64(m[32:]), hwm: ne.Uint64(m[40:]), txid: ne.Uint64(m[48:])}
}

// layout is what verify learned of a file's structure.
type layout struct {
	size     int64
	pageSize uint64
	pages    uint64 // high-water mark of the meta in use
	txid     uint64
	fast     bool // the file was closed cleanly and only its metas and free list were read
}

// depth says how much of a file verify reads.
type depth int

const (
	// walkPages checks both meta pages, every page in use and the free list.
	walkPages depth = iota
	// cleanFast reads only the meta pages and the saved free list when the
	// file was closed cleanly (its newest meta points at a saved free list),
	// and otherwise is walkPages plus every table value's checksum. See
	// [Open] for what it leaves unread.
	cleanFast
)

// verifier walks a file's page tree.
type verifier struct {
	r        io.ReaderAt
	mem      []byte // the file mapped, or nil: read from r
	size     uint64
	ps       uint64
	hwm      uint64
	seen     bitset
	problems []Problem

	// checkValues: check table values' checksums too, once the meta bucket
	// (which sorts before every table) said the file's values carry them.
	checkValues bool
	format      uint64
	upgrading   bool
}

func (v *verifier) problem(p Problem) {
	if len(v.problems) < maxProblems {
		v.problems = append(v.problems, p)
	}
}

func (v *verifier) full() bool { return len(v.problems) >= maxProblems }

// verify checks the structure of the bbolt file r of size bytes: both meta
// pages, and every page reachable from the newest (ids in range, inside the
// file, referenced once, of the right type, elements inside their page,
// keys in order), then the saved free list if there is one. It checks what
// bbolt's own Tx.Check checks, so that bbolt, given a file verify passed,
// neither panics nor faults on its structure.
//
// With cleanFast, a file whose newest meta page points at a saved free list
// gets its meta pages and free list checked and nothing more: bbolt,
// opening it, reads only those too (it walks the pages to rebuild the free
// list only when none was saved), and mcp-sync saves the free list only in
// the last commit of a clean Close; its first commit after opening clears
// it again (NoFreelistSync). Any other file gets the walk, and every table
// value's checksum is checked too (when the file's format has them), a
// damaged value reported as a Problem with its Table and Key set.
//
// f must be locked against writers. A fault reading its map (the file cut
// short under it despite the lock) arrives as a panic: run verify under
// guard.
func verify(f *os.File, size int64, d depth) (layout, []Problem) {
	v := &verifier{r: f, size: uint64(max(size, 0)), checkValues: d != walkPages}
	if mem, unmap := mapFile(f, size); mem != nil {
		defer unmap()
		v.mem = mem
	}
	lay := layout{size: size}
	if size < 2*1024 {
		v.problem(Problem{What: fmt.Sprintf("the file is %d bytes, too short for bbolt's two meta pages: it was truncated or is not a data file", size)})
		return lay, v.problems
	}
	m0 := v.readMeta(0)
	ps := m0.pageSize
	if !m0.ok { // find the page size from the second meta page, as bbolt does
		for i := range 15 {
			pos := uint64(1024) << i
			if pos >= v.size-1024 {
				break
			}
			if m := v.readMeta(pos); m.ok {
				ps = m.pageSize
				break
			}
		}
	}
	if ps < 1024 || ps > 1<<24 || ps&(ps-1) != 0 {
		v.problem(Problem{What: fmt.Sprintf("neither meta page is valid (page 0: %s): this is not an intact bbolt data file", m0.why)})
		return lay, v.problems
	}
	v.ps, lay.pageSize = ps, ps
	if v.size < 2*ps {
		v.problem(Problem{What: fmt.Sprintf("the file is %d bytes, shorter than its two %d-byte meta pages: it was truncated", size, ps)})
		return lay, v.problems
	}
	m1 := v.readMeta(ps)
	metas := [2]meta{m0, m1}
	var use *meta
	for i := range metas {
		m := &metas[i]
		if m.ok && m.pageSize != ps {
			m.ok, m.why = false, fmt.Sprintf("page size %d, but the other meta page says %d", m.pageSize, ps)
		}
		if m.ok && (m.root >= m.hwm || (m.freelist != noFreelist && m.freelist >= m.hwm) || m.hwm < 3) {
			m.ok, m.why = false, fmt.Sprintf("root page %d or free-list page %d outside the %d pages in use", m.root, m.freelist, m.hwm)
		}
		if m.ok && m.hwm > v.size/ps {
			v.problem(Problem{What: fmt.Sprintf("the file was truncated: it is %d bytes, but meta page %d says %d pages of %d bytes are in use", size, i, m.hwm, ps)})
			continue
		}
		if !m.ok {
			v.problem(Problem{What: "meta page " + fmt.Sprint(i) + " is damaged: " + m.why})
			continue
		}
		if use == nil || m.txid > use.txid {
			use = m
		}
	}
	if use == nil {
		return lay, v.problems
	}
	v.hwm, lay.pages, lay.txid = use.hwm, use.hwm, use.txid
	v.seen = make(bitset, (use.hwm+63)/64) // hwm*ps ≤ size: bounded by the file
	v.seen.set(0)
	v.seen.set(1)
	if d == cleanFast && use.freelist != noFreelist {
		// The tree is left unread, so the free list's ids are checked
		// against the pages in use only where the walk below runs.
		lay.fast = true
		v.freelist(use.freelist)
		return lay, v.problems
	}
	v.tree(use.root, nil, nil, "[buckets]")
	if use.freelist != noFreelist && !v.full() {
		v.freelist(use.freelist)
	}
	return lay, v.problems
}

func (v *verifier) readMeta(off uint64) meta {
	buf, err := v.read(off, pageHeaderSize+64)
	if err != nil {
		return meta{why: "unreadable: " + err.Error()}
	}
	return parseMeta(buf)
}

// read returns n bytes at off: a slice of the map, or a fresh buffer.
func (v *verifier) read(off, n uint64) ([]byte, error) {
	if off > v.size || n > v.size-off {
		return nil, io.ErrUnexpectedEOF
	}
	if v.mem != nil {
		return v.mem[off : off+n : off+n], nil
	}
	buf := make([]byte, n)
	if _, err := v.r.ReadAt(buf, int64(off)); err != nil {
		return nil, err
	}
	return buf, nil
}

// bitset marks pages seen.
type bitset []uint64

func (b bitset) set(i uint64)      { b[i/64] |= 1 << (i % 64) }
func (b bitset) has(i uint64) bool { return b[i/64]&(1<<(i%64)) != 0 }

// readPage reads page id with its overflow pages, checking that they lie
// inside the pages in use and the file and are referenced only once.
func (v *verifier) readPage(id uint64, table string) ([]byte, bool) {
	if id < 2 || id >= v.hwm {
		v.problem(Problem{Table: table, What: fmt.Sprintf("refers to page %d, outside the %d pages in use", id, v.hwm)})
		return nil, false
	}
	hdr, err := v.read(id*v.ps, pageHeaderSize)
	if err != nil {
		v.problem(Problem{Table: table, Page: id, What: "unreadable: " + err.Error()})
		return nil, false
	}
	ne := binary.NativeEndian
	if got := ne.Uint64(hdr); got != id {
		v.problem(Problem{Table: table, Page: id, What: fmt.Sprintf("the page's header says it is page %d", got)})
		return nil, false
	}
	n := uint64(ne.Uint32(hdr[12:])) + 1
	if n > v.hwm-id {
		v.problem(Problem{Table: table, Page: id, What: fmt.Sprintf("%d overflow pages run past the %d pages in use", n-1, v.hwm)})
		return nil, false
	}
	for i := range n {
		if v.seen.has(id + i) {
			v.problem(Problem{Table: table, Page: id + i, What: "referenced twice"})
			return nil, false
		}
		v.seen.set(id + i)
	}
	buf, err := v.read(id*v.ps, n*v.ps)
	if err != nil {
		v.problem(Problem{Table: table, Page: id, What: "unreadable: " + err.Error()})
		return nil, false
	}
	return buf, true
}

// elems returns a branch or leaf page's elements as (key, value or child).
type elem struct {
	flags uint32
	key   []byte
	value []byte // leaf
	child uint64 // branch
}

func pageElems(p []byte) ([]elem, string) {
	ne := binary.NativeEndian
	flags, count := ne.Uint16(p[8:]), uint64(ne.Uint16(p[10:]))
	if flags != flagBranch && flags != flagLeaf {
		return nil, fmt.Sprintf("flags %#x: not a branch or leaf page", flags)
	}
	if flags == flagBranch && count == 0 {
		return nil, "an empty branch page"
	}
	if pageHeaderSize+count*elemSize > uint64(len(p)) {
		return nil, fmt.Sprintf("%d elements do not fit in the page", count)
	}
	out := make([]elem, count)
	for i := range count {
		off := pageHeaderSize + i*elemSize
		e := p[off : off+elemSize]
		var pos, ks, vs uint64
		if flags == flagBranch {
			pos, ks = uint64(ne.Uint32(e)), uint64(ne.Uint32(e[4:]))
			out[i].child = ne.Uint64(e[8:])
		} else {
			out[i].flags = ne.Uint32(e)
			pos, ks, vs = uint64(ne.Uint32(e[4:])), uint64(ne.Uint32(e[8:])), uint64(ne.Uint32(e[12:]))
		}
		if off+pos+ks+vs > uint64(len(p)) {
			return nil, fmt.Sprintf("element %d runs past the end of the page", i)
		}
		out[i].key = p[off+pos : off+pos+ks]
		out[i].value = p[off+pos+ks : off+pos+ks+vs]
	}
	return out, ""
}

// tree checks the b-tree under page id, whose keys must lie in [lo, hi),
// and returns its last key. table names the bucket for problems.
func (v *verifier) tree(id uint64, lo, hi []byte, table string) []byte {
	if v.full() {
		return nil
	}
	n := len(v.problems)
	defer v.noteKeys(n, lo, hi)
	p, ok := v.readPage(id, table)
	if !ok {
		return nil
	}
	es, why := pageElems(p)
	if why != "" {
		v.problem(Problem{Table: table, Page: id, What: why})
		return nil
	}
	if !v.keysInOrder(es, lo, hi, id, table) {
		return nil
	}
	if binary.NativeEndian.Uint16(p[8:]) == flagBranch {
		var last []byte
		for i, e := range es {
			next := hi
			if i+1 < len(es) {
				next = es[i+1].key
			}
			last = v.tree(e.child, e.key, next, table)
		}
		return last
	}
	v.leafBuckets(es, id, table)
	v.leafValues(es, table)
	if len(es) == 0 {
		return nil
	}
	return es[len(es)-1].key
}

// noteKeys adds to the problems found since the n-th, about a page of a
// table whose rows are lost with it, which keys the page held: those in
// [lo, hi) by its parent's keys.
func (v *verifier) noteKeys(n int, lo, hi []byte) {
	if lo == nil && hi == nil {
		return
	}
	for i := n; i < len(v.problems); i++ {
		p := &v.problems[i]
		if p.Key != "" || strings.HasPrefix(p.Table, "[") || strings.Contains(p.What, "rows with keys") {
			continue
		}
		switch {
		case hi == nil:
			p.What += fmt.Sprintf(" (rows with keys from %q on)", storage.ShortKey(string(lo)))
		default:
			p.What += fmt.Sprintf(" (rows with keys from %q up to %q)", storage.ShortKey(string(lo)), storage.ShortKey(string(hi)))
		}
	}
}

// keysInOrder checks that a page's keys increase and lie in [lo, hi).
func (v *verifier) keysInOrder(es []elem, lo, hi []byte, id uint64, table string) bool {
	prev := lo
	for i, e := range es {
		if (i == 0 && prev != nil && bytes.Compare(prev, e.key) > 0) || (i > 0 && bytes.Compare(prev, e.key) >= 0) ||
			(hi != nil && bytes.Compare(e.key, hi) >= 0) {
			v.problem(Problem{Table: table, Page: id, What: fmt.Sprintf("key %d is out of order", i)})
			return false
		}
		prev = e.key
	}
	return true
}

// leafBuckets descends into the buckets a leaf page holds.
func (v *verifier) leafBuckets(es []elem, id uint64, table string) {
	for _, e := range es {
		if e.flags&leafIsBucket == 0 {
			continue
		}
		name := bucketLabel(table, e.key)
		if len(e.value) < bucketHeaderSize {
			v.problem(Problem{Table: name, Page: id, What: "the bucket's header is cut short"})
			continue
		}
		root := binary.NativeEndian.Uint64(e.value)
		if root != 0 {
			v.tree(root, nil, nil, name)
			continue
		}
		inline := e.value[bucketHeaderSize:] // a small bucket kept inside its parent's leaf
		if len(inline) < pageHeaderSize {
			v.problem(Problem{Table: name, Page: id, What: "the inline bucket is cut short"})
			continue
		}
		ies, why := pageElems(inline)
		if why == "" && binary.NativeEndian.Uint16(inline[8:]) != flagLeaf {
			why = "an inline bucket that is not a leaf"
		}
		if why != "" {
			v.problem(Problem{Table: name, Page: id, What: "inline bucket: " + why})
			continue
		}
		if v.keysInOrder(ies, nil, nil, id, name) {
			v.leafBuckets(ies, id, name)
			v.leafValues(ies, name)
		}
	}
}

// leafValues notes the file's format from the meta bucket, and checks the
// checksums of a table's values.
func (v *verifier) leafValues(es []elem, table string) {
	switch {
	case table == "[meta]":
		for _, e := range es {
			switch string(e.key) {
			case string(keyFormat):
				if len(e.value) == 8 {
					v.format = binary.BigEndian.Uint64(e.value)
				}
			case string(keyUpgrade):
				v.upgrading = true
			}
		}
	case v.checkValues && v.format >= sealedFormat && !v.upgrading && table != "" && table[0] != '[' && !strings.Contains(table, ">"):
		bucket := []byte(tablePrefix + table)
		for _, e := range es {
			if e.flags&leafIsBucket != 0 {
				continue
			}
			if why := checkStored(bucket, e.key, e.value); why != "" {
				v.problem(Problem{Table: table, Key: string(e.key), What: why})
			}
		}
	case v.checkValues && v.format >= sealedFormat && !v.upgrading && strings.HasPrefix(table, segLabel) && strings.HasSuffix(table, "]"):
		t := table[len(segLabel) : len(table)-1]
		bucket := []byte(tablePrefix + t)
		for _, e := range es {
			key, i, ok := parseSegKey(e.key)
			if !ok || e.flags&leafIsBucket != 0 {
				v.problem(Problem{Table: t, What: "a segment key that names no row"})
				continue
			}
			if _, why := openSegment(bucket, e.key, e.value); why != "" {
				v.problem(Problem{Table: t, Key: string(key), What: fmt.Sprintf("segment %d: %s", i+1, why)})
			}
		}
	}
}

// segLabel starts the label of a table's segments bucket.
const segLabel = "[segments of "

// bucketLabel names a bucket for problems: a table by its name, the
// store's own buckets in brackets.
func bucketLabel(parent string, key []byte) string {
	if parent != "[buckets]" {
		return parent + ">" + string(key)
	}
	switch k := string(key); {
	case len(k) > len(tablePrefix) && k[:len(tablePrefix)] == tablePrefix:
		return k[len(tablePrefix):]
	case len(k) > len(segPrefix) && k[:len(segPrefix)] == segPrefix:
		return segLabel + k[len(segPrefix):] + "]"
	case k == string(logBucket):
		return "[change log]"
	case k == string(metaBucket):
		return "[meta]"
	default:
		return "[" + k + "]"
	}
}
