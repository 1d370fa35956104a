package postgres

import (
	"fmt"
	"slices"
	"strings"

	"github.com/mcp-sync/mcp-sync/storage"
)

// scanSQL builds the query for a page of at most limit rows of table in
// key order: (kp, k) sorts as the key does, and the order index on (tbl,
// kp) bounds the walk.
func (q queries) scanSQL(table string, o storage.ScanOptions, limit int) (string, []any) {
	var b strings.Builder
	args := []any{table}
	arg := func(v any) string { args = append(args, v); return fmt.Sprintf("$%d", len(args)) }
	b.WriteString(`SELECT k, v, ck FROM ` + q.schema + `.rows WHERE tbl = $1`)
	if o.Prefix != "" {
		p := keyOrder(o.Prefix)
		fmt.Fprintf(&b, ` AND kp >= %s AND substring(k from 1 for %s) = %s`, arg(p), arg(len(o.Prefix)), arg([]byte(o.Prefix)))
		if end := prefixEnd(p); end != nil {
			fmt.Fprintf(&b, ` AND kp < %s`, arg(end))
		}
	}
	if o.After != "" {
		a1, a := arg(keyOrder(o.After)), arg([]byte(o.After))
		if o.Reverse {
			fmt.Fprintf(&b, ` AND kp <= %s AND (kp, k) < (%s, %s)`, a1, a1, a)
		} else {
			fmt.Fprintf(&b, ` AND kp >= %s AND (kp, k) > (%s, %s)`, a1, a1, a)
		}
	}
	if o.Reverse {
		b.WriteString(` ORDER BY kp DESC, k DESC`)
	} else {
		b.WriteString(` ORDER BY kp, k`)
	}
	fmt.Fprintf(&b, ` LIMIT %s`, arg(limit))
	return b.String(), args
}

// prefixEnd returns the smallest byte string greater than every one with
// prefix p, or nil when there is none (p empty or all 0xff).
func prefixEnd(p []byte) []byte {
	end := slices.Clone(p)
	for i := len(end) - 1; i >= 0; i-- {
		if end[i] < 0xff {
			end[i]++
			return end[:i+1]
		}
	}
	return nil
}

// scanRows reads up to limit rows of the page o selects from the database,
// each checked against its checksum.
func (r *readTx) scanRows(table string, o storage.ScanOptions, limit int) ([]storage.KV, error) {
	if r.err != nil {
		return nil, r.err
	}
	sql, args := r.d.q.scanSQL(table, o, limit)
	ctx, cancel := r.ctx()
	defer cancel()
	rows, err := r.conn.Query(ctx, sql, args...)
	if err != nil {
		return nil, r.failed("scan", err)
	}
	defer rows.Close()
	var out []storage.KV
	for rows.Next() {
		var k, v []byte
		var sum int32
		if err := rows.Scan(&k, &v, &sum); err != nil {
			return nil, r.failed("scan", err)
		}
		if err := checkValue(table, string(k), v, sum); err != nil {
			return nil, err
		}
		out = append(out, storage.KV{Key: string(k), Value: nonNil(v)})
	}
	if err := rows.Err(); err != nil {
		return nil, r.failed("scan", err)
	}
	return out, nil
}

// inPage reports whether key belongs to the page o selects (before its
// limit).
func inPage(key string, o storage.ScanOptions) bool {
	if !strings.HasPrefix(key, o.Prefix) {
		return false
	}
	if o.After == "" {
		return true
	}
	if o.Reverse {
		return key < o.After
	}
	return key > o.After
}

// scanPending is Scan in a write transaction: the database's rows with the
// batch's pending writes laid over them. Each pending key can hide at most
// one database row, so reading that many more than the page needs leaves
// enough.
func (w *writeTx) scanPending(table string, o storage.ScanOptions) ([]storage.KV, string, error) {
	var puts []storage.KV
	hidden := 0
	for tk, p := range w.pending {
		if tk.table != table || !inPage(tk.key, o) {
			continue
		}
		hidden++
		if p.put {
			puts = append(puts, storage.KV{Key: tk.key, Value: p.value})
		}
	}
	if hidden == 0 {
		return w.readTx.Scan(table, o)
	}
	stored, err := w.scanRows(table, o, o.Limit+1+hidden)
	if err != nil {
		return nil, "", err
	}
	full := len(stored) == o.Limit+1+hidden
	merged := slices.DeleteFunc(stored, func(kv storage.KV) bool {
		_, ok := w.pending[tableKey{table, kv.Key}]
		return ok
	})
	for _, kv := range puts {
		merged = append(merged, storage.KV{Key: kv.Key, Value: append([]byte{}, kv.Value...)})
	}
	slices.SortFunc(merged, func(a, b storage.KV) int {
		if o.Reverse {
			return strings.Compare(b.Key, a.Key)
		}
		return strings.Compare(a.Key, b.Key)
	})
	// Past the last stored row read, rows the query did not reach may sort
	// before a pending one: keep only what the rows read cover.
	if full {
		merged = merged[:min(len(merged), o.Limit+1)]
	}
	return page(merged, o.Limit)
}
