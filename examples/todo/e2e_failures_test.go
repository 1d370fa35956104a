package todo_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/mcp-sync/mcp-sync/backend"
	"github.com/mcp-sync/mcp-sync/backend/ai/localai"
	"github.com/mcp-sync/mcp-sync/examples/todo"
)

// TestE2EProviderFailures: each way a provider fails reaches the MCP caller as
// an isError result naming the failure, and leaves the row with status error
// and the text it had before the call: a failed generation loses nothing,
// whether it failed at once or after 5 chunks. Enqueued runs are retried only
// when the failure is retryable.
func TestE2EProviderFailures(t *testing.T) {
	chunks := len([]rune(failText))
	cases := []struct {
		name    string
		opts    localai.Options
		key     string
		want    []string // in the error message
		outcome localai.Outcome
	}{
		{"401", localai.Options{RequireKey: "sk-the-right-key"}, "sk-a-wrong-key",
			[]string{"rejected the API key", "HTTP 401", "check OPENAI_API_KEY"}, localai.OutcomeRejected},
		{"500", localai.Options{FailStatus: 500}, testKey,
			[]string{"failed (HTTP 500", "retry later"}, localai.OutcomeRejected},
		{"cut", localai.Options{CutAfter: 5}, testKey,
			[]string{"was cut off", "after 5 chunks", "the answer is incomplete"}, localai.OutcomeCut},
		{"malformed", localai.Options{MalformedAfter: 5}, testKey,
			[]string{"sent a stream that cannot be decoded", "after 5 chunks", "not valid chat.completion.chunk JSON"}, localai.OutcomeMalformed},
		{"error event", localai.Options{ErrorAfter: 5}, testKey,
			[]string{"reported an error mid-stream", "after 5 chunks", "The server had an error"}, localai.OutcomeError},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tc.opts.Text, tc.opts.Chunks = failText, chunks
			s := startStack(t, tc.opts, tc.key, backend.Options{})
			c := connectMCP(t, s.base, nil)
			mustCall(t, c, "setTodo", map[string]any{"id": "f", "text": "old text", "completed": true, "status": "ready"})

			ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
			defer cancel()
			res, err := callTool(ctx, c, "generateWithAI", map[string]any{"id": "f", "prompt": "plants"})
			if err != nil {
				t.Fatalf("call: %v", err)
			}
			msg := resultText(res)
			if !res.IsError {
				t.Fatalf("result is not an error: %s", msg)
			}
			t.Logf("error: %s", msg)
			for _, w := range tc.want {
				if !strings.Contains(msg, w) {
					t.Errorf("error %q does not say %q", msg, w)
				}
			}
			if !strings.Contains(msg, s.llm.URL()) {
				t.Errorf("error %q does not name the endpoint %s", msg, s.llm.URL())
			}
			if strings.Contains(msg, tc.key) {
				t.Errorf("error %q shows the API key", msg)
			}

			row, err := readRow(ctx, c, "f")
			if err != nil {
				t.Fatal(err)
			}
			if row.Status != todo.StatusError || row.Text != "old text" || !row.Completed {
				t.Errorf("row = %+v, want status error, its old text and completed kept", row)
			}
			if ex, ok := s.llm.Last(); !ok || ex.Outcome != tc.outcome || s.llm.Requests() != 1 {
				t.Errorf("localai saw %d requests, last %+v; want 1 ending %q", s.llm.Requests(), ex, tc.outcome)
			}
		})
	}

	// Enqueued through createAndGenerate: a retryable failure (a cut stream)
	// is attempted MaxAttempts times, a final one (401) once; both runs end
	// failed, the row with status error and the text the attempts received
	// (TestRetriedGenerationKeepsItsOwnText checks that the last one's wins).
	enqueued := []struct {
		name     string
		opts     localai.Options
		key      string
		want     string
		text     string
		attempts int
	}{
		{"enqueued cut retried", localai.Options{CutAfter: 5}, testKey, "was cut off", "Water", 2},
		{"enqueued 401 not retried", localai.Options{RequireKey: "sk-the-right-key"}, "sk-a-wrong-key", "HTTP 401", "", 1},
	}
	for _, tc := range enqueued {
		t.Run(tc.name, func(t *testing.T) {
			tc.opts.Text, tc.opts.Chunks = failText, chunks
			s := startStack(t, tc.opts, tc.key, backend.Options{MaxAttempts: 2, RetryBackoff: 10 * time.Millisecond})
			c := connectMCP(t, s.base, nil)
			runs := runIDs(t, mustCall(t, c, "createAndGenerate", map[string]any{"id": "q", "prompt": "plants"}))
			if len(runs) != 1 {
				t.Fatalf("runs = %v", runs)
			}
			run := waitRun(t, s.eng, runs[0])
			if run.Status != backend.RunFailed || run.Attempts != tc.attempts || !strings.Contains(run.Error, tc.want) {
				t.Errorf("run = %s after %d attempts, error %q; want failed after %d, saying %q",
					run.Status, run.Attempts, run.Error, tc.attempts, tc.want)
			}
			if got := s.llm.Requests(); got != tc.attempts {
				t.Errorf("localai saw %d requests, want %d", got, tc.attempts)
			}
			if row := engineRow(t, s.eng, "q"); row.Status != todo.StatusError || row.Text != tc.text {
				t.Errorf("row = %+v, want status error, text %q", row, tc.text)
			}
		})
	}
}
