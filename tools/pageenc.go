package tools

import (
	"encoding/json"
	"strconv"

	"github.com/mcp-sync/mcp-sync/wire"
)

// encodePage is p as json.Marshal encodes it, in one pass over the rows:
// json.Marshal would scan and compact every row's value again, which
// readPage has already checked is valid JSON, so values are copied as
// they are. A page of 1,000 rows is mostly values.
func encodePage(p wire.ListRowsOut) ([]byte, error) {
	size := 64 + len(p.Table) + len(p.Next)
	for _, r := range p.Rows {
		size += len(r.Key) + len(r.Value) + len(r.Damaged) + 32
	}
	b := make([]byte, 0, size)
	var err error
	b = append(b, `{"table":`...)
	if b, err = appendString(b, p.Table); err != nil {
		return nil, err
	}
	b = append(b, `,"rows":[`...)
	for i, r := range p.Rows {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"key":`...)
		if b, err = appendString(b, r.Key); err != nil {
			return nil, err
		}
		b = append(b, `,"value":`...)
		if len(r.Value) == 0 {
			b = append(b, "null"...)
		} else {
			b = append(b, r.Value...)
		}
		if r.Damaged != "" {
			b = append(b, `,"damaged":`...)
			if b, err = appendString(b, r.Damaged); err != nil {
				return nil, err
			}
		}
		b = append(b, '}')
	}
	b = append(b, ']')
	if p.Next != "" {
		b = append(b, `,"next":`...)
		if b, err = appendString(b, p.Next); err != nil {
			return nil, err
		}
	}
	b = append(b, `,"version":`...)
	b = strconv.AppendUint(b, p.Version, 10)
	return append(b, '}'), nil
}

// appendString appends s as a JSON string, escaped as json.Marshal does.
// Keys are mostly plain ASCII, which needs no escaping and no allocation.
func appendString(b []byte, s string) ([]byte, error) {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x80 || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			q, err := json.Marshal(s)
			if err != nil {
				return nil, err
			}
			return append(b, q...), nil
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"'), nil
}
