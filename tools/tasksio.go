package tools

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/mark3labs/mcp-go/server"
)

// mayBeTask is a cheap look at a message before decoding it: only tools/call
// and tasks/* requests can be the task layer's, and a tools/call only with
// params.task (2025-11-25) or a _meta naming a modern protocol (claimTask).
// Most calls are plain tools/calls, which this passes to mcp-go without
// decoding them a second time.
func mayBeTask(msg []byte) bool {
	if bytes.Contains(msg, []byte(`tasks/`)) {
		return true
	}
	if !bytes.Contains(msg, []byte(`tools/call`)) {
		return false
	}
	return mayHoldKey(msg, "task") || mayHoldKey(msg, "_meta")
}

// mayHoldKey reports whether msg may hold key (lower-case ASCII) as an
// object key the way encoding/json matches one, which ignores case: a
// quoted, case-folded match, or any escape or non-ASCII byte, which could
// spell it otherwise (\u0074ask, or U+017F folding to s).
func mayHoldKey(msg []byte, key string) bool {
	for i := 0; i+len(key)+1 < len(msg); i++ {
		c := msg[i]
		if c >= 0x80 || c == '\\' && msg[i+1] == 'u' {
			return true
		}
		if c != '"' || msg[i+len(key)+1] != '"' {
			continue
		}
		if strings.EqualFold(string(msg[i+1:i+1+len(key)]), key) {
			return true
		}
	}
	return false
}

// decodeTaskRequest decodes msg when it is a single JSON-RPC request the
// task layer may answer.
func decodeTaskRequest(msg []byte) (rpcRequest, bool) {
	var req rpcRequest
	if !mayBeTask(msg) || json.Unmarshal(msg, &req) != nil || req.JSONRPC != "2.0" {
		return rpcRequest{}, false
	}
	return req, taskMethod(req.Method)
}

// withTasks answers streamable HTTP POSTs that are task requests (see
// claimTask) or reads of resources nothing serves (claimNotFound), and
// passes every other request to next.
func (s *Server) withTasks(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, ok := postBody(r)
		if !ok {
			next.ServeHTTP(w, r)
			return
		}
		if req, ok := decodeTaskRequest(body); ok {
			if c, p, mine := s.claimTask(req); mine {
				reply := s.answerTask(r.Context(), c, p, r.Header.Get)
				writeReply(w, reply)
				return
			}
		}
		if reply, ok := s.claimNotFound(r.Context(), body, r.Header.Get); ok {
			writeReply(w, reply)
			return
		}
		next.ServeHTTP(w, r)
	})
}

func writeReply(w http.ResponseWriter, reply rpcReply) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(reply.status)
	_, _ = w.Write(append(reply.body, '\n'))
}

// postBody reads a POST's whole body (withBody bounds it) and leaves it
// for the next handler; ok is false for other requests and for a body that
// could not be read, which the next handler then meets as it was.
func postBody(r *http.Request) (body []byte, ok bool) {
	if r.Method != http.MethodPost || r.Body == nil {
		return nil, false
	}
	body, err := requestBody(r)
	return body, err == nil
}

type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }

// lockedWriter makes each Write whole, so replies written here and
// messages mcp-go writes (one Write each) never interleave.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// stdioTasks sits between stdin and mcp-go's stdio server: task requests
// are answered here, each on its own goroutine (tasks/result waits), reads
// of resources nothing serves too (claimNotFound), and every other line
// passes through in order. It returns the reader mcp-go
// reads, the writer both write to, and a stop func to call once mcp-go
// has returned: it ends the answers still waiting.
func (s *Server) stdioTasks(ctx context.Context, in io.Reader, out io.Writer) (io.Reader, io.Writer, func()) {
	pr, pw := io.Pipe()
	lw := &lockedWriter{w: out}
	ctx, cancel := context.WithCancel(ctx)
	go func() {
		br := bufio.NewReader(in)
		for {
			line, tooLong, err := readBoundedLine(br, maxConnLine)
			if tooLong {
				s.log.Warn("a stdio message over the size limit was dropped", "limit", maxConnLine)
				_, _ = lw.Write(lineTooLongReply())
			} else if len(line) > 0 {
				req, ok := decodeTaskRequest(line)
				var c taskCall
				var p taskParams
				if ok {
					c, p, ok = s.claimTask(req)
				}
				if ok {
					go func() {
						reply := s.answerTask(ctx, c, p, nil)
						_, _ = lw.Write(append(reply.body, '\n'))
					}()
				} else if reply, ok := s.claimNotFound(ctx, line, nil); ok {
					_, _ = lw.Write(append(reply.body, '\n'))
				} else if _, werr := pw.Write(line); werr != nil {
					return
				}
			}
			if err != nil {
				if errors.Is(err, io.EOF) {
					err = nil
				}
				pw.CloseWithError(err)
				return
			}
		}
	}()
	return pr, lw, func() {
		cancel()
		pr.Close()
	}
}

// sseTasks is the SSE message endpoint's wrapper: a task request (see
// claimTask) of a live session is answered here, the others go to next
// (mcp-go). As mcp-go does, the POST gets 202 at once and the answer goes
// on the session's stream (sse.SendEventToSession), from a goroutine that
// ends with the session: tasks/result waits for its task.
func (s *Server) sseTasks(sse *server.SSEServer, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sid := r.URL.Query().Get("sessionId")
		done, live := s.sessionEnds.Load(sid)
		body, ok := postBody(r)
		if !ok || !live {
			next.ServeHTTP(w, r) // mcp-go answers a bad request or an unknown session
			return
		}
		req, ok := decodeTaskRequest(body)
		if !ok {
			next.ServeHTTP(w, r)
			return
		}
		c, p, mine := s.claimTask(req)
		if !mine {
			next.ServeHTTP(w, r)
			return
		}
		// The request's values (the caller's identity), not its end: the
		// POST is answered before the reply is ready.
		ctx, stop := context.WithCancel(context.WithoutCancel(r.Context()))
		unhook := context.AfterFunc(done.(context.Context), stop)
		w.WriteHeader(http.StatusAccepted)
		go func() {
			defer stop()
			defer unhook() // or the session's context keeps one func per request
			// SSE carries none of streamable HTTP's headers to check.
			reply := s.answerTask(ctx, c, p, nil)
			for {
				// A full queue is waited out, as mcp-go waits with its
				// replies; the session's end ends the wait. Any other
				// failure (the session is gone) ends it at once.
				err := sse.SendEventToSession(sid, json.RawMessage(reply.body))
				if err == nil || !strings.Contains(err.Error(), "queue full") {
					return
				}
				select {
				case <-ctx.Done():
					return
				case <-time.After(10 * time.Millisecond):
				}
			}
		}()
	})
}

// sseStreamKey marks the context of an SSE stream's request, which mcp-go
// registers the SSE session with.
type sseStreamKey struct{}

// markSSE marks the SSE stream's requests (see sseStreamKey).
func markSSE(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), sseStreamKey{}, true)))
	})
}

// hookSessionEnds keeps, for each registered SSE session, a context that
// ends when the session does (sseTasks' answers stop waiting then). A
// session of another transport is not one sseTasks answers for: its id
// given to the SSE endpoint stays mcp-go's to refuse.
func (s *Server) hookSessionEnds(h *server.Hooks) {
	h.AddOnRegisterSession(func(rctx context.Context, sess server.ClientSession) {
		if rctx.Value(sseStreamKey{}) == nil {
			return
		}
		ctx, cancel := context.WithCancel(context.Background())
		s.sessionEnds.Store(sess.SessionID(), ctx)
		s.sessionStops.Store(sess.SessionID(), cancel)
	})
	h.AddOnUnregisterSession(func(_ context.Context, sess server.ClientSession) {
		s.sessionEnds.Delete(sess.SessionID())
		if cancel, ok := s.sessionStops.LoadAndDelete(sess.SessionID()); ok {
			cancel.(context.CancelFunc)()
		}
	})
}
