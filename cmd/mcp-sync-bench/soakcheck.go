package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/mcp-sync/mcp-sync/client"
	"github.com/mcp-sync/mcp-sync/examples/todo"
)

// writeSub writes a new text to the worker's subscribed row.
func (w *soakWorker) writeSub(ctx context.Context) (string, client.MutateResult, error) {
	text := fmt.Sprintf("watched %d of worker %d at %d", w.n, w.id, time.Now().UnixNano())
	w.n++
	res, err := client.Mutate(ctx, w.cn, todo.SetTodo, todo.Todo{ID: w.key("sub"), Text: text, Status: todo.StatusReady})
	return text, res, err
}

// writeAndAwait writes the subscribed row and waits up to wait for an
// update after which the row reads back what was written.
func (w *soakWorker) writeAndAwait(ctx context.Context, wait time.Duration) (bool, error) {
	if w.watching {
		return w.writeAndWatch(ctx, wait)
	}
	for drained := false; !drained; { // a wake-up from an earlier write
		select {
		case <-w.updates:
		default:
			drained = true
		}
	}
	text, _, err := w.writeSub(ctx)
	if err != nil {
		return false, err
	}
	timeout := time.After(wait)
	for {
		select {
		case _, open := <-w.updates:
			if !open {
				return false, errors.New("the subscription channel closed while connected")
			}
			raw, err := w.cn.ReadResource(ctx, w.subURI)
			if err != nil {
				return false, err
			}
			var got todo.Todo
			if json.Unmarshal([]byte(raw), &got) == nil && got.Text == text {
				w.st.sawWrite()
				return true, nil
			}
		case <-timeout:
			return false, nil
		case <-ctx.Done():
			return false, ctx.Err()
		}
	}
}

// writeAndWatch writes the worker's row and waits up to wait for the watch
// to deliver the write: every text written must come out once, in order.
func (w *soakWorker) writeAndWatch(ctx context.Context, wait time.Duration) (bool, error) {
	text, res, err := w.writeSub(ctx)
	if err != nil {
		// Committed or not: if it comes out of the watch, skip it.
		w.maybe = append(w.maybe, text)
		return false, err
	}
	w.expect = append(w.expect, soakWrite{text: text, version: res.Version})
	timeout := time.After(wait)
	for {
		select {
		case ev, open := <-w.events:
			if !open {
				return false, errors.New("the watch ended while connected")
			}
			if err := w.checkEvent(ev); err != nil {
				return false, err
			}
			if len(w.expect) == 0 {
				w.st.sawWrite()
				return true, nil
			}
		case <-timeout:
			return false, nil
		case <-ctx.Done():
			return false, ctx.Err()
		}
	}
}

// soakWrite is a write to a watched row and the version it committed.
type soakWrite struct {
	text    string
	version uint64
}

// checkEvent matches an event of the worker's watch against the writes it
// is owed, in order.
func (w *soakWorker) checkEvent(ev client.Event[todo.Todo]) error {
	if ev.Resync { // the log no longer reached back (allowed): the snapshot holds what came before
		for len(w.expect) > 0 && w.expect[0].version <= ev.Version {
			w.expect = w.expect[1:]
		}
		return nil
	}
	for _, ch := range ev.Changes {
		if i := slices.Index(w.maybe, ch.Value.Text); i >= 0 && !ch.Deleted {
			w.maybe = slices.Delete(w.maybe, i, i+1)
			continue
		}
		if len(w.expect) == 0 || ch.Deleted || ch.Value.Text != w.expect[0].text {
			want := "nothing"
			if len(w.expect) > 0 {
				want = fmt.Sprintf("%q", w.expect[0].text)
			}
			err := fmt.Errorf("watch of %s (%s) delivered %q at version %d, want %s: a change missed, repeated or out of order",
				w.subURI, w.transport, ch.Value.Text, ev.Version, want)
			// Report it once: go on from what was delivered.
			i := slices.IndexFunc(w.expect, func(x soakWrite) bool { return x.text == ch.Value.Text })
			w.expect = w.expect[i+1:] // i == -1: none owed any more
			return err
		}
		w.expect = w.expect[1:]
	}
	return nil
}

// checkRow reads one of the worker's keys with get_row and compares it
// with what the worker last wrote there.
func (w *soakWorker) checkRow(ctx context.Context, k string) error {
	raw, err := w.cn.Call(ctx, "get_row", map[string]string{"table": todo.Todos.Name(), "key": k})
	if err != nil {
		return err
	}
	var got struct {
		Found bool      `json:"found"`
		Value todo.Todo `json:"value"`
	}
	if err := json.Unmarshal(raw, &got); err != nil {
		return fmt.Errorf("get_row answered %s: %v", raw, err)
	}
	want, exists := w.model[k]
	if got.Found != exists || (exists && got.Value.Text != want) {
		return fmt.Errorf("get_row %s: found=%v text %q, want found=%v text %q", k, got.Found, got.Value.Text, exists, want)
	}
	return nil
}

// checkList lists the worker's keys and compares them with its model.
func (w *soakWorker) checkList(ctx context.Context) error {
	raw, err := w.cn.Call(ctx, "list_rows", map[string]any{"table": todo.Todos.Name(), "prefix": w.key("k")})
	if err != nil {
		return err
	}
	var got struct {
		Rows []struct {
			Key   string    `json:"key"`
			Value todo.Todo `json:"value"`
		} `json:"rows"`
	}
	if err := json.Unmarshal(raw, &got); err != nil {
		return fmt.Errorf("list_rows answered %s: %v", raw, err)
	}
	if len(got.Rows) != len(w.model) {
		return fmt.Errorf("list_rows %s*: %d rows, want %d", w.key("k"), len(got.Rows), len(w.model))
	}
	for _, r := range got.Rows {
		if want, ok := w.model[r.Key]; !ok || r.Value.Text != want {
			return fmt.Errorf("list_rows: row %s text %q, want %q (present %v)", r.Key, r.Value.Text, want, ok)
		}
	}
	return nil
}
