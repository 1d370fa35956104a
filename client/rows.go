package client

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/mcp-sync/mcp-sync/schema"
	"github.com/mcp-sync/mcp-sync/wire"
)

// ListOptions choose the page [ListRows] reads: the fields of list_rows's
// input other than the table.
type ListOptions struct {
	Prefix  string // only keys that start with this
	After   string // the cursor: start after this key (the previous page's Next)
	Limit   int    // rows per page; 0 means wire.DefaultListLimit
	Reverse bool   // descending key order
}

// TypedRow is one row of a [RowPage], decoded. A row the server could not
// show (its stored value is damaged) has a zero Value and Damaged saying why.
type TypedRow[T any] struct {
	Key     string
	Value   T
	Damaged string
}

// RowPage is one page of rows read by [ListRows], in key order; Next is the
// After of the following page, empty on the last.
type RowPage[T any] struct {
	Rows    []TypedRow[T]
	Next    string
	Version uint64 // the store's version the read saw
}

// GetRow reads the row key of table d with get_row and decodes it. found is
// false, with a zero value, when there is no such row; version is the
// store's version the read saw.
func GetRow[T any](ctx context.Context, c *Conn, d schema.TableDef[T], key string) (v T, found bool, version uint64, err error) {
	raw, err := c.Call(ctx, wire.ToolGetRow, wire.GetRowIn{Table: d.Name(), Key: key})
	if err != nil {
		return v, false, 0, err
	}
	var out wire.GetRowOut
	if err := json.Unmarshal(raw, &out); err != nil {
		return v, false, 0, fmt.Errorf("get_row %s/%s: decoding the result: %w", d.Name(), key, err)
	}
	if !out.Found {
		return v, false, out.Version, nil
	}
	if err := json.Unmarshal(out.Value, &v); err != nil {
		return v, false, out.Version, fmt.Errorf("get_row %s/%s: decoding the row: %w", d.Name(), key, err)
	}
	return v, true, out.Version, nil
}

// ListRows reads one page of table d with list_rows and decodes its rows.
func ListRows[T any](ctx context.Context, c *Conn, d schema.TableDef[T], o ListOptions) (RowPage[T], error) {
	var page RowPage[T]
	raw, err := c.Call(ctx, wire.ToolListRows, wire.ListRowsIn{Table: d.Name(), Prefix: o.Prefix, After: o.After, Limit: o.Limit, Reverse: o.Reverse})
	if err != nil {
		return page, err
	}
	var out wire.ListRowsOut
	if err := json.Unmarshal(raw, &out); err != nil {
		return page, fmt.Errorf("list_rows %s: decoding the result: %w", d.Name(), err)
	}
	page.Next, page.Version = out.Next, out.Version
	page.Rows = make([]TypedRow[T], len(out.Rows))
	for i, r := range out.Rows {
		page.Rows[i] = TypedRow[T]{Key: r.Key, Damaged: r.Damaged}
		if r.Damaged != "" {
			continue
		}
		if err := json.Unmarshal(r.Value, &page.Rows[i].Value); err != nil {
			return page, fmt.Errorf("list_rows %s: decoding row %q: %w", d.Name(), r.Key, err)
		}
	}
	return page, nil
}
