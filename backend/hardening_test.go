package backend_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mcp-sync/mcp-sync/backend"
	"github.com/mcp-sync/mcp-sync/schema"
	"github.com/mcp-sync/mcp-sync/storage"
	"github.com/mcp-sync/mcp-sync/storage/bolt"
)

// The hardening app: a table with its own row limit, a mutator that writes
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
	hardSch   = schema.MustDefine(1, notes, small, put, startJob, startSec, job, secretJob)
)

// hardApp's job signals started once per attempt in mode "block" and waits
// for the engine to close.
type hardApp struct {
	started chan string
	gate    chan struct{} // mode "gate" waits for it
}

func (a *hardApp) config() backend.Config {
	return backend.Config{
		Schema: hardSch,
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

func (a *hardApp) job(ctx *backend.ActionCtx, in JobIn) (Note, error) {
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

func openHard(t *testing.T, path string, opts ...func(*backend.Options)) (*backend.Engine, *hardApp, *logBuf) {
	t.Helper()
	app := &hardApp{started: make(chan string, 16), gate: make(chan struct{})}
	logs := &logBuf{}
	opts = append([]func(*backend.Options){func(o *backend.Options) {
		o.Logger = slog.New(slog.NewTextHandler(logs, nil))
	}}, opts...)
	return open(t, app.config(), path, opts...), app, logs
}

func TestRowAndInputLimits(t *testing.T) {
	e, _, _ := openHard(t, filepath.Join(t.TempDir(), "h.db"), func(o *backend.Options) {
		o.MaxRowBytes = 2000
		o.MaxInputBytes = 8000
	})
	if _, err := e.Mutate(t.Context(), "put", mustJSON(PutIn{Table: "notes", Key: "keep", Text: "kept"})); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		in   PutIn
		want []string
	}{
		{"over the engine's row limit", PutIn{Table: "notes", Key: "big", Text: strings.Repeat("x", 3000)},
			[]string{"table notes", `"big"`, "over the table's 2000-byte row limit", "--max-row-bytes"}},
		{"over the table's own limit", PutIn{Table: "small", Key: "s", Text: strings.Repeat("x", 200)},
			[]string{"table small", "100-byte row limit"}},
		{"over the input limit", PutIn{Table: "notes", Key: "huge", Text: strings.Repeat("x", 9000)},
			[]string{"mutator put", "over the 8000-byte input limit", "--max-input-bytes"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			v0 := e.Version()
			_, err := e.Mutate(t.Context(), "put", mustJSON(tc.in))
			if backend.KindOf(err) != backend.ErrInvalidInput {
				t.Fatalf("err = %v (kind %v), want invalid input", err, backend.KindOf(err))
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
			if e.Version() != v0 {
				t.Error("a refused write moved the version")
			}
			if _, ok, _, _ := e.Get(t.Context(), "notes", "keep"); !ok {
				t.Error("a refused write lost a stored row")
			}
		})
	}
	if _, err := e.Mutate(t.Context(), "put", mustJSON(PutIn{Table: "notes", Key: "ok", Text: strings.Repeat("x", 1500)})); err != nil {
		t.Errorf("a row under the limit was refused: %v", err)
	}
	if _, err := e.Act(t.Context(), "job", mustJSON(JobIn{ID: strings.Repeat("x", 9000)})); backend.KindOf(err) != backend.ErrInvalidInput ||
		!strings.Contains(err.Error(), "action job") {
		t.Errorf("an oversize action input: %v", err)
	}
	v0 := e.Version()
	_, err := e.Mutate(t.Context(), "startSecret", mustJSON(JobIn{ID: "i", Mode: "inflate", Secret: strings.Repeat("s", 1000)}))
	if backend.KindOf(err) != backend.ErrInvalidInput || !strings.Contains(err.Error(), "enqueue secretJob") || e.Version() != v0 {
		t.Errorf("enqueueing an input over the input limit: %v", err)
	}
}

func TestKeysAreBoundedText(t *testing.T) {
	e, _, _ := openHard(t, filepath.Join(t.TempDir(), "h.db"))
	long := strings.Repeat("k", 2000)
	for _, tc := range []struct{ name, input, want string }{
		{"empty key", `{"table":"notes","key":"","text":"x"}`, "the key is empty"},
		{"long key", `{"table":"notes","key":"` + long + `","text":"x"}`, "over the 1024-byte key limit"},
		{"long key, delete", `{"table":"notes","key":"` + long + `","text":"","del":true}`, "over the 1024-byte key limit"},
		{"invalid UTF-8 bytes", "{\"table\":\"notes\",\"key\":\"a\xffb\",\"text\":\"x\"}", "not valid UTF-8"},
		{"lone high surrogate", `{"table":"notes","key":"a\ud800b","text":"x"}`, `lone UTF-16 surrogate escape (\ud800)`},
		{"lone low surrogate", `{"table":"notes","key":"a\udc00","text":"x"}`, "lone UTF-16 surrogate"},
		{"high surrogate then a plain escape", `{"table":"notes","key":"a\ud800\n","text":"x"}`, "lone UTF-16 surrogate"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v0 := e.Version()
			_, err := e.Mutate(t.Context(), "put", json.RawMessage(tc.input))
			if backend.KindOf(err) != backend.ErrInvalidInput || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v (kind %v), want invalid input saying %q", err, backend.KindOf(err), tc.want)
			}
			if len(err.Error()) > 400 {
				t.Errorf("the error echoes the input: %d bytes", len(err.Error()))
			}
			if e.Version() != v0 {
				t.Error("version moved")
			}
		})
	}
	// A surrogate pair is one valid character, and \\ud800 is not an escape.
	if _, err := e.Mutate(t.Context(), "put", json.RawMessage(`{"table":"notes","key":"\ud83d\ude00 \\ud800","text":"x"}`)); err != nil {
		t.Errorf("a valid surrogate pair was refused: %v", err)
	}
	if _, _, _, err := e.Get(t.Context(), "notes", "a\xffb"); backend.KindOf(err) != backend.ErrInvalidInput {
		t.Errorf("Get of an invalid UTF-8 key: %v", err)
	}
	if _, _, _, err := e.Get(t.Context(), "notes", long); backend.KindOf(err) != backend.ErrInvalidInput || strings.Contains(err.Error(), long[:100]) {
		t.Errorf("Get of a long key: %v", err)
	}
	if _, _, _, err := e.Scan(t.Context(), "notes", backend.ScanOptions{Prefix: "\xfe"}); backend.KindOf(err) != backend.ErrInvalidInput {
		t.Errorf("Scan with an invalid UTF-8 prefix: %v", err)
	}
	if _, _, _, err := e.Scan(t.Context(), "notes", backend.ScanOptions{After: long}); backend.KindOf(err) != backend.ErrInvalidInput {
		t.Errorf("Scan with a long cursor: %v", err)
	}
	if _, err := e.Subscribe(t.Context(), backend.Filter{Table: "notes", Key: "a\xffb"}, 0); backend.KindOf(err) != backend.ErrInvalidInput {
		t.Errorf("Subscribe to an invalid UTF-8 key: %v", err)
	}
	for what, err := range map[string]error{
		"Mutate":           func() error { _, err := e.Mutate(t.Context(), long, nil); return err }(),
		"Act":              func() error { _, err := e.Act(t.Context(), long, nil); return err }(),
		"Get":              func() error { _, _, _, err := e.Get(t.Context(), long, "k"); return err }(),
		"Mutate with Once": func() error { _, err := e.Mutate(t.Context(), long, nil, backend.Once("c", 1)); return err }(),
	} {
		if backend.KindOf(err) != backend.ErrUnknown || len(err.Error()) > 200 {
			t.Errorf("%s of a 2000-byte name: %.300v", what, err)
		}
	}
	if _, err := e.Mutate(t.Context(), "put", mustJSON(PutIn{Table: "notes", Key: "k", Text: "x"}), backend.Once(long, 1)); backend.KindOf(err) != backend.ErrInvalidInput {
		t.Errorf("a push with a 2000-byte client id: %v", err)
	}
	if _, err := e.ChangesSince(t.Context(), backend.Filter{Table: "notes", Prefix: long}, 0, 10); backend.KindOf(err) != backend.ErrInvalidInput {
		t.Errorf("ChangesSince with a long prefix: %v", err)
	}
}

func TestPanicsReachCallersAsAReference(t *testing.T) {
	e, _, logs := openHard(t, filepath.Join(t.TempDir(), "h.db"))
	_, err := e.Act(t.Context(), "job", mustJSON(JobIn{ID: "p", Mode: "panic"}))
	if backend.KindOf(err) != backend.ErrInternal {
		t.Fatalf("err = %v (kind %v), want internal", err, backend.KindOf(err))
	}
	if strings.Contains(err.Error(), "sk-12345") || !strings.Contains(err.Error(), "internal error (ref ") {
		t.Errorf("the caller sees %q", err)
	}
	ref := strings.TrimSuffix(strings.SplitN(strings.SplitN(err.Error(), "(ref ", 2)[1], ")", 2)[0], ")")
	if l := logs.String(); !strings.Contains(l, "ref="+ref) || !strings.Contains(l, "sk-12345") || !strings.Contains(l, "level=ERROR") {
		t.Errorf("the log lacks the detail under ref %s:\n%s", ref, l)
	}
}

func TestRunIDsAreUnguessable(t *testing.T) {
	e, _, _ := openHard(t, filepath.Join(t.TempDir(), "h.db"))
	var ids []string
	for i := range 3 {
		m, err := e.Mutate(t.Context(), "startJob", mustJSON(JobIn{ID: fmt.Sprint(i)}))
		runs := m.Runs
		if err != nil || len(runs) != 1 {
			t.Fatal(runs, err)
		}
		ids = append(ids, runs[0])
	}
	for i, id := range ids {
		ver, rnd, ok := strings.Cut(id, "-")
		if !ok || len(ver) != 16 || len(rnd) < 24 { // 24 hex digits: 96 bits
			t.Errorf("run id %q: want <16-digit version>-<at least 24 hex digits>", id)
		}
		if i > 0 && id <= ids[i-1] {
			t.Errorf("run ids do not sort in enqueue order: %v", ids)
		}
	}
}

func TestSensitiveRunsAreRedacted(t *testing.T) {
	e, _, _ := openHard(t, filepath.Join(t.TempDir(), "h.db"))
	m, err := e.Mutate(t.Context(), "startSecret", mustJSON(JobIn{ID: "s", Secret: "sk-live-999"}))
	runs := m.Runs
	if err != nil {
		t.Fatal(err)
	}
	run := waitRun(t, e, runs[0])
	b, _ := json.Marshal(run)
	if run.Status != backend.RunSucceeded || strings.Contains(string(b), "sk-live-999") || !run.Redacted {
		t.Errorf("a sensitive run as clients see it: %s", b)
	}
	// The worker had it: the output shows it used the secret, server-side.
	var raw []byte
	_ = backend.StoreOf(e).View(func(tx *storage.ReadTx) error { raw, _, err = tx.Get(backend.RunsTable, runs[0]); return err })
	if !strings.Contains(string(raw), "sk-live-999") {
		t.Errorf("the stored run lacks the input the worker needs: %s", raw)
	}
	m, _ = e.Mutate(t.Context(), "startJob", mustJSON(JobIn{ID: "n"}))
	runs = m.Runs
	if run := waitRun(t, e, runs[0]); run.Redacted || len(run.Input) == 0 {
		t.Errorf("a plain run was redacted: %+v", run)
	}
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

func TestAFailedRunRunsItsFailureHandler(t *testing.T) {
	e, _, logs := openHard(t, filepath.Join(t.TempDir(), "h.db"))
	m, err := e.Mutate(t.Context(), "startJob", mustJSON(JobIn{ID: "f", Mode: "fail"}))
	runs := m.Runs
	if err != nil {
		t.Fatal(err)
	}
	run := waitRun(t, e, runs[0])
	if n := noteOf(t, e, "f"); run.Status != backend.RunFailed || n.Status != "error" || !strings.Contains(n.Text, "the upstream said no") {
		t.Errorf("run %+v left note %+v, want status error with the message", run, n)
	}
	waitFailureLogged(t, logs, 1)
}

// TestARunInterruptedTooOftenFails stops the engine during each of the three
// allowed attempts; the fourth Open marks the run failed, runs the failure
// handler and logs it.
func TestARunInterruptedTooOftenFails(t *testing.T) {
	path := filepath.Join(t.TempDir(), "h.db")
	var id string
	for i := range 3 {
		e, app, _ := openHard(t, path)
		if i == 0 {
			m, err := e.Mutate(t.Context(), "startJob", mustJSON(JobIn{ID: "i", Mode: "block"}))
			runs := m.Runs
			if err != nil {
				t.Fatal(err)
			}
			id = runs[0]
		}
		select {
		case <-app.started:
		case <-time.After(30 * time.Second):
			t.Fatalf("open %d: the run did not start", i+1)
		}
		e.Close()
	}
	e, _, logs := openHard(t, path)
	run := waitRun(t, e, id)
	if n := noteOf(t, e, "i"); run.Status != backend.RunFailed || run.Attempts != 3 || n.Status != "error" || !strings.Contains(n.Text, "gave up after 3 attempts") {
		t.Errorf("run %+v left note %+v, want failed after 3 attempts and the note in error", run, n)
	}
	waitFailureLogged(t, logs, 1)
}

// TestARunThatCannotStartIsRetried damages a queued run's record, so that
// starting it fails in storage (as a full disk would fail the start's
// commit), then repairs it: the run must start in the same process, without
// another Open.
func TestARunThatCannotStartIsRetried(t *testing.T) {
	path := filepath.Join(t.TempDir(), "h.db")
	e, app, _ := openHard(t, path)
	m, err := e.Mutate(t.Context(), "startJob", mustJSON(JobIn{ID: "r", Mode: "block"}))
	runs := m.Runs
	if err != nil {
		t.Fatal(err)
	}
	<-app.started // attempt 1 runs; the stop leaves it to the next Open
	e.Close()

	st, err := bolt.OpenStore(path, bolt.Options{SchemaVersion: 1, Tables: []string{backend.RunsTable}})
	if err != nil {
		t.Fatal(err)
	}
	var good []byte
	_, err = st.Update(t.Context(), func(tx *storage.WriteTx) error {
		good, _, err = tx.Get(backend.RunsTable, runs[0])
		if err != nil {
			return err
		}
		good = bytes.Replace(good, []byte(`"mode":"block"`), []byte(`"mode":"ok"`), 1)
		return tx.Put(backend.RunsTable, runs[0], []byte(`{"damaged":`))
	})
	if err != nil {
		t.Fatal(err)
	}
	st.Close()

	e, _, logs := openHard(t, path)
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(logs.String(), "retrying") {
		if time.Now().After(deadline) {
			t.Fatalf("no retry was logged:\n%s", logs)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if _, err := backend.StoreOf(e).Update(t.Context(), func(tx *storage.WriteTx) error {
		return tx.Put(backend.RunsTable, runs[0], good)
	}); err != nil {
		t.Fatal(err)
	}
	run := waitRun(t, e, runs[0])
	if run.Status != backend.RunSucceeded {
		t.Errorf("run = %+v, want it started again in-process and succeeded", run)
	}
}

// TestAStartCommitThatFailsIsRetried: with the only worker busy, a second
// run is dispatched and its record damaged before the worker reaches it, so
// the commit that starts it fails (as on a full disk); once the record is
// repaired the run starts in the same process.
func TestAStartCommitThatFailsIsRetried(t *testing.T) {
	e, app, logs := openHard(t, filepath.Join(t.TempDir(), "h.db"), func(o *backend.Options) { o.Workers = 1 })
	if _, err := e.Mutate(t.Context(), "startJob", mustJSON(JobIn{ID: "first", Mode: "gate"})); err != nil {
		t.Fatal(err)
	}
	<-app.started // the only worker is busy
	m, err := e.Mutate(t.Context(), "startJob", mustJSON(JobIn{ID: "second"}))
	runs := m.Runs
	if err != nil {
		t.Fatal(err)
	}
	var good []byte
	if _, err := backend.StoreOf(e).Update(t.Context(), func(tx *storage.WriteTx) error {
		good, _, err = tx.Get(backend.RunsTable, runs[0])
		if err != nil {
			return err
		}
		return tx.Put(backend.RunsTable, runs[0], []byte(`{"damaged":`))
	}); err != nil {
		t.Fatal(err)
	}
	close(app.gate) // the worker now tries to start the damaged run
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(logs.String(), "could not start; retrying") {
		if time.Now().After(deadline) {
			t.Fatalf("the failed start was not logged:\n%s", logs)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if _, err := backend.StoreOf(e).Update(t.Context(), func(tx *storage.WriteTx) error {
		return tx.Put(backend.RunsTable, runs[0], good)
	}); err != nil {
		t.Fatal(err)
	}
	if run := waitRun(t, e, runs[0]); run.Status != backend.RunSucceeded || run.Attempts != 1 {
		t.Errorf("run = %+v, want it started again in-process and succeeded on attempt 1", run)
	}
}
