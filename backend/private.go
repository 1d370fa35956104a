package backend

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/mcp-sync/mcp-sync/schema"
	"github.com/mcp-sync/mcp-sync/storage"
)

// Private tables (schema.Private) keep each row under its owner: the row a
// caller names "a" is stored under ownerPrefix(owner)+"a" in the same
// table. The prefix is the owner's length in decimal, a colon, then the
// owner ("5:alice"), so no owner's prefix is a prefix of another's (the
// length is read up to the first colon, which decides where the owner
// ends): two (owner, key) pairs never share a stored key, and one owner's
// rows are one prefix range, which Scan and the change feed's filters use.
// Callers only ever see the key after the prefix. Keys stay at most
// MaxKeyBytes as callers see them: the stored key is longer by the prefix
// (at most MaxOwnerBytes+6 bytes), far under the storage's own 32 KiB key
// limit. All the mapping is here and at the engine's doors (Get, Scan,
// Subscribe, ChangesSince, Table); a replica engine (Options.Replica)
// holds only its user's rows and stores them under their plain keys.
//
// A table that held rows before it was declared private keeps them under
// their plain keys, which no caller reaches (unless one happens to read as
// an owner's prefixed key): declare a table private before it holds rows.

// MaxOwnerBytes is the longest owner (an identity's Subject) a private
// table's rows may have, in bytes.
const MaxOwnerBytes = 1 << 10

type ownerKey struct{}

// WithOwner returns ctx whose reads and writes of private tables
// (schema.Private) reach owner's rows: how server code that has no caller
// (a background job, Go code holding the engine) names the user whose rows
// it means. It takes precedence over the identity ctx carries, so an action
// running as one caller can still reach another user's rows on purpose.
// owner is a user's [Identity.Owner]: a signed-in subject, or
// LocalOwnerPrefix and a local user's name. An action run enqueued under it by a
// call with no identity runs as owner (its Run.Caller names owner), so
// that its own reads and writes of private tables reach owner's rows.
func WithOwner(ctx context.Context, owner string) context.Context {
	return context.WithValue(ctx, ownerKey{}, owner)
}

// ownerOf returns the owner ctx's calls act as on private tables: the one
// named with WithOwner, else the caller's Identity.Owner. A call with neither (or
// an owner no row may have) is refused as ErrForbidden: a private table is
// never a namespace shared by callers nobody named.
func ownerOf(ctx context.Context, table string) (string, error) {
	owner, named := ctx.Value(ownerKey{}).(string)
	if !named {
		id, ok := IdentityFrom(ctx)
		if !ok || id.Owner() == "" {
			return "", withKind(ErrForbidden, "", fmt.Errorf("table %s is private: each row belongs to a user, and this call has none: "+
				"a client must be signed in; server code names the user with backend.WithOwner(ctx, subject)", table))
		}
		owner = id.Owner()
	}
	switch {
	case owner == "":
		return "", withKind(ErrForbidden, "", fmt.Errorf("table %s is private: backend.WithOwner was given an empty owner", table))
	case len(owner) > MaxOwnerBytes:
		return "", withKind(ErrForbidden, "", fmt.Errorf("table %s is private: the owner (the caller's subject) is %d bytes, over the %d-byte limit", table, len(owner), MaxOwnerBytes))
	case !utf8.ValidString(owner):
		return "", withKind(ErrForbidden, "", fmt.Errorf("table %s is private: the owner (the caller's subject) is not valid UTF-8", table))
	}
	return owner, nil
}

// ownerPrefix is the stored-key prefix of owner's rows.
func ownerPrefix(owner string) string {
	return strconv.Itoa(len(owner)) + ":" + owner
}

// rowPrefix returns the stored-key prefix of ctx's rows in table info: ""
// for a table that is not private, or on a replica.
func (e *Engine) rowPrefix(ctx context.Context, info *schema.TableInfo) (string, error) {
	if info == nil || !info.Private || e.opts.Replica {
		return "", nil
	}
	owner, err := ownerOf(ctx, info.Name)
	if err != nil {
		return "", err
	}
	return ownerPrefix(owner), nil
}

// Owner returns whose rows of the client-visible table ctx's calls reach:
// for a private table (schema.Private), the owner (see [WithOwner]; else
// the caller's Identity.Owner); for any other table, or on a replica, "". The
// MCP layer keys its subscriptions by it, since one URI names a different
// row for each owner. A private table with no owner is an error of kind
// ErrForbidden; an undeclared or server-only one, ErrUnknown.
func (e *Engine) Owner(ctx context.Context, table string) (string, error) {
	info, err := e.clientTable(table)
	if err != nil || !info.Private || e.opts.Replica {
		return "", err
	}
	return ownerOf(ctx, table)
}

// scoped maps scan options in a caller's keys to stored keys under prefix.
func scoped(prefix string, o ScanOptions) ScanOptions {
	if prefix == "" {
		return o
	}
	o.Prefix = prefix + o.Prefix
	if o.After != "" {
		o.After = prefix + o.After
	}
	return o
}

// scopedFilter maps a filter in a caller's keys to stored keys under
// prefix.
func scopedFilter(prefix string, f Filter) Filter {
	if prefix == "" {
		return f
	}
	if f.Key != "" {
		f.Key = prefix + f.Key
	}
	f.Prefix = prefix + f.Prefix
	return f
}

// unscope returns events with prefix cut from their keys, in new slices
// (events are shared with other subscribers). Every change's key holds
// prefix: the filter selected them by it.
func unscope(prefix string, evs []Event) []Event {
	if prefix == "" {
		return evs
	}
	out := make([]Event, len(evs))
	for i, ev := range evs {
		out[i] = unscopeEvent(prefix, ev)
	}
	return out
}

func unscopeEvent(prefix string, ev Event) Event {
	if prefix == "" || len(ev.Changes) == 0 {
		return ev
	}
	cs := make([]Change, len(ev.Changes))
	for i, c := range ev.Changes {
		c.Key = strings.TrimPrefix(c.Key, prefix)
		cs[i] = c
	}
	ev.Changes = cs
	return ev
}

// runOwner is the part of a run record that says whose it is.
type runOwner struct {
	Action string    `json:"action"`
	Caller *Identity `json:"caller"`
}

// visibleRuns returns ev with only the changes of runs a caller whose
// Identity.Owner is owner may see (see Engine.runVisible): a run some
// caller started is its owner's. A deleted run's record is gone, so its delete is left
// out. ok is false when no change remains.
func (e *Engine) visibleRuns(owner string, ev Event) (Event, bool) {
	if len(ev.Changes) == 0 {
		return ev, true // a resync
	}
	var cs []Change
	for _, c := range ev.Changes {
		var r runOwner
		if c.Op != OpPut || json.Unmarshal(c.Value, &r) != nil {
			continue
		}
		if info, ok := e.cfg.Schema.Action(r.Action); ok && info.Internal {
			continue
		}
		if r.Caller != nil && r.Caller.Owner() != owner {
			continue
		}
		cs = append(cs, c)
	}
	if len(cs) == 0 {
		return Event{}, false
	}
	ev.Changes = cs
	return ev, true
}

// pushClient is the key of clientID's push record (see Once) for ctx's
// caller: a signed-in caller's client ids are its own, so another user
// pushing under the same id can neither read its state nor make its next
// pushes look like retries. Local callers and server code keep the plain
// id, as records written before identities existed do.
func pushClient(ctx context.Context, clientID string) string {
	if id, ok := IdentityFrom(ctx); ok && !id.Local && id.Subject != "" {
		return ownerPrefix(id.Owner()) + clientID
	}
	return clientID
}

// ownerless returns a damaged row's error as its owner may see it: a
// private table's key without its owner prefix, so that no message names
// the owner or the stored key.
func (e *Engine) ownerless(d *storage.CorruptError) *storage.CorruptError {
	info, ok := e.cfg.Schema.Table(d.Table)
	if !ok || !info.Private || e.opts.Replica {
		return d
	}
	_, key, ok := splitStoredKey(d.Key)
	if !ok {
		return d
	}
	c := *d
	c.Key = key
	return &c
}

// splitStoredKey splits a private table's stored key into its owner and
// the key the owner knows; ok is false for a key not in that form. Code
// that reads stored keys directly (the change log, the audit) shows a
// private row by key, never by its stored form.
func splitStoredKey(stored string) (owner, key string, ok bool) {
	n, rest, found := strings.Cut(stored, ":")
	l, err := strconv.Atoi(n)
	if !found || err != nil || l < 1 || l > len(rest) || strconv.Itoa(l) != n {
		return "", "", false
	}
	return rest[:l], rest[l:], true
}

// Of returns a handle on owner's rows of the private table t names: how a
// mutator or action reaches the rows of a user other than its caller (say,
// sharing a note), or one run by server code with no caller names the
// user whose rows it means. On a table that is not private each method of the
// handle fails; on a client's replica, which holds only its own user's
// rows, the handle is t's.
func (t *Table) Of(owner string) *Table {
	o := *t
	if o.info != nil && o.info.Private && KindOf(o.err) == ErrForbidden {
		o.err = nil // t's ctx named no owner, which server code may leave to Of
	}
	switch {
	case o.err != nil:
	case !o.info.Private:
		o.err = fmt.Errorf("table %s is not private: Of names the owner of a private table's rows", t.name)
	case t.eng.opts.Replica:
	default:
		var err error
		if owner, err = ownerOf(WithOwner(context.Background(), owner), t.name); err != nil {
			o.err = err
		} else {
			o.prefix = ownerPrefix(owner)
		}
	}
	return &o
}

// Of returns typed access to owner's rows (see [Table.Of]).
func (tt TypedTable[T]) Of(owner string) TypedTable[T] { return TypedTable[T]{tt.t.Of(owner)} }

// historyKey returns how a change to the stored key of table shows in the
// history (audit) of the caller whose owner (Identity.Owner) is owner: a private table's row by the key
// its owner knows, and only to its owner (visible false: count it hidden);
// any other table's key as it is. A key cut short inside its owner prefix
// shows to no one but admins, whose histories keep stored keys.
func (e *Engine) historyKey(table, stored, owner string) (key string, visible bool) {
	info, ok := e.cfg.Schema.Table(table)
	if !ok || !info.Private || e.opts.Replica {
		return stored, true
	}
	rowOwner, key, ok := splitStoredKey(stored)
	if !ok || rowOwner != owner {
		return "", false
	}
	return key, true
}
