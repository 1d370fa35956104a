package bolt

import (
	"encoding/binary"
	"fmt"
)

// freelist checks a saved free list: in range, no duplicates, and no page
// that the tree uses (bbolt would hand it out again and overwrite live data).
func (v *verifier) freelist(id uint64) {
	p, ok := v.readPage(id, "[free list]")
	if !ok {
		return
	}
	ne := binary.NativeEndian
	if f := ne.Uint16(p[8:]); f != flagFreelist {
		v.problem(Problem{Table: "[free list]", Page: id, What: fmt.Sprintf("flags %#x: not a free-list page", f)})
		return
	}
	start, count := uint64(0), uint64(ne.Uint16(p[10:]))
	if count == 0xFFFF { // the real count is the first element
		if len(p) < pageHeaderSize+8 {
			v.problem(Problem{Table: "[free list]", Page: id, What: "cut short"})
			return
		}
		start, count = 1, ne.Uint64(p[pageHeaderSize:])
	}
	if count > (uint64(len(p))-pageHeaderSize)/8-start {
		v.problem(Problem{Table: "[free list]", Page: id, What: fmt.Sprintf("%d page ids do not fit in the page", count)})
		return
	}
	free := make(map[uint64]bool, count)
	for i := range count {
		pg := ne.Uint64(p[pageHeaderSize+(start+i)*8:])
		switch {
		case pg < 2 || pg >= v.hwm:
			v.problem(Problem{Table: "[free list]", Page: id, What: fmt.Sprintf("lists page %d, outside the %d pages in use", pg, v.hwm)})
		case free[pg]:
			v.problem(Problem{Table: "[free list]", Page: id, What: fmt.Sprintf("lists page %d twice", pg)})
		case v.seen.has(pg):
			v.problem(Problem{Table: "[free list]", Page: id, What: fmt.Sprintf("lists page %d as free, but it is in use", pg)})
		default:
			free[pg] = true
			continue
		}
		return
	}
}
