package storage

import "errors"

// Errors callers can test with errors.Is. The errors returned wrap them with
// the table, file or version concerned.
var (
	// ErrNoTable: the table was not declared when the store was opened.
	ErrNoTable = errors.New("no such table")
	// ErrResync: the versions asked for were trimmed from the change log; read
	// a snapshot instead.
	ErrResync = errors.New("change log trimmed past the requested version: read a snapshot")
	// ErrClosed: the store or subscription is closed.
	ErrClosed = errors.New("storage closed")
	// ErrLocked: another process holds the data file.
	ErrLocked = errors.New("data file locked by another process")
	// ErrSchemaTooNew: the file was written by a newer schema version.
	ErrSchemaTooNew = errors.New("data file written by a newer schema version")
)
