package backend

import (
	"errors"
	"fmt"
	"strconv"
	"unicode/utf8"

	"github.com/mcp-sync/mcp-sync/storage"
)

// Size limits the engine enforces. Rows and inputs are limited by Options
// (and rows per table by schema.MaxRowBytes); keys by a fixed bound.
const (
	// MaxKeyBytes is the longest key a row may have, in bytes. Keys must
	// also be non-empty, valid UTF-8.
	MaxKeyBytes = 1 << 10
	// DefaultMaxRowBytes is Options.MaxRowBytes's default: 1 MiB.
	DefaultMaxRowBytes = 1 << 20
	// DefaultMaxInputBytes is Options.MaxInputBytes's default: 4 MiB.
	DefaultMaxInputBytes = 4 << 20
	// quoteMax is how many bytes of an input an error message quotes.
	quoteMax = 64
)

// limitError is a value the caller sent that breaks a limit or an encoding
// rule. It is the caller's fault even when a mutator's Table.Set reports
// it, so the engine classifies it as ErrInvalidInput.
type limitError struct{ msg string }

func (e *limitError) Error() string { return e.msg }

func limitf(format string, args ...any) error { return &limitError{fmt.Sprintf(format, args...)} }

// isLimitError reports whether err's chain holds a *limitError.
func isLimitError(err error) bool {
	var le *limitError
	return errors.As(err, &le)
}

// Short quotes at most the first 64 bytes of s (cut at a rune boundary), with
// "…" when it was cut, for error messages that must not echo a huge input.
func Short(s string) string {
	if len(s) <= quoteMax {
		return strconv.Quote(s)
	}
	cut := quoteMax
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return strconv.Quote(s[:cut]) + "…"
}

// checkKey refuses a key that is empty, longer than MaxKeyBytes or not
// valid UTF-8: JSON would silently rewrite such bytes to U+FFFD, so two
// different keys could name one row.
func checkKey(table, key string) error {
	switch {
	case key == "":
		return limitf("table %s: the key is empty: every row needs a non-empty key", table)
	case len(key) > MaxKeyBytes:
		return limitf("table %s: key %s is %d bytes, over the %d-byte key limit: use a shorter key", table, Short(key), len(key), MaxKeyBytes)
	case !utf8.ValidString(key):
		return limitf("table %s: key %s is not valid UTF-8: keys must be text", table, Short(key))
	}
	return nil
}

// checkKeyArg checks a read argument that holds (part of) a key: a prefix or
// a cursor. Empty is allowed: it means none.
func checkKeyArg(table, what, s string) error {
	switch {
	case len(s) > MaxKeyBytes:
		return limitf("table %s: %s %s is %d bytes, over the %d-byte key limit", table, what, Short(s), len(s), MaxKeyBytes)
	case !utf8.ValidString(s):
		return limitf("table %s: %s %s is not valid UTF-8: keys must be text", table, what, Short(s))
	}
	return nil
}

// checkScan checks a scan's prefix and cursor.
func checkScan(table string, o ScanOptions) error {
	if err := checkKeyArg(table, "prefix", o.Prefix); err != nil {
		return err
	}
	return checkKeyArg(table, "cursor (after)", o.After)
}

// checkFilter checks a subscription filter's key and prefix.
func checkFilter(f storage.Filter) error {
	if err := checkKeyArg(f.Table, "key", f.Key); err != nil {
		return withKind(ErrInvalidInput, "", err)
	}
	if err := checkKeyArg(f.Table, "prefix", f.Prefix); err != nil {
		return withKind(ErrInvalidInput, "", err)
	}
	return nil
}

// checkRowSize refuses a row value over its table's limit.
func (e *Engine) checkRowSize(table, key string, n int) error {
	limit := e.opts.MaxRowBytes
	if info, ok := e.cfg.Schema.Table(table); ok && info.MaxRowBytes > 0 {
		limit = info.MaxRowBytes
	}
	if limit > 0 && n > limit {
		return limitf("table %s: the row under key %s is %d bytes, over the table's %d-byte row limit (backend.Options.MaxRowBytes, --max-row-bytes, or schema.MaxRowBytes for the table); nothing was written", table, Short(key), n, limit)
	}
	return nil
}

// CheckJSONText refuses JSON whose text is not valid UTF-8 or whose strings
// hold a lone UTF-16 surrogate escape (\ud800 without its pair). Go's JSON
// decoding would silently turn both into U+FFFD, so two distinct inputs (two
// keys) could become one. what names the input in the error.
func CheckJSONText(what string, data []byte) error {
	if !utf8.Valid(data) {
		return limitf("%s is not valid UTF-8: send text encoded as UTF-8", what)
	}
	for i := 0; i < len(data); i++ {
		if data[i] != '\\' {
			continue
		}
		// Backslashes appear only in strings in valid JSON; an escape is
		// two characters, or six for \uXXXX.
		if i+1 >= len(data) || data[i+1] != 'u' {
			i++
			continue
		}
		r, ok := hex4(data, i+2)
		if !ok {
			i++
			continue // not JSON: the decoder reports it
		}
		switch {
		case r >= 0xD800 && r <= 0xDBFF:
			lo, ok := -1, false
			if i+7 < len(data) && data[i+6] == '\\' && data[i+7] == 'u' {
				lo, ok = hex4(data, i+8)
			}
			if !ok || lo < 0xDC00 || lo > 0xDFFF {
				return limitf("%s holds a lone UTF-16 surrogate escape (%s) at byte %d: strings must be valid Unicode", what, data[i:i+6], i)
			}
			i += 11
		case r >= 0xDC00 && r <= 0xDFFF:
			return limitf("%s holds a lone UTF-16 surrogate escape (%s) at byte %d: strings must be valid Unicode", what, data[i:i+6], i)
		default:
			i += 5
		}
	}
	return nil
}

func hex4(b []byte, at int) (int, bool) {
	if at+4 > len(b) {
		return 0, false
	}
	n, err := strconv.ParseUint(string(b[at:at+4]), 16, 32)
	return int(n), err == nil
}

// checkInput applies the limits every mutator and action input meets before
// it is decoded: its size and its text.
func (e *Engine) checkInput(kind, name string, input []byte) error {
	if limit := e.opts.MaxInputBytes; limit > 0 && len(input) > limit {
		return withKind(ErrInvalidInput, "", limitf("%s %s: the input is %d bytes, over the %d-byte input limit (backend.Options.MaxInputBytes, --max-input-bytes); nothing was written", kind, name, len(input), limit))
	}
	if err := CheckJSONText(fmt.Sprintf("the input of %s %s", kind, name), input); err != nil {
		return withKind(ErrInvalidInput, "", err)
	}
	return nil
}
