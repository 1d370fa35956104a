package tools

import (
	"strconv"
	"unicode/utf8"
)

// maxQuoted is how much of a client's input an error message repeats.
const maxQuoted = 64

// quote is s quoted for an error message, cut to its first maxQuoted bytes
// (on a rune boundary) with "…" after: a 1 MiB key is not echoed whole.
func quote(s string) string {
	if len(s) <= maxQuoted {
		return strconv.Quote(s)
	}
	cut := maxQuoted
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return strconv.Quote(s[:cut]) + "…"
}
