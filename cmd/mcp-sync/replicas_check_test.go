//go:build linux || darwin

package main

import (
	"errors"
	"testing"

	"github.com/mcp-sync/mcp-sync/client"
	"github.com/mcp-sync/mcp-sync/examples/todo"
	"github.com/mcp-sync/mcp-sync/wire"
)

// TestReplicaChecksCatchFaults: the checks TestReplicasOverHTTP makes fail
// on a change missed, repeated, reordered or altered, on a subscriber that
// stopped short or resynced, and on a run that succeeded twice, was claimed
// again after a live replica, or whose attempts and claims disagree.
func TestReplicaChecksCatchFaults(t *testing.T) {
	ev := func(v uint64, text string) todoEvent {
		return todoEvent{version: v, changes: []client.Change[todo.Todo]{{Key: "k", Value: todo.Todo{ID: "k", Text: text}}}}
	}
	log := []todoEvent{ev(3, "a"), ev(5, "b"), ev(6, "c"), ev(9, "d")}
	cases := []struct {
		name     string
		start    uint64
		got      []todoEvent
		err      error
		complete bool
		ok       bool
	}{
		{"all of it", 0, log, nil, true, true},
		{"after its snapshot", 5, log[2:], nil, true, true},
		{"a prefix, not complete", 0, log[:2], nil, false, true},
		{"a prefix, complete", 0, log[:2], nil, true, false},
		{"missed", 0, []todoEvent{log[0], log[2], log[3]}, nil, true, false},
		{"repeated", 0, []todoEvent{log[0], log[1], log[1], log[2], log[3]}, nil, true, false},
		{"reordered", 0, []todoEvent{log[0], log[2], log[1], log[3]}, nil, true, false},
		{"altered", 0, []todoEvent{log[0], ev(5, "B"), log[2], log[3]}, nil, true, false},
		{"beyond the log", 0, append(log[:4:4], ev(10, "e")), nil, true, false},
		{"resynced", 0, log, errors.New("a resync"), true, false},
		{"beyond an empty log", 9, []todoEvent{ev(10, "e")}, nil, true, false},
	}
	for _, c := range cases {
		s := &subscriber{start: c.start, events: c.got, err: c.err}
		if err := s.check(log, c.complete); (err == nil) != c.ok {
			t.Errorf("%s: check said %v", c.name, err)
		}
	}

	const mark = "/42/"
	ok := wire.Run{Status: "succeeded", Attempts: 2}
	runs := []struct {
		name   string
		run    wire.Run
		wins   int
		claims []string
		again  int
		ok     bool
	}{
		{"once", wire.Run{Status: "succeeded", Attempts: 1}, 1, []string{"h/7/a"}, 0, true},
		{"taken over from the killed one", ok, 1, []string{"h/42/b", "h/7/a"}, 1, true},
		{"succeeded twice", ok, 2, []string{"h/42/b", "h/7/a"}, 0, false},
		{"failed", wire.Run{Status: "failed", Attempts: 1}, 0, []string{"h/7/a"}, 0, false},
		{"claimed again after a live one", ok, 1, []string{"h/7/a", "h/8/c"}, 0, false},
		{"attempts and claims disagree", ok, 1, []string{"h/7/a"}, 0, false},
	}
	for _, c := range runs {
		problem, again := runProblem(c.run, c.wins, c.claims, mark)
		if (problem == "") != c.ok || again != c.again {
			t.Errorf("%s: problem %q, taken over %d times", c.name, problem, again)
		}
	}
}
