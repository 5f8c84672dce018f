package litewaveexporter

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/consumer/consumererror"
	"go.opentelemetry.io/collector/exporter"
	"go.opentelemetry.io/collector/pdata/pmetric"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.uber.org/zap"
	"go.uber.org/zap/exp/zapslog"

	"github.com/aiorch/litewavemetric"
)

// litewaveExporter bills the monotonic sums it receives through the
// library's Exporter: its mapping, outbox, spool and backends.
type litewaveExporter struct {
	cfg    *Config
	set    exporter.Settings
	logger *zap.Logger

	// mu makes the Collector's concurrent calls one at a time, as the
	// library's Export expects: cumulative state and rounds are taken in
	// order.
	mu  sync.Mutex
	exp *litewavemetric.Exporter
}

var _ exporter.Metrics = (*litewaveExporter)(nil)

func newExporter(cfg *Config, set exporter.Settings) *litewaveExporter {
	return &litewaveExporter{cfg: cfg, set: set, logger: set.Logger}
}

// Start builds the library's exporter: it opens the spool, and sends what a
// previous run left owed.
func (e *litewaveExporter) Start(ctx context.Context, _ component.Host) error {
	logger := slog.New(zapslog.NewHandler(e.logger.Core()))
	opts := append(options(e.cfg), litewavemetric.WithLogger(logger), litewavemetric.WithMeterProvider(e.set.MeterProvider))
	exp, err := litewavemetric.New(ctx, opts...)
	if err != nil {
		return err
	}
	e.mu.Lock()
	e.exp = exp
	e.mu.Unlock()
	return nil
}

func (e *litewaveExporter) Capabilities() consumer.Capabilities {
	return consumer.Capabilities{MutatesData: false}
}

// ConsumeMetrics bills md. Usage taken is the exporter's to deliver: it is
// never handed back for a retry, which would bill a delta twice, so every
// error after it was taken is permanent. Only a refusal before anything
// was taken (the exporter is shut down) may be retried elsewhere.
func (e *litewaveExporter) ConsumeMetrics(ctx context.Context, md pmetric.Metrics) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.exp == nil {
		return errors.New("litewave exporter: not started")
	}
	var errs []error
	for _, rm := range md.ResourceMetrics().All() {
		data, billable := convert(rm)
		if !billable {
			continue
		}
		if err := e.exp.Export(ctx, data); err != nil {
			errs = append(errs, err)
		}
	}
	err := errors.Join(errs...)
	if err == nil {
		return nil
	}
	if collides(err) {
		e.logger.Warn("litewave: streams collide: two senders export the same stream identity "+
			"(resource attributes, scope, instrument, point attributes); the later one's usage is refused, not billed twice. "+
			"Give each sender a resource of its own (a distinct service.instance.id), and route each cumulative stream to one Collector",
			zap.Error(err))
	}
	if len(errs) == 1 && errors.Is(err, sdkmetric.ErrExporterShutdown) {
		return err
	}
	return consumererror.NewPermanent(err)
}

// Shutdown delivers what it can within ctx, or shutdown_timeout when the
// Collector gives no deadline, and reports what is left owed.
func (e *litewaveExporter) Shutdown(ctx context.Context) error {
	e.mu.Lock()
	exp := e.exp
	e.mu.Unlock()
	if exp == nil {
		return nil
	}
	if _, ok := ctx.Deadline(); !ok && e.cfg.ShutdownTimeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, e.cfg.ShutdownTimeout)
		defer cancel()
	}
	if err := exp.Shutdown(ctx); err != nil {
		return fmt.Errorf("litewave exporter: %w", err)
	}
	return nil
}

// collides reports whether err holds usage refused as collected twice: in
// a Collector, two senders whose streams share an identity.
func collides(err error) bool {
	var ue *litewavemetric.UsageError
	if errors.As(err, &ue) && ue.Problem == "overlapping" {
		return true
	}
	if joined, ok := err.(interface{ Unwrap() []error }); ok {
		for _, e := range joined.Unwrap() {
			if collides(e) {
				return true
			}
		}
	}
	return false
}
