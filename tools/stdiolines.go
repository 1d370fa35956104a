package tools

import (
	"bufio"
	"errors"
	"fmt"
)

// readBoundedLine reads one line from br, newline included. A line longer
// than max is read through to its end and thrown away, and tooLong is set:
// one oversize message must neither grow memory without bound nor end a
// stdio session whose host cannot restart it.
func readBoundedLine(br *bufio.Reader, max int) (line []byte, tooLong bool, err error) {
	for {
		frag, err := br.ReadSlice('\n')
		if !tooLong {
			if len(line)+len(frag) > max {
				tooLong, line = true, nil
			} else {
				line = append(line, frag...)
			}
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		return line, tooLong, err
	}
}

// lineTooLongReply is the JSON-RPC error a stdio client gets for a message
// past maxConnLine; its id is null because the message was never decoded.
func lineTooLongReply() []byte {
	return fmt.Appendf(nil, `{"jsonrpc":"2.0","id":null,"error":{"code":-32600,"message":"message too large: a stdio message is limited to %d bytes; it was not read"}}`+"\n", maxConnLine)
}
