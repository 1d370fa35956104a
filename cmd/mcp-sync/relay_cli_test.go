//go:build linux || darwin

package main

import (
	"context"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/mcp-sync/mcp-sync/client"
	"github.com/mcp-sync/mcp-sync/examples/todo"
)

// TestRelayCLIBesideServe: `watch todos` and `call` in a terminal, without
// --url, beside a host's running serve on the same file: the watch shows
// the host's writes and the call's, and the call is answered by the host's
// serve (the file's owner) through a relay.
func TestRelayCLIBesideServe(t *testing.T) {
	if testing.Short() {
		t.Skip("starts servers")
	}
	data := sharedFile(t, "shared.db")
	h := startHost(t, data, false)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	watch := exec.CommandContext(ctx, interopBinary(t), "watch", "--data", data, "todos")
	watch.Env = quietEnv
	out, errOut := &syncBuffer{}, &syncBuffer{}
	watch.Stdout, watch.Stderr = out, errOut
	if err := watch.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { _ = watch.Wait(); close(exited) }()
	defer func() { cancel(); <-exited }()

	if _, err := client.Mutate(ctx, h.c, todo.SetTodo, todo.Todo{ID: "from-host", Text: "written by the host"}); err != nil {
		t.Fatal(err)
	}
	call := exec.CommandContext(ctx, interopBinary(t), "call", "--data", data, "setTodo", `{"id":"from-cli","text":"written by call","completed":false}`)
	call.Env = quietEnv
	if out, err := call.CombinedOutput(); err != nil {
		t.Fatalf("call beside a running serve: %v\n%s", err, out)
	}
	if !waitUntil(30*time.Second, func() bool {
		return strings.Contains(out.String(), "written by the host") && strings.Contains(out.String(), "written by call")
	}) {
		t.Fatalf("watch todos beside the host's serve printed:\n%s\nstderr:\n%s", out.String(), errOut.String())
	}
	if _, ok, _, err := client.GetRow(ctx, h.c, todo.Todos, "from-cli"); err != nil || !ok {
		t.Errorf("the host does not see the call's write: %v %v", ok, err)
	}
	if !waitUntil(10*time.Second, func() bool { return strings.Contains(h.log.String(), "role=owner") }) {
		t.Errorf("the host's serve is not the owner:\n%s", h.log.String())
	}
}

// TestRelayOwnerExits: the owner's host leaves (its serve exits cleanly);
// the relaying serve takes the file over and its host carries on, its watch
// included. A serve on another file owns that one: two files never meet.
func TestRelayOwnerExits(t *testing.T) {
	if testing.Short() {
		t.Skip("starts servers")
	}
	data := sharedFile(t, "shared.db")
	first, second := startHost(t, data, false), startHost(t, data, true)
	other := startHost(t, sharedFile(t, "other.db"), false)
	if !waitUntil(10*time.Second, func() bool { return strings.Contains(other.log.String(), "role=owner") }) {
		t.Errorf("a serve on another file relays instead of owning it:\n%s", other.log.String())
	}
	w := watchTodos(t, second)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := client.Mutate(ctx, first.c, todo.SetTodo, todo.Todo{ID: "before", Text: "by the owner"}); err != nil {
		t.Fatal(err)
	}
	first.c.Close() // the host quits: its serve's stdin ends
	if _, err := callRetrying(ctx, func() error {
		_, err := client.Mutate(ctx, second.c, todo.SetTodo, todo.Todo{ID: "after", Text: "by the new owner"})
		return err
	}); err != nil {
		t.Fatalf("no service after the owner left: %v\n%s", err, second.log.String())
	}
	if !waitUntil(30*time.Second, func() bool {
		return !w.arrived("before", "by the owner").IsZero() && !w.arrived("after", "by the new owner").IsZero()
	}) {
		st, err := w.state()
		t.Fatalf("the watch through the relay has %v (%v)", st, err)
	}
	if !waitUntil(10*time.Second, func() bool { return strings.Contains(second.log.String(), "took the data file over") }) {
		t.Errorf("the relay did not take over:\n%s", second.log.String())
	}
	if _, ok, _, err := client.GetRow(ctx, other.c, todo.Todos, "before"); err != nil || ok {
		t.Errorf("the other file has the shared file's row: %v %v", ok, err)
	}
}
