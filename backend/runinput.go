package backend

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"
	"unicode/utf8"

	"github.com/mcp-sync/mcp-sync/storage"
)

// clientCaps are the capabilities ctx's asker says the client declared, for
// a task run to remember.
func clientCaps(ctx context.Context) []string {
	a := askerFrom(ctx)
	if a == nil {
		return nil
	}
	var caps []string
	for _, c := range []string{CapElicitation, CapSampling, CapRoots} {
		if a.Can(c) {
			caps = append(caps, c)
		}
	}
	return caps
}

// runAsker answers a task run's input requests: it records the unanswered
// ones in the run (a task's status is then input_required, its requests
// shown by tasks/get) and waits until [Engine.AnswerRun] has recorded an
// answer to each.
type runAsker struct {
	e    *Engine
	id   string
	caps []string
}

func (a *runAsker) Can(capability string) bool { return slices.Contains(a.caps, capability) }

func (a *runAsker) Ask(ctx context.Context, reqs map[string]InputRequest) (map[string]json.RawMessage, error) {
	for _, r := range reqs {
		if c := CapabilityOf(r.Method); !a.Can(c) {
			return nil, &MissingCapabilityError{Capability: c}
		}
	}
	ch, _ := a.e.inputWake.LoadOrStore(a.id, make(chan struct{}, 1))
	wake := ch.(chan struct{})
	for {
		var out map[string]json.RawMessage
		_, err := a.e.update(ctx, func(tx *storage.WriteTx) error {
			r, ok, err := getRun(tx, a.id)
			if err != nil || !ok {
				return err
			}
			out = map[string]json.RawMessage{}
			pending := map[string]InputRequest{}
			for k, q := range reqs {
				if v, ok := r.InputResponses[k]; ok {
					out[k] = v
				} else {
					pending[k] = q
				}
			}
			if maps.EqualFunc(pending, r.InputRequests, func(x, y InputRequest) bool {
				return x.Method == y.Method && string(x.Params) == string(y.Params)
			}) {
				return nil
			}
			r.InputRequests = pending
			return putRun(tx, r)
		})
		if err != nil {
			if errors.Is(err, storage.ErrClosed) {
				return nil, fmt.Errorf("action run %s: %w", Short(a.id), ErrClosed)
			}
			return nil, a.e.storageFailure("run "+Short(a.id)+": record input requests", err)
		}
		if len(out) == len(reqs) {
			return out, nil
		}
		// AnswerRun wakes this process's waiters; on a shared store the
		// answers may come through another replica, so look again now and
		// then.
		var poll <-chan time.Time
		if a.e.shared {
			poll = time.After(time.Second)
		}
		select {
		case <-wake:
		case <-poll:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// AnswerRun records a client's answers to the run id's pending input
// requests (tasks/update) and wakes the run; answers to keys not pending,
// and answers that are not JSON objects, are ignored. It reports whether
// the run exists for ctx's caller (see [Engine.Run]).
func (e *Engine) AnswerRun(ctx context.Context, id string, answers map[string]json.RawMessage) (bool, error) {
	if id == "" || len(id) > MaxKeyBytes || !utf8.ValidString(id) {
		return false, nil
	}
	found := false
	_, err := e.update(ctx, func(tx *storage.WriteTx) error {
		r, ok, err := getRun(tx, id)
		if err != nil || !ok || !e.runVisible(ctx, r) {
			found = false
			return err
		}
		found = true
		changed := false
		for k, v := range answers {
			var obj map[string]json.RawMessage
			if _, pending := r.InputRequests[k]; !pending || json.Unmarshal(v, &obj) != nil || obj == nil {
				continue
			}
			delete(r.InputRequests, k)
			if r.InputResponses == nil {
				r.InputResponses = map[string]json.RawMessage{}
			}
			r.InputResponses[k], changed = v, true
		}
		if !changed || r.Done() {
			return nil
		}
		return putRun(tx, r)
	})
	if err != nil {
		if errors.Is(err, storage.ErrClosed) {
			return false, fmt.Errorf("run %s: %w", Short(id), ErrClosed)
		}
		return false, e.storageFailure("run "+Short(id)+": record input responses", err)
	}
	if ch, ok := e.inputWake.Load(id); ok {
		select {
		case ch.(chan struct{}) <- struct{}{}:
		default:
		}
	}
	return found, nil
}
