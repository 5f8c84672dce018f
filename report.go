package litewavemetric

import (
	"go.opentelemetry.io/otel"

	"github.com/aiorch/litewavemetric/internal/outbox"
)

// reportHealth passes a change in how delivery fails to otel.Handle and
// the logger. The outbox rate-limits them.
func (e *Exporter) reportHealth(h outbox.Health) {
	d := &DeferredError{Failure: failureOf(h.Class), Resolved: h.State == outbox.Ended, Since: h.Since,
		Lasted: h.At.Sub(h.Since), Events: h.Events, OwedUnits: h.OwedUnits, Cause: expose(h.Err)}
	if d.Resolved {
		e.cfg.logger.Info(d.Error())
	} else {
		e.cfg.logger.Warn(d.Error())
	}
	otel.Handle(d)
}

// reportError passes an error found in the background to otel.Handle and
// the logger.
func (e *Exporter) reportError(err error) {
	e.cfg.logger.Error(err.Error())
	otel.Handle(err)
}
