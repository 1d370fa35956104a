package client_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mcp-sync/mcp-sync/backend"
	"github.com/mcp-sync/mcp-sync/client"
	"github.com/mcp-sync/mcp-sync/storage/bolt/damage"
	"github.com/mcp-sync/mcp-sync/tools"
	"github.com/mcp-sync/mcp-sync/wire"
)

// TestErrorKindsMapToSentinels: every kind a server reports maps to one of
// the client's sentinels; a kind this client does not know is a handler
// failure.
func TestErrorKindsMapToSentinels(t *testing.T) {
	for kind, want := range map[wire.ErrorKind]error{
		wire.KindInvalidInput:  client.ErrInvalidInput,
		wire.KindHandler:       client.ErrHandler,
		wire.KindInvalidOutput: client.ErrHandler,
		wire.KindUnknown:       client.ErrUnknown,
		wire.KindUnavailable:   client.ErrTransport,
		wire.KindCancelled:     client.ErrTransport,
		wire.KindInternal:      client.ErrHandler,
		wire.KindBusy:          client.ErrHandler,
		wire.KindDamaged:       client.ErrHandler,
		"a_kind_from_later":    client.ErrHandler,
	} {
		if err := error(&client.CallError{Tool: "t", Kind: kind}); !errors.Is(err, want) {
			t.Errorf("kind %s: errors.Is(_, %v) is false", kind, want)
		}
	}
}

// serveEngine serves eng's tools on 127.0.0.1 with opts and dials it.
func serveEngine(t *testing.T, eng *backend.Engine, opts tools.Options) *client.Conn {
	t.Helper()
	opts.Logger = quiet()
	ts, err := tools.New(eng, opts)
	if err != nil {
		t.Fatal(err)
	}
	url, stop := serveTools(t, ts)
	c, err := client.DialHTTP(context.Background(), url, client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(); stop(); ts.Close() })
	return c
}

// wantHandlerKind checks that err is an ErrHandler whose CallError says kind.
func wantHandlerKind(t *testing.T, err error, kind wire.ErrorKind) {
	t.Helper()
	var ce *client.CallError
	if !errors.Is(err, client.ErrHandler) || !errors.As(err, &ce) || ce.Kind != kind {
		t.Errorf("got %v (%#v), want ErrHandler of kind %s", err, ce, kind)
	}
}

// TestServerFailuresAreHandlerErrors: a busy, internal or damaged answer,
// each made by a real server, surfaces as ErrHandler with the kind visible.
func TestServerFailuresAreHandlerErrors(t *testing.T) {
	t.Run("internal", func(t *testing.T) {
		c := dial(t, newServer(t), false)
		_, err := client.Mutate(testCtx(t), c, explode, KeyIn{Key: "k"})
		wantHandlerKind(t, err, wire.KindInternal)
		if err != nil && strings.Contains(err.Error(), "explode was called") {
			t.Errorf("the panic's detail reached the client: %v", err)
		}
	})

	t.Run("busy", func(t *testing.T) {
		eng, err := backend.Open(config(), backend.Options{Path: filepath.Join(t.TempDir(), "busy.db"), Logger: quiet()})
		if err != nil {
			t.Fatal(err)
		}
		defer eng.Close()
		c := serveEngine(t, eng, tools.Options{MaxActionCalls: 1, MaxActionQueue: -1})
		ctx := testCtx(t)
		// One long call holds the only slot until cancelled; its first
		// write says it has the slot (a short call started before that
		// could take the slot from it instead).
		long, cancel := context.WithCancel(ctx)
		var wg sync.WaitGroup
		wg.Go(func() { _, _ = client.Action(long, c, stream, StreamIn{Key: "long", N: 100000, Ms: 5}) })
		defer wg.Wait()
		defer cancel()
		for {
			if _, ok, _, err := eng.Get(ctx, items.Name(), "long"); err != nil {
				t.Fatal(err)
			} else if ok {
				break
			}
			select {
			case <-ctx.Done():
				t.Fatal("the long action call never started")
			case <-time.After(5 * time.Millisecond):
			}
		}
		_, err = client.Action(ctx, c, stream, StreamIn{Key: "short", N: 1})
		wantHandlerKind(t, err, wire.KindBusy)
	})

	t.Run("damaged", func(t *testing.T) {
		const marker = "MARKER-of-the-damaged-row"
		path := filepath.Join(t.TempDir(), "damaged.db")
		eng, err := backend.Open(config(), backend.Options{Path: path, Logger: quiet()})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := eng.Mutate(context.Background(), put.Name(), []byte(`{"key":"victim","name":"`+marker+`"}`)); err != nil {
			t.Fatal(err)
		}
		if err := eng.Close(); err != nil {
			t.Fatal(err)
		}
		applied := false
		for _, v := range damage.Variants([]byte(marker)) {
			if v.RowDamage {
				if err := v.Apply(path); err != nil {
					t.Fatal(err)
				}
				applied = true
				break
			}
		}
		if !applied {
			t.Fatal("storage/bolt/damage has no row-damage variant")
		}
		eng, err = backend.Open(config(), backend.Options{Path: path, Logger: quiet(), AllowDamagedRows: true})
		if err != nil {
			t.Fatal(err)
		}
		defer eng.Close()
		c := serveEngine(t, eng, tools.Options{})
		_, err = c.Call(testCtx(t), wire.ToolGetRow, wire.GetRowIn{Table: items.Name(), Key: "victim"})
		wantHandlerKind(t, err, wire.KindDamaged)
	})
}
