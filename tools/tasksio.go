package tools

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"sync"
)

// mayBeTask is a cheap look at a message before decoding it: only tools/call
// and tasks/* requests can be the task layer's.
func mayBeTask(msg []byte) bool {
	return bytes.Contains(msg, []byte(`tasks/`)) || bytes.Contains(msg, []byte(`tools/call`))
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

// postBody reads a POST's whole body (withBody bounds it) and puts it back
// for the next handler; ok is false for other requests and for a body that
// could not be read, which the next handler then meets as it was.
func postBody(r *http.Request) (body []byte, ok bool) {
	if r.Method != http.MethodPost || r.Body == nil {
		return nil, false
	}
	body, err := io.ReadAll(r.Body)
	r.Body.Close()
	if err != nil {
		r.Body = io.NopCloser(io.MultiReader(bytes.NewReader(body), errReader{err}))
		return nil, false
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	return body, true
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
			line, err := br.ReadBytes('\n')
			if len(line) > 0 {
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

// sseKey marks a request context as SSE's: tasks are not served there.
type sseKey struct{}

// withoutTasks is the SSE message endpoint's wrapper: tasks are not served
// on SSE (its replies travel on the session's stream, out of this layer's
// reach), so the tasks capability is not advertised to its sessions and a
// tools/call's params.task is dropped, which makes the call a plain one, as
// 2025-11-25 asks of a receiver that does not take the task. Without this
// mcp-go would run it as a task in its own memory that no tasks/get finds.
func withoutTasks(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r = r.WithContext(context.WithValue(r.Context(), sseKey{}, true))
		if body, ok := postBody(r); ok {
			r.Body = io.NopCloser(bytes.NewReader(dropTaskParam(body)))
		}
		next.ServeHTTP(w, r)
	})
}

// dropTaskParam returns msg without params.task when it is a tools/call
// that has one; the other fields keep their bytes.
func dropTaskParam(msg []byte) []byte {
	if !bytes.Contains(msg, []byte(`"task"`)) {
		return msg
	}
	var req map[string]json.RawMessage
	if json.Unmarshal(msg, &req) != nil || string(req["method"]) != `"tools/call"` {
		return msg
	}
	var params map[string]json.RawMessage
	if json.Unmarshal(req["params"], &params) != nil {
		return msg
	}
	if _, ok := params["task"]; !ok {
		return msg
	}
	delete(params, "task")
	p, err := json.Marshal(params)
	if err != nil {
		return msg
	}
	req["params"] = p
	out, err := json.Marshal(req)
	if err != nil {
		return msg
	}
	return out
}
