package litewavemetric

import (
	"context"
	"errors"
	"sync"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
)

// NewPeriodicReader returns a PeriodicReader that exports to exp: the
// reader to use, with the MeterProvider's ForceFlush and Shutdown.
//
// It sets no SDK cardinality limit on counters (see CardinalityLimit), so
// that the SDK never merges a tenant's usage into its overflow set, and it
// adapts the exporter to the reader:
//   - a collection's Export returns once the usage is taken (and spooled),
//     without waiting for the backend: a reader runs one collection at a
//     time, and a slow backend must not hold up the next one, nor a
//     provider's ForceFlush;
//   - a PeriodicReader skips the exporter's ForceFlush when the
//     collection's Export failed, and keeps the final Export's error over
//     the exporter's Shutdown error. So Export's errors (usage that cannot
//     be billed as counted) are returned by the provider's ForceFlush and
//     Shutdown joined with the exporter's own: the flush always runs, and
//     Shutdown's UndeliveredError always arrives. Those of a periodic
//     collection, which no flush returns, are reported (otel.Handle, the
//     logger) when the next collection comes, once per change: a problem
//     that lasts is reported once, not at every collection. Rejections are
//     reported as they come, and by every ForceFlush and Shutdown while
//     the rejected usage is kept.
//
// The reader exports every OTEL_METRIC_EXPORT_INTERVAL milliseconds
// (default 60000), each within OTEL_METRIC_EXPORT_TIMEOUT (default 30000);
// options such as sdkmetric.WithInterval apply after these settings.
//
// One exporter serves one reader: a second reader would collect the same
// usage again. So only the first call for exp makes a working reader;
// every export of a later one fails with ErrSecondReader, which is also
// reported at once, and its Shutdown leaves exp to the first.
func NewPeriodicReader(exp *Exporter, opts ...sdkmetric.PeriodicReaderOption) *sdkmetric.PeriodicReader {
	all := append([]sdkmetric.PeriodicReaderOption{sdkmetric.WithCardinalityLimitSelector(exp.CardinalityLimit)}, opts...)
	if !exp.hasReader.CompareAndSwap(false, true) {
		exp.reportError(ErrSecondReader)
		return sdkmetric.NewPeriodicReader(secondReader{exp}, all...)
	}
	return sdkmetric.NewPeriodicReader(&readerExporter{Exporter: exp}, all...)
}

// secondReader is the exporter as a second reader sees it. (Its reader
// never calls ForceFlush, which follows only a successful export.)
type secondReader struct{ *Exporter }

func (secondReader) Export(context.Context, *metricdata.ResourceMetrics) error {
	return ErrSecondReader
}

// Shutdown leaves the exporter running for the reader that has it.
func (secondReader) Shutdown(context.Context) error { return nil }

// readerExporter is the exporter as a PeriodicReader drives it.
type readerExporter struct {
	*Exporter
	mu      sync.Mutex
	reports collectionReports
}

func (r *readerExporter) Export(ctx context.Context, rm *metricdata.ResourceMetrics) error {
	err := r.Exporter.export(ctx, rm, false)
	if errors.Is(err, sdkmetric.ErrExporterShutdown) {
		return err
	}
	r.mu.Lock()
	news := r.reports.collected(err)
	r.mu.Unlock()
	for _, err := range news {
		r.reportError(err)
	}
	return nil
}

func (r *readerExporter) ForceFlush(ctx context.Context) error {
	return errors.Join(r.take(), r.Exporter.ForceFlush(ctx))
}

func (r *readerExporter) Shutdown(ctx context.Context) error {
	return errors.Join(r.take(), r.Exporter.Shutdown(ctx))
}

func (r *readerExporter) take() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.reports.take()
}
