package bolt

// rope is a value as a list of byte slices, so that rebuilding a row's
// older values from splices costs a few slice headers per step, not a copy
// of the row: undoing 2,000 chunks of a streamed 40 KB answer copies nothing
// until a value is handed out. Its segments point into a read
// transaction's pages and records, and are never written to.
type rope struct {
	segs [][]byte
	n    int
}

// ropeOf returns the rope of b.
func ropeOf(b []byte) rope { return rope{segs: [][]byte{b}, n: len(b)} }

// maxSegs bounds a rope's segments: past it the rope is flattened, so that
// many scattered edits of one row cannot make each step cost more.
const maxSegs = 32

// splice returns r[:p] + mid + r[r.n-s:], and false when p and s overlap
// or run past r.
func (r rope) splice(p, s int, mid []byte) (rope, bool) {
	if p < 0 || s < 0 || p > r.n || s > r.n-p {
		return rope{}, false
	}
	out := rope{segs: make([][]byte, 0, len(r.segs)+1)}
	out.appendRange(r, 0, p)
	if len(mid) > 0 {
		out.segs = append(out.segs, mid)
		out.n += len(mid)
	}
	out.appendRange(r, r.n-s, r.n)
	if len(out.segs) > maxSegs {
		out = ropeOf(out.bytes())
	}
	return out, true
}

// appendRange appends bytes [from, to) of src.
func (r *rope) appendRange(src rope, from, to int) {
	at := 0
	for _, seg := range src.segs {
		lo, hi := max(from-at, 0), min(to-at, len(seg))
		if lo < hi {
			r.segs = append(r.segs, seg[lo:hi])
			r.n += hi - lo
		}
		at += len(seg)
		if at >= to {
			return
		}
	}
}

// bytes returns the rope's value in a new slice.
func (r rope) bytes() []byte {
	out := make([]byte, 0, r.n)
	for _, seg := range r.segs {
		out = append(out, seg...)
	}
	return out
}
