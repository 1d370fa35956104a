package wire

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// A patch ([OpPatch]) gives a rewritten row as edits of its previous value,
// so that a streamed answer, which rewrites its row on every chunk, travels
// as its chunks rather than as the whole text again each time. Both parts
// are JSON objects shaped like the row:
//
//   - Append holds strings to append: {"text":" more"} appends " more" to
//     the string member text; a nested object reaches a nested member.
//   - Merge is a JSON merge patch (RFC 7396), applied after Append: a member
//     set to a value replaces the row's, null removes it, and an object
//     merges into the row's object member.
//
// Neither touches anything outside the object it edits: the row's value
// and the members Append reaches must be objects, and Append's strings
// must land on strings.

// ErrPatch is wrapped by [ApplyPatch]'s errors: the base is not what the
// patch was made against (not an object, a member missing or of another
// kind). A client holding such a base reads the row's changes instead.
var ErrPatch = errors.New("the patch does not fit the value")

// MakePatch returns the patch that turns old into new (append and merge as
// in [SyncChange]), or ok false when there is none worth sending: a value
// that is not an object, a patch as large as new itself, or an edit a merge
// patch cannot say exactly (a member set to null, or an object member
// turned from something else). ApplyPatch(old, append, merge) then holds
// new's members, in old's order with new ones last.
func MakePatch(old, new []byte) (appendTo, merge json.RawMessage, ok bool) {
	om, err := members(old)
	if err != nil {
		return nil, nil, false
	}
	nm, err := members(new)
	if err != nil {
		return nil, nil, false
	}
	var a, m bytes.Buffer
	if !diffObjects(om, nm, &a, &m) {
		return nil, nil, false
	}
	if a.Len()+m.Len() >= len(new) {
		return nil, nil, false
	}
	return closeObject(&a), closeObject(&m), true
}

// closeObject ends an object diffObjects began, or is nil when it holds no
// member.
func closeObject(b *bytes.Buffer) json.RawMessage {
	if b.Len() == 0 {
		return nil
	}
	b.WriteByte('}')
	return b.Bytes()
}

// diffObjects writes into a and m (each begun with '{' at its first member)
// the members that turn old into new; false when a merge patch cannot say
// it.
func diffObjects(old, new []member, a, m *bytes.Buffer) bool {
	for _, nv := range new {
		ov, found := lookup(old, nv.name)
		switch {
		case found && bytes.Equal(ov, nv.value):
		case found && extends(ov, nv.value):
			addMember(a, nv.name, append([]byte{'"'}, nv.value[len(ov)-1:]...))
		case found && kind(ov) == '{' && kind(nv.value) == '{':
			om, err := members(ov)
			if err != nil {
				return false
			}
			nm, err := members(nv.value)
			if err != nil {
				return false
			}
			var sa, sm bytes.Buffer
			if !diffObjects(om, nm, &sa, &sm) {
				return false
			}
			if sa.Len() > 0 {
				addMember(a, nv.name, closeObject(&sa))
			}
			if sm.Len() > 0 {
				addMember(m, nv.name, closeObject(&sm))
			}
		case kind(nv.value) == 'n' || kind(nv.value) == '{':
			return false // null would remove the member; an object would merge, not replace
		default:
			addMember(m, nv.name, nv.value)
		}
	}
	for _, ov := range old {
		if _, found := lookup(new, ov.name); !found {
			addMember(m, ov.name, []byte("null"))
		}
	}
	return true
}

// extends reports whether new is the string old with text appended. Both
// are whole JSON strings, so old's content ends on a whole character or
// escape, and new's bytes past it are text of their own.
func extends(old, new []byte) bool {
	return kind(old) == '"' && kind(new) == '"' && len(new) > len(old) && bytes.HasPrefix(new, old[:len(old)-1])
}

func addMember(b *bytes.Buffer, name string, value []byte) {
	if b.Len() == 0 {
		b.WriteByte('{')
	} else {
		b.WriteByte(',')
	}
	n, _ := json.Marshal(name) // a string always encodes
	b.Write(n)
	b.WriteByte(':')
	b.Write(value)
}

// ApplyPatch returns base with a patch's append and merge applied (see
// [SyncChange]). Errors wrap [ErrPatch] when the patch does not fit base.
func ApplyPatch(base, appendTo, merge json.RawMessage) (json.RawMessage, error) {
	ms, err := members(base)
	if err != nil {
		return nil, fmt.Errorf("%w: the value is not an object: %v", ErrPatch, err)
	}
	if len(appendTo) > 0 {
		if ms, err = appendMembers(ms, appendTo); err != nil {
			return nil, err
		}
	}
	if len(merge) > 0 {
		if ms, err = mergeMembers(ms, merge); err != nil {
			return nil, err
		}
	}
	return encodeMembers(ms), nil
}

func appendMembers(ms []member, patch []byte) ([]member, error) {
	ps, err := members(patch)
	if err != nil {
		return nil, fmt.Errorf("%w: append is not an object: %v", ErrPatch, err)
	}
	for _, p := range ps {
		i := index(ms, p.name)
		if i < 0 {
			return nil, fmt.Errorf("%w: no member %q to append to", ErrPatch, p.name)
		}
		cur := ms[i].value
		switch {
		case kind(p.value) == '"' && kind(cur) == '"':
			// Both whole JSON strings: the text of one, then the other's.
			v := make([]byte, 0, len(cur)+len(p.value)-2)
			ms[i].value = append(append(v, cur[:len(cur)-1]...), p.value[1:]...)
		case kind(p.value) == '{' && kind(cur) == '{':
			sub, err := members(cur)
			if err != nil {
				return nil, fmt.Errorf("%w: member %q: %v", ErrPatch, p.name, err)
			}
			if sub, err = appendMembers(sub, p.value); err != nil {
				return nil, err
			}
			ms[i].value = encodeMembers(sub)
		default:
			return nil, fmt.Errorf("%w: cannot append %.20s to member %q holding %.20s", ErrPatch, p.value, p.name, cur)
		}
	}
	return ms, nil
}

// mergeMembers applies a JSON merge patch (RFC 7396) to an object's members.
func mergeMembers(ms []member, patch []byte) ([]member, error) {
	ps, err := members(patch)
	if err != nil {
		return nil, fmt.Errorf("%w: merge is not an object: %v", ErrPatch, err)
	}
	for _, p := range ps {
		i := index(ms, p.name)
		switch kind(p.value) {
		case 'n':
			if i >= 0 {
				ms = append(ms[:i], ms[i+1:]...)
			}
			continue
		case '{':
			var sub []member
			if i >= 0 && kind(ms[i].value) == '{' {
				if sub, err = members(ms[i].value); err != nil {
					return nil, fmt.Errorf("%w: member %q: %v", ErrPatch, p.name, err)
				}
			}
			if sub, err = mergeMembers(sub, p.value); err != nil {
				return nil, err
			}
			p.value = encodeMembers(sub)
		}
		if i >= 0 {
			ms[i].value = p.value
		} else {
			ms = append(ms, p)
		}
	}
	return ms, nil
}

// member is one member of a JSON object: its name and its value as JSON.
type member struct {
	name  string
	value json.RawMessage
}

// maxMembers bounds the members of an object a patch edits: members are
// looked up by name one by one, and a row with more is sent whole.
const maxMembers = 256

// members splits a JSON object into its members, in order. An object that
// names a member twice is refused (what it holds depends on the decoder),
// as is one of more than maxMembers.
func members(obj []byte) ([]member, error) {
	dec := json.NewDecoder(bytes.NewReader(obj))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return nil, errors.New("not a JSON object")
	}
	var ms []member
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return nil, err
		}
		name, _ := t.(string) // a member name is a string, or Token fails
		if len(ms) == maxMembers {
			return nil, fmt.Errorf("more than %d members", maxMembers)
		}
		if index(ms, name) >= 0 {
			return nil, fmt.Errorf("member %q appears twice", name)
		}
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, err
		}
		ms = append(ms, member{name, v})
	}
	if _, err := dec.Token(); err != nil { // the closing brace
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("data after the object")
	}
	return ms, nil
}

func encodeMembers(ms []member) json.RawMessage {
	var b bytes.Buffer
	for _, m := range ms {
		addMember(&b, m.name, m.value)
	}
	if b.Len() == 0 {
		return json.RawMessage("{}")
	}
	return closeObject(&b)
}

func index(ms []member, name string) int {
	for i, m := range ms {
		if m.name == name {
			return i
		}
	}
	return -1
}

func lookup(ms []member, name string) (json.RawMessage, bool) {
	if i := index(ms, name); i >= 0 {
		return ms[i].value, true
	}
	return nil, false
}

// kind is a JSON value's first byte ('"', '{', '[', 'n', 't', 'f', or a
// number's first), 0 for none.
func kind(v []byte) byte {
	if len(v) == 0 {
		return 0
	}
	return v[0]
}
