package tools

import "github.com/mcp-sync/mcp-sync/wire"

// priors is the last value of each recently changed row of a watched table,
// as the table's notices carried it, so that the row's next change goes to
// changes-taking clients as a patch of it (wire.OpPatch): a streamed answer
// then travels as its chunks, not as its whole text again on every one.
//
// It must see every change of the table in commit order (reset when the
// watch skips any), for a patch's base to be the row's previous change.
// Two generations bound it: a row changed again while the current one fills
// is kept, so a hot row keeps its base while a bulk load passes by. Values
// are the events' own bytes, shared, not copied.
type priors struct {
	cur, old map[string]prior
	bytes    int // the sum of cur's values' sizes
}

// prior is a row's value as of the version that wrote it (nil: deleted).
type prior struct {
	version uint64
	value   []byte
}

// Bounds of one generation of priors.
const (
	maxPriorRows  = 4096
	maxPriorBytes = 8 << 20
)

func (p *priors) get(key string) (prior, bool) {
	if v, ok := p.cur[key]; ok {
		return v, true
	}
	v, ok := p.old[key]
	return v, ok
}

func (p *priors) put(key string, v prior) {
	if p.cur == nil || len(p.cur) >= maxPriorRows || p.bytes+len(v.value) > maxPriorBytes {
		p.old, p.cur, p.bytes = p.cur, make(map[string]prior), 0
	}
	if was, ok := p.cur[key]; ok {
		p.bytes -= len(was.value)
	}
	p.cur[key] = v
	p.bytes += len(v.value)
}

// reset forgets every value: changes were skipped, so none is known to be
// the previous one.
func (p *priors) reset() { p.cur, p.old, p.bytes = nil, nil, 0 }

// note records a version's changes; with patch set, it returns them with
// every put that a patch says in fewer bytes turned into that patch (a new
// slice; all is left as it is), else all.
func (p *priors) note(version uint64, all []wire.SyncChange, patch bool) []wire.SyncChange {
	out := all
	for i, c := range all {
		was, known := p.get(c.Key)
		p.put(c.Key, prior{version: version, value: c.Value})
		// A row written twice in one version is sent whole the second time:
		// a patch's base is an earlier version.
		if !patch || c.Op != wire.OpPut || !known || was.value == nil || was.version >= version {
			continue
		}
		a, m, ok := wire.MakePatch(was.value, c.Value)
		if !ok {
			continue
		}
		if &out[0] == &all[0] {
			out = append([]wire.SyncChange(nil), all...)
		}
		out[i] = wire.SyncChange{Key: c.Key, Op: wire.OpPatch, Base: was.version, Append: a, Merge: m}
	}
	return out
}
