package todo_test

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/mcp-sync/mcp-sync/backend"
	"github.com/mcp-sync/mcp-sync/backend/ai/localai"
	"github.com/mcp-sync/mcp-sync/examples/todo"
)

// TestE2ECancelStopsStream: a client that cancels its generateWithAI call,
// or closes its session mid-call, makes the server hang up on the provider at
// once; the row keeps the text so far with status error and stops growing.
func TestE2ECancelStopsStream(t *testing.T) {
	t.Run("cancel", func(t *testing.T) { testStopMidStream(t, false) })
	t.Run("close session", func(t *testing.T) { testStopMidStream(t, true) })
}

func testStopMidStream(t *testing.T, closeSession bool) {
	const n = 200
	runes := runeText("Plan the trip: tickets, hotel, visas. ", n)
	full := string(runes)
	s := startStack(t, localai.Options{Chunks: n, Text: full, Delay: 50 * time.Millisecond}, testKey, backend.Options{})
	c := connectMCP(t, s.base, nil)
	mustCall(t, c, "setTodo", map[string]any{"id": "c", "text": "", "completed": true})

	ctx, cancel := context.WithTimeout(context.Background(), 2*testWait)
	defer cancel()
	var stoppedAt atomic.Int64
	type result struct {
		res *mcp.CallToolResult
		err error
	}
	called := make(chan result, 1)
	go func() {
		res, err := callTool(ctx, c, "generateWithAI", map[string]any{"id": "c", "prompt": "trip"})
		called <- result{res, err}
	}()
	// Stopped once text has streamed (a chunk every 50 ms, 10 s in all),
	// however long a loaded machine takes to get there.
	if !poll(testWait, func() bool { return engineRow(t, s.eng, "c").Text != "" }) {
		t.Fatalf("no text streamed into the row within %v of the call", testWait)
	}
	stoppedAt.Store(time.Now().UnixNano())
	if closeSession {
		c.Close()
	} else {
		cancel()
	}
	if !closeSession {
		r := <-called
		if stoppedAt.Load() == 0 {
			t.Fatalf("the call ended before the cancel: %+v, %v", r.res, r.err)
		}
		if r.err == nil {
			t.Fatalf("a cancelled call returned a result: %+v", r.res)
		}
	}

	wctx, wcancel := context.WithTimeout(context.Background(), testWait)
	defer wcancel()
	exs, err := s.llm.WaitEnded(wctx, 1)
	if err != nil {
		t.Fatalf("the localai response did not end within %v of the client stopping: %v", testWait, err)
	}
	if stoppedAt.Load() == 0 {
		t.Fatalf("the localai response ended before the client stopped: %+v", exs)
	}
	hungUp := time.Since(time.Unix(0, stoppedAt.Load()))
	ex := exs[len(exs)-1]
	if ex.Outcome != localai.OutcomeGone {
		t.Fatalf("localai exchange ended %q after %d chunks, want %q", ex.Outcome, ex.Chunks, localai.OutcomeGone)
	}
	// The stream had seconds left to run: a hang-up that waited for it
	// would show as its end (OutcomeCompleted, above) or take longer.
	if hungUp > 5*time.Second {
		t.Errorf("the server hung up on localai %v after the client stopped, want within 5 s (a loaded machine is slow)", hungUp)
	}
	if ex.Chunks >= n {
		t.Fatalf("localai sent all %d chunks", ex.Chunks)
	}

	var row todo.Todo
	if !poll(testWait, func() bool {
		row = engineRow(t, s.eng, "c")
		return row.Status != todo.StatusGenerating
	}) {
		t.Fatalf("row still generating %v after the client stopped: %+v", testWait, row)
	}
	if row.Status != todo.StatusError || row.Text == "" || !strings.HasPrefix(full, row.Text) || !row.Completed {
		t.Fatalf("row = %+v, want status error with a non-empty prefix of the answer, completed kept", row)
	}
	if got := len([]rune(row.Text)); got > ex.Chunks {
		t.Errorf("row holds %d chunks, localai sent only %d", got, ex.Chunks)
	}
	time.Sleep(300 * time.Millisecond) // 6 chunk delays
	if after := engineRow(t, s.eng, "c"); after != row {
		t.Errorf("row changed after the client stopped: %+v, then %+v", row, after)
	}
	if s.llm.Requests() != 1 {
		t.Errorf("localai saw %d requests, want 1", s.llm.Requests())
	}
	t.Logf("stopped after %d of %d chunks (row has %d); hung up %v after the client stopped",
		ex.Chunks, n, len([]rune(row.Text)), hungUp.Round(time.Millisecond))
}
