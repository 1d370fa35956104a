package schema

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"

	sj "github.com/santhosh-tekuri/jsonschema/v6"
)

// ValidationError reports why a JSON value does not match its schema, field
// by field. Its message is written for whoever sent the value, person or
// model: each field's path and what was expected instead.
type ValidationError struct {
	// Subject names the value: "input of mutator setTodo", "row of table todos".
	Subject string
	// Fields lists the problems, sorted by path.
	Fields []FieldError
}

// FieldError is one problem at one place in a JSON value.
type FieldError struct {
	// Path is a JSON Pointer to the offending value ("/items/0/name"); "" is
	// the whole value.
	Path string
	// Message says what was expected and what was found.
	Message string
}

// Bounds of a ValidationError's message: it quotes what the sender wrote
// (field names, values), which may be megabytes; Fields keep it all.
const (
	maxListedFields = 8
	maxPathBytes    = 128
	maxMessageBytes = 200
)

// Error returns e.g. "invalid input of mutator setTodo: at /text: got number,
// want string". It lists at most 8 problems, each cut short.
func (e *ValidationError) Error() string {
	parts := make([]string, 0, min(len(e.Fields), maxListedFields)+1)
	for i, f := range e.Fields {
		if i == maxListedFields {
			parts = append(parts, fmt.Sprintf("and %d more", len(e.Fields)-i))
			break
		}
		parts = append(parts, f.String())
	}
	return fmt.Sprintf("invalid %s: %s", e.Subject, strings.Join(parts, "; "))
}

// String returns "at PATH: MESSAGE", with "(root)" for the whole value,
// each cut short.
func (f FieldError) String() string {
	p := f.Path
	if p == "" {
		p = "(root)"
	}
	return fmt.Sprintf("at %s: %s", cut(p, maxPathBytes), cut(f.Message, maxMessageBytes))
}

// cut returns at most n bytes of s, at a rune boundary, with "…" when cut.
func cut(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

func newValidationError(subject string, ve *sj.ValidationError) *ValidationError {
	e := &ValidationError{Subject: subject}
	var walk func(u *sj.OutputUnit)
	walk = func(u *sj.OutputUnit) {
		if u.Error != nil && len(u.Errors) == 0 {
			e.Fields = append(e.Fields, FieldError{Path: u.InstanceLocation, Message: u.Error.String()})
		}
		for i := range u.Errors {
			walk(&u.Errors[i])
		}
	}
	walk(ve.BasicOutput())
	if len(e.Fields) == 0 { // never seen, but never return an empty list
		e.Fields = []FieldError{{Message: ve.Error()}}
	}
	slices.SortFunc(e.Fields, func(a, b FieldError) int {
		return cmp.Or(cmp.Compare(a.Path, b.Path), cmp.Compare(a.Message, b.Message))
	})
	e.Fields = slices.Compact(e.Fields)
	return e
}
