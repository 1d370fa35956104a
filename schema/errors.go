package schema

import (
	"cmp"
	"fmt"
	"slices"
	"strings"

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

// Error returns e.g. "invalid input of mutator setTodo: at /text: got number,
// want string".
func (e *ValidationError) Error() string {
	parts := make([]string, len(e.Fields))
	for i, f := range e.Fields {
		parts[i] = f.String()
	}
	return fmt.Sprintf("invalid %s: %s", e.Subject, strings.Join(parts, "; "))
}

// String returns "at PATH: MESSAGE", with "(root)" for the whole value.
func (f FieldError) String() string {
	p := f.Path
	if p == "" {
		p = "(root)"
	}
	return fmt.Sprintf("at %s: %s", p, f.Message)
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
