package backend_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"github.com/mcp-sync/mcp-sync/backend"
	"github.com/mcp-sync/mcp-sync/schema"
)

// The job app: a table with its own row limit, a mutator that writes
// any key of any table, and actions whose failures run a failure handler.
type Note struct {
	ID     string `json:"id"`
	Text   string `json:"text"`
	Status string `json:"status,omitempty"`
}

type PutIn struct {
	Table string `json:"table"`
	Key   string `json:"key"`
	Text  string `json:"text"`
	Del   bool   `json:"del,omitempty"`
}

type JobIn struct {
	ID     string `json:"id"`
	Mode   string `json:"mode"`
	Secret string `json:"secret,omitempty"`
}

var (
	notes     = schema.Table[Note]("notes")
	small     = schema.Table[Note]("small", schema.MaxRowBytes(100))
	put       = schema.Mutator[PutIn]("put", "Write or delete a row of any table")
	startJob  = schema.Mutator[JobIn]("startJob", "Mark a note working and enqueue job")
	startSec  = schema.Mutator[JobIn]("startSecret", "Enqueue secretJob")
	job       = schema.Action[JobIn, Note]("job", "A job that fails, blocks or panics as asked")
	secretJob = schema.Action[JobIn, Note]("secretJob", "A job whose input holds a secret", schema.Sensitive())
	jobSch    = schema.MustDefine(1, notes, small, put, startJob, startSec, job, secretJob)
)

// jobApp's job signals started once per attempt in mode "block" and waits
// for the engine to close.
type jobApp struct {
	started chan string
	gate    chan struct{} // mode "gate" waits for it
}

func (a *jobApp) config() backend.Config {
	return backend.Config{
		Schema: jobSch,
		Mutators: []backend.MutatorImpl{
			backend.Mutator(put, func(ctx *backend.MutatorCtx, in PutIn) error {
				if in.Del {
					return ctx.Table(in.Table).Delete(in.Key)
				}
				return ctx.Table(in.Table).Set(in.Key, Note{ID: in.Key, Text: in.Text})
			}),
			backend.Mutator(startJob, func(ctx *backend.MutatorCtx, in JobIn) error {
				if err := backend.TableOf(ctx, notes).Set(in.ID, Note{ID: in.ID, Status: "working"}); err != nil {
					return err
				}
				_, err := ctx.EnqueueAction("job", in)
				return err
			}),
			backend.Mutator(startSec, func(ctx *backend.MutatorCtx, in JobIn) error {
				if in.Mode == "inflate" { // an enqueued input larger than the call's
					in.Secret = strings.Repeat(in.Secret, 10)
				}
				_, err := ctx.EnqueueAction("secretJob", in)
				return err
			}),
		},
		Actions: []backend.ActionImpl{
			backend.Action(job, a.job, backend.OnFailure(func(ctx *backend.MutatorCtx, in JobIn, f backend.RunFailure) error {
				return backend.TableOf(ctx, notes).Set(in.ID, Note{ID: in.ID, Status: "error", Text: f.Error})
			})),
			backend.Action(secretJob, func(ctx *backend.ActionCtx, in JobIn) (Note, error) {
				return Note{ID: in.ID, Text: "used " + in.Secret}, nil
			}),
		},
	}
}

func (a *jobApp) job(ctx *backend.ActionCtx, in JobIn) (Note, error) {
	switch in.Mode {
	case "fail":
		return Note{}, errors.New("the upstream said no")
	case "block":
		a.started <- in.ID
		<-ctx.Done()
		return Note{}, ctx.Err()
	case "panic":
		panic("secret-in-panic sk-12345")
	case "gate":
		a.started <- in.ID
		<-a.gate
	}
	return Note{ID: in.ID, Text: "done"}, nil
}

// logBuf is a concurrency-safe log sink for asserting on log lines.
type logBuf struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logBuf) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

func openJobApp(t *testing.T, path string, opts ...func(*backend.Options)) (*backend.Engine, *jobApp, *logBuf) {
	t.Helper()
	app := &jobApp{started: make(chan string, 16), gate: make(chan struct{})}
	logs := &logBuf{}
	opts = append([]func(*backend.Options){func(o *backend.Options) {
		o.Logger = slog.New(slog.NewTextHandler(logs, nil))
	}}, opts...)
	return open(t, app.config(), path, opts...), app, logs
}

func noteOf(t *testing.T, e *backend.Engine, id string) Note {
	t.Helper()
	raw, _, _, err := e.Get(t.Context(), "notes", id)
	if err != nil {
		t.Fatal(err)
	}
	var n Note
	_ = json.Unmarshal(raw, &n)
	return n
}
