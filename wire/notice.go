package wire

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
)

// A notice travels in a compact form of its own, since it goes to every
// subscriber of a URI on every change (a streamed answer's row: on every
// chunk), where _sync_changes's names would weigh more than the chunk:
//
//	{"a":after,"v":version,"e":[[version,change,…],…]}
//
// "v" is left out when the last event's version is the notice's, "e" when
// there are no events. An event is an array: its version, then its changes.
// A change is an object of
//
//   - "k": the row's key, left out when the notice's URI is the row's;
//   - "p": the value written (a put), or
//   - "d": true (a delete), or
//   - a patch: "b", the version of the row's value it edits, left out when
//     that is the previous event's version (for the first event, after);
//     "+", its append; "m", its merge ("m":{} when it has neither).
//
// A row streamed to its own URI's subscribers then costs only its edits:
// {"a":41,"e":[[42,{"+":{"text":"chunk"},"m":{"n":7}}]]}.

// EncodeNotice is n as a notification of uri carries it (see
// [ChangesMetaKey]). It fails on a value that is not JSON, or a change of
// an unknown op; the notification then goes without its changes.
func EncodeNotice(uri string, n ChangeNotice) ([]byte, error) {
	rowKey, isRow := rowKeyOf(uri)
	b := make([]byte, 0, 64)
	b = append(b, `{"a":`...)
	b = strconv.AppendUint(b, n.After, 10)
	if len(n.Events) == 0 || n.Events[len(n.Events)-1].Version != n.Version {
		b = append(b, `,"v":`...)
		b = strconv.AppendUint(b, n.Version, 10)
	}
	if len(n.Events) > 0 {
		b = append(b, `,"e":[`...)
	}
	prev := n.After
	for i, ev := range n.Events {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, '[')
		b = strconv.AppendUint(b, ev.Version, 10)
		for _, c := range ev.Changes {
			var err error
			if b, err = appendChange(append(b, ','), c, prev, isRow && c.Key == rowKey); err != nil {
				return nil, fmt.Errorf("version %d: %w", ev.Version, err)
			}
		}
		b = append(b, ']')
		prev = ev.Version
	}
	if len(n.Events) > 0 {
		b = append(b, ']')
	}
	return append(b, '}'), nil
}

// appendChange appends c's compact form; prev is the version a patch's base
// is implied to be, and keyed says the URI names c's row.
func appendChange(b []byte, c SyncChange, prev uint64, keyed bool) ([]byte, error) {
	b = append(b, '{')
	if !keyed {
		k, _ := json.Marshal(c.Key) // a string always encodes
		b = append(append(append(b, `"k":`...), k...), ',')
	}
	raw := func(name string, v json.RawMessage) error {
		if !json.Valid(v) {
			return fmt.Errorf("row %q: its %s is not JSON", c.Key, name)
		}
		b = append(append(append(append(b, '"'), name...), `":`...), v...)
		return nil
	}
	var err error
	switch c.Op {
	case OpPut:
		err = raw("p", c.Value)
	case OpDelete:
		b = append(b, `"d":true`...)
	case OpPatch:
		if c.Base != prev {
			b = strconv.AppendUint(append(b, `"b":`...), c.Base, 10)
			b = append(b, ',')
		}
		switch {
		case len(c.Append) > 0:
			if err = raw("+", c.Append); err == nil && len(c.Merge) > 0 {
				b = append(b, ',')
				err = raw("m", c.Merge)
			}
		case len(c.Merge) > 0:
			err = raw("m", c.Merge)
		default:
			b = append(b, `"m":{}`...)
		}
	default:
		err = fmt.Errorf("row %q: a change of unknown op %q", c.Key, c.Op)
	}
	return append(b, '}'), err
}

// noticeForm and changeForm decode the compact form.
type noticeForm struct {
	A *uint64             `json:"a"`
	V *uint64             `json:"v"`
	E [][]json.RawMessage `json:"e"`
}

type changeForm struct {
	K *string         `json:"k"`
	P json.RawMessage `json:"p"`
	D bool            `json:"d"`
	B *uint64         `json:"b"`
	A json.RawMessage `json:"+"`
	M json.RawMessage `json:"m"`
}

// DecodeNotice reads a notice that a notification of uri carried (see
// [EncodeNotice]), filling in what the compact form leaves implied.
func DecodeNotice(uri string, data []byte) (ChangeNotice, error) {
	var f noticeForm
	if err := json.Unmarshal(data, &f); err != nil {
		return ChangeNotice{}, fmt.Errorf("a notice of %s: %w", uri, err)
	}
	if f.A == nil {
		return ChangeNotice{}, fmt.Errorf("a notice of %s: no after (\"a\")", uri)
	}
	n := ChangeNotice{After: *f.A}
	rowKey, isRow := rowKeyOf(uri)
	prev := n.After
	for _, raw := range f.E {
		ev, err := decodeEvent(raw, prev, rowKey, isRow)
		if err != nil {
			return ChangeNotice{}, fmt.Errorf("a notice of %s: %w", uri, err)
		}
		n.Events = append(n.Events, ev)
		prev = ev.Version
	}
	switch {
	case f.V != nil:
		n.Version = *f.V
	case len(n.Events) > 0:
		n.Version = prev
	default:
		return ChangeNotice{}, fmt.Errorf("a notice of %s: no version (\"v\") and no events", uri)
	}
	return n, nil
}

func decodeEvent(parts []json.RawMessage, prev uint64, rowKey string, isRow bool) (SyncEvent, error) {
	if len(parts) == 0 {
		return SyncEvent{}, errors.New("an event is not [version, change…]: []")
	}
	var ev SyncEvent
	var err error
	if ev.Version, err = strconv.ParseUint(string(parts[0]), 10, 64); err != nil {
		return SyncEvent{}, fmt.Errorf("an event's version %.40s is not a version", parts[0])
	}
	for _, p := range parts[1:] {
		var f changeForm
		if err := json.Unmarshal(p, &f); err != nil {
			return SyncEvent{}, fmt.Errorf("version %d: a change %.40s: %w", ev.Version, p, err)
		}
		c, err := f.change(prev, rowKey, isRow)
		if err != nil {
			return SyncEvent{}, fmt.Errorf("version %d: %w", ev.Version, err)
		}
		ev.Changes = append(ev.Changes, c)
	}
	return ev, nil
}

// change is the SyncChange f says, with what it leaves out filled in.
func (f *changeForm) change(prev uint64, rowKey string, isRow bool) (SyncChange, error) {
	c := SyncChange{Key: rowKey}
	switch {
	case f.K != nil:
		c.Key = *f.K
	case !isRow:
		return c, errors.New(`a change without its key ("k") in a notice of a table`)
	}
	edits := f.A != nil || f.M != nil
	switch {
	case f.P != nil && !f.D && !edits && f.B == nil:
		c.Op, c.Value = OpPut, f.P
	case f.D && f.P == nil && !edits && f.B == nil:
		c.Op = OpDelete
	case edits && f.P == nil && !f.D:
		c.Op, c.Base, c.Append, c.Merge = OpPatch, prev, f.A, f.M
		if f.B != nil {
			c.Base = *f.B
		}
	default:
		return c, fmt.Errorf("row %q: a change must be one of a put (\"p\"), a delete (\"d\") or a patch (\"+\" or \"m\")", c.Key)
	}
	return c, nil
}

// rowKeyOf is the key of the row uri names (as [RowURI] makes it), and
// whether it names one.
func rowKeyOf(uri string) (string, bool) {
	rest, ok := strings.CutPrefix(uri, TablePrefix)
	if !ok {
		return "", false
	}
	_, esc, ok := strings.Cut(rest, "/")
	if !ok {
		return "", false
	}
	key, err := url.PathUnescape(esc)
	return key, err == nil && key != ""
}
