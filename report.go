package litewavemetric

import (
	"context"
	"errors"
	"log/slog"
	"strings"

	"go.opentelemetry.io/otel"

	"github.com/aiorch/litewavemetric/internal/outbox"
)

// Reports are what the exporter finds in the background: failures of
// delivery beginning, lasting and ending, rejections no caller waits for,
// spool repairs, unreachable brokers, the problems of collections no flush
// returns. Each is made once, on one line: to the logger if one is set
// (WithLogger, LITEWAVE_LOG_LEVEL) and takes its level, and to
// otel.Handle, except when otel's own handler is in place and the logger
// took the report: that handler only prints to stderr, and would print it
// a second time. A handler the application set (otel.SetErrorHandler)
// hears every report.

// otelDefault is otel's own error handler, which prints with log.Print.
// otel.GetErrorHandler returns it until the application sets another.
var otelDefault = otel.GetErrorHandler()

// reportHealth reports a change in how delivery fails. The outbox
// rate-limits them.
func (e *Exporter) reportHealth(h outbox.Health) {
	cause := expose(h.Err)
	if h.Class == outbox.Spool && h.Err != nil {
		cause = e.spoolFailure(h.Err)
	}
	d := &DeferredError{Failure: failureOf(h.Class), Resolved: h.State == outbox.Ended, Since: h.Since,
		Lasted: h.At.Sub(h.Since), Events: h.Events, OwedUnits: h.OwedUnits, Cause: cause}
	level := slog.LevelWarn
	if d.Resolved {
		level = slog.LevelInfo
	}
	e.report(level, d, false)
}

// reportError reports an error found in the background.
func (e *Exporter) reportError(err error) { e.report(slog.LevelError, err, false) }

// reportRejected reports usage rejected after its Export stopped waiting.
// The outbox has logged the rejection already, with its fields.
func (e *Exporter) reportRejected(p outbox.Rejected) { e.report(slog.LevelError, rejected(p), true) }

// report makes one report at level; inLog says the logger has it already.
func (e *Exporter) report(level slog.Level, err error, inLog bool) {
	err = oneLine(err)
	logged := e.cfg.LoggerGiven && e.cfg.Logger.Enabled(context.Background(), level)
	if logged && !inLog {
		e.cfg.Logger.Log(context.Background(), level, err.Error())
	}
	// Interfaces of different dynamic types compare unequal without
	// panicking, whatever handler the application set.
	if logged && otel.GetErrorHandler() == otelDefault {
		return
	}
	otel.Handle(err)
}

// lineError is an error whose message spans lines, on one line: what it
// wraps stays reachable with errors.Is and errors.As.
type lineError struct{ err error }

func (e *lineError) Error() string { return strings.ReplaceAll(e.err.Error(), "\n", "; ") }

func (e *lineError) Unwrap() error { return e.err }

// oneLine is err, on one line.
func oneLine(err error) error {
	if !strings.Contains(err.Error(), "\n") {
		return err
	}
	return &lineError{err}
}

// errorList splits a joined error into its errors.
func errorList(err error) []error {
	if err == nil {
		return nil
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}

// collectionReports holds the errors of the latest collection through
// NewPeriodicReader until the provider's ForceFlush or Shutdown returns
// them. When the next collection comes first, nobody will return them:
// they are reported then, once per change, so that a problem that lasts
// is reported once, not at every collection, and a problem a flush
// returns is not printed a second time.
type collectionReports struct {
	pending error  // the latest collection's errors
	held    bool   // pending is not returned yet
	known   string // what the latest returned or reported errors said
}

// collected holds err, the errors of a collection, and returns the errors
// of the one before if nobody returned them and they are news.
func (c *collectionReports) collected(err error) []error {
	prev, held := c.pending, c.held
	c.pending, c.held = err, true
	if !held {
		return nil
	}
	sig := signature(prev)
	if sig == c.known {
		return nil
	}
	c.known = sig
	return errorList(prev)
}

// take returns the errors held, for a caller.
func (c *collectionReports) take() error {
	if c.held {
		c.known = signature(c.pending)
	}
	err := c.pending
	c.pending, c.held = nil, false
	return err
}

// signature says what a collection's errors are about, without the counts
// that change from one collection to the next.
func signature(err error) string {
	var b strings.Builder
	for _, e := range errorList(err) {
		var ue *UsageError
		if errors.As(e, &ue) {
			b.WriteString(ue.Problem + " " + ue.Meter + " " + ue.Reason)
		} else {
			b.WriteString(e.Error())
		}
		b.WriteByte('\n')
	}
	return b.String()
}
