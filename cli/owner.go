package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"sync"
	"time"

	"github.com/mcp-sync/mcp-sync/backend"
	"github.com/mcp-sync/mcp-sync/internal/relay"
	"github.com/mcp-sync/mcp-sync/storage"
	"github.com/mcp-sync/mcp-sync/tools"
)

// owner is the process's hold on the data file: the engine, its MCP
// server, and the socket other processes on the same file reach it by.
type owner struct {
	srv   *tools.Server
	ln    net.Listener
	conns sync.WaitGroup
	// accepting is closed when the accept loop has returned: conns is
	// added to only before that.
	accepting chan struct{}
	stop      context.CancelFunc
	close     func() // closes the engine and what the app started
}

// ownerSpec is what it takes to open the data file as its owner.
type ownerSpec struct {
	app     App
	env     *Environ
	delay   time.Duration
	backend func(*tools.Options) backend.Options // the engine's options, limits applied to the server's
	logger  *slog.Logger
	stderr  *SyncWriter
	sock    string
}

// open opens the data file, waiting lockWait at most for another process's
// lock (the error then wraps storage.ErrLocked), and listens on the socket.
// The app's banner goes to stderr once the file is ours.
func (o ownerSpec) open(lockWait time.Duration) (*owner, error) {
	banner := &bytes.Buffer{}
	cfg, opts, closeApp, err := o.app.Open(&Environ{Stdout: banner, Stderr: banner, Getenv: o.env.Getenv}, o.delay)
	if err != nil {
		return nil, err
	}
	opts.Logger = o.logger
	bopts := o.backend(&opts)
	bopts.LockTimeout = lockWait
	eng, err := backend.Open(cfg, bopts)
	if err != nil {
		closeApp()
		return nil, err
	}
	srv, err := tools.New(eng, opts)
	if err != nil {
		eng.Close()
		closeApp()
		return nil, err
	}
	ctx, stop := context.WithCancel(context.Background())
	ow := &owner{srv: srv, stop: stop, accepting: make(chan struct{}),
		close: func() { srv.Close(); eng.Close(); closeApp() }}
	if o.sock == "" { // a store with no file to share (PostgreSQL)
		close(ow.accepting)
		_, _ = o.stderr.Write(banner.Bytes())
		return ow, nil
	}
	ln, err := relay.Listen(o.sock)
	if err != nil {
		stop()
		ow.close()
		return nil, fmt.Errorf("listening for other processes on the data file: %w", err)
	}
	ow.ln = ln
	_, _ = o.stderr.Write(banner.Bytes())
	go ow.accept(ctx, o.logger)
	return ow, nil
}

// accept serves each process that connects as one more MCP session.
func (ow *owner) accept(ctx context.Context, log *slog.Logger) {
	defer close(ow.accepting)
	for {
		c, err := ow.ln.Accept()
		if err != nil {
			return // closed by shut
		}
		ow.conns.Go(func() {
			// The peer is a process of this user (the socket checks its
			// uid): its handlers see the local user, as stdio's do.
			if err := ow.srv.ServeConn(tools.WithLocalIdentity(ctx), c); err != nil {
				log.Warn("a relayed session ended", "error", err)
			}
		})
	}
}

// shut stops listening first, so that no process takes the file over
// while this one still holds it, then ends the relayed sessions and
// closes the file.
func (ow *owner) shut() {
	if ow.ln != nil {
		ow.ln.Close() // removes the socket file
	}
	<-ow.accepting
	ow.stop()
	ow.conns.Wait()
	ow.close()
}

// ownerOrRelay finds the data file's owner, or becomes it: it returns
// either an owner (this process holds the file) or nil when a live owner
// answers on the socket. A file busy but with no answer on its socket yet
// (an owner starting up) is tried again, for up to patience.
func (o ownerSpec) ownerOrRelay(ctx context.Context, patience time.Duration) (*owner, error) {
	deadline := time.Now().Add(patience)
	for {
		if relay.Live(o.sock) {
			return nil, nil
		}
		ow, err := o.open(200 * time.Millisecond)
		if err == nil {
			return ow, nil
		}
		if !errors.Is(err, storage.ErrLocked) && !errors.Is(err, relay.ErrOwnerRunning) {
			return nil, err
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("%w (and no process answered on its socket %s for %s)", err, o.sock, patience)
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// relayTakeOver is a relay's TakeOver: it tries once, briefly, to open the
// file, and is content when another process did. Once it has won, later
// calls do nothing; held returns what it won, for closing.
func (o ownerSpec) relayTakeOver() (takeOver func(context.Context) error, held func() *owner) {
	var mu sync.Mutex
	var won *owner
	takeOver = func(context.Context) error {
		mu.Lock()
		defer mu.Unlock()
		if won != nil || relay.Live(o.sock) {
			return nil
		}
		ow, err := o.open(100 * time.Millisecond)
		switch {
		case err == nil:
			won = ow
			o.logger.Info("took the data file over: this process is its owner now", "role", "owner", "socket", o.sock, "pid", os.Getpid())
			return nil
		case errors.Is(err, storage.ErrLocked), errors.Is(err, relay.ErrOwnerRunning):
			return nil // another relay won
		}
		return err
	}
	return takeOver, func() *owner { mu.Lock(); defer mu.Unlock(); return won }
}
