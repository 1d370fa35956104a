package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"

	"github.com/mcp-sync/mcp-sync/client"
	"github.com/mcp-sync/mcp-sync/examples/todo"
	"github.com/mcp-sync/mcp-sync/tools"
	"github.com/mcp-sync/mcp-sync/wire"
)

// soakWorker is one client session's loop.
type soakWorker struct {
	id        int
	base      string
	transport string // "modern", "legacy" or "sse"
	st        *soakStats
	deadline  time.Time
	rng       *rand.Rand
	n         int

	cn      *client.Conn
	subURI  string
	updates <-chan struct{}
	stopSub func()
	// Two of every three workers follow their row with a client.Watch
	// (changes carried in notifications) instead of a bare subscription
	// and resource reads: each write must come out of the watch, in order,
	// once.
	watching  bool
	events    <-chan client.Event[todo.Todo]
	stopWatch func()
	expect    []soakWrite       // writes to the row, not yet out of the watch
	maybe     []string          // texts whose write failed: committed or not
	model     map[string]string // key → text this worker last wrote (its own keys); absent: deleted
	runs      []string
}

// pickTransport mixes the eras: every 8th worker (from the 4th) over SSE,
// the rest alternating modern and legacy streamable HTTP.
func (w *soakWorker) pickTransport() string {
	switch {
	case w.id%8 == 3:
		return "sse"
	case w.id%2 == 0:
		return "modern"
	}
	return "legacy"
}

func (w *soakWorker) connect(ctx context.Context) error {
	url, o := w.base+tools.PathStreamable, client.Options{Legacy: w.transport == "legacy"}
	if w.transport == "sse" {
		url = w.base + tools.PathSSE
	}
	t0 := time.Now()
	dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	cn, err := client.DialHTTP(dctx, url, o)
	if err != nil {
		w.st.fail("connect", time.Since(t0), err)
		return err
	}
	w.st.ok("connect", time.Since(t0))
	w.cn = cn
	// Subscribe to the worker's watched row and wait until an update
	// arrives, so later checks measure delivery, not stream set-up.
	w.subURI = wire.RowURI(todo.Todos.Name(), w.key("sub"))
	t0 = time.Now()
	sctx, cancel2 := context.WithTimeout(ctx, 10*time.Second)
	defer cancel2()
	if w.watching {
		if err := w.startWatch(ctx, sctx); err != nil {
			w.st.fail("subscribe", time.Since(t0), err)
			return err
		}
	} else {
		updates, stopSub, err := cn.Subscribe(sctx, w.subURI)
		if err != nil {
			w.st.fail("subscribe", time.Since(t0), err)
			return err
		}
		w.updates, w.stopSub = updates, stopSub
	}
	for attempt := 0; ; attempt++ {
		ok, err := w.writeAndAwait(sctx, 300*time.Millisecond)
		if err != nil {
			w.st.fail("subscribe", time.Since(t0), err)
			return err
		}
		if ok {
			break
		}
		if attempt == 20 {
			err := fmt.Errorf("no update on %s within 6 s of subscribing (%s)", w.subURI, w.transport)
			w.st.fail("subscribe", time.Since(t0), err)
			return err
		}
	}
	w.st.ok("subscribe", time.Since(t0))
	return nil
}

// startWatch follows the worker's row with a client.Watch from a snapshot;
// its events arrive on w.events until the watch stops.
func (w *soakWorker) startWatch(ctx, sctx context.Context) error {
	wt, err := client.Watch(sctx, w.cn, todo.Todos, client.Selector{Key: w.key("sub")}, 0)
	if err != nil {
		return err
	}
	if ev, err := wt.Next(sctx); err != nil || !ev.Resync {
		wt.Close()
		return fmt.Errorf("watch of %s: first event %+v, %v; want the snapshot", w.subURI, ev, err)
	}
	wctx, cancel := context.WithCancel(ctx)
	events := make(chan client.Event[todo.Todo], 64)
	go func() {
		defer close(events)
		for {
			ev, err := wt.Next(wctx)
			if err != nil {
				return
			}
			select {
			case events <- ev:
			case <-wctx.Done():
				return
			}
		}
	}()
	w.events, w.expect, w.maybe = events, nil, nil
	w.stopWatch = func() { cancel(); wt.Close() }
	return nil
}

func (w *soakWorker) disconnect() {
	if w.cn == nil {
		return
	}
	if w.stopSub != nil {
		w.stopSub()
	}
	if w.stopWatch != nil {
		// What the watch delivered since the last check must hold too (a
		// change repeated after it, say).
		for drained := false; !drained; {
			select {
			case ev, open := <-w.events:
				if !open {
					drained = true
				} else if err := w.checkEvent(ev); err != nil {
					w.st.fail("subscription_update", 0, err)
					drained = true
				}
			default:
				drained = true
			}
		}
		w.stopWatch()
	}
	_ = w.cn.Close()
	w.cn, w.updates, w.stopSub, w.events, w.stopWatch, w.expect, w.maybe = nil, nil, nil, nil, nil, nil, nil
}

func (w *soakWorker) key(s string) string { return fmt.Sprintf("soak-w%02d-%s", w.id, s) }

func (w *soakWorker) run(ctx context.Context) {
	defer w.disconnect()
	// Each worker reconnects every 3–5 s, staggered so that some client is
	// always in the middle of one.
	every := 3*time.Second + time.Duration(w.id%5)*500*time.Millisecond
	next := time.Now().Add(time.Duration(w.id) * 250 * time.Millisecond % every)
	for time.Now().Before(w.deadline) && ctx.Err() == nil {
		if w.cn == nil || time.Now().After(next) {
			if w.cn != nil {
				w.disconnect()
				w.st.mu.Lock()
				w.st.reconnect++
				w.st.mu.Unlock()
			}
			next = time.Now().Add(every)
			if err := w.connect(ctx); err != nil {
				w.disconnect()
				time.Sleep(200 * time.Millisecond)
			}
			continue
		}
		w.step(ctx)
	}
}

// step runs one randomly chosen operation.
func (w *soakWorker) step(ctx context.Context) {
	w.n++
	cctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	k := w.key("k" + strconv.Itoa(w.rng.IntN(8)))
	p := w.rng.IntN(1000)
	switch {
	case p < 250:
		text := fmt.Sprintf("todo %d of worker %d", w.n, w.id)
		w.timed("setTodo", func() error {
			_, err := client.Mutate(cctx, w.cn, todo.SetTodo, todo.Todo{ID: k, Text: text, Status: todo.StatusReady})
			if err == nil {
				w.model[k] = text
			}
			return err
		})
	case p < 350:
		w.timed("deleteTodo", func() error {
			_, err := client.Mutate(cctx, w.cn, todo.DeleteTodo, todo.DeleteInput{ID: k})
			if err == nil {
				delete(w.model, k)
			}
			return err
		})
	case p < 550:
		w.timed("get_row", func() error { return w.checkRow(cctx, k) })
	case p < 650:
		w.timed("list_rows", func() error { return w.checkList(cctx) })
	case p < 720:
		w.timed("read_resource", func() error {
			text, err := w.cn.ReadResource(cctx, wire.RowURI(todo.Todos.Name(), k))
			want, exists := w.model[k]
			switch {
			case err != nil && !exists && errors.Is(err, client.ErrUnknown):
				return nil // a deleted row reads as unknown
			case err != nil:
				return err
			case !exists:
				return fmt.Errorf("resource %s read %s, but the row was deleted", k, text)
			}
			var got todo.Todo
			if err := json.Unmarshal([]byte(text), &got); err != nil || got.Text != want {
				return fmt.Errorf("resource %s read %s, want text %q (err %v)", k, text, want, err)
			}
			return nil
		})
	case p < 820:
		w.timed("subscription_update", func() error {
			ok, err := w.writeAndAwait(cctx, 3*time.Second)
			if err == nil && !ok {
				err = fmt.Errorf("no update on %s (%s) within 3 s of a committed write", w.subURI, w.transport)
			}
			return err
		})
	case p < 860:
		gk := w.key("g" + strconv.Itoa(w.n))
		w.timed("generateWithAI", func() error {
			out, err := client.Action(cctx, w.cn, todo.Generate, todo.GenerateInput{ID: gk, Prompt: "soak " + gk},
				client.WithProgress(func(float64, float64, string) { w.st.progress.Add(1) }))
			if err == nil && out.Text == "" {
				err = errors.New("generateWithAI answered an empty text")
			}
			return err
		})
	case p < 890:
		ck := w.key("c" + strconv.Itoa(w.n))
		w.timed("createAndGenerate", func() error {
			res, err := client.Mutate(cctx, w.cn, todo.CreateAndGenerate, todo.GenerateInput{ID: ck, Prompt: "soak " + ck})
			if err == nil {
				if len(res.Runs) == 0 {
					return errors.New("createAndGenerate enqueued no run")
				}
				w.runs = append(w.runs, res.Runs...)
			}
			return err
		})
	case p < 950:
		if len(w.runs) == 0 {
			return
		}
		id := w.runs[w.rng.IntN(len(w.runs))]
		w.timed("get_run", func() error {
			raw, err := w.cn.Call(cctx, "get_run", map[string]string{"id": id})
			if err == nil && !strings.Contains(string(raw), id) {
				err = fmt.Errorf("get_run %s answered %s", id, raw)
			}
			return err
		})
	default:
		w.badInput(cctx)
	}
}

func (w *soakWorker) timed(kind string, f func() error) {
	t0 := time.Now()
	err := f()
	if err != nil {
		w.st.fail(kind, time.Since(t0), err)
		return
	}
	w.st.ok(kind, time.Since(t0))
}
