package ai

import (
	"bytes"
	"context"
	"io"
	"net/http"
)

// go-openai hides the HTTP response from stream callers: it drops the headers
// of an error response (so Retry-After is lost) and returns the same io.EOF
// for "data: [DONE]" as for a body that simply stops. observer is a
// RoundTripper that records, for requests carrying an *exchange in their
// context, the response's status and headers and whether [DONE] arrived.

type exchangeKey struct{}

// exchange is what observer saw of one request. It is written inside
// http.Client.Do and by body reads, both on the goroutine that runs Stream.
type exchange struct {
	status int
	header http.Header
	body   *watchedBody
}

func withExchange(ctx context.Context, x *exchange) context.Context {
	return context.WithValue(ctx, exchangeKey{}, x)
}

type observer struct{ base http.RoundTripper }

// RoundTrip implements http.RoundTripper.
func (o observer) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := o.base.RoundTrip(req)
	if err != nil {
		return resp, err
	}
	if x, _ := req.Context().Value(exchangeKey{}).(*exchange); x != nil {
		x.status, x.header = resp.StatusCode, resp.Header
		x.body = &watchedBody{ReadCloser: resp.Body}
		resp.Body = x.body
	}
	return resp, nil
}

// doneLineMax bounds the bytes kept of the current line: a "data: [DONE]"
// line is short, so a longer line only needs to be skipped.
const doneLineMax = 32

// watchedBody passes a response body through and notes whether a
// "data: [DONE]" line went by.
type watchedBody struct {
	io.ReadCloser
	line []byte // the current line so far, while it is short enough to be [DONE]
	long bool   // the current line is longer than doneLineMax
	done bool
}

// Read implements io.Reader.
func (b *watchedBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	b.scan(p[:n])
	if err == io.EOF && !b.long && isDone(b.line) { // a last line without its newline
		b.done = true
	}
	return n, err
}

func (b *watchedBody) scan(p []byte) {
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		seg := p
		if i >= 0 {
			seg = p[:i]
		}
		if !b.long {
			if len(b.line)+len(seg) > doneLineMax {
				b.long, b.line = true, b.line[:0]
			} else {
				b.line = append(b.line, seg...)
			}
		}
		if i < 0 {
			return
		}
		if !b.long && isDone(b.line) {
			b.done = true
		}
		b.line, b.long = b.line[:0], false
		p = p[i+1:]
	}
}

// isDone reports whether line is the SSE line "data: [DONE]", as go-openai
// matches it (spaces around the parts allowed).
func isDone(line []byte) bool {
	rest, ok := bytes.CutPrefix(bytes.TrimSpace(line), []byte("data:"))
	return ok && bytes.Equal(bytes.TrimSpace(rest), []byte("[DONE]"))
}
