package postgres

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"syscall"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/mcp-sync/mcp-sync/storage"
)

// dbError is a failure reported by or on the way to PostgreSQL, its text
// free of the DSN and the server's address (it may reach a client); its
// chain keeps the sentinels and the server's own *pgconn.PgError.
type dbError struct {
	msg  string
	errs []error
}

func (e *dbError) Error() string   { return e.msg }
func (e *dbError) Unwrap() []error { return e.errs }

// fail turns err, met while doing op, into what a caller may see; the
// details go to the log.
func (d *Driver) fail(op string, err error) error {
	if err == nil {
		return nil
	}
	var de *dbError
	if errors.As(err, &de) || errors.Is(err, storage.ErrClosed) {
		return err
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		if !unavailable(err) {
			return fmt.Errorf("storage: %s: %w", op, err)
		}
	}
	if unavailable(err) {
		if d.opts.Logger != nil {
			d.opts.Logger.Warn("PostgreSQL unavailable", "op", op, "schema", d.opts.Schema, "error", err)
		}
		return &dbError{msg: fmt.Sprintf("storage: %s: the database is unavailable; retry in a moment", op),
			errs: []error{storage.ErrUnavailable}}
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return &dbError{msg: fmt.Sprintf("storage: %s: PostgreSQL refused it: %s (SQLSTATE %s)", op, pe.Message, pe.Code),
			errs: []error{pe}}
	}
	if d.opts.Logger != nil {
		d.opts.Logger.Warn("PostgreSQL error", "op", op, "schema", d.opts.Schema, "error", err)
	}
	return &dbError{msg: fmt.Sprintf("storage: %s failed: %s", op, firstLine(err))}
}

// unavailable reports whether err says the server could not be reached or
// went away: a connection refused, reset or closed, or the server shutting
// down or starting up.
func unavailable(err error) bool {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return strings.HasPrefix(pe.Code, "08") || pe.Code == "57P01" || pe.Code == "57P02" || pe.Code == "57P03"
	}
	var ce *pgconn.ConnectError
	var ne net.Error
	return errors.As(err, &ce) || errors.As(err, &ne) || pgconn.SafeToRetry(err) || pgconn.Timeout(err) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) ||
		strings.Contains(err.Error(), "conn closed")
}

// firstLine is err's text up to its first colon-separated detail that could
// name an address: pgx's own errors ("conn busy", …) are short.
func firstLine(err error) string {
	s := err.Error()
	if i := strings.IndexAny(s, "\n"); i >= 0 {
		s = s[:i]
	}
	if strings.Contains(s, "@") || strings.Contains(s, "host=") || strings.Contains(s, "password") {
		return "a connection error"
	}
	return s
}
